package engine

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// DefaultParallelism is the number of stats reads a Collector runs at once
// when its Parallelism is not positive. It is a cap, not a pace: an engine
// that answers stats from its 1 s collector serves every read in flight on
// the same pass, so a cycle costs about one pass as long as all its
// containers are read at once (see the package doc for the choice of 128).
const DefaultParallelism = 128

// Collector reads all running containers' stats at once, up to Parallelism
// reads in flight. The zero value is ready to use.
type Collector struct {
	// Parallelism caps the concurrent stats reads; <= 0 means
	// DefaultParallelism. Above the cap, the reads go in waves of at most
	// Parallelism, each costing about one collector pass of the engine.
	Parallelism int
}

// Collect lists the running containers, reads /info for NCPU and MemTotal
// (at the same time as the stats), and reads every container's stats, all at
// once up to Parallelism. A container that has counters in prev (keyed by
// full container ID) gets a one-shot read, answered by the engine's next
// collector pass, and its CPU % is computed against those counters; a
// container seen for the first time gets a stream=false read, where the
// daemon waits one more pass (about 1 s) for a second sample (see the
// package doc for the measured costs). The caller keeps each sample's
// Counters for the next cycle.
//
// A container that vanished between the list and its stats read is left out
// and is not an error. An engine that cannot be reached, or that fails a
// request, gives an error (wrapping ErrUnreachable when it did not answer at
// all); so does ctx being done. Every answer is read under its bound
// (bounds.go): past one, the error wraps ErrTooLarge; an engine still
// answering ReplyMargin before ctx's deadline gives one wrapping
// ErrTooSlow. Samples come in list order.
func (c Collector) Collect(ctx context.Context, cli *client.Client, prev map[string]CPUCounters) (HostSample, []ContainerSample, error) {
	if cli == nil {
		return HostSample{}, nil, errors.New("engine: collect: nil client")
	}
	ctx, cancelReply, tooSlow := withReplyDeadline(ctx)
	defer cancelReply()
	if err := negotiate(ctx, cli); err != nil {
		return HostSample{}, nil, tooSlow("ping", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// /info is independent of the stats: it runs alongside the list and
	// the reads, so it adds nothing to a cycle that waits for a pass.
	type infoResult struct {
		ncpu     int
		memTotal int64
		err      error
	}
	infoDone := make(chan infoResult, 1)
	go func() {
		info, err := Info(ctx, cli)
		infoDone <- infoResult{ncpu: info.NCPU, memTotal: info.MemTotal, err: tooSlow("info", err)}
	}()
	samples, err := c.listAndRead(ctx, cli, prev)
	if err != nil {
		cancel()
		<-infoDone
		return HostSample{}, nil, tooSlow("collect", err)
	}
	info := <-infoDone
	if info.err != nil {
		return HostSample{}, nil, info.err
	}
	memTotal := uint64(max(info.memTotal, 0))
	return HostTotals(samples, info.ncpu, memTotal), samples, nil
}

// listAndRead lists the running containers and reads their stats.
func (c Collector) listAndRead(ctx context.Context, cli *client.Client, prev map[string]CPUCounters) ([]ContainerSample, error) {
	list, err := listRunning(ctx, cli)
	if err != nil {
		return nil, err
	}
	return c.readAll(ctx, cli, list, prev)
}

// readAll reads the stats of items, all at once up to c.parallelism() reads
// in flight (a read beyond the cap starts when one ends), and returns the
// samples of the containers that still ran, in list order. The first error
// cancels the reads still going and is returned.
func (c Collector) readAll(ctx context.Context, cli *client.Client, items []container.Summary, prev map[string]CPUCounters) ([]ContainerSample, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
		results  = make([]*ContainerSample, len(items))
		slots    = make(chan struct{}, c.parallelism())
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	for i, item := range items {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			var p *CPUCounters
			if counters, found := prev[item.ID]; found {
				p = &counters
			}
			s, ok, err := readStats(ctx, cli, item.ID, p)
			if err != nil {
				fail(err)
				return
			}
			if ok {
				fillIdentity(&s, item)
				results[i] = &s
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, engineError("read stats", err)
	}
	out := make([]ContainerSample, 0, len(items))
	for _, s := range results {
		if s != nil {
			out = append(out, *s)
		}
	}
	return out, nil
}

// fillIdentity completes a sample's ID and name from the list entry when the
// stats record lacked them.
func fillIdentity(s *ContainerSample, item container.Summary) {
	if s.ID == "" {
		s.ID = item.ID
	}
	if s.Name == "" && len(item.Names) > 0 {
		s.Name = strings.TrimPrefix(item.Names[0], "/")
	}
	if s.Labels == nil {
		s.Labels = item.Labels
	}
}

// parallelism is Parallelism, or DefaultParallelism when not positive.
func (c Collector) parallelism() int {
	if c.Parallelism > 0 {
		return c.Parallelism
	}
	return DefaultParallelism
}

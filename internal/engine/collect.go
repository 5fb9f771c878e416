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
// when its Parallelism is not positive.
const DefaultParallelism = 8

// Collector reads all running containers' stats with bounded parallelism.
// The zero value is ready to use.
type Collector struct {
	// Parallelism bounds the concurrent stats reads; <= 0 means
	// DefaultParallelism.
	Parallelism int
}

// Collect lists the running containers, reads /info for NCPU and MemTotal,
// and reads every container's stats. A container that has counters in prev
// (keyed by full container ID) gets a one-shot read, which answers at once,
// and its CPU % is computed against those counters; a container seen for the
// first time gets a stream=false read, where the daemon waits about 1 s for
// a second sample (see the package doc for the measured costs). The caller
// keeps each sample's Counters for the next cycle.
//
// A container that vanished between the list and its stats read is left out
// and is not an error. An engine that cannot be reached, or that fails a
// request, gives an error (wrapping ErrUnreachable when it did not answer at
// all); so does ctx being done. Samples come in list order.
func (c Collector) Collect(ctx context.Context, cli *client.Client, prev map[string]CPUCounters) (HostSample, []ContainerSample, error) {
	if cli == nil {
		return HostSample{}, nil, errors.New("engine: collect: nil client")
	}
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{})
	if err != nil {
		return HostSample{}, nil, engineError("list containers", err)
	}
	info, err := cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return HostSample{}, nil, engineError("info", err)
	}
	samples, err := c.readAll(ctx, cli, list.Items, prev)
	if err != nil {
		return HostSample{}, nil, err
	}
	memTotal := uint64(max(info.Info.MemTotal, 0))
	return HostTotals(samples, info.Info.NCPU, memTotal), samples, nil
}

// readAll reads the stats of items, at most c.parallelism() at a time, and
// returns the samples of the containers that still ran, in list order. The
// first error cancels the reads still going and is returned.
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
}

// parallelism is Parallelism, or DefaultParallelism when not positive.
func (c Collector) parallelism() int {
	if c.Parallelism > 0 {
		return c.Parallelism
	}
	return DefaultParallelism
}

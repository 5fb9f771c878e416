package engine_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/engine/enginetest"
)

// cycleContainers is how many idle containers BenchmarkCycle runs.
const cycleContainers = 50

// BenchmarkCycle measures one metrics cycle over cycleContainers running
// containers (plus whatever else runs on the engine: every method reads
// every running container), three ways, back to back in one run:
//
//   - "one-shot-all": list, then read every container one-shot, all at once:
//     the floor: one sleep and one pass of the collector for nearly all;
//   - "stream-false": list, then read every container with stream=false, all at
//     once: the baseline without kept counters (two passes per container);
//   - "collect": Collector.Collect with the counters of the previous cycle,
//     as production runs it (default Parallelism).
//
// Every op starts with the daemon's stats collector idle, as at the start of
// a 30 s cycle (idleGap before each op, not counted, as in benchIdleDaemon).
// Each sub-benchmark reports ns/op (the mean) and median-s; "collect" also
// reports x-oneshot and x-stream-false, the ratios of its median to those of the two
// others measured before it in the same run, and logs a summary line.
//
// The engine is shared: when another client reads stats at the same time,
// the daemon's collector is not idle at the start of an op, and the op costs
// the rest of its 1 s sleep plus one pass (about 0.6 s for 50 containers
// here), whatever the method. The durations are then bimodal and the ratios
// drift; run it again. An op costs idleGap plus 1.2–3 s: run with
// -benchtime=5x or 10x (make bench uses 20x: about 4.5 minutes).
func BenchmarkCycle(b *testing.B) {
	cli := enginetest.Client(b)
	start := time.Now()
	for i := range cycleContainers {
		enginetest.RunContainer(b, cli, fmt.Sprintf("wf-cycle-%d", i), "sleep", "3600")
	}
	b.Logf("%d containers started in %v", cycleContainers, time.Since(start).Round(time.Millisecond))
	ctx := b.Context()
	var c engine.Collector
	_, first, err := c.Collect(ctx, cli, nil)
	if err != nil {
		b.Fatal(err)
	}

	oneShotPrev, collectPrev := countersOf(first), countersOf(first)
	methods := []struct {
		name string
		op   func(b *testing.B) ([]engine.ContainerSample, error)
	}{
		{"one-shot-all", func(b *testing.B) ([]engine.ContainerSample, error) {
			s, err := readEveryContainer(ctx, cli, oneShotPrev, true)
			if err == nil {
				oneShotPrev = countersOf(s)
			}
			return s, err
		}},
		{"stream-false", func(b *testing.B) ([]engine.ContainerSample, error) {
			return readEveryContainer(ctx, cli, nil, false)
		}},
		{"collect", func(b *testing.B) ([]engine.ContainerSample, error) {
			_, s, err := c.Collect(ctx, cli, collectPrev)
			if err == nil {
				if n := countNew(s, collectPrev); n > 0 {
					b.Logf("collect: %d containers new to the cycle (stream=false reads): others' containers?", n)
				}
				collectPrev = countersOf(s)
			}
			return s, err
		}},
	}
	medians := map[string]time.Duration{}
	for _, m := range methods {
		b.Run(m.name, func(b *testing.B) {
			var spent []time.Duration
			for b.Loop() {
				time.Sleep(idleGap)
				start := time.Now()
				samples, err := m.op(b)
				d := time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				if len(samples) < cycleContainers {
					b.Fatalf("read %d containers, want >= %d", len(samples), cycleContainers)
				}
				spent = append(spent, d)
			}
			var sum time.Duration
			for _, d := range spent {
				sum += d
			}
			med := median(spent)
			medians[m.name] = med
			b.ReportMetric(float64(sum.Nanoseconds())/float64(len(spent)), "ns/op")
			b.ReportMetric(med.Seconds(), "median-s")
			if m.name != "collect" {
				return
			}
			one, okOne := medians["one-shot-all"]
			streamFalse, okStreamFalse := medians["stream-false"]
			if okOne {
				b.ReportMetric(med.Seconds()/one.Seconds(), "x-oneshot")
			}
			if okStreamFalse {
				b.ReportMetric(med.Seconds()/streamFalse.Seconds(), "x-stream-false")
			}
			if okOne && okStreamFalse {
				// Logged here: a parent benchmark's log shows only with -v.
				b.Logf("%d containers, medians: collect %.2f s, one-shot-all %.2f s, stream=false %.2f s; collect = %.2f× one-shot-all, %.2f× stream=false",
					cycleContainers, med.Seconds(), one.Seconds(), streamFalse.Seconds(), med.Seconds()/one.Seconds(), med.Seconds()/streamFalse.Seconds())
			}
		})
	}
}

// readEveryContainer lists the running containers and reads them all at
// once: one-shot (CPU % against prev, zero counters for a container not in
// it) or stream=false. It returns the samples of the containers that still
// ran.
func readEveryContainer(ctx context.Context, cli *client.Client, prev map[string]engine.CPUCounters, oneShot bool) ([]engine.ContainerSample, error) {
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{})
	if err != nil {
		return nil, err
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		samples []engine.ContainerSample
		errs    []error
	)
	for _, item := range list.Items {
		wg.Go(func() {
			var p *engine.CPUCounters
			if oneShot {
				counters := prev[item.ID]
				p = &counters
			}
			s, ok, err := engine.ReadStats(ctx, cli, item.ID, p)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			} else if ok {
				samples = append(samples, s)
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return samples, nil
}

// countersOf keys the samples' counters by container ID, as the activity
// keeps them between cycles.
func countersOf(samples []engine.ContainerSample) map[string]engine.CPUCounters {
	m := make(map[string]engine.CPUCounters, len(samples))
	for _, s := range samples {
		m[s.ID] = s.Counters
	}
	return m
}

// countNew is how many samples have no counters in prev.
func countNew(samples []engine.ContainerSample, prev map[string]engine.CPUCounters) int {
	n := 0
	for _, s := range samples {
		if _, ok := prev[s.ID]; !ok {
			n++
		}
	}
	return n
}

// median is the median of ds (the mean of the middle two for an even count).
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

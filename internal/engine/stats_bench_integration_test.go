package engine_test

import (
	"fmt"
	"testing"

	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/engine/enginetest"
)

// benchContainers is how many idle containers BenchmarkStats runs.
const benchContainers = 4

// BenchmarkStats compares the two stats read modes on the real engine: one
// container's read per op ("read") and one full Collect of every running
// container per op ("collect"). stream=false makes the daemon wait for its
// next 1 s collector tick; one-shot answers at once and needs the previous
// counters kept by the caller. See the package doc for the numbers.
func BenchmarkStats(b *testing.B) {
	cli := enginetest.Client(b)
	ids := make([]string, benchContainers)
	for i := range ids {
		ids[i] = enginetest.RunContainer(b, cli, fmt.Sprintf("wf-bench-%d", i), "sleep", "3600")
	}
	ctx := b.Context()
	var c engine.Collector
	_, first, err := c.Collect(ctx, cli, nil)
	if err != nil {
		b.Fatal(err)
	}
	prev := make(map[string]engine.CPUCounters, len(first))
	for _, s := range first {
		prev[s.ID] = s.Counters
	}
	counters, ok := prev[ids[0]]
	if !ok {
		b.Fatalf("container %s missing from the first Collect", ids[0])
	}

	modes := []struct {
		name    string
		prev    map[string]engine.CPUCounters
		oneShot *engine.CPUCounters
	}{
		{"stream=false", nil, nil},
		{"one-shot", prev, &counters},
	}
	for _, m := range modes {
		b.Run(m.name+"/read", func(b *testing.B) {
			for b.Loop() {
				if _, ok, err := engine.ReadStats(ctx, cli, ids[0], m.oneShot); err != nil || !ok {
					b.Fatalf("ReadStats = ok %v, err %v", ok, err)
				}
			}
		})
		b.Run(m.name+"/collect", func(b *testing.B) {
			var n int
			for b.Loop() {
				_, samples, err := c.Collect(ctx, cli, m.prev)
				if err != nil {
					b.Fatal(err)
				}
				n = len(samples)
			}
			b.ReportMetric(float64(n), "containers")
		})
	}
}

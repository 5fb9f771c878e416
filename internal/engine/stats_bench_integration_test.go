package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/engine/enginetest"
)

// idleGap is how long to wait for the daemon's stats collector to go idle
// after a read: it sleeps its 1 s interval after each pass and only then
// notices that nobody is subscribed. Probed on dockerd 20.10 with one-shot
// reads: after 1.5 s, 3 of 20 reads still waited 0.5–1 s; after 2.5 s, none
// of 20 did.
const idleGap = 2500 * time.Millisecond

// BenchmarkStats compares the two stats read modes on the real engine, one
// container's read per op:
//
//   - stream=false: the daemon drops one sample of its 1 s collector and
//     returns the next, with precpu_stats filled;
//   - one-shot: the daemon returns one sample; the CPU % needs the previous
//     counters, which the caller keeps.
//
// Each is measured twice. "idle-daemon": every op starts with the daemon's
// stats collector idle, as at the start of a 30 s monitoring cycle (the wait
// for it to go idle is not counted: ns/op is the read alone). "ticking-daemon":
// ops run back to back, so the collector is always mid-interval, as when
// another client streams stats from the same engine. A whole cycle over many
// containers is BenchmarkCycle's. The numbers are in the package doc. Run
// with -benchtime=10x: each op takes up to 3.6 s.
func BenchmarkStats(b *testing.B) {
	cli := enginetest.Client(b)
	id := enginetest.RunContainer(b, cli, "wf-bench", "sleep", "3600")
	ctx := b.Context()
	first, ok, err := engine.ReadStats(ctx, cli, id, nil)
	if err == nil && !ok {
		err = fmt.Errorf("container %s skipped", id)
	}
	if err != nil {
		b.Fatal(err)
	}
	counters := first.Counters

	modes := []struct {
		name    string
		oneShot *engine.CPUCounters
	}{
		{"stream=false", nil},
		{"one-shot", &counters},
	}
	for _, m := range modes {
		read := func() error {
			_, ok, err := engine.ReadStats(ctx, cli, id, m.oneShot)
			if err == nil && !ok {
				err = fmt.Errorf("container %s skipped", id)
			}
			return err
		}
		b.Run(m.name+"/read/idle-daemon", func(b *testing.B) { benchIdleDaemon(b, read) })
		b.Run(m.name+"/read/ticking-daemon", func(b *testing.B) { benchBackToBack(b, read) })
	}
}

// benchIdleDaemon waits idleGap before each op so that the daemon's stats
// collector is idle, and reports the ops' own mean duration as ns/op. The
// wait is inside the timed loop on purpose, so that a fast op does not make
// the framework run hundreds of idleGap waits; its time is left out of ns/op.
func benchIdleDaemon(b *testing.B, op func() error) {
	var spent time.Duration
	for b.Loop() {
		time.Sleep(idleGap)
		start := time.Now()
		if err := op(); err != nil {
			b.Fatal(err)
		}
		spent += time.Since(start)
	}
	b.ReportMetric(float64(spent.Nanoseconds())/float64(b.N), "ns/op")
}

// benchBackToBack runs op back to back, so the daemon's stats collector
// never goes idle between ops.
func benchBackToBack(b *testing.B, op func() error) {
	for b.Loop() {
		if err := op(); err != nil {
			b.Fatal(err)
		}
	}
}

package fakeengine

import (
	"context"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/engine"
)

// BenchmarkFleetStats runs one stats cycle of the project's Collector
// (list, info, one-shot reads against the previous cycle's counters, default
// parallelism) on every engine of a 1,000-engine fleet with 10 containers
// each, all engines at once, as a worker would. An op is one cycle of the
// whole fleet; allocs count the client side too (moby client, net/http).
// FAKEENGINE_BENCH_ENGINES sets another fleet size (each engine holds up to
// 8 connections, two descriptors each, in this one process).
func BenchmarkFleetStats(b *testing.B) {
	n := 1000
	if s := os.Getenv("FAKEENGINE_BENCH_ENGINES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("FAKEENGINE_BENCH_ENGINES=%q", s)
		}
		n = v
	}
	f, err := StartFleet(n, Options{Containers: 10, StatsTick: testTick, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	es := f.Engines()
	clis := make([]*client.Client, len(es))
	prev := make([]map[string]engine.CPUCounters, len(es))
	defer func() {
		for _, c := range clis {
			if c != nil {
				_ = c.Close()
			}
		}
	}()
	cycle := func(warm bool) {
		var wg sync.WaitGroup
		for i, e := range es {
			wg.Go(func() {
				if warm {
					cli, err := engine.Connect(ctx, e.Endpoint())
					if err != nil {
						b.Error(err)
						return
					}
					clis[i] = cli
				}
				_, samples, err := engine.Collector{}.Collect(ctx, clis[i], prev[i])
				if err != nil {
					b.Error(err)
					return
				}
				if len(samples) != 10 {
					b.Errorf("engine %d: %d samples", i, len(samples))
				}
				p := make(map[string]engine.CPUCounters, len(samples))
				for _, s := range samples {
					p[s.ID] = s.Counters
				}
				prev[i] = p
			})
		}
		wg.Wait()
	}
	cycle(true) // connect, and stream=false reads for the first counters
	if b.Failed() {
		return
	}
	var before int64
	for _, e := range es {
		before += e.Requests()["stats"]
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cycle(false)
	}
	b.StopTimer()
	var after int64
	for _, e := range es {
		after += e.Requests()["stats"]
	}
	b.ReportMetric(float64(after-before)/float64(b.N), "stats-reads/op")
	b.ReportMetric(float64(len(es)), "engines")
}

// BenchmarkAppendStats is the server's own cost of one stats record: it
// should not allocate.
func BenchmarkAppendStats(b *testing.B) {
	e, err := Start(Options{StatsTick: time.Hour, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	t0 := &tick{at: time.Now().UTC(), elapsed: 1e9}
	t1 := &tick{n: 1, at: time.Now().UTC(), elapsed: 2e9}
	c := &e.containers[3]
	b.ReportAllocs()
	for b.Loop() {
		buf := getBuf()
		*buf = e.appendStats(*buf, c, t1, t0)
		putBuf(buf)
	}
}

package store_test

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/windflow/monitor/internal/store"
)

func TestTierForStep(t *testing.T) {
	t.Parallel()
	aligned := time.Date(2025, 3, 14, 15, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		step          time.Duration
		from          time.Time
		tier, aligned string
	}{
		{time.Second, aligned, "raw", ""},
		{30 * time.Second, aligned, "raw", ""},
		{90 * time.Second, aligned, "raw", ""},
		{time.Minute, aligned, "1m", ""},
		{7 * time.Minute, aligned, "1m", ""},
		{90 * time.Minute, aligned, "1m", ""},
		{time.Hour, aligned, "1h", ""},
		{3 * time.Hour, aligned, "1h", ""},
		{24 * time.Hour, aligned, "1h", ""},
		{time.Hour, aligned.Add(time.Minute), "raw", "15:00:00"}, // not aligned: raw, aligned by AlignSeriesStart
		{5 * time.Minute, aligned.Add(90 * time.Second), "raw", "15:01:00"},
	} {
		if got := store.TierForStep(c.step).Name; c.aligned == "" && got != c.tier {
			t.Errorf("TierForStep(%s) = %s, want %s", c.step, got, c.tier)
		}
		if got := store.SeriesTier(c.from, c.step).Name; got != c.tier {
			t.Errorf("SeriesTier(%s, %s) = %s, want %s", c.from.Format(time.TimeOnly), c.step, got, c.tier)
		}
		if c.aligned != "" {
			aligned := store.AlignSeriesStart(c.from, c.step)
			if aligned.Format(time.TimeOnly) != c.aligned {
				t.Errorf("AlignSeriesStart(%s, %s) = %s, want %s", c.from.Format(time.TimeOnly), c.step, aligned.Format(time.TimeOnly), c.aligned)
			}
			if store.SeriesTier(aligned, c.step) != store.TierForStep(c.step) {
				t.Errorf("SeriesTier(aligned %s, %s) is not TierForStep", aligned, c.step)
			}
		}
	}
}

// rollupCycle is the value of cycle i of the rollup tests: varied enough
// that a wrong bucket or a lost sample changes an average.
func rollupCycle(i int) (cpu, mem float64, used int64) {
	return float64(i%7) * 3.25, 40 + float64(i%5), int64(1000 + i*i%997)
}

// TestRollupsEqualRaw: averages read from the 1-minute and 1-hour tiers
// equal those of the raw rows of the same window, host and container.
func TestRollupsEqualRaw(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	from := baseTime.Truncate(time.Hour)
	const cycles = 2 * 360 // two hours of 10 s cycles, collected 3 s into the slot
	type sums struct {
		cpu, mem, cCPU float64
		used, cUsed    int64
		n              int
	}
	perMinute, perHour := map[time.Time]*sums{}, map[time.Time]*sums{}
	add := func(m map[time.Time]*sums, at time.Time, cpu, mem float64, used int64) {
		s := m[at]
		if s == nil {
			s = &sums{}
			m[at] = s
		}
		s.cpu, s.mem, s.used, s.n = s.cpu+cpu, s.mem+mem, s.used+used, s.n+1
		s.cCPU, s.cUsed = s.cCPU+cpu/2, s.cUsed+used*2
	}
	for i := range cycles {
		at := from.Add(time.Duration(i)*10*time.Second + 3*time.Second)
		cpu, mem, used := rollupCycle(i)
		host := store.HostMetric{EnvironmentID: env.ID, CycleAt: at, CollectedAt: at,
			CPUPercent: cpu, MemoryPercent: mem, MemoryUsed: used, MemoryTotal: 5000, ContainersRunning: 1 + i%3}
		c := store.ContainerMetric{ContainerID: "c1", ContainerName: "one", CPUPercent: cpu / 2, MemoryUsed: used * 2}
		if _, err := b.store.InsertMetrics(b.ctx, host, []store.ContainerMetric{c}); err != nil {
			t.Fatalf("InsertMetrics %d: %v", i, err)
		}
		add(perMinute, at.Truncate(time.Minute), cpu, mem, used)
		add(perHour, at.Truncate(time.Hour), cpu, mem, used)
	}

	check := func(step time.Duration, want map[time.Time]*sums, tier string) {
		t.Helper()
		if got := store.SeriesTier(from, step).Name; got != tier {
			t.Fatalf("step %s reads %s, want %s", step, got, tier)
		}
		points, err := b.store.HostSeries(b.ctx, env.ID, from, from.Add(2*time.Hour), step)
		if err != nil {
			t.Fatalf("HostSeries(%s): %v", step, err)
		}
		series, err := b.store.ContainerSeries(b.ctx, env.ID, store.ContainerSelector{ID: "c1"}, from, from.Add(2*time.Hour), step)
		if err != nil {
			t.Fatalf("ContainerSeries(%s): %v", step, err)
		}
		if len(points) != len(want) || len(series.Points) != len(want) || series.Tier.Name != tier {
			t.Fatalf("step %s: %d host and %d container points (%s), want %d (%s)",
				step, len(points), len(series.Points), series.Tier.Name, len(want), tier)
		}
		for i, p := range points {
			s := want[p.Time]
			if s == nil {
				t.Fatalf("step %s: unexpected bucket %s", step, p.Time)
			}
			avgUsed := int64(math.Round(float64(s.used) / float64(s.n)))
			if p.Samples != s.n || !near(p.CPUPercent, s.cpu/float64(s.n)) || !near(p.MemoryPercent, s.mem/float64(s.n)) ||
				p.MemoryUsed != avgUsed || p.MemoryTotal != 5000 {
				t.Fatalf("step %s bucket %s: %+v, want cpu %v mem %v used %d samples %d",
					step, p.Time, p, s.cpu/float64(s.n), s.mem/float64(s.n), avgUsed, s.n)
			}
			c := series.Points[i]
			if !c.Time.Equal(p.Time) || c.Samples != s.n || !near(c.CPUPercent, s.cCPU/float64(s.n)) ||
				c.MemoryUsed != int64(math.Round(float64(s.cUsed)/float64(s.n))) {
				t.Fatalf("step %s container bucket %s: %+v", step, c.Time, c)
			}
		}
	}
	check(time.Minute, perMinute, "1m")
	check(time.Hour, perHour, "1h")

	// The raw rows give the same averages (buckets of a minute that do not
	// start on a whole minute force the raw tier).
	raw, err := b.store.HostSeries(b.ctx, env.ID, from.Add(time.Second), from.Add(2*time.Hour), time.Minute)
	if err != nil || len(raw) != len(perMinute) {
		t.Fatalf("raw HostSeries: %d points, %v", len(raw), err)
	}
	for _, p := range raw {
		s := perMinute[p.Time.Add(-time.Second)]
		if s == nil || p.Samples != s.n || !near(p.CPUPercent, s.cpu/float64(s.n)) {
			t.Fatalf("raw bucket %s: %+v", p.Time, p)
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// TestRollupsIdempotentUnderRetry: a retried cycle (same CycleAt, or the
// same DueAt with a later CycleAt) adds nothing to the tiers.
func TestRollupsIdempotentUnderRetry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	at := baseTime.Truncate(time.Hour)
	host := store.HostMetric{EnvironmentID: env.ID, CycleAt: at, DueAt: at, CollectedAt: at, CPUPercent: 10}
	containers := []store.ContainerMetric{{ContainerID: "c1", ContainerName: "one", CPUPercent: 5}}
	for attempt := range 3 {
		retry := host
		retry.CycleAt = at.Add(time.Duration(attempt) * time.Second) // a retried workflow task: a later CycleAt
		retry.CPUPercent = 10 + float64(attempt)
		inserted, err := b.store.InsertMetrics(b.ctx, retry, containers)
		if err != nil || inserted != (attempt == 0) {
			t.Fatalf("attempt %d: inserted %v, %v", attempt, inserted, err)
		}
		again, err := b.store.InsertMetrics(b.ctx, retry, containers) // a retried activity
		if err != nil || again {
			t.Fatalf("attempt %d again: inserted %v, %v", attempt, again, err)
		}
	}
	for _, step := range []time.Duration{time.Minute, time.Hour} {
		points, err := b.store.HostSeries(b.ctx, env.ID, at, at.Add(time.Hour), step)
		if err != nil || len(points) != 1 || points[0].Samples != 1 || points[0].CPUPercent != 10 || points[0].CPUPercentMax != 10 {
			t.Fatalf("HostSeries(%s) = %+v, %v; want one sample of 10", step, points, err)
		}
		series, err := b.store.ContainerSeries(b.ctx, env.ID, store.ContainerSelector{Name: "one"}, at, at.Add(time.Hour), step)
		if err != nil || len(series.Points) != 1 || series.Points[0].Samples != 1 {
			t.Fatalf("ContainerSeries(%s) = %+v, %v; want one sample", step, series, err)
		}
	}
}

// TestRollupsConcurrentCycles: cycles of one environment stored at once
// (two workers, a retried task racing its first attempt) all count.
func TestRollupsConcurrentCycles(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	at := baseTime.Truncate(time.Hour)
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cycle := at.Add(time.Duration(i) * time.Second)
			var containers []store.ContainerMetric
			for c := range 5 {
				id := fmt.Sprintf("c%d", (c+i)%5) // each cycle lists them in another order
				containers = append(containers, store.ContainerMetric{ContainerID: id, ContainerName: id, CPUPercent: 1})
			}
			_, err := b.store.InsertMetrics(b.ctx, store.HostMetric{EnvironmentID: env.ID, CycleAt: cycle, CollectedAt: cycle, CPUPercent: 1}, containers)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("InsertMetrics: %v", err)
		}
	}
	points, err := b.store.HostSeries(b.ctx, env.ID, at, at.Add(time.Hour), time.Minute)
	if err != nil || len(points) != 1 || points[0].Samples != n {
		t.Fatalf("HostSeries = %+v, %v; want %d samples", points, err, n)
	}
	series, err := b.store.ContainerSeries(b.ctx, env.ID, store.ContainerSelector{ID: "c3"}, at, at.Add(time.Hour), time.Hour)
	if err != nil || len(series.Points) != 1 || series.Points[0].Samples != n {
		t.Fatalf("ContainerSeries = %+v, %v; want %d samples", series, err, n)
	}
}

// TestPruneRollupTiers: each tier keeps its own retention (defaults: raw
// 7 days, 1-minute 30 days, 1-hour a year).
func TestPruneRollupTiers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	now := time.Now().UTC().Truncate(time.Hour)
	day := 24 * time.Hour
	ages := []time.Duration{400 * day, 40 * day, 10 * day, 2 * day}
	for _, age := range ages {
		at := now.Add(-age)
		if _, err := b.store.InsertMetrics(b.ctx, store.HostMetric{EnvironmentID: env.ID, CycleAt: at, CollectedAt: at},
			[]store.ContainerMetric{{ContainerID: "c1", ContainerName: "one"}}); err != nil {
			t.Fatalf("InsertMetrics: %v", err)
		}
	}
	res, err := b.store.Prune(b.ctx, store.DefaultRetention(), now, 1)
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	want := store.PruneResult{HostMetrics: 3, ContainerMetrics: 3, HostMetrics1m: 2, ContainerMetrics1m: 2,
		HostMetrics1h: 1, ContainerMetrics1h: 1}
	if res != want {
		t.Fatalf("Prune = %+v, want %+v", res, want)
	}
	for _, c := range []struct {
		tier store.Tier
		want int
	}{{store.TierRaw, 1}, {store.TierMinute, 2}, {store.TierHour, 3}} {
		n, err := b.store.CountTierRows(b.ctx, c.tier, env.ID, now.Add(-1000*day), now)
		if err != nil || n != c.want {
			t.Errorf("%s rows left = %d, %v; want %d", c.tier.Name, n, err, c.want)
		}
	}
	// A zero retention keeps a tier forever.
	r := store.DefaultRetention()
	r.MetricsHour = 0
	if res, err := b.store.Prune(b.ctx, r, now.Add(2*365*day), 0); err != nil || res.HostMetrics1h != 0 || res.HostMetrics1m != 2 {
		t.Fatalf("Prune keeping the hour tier = %+v, %v", res, err)
	}
}

// BenchmarkInsertMetrics50Containers: one cycle of an environment with 50
// containers — raw rows plus both rollup tiers, one transaction.
func BenchmarkInsertMetrics50Containers(b *testing.B) {
	st := setup(b)
	env, err := st.store.CreateEnvironment(st.ctx, validEnvironment("bench"))
	if err != nil {
		b.Fatal(err)
	}
	containers := make([]store.ContainerMetric, 50)
	for i := range containers {
		id := fmt.Sprintf("%064x", i+1)
		containers[i] = store.ContainerMetric{ContainerID: id, ContainerName: id[:12], CPUPercent: float64(i), MemoryUsed: int64(i) << 20}
	}
	at := baseTime
	for b.Loop() {
		at = at.Add(10 * time.Second)
		host := store.HostMetric{EnvironmentID: env.ID, CycleAt: at, CollectedAt: at, CPUPercent: 12, ContainersRunning: 50}
		if _, err := st.store.InsertMetrics(st.ctx, host, containers); err != nil {
			b.Fatal(err)
		}
	}
}

package store_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/store"
)

func TestLatestCPUCounters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	other := b.createEnv(t, "other")
	now := time.Now().UTC().Truncate(time.Microsecond)

	insert := func(envID uuid.UUID, at time.Time, containers ...store.ContainerMetric) {
		t.Helper()
		host := store.HostMetric{EnvironmentID: envID, CycleAt: at, CollectedAt: at}
		if _, err := b.store.InsertMetrics(b.ctx, host, containers); err != nil {
			t.Fatalf("InsertMetrics: %v", err)
		}
	}
	counters := func(id string, total, system int64, cpus int) store.ContainerMetric {
		return store.ContainerMetric{ContainerID: id, ContainerName: id,
			CPUTotalUsage: total, SystemCPUUsage: system, OnlineCPUs: cpus}
	}
	insert(env.ID, now.Add(-2*time.Hour), counters("stale", 1, 2, 1), counters("a", 10, 20, 2))
	insert(env.ID, now.Add(-3*time.Minute), counters("a", 100, 200, 2), counters("b", 5, 6, 8))
	insert(env.ID, now.Add(-time.Minute), counters("a", 300, 400, 4))
	insert(other.ID, now, counters("a", 9999, 9999, 1))

	got, err := b.store.LatestCPUCounters(b.ctx, env.ID, time.Hour)
	if err != nil {
		t.Fatalf("LatestCPUCounters: %v", err)
	}
	want := map[string]store.CPUCounters{
		"a": {TotalUsage: 300, SystemUsage: 400, OnlineCPUs: 4, CollectedAt: now.Add(-time.Minute)},
		"b": {TotalUsage: 5, SystemUsage: 6, OnlineCPUs: 8, CollectedAt: now.Add(-3 * time.Minute)},
	}
	if !equalCounters(got, want) {
		t.Fatalf("LatestCPUCounters(1h) = %+v, want %+v", got, want)
	}

	got, err = b.store.LatestCPUCounters(b.ctx, env.ID, 0)
	if err != nil {
		t.Fatalf("LatestCPUCounters(no limit): %v", err)
	}
	want["stale"] = store.CPUCounters{TotalUsage: 1, SystemUsage: 2, OnlineCPUs: 1, CollectedAt: now.Add(-2 * time.Hour)}
	if !equalCounters(got, want) {
		t.Fatalf("LatestCPUCounters(no limit) = %+v, want %+v", got, want)
	}

	got, err = b.store.LatestCPUCounters(b.ctx, unknownID, time.Hour)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("LatestCPUCounters(unknown) = %v, %v; want an empty map", got, err)
	}
}

// equalCounters compares two counter maps, times with Equal.
func equalCounters(a, b map[string]store.CPUCounters) bool {
	if len(a) != len(b) {
		return false
	}
	for id, ca := range a {
		cb, ok := b[id]
		if !ok || ca.TotalUsage != cb.TotalUsage || ca.SystemUsage != cb.SystemUsage ||
			ca.OnlineCPUs != cb.OnlineCPUs || !ca.CollectedAt.Equal(cb.CollectedAt) {
			return false
		}
	}
	return true
}

func TestHostSeriesAveragesBuckets(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	other := b.createEnv(t, "other")
	from := baseTime

	rows := []struct {
		envID     uuid.UUID
		offset    time.Duration
		cpu, mem  float64
		used      int64
		total     int64
		container int
	}{
		{env.ID, -time.Second, 99, 99, 99, 99, 99},         // before from: excluded
		{env.ID, 0, 10, 40, 100, 1000, 3},                  // bucket 0
		{env.ID, 10 * time.Second, 20, 50, 201, 1000, 4},   // bucket 0
		{env.ID, 70 * time.Second, 30.5, 60, 300, 2000, 5}, // bucket 60s
		// no row in [120s, 180s): that bucket is omitted
		{env.ID, 190 * time.Second, 1, 2, 3, 4, 0},      // bucket 180s
		{env.ID, 240 * time.Second, 99, 99, 99, 99, 99}, // at to: excluded
		{other.ID, 5 * time.Second, 99, 99, 99, 99, 99}, // another environment
	}
	for i, r := range rows {
		host := store.HostMetric{
			EnvironmentID: r.envID, CycleAt: from.Add(r.offset), CollectedAt: from.Add(r.offset),
			CPUPercent: r.cpu, MemoryPercent: r.mem, MemoryUsed: r.used, MemoryTotal: r.total,
			ContainersRunning: r.container,
		}
		if _, err := b.store.InsertMetrics(b.ctx, host, nil); err != nil {
			t.Fatalf("InsertMetrics row %d: %v", i, err)
		}
	}

	got, err := b.store.HostSeries(b.ctx, env.ID, from, from.Add(240*time.Second), time.Minute)
	if err != nil {
		t.Fatalf("HostSeries: %v", err)
	}
	want := []store.HostPoint{
		{Time: from, CPUPercent: 15, MemoryPercent: 45, MemoryUsed: 151, MemoryTotal: 1000, ContainersRunning: 3.5, Samples: 2},
		{Time: from.Add(time.Minute), CPUPercent: 30.5, MemoryPercent: 60, MemoryUsed: 300, MemoryTotal: 2000, ContainersRunning: 5, Samples: 1},
		{Time: from.Add(3 * time.Minute), CPUPercent: 1, MemoryPercent: 2, MemoryUsed: 3, MemoryTotal: 4, ContainersRunning: 0, Samples: 1},
	}
	if !slices.EqualFunc(got, want, func(a, b store.HostPoint) bool {
		return a.Time.Equal(b.Time) && a.CPUPercent == b.CPUPercent && a.MemoryPercent == b.MemoryPercent &&
			a.MemoryUsed == b.MemoryUsed && a.MemoryTotal == b.MemoryTotal &&
			a.ContainersRunning == b.ContainersRunning && a.Samples == b.Samples
	}) {
		t.Fatalf("HostSeries =\n%+v\nwant\n%+v", got, want)
	}

	// Buckets start at from, not at a round time.
	got, err = b.store.HostSeries(b.ctx, env.ID, from.Add(5*time.Second), from.Add(240*time.Second), time.Minute)
	if err != nil {
		t.Fatalf("HostSeries shifted: %v", err)
	}
	var starts []time.Duration
	for _, p := range got {
		starts = append(starts, p.Time.Sub(from))
	}
	if want := []time.Duration{5 * time.Second, 65 * time.Second, 185 * time.Second}; !slices.Equal(starts, want) {
		t.Fatalf("HostSeries shifted bucket starts = %v, want %v", starts, want)
	}

	got, err = b.store.HostSeries(b.ctx, env.ID, from.Add(time.Hour), from.Add(2*time.Hour), time.Minute)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("HostSeries of an empty range = %v, %v; want an empty slice", got, err)
	}

	for _, step := range []time.Duration{0, -time.Second, time.Nanosecond} {
		if _, err := b.store.HostSeries(b.ctx, env.ID, from, from.Add(time.Hour), step); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("HostSeries(step %s) error = %v, want ErrInvalid", step, err)
		}
	}
}

func TestCountHostMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	for i := range 5 {
		host, _ := cycle(env.ID, baseTime.Add(time.Duration(i)*time.Minute))
		host.CollectedAt = host.CycleAt
		if _, err := b.store.InsertMetrics(b.ctx, host, nil); err != nil {
			t.Fatalf("InsertMetrics: %v", err)
		}
	}

	tests := []struct {
		name     string
		from, to time.Time
		want     int
	}{
		{"all", baseTime, baseTime.Add(5 * time.Minute), 5},
		{"to is exclusive", baseTime, baseTime.Add(4 * time.Minute), 4},
		{"from is inclusive", baseTime.Add(time.Minute), baseTime.Add(time.Hour), 4},
		{"none", baseTime.Add(time.Hour), baseTime.Add(2 * time.Hour), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := b.store.CountHostMetrics(b.ctx, env.ID, tt.from, tt.to)
			if err != nil || got != tt.want {
				t.Fatalf("CountHostMetrics = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func TestLatestContainerMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")

	got, err := b.store.LatestContainerMetrics(b.ctx, env.ID)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("LatestContainerMetrics without metrics = %v, %v; want an empty slice", got, err)
	}

	oldHost, oldContainers := cycle(env.ID, baseTime)
	if _, err := b.store.InsertMetrics(b.ctx, oldHost, oldContainers); err != nil {
		t.Fatalf("InsertMetrics: %v", err)
	}
	host, containers := cycle(env.ID, baseTime.Add(30*time.Second))
	containers[0].CPUPercent = 66.5
	containers[1].CollectedAt = host.CollectedAt.Add(time.Second) // its own read time
	if _, err := b.store.InsertMetrics(b.ctx, host, containers); err != nil {
		t.Fatalf("InsertMetrics: %v", err)
	}

	got, err = b.store.LatestContainerMetrics(b.ctx, env.ID)
	if err != nil {
		t.Fatalf("LatestContainerMetrics: %v", err)
	}
	// Ordered by name: db before web; keys filled in from the host row.
	db, web := containers[1], containers[0]
	db.EnvironmentID, db.CycleAt = env.ID, host.CycleAt
	web.EnvironmentID, web.CycleAt, web.CollectedAt = env.ID, host.CycleAt, host.CollectedAt
	want := []store.ContainerMetric{db, web}
	if !slices.EqualFunc(got, want, func(a, b store.ContainerMetric) bool {
		ta, tb := a, b
		ta.CycleAt, ta.CollectedAt, tb.CycleAt, tb.CollectedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		return ta == tb && a.CycleAt.Equal(b.CycleAt) && a.CollectedAt.Equal(b.CollectedAt)
	}) {
		t.Fatalf("LatestContainerMetrics =\n%+v\nwant\n%+v", got, want)
	}

	// A newer cycle without containers has no container rows.
	emptyHost, _ := cycle(env.ID, baseTime.Add(time.Minute))
	if _, err := b.store.InsertMetrics(b.ctx, emptyHost, nil); err != nil {
		t.Fatalf("InsertMetrics: %v", err)
	}
	got, err = b.store.LatestContainerMetrics(b.ctx, env.ID)
	if err != nil || len(got) != 0 {
		t.Fatalf("LatestContainerMetrics after an empty cycle = %v, %v; want none", got, err)
	}
}

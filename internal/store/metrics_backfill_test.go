package store_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
)

// TestRollupMigrationBackfill: migration 00010 rolls up the raw rows stored
// before it exactly as InsertMetrics does cycle by cycle (rolled back and
// applied again on a schema holding 2 hours of cycles, a rename included).
func TestRollupMigrationBackfill(t *testing.T) {
	t.Parallel()
	databaseURL := storetest.NewSchema(t)
	ctx := t.Context()
	s, err := store.Open(ctx, databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	env, err := s.CreateEnvironment(ctx, validEnvironment("env"))
	if err != nil {
		t.Fatal(err)
	}
	from := baseTime.Truncate(time.Hour)
	for i := range 720 {
		at := from.Add(time.Duration(i)*10*time.Second + 3*time.Second)
		cpu, mem, used := rollupCycle(i)
		name := "web"
		if i >= 400 {
			name = "web-renamed"
		}
		host := store.HostMetric{EnvironmentID: env.ID, CycleAt: at, CollectedAt: at, CPUPercent: cpu,
			MemoryPercent: mem, MemoryUsed: used, MemoryTotal: 9000, ContainersRunning: i % 4}
		c := store.ContainerMetric{ContainerID: "c1", ContainerName: name, CPUPercent: cpu / 3, MemoryUsed: used,
			MemoryLimit: 5000, NetRx: int64(i * 10), BlockWrite: int64(i)}
		if _, err := s.InsertMetrics(ctx, host, []store.ContainerMetric{c}); err != nil {
			t.Fatal(err)
		}
	}
	snapshot := func() string {
		t.Helper()
		var out string
		for _, step := range []time.Duration{time.Minute, time.Hour} {
			host, err := s.HostSeries(ctx, env.ID, from, from.Add(2*time.Hour), step)
			if err != nil {
				t.Fatal(err)
			}
			series, err := s.ContainerSeries(ctx, env.ID, store.ContainerSelector{ID: "c1"}, from, from.Add(2*time.Hour), step)
			if err != nil {
				t.Fatal(err)
			}
			// Sums in another order may differ in the last bit.
			for i := range host {
				host[i].CPUPercent, host[i].MemoryPercent = roundTo9(host[i].CPUPercent), roundTo9(host[i].MemoryPercent)
			}
			for i := range series.Points {
				series.Points[i].CPUPercent = roundTo9(series.Points[i].CPUPercent)
			}
			out += fmt.Sprintf("%s: %+v\n%+v\n%+v\n", step, host, series.Containers, series.Points)
		}
		return out
	}
	before := snapshot()

	provider := migrationProvider(t, databaseURL)
	if _, err := provider.DownTo(context.WithoutCancel(ctx), 9); err != nil {
		t.Fatalf("down to 9: %v", err)
	}
	if _, err := s.HostSeries(ctx, env.ID, from, from.Add(2*time.Hour), time.Hour); err == nil {
		t.Fatal("HostSeries from the hour tier works without it")
	}
	if _, err := provider.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if after := snapshot(); after != before {
		t.Fatalf("after the backfill:\n%s\nbefore (incremental):\n%s", after, before)
	}
}

func roundTo9(v float64) float64 { return math.Round(v*1e9) / 1e9 }

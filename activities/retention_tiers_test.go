package activities_test

import (
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/workflows"
)

// TestPruneOldData_RollupTiers: the rollup tiers keep the days of the
// input's MetricsMinuteDays and MetricsHourDays, independently of the raw
// rows' MetricsDays; a value out of range fails the activity for good; an
// input without them (a schedule made before the tiers) keeps the defaults.
func TestPruneOldData_RollupTiers(t *testing.T) {
	b := setup(t, "unix:///nonexistent/docker.sock")
	in := workflows.DefaultPruneInput() // raw: 30 days
	two, forever := 2, 0
	in.MetricsMinuteDays, in.MetricsHourDays = &two, &forever
	now := time.Now().UTC()
	for _, age := range []time.Duration{3 * 24 * time.Hour, time.Hour} {
		at := now.Add(-age)
		if _, err := b.store.InsertMetrics(t.Context(), store.HostMetric{EnvironmentID: b.env.ID, CycleAt: at, CollectedAt: at},
			[]store.ContainerMetric{{ContainerID: "c1", ContainerName: "one"}}); err != nil {
			t.Fatalf("InsertMetrics: %v", err)
		}
	}
	val, err := b.tenv.ExecuteActivity(b.acts.PruneOldData, in)
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.PruneResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	// The 3-day-old minute buckets go; raw rows and hour buckets stay.
	if res.HostMetrics != 1 || res.ContainerMetrics != 1 {
		t.Fatalf("PruneOldData = %+v, want one host and one container rollup row", res)
	}
	for table, want := range map[string]int64{
		"host_metrics": 2, "container_metrics": 2, "host_metrics_1m": 1, "container_metrics_1m": 1,
		"host_metrics_1h": 2, "container_metrics_1h": 2,
	} {
		var n int64
		if err := b.store.Pool().QueryRow(t.Context(), "SELECT count(*) FROM "+table).Scan(&n); err != nil || n != want {
			t.Errorf("%s: %d rows (%v), want %d", table, n, err, want)
		}
	}

	tooLong := 36501
	in.MetricsHourDays = &tooLong
	_, err = b.tenv.ExecuteActivity(b.acts.PruneOldData, in)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || !appErr.NonRetryable() {
		t.Fatalf("err = %v, want a non-retryable application error", err)
	}

	// An input of before the tiers: the defaults (30 and 365 days) keep
	// everything left.
	old := workflows.PruneInput{MetricsDays: 30, EventsDays: 90, DiskDays: 90, NotificationsDays: 90}
	if minute, hour := old.RollupDays(); minute != workflows.DefaultMetricsMinuteDays || hour != workflows.DefaultMetricsHourDays {
		t.Fatalf("RollupDays of an old input = %d, %d", minute, hour)
	}
	val, err = b.tenv.ExecuteActivity(b.acts.PruneOldData, old)
	if err != nil {
		t.Fatal(err)
	}
	if err := val.Get(&res); err != nil || res.Total() != 0 {
		t.Fatalf("old input pruned %+v (%v), want nothing", res, err)
	}
}

package activities_test

import (
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/windflow/monitor/activities"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/workflows"
)

// TestPruneOldData_RollupTiers: the rollup tiers keep the days of their
// environment variables, independently of the raw rows' MetricsDays; a
// value that is not a number fails the activity for good.
func TestPruneOldData_RollupTiers(t *testing.T) {
	t.Setenv(activities.EnvRetentionMetricsMinuteDays, "2")
	t.Setenv(activities.EnvRetentionMetricsHourDays, "0") // forever
	b := setup(t, "unix:///nonexistent/docker.sock")
	now := time.Now().UTC()
	for _, age := range []time.Duration{3 * 24 * time.Hour, time.Hour} {
		at := now.Add(-age)
		if _, err := b.store.InsertMetrics(t.Context(), store.HostMetric{EnvironmentID: b.env.ID, CycleAt: at, CollectedAt: at},
			[]store.ContainerMetric{{ContainerID: "c1", ContainerName: "one"}}); err != nil {
			t.Fatalf("InsertMetrics: %v", err)
		}
	}
	val, err := b.tenv.ExecuteActivity(b.acts.PruneOldData, workflows.DefaultPruneInput()) // raw: 30 days
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

	t.Setenv(activities.EnvRetentionMetricsHourDays, "a year")
	_, err = b.tenv.ExecuteActivity(b.acts.PruneOldData, workflows.DefaultPruneInput())
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || !appErr.NonRetryable() {
		t.Fatalf("err = %v, want a non-retryable application error", err)
	}
}

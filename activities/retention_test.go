package activities_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/windflow/monitor/activities"
	"github.com/windflow/monitor/workflows"
)

// retentionSeedRows inserts n rows aged `age` into every pruned table of the
// environment, and n delivered plus n pending notifications.
func retentionSeedRows(t *testing.T, b *testBundle, prefix string, n int, age time.Duration) {
	t.Helper()
	ctx := context.Background()
	at := time.Now().Add(-age)
	chID := uuid.New()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO host_metrics (environment_id, cycle_at, collected_at, cpu_percent, memory_percent, memory_used, memory_total, containers_running)
			SELECT $1, $2::timestamptz - g * interval '1 second', $2::timestamptz - g * interval '1 second', 1, 1, 1, 1, 1
			FROM generate_series(1, $3) g`, []any{b.env.ID, at, n}},
		{`INSERT INTO container_metrics (environment_id, cycle_at, collected_at, container_id, container_name, cpu_percent,
				memory_used, memory_limit, net_rx, net_tx, block_read, block_write, cpu_total_usage, system_cpu_usage, online_cpus)
			SELECT $1, $2::timestamptz - g * interval '1 second', $2::timestamptz - g * interval '1 second', 'c', 'c', 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
			FROM generate_series(1, $3) g`, []any{b.env.ID, at, n}},
		{`INSERT INTO container_events (environment_id, time_nano, event_time, container_id, action)
			SELECT $1, $4::bigint - g::bigint * 1000000000, $2::timestamptz - g * interval '1 second', 'c', 'start'
			FROM generate_series(1, $3) g`, []any{b.env.ID, at, n, at.UnixNano()}},
		{`INSERT INTO event_gaps (environment_id, from_nano, to_nano)
			SELECT $1, $3::bigint - g::bigint * 2000000000, $3::bigint - g::bigint * 1000000000
			FROM generate_series(1, $2) g`, []any{b.env.ID, n, at.UnixNano()}},
		{`INSERT INTO disk_usage (environment_id, check_at, checked_at)
			SELECT $1, $2::timestamptz - g * interval '1 second', $2::timestamptz - g * interval '1 second'
			FROM generate_series(1, $3) g`, []any{b.env.ID, at, n}},
		{`INSERT INTO notification_channels (id, name, url) VALUES ($1, $2, 'generic://127.0.0.1/x')`, []any{chID, prefix + chID.String()[:8]}},
		{`INSERT INTO notifications (channel_id, environment_id, kind, dedup_key, status, created_at)
			SELECT $1, $2, 'test', $4 || '-' || s || '-' || g, s, $3::timestamptz - g * interval '1 second'
			FROM generate_series(1, $5) g, unnest(ARRAY['delivered', 'pending']) s`, []any{chID, b.env.ID, at, prefix, n}},
	} {
		if _, err := b.store.Pool().Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
}

func TestPruneOldData(t *testing.T) {
	b := setup(t, "unix:///nonexistent/docker.sock")
	retentionSeedRows(t, b, "old", 12, 120*24*time.Hour)
	retentionSeedRows(t, b, "recent", 3, time.Hour)

	var mu sync.Mutex
	heartbeats := 0
	b.tenv.SetOnActivityHeartbeatListener(func(_ *activity.Info, _ converter.EncodedValues) {
		mu.Lock()
		heartbeats++
		mu.Unlock()
	})
	val, err := b.tenv.ExecuteActivity(b.acts.PruneOldData, workflows.DefaultPruneInput())
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.PruneResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	want := workflows.PruneResult{HostMetrics: 12, ContainerMetrics: 12, ContainerEvents: 12, EventGaps: 12, DiskUsage: 12, Notifications: 12}
	if res != want {
		t.Fatalf("PruneOldData = %+v, want %+v", res, want)
	}
	mu.Lock()
	// The SDK throttles heartbeats: at least one reaches the listener.
	if heartbeats < 1 {
		t.Errorf("no heartbeat")
	}
	mu.Unlock()
	for table, want := range map[string]int64{
		"host_metrics": 3, "container_metrics": 3, "container_events": 3, "event_gaps": 3, "disk_usage": 3,
		"notifications": 3 + 12 + 3, // recent delivered, all pending
	} {
		var n int64
		if err := b.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("%s: %d rows left, want %d", table, n, want)
		}
	}

	// Zero days keep everything.
	retentionSeedRows(t, b, "again", 2, 400*24*time.Hour)
	val, err = b.tenv.ExecuteActivity(b.acts.PruneOldData, workflows.PruneInput{})
	if err != nil {
		t.Fatal(err)
	}
	if err := val.Get(&res); err != nil || res.Total() != 0 {
		t.Fatalf("PruneOldData(keep forever) = %+v, %v", res, err)
	}
}

// noPruneStore is a Store without PruneWithProgress.
type noPruneStore struct{ activities.Store }

func TestPruneOldData_NonRetryable(t *testing.T) {
	b := setup(t, "unix:///nonexistent/docker.sock")
	for name, tc := range map[string]struct {
		acts *activities.Activities
		in   workflows.PruneInput
	}{
		"store cannot prune": {&activities.Activities{Store: noPruneStore{b.store}}, workflows.DefaultPruneInput()},
		"negative days":      {b.acts, workflows.PruneInput{MetricsDays: -1}},
		"too many days":      {b.acts, workflows.PruneInput{EventsDays: 1 << 40}},
	} {
		t.Run(name, func(t *testing.T) {
			var suite testsuite.WorkflowTestSuite
			tenv := suite.NewTestActivityEnvironment()
			tenv.RegisterActivity(tc.acts)
			_, err := tenv.ExecuteActivity(tc.acts.PruneOldData, tc.in)
			var appErr *temporal.ApplicationError
			if !errors.As(err, &appErr) || !appErr.NonRetryable() {
				t.Fatalf("err = %v, want a non-retryable application error", err)
			}
		})
	}
}

package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
)

// retentionSeed inserts into every pruned table `old` rows aged oldAge and
// `recent` rows aged one hour, relative to now, plus one pending and one
// recent delivered notification per old notification.
func retentionSeed(t *testing.T, st *store.Store, now time.Time, oldAge time.Duration, old, recent int) {
	t.Helper()
	ctx := context.Background()
	envID := uuid.New()
	chID := uuid.New()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := st.Pool().Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`INSERT INTO environments (id, name, endpoint, settings)
		VALUES ($1, $2, 'unix:///var/run/docker.sock', '{"metricsIntervalSeconds": 10, "offlineAfter": 3}')`, envID, "ret-"+envID.String()[:8])
	exec(`INSERT INTO notification_channels (id, name, url) VALUES ($1, $2, 'generic://127.0.0.1/x')`, chID, "ret-"+chID.String()[:8])
	seed := func(prefix string, n int, age time.Duration) {
		at := now.Add(-age)
		exec(`INSERT INTO host_metrics (environment_id, cycle_at, collected_at, cpu_percent, memory_percent, memory_used, memory_total, containers_running)
			SELECT $1, $2::timestamptz - g * interval '1 second', $2::timestamptz - g * interval '1 second', 1, 1, 1, 1, 1
			FROM generate_series(1, $3) g`, envID, at, n)
		exec(`INSERT INTO container_metrics (environment_id, cycle_at, collected_at, container_id, container_name, cpu_percent,
				memory_used, memory_limit, net_rx, net_tx, block_read, block_write, cpu_total_usage, system_cpu_usage, online_cpus)
			SELECT $1, $2::timestamptz - g * interval '1 second', $2::timestamptz - g * interval '1 second', 'c', 'c', 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
			FROM generate_series(1, $3) g`, envID, at, n)
		exec(`INSERT INTO container_events (environment_id, time_nano, event_time, container_id, action)
			SELECT $1, $4::bigint - g::bigint * 1000000000, $2::timestamptz - g * interval '1 second', 'c', 'start'
			FROM generate_series(1, $3) g`, envID, at, n, at.UnixNano())
		exec(`INSERT INTO event_gaps (environment_id, from_nano, to_nano)
			SELECT $1, $3::bigint - g::bigint * 2000000000, $3::bigint - g::bigint * 1000000000 FROM generate_series(1, $2) g`, envID, n, at.UnixNano())
		exec(`INSERT INTO disk_usage (environment_id, check_at, checked_at)
			SELECT $1, $2::timestamptz - g * interval '1 second', $2::timestamptz - g * interval '1 second'
			FROM generate_series(1, $3) g`, envID, at, n)
		for _, status := range []string{"delivered", "failed", "pending"} {
			exec(`INSERT INTO notifications (channel_id, environment_id, kind, dedup_key, status, created_at)
				SELECT $1, $2, 'test', $5 || '-' || $3 || '-' || g, $3, $4::timestamptz - g * interval '1 second'
				FROM generate_series(1, $6) g`, chID, envID, status, at, prefix, n)
		}
		exec(`INSERT INTO notification_attempts (notification_id, attempt, ok) SELECT id, 1, true FROM notifications`)
	}
	seed("old", old, oldAge)
	seed("recent", recent, time.Hour)
}

func retentionCount(t *testing.T, st *store.Store, sql string) int64 {
	t.Helper()
	var n int64
	if err := st.Pool().QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func openRetentionStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), storetest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

func TestDefaultRetention(t *testing.T) {
	r := store.DefaultRetention()
	day := 24 * time.Hour
	if r.Metrics != 7*day || r.MetricsMinute != 30*day || r.MetricsHour != 365*day || r.Events != 90*day || r.Disk != 90*day || r.Notifications != 90*day {
		t.Fatalf("DefaultRetention() = %+v", r)
	}
}

func TestPrune_DeletesOldKeepsRecent(t *testing.T) {
	st := openRetentionStore(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	const old, recent = 23, 4
	retentionSeed(t, st, now, 100*24*time.Hour, old, recent)

	var batches int
	res, err := st.PruneWithProgress(context.Background(), store.DefaultRetention(), now, 5, func(string, int64) { batches++ })
	if err != nil {
		t.Fatal(err)
	}
	want := store.PruneResult{
		HostMetrics: old, ContainerMetrics: old, ContainerEvents: old, EventGaps: old, DiskUsage: old,
		Notifications: 2 * old, // delivered and failed; pending kept
	}
	if res != want {
		t.Fatalf("Prune = %+v, want %+v", res, want)
	}
	if res.Total() != 7*old {
		t.Fatalf("Total = %d", res.Total())
	}
	// Batches of 5 over 23 (and 46) rows: several batches per table.
	if batches < 6*5 {
		t.Fatalf("progress called %d times, want one per batch", batches)
	}
	for table, want := range map[string]int64{
		"host_metrics": recent, "container_metrics": recent, "container_events": recent,
		"event_gaps": recent, "disk_usage": recent,
	} {
		if n := retentionCount(t, st, "SELECT count(*) FROM "+table); n != want {
			t.Errorf("%s: %d rows left, want %d", table, n, want)
		}
	}
	if n := retentionCount(t, st, "SELECT count(*) FROM notifications WHERE status = 'pending'"); n != old+recent {
		t.Errorf("pending notifications left: %d, want %d", n, old+recent)
	}
	if n := retentionCount(t, st, "SELECT count(*) FROM notifications WHERE status <> 'pending'"); n != 2*recent {
		t.Errorf("finished notifications left: %d, want %d", n, 2*recent)
	}
	// Attempts of the deleted notifications went with them.
	if n := retentionCount(t, st, "SELECT count(*) FROM notification_attempts a LEFT JOIN notifications n ON n.id = a.notification_id WHERE n.id IS NULL"); n != 0 {
		t.Errorf("orphan attempts: %d", n)
	}

	// A second run finds nothing.
	res, err = st.Prune(context.Background(), store.DefaultRetention(), now, 5)
	if err != nil || res.Total() != 0 {
		t.Fatalf("second Prune = %+v, %v; want nothing", res, err)
	}
}

func TestPrune_MetricsShorterThanEvents(t *testing.T) {
	st := openRetentionStore(t)
	now := time.Now().UTC()
	// 40 days old: past the 30 days of metrics, within the 90 days of the rest.
	retentionSeed(t, st, now, 40*24*time.Hour, 7, 2)
	res, err := st.Prune(context.Background(), store.DefaultRetention(), now, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := store.PruneResult{HostMetrics: 7, ContainerMetrics: 7}
	if res != want {
		t.Fatalf("Prune = %+v, want %+v", res, want)
	}
}

func TestPrune_ZeroKeepsForever(t *testing.T) {
	st := openRetentionStore(t)
	now := time.Now().UTC()
	retentionSeed(t, st, now, 1000*24*time.Hour, 6, 1)
	r := store.DefaultRetention()
	r.Events = 0
	r.Notifications = 0
	res, err := st.Prune(context.Background(), r, now, 4)
	if err != nil {
		t.Fatal(err)
	}
	want := store.PruneResult{HostMetrics: 6, ContainerMetrics: 6, DiskUsage: 6}
	if res != want {
		t.Fatalf("Prune = %+v, want %+v", res, want)
	}
	if n := retentionCount(t, st, "SELECT count(*) FROM container_events"); n != 7 {
		t.Errorf("container_events: %d, want 7", n)
	}
	if n := retentionCount(t, st, "SELECT count(*) FROM event_gaps"); n != 7 {
		t.Errorf("event_gaps: %d, want 7", n)
	}
	if n := retentionCount(t, st, "SELECT count(*) FROM notifications"); n != 21 {
		t.Errorf("notifications: %d, want 21", n)
	}

	// Everything zero deletes nothing.
	res, err = st.Prune(context.Background(), store.Retention{}, now, 4)
	if err != nil || res.Total() != 0 {
		t.Fatalf("Prune(zero) = %+v, %v", res, err)
	}
}

func TestPrune_BatchEqualToRows(t *testing.T) {
	st := openRetentionStore(t)
	now := time.Now().UTC()
	retentionSeed(t, st, now, 100*24*time.Hour, 8, 1)
	// A batch exactly the row count takes a second, empty batch to stop.
	res, err := st.Prune(context.Background(), store.DefaultRetention(), now, 8)
	if err != nil {
		t.Fatal(err)
	}
	if res.HostMetrics != 8 || res.Notifications != 16 {
		t.Fatalf("Prune = %+v", res)
	}
	if n := retentionCount(t, st, "SELECT count(*) FROM host_metrics"); n != 1 {
		t.Fatalf("host_metrics left: %d", n)
	}
}

func TestPrune_CanceledContext(t *testing.T) {
	st := openRetentionStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := st.Prune(ctx, store.DefaultRetention(), time.Now(), 10); err == nil {
		t.Fatal("want an error from a canceled context")
	}
}

// The alert history follows the notifications' retention, except that the
// last transition of an alert that still fires stays however old: an old
// resolved pair goes, an old firing with a recent resolution goes (the
// resolution stays), an old firing without a resolution stays.
func TestPrune_AlertHistory(t *testing.T) {
	st := openRetentionStore(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	envID := uuid.New()
	if _, err := st.Pool().Exec(ctx, `INSERT INTO environments (id, name, endpoint, settings)
		VALUES ($1, $2, 'unix:///var/run/docker.sock', '{"metricsIntervalSeconds": 10, "offlineAfter": 3}')`, envID, "ret-"+envID.String()[:8]); err != nil {
		t.Fatal(err)
	}
	old, oldest, recent := now.Add(-100*24*time.Hour), now.Add(-101*24*time.Hour), now.Add(-time.Hour)
	resolvedPair, lateResolution, stillFiring := uuid.New(), uuid.New(), uuid.New()
	for _, row := range []struct {
		rule  uuid.UUID
		phase string
		at    time.Time
	}{
		{resolvedPair, "firing", oldest}, {resolvedPair, "resolved", old},
		{lateResolution, "firing", old}, {lateResolution, "resolved", recent},
		{stillFiring, "firing", oldest},
	} {
		if _, err := st.Pool().Exec(ctx, `INSERT INTO alerts (environment_id, rule_id, target, phase, at, since, value)
			VALUES ($1, $2, 'web', $3, $4, $4, 1)`, envID, row.rule, row.phase, row.at); err != nil {
			t.Fatal(err)
		}
	}
	res, err := st.Prune(ctx, store.DefaultRetention(), now, 1)
	if err != nil {
		t.Fatal(err)
	}
	if res.Alerts != 3 {
		t.Fatalf("alerts pruned: %d, want 3 (%+v)", res.Alerts, res)
	}
	rows, err := st.Pool().Query(ctx, `SELECT rule_id, phase FROM alerts ORDER BY at`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var left []string
	for rows.Next() {
		var rule uuid.UUID
		var phase string
		if err := rows.Scan(&rule, &phase); err != nil {
			t.Fatal(err)
		}
		switch rule {
		case stillFiring:
			left = append(left, "still firing: "+phase)
		case lateResolution:
			left = append(left, "late resolution: "+phase)
		default:
			left = append(left, "resolved pair: "+phase)
		}
	}
	want := []string{"still firing: firing", "late resolution: resolved"}
	if len(left) != len(want) || left[0] != want[0] || left[1] != want[1] {
		t.Fatalf("left %v, want %v", left, want)
	}
}

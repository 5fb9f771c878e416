package activities_test

import (
	"context"
	"testing"
	"time"

	"github.com/windflow/monitor/activities"
	"github.com/windflow/monitor/internal/engine/fakeengine"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/workflows"
)

// TestFaultSlowEventConsumer: the engine drops the live events of a reader
// that lags behind (dockerd: a full 1,024-event buffer for 100 ms; the fake
// engine models it, which a real daemon cannot be made to do on demand).
// Here the store holds the stream's write while a burst far larger than
// every buffer arrives: the stream notices it was held up, stores what the
// engine's replay buffer still has, and records the rest as a gap — nothing
// is lost silently.
func TestFaultSlowEventConsumer(t *testing.T) {
	fake, err := fakeengine.Start(fakeengine.Options{Containers: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fake.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := setup(t, fake.Endpoint(), ctx)
	b.acts.Events = activities.EventOptions{FlushInterval: 20 * time.Millisecond}

	done := make(chan error, 1)
	go func() {
		_, err := b.tenv.ExecuteActivity(b.acts.StreamEvents, workflows.StreamEventsInput{EnvironmentID: b.env.ID.String()})
		done <- err
	}()
	fake.Emit(0, "start")
	waitFor(t, "the stream's first event stored", func() bool { return b.countEvents(t, 0) == 1 })

	// Hold the stream's next write: its cursor row stays locked.
	pool := b.store.Pool()
	tx, err := pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	if _, err := tx.Exec(t.Context(), `SELECT 1 FROM event_cursors WHERE environment_id = $1 FOR UPDATE`, b.env.ID); err != nil {
		t.Fatal(err)
	}
	fake.Emit(1, "pause")
	waitFor(t, "the stream's write waiting on the lock", func() bool {
		var waiting int
		err := pool.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%event_cursors%'`).Scan(&waiting)
		return err == nil && waiting > 0
	})
	const burst = 60_000 // ~20 MB of events: more than the socket and the engine's buffer hold
	for i := range burst {
		fake.Emit(i%2, []string{"pause", "unpause"}[i%2])
	}
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}

	// The last 256 events (the engine's replay buffer) are stored, and a gap
	// marks what the engine could no longer replay.
	waitFor(t, "a gap recorded and the burst's last event stored", func() bool {
		gaps, err := b.store.ListGaps(context.Background(), &b.env.ID, 10)
		if err != nil || len(gaps) == 0 {
			return false
		}
		evs, err := b.store.ListEvents(context.Background(), store.EventQuery{EnvironmentID: &b.env.ID, Limit: 1})
		return err == nil && len(evs) == 1 && evs[0].Action == "unpause" && b.countEvents(t, gaps[0].ToNano) >= 255
	})
	stored := b.countEvents(t, 0)
	if stored >= burst {
		t.Fatalf("%d events stored: the engine dropped none, so the test proved nothing (burst too small)", stored)
	}
	gaps, _ := b.store.ListGaps(context.Background(), &b.env.ID, 10)
	t.Logf("faults: slow consumer: burst of %d, %d stored, gap %s … %s", burst, stored,
		time.Unix(0, gaps[0].FromNano).UTC().Format(time.StampNano), time.Unix(0, gaps[0].ToNano).UTC().Format(time.StampNano))

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the stream did not end")
	}
}

// countEvents counts the stored events of the bundle's environment at or
// after fromNano.
func (b *testBundle) countEvents(t *testing.T, fromNano int64) int {
	t.Helper()
	var n int
	if err := b.store.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM container_events WHERE environment_id = $1 AND time_nano >= $2`, b.env.ID, fromNano).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

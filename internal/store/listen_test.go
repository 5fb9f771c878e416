package store_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/store"
)

// notification is one NOTIFY received through Store.Listen.
type notification struct{ channel, payload string }

// listener runs Store.Listen for a test and collects what it receives.
type listener struct {
	notes      chan notification
	mu         sync.Mutex
	reconnects int
	listening  chan struct{} // receives after each (re)LISTEN
}

// listen starts s.Listen on the store's two channels; it stops when the test
// ends. It returns once the channels are listened to.
func listen(t *testing.T, s *store.Store) *listener {
	t.Helper()
	l := &listener{notes: make(chan notification, 1000), listening: make(chan struct{}, 10)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.Listen(ctx, []string{s.EventsChannel(), s.StatusChannel()},
			func(channel, payload string) { l.notes <- notification{channel, payload} },
			func() {
				l.mu.Lock()
				l.reconnects++
				l.mu.Unlock()
				l.listening <- struct{}{}
			})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Listen returned %v, want nil", err)
		}
	})
	l.waitListening(t)
	return l
}

func (l *listener) waitListening(t *testing.T) {
	t.Helper()
	select {
	case <-l.listening:
	case <-time.After(30 * time.Second):
		t.Fatal("Listen did not LISTEN within 30s")
	}
}

// next returns the next notification, failing after a timeout.
func (l *listener) next(t *testing.T) notification {
	t.Helper()
	select {
	case n := <-l.notes:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("no notification within 10s")
		return notification{}
	}
}

// none fails if a notification is pending.
func (l *listener) none(t *testing.T) {
	t.Helper()
	select {
	case n := <-l.notes:
		t.Fatalf("unexpected notification %+v", n)
	default:
	}
}

// sentinel records a status change and waits for its notification; since
// notifications of committed transactions arrive in commit order, every
// notification of earlier writes has been received by then. It returns the
// notifications received before it.
func (l *listener) sentinel(t *testing.T, b *testBundle, envID uuid.UUID, at time.Time) []notification {
	t.Helper()
	if _, _, err := b.store.RecordStatus(b.ctx, store.StatusChange{EnvironmentID: envID, ChangedAt: at, Online: true}, nil); err != nil {
		t.Fatal(err)
	}
	var before []notification
	for {
		n := l.next(t)
		if n.channel == b.store.StatusChannel() {
			return before
		}
		before = append(before, n)
	}
}

func TestChannelsNameTheSchema(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var schema string
	if err := b.store.Pool().QueryRow(b.ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if got := b.store.EventsChannel(); got != "windflow_events:"+schema {
		t.Fatalf("EventsChannel = %q", got)
	}
	if got := b.store.StatusChannel(); got != "windflow_status:"+schema {
		t.Fatalf("StatusChannel = %q", got)
	}
}

func TestListenNotifiesEachNewRowOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	l := listen(t, b.store)

	batch := []store.ContainerEvent{
		containerEvent(0, "c1", "start"),
		containerEvent(time.Second, "c1", "die"),
		containerEvent(2*time.Second, "c1", "destroy"),
	}
	if n, err := b.store.InsertEvents(b.ctx, env.ID, batch, 1); err != nil || n != 3 {
		t.Fatalf("InsertEvents = %d, %v", n, err)
	}
	stored, err := b.store.EventsAfterID(b.ctx, 0, 0)
	if err != nil || len(stored) != 3 {
		t.Fatalf("EventsAfterID = %+v, %v", stored, err)
	}
	for _, e := range stored {
		n := l.next(t)
		if n.channel != b.store.EventsChannel() || n.payload != strconv.FormatInt(e.ID, 10) {
			t.Fatalf("notification %+v, want %q on %q", n, strconv.FormatInt(e.ID, 10), b.store.EventsChannel())
		}
	}

	// Duplicates (and a batch that only moves the cursor) announce nothing.
	if n, err := b.store.InsertEvents(b.ctx, env.ID, batch, 2); err != nil || n != 0 {
		t.Fatalf("InsertEvents again = %d, %v", n, err)
	}
	if _, err := b.store.InsertEvents(b.ctx, env.ID, nil, 3); err != nil {
		t.Fatal(err)
	}
	if extra := l.sentinel(t, b, env.ID, baseTime); len(extra) != 0 {
		t.Fatalf("notifications for duplicates: %+v", extra)
	}
	// A duplicate status change announces nothing either.
	if _, _, err := b.store.RecordStatus(b.ctx, store.StatusChange{EnvironmentID: env.ID, ChangedAt: baseTime, Online: true}, nil); err != nil {
		t.Fatal(err)
	}
	if extra := l.sentinel(t, b, env.ID, baseTime.Add(time.Minute)); len(extra) != 0 {
		t.Fatalf("notifications for a duplicate status: %+v", extra)
	}
	l.none(t)
}

func TestListenNotifiesAtCommit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	l := listen(t, b.store)

	tx, err := b.store.Pool().Begin(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(b.ctx) }()
	var id int64
	if err := tx.QueryRow(b.ctx, `
		INSERT INTO container_events (environment_id, time_nano, event_time, container_id, action)
		VALUES ($1, 1, now(), 'c', 'start') RETURNING id`, env.ID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	l.none(t)
	if err := tx.Commit(b.ctx); err != nil {
		t.Fatal(err)
	}
	if n := l.next(t); n.payload != strconv.FormatInt(id, 10) {
		t.Fatalf("notification %+v, want id %d", n, id)
	}
}

func TestListenIsolatedPerSchema(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other := setup(t)
	env := b.createEnv(t, "env")
	otherEnv := other.createEnv(t, "env")
	l := listen(t, b.store)

	if _, err := other.store.InsertEvents(other.ctx, otherEnv.ID, []store.ContainerEvent{containerEvent(0, "c", "start")}, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.store.RecordStatus(other.ctx, store.StatusChange{EnvironmentID: otherEnv.ID, ChangedAt: baseTime}, nil); err != nil {
		t.Fatal(err)
	}
	// Another schema's writes (committed before the sentinel) reach no listener of this one.
	if extra := l.sentinel(t, b, env.ID, baseTime); len(extra) != 0 {
		t.Fatalf("notifications from another schema: %+v", extra)
	}
}

func TestListenReconnects(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	l := listen(t, b.store)

	// Kill the listening connection from the server side.
	var killed int
	if err := b.store.Pool().QueryRow(b.ctx, `
		SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE query LIKE $1`, `LISTEN "`+strings.ReplaceAll(b.store.StatusChannel(), `"`, `""`)+`"%`).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 1 {
		t.Fatalf("terminated %d listening connections, want 1", killed)
	}
	l.waitListening(t)
	l.mu.Lock()
	reconnects := l.reconnects
	l.mu.Unlock()
	if reconnects != 2 {
		t.Fatalf("onReconnect called %d times, want 2 (first LISTEN and the reconnect)", reconnects)
	}
	if _, err := b.store.InsertEvents(b.ctx, env.ID, []store.ContainerEvent{containerEvent(0, "c", "start")}, 0); err != nil {
		t.Fatal(err)
	}
	if n := l.next(t); n.channel != b.store.EventsChannel() {
		t.Fatalf("notification after reconnect %+v", n)
	}
}

func TestListenRejectsNoChannel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if err := b.store.Listen(b.ctx, nil, func(string, string) {}, nil); err == nil {
		t.Fatal("Listen without channels: want an error")
	}
}

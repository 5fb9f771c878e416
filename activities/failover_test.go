package activities

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"github.com/windflow/monitor/internal/store"
)

// memLeases is StreamLeases in memory: the orphans it hands out are set
// by the test.
type memLeases struct {
	mu      sync.Mutex
	renewed map[string]int
	dropped []string
	held    map[uuid.UUID][]byte
	orphans []store.OrphanedStream
	takenBy []string
}

func newMemLeases() *memLeases {
	return &memLeases{renewed: map[string]int{}, held: map[uuid.UUID][]byte{}}
}

func (m *memLeases) RenewWorkerLease(_ context.Context, id string, _ time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.renewed[id]++
	return nil
}

func (m *memLeases) DropWorkerLease(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dropped = append(m.dropped, id)
	return nil
}

func (m *memLeases) HoldStream(_ context.Context, env uuid.UUID, _ string, token []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.held[env] = token
	return nil
}

func (m *memLeases) ReleaseStream(_ context.Context, env uuid.UUID, token []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if string(m.held[env]) == string(token) {
		delete(m.held, env)
	}
	return nil
}

func (m *memLeases) ForgetOldWorkerLeases(context.Context) error { return nil }

func (m *memLeases) TakeOrphanedStreams(_ context.Context, self string, _ int) ([]store.OrphanedStream, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.takenBy = append(m.takenBy, self)
	out := m.orphans
	m.orphans = nil
	return out, nil
}

// completions records CompleteActivity calls; notFound tokens answer
// NotFound.
type completions struct {
	mu       sync.Mutex
	failed   map[string]error
	notFound map[string]bool
}

func (c *completions) RecordActivityHeartbeat(context.Context, []byte, ...any) error { return nil }

func (c *completions) CompleteActivity(_ context.Context, token []byte, _ any, err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.notFound[string(token)] {
		return serviceerror.NewNotFound("activity not found")
	}
	c.failed[string(token)] = err
	return nil
}

func TestStreamFailoverFailsOrphansWithARetryableError(t *testing.T) {
	leases := newMemLeases()
	envA, envB := uuid.New(), uuid.New()
	leases.orphans = []store.OrphanedStream{
		{EnvironmentID: envA, WorkerID: "dead", TaskToken: []byte("token-a")},
		{EnvironmentID: envB, WorkerID: "dead", TaskToken: []byte("token-b")},
	}
	done := &completions{failed: map[string]error{}, notFound: map[string]bool{"token-b": true}}
	a := &Activities{Leases: leases, Completer: done, WorkerID: "alive"}
	stop, err := StartStreamFailover(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		done.mu.Lock()
		n := len(done.failed)
		done.mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()

	err = done.failed["token-a"]
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != ErrTypeWorkerLost || appErr.NonRetryable() {
		t.Fatalf("orphan failed with %v, want a retryable %s application error", err, ErrTypeWorkerLost)
	}
	if d := appErr.NextRetryDelay(); d <= 0 || d > 5*time.Second {
		t.Errorf("next retry delay %s, want a short one", d)
	}
	if _, ok := done.failed["token-b"]; ok {
		t.Error("an attempt that no longer exists was completed")
	}
	leases.mu.Lock()
	defer leases.mu.Unlock()
	if leases.renewed["alive"] == 0 || len(leases.takenBy) == 0 || leases.takenBy[0] != "alive" {
		t.Errorf("lease renewed %d times, swept by %v: want renewals and sweeps as alive", leases.renewed["alive"], leases.takenBy)
	}
	if len(leases.dropped) != 1 || leases.dropped[0] != "alive" {
		t.Errorf("dropped leases %v, want [alive] once stopped", leases.dropped)
	}
}

func TestStreamFailoverOffWithoutLeases(t *testing.T) {
	a := &Activities{}
	stop, err := StartStreamFailover(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if a.WorkerID != "" {
		t.Errorf("worker ID %q set without leases", a.WorkerID)
	}
}

func TestHoldStreamReleasesItsOwnAttemptOnly(t *testing.T) {
	leases := newMemLeases()
	a := &Activities{Leases: leases, WorkerID: "w"}
	env := store.Environment{ID: uuid.New(), Name: "e"}
	first := &eventStream{a: a, ctx: context.Background(), env: env, token: []byte("attempt-1")}
	release := a.holdStream(first)
	second := &eventStream{a: a, ctx: context.Background(), env: env, token: []byte("attempt-2")}
	a.holdStream(second)
	release() // the first attempt ends after the second took over
	if got := string(leases.held[env.ID]); got != "attempt-2" {
		t.Fatalf("held token %q, want the newer attempt's", got)
	}
}

package activities_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/windflow/monitor/activities"
	"github.com/windflow/monitor/internal/engine/enginetest"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/workflows"
)

// StreamEvents stores what the engine sends while it follows the stream
// (flushed on its timer, not only at the end) and, cancelled, stores the
// rest and hands its cursor over.
func TestStreamEvents_StoresLiveAndHandsOver(t *testing.T) {
	cli := enginetest.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := setup(t, enginetest.Endpoint(), ctx)
	b.acts.Events = activities.EventOptions{FlushInterval: 50 * time.Millisecond, HeartbeatInterval: 100 * time.Millisecond}

	type result struct {
		progress workflows.StreamProgress
		err      error
	}
	done := make(chan result, 1)
	go func() {
		val, err := b.tenv.ExecuteActivity(b.acts.StreamEvents, workflows.StreamEventsInput{EnvironmentID: b.env.ID.String()})
		var r result
		r.err = err
		if err == nil {
			r.err = val.Get(&r.progress)
		}
		done <- r
	}()

	// The first read reaches 30 s back: a container started while the
	// stream connects is caught either way.
	id := enginetest.RunContainer(t, cli, "act-stream", "sleep", "300")
	var stored []store.ContainerEvent
	waitFor(t, "the container's start event stored while the stream runs", func() bool {
		evs, err := b.store.ListEvents(context.Background(), store.EventQuery{EnvironmentID: &b.env.ID, ContainerID: id})
		stored = evs
		return err == nil && hasAction(evs, "start")
	})
	cursor, err := b.store.EventCursor(context.Background(), b.env.ID)
	if err != nil {
		t.Fatal(err)
	}

	cancel()
	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("StreamEvents did not return after its context ended")
	}
	if r.err != nil {
		t.Fatalf("cancelled stream: %v, want its progress", r.err)
	}
	if r.progress.Cursor < cursor || r.progress.Stored < int64(len(stored)) {
		t.Fatalf("progress = %+v, want cursor ≥ %d and ≥ %d stored", r.progress, cursor, len(stored))
	}
	for _, e := range stored {
		if e.EnvironmentID != b.env.ID || e.ContainerID != id {
			t.Fatalf("stored %+v", e)
		}
	}
}

// StreamEvents against an engine that cannot be reached fails (the retry
// policy reconnects) instead of reporting a clean end.
func TestStreamEvents_UnreachableEngineFails(t *testing.T) {
	b := setup(t, "unix:///nonexistent/docker.sock")
	_, err := b.tenv.ExecuteActivity(b.acts.StreamEvents, workflows.StreamEventsInput{EnvironmentID: b.env.ID.String()})
	if err == nil {
		t.Fatal("want an error")
	}
}

func hasAction(evs []store.ContainerEvent, action string) bool {
	for _, e := range evs {
		if e.Action == action {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A stream ends as soon as its worker starts stopping (not when the stop
// timeout cancels it), failing with WorkerStopping so that its retry
// resumes at once on another worker.
func TestStreamEvents_EndsWhenTheWorkerStops(t *testing.T) {
	enginetest.Client(t)
	b := setup(t, enginetest.Endpoint())
	stop := make(chan struct{})
	b.tenv.SetWorkerStopChannel(stop)
	done := make(chan error, 1)
	go func() {
		_, err := b.tenv.ExecuteActivity(b.acts.StreamEvents, workflows.StreamEventsInput{EnvironmentID: b.env.ID.String()})
		done <- err
	}()
	// Stopping before the stream registered, or after: either way it ends.
	close(stop)
	select {
	case err := <-done:
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || appErr.Type() != "WorkerStopping" {
			t.Fatalf("stream on a stopping worker: %v, want a WorkerStopping failure", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the stream did not end when its worker started stopping")
	}
}

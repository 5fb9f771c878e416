package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/windflow/monitor/internal/temporaltest"
)

// serverStream is one StreamEvents attempt seen by serverStubs.
type serverStream struct {
	runID    string
	in       StreamEventsInput
	returned int64 // the cursor it returned when cancelled
	stopped  chan struct{}
}

// serverStubs are the activities of TestEventsOnServer.
type serverStubs struct {
	mu      sync.Mutex
	streams []*serverStream
	polls   []PollEventsInput
	results []int64
	changed chan struct{} // a stream or poll started or ended
}

func (s *serverStubs) notify() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func (s *serverStubs) collect(_ context.Context, in CollectMetricsInput) (MetricsSummary, error) {
	return MetricsSummary{CollectedAt: in.CycleAt, Stored: true}, nil
}

func (s *serverStubs) checkEngine(context.Context, CheckEngineInput) error { return nil }

func (s *serverStubs) recordStatus(context.Context, RecordStatusInput) error { return nil }

func (s *serverStubs) checkDisk(_ context.Context, in CheckDiskInput) (DiskSummary, error) {
	return DiskSummary{CheckedAt: in.CheckAt, TotalBytes: 1 << 30}, nil
}

func (s *serverStubs) recordDiskWarning(context.Context, RecordDiskWarningInput) error { return nil }

// stream heartbeats until cancelled, then returns the time of its stop as
// its cursor, as the real activity does.
func (s *serverStubs) stream(ctx context.Context, in StreamEventsInput) (StreamProgress, error) {
	call := &serverStream{runID: activity.GetInfo(ctx).WorkflowExecution.RunID, in: in, stopped: make(chan struct{})}
	s.mu.Lock()
	s.streams = append(s.streams, call)
	s.mu.Unlock()
	s.notify()
	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			call.returned = time.Now().UnixNano()
			s.mu.Unlock()
			close(call.stopped)
			s.notify()
			return StreamProgress{Cursor: call.returned}, nil
		case <-ticker.C:
			activity.RecordHeartbeat(ctx, StreamProgress{Cursor: in.Cursor})
		}
	}
}

func (s *serverStubs) poll(_ context.Context, in PollEventsInput) (PollEventsResult, error) {
	cursor := time.Now().UnixNano()
	s.mu.Lock()
	s.polls = append(s.polls, in)
	s.results = append(s.results, cursor)
	s.mu.Unlock()
	s.notify()
	return PollEventsResult{Cursor: cursor}, nil
}

// waitFor waits until cond (called under the mutex) holds.
func (s *serverStubs) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		s.mu.Lock()
		ok := cond()
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-s.changed:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestEventsOnServer checks on a real Temporal server what the test
// environment cannot show (it ignores WaitForCancellation): the cursor a
// cancelled stream returns is handed to the poll that follows, the poll's to
// the next stream, and the stream's to the next run after continue-as-new.
func TestEventsOnServer(t *testing.T) {
	addr := temporaltest.Address(t)
	namespace := os.Getenv("TEMPORAL_NAMESPACE")
	if namespace == "" {
		namespace = "default"
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := client.Dial(client.Options{HostPort: addr, Namespace: namespace, Logger: sdklog.NewStructuredLogger(logger)})
	require.NoError(t, err)
	defer c.Close()

	// Continue as new after the second check (10 s in).
	saved := maxCyclesPerRun
	maxCyclesPerRun = 2
	defer func() { maxCyclesPerRun = saved }()

	stubs := &serverStubs{changed: make(chan struct{}, 1)}
	taskQueue := fmt.Sprintf("workflows-test-%d", time.Now().UnixNano())
	w := worker.New(c, taskQueue, worker.Options{
		// Cancellation reaches an activity with a heartbeat response; the
		// default throttle (0.8 × 30 s) would make each stop take 24 s.
		MaxHeartbeatThrottleInterval: 100 * time.Millisecond,
	})
	w.RegisterWorkflowWithOptions(EnvironmentWorkflow, workflow.RegisterOptions{Name: WorkflowName})
	w.RegisterActivityWithOptions(stubs.collect, activity.RegisterOptions{Name: ActivityCollectMetrics})
	w.RegisterActivityWithOptions(stubs.checkEngine, activity.RegisterOptions{Name: ActivityCheckEngine})
	w.RegisterActivityWithOptions(stubs.recordStatus, activity.RegisterOptions{Name: ActivityRecordStatus})
	w.RegisterActivityWithOptions(stubs.stream, activity.RegisterOptions{Name: ActivityStreamEvents})
	w.RegisterActivityWithOptions(stubs.poll, activity.RegisterOptions{Name: ActivityPollEvents})
	w.RegisterActivityWithOptions(stubs.checkDisk, activity.RegisterOptions{Name: ActivityCheckDisk})
	w.RegisterActivityWithOptions(stubs.recordDiskWarning, activity.RegisterOptions{Name: ActivityRecordDiskWarning})
	require.NoError(t, w.Start())
	defer w.Stop()
	// The streams run on a task queue of their own.
	streams := worker.New(c, StreamsTaskQueue(taskQueue), worker.Options{MaxHeartbeatThrottleInterval: 100 * time.Millisecond})
	streams.RegisterActivityWithOptions(stubs.stream, activity.RegisterOptions{Name: ActivityStreamEvents})
	require.NoError(t, streams.Start())
	defer streams.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	envID := fmt.Sprintf("server-test-%d", time.Now().UnixNano())
	s := DefaultSettings()
	s.MetricsInterval = 10 * time.Second
	s.EventMode = EventModeStream
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: WorkflowID(envID), TaskQueue: taskQueue},
		WorkflowName, Input{EnvironmentID: envID, Name: "server test", Settings: s})
	require.NoError(t, err)
	defer func() { _ = c.TerminateWorkflow(context.Background(), run.GetID(), "", "test over") }()

	configure := func(patch SettingsPatch) {
		t.Helper()
		handle, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
			WorkflowID: run.GetID(), UpdateName: UpdateConfigure, Args: []any{patch},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		})
		require.NoError(t, err)
		require.NoError(t, handle.Get(ctx, nil))
	}

	stubs.waitFor(t, "the first stream", func() bool { return len(stubs.streams) == 1 })
	firstRun := stubs.streams[0].runID

	// Stream → poll.
	configure(SettingsPatch{EventMode: modep(EventModePoll)})
	stubs.waitFor(t, "the first poll", func() bool { return len(stubs.polls) == 1 })
	stubs.mu.Lock()
	require.NotZero(t, stubs.streams[0].returned)
	require.Equal(t, stubs.streams[0].returned, stubs.polls[0].Cursor, "the poll starts from the stopped stream's cursor")
	stubs.mu.Unlock()

	// Poll → stream.
	configure(SettingsPatch{EventMode: modep(EventModeStream)})
	stubs.waitFor(t, "the second stream", func() bool { return len(stubs.streams) == 2 })
	stubs.mu.Lock()
	require.Equal(t, stubs.results[0], stubs.streams[1].in.Cursor, "the stream starts from the poll's cursor")
	require.Equal(t, firstRun, stubs.streams[1].runID)
	stubs.mu.Unlock()

	// Continue-as-new after the second check does not wait for the stream:
	// the run carries the cursor it knew (the real activity resumes from the
	// newest of it and the cursor stored with the events), the next run
	// streams from it, and the old run's stream stops when its heartbeat
	// finds its run closed.
	stubs.waitFor(t, "the stream of the next run", func() bool { return len(stubs.streams) == 3 })
	stubs.mu.Lock()
	second, third := stubs.streams[1], stubs.streams[2]
	stubs.mu.Unlock()
	<-second.stopped
	require.NotEqual(t, firstRun, third.runID, "a new run")
	require.Equal(t, second.in.Cursor, third.in.Cursor, "the next run streams from the cursor the run carried")

	// While it streams, the run holds one coroutine: the main loop drives
	// the event collection, no goroutine of its own
	// waits on the stream. The SDK's stack trace lists every coroutine.
	v, err := c.QueryWorkflow(ctx, run.GetID(), "", "__stack_trace")
	require.NoError(t, err)
	var trace string
	require.NoError(t, v.Get(&trace))
	require.Equal(t, 1, strings.Count(trace, "coroutine "), "coroutines of a streaming run:\n%s", trace)

	// Deleting the environment stops the stream.
	require.NoError(t, c.CancelWorkflow(ctx, run.GetID(), ""))
	select {
	case <-third.stopped:
	case <-ctx.Done():
		t.Fatal("the stream was not stopped by the cancellation")
	}
	var canceled *temporal.CanceledError
	err = c.GetWorkflow(ctx, run.GetID(), "").Get(ctx, nil)
	require.True(t, errors.As(err, &canceled), "want canceled, got %v", err)
}

package workflows

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Three limits of the test environment shape these tests:
//   - It ignores ActivityOptions.WaitForCancellation: a cancelled activity's
//     future fails at once with a canceled error and whatever the activity
//     returns afterwards is dropped. The waitForCancellation interceptor below
//     restores the server's behaviour for StreamEvents, so that the cursor a
//     stopped stream returns reaches the workflow as it does in production
//     (server_test.go checks the same against a real server).
//   - It delivers a cancellation to an activity only through a heartbeat,
//     throttled to 0.8 × HeartbeatTimeout (24 s of wall time). The
//     interceptor delivers it through a channel instead.
//   - It stops skipping time while an activity runs (timers then fire in wall
//     time). A stream blocked until cancelled is therefore kept to a second
//     or so of workflow time; the long stream of TestMetricsWhileStreaming
//     is a mock that waits on the workflow clock.

// streamCall is one StreamEvents attempt as the fake saw it.
type streamCall struct {
	In      StreamEventsInput
	Attempt int32
	// At is the workflow time of the attempt, since t0.
	At time.Duration
	// Stopped is set when the cancellation reached the attempt.
	Stopped bool
	// Returned is the cursor the attempt returned when stopped.
	Returned int64
	// TaskQueue is the task queue the attempt was scheduled on.
	TaskQueue string
}

// pollCall is one PollEvents attempt as the fake saw it.
type pollCall struct {
	In       PollEventsInput
	At       time.Duration
	Returned int64
}

// eventFakes are the fake event activities of fakeEngine (under its mutex).
type eventFakes struct {
	// streamFail decides the outcome of a StreamEvents attempt: an error, or
	// nil to run until cancelled.
	streamFail func(attempt int32) error
	streams    []streamCall
	// streamStop is closed when the running StreamEvents execution is
	// cancelled (see waitForCancellation); streamExec numbers executions.
	streamStop chan struct{}
	streamExec int
	// streamsRunning counts the attempts still running.
	streamsRunning sync.WaitGroup

	polls []pollCall
}

// streamEvents runs until cancelled and returns the engine time of its stop
// as its cursor: everything up to then has been read.
func (f *fakeEngine) streamEvents(ctx context.Context, in StreamEventsInput) (StreamProgress, error) {
	attempt := activity.GetInfo(ctx).Attempt
	f.mu.Lock()
	f.streams = append(f.streams, streamCall{In: in, Attempt: attempt, At: f.now().Sub(t0), TaskQueue: activity.GetInfo(ctx).TaskQueue})
	i := len(f.streams) - 1
	stop, fail := f.streamStop, f.streamFail
	f.streamsRunning.Add(1)
	f.mu.Unlock()
	defer f.streamsRunning.Done()

	if fail != nil {
		if err := fail(attempt); err != nil {
			return StreamProgress{}, err
		}
	}
	activity.RecordHeartbeat(ctx, StreamProgress{Cursor: in.Cursor})
	select {
	case <-stop:
	case <-ctx.Done():
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cursor := f.now().UnixNano()
	f.streams[i].Stopped = true
	f.streams[i].Returned = cursor
	return StreamProgress{Cursor: cursor, Stored: 2}, nil
}

// pollEvents reads up to the engine's clock (the workflow clock here).
func (f *fakeEngine) pollEvents(_ context.Context, in PollEventsInput) (PollEventsResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	f.polls = append(f.polls, pollCall{In: in, At: now.Sub(t0), Returned: now.UnixNano()})
	return PollEventsResult{Cursor: now.UnixNano(), Stored: 1}, nil
}

// beginStream is called when the workflow starts a StreamEvents execution.
func (f *fakeEngine) beginStream() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.streamExec++
	f.streamStop = make(chan struct{})
	return f.streamExec
}

// stopStream delivers the cancellation of execution exec.
func (f *fakeEngine) stopStream(exec int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if exec == f.streamExec {
		f.closeStreamStop()
	}
}

func (f *fakeEngine) closeStreamStop() {
	if f.streamStop == nil {
		return
	}
	select {
	case <-f.streamStop:
	default:
		close(f.streamStop)
	}
}

// finishStreams stops a stream still running when the test ends and waits
// until every fake stream attempt has returned.
func (f *fakeEngine) finishStreams(t *testing.T) {
	f.mu.Lock()
	f.closeStreamStop()
	f.mu.Unlock()
	done := make(chan struct{})
	go func() { f.streamsRunning.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Error("a fake stream is still running")
	}
}

// waitStreams waits until every fake stream attempt has returned: a stream
// the workflow cancelled returns at once; one it forgot never does.
func (f *fakeEngine) waitStreams(t *testing.T) {
	t.Helper()
	done := make(chan struct{})
	go func() { f.streamsRunning.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a fake stream is still running: its cancellation never came")
	}
}

func (f *fakeEngine) streamCalls() []streamCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]streamCall(nil), f.streams...)
}

func (f *fakeEngine) pollCalls() []pollCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]pollCall(nil), f.polls...)
}

// waitForCancellation is a worker interceptor that gives StreamEvents the
// server's WaitForCancellation behaviour in the test environment: the
// activity runs in a disconnected context (so the environment never fails its
// future early), and when the workflow cancels the context it was started
// with, the cancellation is delivered to the fake, which stops and returns its
// cursor; only then does the future resolve, with that result.
type waitForCancellation struct {
	interceptor.WorkerInterceptorBase
	f *fakeEngine
}

func (w *waitForCancellation) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &waitForCancellationInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, f: w.f}
}

type waitForCancellationInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	f *fakeEngine
}

func (i *waitForCancellationInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	return i.Next.Init(&waitForCancellationOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: outbound}, f: i.f})
}

type waitForCancellationOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	f *fakeEngine
}

func (o *waitForCancellationOutbound) ExecuteActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	if activityType != ActivityStreamEvents || !workflow.GetActivityOptions(ctx).WaitForCancellation {
		return o.Next.ExecuteActivity(ctx, activityType, args...)
	}
	exec := o.f.beginStream()
	detached, _ := workflow.NewDisconnectedContext(ctx)
	future := o.Next.ExecuteActivity(detached, activityType, args...)
	workflow.Go(detached, func(gctx workflow.Context) {
		s := workflow.NewSelector(gctx)
		s.AddFuture(future, func(workflow.Future) {})
		s.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) { o.f.stopStream(exec) })
		s.Select(gctx)
	})
	return future
}

// eventSettings returns settings with a 30 s metrics interval and events on
// in the given mode (poll interval 60 s).
func eventSettings(mode EventMode) Settings {
	s := settings(30 * time.Second)
	s.EventsEnabled = true
	s.EventMode = mode
	return s
}

func modep(m EventMode) *EventMode { return &m }

// at is the cursor of an engine time t0+d.
func at(d time.Duration) int64 { return t0.Add(d).UnixNano() }

const ms = time.Millisecond

func TestStreamStartsFromStateCursor(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	prev := State{
		EnvironmentID: "0b7f6c1e-env",
		Name:          "local",
		Settings:      eventSettings(EventModeStream),
		Status:        StatusOnline,
		NextCycleAt:   t0.Add(20 * time.Second),
		EventCursor:   at(-time.Minute),
	}
	var during State
	env.RegisterDelayedCallback(func() { during = queryState(t, env) }, 100*ms)
	cancelAt(env, 200*ms)
	env.ExecuteWorkflow(WorkflowName, Input{EnvironmentID: prev.EnvironmentID, Name: prev.Name, Settings: prev.Settings, State: &prev})
	requireCanceled(t, env)
	f.waitStreams(t)

	streams := f.streamCalls()
	require.Len(t, streams, 1)
	require.Equal(t, StreamEventsInput{EnvironmentID: "0b7f6c1e-env", Cursor: at(-time.Minute)}, streams[0].In)
	require.Equal(t, time.Duration(0), streams[0].At, "started at once")
	require.Empty(t, f.pollCalls())
	require.Equal(t, t0.Add(-time.Minute), during.EventCursorAt, "the query shows the cursor as a time")
}

func TestStreamRetriedWithBackoff(t *testing.T) {
	f := &fakeEngine{}
	f.streamFail = func(attempt int32) error {
		if attempt <= 2 {
			return errors.New("read /events: connection reset by peer")
		}
		return nil
	}
	env := newEnv(t, f)
	var during State
	env.RegisterDelayedCallback(func() { during = queryState(t, env) }, 15*time.Second+500*ms)
	cancelAt(env, 16*time.Second)
	env.ExecuteWorkflow(WorkflowName, input(eventSettings(EventModeStream)))
	requireCanceled(t, env)
	f.waitStreams(t)

	streams := f.streamCalls()
	require.Len(t, streams, 3)
	for i, s := range streams {
		require.EqualValues(t, i+1, s.Attempt)
		require.Zero(t, s.In.Cursor, "every attempt gets the same input; resuming is the activity's job")
	}
	// The reconnect backoff: 5 s, then 10 s.
	require.Equal(t, seconds(0, 5, 15), []time.Duration{streams[0].At, streams[1].At, streams[2].At})
	require.True(t, streams[2].Stopped, "the third attempt ran until the workflow was cancelled")
	require.Empty(t, during.EventsError, "retried failures are the retry policy's business")
	require.Equal(t, seconds(0), f.collectTimes(), "the checks went on meanwhile")
}

func TestStreamFailedForGood(t *testing.T) {
	f := &fakeEngine{}
	f.streamFail = func(int32) error {
		return temporal.NewNonRetryableApplicationError("environment 0b7f6c1e-env not found", "EnvironmentNotFound", nil)
	}
	env := newEnv(t, f)
	var failed State
	env.RegisterDelayedCallback(func() { failed = queryState(t, env) }, 30*time.Second)
	updateAt(t, env, time.Minute, SettingsPatch{OfflineAfter: intp(3)})
	var off State
	updateAt(t, env, 370*time.Second, SettingsPatch{EventsEnabled: boolp(false)})
	env.RegisterDelayedCallback(func() { off = queryState(t, env) }, 380*time.Second)
	cancelAt(env, 400*time.Second)
	env.ExecuteWorkflow(WorkflowName, input(eventSettings(EventModeStream)))
	requireCanceled(t, env)

	require.Equal(t, "environment 0b7f6c1e-env not found", failed.EventsError)
	require.Equal(t, t0.Add(StreamRestartDelay), failed.EventsRestartAt)
	require.Contains(t, failed.DetailsMarkdown(), "**Events error** environment 0b7f6c1e-env not found")

	var starts []time.Duration
	for _, s := range f.streamCalls() {
		require.EqualValues(t, 1, s.Attempt, "not retried by the policy")
		starts = append(starts, s.At)
	}
	// At start; at the settings change (60 s); 5 min after that failure.
	require.Equal(t, seconds(0, 60, 360), starts)
	// Events off: the error and the pending restart are gone with the stream.
	require.Empty(t, off.EventsError)
	require.True(t, off.EventsRestartAt.IsZero())
}

func TestStreamToPollToStream(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	updateAt(t, env, time.Second, SettingsPatch{EventMode: modep(EventModePoll), PollIntervalSeconds: intp(30)})
	var polling State
	env.RegisterDelayedCallback(func() { polling = queryState(t, env) }, 35*time.Second)
	updateAt(t, env, 40*time.Second, SettingsPatch{EventMode: modep(EventModeStream)})
	cancelAt(env, 41*time.Second)
	env.ExecuteWorkflow(WorkflowName, input(eventSettings(EventModeStream)))
	requireCanceled(t, env)
	f.waitStreams(t)

	streams := f.streamCalls()
	polls := f.pollCalls()
	require.Len(t, streams, 2)
	require.Len(t, polls, 2)

	// Stream → poll: the stream was stopped at 1 s and returned its cursor;
	// the first poll ran at once, from that cursor.
	require.True(t, streams[0].Stopped)
	require.Equal(t, at(time.Second), streams[0].Returned)
	require.Equal(t, time.Second, polls[0].At)
	require.Equal(t, streams[0].Returned, polls[0].In.Cursor, "the stream's cursor is handed to the poll")
	// Polls every 30 s, each from the previous one's cursor.
	require.Equal(t, 31*time.Second, polls[1].At)
	require.Equal(t, polls[0].Returned, polls[1].In.Cursor)
	require.Equal(t, polls[1].Returned, polling.EventCursor)
	require.Equal(t, t0.Add(61*time.Second), polling.NextPollAt)

	// Poll → stream: the stream starts from the last poll's cursor.
	require.Equal(t, 40*time.Second, streams[1].At)
	require.Equal(t, polls[1].Returned, streams[1].In.Cursor, "the poll's cursor is handed to the stream")
	require.True(t, streams[1].Stopped, "stopped when the workflow was cancelled")

	s := queryState(t, env)
	require.Equal(t, EventModeStream, s.Settings.EventMode)
	require.True(t, s.NextPollAt.IsZero())
	require.Equal(t, seconds(0, 30), f.collectTimes(), "the checks kept their own cadence")
}

func TestPollWaitsBeforeStream(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	// Each poll takes 20 s; the switch to the stream at 10 s waits for it.
	env.OnActivity(ActivityPollEvents, mock.Anything, mock.Anything).After(20 * time.Second).Return(f.pollEvents)
	updateAt(t, env, 10*time.Second, SettingsPatch{EventMode: modep(EventModeStream)})
	cancelAt(env, 20*time.Second+500*ms)
	env.ExecuteWorkflow(WorkflowName, input(eventSettings(EventModePoll)))
	requireCanceled(t, env)
	f.waitStreams(t)

	polls := f.pollCalls()
	require.Len(t, polls, 1)
	require.Equal(t, 20*time.Second, polls[0].At, "the poll started at 0 s and returned at 20 s")
	streams := f.streamCalls()
	require.Len(t, streams, 1)
	require.Equal(t, 20*time.Second, streams[0].At, "the stream started when the poll had finished")
	require.Equal(t, polls[0].Returned, streams[0].In.Cursor)
}

func TestPollCadenceAndIntervalChange(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	var rearmed State
	updateAt(t, env, 130*time.Second, SettingsPatch{PollIntervalSeconds: intp(30)})
	env.RegisterDelayedCallback(func() { rearmed = queryState(t, env) }, 131*time.Second)
	cancelAt(env, 230*time.Second)
	s := eventSettings(EventModePoll)
	s.MetricsInterval = 45 * time.Second
	env.ExecuteWorkflow(WorkflowName, input(s))
	requireCanceled(t, env)

	polls := f.pollCalls()
	var times []time.Duration
	for i, p := range polls {
		times = append(times, p.At)
		if i == 0 {
			require.Zero(t, p.In.Cursor, "the first read ever: the activity looks 30 s back")
		} else {
			require.Equal(t, polls[i-1].Returned, p.In.Cursor, "poll %d starts where poll %d ended", i, i-1)
		}
	}
	// Every 60 s from the start; the new 30 s interval counts from the
	// update at 130 s: 160 s, not 150 s or 180 s.
	require.Equal(t, seconds(0, 60, 120, 160, 190, 220), times)
	require.Equal(t, t0.Add(160*time.Second), rearmed.NextPollAt)
	require.Contains(t, rearmed.DetailsMarkdown(), "**Events** poll every 30s")
	// Polls and checks are independent.
	require.Equal(t, seconds(0, 45, 90, 135, 180, 225), f.collectTimes())
	require.Empty(t, f.streamCalls())
}

func TestEventsOffAndPauseStopTheStream(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	var off, paused State
	updateAt(t, env, 200*ms, SettingsPatch{EventsEnabled: boolp(false)})
	env.RegisterDelayedCallback(func() { off = queryState(t, env) }, 300*ms)
	updateAt(t, env, 400*ms, SettingsPatch{EventsEnabled: boolp(true)})
	updateAt(t, env, 600*ms, SettingsPatch{Paused: boolp(true)})
	env.RegisterDelayedCallback(func() { paused = queryState(t, env) }, 700*ms)
	updateAt(t, env, 800*ms, SettingsPatch{Paused: boolp(false)})
	cancelAt(env, 900*ms)
	env.ExecuteWorkflow(WorkflowName, input(eventSettings(EventModeStream)))
	requireCanceled(t, env)
	f.waitStreams(t)

	streams := f.streamCalls()
	require.Len(t, streams, 3)
	// Events off at 200 ms stopped the first stream; back on at 400 ms.
	require.True(t, streams[0].Stopped)
	require.Equal(t, at(200*ms), streams[0].Returned)
	require.Equal(t, 400*ms, streams[1].At)
	require.Equal(t, streams[0].Returned, streams[1].In.Cursor)
	// Pause at 600 ms stopped the second; resumed at 800 ms.
	require.True(t, streams[1].Stopped)
	require.Equal(t, at(600*ms), streams[1].Returned)
	require.Equal(t, 800*ms, streams[2].At)
	require.Equal(t, streams[1].Returned, streams[2].In.Cursor)
	require.True(t, streams[2].Stopped, "stopped when the workflow was cancelled")
	require.Empty(t, f.pollCalls())

	require.Equal(t, at(200*ms), off.EventCursor)
	require.Contains(t, off.DetailsMarkdown(), "**Events** off")
	require.Contains(t, paused.DetailsMarkdown(), "**Events** stream · paused")
}

func TestMetricsWhileStreaming(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	// A stream that runs for an hour of workflow time, then ends.
	env.OnActivity(ActivityStreamEvents, mock.Anything, mock.Anything).After(time.Hour).
		Return(StreamProgress{Cursor: at(time.Hour), Stored: 1234}, nil).Once()
	cancelAt(env, time.Hour+time.Second)
	env.ExecuteWorkflow(WorkflowName, input(eventSettings(EventModeStream)))
	requireCanceled(t, env)

	got := f.collectTimes()
	require.Len(t, got, 121)
	for i, d := range got {
		require.Equal(t, time.Duration(i)*30*time.Second, d, "check %d on schedule", i)
	}
	s := queryState(t, env)
	require.Equal(t, at(time.Hour), s.EventCursor)
	require.Equal(t, t0.Add(time.Hour+StreamRetryInitialInterval), s.EventsRestartAt,
		"a stream that ends by itself restarts after a pause")
	env.AssertExpectations(t)
}

func TestPollCadenceCarriedAcrossContinueAsNew(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	prev := State{
		EnvironmentID: "0b7f6c1e-env",
		Name:          "local",
		Settings:      eventSettings(EventModePoll),
		Status:        StatusOnline,
		NextCycleAt:   t0.Add(20 * time.Second),
		EventCursor:   at(-40 * time.Second),
		NextPollAt:    t0.Add(20 * time.Second),
	}
	cancelAt(env, 90*time.Second)
	env.ExecuteWorkflow(WorkflowName, Input{EnvironmentID: prev.EnvironmentID, Name: prev.Name, Settings: prev.Settings, State: &prev})
	requireCanceled(t, env)

	polls := f.pollCalls()
	require.Len(t, polls, 2)
	require.Equal(t, 20*time.Second, polls[0].At, "no extra poll at start")
	require.Equal(t, at(-40*time.Second), polls[0].In.Cursor)
	require.Equal(t, 80*time.Second, polls[1].At)
}

func TestPreEventsInputCollectsNoEvents(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	cancelAt(env, 95*time.Second)
	// An input without event fields.
	env.ExecuteWorkflow(WorkflowName, input(Settings{MetricsInterval: 30 * time.Second, CollectMetrics: true, OfflineAfter: 2}))
	requireCanceled(t, env)

	require.Empty(t, f.streamCalls())
	require.Empty(t, f.pollCalls())
	require.Equal(t, seconds(0, 30, 60, 90), f.collectTimes(), "the metrics settings were kept")
	s := queryState(t, env)
	require.False(t, s.Settings.EventsEnabled)
	require.Equal(t, EventModeStream, s.Settings.EventMode)
	require.Equal(t, DefaultPollInterval, s.Settings.PollInterval)
}

func TestEventSettingsRejected(t *testing.T) {
	for name, tc := range map[string]struct {
		patch SettingsPatch
		msg   string
	}{
		"poll interval too short": {
			patch: SettingsPatch{PollIntervalSeconds: intp(10)},
			msg:   "invalid settings: pollInterval must be between 30s and 5m0s, got 10s",
		},
		"unknown mode": {
			patch: SettingsPatch{EventMode: modep("push")},
			msg:   `invalid settings: eventMode must be "stream" or "poll", got "push"`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := &fakeEngine{}
			env := newEnv(t, f)
			out := updateAt(t, env, 10*time.Second, tc.patch)
			cancelAt(env, 100*time.Second)
			env.ExecuteWorkflow(WorkflowName, input(eventSettings(EventModePoll)))
			requireCanceled(t, env)

			require.False(t, out.accepted)
			var appErr *temporal.ApplicationError
			require.True(t, errors.As(out.rejected, &appErr), "got %v", out.rejected)
			require.Equal(t, ErrTypeInvalidSettings, appErr.Type())
			require.Equal(t, tc.msg, appErr.Message())
			var times []time.Duration
			for _, p := range f.pollCalls() {
				times = append(times, p.At)
			}
			require.Equal(t, seconds(0, 60), times, "the poll timer was not touched")
		})
	}
}

func TestEventsDetailsMarkdown(t *testing.T) {
	s := State{
		EnvironmentID: "0b7f6c1e-env",
		Settings:      eventSettings(EventModePoll),
		Status:        StatusOnline,
		EventCursor:   t0.Add(1500 * ms).UnixNano(),
		NextPollAt:    t0.Add(time.Minute),
	}
	require.Contains(t, s.DetailsMarkdown(),
		"**Events** poll every 1m · read up to 2036-01-05 09:00:01.500 UTC · next poll 2036-01-05 09:01:00 UTC\n")

	s = State{Settings: eventSettings(EventModeStream), EventsError: "environment not found", EventsRestartAt: t0.Add(5 * time.Minute)}
	md := s.DetailsMarkdown()
	require.Contains(t, md, "**Events** stream · nothing read yet\n")
	require.Contains(t, md, "**Events error** environment not found\n")
	require.Contains(t, md, "**Event stream restarts** 2036-01-05 09:05:00 UTC (or at the next settings change)\n")

	require.Contains(t, State{Settings: settings(time.Minute)}.DetailsMarkdown(), "**Events** off · nothing read yet\n")
	require.Equal(t, "poll events every 45s", pollTimerSummary(Settings{PollInterval: 45 * time.Second}))
}

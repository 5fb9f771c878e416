package workflows

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// fakeOutbox stands in for the notification activities.
type fakeOutbox struct {
	mu  sync.Mutex
	now func() time.Time
	// deliverResult decides the outcome of a DeliverNotification attempt.
	deliverResult func(attempt int32) error
	// markResult decides the outcome of a MarkNotificationFailed attempt.
	markResult func(attempt int32) error
	attempts   []int32
	attemptAt  []time.Duration
	delivered  []DeliverNotificationInput
	marked     []MarkNotificationFailedInput
	markTries  int
	// dispatchResult decides the outcome of a DispatchNotifications attempt.
	dispatchResult func(n int) (DispatchResult, error)
	dispatches     []time.Duration
}

func (f *fakeOutbox) deliver(ctx context.Context, in DeliverNotificationInput) error {
	attempt := activity.GetInfo(ctx).Attempt
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts = append(f.attempts, attempt)
	f.attemptAt = append(f.attemptAt, f.now().Sub(t0))
	if f.deliverResult != nil {
		if err := f.deliverResult(attempt); err != nil {
			return err
		}
	}
	f.delivered = append(f.delivered, in)
	return nil
}

func (f *fakeOutbox) markFailed(ctx context.Context, in MarkNotificationFailedInput) error {
	attempt := activity.GetInfo(ctx).Attempt
	f.mu.Lock()
	defer f.mu.Unlock()
	f.markTries++
	if f.markResult != nil {
		if err := f.markResult(attempt); err != nil {
			return err
		}
	}
	f.marked = append(f.marked, in)
	return nil
}

func (f *fakeOutbox) dispatch(context.Context) (DispatchResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dispatches = append(f.dispatches, f.now().Sub(t0))
	if f.dispatchResult != nil {
		return f.dispatchResult(len(f.dispatches))
	}
	return DispatchResult{Started: 2, Pending: 1}, nil
}

func (f *fakeOutbox) snapshot() fakeOutbox {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fakeOutbox{
		attempts:   append([]int32(nil), f.attempts...),
		attemptAt:  append([]time.Duration(nil), f.attemptAt...),
		delivered:  append([]DeliverNotificationInput(nil), f.delivered...),
		marked:     append([]MarkNotificationFailedInput(nil), f.marked...),
		markTries:  f.markTries,
		dispatches: append([]time.Duration(nil), f.dispatches...),
	}
}

// newOutboxEnv returns a test environment with both notification workflows
// and the fake activities registered by name, as the worker registers them.
func newOutboxEnv(f *fakeOutbox) *testsuite.TestWorkflowEnvironment {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	f.now = env.Now
	env.RegisterWorkflowWithOptions(NotificationDeliveryWorkflow, workflow.RegisterOptions{Name: NotificationDeliveryWorkflowName})
	env.RegisterWorkflowWithOptions(NotificationDispatcherWorkflow, workflow.RegisterOptions{Name: NotificationDispatcherWorkflowName})
	env.RegisterActivityWithOptions(f.deliver, activity.RegisterOptions{Name: ActivityDeliverNotification})
	env.RegisterActivityWithOptions(f.markFailed, activity.RegisterOptions{Name: ActivityMarkNotificationFailed})
	env.RegisterActivityWithOptions(f.dispatch, activity.RegisterOptions{Name: ActivityDispatchNotifications})
	return env
}

// errSend is what a failed send looks like: a redacted message.
var errSend = errors.New(`generic://127.0.0.1:8080/***: got HTTP 503 Service Unavailable`)

func TestDeliveryFirstAttempt(t *testing.T) {
	f := &fakeOutbox{}
	env := newOutboxEnv(f)
	env.ExecuteWorkflow(NotificationDeliveryWorkflowName, DeliverNotificationInput{NotificationID: 42})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())

	got := f.snapshot()
	require.Equal(t, []int32{1}, got.attempts)
	require.Equal(t, []DeliverNotificationInput{{NotificationID: 42}}, got.delivered)
	require.Zero(t, got.markTries)
}

func TestDeliveryRetried(t *testing.T) {
	f := &fakeOutbox{deliverResult: func(attempt int32) error {
		if attempt <= 2 {
			return errSend
		}
		return nil
	}}
	env := newOutboxEnv(f)
	env.ExecuteWorkflow(NotificationDeliveryWorkflowName, DeliverNotificationInput{NotificationID: 42})
	require.NoError(t, env.GetWorkflowError())

	got := f.snapshot()
	require.Equal(t, []int32{1, 2, 3}, got.attempts)
	require.Equal(t, seconds(0, 5, 15), got.attemptAt, "backoff 5 s, then 10 s")
	require.Len(t, got.delivered, 1)
	require.Zero(t, got.markTries)
}

func TestDeliveryGivesUp(t *testing.T) {
	f := &fakeOutbox{
		deliverResult: func(int32) error { return errSend },
		// The database blips once while recording the failure.
		markResult: func(attempt int32) error {
			if attempt == 1 {
				return errors.New("connection reset")
			}
			return nil
		},
	}
	env := newOutboxEnv(f)
	env.ExecuteWorkflow(NotificationDeliveryWorkflowName, DeliverNotificationInput{NotificationID: 42})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError(), "a failed delivery is recorded, not a workflow failure")

	got := f.snapshot()
	require.Equal(t, []int32{1, 2, 3, 4, 5, 6, 7, 8}, got.attempts)
	// 5, 10, 20, 40, 80, 160 s, then capped at 5 min.
	require.Equal(t, seconds(0, 5, 15, 35, 75, 155, 315, 615), got.attemptAt)
	require.Empty(t, got.delivered)
	require.Equal(t, []MarkNotificationFailedInput{{NotificationID: 42, Error: errSend.Error()}}, got.marked,
		"marked failed once, with the last error")
	require.Equal(t, 2, got.markTries, "the mark itself is retried")
}

func TestDeliveryNonRetryable(t *testing.T) {
	f := &fakeOutbox{deliverResult: func(int32) error {
		return temporal.NewNonRetryableApplicationError("channel deleted", "ChannelGone", nil)
	}}
	env := newOutboxEnv(f)
	env.ExecuteWorkflow(NotificationDeliveryWorkflowName, DeliverNotificationInput{NotificationID: 7})
	require.NoError(t, env.GetWorkflowError())

	got := f.snapshot()
	require.Equal(t, []int32{1}, got.attempts, "not retried")
	require.Equal(t, []MarkNotificationFailedInput{{NotificationID: 7, Error: "channel deleted"}}, got.marked)
}

func TestDeliveryCancelled(t *testing.T) {
	f := &fakeOutbox{deliverResult: func(int32) error { return errSend }}
	env := newOutboxEnv(f)
	env.RegisterDelayedCallback(env.CancelWorkflow, 20*time.Second)
	env.ExecuteWorkflow(NotificationDeliveryWorkflowName, DeliverNotificationInput{NotificationID: 7})
	var canceled *temporal.CanceledError
	require.True(t, errors.As(env.GetWorkflowError(), &canceled), "got %v", env.GetWorkflowError())
	require.Zero(t, f.snapshot().markTries, "a cancelled delivery is not marked failed")
}

func TestDispatcherEvery30Seconds(t *testing.T) {
	f := &fakeOutbox{dispatchResult: func(n int) (DispatchResult, error) {
		// Calls 3, 4, 5: the three attempts of the third sweep.
		if n >= 3 && n <= 5 {
			return DispatchResult{}, errors.New("database unavailable")
		}
		return DispatchResult{Started: 1, Pending: 10 - n}, nil
	}}
	env := newOutboxEnv(f)
	var mid DispatcherState
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(QueryState)
		require.NoError(t, err)
		require.NoError(t, v.Get(&mid))
	}, 75*time.Second)
	env.RegisterDelayedCallback(env.CancelWorkflow, 125*time.Second)
	env.ExecuteWorkflow(NotificationDispatcherWorkflowName, DispatcherState{})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError(), "cancellation stops the dispatcher cleanly")

	got := f.snapshot()
	// The first sweep at once, then every 30 s; the third failed all three
	// attempts (1 s, 2 s apart), which does not shift the cadence.
	require.Equal(t, seconds(0, 30, 60, 61, 63, 90, 120), got.dispatches)
	require.EqualValues(t, 3, mid.Iterations)
	require.EqualValues(t, 2, mid.Started)
	require.Equal(t, 8, mid.LastPending)
	require.EqualValues(t, 1, mid.Failures)
	require.Equal(t, "database unavailable", mid.LastError)
	require.Equal(t, t0.Add(90*time.Second), mid.NextRunAt)
}

func TestDispatcherContinuesAsNew(t *testing.T) {
	f := &fakeOutbox{}
	env := newOutboxEnv(f)
	env.ExecuteWorkflow(NotificationDispatcherWorkflowName, DispatcherState{})
	require.True(t, env.IsWorkflowCompleted())

	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "got %v", env.GetWorkflowError())
	require.Equal(t, NotificationDispatcherWorkflowName, can.WorkflowType.Name)
	var next DispatcherState
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))

	got := f.snapshot()
	require.Len(t, got.dispatches, MaxDispatchesPerRun)
	require.Equal(t, time.Duration(MaxDispatchesPerRun-1)*DispatchInterval, got.dispatches[MaxDispatchesPerRun-1])
	require.EqualValues(t, MaxDispatchesPerRun, next.Iterations)
	require.EqualValues(t, 2*MaxDispatchesPerRun, next.Started)
	require.Equal(t, t0.Add(time.Duration(MaxDispatchesPerRun)*DispatchInterval), next.NextRunAt, "the cadence continues")

	// The next run sweeps at the carried time, not at once.
	f2 := &fakeOutbox{}
	env2 := newOutboxEnv(f2)
	env2.SetStartTime(t0.Add(time.Duration(MaxDispatchesPerRun-1)*DispatchInterval + time.Second))
	env2.RegisterDelayedCallback(env2.CancelWorkflow, 65*time.Second)
	env2.ExecuteWorkflow(NotificationDispatcherWorkflowName, next)
	require.NoError(t, env2.GetWorkflowError())
	require.Equal(t, []time.Duration{3000 * time.Second, 3030 * time.Second}, f2.snapshot().dispatches)
}

func TestDispatcherContinueAsNewSuggested(t *testing.T) {
	f := &fakeOutbox{}
	env := newOutboxEnv(f)
	env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, 45*time.Second)
	env.ExecuteWorkflow(NotificationDispatcherWorkflowName, DispatcherState{Iterations: 1000, Started: 5})

	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "got %v", env.GetWorkflowError())
	var next DispatcherState
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Equal(t, seconds(0, 30, 60), f.snapshot().dispatches, "the sweep due at 60 s ran before it continued as new")
	require.EqualValues(t, 1003, next.Iterations, "counted across runs")
	require.EqualValues(t, 11, next.Started)
}

func TestDispatcherDetailsMarkdown(t *testing.T) {
	md := DispatcherState{Iterations: 3, Started: 5, Failures: 1, LastPending: 2, LastError: "database unavailable",
		LastRunAt: t0, NextRunAt: t0.Add(30 * time.Second)}.DetailsMarkdown()
	for _, want := range []string{
		"**Notification dispatcher** sweeps every 30s\n",
		"**Last sweep** 2036-01-05 09:00:00 UTC\n",
		"**Totals** 3 sweeps · 5 deliveries started · 1 failed sweeps · 2 pending at the last sweep\n",
		"**Last error** database unavailable\n",
		"**Next sweep** 2036-01-05 09:00:30 UTC\n",
	} {
		require.Contains(t, md, want)
	}
	require.Equal(t, "notification/6f1c/42", NotificationWorkflowID("6f1c", 42))
}

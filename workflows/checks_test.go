package workflows

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

func TestDiskChecksRideOnCycles(t *testing.T) {
	f := &fakeEngine{}
	f.diskResult = alwaysFull
	env := newEnv(t, f)
	cancelAt(env, 16*time.Minute+30*time.Second)
	s := diskSettings(5*time.Minute, time.Hour)
	s.MetricsInterval = time.Minute
	env.ExecuteWorkflow(WorkflowName, input(s))
	requireCanceled(t, env)

	// The first check with the first cycle, then with the first cycle at or
	// after each due time: no timer of its own.
	require.Equal(t, minutes(0, 5, 10, 15), f.diskCheckTimes())
	require.Equal(t, []time.Duration{0}, f.warningTimes(), "one warning per cooldown")
	st := queryState(t, env)
	require.Equal(t, t0.Add(20*time.Minute), st.NextDiskAt)
	require.Nil(t, st.PendingDiskWarning, "recorded")
	require.Equal(t, t0, st.LastDiskWarningAt)
}

func TestDiskIntervalRoundedUpToCycles(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	cancelAt(env, 6*time.Minute+30*time.Second)
	s := diskSettings(time.Minute, time.Hour)
	s.DiskInterval = 90 * time.Second
	s.MetricsInterval = time.Minute
	env.ExecuteWorkflow(WorkflowName, input(s))
	requireCanceled(t, env)

	// Due at 1m30, 3m30+…: each waits for the next cycle.
	require.Equal(t, minutes(0, 2, 4, 6), f.diskCheckTimes())
}

func TestNoDiskCheckWhilePaused(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	updateAt(t, env, 30*time.Second, SettingsPatch{Paused: boolp(true)})
	updateAt(t, env, 20*time.Minute, SettingsPatch{Paused: boolp(false)})
	cancelAt(env, 27*time.Minute)
	s := diskSettings(5*time.Minute, time.Hour)
	s.MetricsInterval = time.Minute
	env.ExecuteWorkflow(WorkflowName, input(s))
	requireCanceled(t, env)

	// 0; nothing while paused; resumed at 20 min: the first cycle at 21 min
	// is past the resume's first-check delay, then every 5 min.
	require.Equal(t, minutes(0, 21, 26), f.diskCheckTimes())
}

func TestChecksAreLocalActivitiesOnTime(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	cancelAt(env, 95*time.Second)
	env.ExecuteWorkflow(WorkflowName, input(settings(30*time.Second)))
	requireCanceled(t, env)
	require.Equal(t, seconds(0, 30, 60, 90), f.collectTimes())
	// Each check names its schedule slot (the store's second key).
	require.Equal(t, seconds(0, 30, 60, 90), f.dueTimes())
	require.Len(t, f.statusRecords(), 1)
}

func TestContinueAsNewCarriesPendingStatus(t *testing.T) {
	// The database is down: RecordStatus fails (retryably) forever.
	f := &fakeEngine{}
	env := newEnv(t, f)
	env.OnActivity(ActivityRecordStatus, mock.Anything, mock.Anything).Return(errors.New("connect: connection refused"))
	env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, time.Second)
	env.ExecuteWorkflow(WorkflowName, input(settings(10*time.Second)))

	in := decodeContinueAsNew(t, env.GetWorkflowError())
	// The run continued as new at its next wake-up (10 s) without waiting
	// for the record, which travels in the state.
	require.Equal(t, seconds(0), f.collectTimes())
	require.Equal(t, []RecordStatusInput{
		{EnvironmentID: "0b7f6c1e-env", Online: true, ChangedAt: t0, Previous: StatusUnknown},
	}, in.State.PendingStatus)
	require.Equal(t, t0.Add(10*time.Second), in.State.NextCycleAt)

	// The next run records it (the database is back) and does not repeat
	// the transition.
	f2 := &fakeEngine{}
	env2 := newEnv(t, f2)
	env2.SetStartTime(t0.Add(10 * time.Second))
	cancelAt(env2, 25*time.Second)
	env2.ExecuteWorkflow(WorkflowName, in)
	requireCanceled(t, env2)
	require.Equal(t, in.State.PendingStatus, f2.statusRecords())
	require.Empty(t, queryState(t, env2).PendingStatus)
	require.Equal(t, seconds(10, 20, 30), f2.collectTimes())
}

func TestContinueAsNewCarriesPendingDiskWarning(t *testing.T) {
	f := &fakeEngine{}
	f.diskResult = alwaysFull
	env := newEnv(t, f)
	env.OnActivity(ActivityRecordDiskWarning, mock.Anything, mock.Anything).Return(errors.New("connect: connection refused"))
	env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, 5*time.Second)
	s := diskSettings(5*time.Minute, time.Hour)
	s.MetricsInterval = 10 * time.Second
	env.ExecuteWorkflow(WorkflowName, input(s))

	in := decodeContinueAsNew(t, env.GetWorkflowError())
	require.Equal(t, seconds(0), f.diskCheckTimes())
	require.NotNil(t, in.State.PendingDiskWarning)
	require.Equal(t, t0, in.State.PendingDiskWarning.CheckAt)
	require.Equal(t, "92.0 % of 100.0 GB > 80 %", in.State.PendingDiskWarning.Reason)
	require.Equal(t, t0, in.State.LastDiskWarningAt, "the cooldown counts from the decision")

	f2 := &fakeEngine{}
	f2.diskResult = alwaysFull
	env2 := newEnv(t, f2)
	env2.SetStartTime(t0.Add(10 * time.Second))
	cancelAt(env2, 10*time.Minute)
	env2.ExecuteWorkflow(WorkflowName, in)
	requireCanceled(t, env2)
	require.Equal(t, []time.Duration{0}, f2.warningTimes(), "recorded by the next run, once; no new warning within the cooldown")
	require.Equal(t, []time.Duration{5 * time.Minute, 10 * time.Minute}, f2.diskCheckTimes(), "the cadence carried")
}

func TestContinueAsNewAbandonsRunningDiskCheck(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	env.OnActivity(ActivityCheckDisk, mock.Anything, mock.Anything).After(25 * time.Second).Return(f.checkDisk)
	env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, 5*time.Second)
	s := diskSettings(5*time.Minute, time.Hour)
	s.MetricsInterval = 10 * time.Second
	env.ExecuteWorkflow(WorkflowName, input(s))

	in := decodeContinueAsNew(t, env.GetWorkflowError())
	require.Equal(t, seconds(0), f.collectTimes(), "continued as new at 10 s, the disk check still running")
	require.True(t, in.State.NextDiskAt.IsZero(), "the abandoned check runs in the first cycle of the next run")
}

func TestContinueAsNewDoesNotWaitForTheStream(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	env.RegisterDelayedCallback(func() {
		env.SetContinueAsNewSuggested(true)
		env.SignalWorkflow(SignalConfigure, SettingsPatch{OfflineAfter: intp(3)}) // wakes the loop
	}, 500*ms)
	prev := State{EnvironmentID: "0b7f6c1e-env", Settings: eventSettings(EventModeStream), Status: StatusOnline,
		NextCycleAt: t0.Add(time.Minute), EventCursor: at(-time.Minute)}
	env.ExecuteWorkflow(WorkflowName, Input{EnvironmentID: prev.EnvironmentID, Settings: prev.Settings, State: &prev})

	in := decodeContinueAsNew(t, env.GetWorkflowError())
	streams := f.streamCalls()
	require.Len(t, streams, 1)
	require.Equal(t, StreamsTaskQueue("default-test-taskqueue"), streams[0].TaskQueue, "streams run on their own task queue")
	// The run did not wait for the stream's result: it carries the cursor
	// it had; the next stream resumes from the newest of it and the cursor
	// stored with the events.
	require.Equal(t, at(-time.Minute), in.State.EventCursor)
	require.Equal(t, 3, in.State.Settings.OfflineAfter)
}

// TestHistoryEventsPerCycle counts, in a recorded history, the events of
// each steady cycle: from a metrics timer's TimerStarted to the next one, in
// spans where nothing else happened (no disk check, status record, update or
// signal). The budget is 8.
func TestHistoryEventsPerCycle(t *testing.T) {
	hist, err := client.HistoryFromJSON(mustOpen(t, "testdata/environment_history_continue.json"), client.HistoryJSONOptions{})
	require.NoError(t, err)
	var starts []int // indexes of the metrics TimerStarted events
	events := hist.GetEvents()
	for i, e := range events {
		if e.GetTimerStartedEventAttributes() != nil &&
			strings.Contains(string(e.GetUserMetadata().GetSummary().GetData()), "metrics every") {
			starts = append(starts, i)
		}
	}
	require.GreaterOrEqual(t, len(starts), 8, "the recorded history has steady cycles")
	steady := 0
	for k := 1; k < len(starts); k++ {
		span := events[starts[k-1]:starts[k]]
		plain := true
		for _, e := range span {
			switch e.GetEventType() {
			case enumspb.EVENT_TYPE_TIMER_STARTED, enumspb.EVENT_TYPE_TIMER_FIRED, enumspb.EVENT_TYPE_MARKER_RECORDED,
				enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			default:
				plain = false
			}
		}
		if !plain {
			continue
		}
		steady++
		require.LessOrEqual(t, len(span), 8, "events of the steady cycle starting at event %d", span[0].GetEventId())
		require.Equal(t, 6, len(span), "TimerStarted, TimerFired, 3 workflow-task events, 1 local-activity marker")
	}
	require.GreaterOrEqual(t, steady, 3, "steady cycles found")
}

func mustOpen(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open(name)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func TestNextCycleAt(t *testing.T) {
	const interval = 30 * time.Second
	for name, tc := range map[string]struct {
		due, now time.Duration
		want     time.Duration
	}{
		"on time":                     {30 * time.Second, 30 * time.Second, 60 * time.Second},
		"late: keeps to the schedule": {30 * time.Second, 32 * time.Second, 60 * time.Second},
		"a slot missed: from now":     {30 * time.Second, 65 * time.Second, 95 * time.Second},
		"exactly one interval late":   {30 * time.Second, 60 * time.Second, 90 * time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			got := nextCycleAt(t0.Add(tc.due), t0.Add(tc.now), interval)
			require.Equal(t, t0.Add(tc.want), got)
		})
	}
	require.Equal(t, t0.Add(interval), nextCycleAt(time.Time{}, t0, interval), "no due time: from now")
}

func TestCycleSlot(t *testing.T) {
	due := time.Date(2036, 1, 1, 0, 0, 30, 0, time.UTC)
	for _, tc := range []struct {
		name string
		due  time.Time
		now  time.Time
		want time.Time
	}{
		{"on time", due, due.Add(40 * time.Millisecond), due},
		{"late, same slot", due, due.Add(29 * time.Second), due},
		{"an interval late: no slot", due, due.Add(30 * time.Second), time.Time{}},
		{"early: no slot", due, due.Add(-time.Second), time.Time{}},
		{"no due time", time.Time{}, due, time.Time{}},
	} {
		if got := cycleSlot(tc.due, tc.now, 30*time.Second); !got.Equal(tc.want) {
			t.Errorf("%s: cycleSlot = %v, want %v", tc.name, got, tc.want)
		}
	}
}

package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// t0 is the workflow start time of every test.
// It lies in the future: a local activity's deadline is computed from the
// workflow clock and checked against the real one.
var t0 = time.Date(2036, 1, 5, 9, 0, 0, 0, time.UTC)

// fakeEngine stands in for the activities, registered under their names. The
// test environment runs activities on other goroutines, hence the mutex.
type fakeEngine struct {
	mu sync.Mutex
	// failAt decides whether the check of the cycle at this workflow time fails.
	failAt func(cycleAt time.Time) bool
	// errAt, when set and not nil for the cycle, is the error of its checks
	// (CollectMetrics and CheckEngine); see faults_test.go.
	errAt func(cycleAt time.Time) error
	// collects holds the CycleAt of every CollectMetrics attempt.
	collects []time.Time
	dues     []time.Time // CollectMetricsInput.DueAt of each collect
	// checks holds the workflow time of every CheckEngine attempt.
	checks []time.Time
	// now is the test environment's clock (CheckEngineInput has no time).
	now func() time.Time
	// records holds every RecordStatus attempt; settingsRecords every
	// RecordSettings attempt.
	records         []RecordStatusInput
	settingsRecords []RecordSettingsInput

	// The event activities: see events_test.go.
	eventFakes
	// The disk activities: see disk_test.go.
	diskFakes
	// Alert rules and their records: see alerting_test.go.
	alertFakes
}

func (f *fakeEngine) recordSettings(_ context.Context, in RecordSettingsInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settingsRecords = append(f.settingsRecords, in)
	return nil
}

func (f *fakeEngine) collect(_ context.Context, in CollectMetricsInput) (MetricsSummary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.collects = append(f.collects, in.CycleAt)
	f.dues = append(f.dues, in.DueAt)
	if f.errAt != nil {
		if err := f.errAt(in.CycleAt); err != nil {
			return MetricsSummary{}, err
		}
	}
	if f.failAt != nil && f.failAt(in.CycleAt) {
		return MetricsSummary{}, errors.New("engine unreachable")
	}
	out := MetricsSummary{CollectedAt: in.CycleAt, ContainersRunning: 3, CPUPercent: 12.5, MemoryPercent: 40, Stored: true}
	f.alertInputs = append(f.alertInputs, in)
	if f.alertsAt != nil {
		out.Alerts = f.alertsAt(in.CycleAt)
	}
	return out, nil
}

func (f *fakeEngine) checkEngine(_ context.Context, _ CheckEngineInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checks = append(f.checks, f.now())
	if f.errAt != nil {
		return f.errAt(f.now())
	}
	return nil
}

func (f *fakeEngine) recordStatus(_ context.Context, in RecordStatusInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.records = append(f.records, in)
	return nil
}

func (f *fakeEngine) collectTimes() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return offsets(f.collects)
}

// dueTimes are the DueAt of the collects (zero ones skipped).
func (f *fakeEngine) dueTimes() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var set []time.Time
	for _, d := range f.dues {
		if !d.IsZero() {
			set = append(set, d)
		}
	}
	return offsets(set)
}

func (f *fakeEngine) checkTimes() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return offsets(f.checks)
}

func (f *fakeEngine) statusRecords() []RecordStatusInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]RecordStatusInput(nil), f.records...)
}

// offsets turns workflow times into durations since t0, easier to read in
// assertions.
func offsets(ts []time.Time) []time.Duration {
	out := make([]time.Duration, len(ts))
	for i, t := range ts {
		out[i] = t.Sub(t0)
	}
	return out
}

// newEnv returns a test environment with the workflow and the fake activities
// registered by name, the way the worker registers them.
func newEnv(t *testing.T, f *fakeEngine) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	return newEnvIn(t, f, &testsuite.WorkflowTestSuite{})
}

// newEnvIn is newEnv in the given suite (e.g. with a metrics handler).
func newEnvIn(t *testing.T, f *fakeEngine, suite *testsuite.WorkflowTestSuite) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	f.now = env.Now
	env.RegisterWorkflowWithOptions(EnvironmentWorkflow, workflow.RegisterOptions{Name: WorkflowName})
	env.RegisterActivityWithOptions(f.collect, activity.RegisterOptions{Name: ActivityCollectMetrics})
	env.RegisterActivityWithOptions(f.checkEngine, activity.RegisterOptions{Name: ActivityCheckEngine})
	env.RegisterActivityWithOptions(f.recordStatus, activity.RegisterOptions{Name: ActivityRecordStatus})
	env.RegisterActivityWithOptions(f.streamEvents, activity.RegisterOptions{Name: ActivityStreamEvents})
	env.RegisterActivityWithOptions(f.pollEvents, activity.RegisterOptions{Name: ActivityPollEvents})
	env.RegisterActivityWithOptions(f.checkDisk, activity.RegisterOptions{Name: ActivityCheckDisk})
	env.RegisterActivityWithOptions(f.recordDiskWarning, activity.RegisterOptions{Name: ActivityRecordDiskWarning})
	env.RegisterActivityWithOptions(f.recordAlerts, activity.RegisterOptions{Name: ActivityRecordAlertTransitions})
	env.RegisterActivityWithOptions(f.recordSettings, activity.RegisterOptions{Name: ActivityRecordSettings})
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{&waitForCancellation{f: f}}})
	t.Cleanup(func() { f.finishStreams(t) })
	return env
}

func input(s Settings) Input {
	return Input{EnvironmentID: "0b7f6c1e-env", Name: "local", Settings: s}
}

// settings returns the default settings with the given metrics interval and
// events off: the tests of the checks do not want a stream activity running
// (the test environment stops skipping time while an activity runs).
func settings(interval time.Duration) Settings {
	s := DefaultSettings()
	s.MetricsInterval = interval
	s.EventsEnabled = false
	return s
}

// cancelAt deletes the environment at the given workflow time.
func cancelAt(env *testsuite.TestWorkflowEnvironment, d time.Duration) {
	env.RegisterDelayedCallback(env.CancelWorkflow, d)
}

func queryState(t *testing.T, env *testsuite.TestWorkflowEnvironment) State {
	t.Helper()
	v, err := env.QueryWorkflow(QueryState)
	require.NoError(t, err)
	var s State
	require.NoError(t, v.Get(&s))
	return s
}

// requireCanceled checks that the workflow stopped because it was cancelled.
func requireCanceled(t *testing.T, env *testsuite.TestWorkflowEnvironment) {
	t.Helper()
	require.True(t, env.IsWorkflowCompleted())
	err := env.GetWorkflowError()
	require.Error(t, err)
	var canceled *temporal.CanceledError
	require.True(t, errors.As(err, &canceled), "want a canceled error, got %v", err)
}

// runUntilCancelled runs the environment workflow on f at a 30 s interval
// and cancels it at d.
func runUntilCancelled(t *testing.T, f *fakeEngine, d time.Duration) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	env := newEnv(t, f)
	cancelAt(env, d)
	env.ExecuteWorkflow(WorkflowName, input(settings(30*time.Second)))
	requireCanceled(t, env)
	return env
}

// update sends a configure update at the given workflow time and stores its
// outcome.
type updateOutcome struct {
	accepted bool
	rejected error
	result   State
	err      error
}

func updateAt(t *testing.T, env *testsuite.TestWorkflowEnvironment, d time.Duration, patch SettingsPatch) *updateOutcome {
	t.Helper()
	out := &updateOutcome{}
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateConfigure, "update-"+d.String(), &testsuite.TestUpdateCallback{
			OnAccept: func() { out.accepted = true },
			OnReject: func(err error) { out.rejected = err },
			OnComplete: func(v any, err error) {
				out.err = err
				if s, ok := v.(State); ok {
					out.result = s
				}
			},
		}, patch)
	}, d)
	return out
}

func seconds(n ...int) []time.Duration {
	out := make([]time.Duration, len(n))
	for i, s := range n {
		out[i] = time.Duration(s) * time.Second
	}
	return out
}

func intp(v int) *int    { return &v }
func boolp(v bool) *bool { return &v }

func TestCadence(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	cancelAt(env, 10*time.Minute+15*time.Second)
	env.ExecuteWorkflow(WorkflowName, input(settings(30*time.Second)))
	requireCanceled(t, env)

	// The first check runs at once, then one every 30 s: 0 s, 30 s, … 600 s.
	got := f.collectTimes()
	require.Len(t, got, 21)
	for i, at := range got {
		require.Equal(t, time.Duration(i)*30*time.Second, at)
	}
	require.Empty(t, f.checkTimes())

	// Unknown → online on the first success, recorded once.
	require.Equal(t, []RecordStatusInput{{EnvironmentID: "0b7f6c1e-env", Online: true, ChangedAt: t0, Previous: StatusUnknown}}, f.statusRecords())

	s := queryState(t, env)
	require.Equal(t, StatusOnline, s.Status)
	require.Equal(t, t0, s.StatusSince)
	require.EqualValues(t, 21, s.Cycles)
	require.Equal(t, t0.Add(600*time.Second), s.LastCycleAt)
	require.NotNil(t, s.LastCycle)
	require.Equal(t, 3, s.LastCycle.ContainersRunning)
}

func TestStartSettings(t *testing.T) {
	// Inputs without event fields.
	preEvents := Settings{MetricsInterval: time.Minute, OfflineAfter: 4}
	preEventsNormalised := Settings{MetricsInterval: time.Minute, OfflineAfter: 4, EventMode: EventModeStream, PollInterval: DefaultPollInterval}.WithDiskDefaults()
	// Inputs without disk fields.
	preDisk := settings(time.Minute)
	preDisk.DiskInterval, preDisk.DiskTimeout, preDisk.DiskThresholdMode, preDisk.DiskThresholdPercent = 0, 0, "", 0
	preDisk.DiskThresholdBytes, preDisk.DiskCooldown = 0, 0
	badDisk := settings(time.Minute)
	badDisk.OfflineAfter = 3
	badDisk.DiskInterval, badDisk.DiskThresholdMode, badDisk.DiskCapacityBytes = time.Second, "gigs", 100
	badDiskReset := settings(time.Minute)
	badDiskReset.OfflineAfter = 3
	for name, tc := range map[string]struct {
		in   Settings
		want Settings
	}{
		"zero settings get the defaults":                                {in: Settings{}, want: DefaultSettings()},
		"invalid settings get the defaults":                             {in: Settings{MetricsInterval: time.Second, OfflineAfter: 2}, want: DefaultSettings()},
		"valid settings are kept":                                       {in: settings(time.Minute), want: settings(time.Minute)},
		"pre-events settings: events off, event defaults, metrics kept": {in: preEvents, want: preEventsNormalised},
		"invalid event settings alone are reset": {
			in:   Settings{MetricsInterval: time.Minute, OfflineAfter: 4, EventsEnabled: true, EventMode: "push", PollInterval: 10 * time.Second},
			want: Settings{MetricsInterval: time.Minute, OfflineAfter: 4, EventsEnabled: true, EventMode: EventModeStream, PollInterval: DefaultPollInterval}.WithDiskDefaults(),
		},
		"pre-disk settings get the disk defaults": {in: preDisk, want: settings(time.Minute)},
		"invalid disk settings alone are reset":   {in: badDisk, want: badDiskReset},
	} {
		t.Run(name, func(t *testing.T) {
			env := newEnv(t, &fakeEngine{})
			var s State
			// Short: a stream runs in some cases, and the test environment
			// does not skip time while an activity runs.
			env.RegisterDelayedCallback(func() { s = queryState(t, env) }, 100*time.Millisecond)
			cancelAt(env, 200*time.Millisecond)
			env.ExecuteWorkflow(WorkflowName, input(tc.in))
			requireCanceled(t, env)
			require.Equal(t, tc.want, s.Settings)
			require.Equal(t, "0b7f6c1e-env", s.EnvironmentID)
			require.Equal(t, "local", s.Name)
		})
	}
}

func TestUpdateAccepted(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	out := updateAt(t, env, 10*time.Second, SettingsPatch{OfflineAfter: intp(5), MetricsIntervalSeconds: intp(60)})
	var during State
	env.RegisterDelayedCallback(func() { during = queryState(t, env) }, 11*time.Second)
	cancelAt(env, 2*time.Minute)
	env.ExecuteWorkflow(WorkflowName, input(settings(30*time.Second)))
	requireCanceled(t, env)

	require.True(t, out.accepted)
	require.NoError(t, out.rejected)
	require.NoError(t, out.err)
	want := settings(time.Minute)
	want.OfflineAfter = 5
	require.Equal(t, want, out.result.Settings, "the update returns the new state")
	require.Equal(t, want, during.Settings, "the query shows it")
	require.Equal(t, t0.Add(70*time.Second), during.NextCycleAt, "re-armed from the update")
	// 0 s, then the new interval counted from the update (10 s): 70 s.
	require.Equal(t, seconds(0, 70), f.collectTimes())
}

func TestUpdateRejected(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	out := updateAt(t, env, 10*time.Second, SettingsPatch{MetricsIntervalSeconds: intp(5), OfflineAfter: intp(3)})
	cancelAt(env, 75*time.Second)
	env.ExecuteWorkflow(WorkflowName, input(settings(30*time.Second)))
	requireCanceled(t, env)

	require.False(t, out.accepted)
	require.Error(t, out.rejected)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(out.rejected, &appErr), "got %T", out.rejected)
	require.Equal(t, ErrTypeInvalidSettings, appErr.Type())
	require.Equal(t, "invalid settings: metricsInterval must be between 10s and 5m0s, got 5s", appErr.Message())
	s := queryState(t, env)
	require.Equal(t, settings(30*time.Second), s.Settings, "nothing changed, not even the valid field")
	// The timer was not touched.
	require.Equal(t, seconds(0, 30, 60), f.collectTimes())
}

func TestNewIntervalTakesEffectAtOnce(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	out := updateAt(t, env, 5*time.Second, SettingsPatch{MetricsIntervalSeconds: intp(10)})
	cancelAt(env, 40*time.Second)
	env.ExecuteWorkflow(WorkflowName, input(settings(5*time.Minute)))
	requireCanceled(t, env)

	require.True(t, out.accepted)
	// 0 s, then 10 s after the update (15 s), not 5 min after the start.
	require.Equal(t, seconds(0, 15, 25, 35), f.collectTimes())
}

func TestPaused(t *testing.T) {
	t.Run("started paused: no checks at all", func(t *testing.T) {
		f := &fakeEngine{}
		env := newEnv(t, f)
		s := settings(30 * time.Second)
		s.Paused = true
		cancelAt(env, 5*time.Minute)
		env.ExecuteWorkflow(WorkflowName, input(s))
		requireCanceled(t, env)

		require.Empty(t, f.collectTimes())
		require.Empty(t, f.checkTimes())
		require.Empty(t, f.statusRecords())
		st := queryState(t, env)
		require.Equal(t, StatusUnknown, st.Status)
		require.True(t, st.NextCycleAt.IsZero())
	})
	t.Run("paused and resumed", func(t *testing.T) {
		f := &fakeEngine{}
		env := newEnv(t, f)
		updateAt(t, env, 45*time.Second, SettingsPatch{Paused: boolp(true)})
		updateAt(t, env, 3*time.Minute, SettingsPatch{Paused: boolp(false)})
		cancelAt(env, 235*time.Second)
		env.ExecuteWorkflow(WorkflowName, input(settings(30*time.Second)))
		requireCanceled(t, env)

		// Nothing between 45 s and 180 s; resumed one interval after the update.
		require.Equal(t, seconds(0, 30, 210), f.collectTimes())
	})
}

func TestCollectionOff(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	s := settings(30 * time.Second)
	s.CollectMetrics = false
	cancelAt(env, 75*time.Second)
	env.ExecuteWorkflow(WorkflowName, input(s))
	requireCanceled(t, env)

	require.Empty(t, f.collectTimes())
	require.Equal(t, seconds(0, 30, 60), f.checkTimes())
	// Reachability is still tracked.
	require.Len(t, f.statusRecords(), 1)
	st := queryState(t, env)
	require.Equal(t, StatusOnline, st.Status)
	require.Nil(t, st.LastCycle, "CheckEngine has no metrics")
	require.EqualValues(t, 3, st.Cycles)
}

func TestOfflineAndOnline(t *testing.T) {
	f := &fakeEngine{failAt: func(at time.Time) bool {
		// Cycles at 30 s, 60 s and 90 s fail.
		d := at.Sub(t0)
		return d >= 30*time.Second && d <= 90*time.Second
	}}
	env := newEnv(t, f)
	var oneFailure, offline State
	env.RegisterDelayedCallback(func() { oneFailure = queryState(t, env) }, 45*time.Second)
	env.RegisterDelayedCallback(func() { offline = queryState(t, env) }, 100*time.Second)
	cancelAt(env, 165*time.Second)
	env.ExecuteWorkflow(WorkflowName, input(settings(30*time.Second))) // OfflineAfter 2
	requireCanceled(t, env)

	// Each failed cycle has two attempts (the retry 1 s later); the cadence
	// is unaffected.
	require.Equal(t, seconds(0, 30, 30, 60, 60, 90, 90, 120, 150), f.collectTimes())

	// Each transition recorded exactly once: online, offline at the second
	// failed cycle (after its retry), online again on recovery.
	require.Equal(t, []RecordStatusInput{
		{EnvironmentID: "0b7f6c1e-env", Online: true, ChangedAt: t0, Previous: StatusUnknown},
		{EnvironmentID: "0b7f6c1e-env", Online: false, Error: "engine unreachable", ChangedAt: t0.Add(61 * time.Second), Previous: StatusOnline},
		{EnvironmentID: "0b7f6c1e-env", Online: true, ChangedAt: t0.Add(120 * time.Second), Previous: StatusOffline},
	}, f.statusRecords())

	require.Equal(t, StatusOnline, oneFailure.Status, "one failed check is not enough")
	require.Equal(t, 1, oneFailure.ConsecutiveFailures)
	require.Equal(t, StatusOffline, offline.Status)
	require.Equal(t, t0.Add(61*time.Second), offline.StatusSince)
	require.Equal(t, 3, offline.ConsecutiveFailures)
	require.Equal(t, "engine unreachable", offline.LastError)
	require.Equal(t, t0, offline.LastCycle.CollectedAt, "the last successful collection")

	s := queryState(t, env)
	require.Equal(t, StatusOnline, s.Status)
	require.Equal(t, t0.Add(120*time.Second), s.StatusSince)
	require.Zero(t, s.ConsecutiveFailures)
	require.Empty(t, s.LastError)
}

func TestOfflineAfterN(t *testing.T) {
	for _, n := range []int{1, 3, 5} {
		t.Run(fmt.Sprintf("offlineAfter %d", n), func(t *testing.T) {
			// Every check from 30 s on fails: checks at 30 s, 60 s, … each
			// with a retry 1 s later.
			f := &fakeEngine{failAt: func(at time.Time) bool { return at.Sub(t0) >= 30*time.Second }}
			env := newEnv(t, f)
			s := settings(30 * time.Second)
			s.OfflineAfter = n
			var before State
			// Just before the n-th failed check ends (at n×30 s + 1 s).
			env.RegisterDelayedCallback(func() { before = queryState(t, env) }, time.Duration(n)*30*time.Second)
			cancelAt(env, 4*time.Minute)
			env.ExecuteWorkflow(WorkflowName, input(s))
			requireCanceled(t, env)

			require.Equal(t, StatusOnline, before.Status, "not offline before the %d-th failed check", n)
			require.Equal(t, n-1, before.ConsecutiveFailures)
			offlineAt := t0.Add(time.Duration(n)*30*time.Second + time.Second)
			require.Equal(t, []RecordStatusInput{
				{EnvironmentID: "0b7f6c1e-env", Online: true, ChangedAt: t0, Previous: StatusUnknown},
				{EnvironmentID: "0b7f6c1e-env", Online: false, Error: "engine unreachable", ChangedAt: offlineAt, Previous: StatusOnline},
			}, f.statusRecords(), "offline recorded once, at the %d-th failed check", n)
		})
	}
}

func TestSettingsChangeDoesNotRepeatTransition(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	updateAt(t, env, 10*time.Second, SettingsPatch{CollectMetrics: boolp(false)})
	updateAt(t, env, 50*time.Second, SettingsPatch{CollectMetrics: boolp(true), OfflineAfter: intp(1)})
	cancelAt(env, 2*time.Minute)
	env.ExecuteWorkflow(WorkflowName, input(settings(30*time.Second)))
	requireCanceled(t, env)

	require.Equal(t, seconds(0, 80, 110), f.collectTimes())
	require.Equal(t, seconds(40), f.checkTimes())
	require.Len(t, f.statusRecords(), 1, "online recorded once, never re-sent by a settings change")
}

func decodeContinueAsNew(t *testing.T, err error) Input {
	t.Helper()
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(err, &can), "want continue-as-new, got %v", err)
	require.Equal(t, WorkflowName, can.WorkflowType.Name)
	var in Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &in))
	require.NotNil(t, in.State)
	return in
}

func TestContinueAsNewCarriesState(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	// Each collection takes 5 s, so that a signal can arrive while the loop
	// is busy and is still unread when the workflow continues as new.
	env.OnActivity(ActivityCollectMetrics, mock.Anything, mock.Anything).After(5 * time.Second).Return(f.collect)
	env.RegisterDelayedCallback(func() {
		env.SetContinueAsNewSuggested(true)
		env.SignalWorkflow(SignalConfigure, SettingsPatch{OfflineAfter: intp(7)})
	}, 62*time.Second)
	env.ExecuteWorkflow(WorkflowName, input(settings(30*time.Second)))

	require.True(t, env.IsWorkflowCompleted())
	in := decodeContinueAsNew(t, env.GetWorkflowError())
	require.Equal(t, seconds(0, 30, 60), f.collectTimes())

	s := *in.State
	require.Equal(t, "0b7f6c1e-env", in.EnvironmentID)
	require.Equal(t, StatusOnline, s.Status)
	require.Equal(t, t0.Add(5*time.Second), s.StatusSince)
	require.EqualValues(t, 3, s.Cycles)
	require.Equal(t, t0.Add(60*time.Second), s.LastCycleAt)
	require.Equal(t, t0.Add(90*time.Second), s.NextCycleAt, "the cadence continues")
	require.Equal(t, 7, s.Settings.OfflineAfter, "the pending signal was drained and applied")
	require.Equal(t, s.Settings, in.Settings)
	require.Len(t, f.statusRecords(), 1)
}

func TestContinueAsNewAfterMaxCycles(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	env.ExecuteWorkflow(WorkflowName, input(settings(10*time.Second)))

	in := decodeContinueAsNew(t, env.GetWorkflowError())
	require.Len(t, f.collectTimes(), MaxCyclesPerRun)
	require.EqualValues(t, MaxCyclesPerRun, in.State.Cycles)
}

func TestResumeFromContinuedState(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	prev := State{
		EnvironmentID: "0b7f6c1e-env",
		Name:          "local",
		Settings:      settings(30 * time.Second),
		Status:        StatusOnline,
		StatusSince:   t0.Add(-time.Hour),
		LastCycleAt:   t0.Add(-10 * time.Second),
		NextCycleAt:   t0.Add(20 * time.Second),
		Cycles:        10,
	}
	cancelAt(env, time.Minute)
	env.ExecuteWorkflow(WorkflowName, Input{EnvironmentID: prev.EnvironmentID, Name: prev.Name, Settings: prev.Settings, State: &prev})
	requireCanceled(t, env)

	require.Equal(t, seconds(20, 50), f.collectTimes(), "the carried cadence, no extra check at start")
	require.Empty(t, f.statusRecords(), "online already recorded by the previous run")
	s := queryState(t, env)
	require.EqualValues(t, 12, s.Cycles)
	require.Equal(t, t0.Add(-time.Hour), s.StatusSince)
}

func TestSignal(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	var afterInvalid State
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalConfigure, SettingsPatch{MetricsIntervalSeconds: intp(5)})
	}, 10*time.Second)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalConfigure, "not a settings patch")
	}, 15*time.Second)
	env.RegisterDelayedCallback(func() { afterInvalid = queryState(t, env) }, 20*time.Second)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalConfigure, SettingsPatch{CollectMetrics: boolp(false)})
	}, 40*time.Second)
	cancelAt(env, 110*time.Second)
	env.ExecuteWorkflow(WorkflowName, input(settings(30*time.Second)))
	requireCanceled(t, env)

	require.Equal(t, settings(30*time.Second), afterInvalid.Settings, "invalid signals are ignored")
	// Collections at 0 s and 30 s: the invalid signals did not touch the
	// timer. The valid one switched to engine checks, re-armed from 40 s.
	require.Equal(t, seconds(0, 30), f.collectTimes())
	require.Equal(t, seconds(70, 100), f.checkTimes())
	s := queryState(t, env)
	require.False(t, s.Settings.CollectMetrics)
	require.Equal(t, 30*time.Second, s.Settings.MetricsInterval)
	// Only the accepted signal is stored, once.
	require.Equal(t, []RecordSettingsInput{{EnvironmentID: "0b7f6c1e-env", Patch: SettingsPatch{CollectMetrics: boolp(false)}}}, f.settingsRecords)
	require.Empty(t, s.PendingSettings)
}

func TestSignalRecordedByTheNextRun(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	env.OnActivity(ActivityRecordSettings, mock.Anything, mock.Anything).After(time.Hour).Return(f.recordSettings)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalConfigure, SettingsPatch{OfflineAfter: intp(5)})
	}, 10*time.Second)
	env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, 15*time.Second)
	env.ExecuteWorkflow(WorkflowName, input(settings(30*time.Second)))

	in := decodeContinueAsNew(t, env.GetWorkflowError())
	require.Equal(t, []SettingsPatch{{OfflineAfter: intp(5)}}, in.State.PendingSettings, "not stored yet: it travels")

	f2 := &fakeEngine{}
	env2 := newEnv(t, f2)
	env2.SetStartTime(t0.Add(30 * time.Second))
	cancelAt(env2, time.Minute)
	env2.ExecuteWorkflow(WorkflowName, in)
	requireCanceled(t, env2)
	require.Equal(t, []RecordSettingsInput{{EnvironmentID: "0b7f6c1e-env", Patch: SettingsPatch{OfflineAfter: intp(5)}}}, f2.settingsRecords)
	require.Empty(t, queryState(t, env2).PendingSettings)
}

func TestCancelDuringCheck(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	env.OnActivity(ActivityCollectMetrics, mock.Anything, mock.Anything).After(10 * time.Second).Return(f.collect)
	cancelAt(env, 35*time.Second)
	env.ExecuteWorkflow(WorkflowName, input(settings(30*time.Second)))
	requireCanceled(t, env)

	s := queryState(t, env)
	require.Zero(t, s.ConsecutiveFailures, "a cancelled check is not a failure")
	require.Equal(t, StatusOnline, s.Status)
}

func TestDetailsMarkdown(t *testing.T) {
	s := State{
		EnvironmentID: "0b7f6c1e-env",
		Name:          "local",
		Settings:      settings(5 * time.Minute),
		Status:        StatusOffline,
		StatusSince:   t0,
		LastCycleAt:   t0.Add(time.Minute),
		NextCycleAt:   t0.Add(6 * time.Minute),
		LastError:     "engine unreachable",
		LastCycle:     &MetricsSummary{ContainersRunning: 4, CPUPercent: 3.25, MemoryPercent: 51},
	}
	s.ConsecutiveFailures = 3
	md := s.DetailsMarkdown()
	for _, want := range []string{
		"**Environment** local (`0b7f6c1e-env`)",
		"**Status** offline since 2036-01-05 09:00:00 UTC",
		"**Settings** metrics every 5m · offline after 2 failed checks",
		"**Last check** 2036-01-05 09:01:00 UTC, failed (3 in a row): engine unreachable",
		"4 containers running · CPU 3.2 % · memory 51.0 %",
		"**Next check** 2036-01-05 09:06:00 UTC",
	} {
		require.Contains(t, md, want)
	}

	require.NotContains(t, md, "**Alerts**")

	s.Settings.Paused = true
	require.Contains(t, s.DetailsMarkdown(), "**Settings** paused")
	require.NotContains(t, s.DetailsMarkdown(), "Next check")

	s.Alerts = []AlertState{
		{RuleID: "0123456789ab", Phase: AlertFiring, Since: t0},
		{RuleID: "rule2", Target: "web", Phase: AlertPending, Since: t0},
	}
	s.PendingAlerts = []AlertTransition{{RuleID: "0123456789ab", Phase: AlertFiring}}
	require.Contains(t, s.DetailsMarkdown(),
		"**Alerts** 1 firing (01234567 on host since 2036-01-05 09:00:00 UTC) · 1 pending · 1 transitions not recorded yet")
}

func TestSummaries(t *testing.T) {
	require.Equal(t, "metrics every 30s", timerSummary(settings(30*time.Second)))
	require.Equal(t, "metrics every 1m30s", timerSummary(settings(90*time.Second)))
	off := settings(5 * time.Minute)
	off.CollectMetrics = false
	require.Equal(t, "engine check every 5m", timerSummary(off))
	require.Equal(t, "record status: offline", statusSummary(RecordStatusInput{}))
}

// TestReplay replays histories recorded from real runs against a dev server
// (see internal/recordhistory): any change that makes the workflow code
// non-deterministic for running workflows fails here.
func TestReplay(t *testing.T) {
	for _, file := range []string{
		// Stream → poll by update (and a rejected update), poll → stream by
		// signal, two disk warnings a cooldown apart, an alert pending,
		// firing and resolved, offline then online, checks unknown while
		// the monitor is unavailable; cancelled.
		"testdata/environment_history.json",
		// Steady cycles until the server suggests continue-as-new.
		"testdata/environment_history_continue.json",
		// The next run, from the carried state; cancelled.
		"testdata/environment_history_continued.json",
		// The environment deleted under its workflow: the stream is
		// cancelled and the workflow completes.
		"testdata/environment_history_gone.json",
		// A delivery retried twice, then delivered.
		"testdata/notification_delivery_history.json",
		// A delivery failed for good (non-retryable), marked failed.
		"testdata/notification_delivery_failed_history.json",
		// The dispatcher: two sweeps, then cancelled.
		"testdata/notification_dispatcher_history.json",
	} {
		t.Run(file, func(t *testing.T) {
			replayer := worker.NewWorkflowReplayer()
			replayer.RegisterWorkflowWithOptions(EnvironmentWorkflow, workflow.RegisterOptions{Name: WorkflowName})
			replayer.RegisterWorkflowWithOptions(NotificationDeliveryWorkflow, workflow.RegisterOptions{Name: NotificationDeliveryWorkflowName})
			replayer.RegisterWorkflowWithOptions(NotificationDispatcherWorkflow, workflow.RegisterOptions{Name: NotificationDispatcherWorkflowName})
			require.NoError(t, replayer.ReplayWorkflowHistoryFromJSONFile(nil, file))
		})
	}
}

func TestErrorText(t *testing.T) {
	err := temporal.NewApplicationError("engine unreachable", "EngineError")
	require.Equal(t, "engine unreachable", errorText(err))
	require.True(t, strings.HasPrefix(errorText(errors.New("plain")), "plain"))
}

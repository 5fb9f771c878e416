package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/windflow/monitor/internal/telemetry"
)

// The monitor's own faults: a check that fails with MonitorUnavailable is
// unknown, one that fails with EnvironmentNotFound ends the workflow.

// storeDown is the error of a check while PostgreSQL is unavailable, as the
// activities return it.
func storeDown() error {
	return temporal.NewApplicationError("monitor unavailable: load environment 0b7f6c1e-env: connection refused", ErrTypeMonitorUnavailable)
}

// between reports whether the cycle at is within [from, to] after t0.
func between(at time.Time, from, to time.Duration) bool {
	d := at.Sub(t0)
	return d >= from && d <= to
}

func TestStoreDownIsNeitherSuccessNorFailure(t *testing.T) {
	// PostgreSQL is down for the cycles at 30 s … 150 s.
	f := &fakeEngine{errAt: func(at time.Time) error {
		if between(at, 30*time.Second, 150*time.Second) {
			return storeDown()
		}
		return nil
	}}
	env := newEnv(t, f)
	var during State
	env.RegisterDelayedCallback(func() { during = queryState(t, env) }, 100*time.Second)
	cancelAt(env, 200*time.Second)
	env.ExecuteWorkflow(WorkflowName, input(settings(30*time.Second))) // OfflineAfter 2
	requireCanceled(t, env)

	// Every cycle ran on time; each unknown one had its quick retry.
	require.Equal(t, seconds(0, 30, 30, 60, 60, 90, 90, 120, 120, 150, 150, 180), f.collectTimes())
	// Five unknown cycles, OfflineAfter 2: still only the first online.
	require.Equal(t, []RecordStatusInput{
		{EnvironmentID: "0b7f6c1e-env", Online: true, ChangedAt: t0, Previous: StatusUnknown},
	}, f.statusRecords(), "no offline transition, no record, no notification")

	require.Equal(t, StatusOnline, during.Status)
	require.Zero(t, during.ConsecutiveFailures, "an unknown check is no failure")
	require.Empty(t, during.LastError)
	require.Equal(t, t0.Add(31*time.Second), during.MonitorUnavailableSince, "from the first unknown check")
	require.Contains(t, during.MonitorError, "monitor unavailable")
	require.EqualValues(t, 3, during.UnstoredCycles)
	require.Contains(t, during.DetailsMarkdown(), "unknown: the monitor itself is unavailable")

	s := queryState(t, env)
	require.Equal(t, StatusOnline, s.Status)
	require.Equal(t, t0, s.StatusSince, "online all along")
	require.True(t, s.MonitorUnavailableSince.IsZero(), "the outage ended with the next stored check")
	require.Empty(t, s.MonitorError)
	require.EqualValues(t, 5, s.UnstoredCycles, "the cycles that were not stored stay counted")
	require.EqualValues(t, 7, s.Cycles)
	require.Equal(t, t0.Add(180*time.Second), s.LastCycle.CollectedAt)
}

func TestEngineDownStillGoesOffline(t *testing.T) {
	// The engine fails at 30 s, PostgreSQL is down at 60 s, the engine
	// fails again at 90 s and 120 s, everything is back at 150 s.
	f := &fakeEngine{
		errAt: func(at time.Time) error {
			if between(at, 60*time.Second, 60*time.Second) {
				return storeDown()
			}
			return nil
		},
		failAt: func(at time.Time) bool {
			return between(at, 30*time.Second, 30*time.Second) || between(at, 90*time.Second, 120*time.Second)
		},
	}
	env := newEnv(t, f)
	cancelAt(env, 170*time.Second)
	env.ExecuteWorkflow(WorkflowName, input(settings(30*time.Second))) // OfflineAfter 2
	requireCanceled(t, env)

	// The unknown check neither reset nor extended the failures: the
	// engine's second failed check in a row (at 90 s) makes it offline.
	require.Equal(t, []RecordStatusInput{
		{EnvironmentID: "0b7f6c1e-env", Online: true, ChangedAt: t0, Previous: StatusUnknown},
		{EnvironmentID: "0b7f6c1e-env", Online: false, Error: "engine unreachable", ChangedAt: t0.Add(91 * time.Second), Previous: StatusOnline},
		{EnvironmentID: "0b7f6c1e-env", Online: true, ChangedAt: t0.Add(150 * time.Second), Previous: StatusOffline},
	}, f.statusRecords())
	s := queryState(t, env)
	require.EqualValues(t, 1, s.UnstoredCycles)
	require.True(t, s.MonitorUnavailableSince.IsZero())
}

func TestStoreDownWhileOfflineKeepsOffline(t *testing.T) {
	// The engine is down from 30 s; PostgreSQL too from 90 s to 150 s.
	f := &fakeEngine{
		errAt: func(at time.Time) error {
			if between(at, 90*time.Second, 150*time.Second) {
				return storeDown()
			}
			return nil
		},
		failAt: func(at time.Time) bool { return at.Sub(t0) >= 30*time.Second },
	}
	env := newEnv(t, f)
	cancelAt(env, 200*time.Second)
	env.ExecuteWorkflow(WorkflowName, input(settings(30*time.Second)))
	requireCanceled(t, env)

	// Offline once; the outage neither brings it back online nor
	// repeats the transition.
	records := f.statusRecords()
	require.Len(t, records, 2)
	require.False(t, records[1].Online)
	require.Equal(t, t0.Add(61*time.Second), records[1].ChangedAt)
	s := queryState(t, env)
	require.Equal(t, StatusOffline, s.Status)
	require.Equal(t, "engine unreachable", s.LastError)
	require.EqualValues(t, 3, s.UnstoredCycles)
}

func TestStoreDownWithCollectionOff(t *testing.T) {
	f := &fakeEngine{errAt: func(at time.Time) error {
		if between(at, 30*time.Second, 120*time.Second) {
			return storeDown()
		}
		return nil
	}}
	env := newEnv(t, f)
	cancelAt(env, 100*time.Second)
	s := settings(30 * time.Second)
	s.CollectMetrics = false
	env.ExecuteWorkflow(WorkflowName, input(s))
	requireCanceled(t, env)

	require.Empty(t, f.collectTimes())
	require.Len(t, f.statusRecords(), 1, "CheckEngine unknown: no offline either")
	st := queryState(t, env)
	require.EqualValues(t, 3, st.UnstoredCycles)
	require.Equal(t, StatusOnline, st.Status)
}

// gone is the error of a check once the environment's row is deleted.
func gone() error {
	return temporal.NewNonRetryableApplicationError("environment 0b7f6c1e-env does not exist", ErrTypeEnvironmentNotFound, nil)
}

func TestEnvironmentNotFoundEndsTheWorkflow(t *testing.T) {
	// Deleted between the checks at 30 s and 60 s; the engine is down
	// at 30 s, so an offline transition is being recorded meanwhile.
	f := &fakeEngine{
		errAt: func(at time.Time) error {
			if at.Sub(t0) >= 60*time.Second {
				return gone()
			}
			return nil
		},
		failAt: func(at time.Time) bool { return between(at, 30*time.Second, 30*time.Second) },
	}
	env := newEnv(t, f)
	s := settings(30 * time.Second)
	s.OfflineAfter = 1
	env.ExecuteWorkflow(WorkflowName, input(s))

	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError(), "completes, neither fails nor continues as new")
	// The not-found check is not retried, and nothing runs after it.
	require.Equal(t, seconds(0, 30, 30, 60), f.collectTimes())
	for _, r := range f.statusRecords() {
		require.Less(t, r.ChangedAt.Sub(t0), 60*time.Second, "nothing recorded for the deleted environment")
	}
}

func TestEnvironmentNotFoundStopsTheStreamAndContinueAsNew(t *testing.T) {
	saved := maxCyclesPerRun
	maxCyclesPerRun = 1 // continue-as-new is due after the first check
	t.Cleanup(func() { maxCyclesPerRun = saved })
	// Deleted before the first check; the stream starts with the run.
	f := &fakeEngine{errAt: func(time.Time) error { return gone() }}
	env := newEnv(t, f)
	env.ExecuteWorkflow(WorkflowName, input(eventSettings(EventModeStream)))

	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError(), "completes instead of continuing as new")
	f.waitStreams(t)
	streams := f.streamCalls()
	require.Len(t, streams, 1)
	require.True(t, streams[0].Stopped, "the stream was cancelled before the workflow completed")
	require.Empty(t, f.statusRecords())
}

func TestStoreDownCountsUnstoredCyclesInPrometheus(t *testing.T) {
	tel, err := telemetry.New()
	require.NoError(t, err)
	suite := &testsuite.WorkflowTestSuite{}
	suite.SetMetricsHandler(tel.TemporalMetricsHandler())
	f := &fakeEngine{errAt: func(at time.Time) error {
		if between(at, 30*time.Second, 60*time.Second) {
			return storeDown()
		}
		return nil
	}}
	env := newEnvIn(t, f, suite)
	cancelAt(env, 100*time.Second)
	env.ExecuteWorkflow(WorkflowName, input(settings(30*time.Second)))
	requireCanceled(t, env)

	families, err := tel.Registry().Gather()
	require.NoError(t, err)
	var got float64
	for _, fam := range families {
		if fam.GetName() != MetricCyclesUnstored+"_total" {
			continue
		}
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "environment" && l.GetValue() == "local" {
					got += m.GetCounter().GetValue()
				}
			}
		}
	}
	require.EqualValues(t, 2, got, "one per unknown cycle, not per attempt")
}

package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
)

// alertFakes stands in for the alert side of CollectMetrics and for
// RecordAlertTransitions (guarded by fakeEngine.mu).
type alertFakes struct {
	// alertsAt, when set, gives the rules and figures of the collection at
	// cycleAt (nil: no rule applies).
	alertsAt func(cycleAt time.Time) *AlertCycle
	// alertRecords holds every RecordAlertTransitions attempt.
	alertRecords []RecordAlertTransitionsInput
	// alertInputs holds the input of every CollectMetrics attempt.
	alertInputs []CollectMetricsInput
}

func (f *fakeEngine) recordAlerts(_ context.Context, in RecordAlertTransitionsInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alertRecords = append(f.alertRecords, in)
	return nil
}

// recordedAlerts returns every recorded transition as (phase, offset from
// t0 of At, offset of Since), in order.
func (f *fakeEngine) recordedAlerts() []AlertTransition {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []AlertTransition
	for _, r := range f.alertRecords {
		out = append(out, r.Transitions...)
	}
	return out
}

var hostCPURule = AlertRule{ID: "cpu90", Metric: AlertHostCPU, Op: AlertAbove, Threshold: 90, For: time.Minute}

// hostCPUAt serves hostCPURule with the host CPU of the cycle at each
// offset from t0 (cycles every 30 s; offsets not listed: 10 %).
func hostCPUAt(values map[time.Duration]float64) func(time.Time) *AlertCycle {
	return func(at time.Time) *AlertCycle {
		v, ok := values[at.Sub(t0)]
		if !ok {
			v = 10
		}
		return &AlertCycle{Rules: []AlertRule{hostCPURule}, Figures: CycleFigures{At: at, CPUPercent: v}}
	}
}

func firingAndResolved(t *testing.T, got []AlertTransition) (firing, resolved []AlertTransition) {
	t.Helper()
	for _, tr := range got {
		require.Equal(t, "cpu90", tr.RuleID)
		require.Equal(t, "", tr.Target)
		switch tr.Phase {
		case AlertFiring:
			firing = append(firing, tr)
		case AlertResolved:
			resolved = append(resolved, tr)
		default:
			t.Fatalf("recorded phase %q", tr.Phase)
		}
	}
	return firing, resolved
}

// A host above 90 % for a minute: pending at 30 s, firing at 90 s (one
// record), resolved at 150 s (one record); the state is empty again and
// the summary the State keeps carries no rules.
func TestWorkflowAlertFiresAndResolvesOnce(t *testing.T) {
	f := &fakeEngine{alertFakes: alertFakes{alertsAt: hostCPUAt(map[time.Duration]float64{
		30 * time.Second: 95, 60 * time.Second: 96, 90 * time.Second: 97, 120 * time.Second: 98,
	})}}
	env := newEnv(t, f)
	var mid State
	env.RegisterDelayedCallback(func() { mid = queryState(t, env) }, 100*time.Second)
	cancelAt(env, 200*time.Second)
	env.ExecuteWorkflow(WorkflowName, input(settings(30*time.Second)))
	requireCanceled(t, env)

	firing, resolved := firingAndResolved(t, f.recordedAlerts())
	require.Len(t, firing, 1)
	require.Equal(t, t0.Add(90*time.Second), firing[0].At)
	require.Equal(t, t0.Add(30*time.Second), firing[0].Since)
	require.Equal(t, 97.0, firing[0].Value)
	require.Equal(t, AlertHostCPU, firing[0].Metric)
	require.Len(t, resolved, 1)
	require.Equal(t, t0.Add(150*time.Second), resolved[0].At)
	require.Equal(t, []AlertState{{RuleID: "cpu90", Phase: AlertFiring, Since: t0.Add(90 * time.Second), Value: 97}}, mid.Alerts)
	require.Nil(t, mid.LastCycle.Alerts, "the State keeps the summary without the rules")

	s := queryState(t, env)
	require.Empty(t, s.Alerts)
	require.Empty(t, s.PendingAlerts)
	for _, r := range f.alertRecords {
		require.Equal(t, "0b7f6c1e-env", r.EnvironmentID)
	}
}

// A failed check neither fires nor resolves, and pending time carries on
// over it: pending from 30 s, the check at 60 s fails, the one at 90 s
// fires (the breach began at 30 s).
func TestWorkflowAlertSkipsFailedCycles(t *testing.T) {
	f := &fakeEngine{
		failAt: func(at time.Time) bool { return at.Sub(t0) == 60*time.Second },
		alertFakes: alertFakes{alertsAt: hostCPUAt(map[time.Duration]float64{
			30 * time.Second: 95, 60 * time.Second: 10, 90 * time.Second: 95,
		})},
	}
	runUntilCancelled(t, f, 100*time.Second)
	firing, resolved := firingAndResolved(t, f.recordedAlerts())
	require.Len(t, firing, 1)
	require.Equal(t, t0.Add(90*time.Second), firing[0].At)
	require.Equal(t, t0.Add(30*time.Second), firing[0].Since)
	require.Empty(t, resolved)
}

// Pending alerts and transitions not yet recorded (the database is down)
// travel across continue-as-new: the next run records the transition once
// and neither restarts the pending time nor fires again.
func TestWorkflowAlertsSurviveContinueAsNew(t *testing.T) {
	f := &fakeEngine{alertFakes: alertFakes{alertsAt: hostCPUAt(map[time.Duration]float64{
		0: 95, 30 * time.Second: 95, 60 * time.Second: 95, 90 * time.Second: 95, 120 * time.Second: 95,
	})}}
	env := newEnv(t, f)
	env.OnActivity(ActivityRecordAlertTransitions, mock.Anything, mock.Anything).Return(errors.New("connect: connection refused"))
	env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, 65*time.Second)
	env.ExecuteWorkflow(WorkflowName, input(settings(30*time.Second)))
	in := decodeContinueAsNew(t, env.GetWorkflowError())
	require.Equal(t, []AlertState{{RuleID: "cpu90", Phase: AlertFiring, Since: t0.Add(60 * time.Second), Value: 95}}, in.State.Alerts)
	require.Nil(t, in.State.AlertRules, "the rules come again with the next run's first collection")
	require.Empty(t, in.State.AlertRulesDigest)
	require.Len(t, in.State.PendingAlerts, 1)
	require.Equal(t, AlertFiring, in.State.PendingAlerts[0].Phase)
	require.Equal(t, t0.Add(60*time.Second), in.State.PendingAlerts[0].At)

	// The next run: the database is back.
	f2 := &fakeEngine{alertFakes: f.alertFakes}
	f2.alertRecords = nil
	env2 := newEnv(t, f2)
	env2.SetStartTime(t0.Add(90 * time.Second))
	cancelAt(env2, 45*time.Second)
	env2.ExecuteWorkflow(WorkflowName, in)
	requireCanceled(t, env2)
	firing, resolved := firingAndResolved(t, f2.recordedAlerts())
	require.Equal(t, in.State.PendingAlerts, firing, "recorded once, not fired again")
	require.Empty(t, resolved)
	s := queryState(t, env2)
	require.Empty(t, s.PendingAlerts)
	require.Equal(t, in.State.Alerts[0].Since, s.Alerts[0].Since)
}

// A pending alert survives continue-as-new with its pending time: pending
// from 0, the run continues as new at 30 s, the next run fires at 60 s.
func TestWorkflowAlertPendingTimeSurvivesContinueAsNew(t *testing.T) {
	values := map[time.Duration]float64{0: 95, 30 * time.Second: 95, 60 * time.Second: 95}
	f := &fakeEngine{alertFakes: alertFakes{alertsAt: hostCPUAt(values)}}
	env := newEnv(t, f)
	env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, 35*time.Second)
	env.ExecuteWorkflow(WorkflowName, input(settings(30*time.Second)))
	in := decodeContinueAsNew(t, env.GetWorkflowError())
	require.Equal(t, []AlertState{{RuleID: "cpu90", Phase: AlertPending, Since: t0, Seen: t0.Add(30 * time.Second), Value: 95}}, in.State.Alerts)
	require.Empty(t, f.recordedAlerts())

	f2 := &fakeEngine{alertFakes: alertFakes{alertsAt: hostCPUAt(values)}}
	env2 := newEnv(t, f2)
	env2.SetStartTime(t0.Add(60 * time.Second))
	cancelAt(env2, 5*time.Second)
	env2.ExecuteWorkflow(WorkflowName, in)
	requireCanceled(t, env2)
	firing, _ := firingAndResolved(t, f2.recordedAlerts())
	require.Len(t, firing, 1)
	require.Equal(t, t0.Add(60*time.Second), firing[0].At)
	require.Equal(t, t0, firing[0].Since)
}

// Rules all removed (the collection brings none): a firing alert resolves
// with the reason, once.
func TestWorkflowAlertRulesRemoved(t *testing.T) {
	f := &fakeEngine{}
	f.alertsAt = func(at time.Time) *AlertCycle {
		if at.Sub(t0) >= time.Minute {
			return nil
		}
		return &AlertCycle{Rules: []AlertRule{{ID: "cpu90", Metric: AlertHostCPU, Op: AlertAbove, Threshold: 5}}, Figures: CycleFigures{At: at, CPUPercent: 12.5}}
	}
	env := runUntilCancelled(t, f, 100*time.Second)
	firing, resolved := firingAndResolved(t, f.recordedAlerts())
	require.Len(t, firing, 1)
	require.Equal(t, t0, firing[0].At)
	require.Len(t, resolved, 1)
	require.Equal(t, t0.Add(time.Minute), resolved[0].At)
	require.Equal(t, "the rule was removed", resolved[0].Reason)
	require.Empty(t, queryState(t, env).Alerts)
}

// The rules come once: later cycles say they are unchanged (the digest the
// workflow sent back matched) and the workflow evaluates the rules it
// holds; the containers with an alert are named in the next cycles' input,
// so that their figures come back.
func TestWorkflowAlertRulesHeldAcrossCycles(t *testing.T) {
	rule := AlertRule{ID: "mem", Metric: AlertContainerBytes, Op: AlertAbove, Threshold: 100, For: time.Minute}
	f := &fakeEngine{}
	f.alertsAt = func(at time.Time) *AlertCycle {
		c := &AlertCycle{RulesDigest: "d1", Figures: CycleFigures{At: at, Containers: []ContainerFigures{{ID: "a", Name: "web", MemoryBytes: 200}}}}
		if f.alertInputs[len(f.alertInputs)-1].AlertRulesDigest == "d1" {
			c.RulesUnchanged = true
		} else {
			c.Rules = []AlertRule{rule}
		}
		return c
	}
	env := runUntilCancelled(t, f, 100*time.Second)

	require.Len(t, f.alertInputs, 4)
	require.Empty(t, f.alertInputs[0].AlertRulesDigest)
	require.Empty(t, f.alertInputs[0].AlertTargets)
	for _, in := range f.alertInputs[1:] {
		require.Equal(t, "d1", in.AlertRulesDigest)
		require.Equal(t, []string{"a", "web"}, in.AlertTargets, "pending, then firing: by name and ID")
	}
	recorded := f.recordedAlerts()
	require.Len(t, recorded, 1)
	require.Equal(t, AlertFiring, recorded[0].Phase)
	require.Equal(t, t0.Add(time.Minute), recorded[0].At)
	s := queryState(t, env)
	require.Equal(t, []AlertRule{rule}, s.AlertRules)
	require.Equal(t, "d1", s.AlertRulesDigest)
}

// A run started without a State asks its first collection for the alerts
// stored as firing and takes them over: one whose rule is gone resolves
// with the reason, one still breaching goes on without firing again and
// resolves when its figure recovers. Later collections do not ask again.
func TestWorkflowAdoptsStoredFiringAlerts(t *testing.T) {
	f := &fakeEngine{}
	host := hostCPUAt(map[time.Duration]float64{0: 95})
	f.alertsAt = func(at time.Time) *AlertCycle {
		c := host(at)
		if f.alertInputs[len(f.alertInputs)-1].AdoptAlerts {
			c.Adopted = true
			c.Firing = []AlertState{
				{RuleID: "cpu90", Phase: AlertFiring, Since: t0.Add(-time.Hour), Value: 97},
				{RuleID: "gone", Target: "web", Phase: AlertFiring, Since: t0.Add(-time.Hour), Value: 1},
			}
		}
		return c
	}
	env := runUntilCancelled(t, f, 45*time.Second)

	require.Len(t, f.alertInputs, 2)
	require.True(t, f.alertInputs[0].AdoptAlerts)
	require.False(t, f.alertInputs[1].AdoptAlerts)
	got := f.recordedAlerts()
	require.Len(t, got, 2)
	require.Equal(t, AlertTransition{RuleID: "gone", Target: "web", Phase: AlertResolved, At: t0, Value: 1,
		Since: t0.Add(-time.Hour), Reason: "the rule was removed"}, got[0])
	require.Equal(t, "cpu90", got[1].RuleID)
	require.Equal(t, AlertResolved, got[1].Phase)
	require.Equal(t, t0.Add(30*time.Second), got[1].At)
	require.Equal(t, t0.Add(-time.Hour), got[1].Since)
	require.False(t, queryState(t, env).AdoptAlerts)
}

package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"
)

// Alert rules in the environment workflow. Each successful collection brings
// the rules that apply and the figures they read (MetricsSummary.Alerts); the
// workflow runs EvaluateAlerts and keeps the result in State.Alerts, so
// pending time and firing alerts survive crashes and continue-as-new. A cycle
// without figures is not evaluated. Transitions are queued in
// State.PendingAlerts and recorded in order by a goroutine that runs while
// some are pending.

// Tuning of the alert recording.
const (
	// RecordAlertsTimeout is the StartToClose timeout of one attempt of
	// RecordAlertTransitions.
	RecordAlertsTimeout = 10 * time.Second
	// maxAlertsPerRecord bounds the transitions one RecordAlertTransitions
	// call records.
	maxAlertsPerRecord = 100
)

// recordAlertsActivityOptions are the options of RecordAlertTransitions:
// like a status record (recordStatusActivityOptions), it must eventually
// land.
func recordAlertsActivityOptions(summary string) workflow.ActivityOptions {
	o := recordStatusActivityOptions(summary)
	o.StartToCloseTimeout = RecordAlertsTimeout
	return o
}

// evaluateAlerts runs the alert rules on a successful collection's figures
// (cycleAt: the cycle's workflow time) and queues the transitions. It takes
// the rules and figures out of the summary, which the State keeps.
func (w *environmentWorkflow) evaluateAlerts(ctx workflow.Context, summary *MetricsSummary, cycleAt time.Time) {
	cycle := summary.Alerts
	summary.Alerts = nil
	if cycle == nil && len(w.state.Alerts) == 0 && len(w.state.AlertRules) == 0 {
		return
	}
	// No rule applies any more (all removed or disabled): what fires
	// resolves, what is pending is forgotten.
	var rules []AlertRule
	figures := CycleFigures{CPUPercent: summary.CPUPercent, MemoryPercent: summary.MemoryPercent}
	if cycle != nil {
		rules, figures = cycle.Rules, cycle.Figures
		if cycle.RulesUnchanged {
			rules = w.state.AlertRules
		}
	}
	w.state.AlertRules = rules
	w.state.AlertRulesDigest = ""
	if cycle != nil && len(rules) > 0 {
		w.state.AlertRulesDigest = cycle.RulesDigest
	}
	figures.At = cycleAt
	states, transitions := EvaluateAlerts(rules, w.state.Alerts, figures)
	if len(states) == 0 {
		states = nil
	}
	w.state.Alerts = states
	if len(transitions) == 0 {
		return
	}
	for _, t := range transitions {
		w.logger.Info("Alert "+string(t.Phase), "Rule", t.RuleID, "Target", t.Target, "Value", t.Value, "Reason", t.Reason)
	}
	w.state.PendingAlerts = append(w.state.PendingAlerts, transitions...)
	w.startAlertRecorder(ctx)
}

// alertTargets are the containers with a pending or firing alert, sorted,
// each once (CollectMetricsInput.AlertTargets).
func (w *environmentWorkflow) alertTargets() []string {
	var out []string
	for _, a := range w.state.Alerts {
		if a.Target != "" && !slices.Contains(out, a.Target) {
			out = append(out, a.Target)
		}
	}
	slices.Sort(out)
	return out
}

// startAlertRecorder starts the goroutine that records the pending alert
// transitions, unless it runs or nothing is pending.
func (w *environmentWorkflow) startAlertRecorder(ctx workflow.Context) {
	if w.alertRecorderRunning || len(w.state.PendingAlerts) == 0 {
		return
	}
	w.alertRecorderRunning = true
	workflow.Go(ctx, w.recordAlertTransitions)
}

// recordAlertTransitions records the pending transitions in order, a batch
// at a time, and returns when none is left.
func (w *environmentWorkflow) recordAlertTransitions(ctx workflow.Context) {
	defer func() { w.alertRecorderRunning = false }()
	recordInOrder(ctx, w.logger, "Alert transitions", &w.state.PendingAlerts, maxAlertsPerRecord,
		func(ctx workflow.Context, batch []AlertTransition) error {
			actx := workflow.WithActivityOptions(ctx, recordAlertsActivityOptions(alertsSummary(batch)))
			return workflow.ExecuteActivity(actx, ActivityRecordAlertTransitions, RecordAlertTransitionsInput{
				EnvironmentID: w.state.EnvironmentID,
				Transitions:   batch,
			}).Get(actx, nil)
		})
	if ctx.Err() == nil {
		w.publishDetails(ctx)
	}
}

// alertsSummary names a RecordAlertTransitions activity, e.g.
// "alert firing: 1a2b… on web" or "alerts: 2 firing, 1 resolved".
func alertsSummary(batch []AlertTransition) string {
	if len(batch) == 1 {
		t := batch[0]
		target := t.Target
		if target == "" {
			target = "host"
		}
		return fmt.Sprintf("alert %s: %s on %s", t.Phase, shortID(t.RuleID), target)
	}
	firing := 0
	for _, t := range batch {
		if t.Phase == AlertFiring {
			firing++
		}
	}
	return fmt.Sprintf("alerts: %d firing, %d resolved", firing, len(batch)-firing)
}

// shortID is the first 8 characters of an ID.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

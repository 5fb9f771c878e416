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
	if cycle != nil && cycle.Adopted {
		w.adoptAlerts(cycle.Firing)
	}
	figures.At, figures.Interval = cycleAt, w.state.Settings.MetricsInterval
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
	pending, dropped := compactPendingAlerts(append(w.state.PendingAlerts, transitions...))
	w.state.PendingAlerts = pending
	if dropped > 0 {
		// Their stored rows are read back at the next collection.
		w.state.AdoptAlerts = true
		w.logger.Warn("Alert transitions dropped: too many wait to be recorded", "Dropped", dropped)
	}
	w.startAlertRecorder(ctx)
}

// adoptAlerts takes the alerts stored as firing into the State (those it
// holds no state or unrecorded transition for), so that the evaluation
// resolves or carries on each: no firing row is left behind by a run that
// started without its State or dropped transitions.
func (w *environmentWorkflow) adoptAlerts(firing []AlertState) {
	w.state.AdoptAlerts = false
	held := make(map[[2]string]bool, len(w.state.Alerts)+len(w.state.PendingAlerts))
	for _, s := range w.state.Alerts {
		held[[2]string{s.RuleID, s.Target}] = true
	}
	for _, t := range w.state.PendingAlerts {
		held[[2]string{t.RuleID, t.Target}] = true
	}
	adopted := 0
	for _, s := range firing {
		if !held[[2]string{s.RuleID, s.Target}] {
			w.state.Alerts = append(w.state.Alerts, s)
			adopted++
		}
	}
	if adopted > 0 {
		w.logger.Info("Alerts stored as firing adopted", "Count", adopted)
	}
}

// maxPendingAlerts bounds State.PendingAlerts. Past it, beyond the batch
// being recorded, a firing and a resolution of one alert that follow each
// other are dropped together (an alert that came and went, or went and
// came back, while the database was unreachable); then the oldest go.
const maxPendingAlerts = 500

// compactPendingAlerts applies maxPendingAlerts to pending and says how
// many it dropped alone (not in pairs).
func compactPendingAlerts(pending []AlertTransition) ([]AlertTransition, int) {
	if len(pending) <= maxPendingAlerts {
		return pending, 0
	}
	head, tail := pending[:maxAlertsPerRecord], pending[maxAlertsPerRecord:]
	drop := make([]bool, len(tail))
	last := map[[2]string]int{} // rule × target → index of its last transition kept
	for i, t := range tail {
		key := [2]string{t.RuleID, t.Target}
		if j, ok := last[key]; ok && tail[j].Phase != t.Phase && t.RenamedFrom == "" && tail[j].RenamedFrom == "" {
			drop[i], drop[j] = true, true
			delete(last, key)
			continue
		}
		last[key] = i
	}
	out := append([]AlertTransition(nil), head...)
	for i, t := range tail {
		if !drop[i] {
			out = append(out, t)
		}
	}
	if over := len(out) - maxPendingAlerts; over > 0 {
		return append(out[:maxAlertsPerRecord], out[maxAlertsPerRecord+over:]...), over
	}
	return out, 0
}

// alertTargets are the containers with a pending or firing alert, by
// name and short ID, sorted, each once (CollectMetricsInput.AlertTargets).
func (w *environmentWorkflow) alertTargets() []string {
	var out []string
	for _, a := range w.state.Alerts {
		if a.Target != "" {
			out = append(out, a.Target)
		}
		if a.ContainerID != "" {
			out = append(out, a.ContainerID)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
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

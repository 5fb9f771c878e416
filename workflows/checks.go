package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Tuning of the checks.
const (
	// CheckTimeout is the ScheduleToClose timeout of a check (a local
	// activity): the wait for a local-activity slot, every attempt and the
	// retry backoff together. A check that cannot start in time fails.
	CheckTimeout = 15 * time.Second
	// CheckAttemptTimeout is the StartToClose timeout of one attempt.
	CheckAttemptTimeout = 10 * time.Second
)

// Error types of the activities' application errors that the workflow acts on.
const (
	// ErrTypeMonitorUnavailable: the monitor itself (PostgreSQL) was
	// unavailable; the check says nothing about the engine. Retryable.
	ErrTypeMonitorUnavailable = "MonitorUnavailable"
	// ErrTypeEnvironmentNotFound: the environment does not exist (any
	// more). Non-retryable.
	ErrTypeEnvironmentNotFound = "EnvironmentNotFound"
)

// MetricCyclesUnstored is the counter (workflow metrics handler, tag
// "environment") of checks whose outcome is unknown because the monitor was
// unavailable; Prometheus shows it as windflow_cycles_unstored_total.
const MetricCyclesUnstored = "windflow_cycles_unstored"

// checkLocalActivityOptions are the options of a check: a short retry,
// because the next cycle is the real retry.
func checkLocalActivityOptions(summary string) workflow.LocalActivityOptions {
	return workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: CheckTimeout,
		StartToCloseTimeout:    CheckAttemptTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumAttempts:    2,
		},
		Summary: summary,
	}
}

// runCycle runs one check and turns its outcome into the reachability state:
// a success makes the environment online, OfflineAfter failures in a row
// offline, a check the monitor could not judge (its database down) neither,
// and a check that finds the environment gone ends the workflow.
func (w *environmentWorkflow) runCycle(ctx workflow.Context) {
	w.stopTimer()
	w.timerFired = false
	now := workflow.Now(ctx)
	due := cycleSlot(w.state.NextCycleAt, now, w.state.Settings.MetricsInterval)
	w.state.NextCycleAt = nextCycleAt(w.state.NextCycleAt, now, w.state.Settings.MetricsInterval)
	w.state.LastCycleAt = now
	w.state.Cycles++
	w.runCycles++

	var (
		summary *MetricsSummary
		err     error
	)
	if w.state.Settings.CollectMetrics {
		var out MetricsSummary
		err = w.check(ctx, "collect metrics", ActivityCollectMetrics, CollectMetricsInput{
			EnvironmentID:    w.state.EnvironmentID,
			CycleAt:          now,
			DueAt:            due,
			AlertRulesDigest: w.state.AlertRulesDigest,
			AlertTargets:     w.alertTargets(),
		}, &out)
		if err == nil {
			summary = &out
		}
	} else {
		err = w.check(ctx, "check engine", ActivityCheckEngine, CheckEngineInput{
			EnvironmentID: w.state.EnvironmentID,
		}, nil)
	}
	if ctx.Err() != nil {
		return // cancelled: says nothing about the engine
	}
	switch {
	case err == nil:
		w.checkSucceeded(ctx, summary, now)
	case hasErrorType(err, ErrTypeMonitorUnavailable):
		w.checkUnknown(ctx, err)
	case hasErrorType(err, ErrTypeEnvironmentNotFound):
		w.state.LastError = errorText(err)
		w.environmentGone = true
		return // the main loop ends the workflow
	default:
		w.checkFailed(ctx, err)
	}
	slot := due
	if slot.IsZero() {
		slot = now
	}
	w.requestDiskCheck(ctx, now, slot)
	w.publishDetails(ctx)
}

// cycleSlot is the schedule slot of a check starting at now that was due at
// due: due itself when the check is that slot's (started at or after it,
// less than an interval late), else zero. A workflow task retried after its
// check stored the cycle runs the check again with the same slot, and the
// store keeps one row.
func cycleSlot(due, now time.Time, interval time.Duration) time.Time {
	if due.IsZero() || due.After(now) || now.Sub(due) >= interval {
		return time.Time{}
	}
	return due
}

// nextCycleAt is when the check after the one due at due and starting at now
// is due: due + interval, so that a late start does not shift every later
// check, unless that is not after now (a slot missed altogether), then now +
// interval.
func nextCycleAt(due, now time.Time, interval time.Duration) time.Time {
	if !due.IsZero() {
		if next := due.Add(interval); next.After(now) {
			return next
		}
	}
	return now.Add(interval)
}

// check runs one check as a local activity and decodes its result into out
// (nil: no result).
func (w *environmentWorkflow) check(ctx workflow.Context, summary, activity string, in, out any) error {
	lctx := workflow.WithLocalActivityOptions(ctx, checkLocalActivityOptions(summary))
	return workflow.ExecuteLocalActivity(lctx, activity, in).Get(lctx, out)
}

// checkSucceeded records a successful check of the cycle at cycleAt; summary
// is nil for CheckEngine. A collection's figures go through the alert rules.
func (w *environmentWorkflow) checkSucceeded(ctx workflow.Context, summary *MetricsSummary, cycleAt time.Time) {
	w.monitorAvailable()
	w.state.ConsecutiveFailures = 0
	w.state.LastError = ""
	if summary != nil {
		w.evaluateAlerts(ctx, summary, cycleAt)
		w.state.LastCycle = summary
	}
	if w.state.Status != StatusOnline {
		w.transition(ctx, StatusOnline)
	}
}

// checkFailed records a failed check; OfflineAfter of them in a row make the
// environment offline.
func (w *environmentWorkflow) checkFailed(ctx workflow.Context, err error) {
	w.monitorAvailable()
	w.state.ConsecutiveFailures++
	w.state.LastError = errorText(err)
	w.logger.Warn("Check failed", "ConsecutiveFailures", w.state.ConsecutiveFailures, "Error", w.state.LastError)
	if w.state.ConsecutiveFailures >= w.state.Settings.OfflineAfter && w.state.Status != StatusOffline {
		w.transition(ctx, StatusOffline)
	}
}

// checkUnknown records a check that could not be judged because the monitor
// itself was unavailable: no failure counted or reset, no transition.
func (w *environmentWorkflow) checkUnknown(ctx workflow.Context, err error) {
	now := workflow.Now(ctx)
	if w.state.MonitorUnavailableSince.IsZero() {
		w.state.MonitorUnavailableSince = now
	}
	w.state.MonitorError = errorText(err)
	w.state.UnstoredCycles++
	w.logger.Warn("Check skipped: the monitor itself is unavailable; the engine's status is left as it was",
		"Since", w.state.MonitorUnavailableSince, "UnstoredCycles", w.state.UnstoredCycles, "Error", w.state.MonitorError)
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"environment": w.state.Name}).
		Counter(MetricCyclesUnstored).Inc(1)
}

// monitorAvailable ends the outage shown in the state, if any: a check got
// past the store.
func (w *environmentWorkflow) monitorAvailable() {
	if w.state.MonitorUnavailableSince.IsZero() {
		return
	}
	w.logger.Info("The monitor is available again", "UnavailableSince", w.state.MonitorUnavailableSince,
		"UnstoredCycles", w.state.UnstoredCycles)
	w.state.MonitorUnavailableSince = time.Time{}
	w.state.MonitorError = ""
}

// hasErrorType reports whether err is, or wraps, an application error of
// type errType (also the plain error of a local activity, which arrives
// inside the activity-error wrapper).
func hasErrorType(err error, errType string) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == errType
}

// errorText is the readable part of an activity's error: its own message
// rather than the activity-error wrapper with event IDs.
func errorText(err error) string {
	// A local activity's plain error arrives unconverted inside the
	// activity-error wrapper: its own message is the cause's.
	var actErr *temporal.ActivityError
	if errors.As(err, &actErr) {
		if cause := errors.Unwrap(actErr); cause != nil {
			err = cause
		}
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	var timeoutErr *temporal.TimeoutError
	if errors.As(err, &timeoutErr) {
		return timeoutErr.Error()
	}
	return err.Error()
}

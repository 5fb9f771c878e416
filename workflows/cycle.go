package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// cycleActivityOptions are the options of CollectMetrics and CheckEngine: a
// short retry, because the next cycle is the real retry.
func cycleActivityOptions(summary string) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: CycleTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumAttempts:    2,
		},
		Summary: summary,
	}
}

// recordStatusActivityOptions are the options of RecordStatus: a transition
// must eventually land, so it retries without limit, backing off to a minute.
func recordStatusActivityOptions(summary string) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: RecordStatusTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    0, // unlimited
		},
		Summary: summary,
	}
}

// runCycle runs one check and turns its outcome into the reachability state.
func (w *environmentWorkflow) runCycle(ctx workflow.Context) {
	w.stopTimer()
	w.timerFired = false
	now := workflow.Now(ctx)
	due := cycleSlot(w.lean, w.state.NextCycleAt, now, w.state.Settings.MetricsInterval)
	// Fixed rate from the start of this check; a settings change during the
	// check re-arms from the moment of the change instead. The lean shape
	// keeps to its schedule: the next check is due one interval after this
	// one was due, so that a late start does not shift every later check
	// (slots missed altogether are skipped).
	w.state.NextCycleAt = nextCycleAt(w.lean, w.state.NextCycleAt, now, w.state.Settings.MetricsInterval)
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
	case hasErrorType(err, ErrTypeMonitorUnavailable) && w.handlesFaults(ctx):
		w.checkUnknown(ctx, err)
	case hasErrorType(err, ErrTypeEnvironmentNotFound) && w.handlesFaults(ctx):
		w.state.LastError = errorText(err)
		w.environmentGone = true
		return // the main loop ends the workflow
	default:
		w.checkFailed(ctx, err)
	}
	if w.lean {
		w.requestDiskCheck(ctx, now)
	}
	w.publishDetails(ctx)
}

// cycleSlot is the schedule slot of a check starting at now that was due at
// due, in the lean shape: due itself when the check is that slot's (started
// at or after it, less than an interval late), else zero (no slot). The slot
// comes from the workflow's state, so a workflow task retried after its
// check stored the cycle (a check is a local activity) runs the check again
// with the same slot, and the store keeps one row.
func cycleSlot(lean bool, due, now time.Time, interval time.Duration) time.Time {
	if !lean || due.IsZero() || due.After(now) || now.Sub(due) >= interval {
		return time.Time{}
	}
	return due
}

// nextCycleAt is when the check after the one due at due and starting at
// now is due: now + interval, or, on a schedule, due + interval unless that
// is not after now (a slot missed altogether), then now + interval.
func nextCycleAt(onSchedule bool, due, now time.Time, interval time.Duration) time.Time {
	if onSchedule && !due.IsZero() {
		if next := due.Add(interval); next.After(now) {
			return next
		}
	}
	return now.Add(interval)
}

// check runs one check activity and decodes its result into out (nil: no
// result): a local activity in the lean shape, a regular one before it.
func (w *environmentWorkflow) check(ctx workflow.Context, summary, activity string, in, out any) error {
	if w.lean {
		lctx := workflow.WithLocalActivityOptions(ctx, checkLocalActivityOptions(summary))
		return workflow.ExecuteLocalActivity(lctx, activity, in).Get(lctx, out)
	}
	actx := workflow.WithActivityOptions(ctx, cycleActivityOptions(summary))
	return workflow.ExecuteActivity(actx, activity, in).Get(actx, out)
}

// checkSucceeded records a successful check of the cycle at cycleAt;
// summary is nil for CheckEngine. A collection's figures go through the
// alert rules.
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

// transition changes the status and queues the change for recording, with
// the status it replaces. Only the checks call it: settings changes,
// restarts and continue-as-new never do, so nothing is recorded (or notified)
// twice.
func (w *environmentWorkflow) transition(ctx workflow.Context, to Status) {
	now := workflow.Now(ctx)
	from := w.state.Status
	w.logger.Info("Status changed", "From", from, "To", to)
	w.state.Status = to
	w.state.StatusSince = now
	change := RecordStatusInput{
		EnvironmentID: w.state.EnvironmentID,
		Online:        to == StatusOnline,
		ChangedAt:     now,
		// RecordStatus notifies →offline and offline→online only.
		Previous: from,
	}
	if to == StatusOffline {
		change.Error = w.state.LastError
	}
	w.pendingStatus = append(w.pendingStatus, change)
	if w.lean {
		w.startStatusRecorder(ctx)
	}
}

// recordStatusChanges runs as a workflow goroutine for the whole run: it
// records the queued transitions one at a time, in order, so that the checks
// never wait for the database and two transitions never race.
//
// In the lean shape it runs only while transitions are pending (see
// startStatusRecorder).
func (w *environmentWorkflow) recordStatusChanges(ctx workflow.Context) {
	if w.lean {
		defer func() { w.recorderRunning = false }()
	}
	for {
		if w.lean && len(w.pendingStatus) == 0 {
			return
		}
		if err := workflow.Await(ctx, func() bool { return len(w.pendingStatus) > 0 }); err != nil {
			return // cancelled
		}
		change := w.pendingStatus[0]
		actx := workflow.WithActivityOptions(ctx, recordStatusActivityOptions(statusSummary(change)))
		err := workflow.ExecuteActivity(actx, ActivityRecordStatus, change).Get(actx, nil)
		if ctx.Err() != nil {
			return // cancelled: the environment is being deleted
		}
		if err != nil {
			// Only a non-retryable error gets here; retrying cannot help.
			w.logger.Error("Status change not recorded", "Online", change.Online, "Error", err)
		}
		w.pendingStatus = w.pendingStatus[1:]
		if len(w.pendingStatus) == 0 {
			// The main loop may be waiting for this to continue as new.
			w.wake.SendAsync(struct{}{})
		}
	}
}

// errorText is the readable part of a check's error: the activity's own
// message rather than the activity-error wrapper with event IDs.
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

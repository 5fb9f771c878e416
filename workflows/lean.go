package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// The lean shape of the environment workflow (runs with the "lean-cycles"
// version): what one environment costs the Temporal server and the worker,
// cut so that one 2-core machine carries 1,000 environments (DESIGN.md,
// "Budget per environment").
//
//   - A check (CollectMetrics or CheckEngine) is a local activity: a steady
//     cycle is one timer and one workflow task, 6 history events (TimerStarted,
//     TimerFired, WorkflowTaskScheduled/Started/Completed, MarkerRecorded)
//     instead of 11, and 2 billable actions. The Web UI shows the check as a
//     "LocalActivity" marker with its summary, result or failure, instead of
//     an activity row. Its ScheduleToClose timeout (CheckTimeout) includes
//     the wait for a local-activity slot: a check that cannot start in time
//     counts as a failed check instead of waiting forever.
//   - The disk check rides on the metrics cycles: no timer of its own. When a
//     cycle finds the disk check due, a goroutine schedules CheckDisk (a
//     regular activity: /system/df can take minutes and must not hold a
//     workflow task open) in the same workflow task.
//   - Goroutines on demand: the status recorder and the disk check run only
//     while they have work, so that a workflow in the worker's cache holds
//     two goroutine stacks (the main loop, the event collection) between
//     cycles. The effective disk
//     interval is therefore rounded up to the next metrics cycle, and there
//     are no disk checks while paused (as before).
//   - The event stream runs on the streams task queue (StreamsTaskQueue), a
//     worker of its own with a large slot budget, so that 1,000 long-running
//     streams never take the slots of the other activities. It heartbeats at
//     most once a minute (the SDK's default throttle under a
//     LeanStreamHeartbeatTimeout of 2 min): a worker crash is noticed within
//     2 minutes, and a cancellation (pause, mode switch) reaches the stream
//     within a minute. The cursor lives in Postgres with the events, so the
//     rarer heartbeat loses nothing.
//   - Continue-as-new never waits for I/O: status transitions and a disk
//     warning not yet recorded travel in the State (PendingStatus,
//     PendingDiskWarning) and the next run records them (both records are
//     idempotent); a running stream, poll or disk check is abandoned (the
//     stream and the poll resume from the cursor stored with the events; an
//     abandoned disk check is run again in the first cycle of the next run).
//     So a database outage can never block continue-as-new and grow the
//     history to its hard limit.
const (
	leanChangeID = "lean-cycles"
	leanVersion  = workflow.Version(1)
)

// Tuning of the lean shape.
const (
	// CheckTimeout is the ScheduleToClose timeout of a check in the lean
	// shape: waiting for a local-activity slot, every attempt and the retry
	// backoff together.
	CheckTimeout = 15 * time.Second
	// CheckAttemptTimeout is the StartToClose timeout of one attempt.
	CheckAttemptTimeout = 10 * time.Second
	// LeanStreamHeartbeatTimeout is the heartbeat timeout of the event
	// stream in the lean shape: the SDK then throttles heartbeats to one a
	// minute (its default MaxHeartbeatThrottleInterval), and a dead worker's
	// stream restarts elsewhere within this time plus the retry backoff.
	LeanStreamHeartbeatTimeout = 2 * time.Minute
	// DiskScheduleToStartTimeout bounds how long a disk check may wait for
	// a worker slot in the lean shape; past it the check fails (DiskError).
	DiskScheduleToStartTimeout = time.Minute
	// StreamsTaskQueueSuffix names the streams task queue after the
	// workflow's own: "<queue>-streams".
	StreamsTaskQueueSuffix = "-streams"
)

// StreamsTaskQueue returns the task queue of the event streams of
// environment workflows running on queue.
func StreamsTaskQueue(queue string) string { return queue + StreamsTaskQueueSuffix }

// checkLocalActivityOptions are the options of a check in the lean shape: a
// short retry, because the next cycle is the real retry.
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

// leanStreamActivityOptions are streamActivityOptions for the lean shape.
func (w *environmentWorkflow) leanStreamActivityOptions(ctx workflow.Context) workflow.ActivityOptions {
	o := streamActivityOptions()
	o.HeartbeatTimeout = LeanStreamHeartbeatTimeout
	o.TaskQueue = StreamsTaskQueue(workflow.GetInfo(ctx).TaskQueueName)
	return o
}

// startStatusRecorder starts the goroutine that records the pending status
// transitions, unless it runs or nothing is pending; it returns when the
// queue is empty.
func (w *environmentWorkflow) startStatusRecorder(ctx workflow.Context) {
	if w.recorderRunning || len(w.pendingStatus) == 0 {
		return
	}
	w.recorderRunning = true
	workflow.Go(ctx, w.recordStatusChanges)
}

// requestDiskCheck is called after each check of the lean shape: when the
// disk check is due and none is running, it starts one, which schedules
// CheckDisk in the same workflow task.
func (w *environmentWorkflow) requestDiskCheck(ctx workflow.Context, now time.Time) {
	if !w.diskSupported || w.diskInFlight || w.state.Settings.Paused {
		return
	}
	if w.state.NextDiskAt.IsZero() || !now.Before(w.state.NextDiskAt) {
		w.diskInFlight = true
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer func() { w.diskInFlight = false }()
			w.checkDisk(ctx)
			if w.state.PendingDiskWarning != nil && ctx.Err() == nil {
				w.recordPendingDiskWarning(ctx)
			}
		})
	}
}

// startDiskWork records, at the start of a run, a disk warning the previous
// run decided but could not record.
func (w *environmentWorkflow) startDiskWork(ctx workflow.Context) {
	if !w.diskSupported || w.state.PendingDiskWarning == nil {
		return
	}
	w.diskInFlight = true
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { w.diskInFlight = false }()
		w.recordPendingDiskWarning(ctx)
	})
}

// queueDiskWarning decides a warning in the lean shape: the cooldown starts
// now, and the warning is recorded by the disk goroutine (or, if the run
// continues as new first, by the next run).
func (w *environmentWorkflow) queueDiskWarning(checkAt time.Time, summary DiskSummary, reason string) {
	w.logger.Info("Disk warning", "Reason", reason)
	w.state.LastDiskWarningAt = checkAt
	w.state.PendingDiskWarning = &RecordDiskWarningInput{
		EnvironmentID: w.state.EnvironmentID,
		CheckAt:       checkAt,
		Summary:       summary,
		Reason:        reason,
	}
}

// recordPendingDiskWarning records PendingDiskWarning (retrying without
// limit) and clears it. Only a non-retryable error (environment deleted)
// leaves it unrecorded; the cooldown is kept then.
func (w *environmentWorkflow) recordPendingDiskWarning(ctx workflow.Context) {
	in := *w.state.PendingDiskWarning
	actx := workflow.WithActivityOptions(ctx, recordDiskWarningActivityOptions())
	err := workflow.ExecuteActivity(actx, ActivityRecordDiskWarning, in).Get(actx, nil)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		w.state.DiskError = "disk warning not recorded: " + errorText(err)
		w.logger.Error("Disk warning not recorded", "Error", err)
	}
	w.state.PendingDiskWarning = nil
	w.publishDetails(ctx)
}

// carryPending completes the state a lean run continues as new with: the
// transitions not yet recorded travel with it, and a disk check abandoned
// mid-way runs again in the first cycle of the next run (a pending disk
// warning is already in the state).
func (w *environmentWorkflow) carryPending(state *State) {
	state.PendingStatus = append([]RecordStatusInput(nil), w.pendingStatus...)
	if w.diskInFlight && state.PendingDiskWarning == nil {
		state.NextDiskAt = time.Time{}
	}
}

package workflows

import (
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// RecordStatusTimeout is the StartToClose timeout of one attempt of
// RecordStatus.
const RecordStatusTimeout = 10 * time.Second

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

// transition changes the status and queues the change for recording, with
// the status it replaces. Only the checks call it: settings changes,
// restarts and continue-as-new never do, so nothing is notified twice.
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
	w.startStatusRecorder(ctx)
}

// startStatusRecorder starts the goroutine that records the pending
// transitions, unless it runs or nothing is pending.
func (w *environmentWorkflow) startStatusRecorder(ctx workflow.Context) {
	if w.statusRecorderRunning || len(w.pendingStatus) == 0 {
		return
	}
	w.statusRecorderRunning = true
	workflow.Go(ctx, w.recordStatusChanges)
}

// recordStatusChanges records the queued transitions one at a time, in
// order, so that the checks never wait for the database and two transitions
// never race; it returns when none is left.
func (w *environmentWorkflow) recordStatusChanges(ctx workflow.Context) {
	defer func() { w.statusRecorderRunning = false }()
	for len(w.pendingStatus) > 0 && ctx.Err() == nil {
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
			w.wake.SendAsync(struct{}{})
		}
	}
}

// recordInOrder records the items of *pending in order, up to batch at a
// time, and returns when none is left or ctx is cancelled. record retries
// without limit, so only a non-retryable error (the environment deleted)
// drops a batch; what names the items in that log line.
func recordInOrder[T any](ctx workflow.Context, logger log.Logger, what string, pending *[]T, batch int,
	record func(ctx workflow.Context, items []T) error) {
	for len(*pending) > 0 {
		n := min(len(*pending), batch)
		err := record(ctx, append([]T(nil), (*pending)[:n]...))
		if ctx.Err() != nil {
			return // cancelled: the environment is being deleted
		}
		if err != nil {
			logger.Error(what+" not recorded", "Count", n, "Error", err)
		}
		*pending = (*pending)[n:]
	}
	*pending = nil
}

package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Notification delivery: one short workflow per notification (the outbox row
// written with its cause), and a singleton dispatcher that starts the ones
// nobody has started. Neither touches the environment workflows: delivery
// never blocks metric collection or event ingestion. Workflow inputs and
// activity inputs carry notification IDs only; channel URLs are secrets and
// never enter a workflow history.

// Tuning of the delivery.
const (
	// DeliverTimeout is the StartToClose timeout of one DeliverNotification
	// attempt.
	DeliverTimeout = 30 * time.Second
	// DeliverMaxAttempts bounds the attempts of a delivery: 5 s, 10 s, 20 s,
	// … at most 5 min apart, about 10 minutes in all.
	DeliverMaxAttempts = 8
	// DeliverRetryInitialInterval and DeliverRetryMaxInterval: the backoff
	// between two attempts.
	DeliverRetryInitialInterval = 5 * time.Second
	DeliverRetryMaxInterval     = 5 * time.Minute
	// MarkFailedTimeout is the StartToClose timeout of MarkNotificationFailed.
	MarkFailedTimeout = 10 * time.Second

	// DispatchInterval is the time between two sweeps of the dispatcher.
	DispatchInterval = 30 * time.Second
	// DispatchTimeout is the StartToClose timeout of DispatchNotifications.
	DispatchTimeout = 60 * time.Second
	// DispatchMaxAttempts bounds the attempts of one sweep: the next sweep is
	// the real retry.
	DispatchMaxAttempts = 3
	// MaxDispatchesPerRun: after this many sweeps the dispatcher continues as
	// new even if the server has not suggested it.
	MaxDispatchesPerRun = 100
)

// deliverActivityOptions are the options of DeliverNotification.
func deliverActivityOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: DeliverTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    DeliverRetryInitialInterval,
			BackoffCoefficient: 2,
			MaximumInterval:    DeliverRetryMaxInterval,
			MaximumAttempts:    DeliverMaxAttempts,
		},
		Summary: "deliver notification",
	}
}

// markFailedActivityOptions are the options of MarkNotificationFailed: the
// final failure must land, so it retries without limit, backing off to a
// minute.
func markFailedActivityOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: MarkFailedTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    0, // unlimited
		},
		Summary: "mark notification failed",
	}
}

// dispatchActivityOptions are the options of DispatchNotifications.
func dispatchActivityOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: DispatchTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    10 * time.Second,
			MaximumAttempts:    DispatchMaxAttempts,
		},
		Summary: "dispatch notifications",
	}
}

// NotificationDeliveryWorkflow delivers one notification; it is registered
// under NotificationDeliveryWorkflowName and runs with the ID
// NotificationWorkflowID(instance, in.NotificationID).
//
// It runs DeliverNotification (one send, its attempt recorded by the
// activity; a notification already delivered is a no-op) with retries and
// backoff. When the last attempt fails, or an attempt fails with a
// non-retryable error (the notification or its channel was deleted, the URL
// is invalid…), it runs MarkNotificationFailed with the error's message and
// completes: a failed delivery is a recorded outcome, not a workflow failure.
// Cancelled, it returns the canceled error and marks nothing.
func NotificationDeliveryWorkflow(ctx workflow.Context, in DeliverNotificationInput) error {
	logger := workflow.GetLogger(ctx)
	actx := workflow.WithActivityOptions(ctx, deliverActivityOptions())
	err := workflow.ExecuteActivity(actx, ActivityDeliverNotification, in).Get(actx, nil)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err == nil {
		return nil
	}
	text := errorText(err)
	logger.Warn("Notification not delivered, marking it failed", "NotificationID", in.NotificationID, "Error", text)
	mctx := workflow.WithActivityOptions(ctx, markFailedActivityOptions())
	if err := workflow.ExecuteActivity(mctx, ActivityMarkNotificationFailed, MarkNotificationFailedInput{
		NotificationID: in.NotificationID,
		Error:          text,
	}).Get(mctx, nil); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Only a non-retryable error gets here (the row is gone).
		logger.Error("Notification failure not recorded", "NotificationID", in.NotificationID, "Error", err)
		return err
	}
	return nil
}

// NotificationDispatcherWorkflow is the singleton (ID NotificationDispatcherID(instance))
// that sweeps the outbox; it is registered under
// NotificationDispatcherWorkflowName and started with a zero DispatcherState.
//
// Every DispatchInterval (the first sweep at once) it runs
// DispatchNotifications, which starts delivery workflows for the pending
// notifications that have none (running). A failed sweep is logged and the
// next one is the retry. It continues as new after MaxDispatchesPerRun sweeps
// or when the server suggests it, carrying its state (counters and the next
// sweep time). Cancelled, it stops at once (a running sweep is cancelled) and
// completes without error. QueryState returns the DispatcherState.
func NotificationDispatcherWorkflow(ctx workflow.Context, state DispatcherState) error {
	logger := workflow.GetLogger(ctx)
	if err := workflow.SetQueryHandlerWithOptions(ctx, QueryState, func() (DispatcherState, error) {
		return state, nil
	}, workflow.QueryHandlerOptions{Description: "The dispatcher's counters and next sweep"}); err != nil {
		return err
	}
	publish := func() { workflow.SetCurrentDetails(ctx, state.DetailsMarkdown()) }
	if state.NextRunAt.IsZero() {
		state.NextRunAt = workflow.Now(ctx)
	}
	publish()
	runIterations := 0
	for {
		if ctx.Err() != nil {
			logger.Info("Notification dispatcher cancelled, stopping")
			return nil
		}
		if runIterations >= MaxDispatchesPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
				return nil // cancelled
			}
			logger.Info("Continuing as new", "Iterations", state.Iterations, "RunIterations", runIterations)
			return workflow.NewContinueAsNewError(ctx, NotificationDispatcherWorkflowName, state)
		}
		if d := state.NextRunAt.Sub(workflow.Now(ctx)); d > 0 {
			err := workflow.NewTimerWithOptions(ctx, d, workflow.TimerOptions{
				Summary: "dispatch every " + formatInterval(DispatchInterval),
			}).Get(ctx, nil)
			if err != nil {
				continue // cancelled: the loop returns
			}
		}
		now := workflow.Now(ctx)
		state.NextRunAt = now.Add(DispatchInterval)
		state.LastRunAt = now
		state.Iterations++
		runIterations++
		actx := workflow.WithActivityOptions(ctx, dispatchActivityOptions())
		var result DispatchResult
		err := workflow.ExecuteActivity(actx, ActivityDispatchNotifications).Get(actx, &result)
		switch {
		case ctx.Err() != nil:
			continue // the loop returns
		case err != nil:
			state.Failures++
			state.LastError = errorText(err)
			logger.Warn("Notification dispatch failed", "Error", state.LastError)
		default:
			state.Started += int64(result.Started)
			state.LastPending = result.Pending
			state.LastError = ""
		}
		publish()
	}
}

// DetailsMarkdown is the markdown shown as the dispatcher's current details
// in the Web UI.
func (s DispatcherState) DetailsMarkdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "**Notification dispatcher** sweeps every %s\n\n", formatInterval(DispatchInterval))
	if s.LastRunAt.IsZero() {
		b.WriteString("**Last sweep** none yet\n")
	} else {
		fmt.Fprintf(&b, "**Last sweep** %s\n", formatTime(s.LastRunAt))
	}
	fmt.Fprintf(&b, "\n**Totals** %d sweeps · %d deliveries started · %d failed sweeps · %d pending at the last sweep\n",
		s.Iterations, s.Started, s.Failures, s.LastPending)
	if s.LastError != "" {
		fmt.Fprintf(&b, "\n**Last error** %s\n", s.LastError)
	}
	if !s.NextRunAt.IsZero() {
		fmt.Fprintf(&b, "\n**Next sweep** %s\n", formatTime(s.NextRunAt))
	}
	return b.String()
}

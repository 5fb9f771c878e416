package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// What the end of an event activity means: the cursor it reached, an error
// to show, a restart to schedule.

// eventActivityEnded takes the result of the event activity that ended.
func (w *environmentWorkflow) eventActivityEnded(ctx workflow.Context, f workflow.Future) {
	d := &w.events
	kind, stopped := d.kind, d.stopping
	d.cancel()
	d.future, d.cancel, d.stopping = nil, nil, false
	if ctx.Err() != nil {
		return
	}
	if kind == eventsPolling {
		var result PollEventsResult
		w.pollEnded(f.Get(ctx, &result), result)
	} else {
		var progress StreamProgress
		w.streamEnded(ctx, f.Get(ctx, &progress), progress, stopped)
	}
	w.publishDetails(ctx)
}

// streamEnded takes the outcome of a stream: err and the progress it
// returned; stopped: this workflow asked it to stop.
func (w *environmentWorkflow) streamEnded(ctx workflow.Context, err error, progress StreamProgress, stopped bool) {
	switch {
	case err == nil:
		w.advanceCursor(progress.Cursor)
		w.state.EventsError = ""
		if stopped {
			w.logger.Info("Event stream stopped", "Cursor", w.state.EventCursor, "Stored", progress.Stored)
		} else {
			// The activity is meant to run until cancelled; restart it, but
			// not in a hot loop.
			w.logger.Warn("Event stream ended by itself, restarting", "Cursor", w.state.EventCursor)
			w.state.EventsRestartAt = workflow.Now(ctx).Add(StreamRetryInitialInterval)
		}
	case isCanceled(err):
		// Cancelled before it could report: keep the cursor we have; the
		// next reader also resumes from the cursor stored with the events.
		if p, ok := canceledProgress(err); ok {
			w.advanceCursor(p.Cursor)
		}
		w.logger.Info("Event stream cancelled", "Cursor", w.state.EventCursor)
		if !stopped {
			w.state.EventsRestartAt = workflow.Now(ctx).Add(StreamRetryInitialInterval)
		}
	case stopped:
		w.logger.Warn("Event stream failed while stopping", "Error", errorText(err))
	default:
		// Retries are unlimited, so only a non-retryable error gets here.
		w.state.EventsError = errorText(err)
		w.state.EventsRestartAt = workflow.Now(ctx).Add(StreamRestartDelay)
		w.logger.Error("Event stream failed, retrying later",
			"Error", w.state.EventsError, "RestartAt", w.state.EventsRestartAt)
	}
}

// pollEnded takes the outcome of a poll.
func (w *environmentWorkflow) pollEnded(err error, result PollEventsResult) {
	if err != nil {
		w.state.EventsError = errorText(err)
		w.logger.Warn("Event poll failed", "Error", w.state.EventsError)
		return
	}
	w.advanceCursor(result.Cursor)
	w.state.EventsError = ""
	if result.Gap {
		w.logger.Warn("Event poll found a gap: the engine no longer holds events after the cursor")
	}
}

// stopEventsForEnd stops the event collection of a workflow that ends: the
// timer is cancelled, a stream too (a poll runs to its end); the condition
// it returns holds once the activity has stopped.
func (w *environmentWorkflow) stopEventsForEnd() func() bool {
	d := &w.events
	w.stopEventsTimer()
	if d.future == nil {
		return func() bool { return true }
	}
	if d.kind == eventsStreaming && !d.stopping {
		d.stopping = true
		d.cancel()
	}
	return d.future.IsReady
}

// advanceCursor moves the cursor forward, never back: every reader reports
// how far it got, and an older report must not undo a newer one.
func (w *environmentWorkflow) advanceCursor(cursor int64) {
	if cursor > w.state.EventCursor {
		w.state.EventCursor = cursor
	}
}

// isCanceled reports whether err is (or wraps) a cancellation.
func isCanceled(err error) bool {
	var canceled *temporal.CanceledError
	return errors.As(err, &canceled)
}

// canceledProgress extracts a StreamProgress from the details of a cancelled
// stream, for an activity that reports its cursor by returning a canceled
// error with details instead of a result.
func canceledProgress(err error) (StreamProgress, bool) {
	var canceled *temporal.CanceledError
	if !errors.As(err, &canceled) || !canceled.HasDetails() {
		return StreamProgress{}, false
	}
	var p StreamProgress
	if canceled.Details(&p) != nil {
		return StreamProgress{}, false
	}
	return p, true
}

// cursorTime is an event cursor (Unix ns, engine clock) as a UTC time; zero
// for the zero cursor.
func cursorTime(cursor int64) time.Time {
	if cursor == 0 {
		return time.Time{}
	}
	return time.Unix(0, cursor).UTC()
}

package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

// Event collection driven by the main loop (lean runs with the
// "events-in-loop" version). The behaviour is collectEvents' (events.go):
// at most one event activity at a time, the stream cancelled and awaited
// before a poll starts, a running poll finished before a stream starts, the
// same restart delays, poll cadence and cursor hand-over. What changes is
// who waits: instead of a workflow goroutine of its own parked on the
// stream's future for the run's whole life, the main loop's selector waits
// on the event activity and its timer next to the metrics timer. A
// workflow in the worker's cache then holds one goroutine stack instead of
// two, which at 1,000 environments is ~1,000 goroutine stacks less per
// worker (see the README's capacity notes).
const (
	eventsLoopChangeID = "events-in-loop"
	eventsLoopVersion  = workflow.Version(1)
)

// eventsDriver is the event collection's part of the main loop.
type eventsDriver struct {
	// active is set in runs that drive events from the main loop.
	active bool
	// last is the work last seen, to clear EventsError when it changes.
	last eventsWork
	// polling is set while the settings have wanted polls: leaving poll
	// mode forgets NextPollAt (the next poll mode starts with a poll).
	polling bool

	// future is the event activity in flight (nil: none); kind says which.
	future workflow.Future
	kind   eventsWork
	cancel workflow.CancelFunc
	// stopping is set once a running stream was asked to stop.
	stopping bool

	// timer is armed for a stream restart (timerKind eventsStreaming) or
	// the next poll (eventsPolling), due at timerAt; nil: none.
	timer       workflow.Future
	timerKind   eventsWork
	timerAt     time.Time
	timerCancel workflow.CancelFunc
	// restartChanges is settingsChanges when the restart wait began: a
	// settings change ends the wait early.
	restartChanges int
}

// driveEvents brings the event collection in line with the settings: it
// starts, stops or switches the event activity and arms its timer. It never
// blocks; the main loop's selector waits (addEvents).
func (w *environmentWorkflow) driveEvents(ctx workflow.Context) {
	d := &w.events
	work := w.wantedEvents()
	if work != d.last && !w.eventsStopping {
		// A settings change stopped or switched the collection: the error
		// was about what no longer runs.
		w.state.EventsError = ""
		d.last = work
	}
	if d.future != nil {
		if d.kind == eventsStreaming && work != eventsStreaming && !d.stopping {
			d.stopping = true
			d.cancel() // the future resolves once the stream has stopped
		}
		return // a running poll finishes first
	}
	if work != eventsStreaming && !w.state.EventsRestartAt.IsZero() && !w.eventsStopping {
		// The settings no longer want a stream: its restart wait ends.
		w.stopEventsTimer()
		w.state.EventsRestartAt = time.Time{}
		w.publishDetails(ctx)
	}
	if work != eventsPolling && d.polling {
		d.polling = false
		if !w.eventsStopping {
			w.state.NextPollAt = time.Time{}
		}
	}
	switch work {
	case eventsStreaming:
		if w.streamRestartDue(ctx) {
			w.startStream(ctx)
		}
	case eventsPolling:
		d.polling = true
		if w.state.NextPollAt.IsZero() {
			w.state.NextPollAt = workflow.Now(ctx)
		}
		if workflow.Now(ctx).Before(w.state.NextPollAt) {
			if w.armEventsTimer(ctx, eventsPolling, w.state.NextPollAt, pollTimerSummary(w.state.Settings)) {
				w.publishDetails(ctx)
			}
			return
		}
		w.stopEventsTimer()
		w.startPoll(ctx)
	default:
		w.stopEventsTimer()
	}
}

// addEvents adds the event activity and its timer to the main loop's
// selector.
func (w *environmentWorkflow) addEvents(ctx workflow.Context, selector workflow.Selector) {
	d := &w.events
	if d.future != nil {
		selector.AddFuture(d.future, func(f workflow.Future) { w.eventActivityEnded(ctx, f) })
	}
	if d.timer != nil {
		timer := d.timer
		selector.AddFuture(timer, func(workflow.Future) {
			if d.timer == timer {
				w.stopEventsTimer() // releases the fired timer's context (see waitForEvent)
			}
		})
	}
}

// streamRestartDue reports whether the stream may start now: no restart
// delay (EventsRestartAt), or it has passed, or a settings change came
// first. While it waits, the restart timer is armed.
func (w *environmentWorkflow) streamRestartDue(ctx workflow.Context) bool {
	d := &w.events
	at := w.state.EventsRestartAt
	if at.IsZero() {
		w.stopEventsTimer()
		return true
	}
	if workflow.Now(ctx).Before(at) {
		if w.armEventsTimer(ctx, eventsStreaming, at, "restart event stream") {
			d.restartChanges = w.settingsChanges
		}
		if w.settingsChanges == d.restartChanges {
			return false
		}
	}
	w.stopEventsTimer()
	w.state.EventsRestartAt = time.Time{}
	w.publishDetails(ctx)
	return true
}

// armEventsTimer arms the event timer for at, unless it is armed for that
// already; it reports whether it armed one.
func (w *environmentWorkflow) armEventsTimer(ctx workflow.Context, kind eventsWork, at time.Time, summary string) bool {
	d := &w.events
	if d.timer != nil && d.timerKind == kind && d.timerAt.Equal(at) {
		return false
	}
	w.stopEventsTimer()
	timerCtx, cancel := workflow.WithCancel(ctx)
	d.timer = workflow.NewTimerWithOptions(timerCtx, at.Sub(workflow.Now(ctx)), workflow.TimerOptions{Summary: summary})
	d.timerKind, d.timerAt, d.timerCancel = kind, at, cancel
	return true
}

func (w *environmentWorkflow) stopEventsTimer() {
	d := &w.events
	if d.timerCancel != nil {
		d.timerCancel()
	}
	d.timer, d.timerCancel = nil, nil
}

// startStream schedules StreamEvents from the cursor.
func (w *environmentWorkflow) startStream(ctx workflow.Context) {
	d := &w.events
	streamCtx, cancel := workflow.WithCancel(ctx)
	actx := workflow.WithActivityOptions(streamCtx, w.leanStreamActivityOptions(ctx))
	from := w.state.EventCursor
	d.future = workflow.ExecuteActivity(actx, ActivityStreamEvents, StreamEventsInput{
		EnvironmentID: w.state.EnvironmentID,
		Cursor:        from,
	})
	d.kind, d.cancel, d.stopping = eventsStreaming, cancel, false
	w.logger.Info("Event stream started", "Cursor", from)
}

// startPoll schedules one PollEvents from the cursor; polls are paced at a
// fixed rate from the start of the previous one.
func (w *environmentWorkflow) startPoll(ctx workflow.Context) {
	d := &w.events
	w.state.NextPollAt = workflow.Now(ctx).Add(w.state.Settings.PollInterval)
	actx := workflow.WithActivityOptions(ctx, pollActivityOptions())
	d.future = workflow.ExecuteActivity(actx, ActivityPollEvents, PollEventsInput{
		EnvironmentID: w.state.EnvironmentID,
		Cursor:        w.state.EventCursor,
	})
	// A poll is never cancelled: it runs to its end, short as it is.
	d.kind, d.cancel, d.stopping = eventsPolling, func() {}, false
}

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

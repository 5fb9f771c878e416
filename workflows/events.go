package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Container-event collection: one workflow goroutine (collectEvents) owns the
// StreamEvents and PollEvents activities, so that neither a long stream nor a
// slow poll ever delays a metrics check, and a metrics check never delays an
// event read. The goroutine and the rest of the workflow share the State and
// nothing else: handlers change the settings, the goroutine notices through
// workflow.Await conditions, and the main loop asks it to stop before
// continue-as-new (eventsStopping) and waits until it has (eventsRunning).
//
// Lean runs with the "events-in-loop" version drive the same behaviour from
// the main loop instead (eventsloop.go): one goroutine less per workflow in
// the worker's cache. Both share what happens when a read ends (streamEnded,
// pollEnded).
//
// At most one event activity runs at a time, which is what makes the cursor
// hand-over exact: a stream is cancelled and its result (the cursor it reached)
// awaited before a poll starts; a running poll finishes before a stream starts.

// Tuning of the event collection.
const (
	// StreamTimeout is the StartToClose timeout of one StreamEvents attempt.
	// The activity runs until cancelled; an attempt that reaches this is
	// restarted by the retry policy from its heartbeat cursor.
	StreamTimeout = 24 * time.Hour
	// StreamHeartbeatTimeout is how soon a dead stream (its worker gone) is
	// noticed and restarted elsewhere.
	StreamHeartbeatTimeout = 30 * time.Second
	// StreamRetryInitialInterval, StreamRetryMaxInterval: the reconnect
	// backoff of the stream (5 s, 10 s, 20 s, … at most 60 s, unlimited
	// attempts), the seed's.
	StreamRetryInitialInterval = 5 * time.Second
	StreamRetryMaxInterval     = 60 * time.Second
	// StreamRestartDelay is how long a stream that failed for good (a
	// non-retryable error: environment deleted, bad endpoint) waits before it
	// is tried again, unless a settings change comes first.
	StreamRestartDelay = 5 * time.Minute
	// PollTimeout is the StartToClose timeout of one PollEvents attempt.
	PollTimeout = 60 * time.Second
	// PollMaxAttempts bounds the attempts of one poll: the next poll is the
	// real retry.
	PollMaxAttempts = 3
)

// streamActivityOptions are the options of StreamEvents. WaitForCancellation
// makes the future resolve only once the activity has really stopped, with
// the cursor it reached, so that nothing else reads events meanwhile.
func streamActivityOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: StreamTimeout,
		HeartbeatTimeout:    StreamHeartbeatTimeout,
		WaitForCancellation: true,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    StreamRetryInitialInterval,
			BackoffCoefficient: 2,
			MaximumInterval:    StreamRetryMaxInterval,
			MaximumAttempts:    0, // unlimited
		},
		Summary: "event stream",
	}
}

// pollActivityOptions are the options of PollEvents.
func pollActivityOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: PollTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    5 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    60 * time.Second,
			MaximumAttempts:    PollMaxAttempts,
		},
		Summary: "poll events",
	}
}

// eventsWork is what the event collection should be doing now.
type eventsWork int

const (
	eventsIdle eventsWork = iota
	eventsStreaming
	eventsPolling
)

// wantedEvents derives the event work from the settings: nothing when events
// are off, the environment is paused or the run is about to continue as new.
func (w *environmentWorkflow) wantedEvents() eventsWork {
	s := w.state.Settings
	switch {
	case w.eventsStopping || !s.EventsEnabled || s.Paused:
		return eventsIdle
	case s.EventMode == EventModePoll:
		return eventsPolling
	default:
		return eventsStreaming
	}
}

// collectEvents runs as a workflow goroutine for the whole run (only in runs
// that support events): it streams or polls as the settings say, switching
// when they change, until the run continues as new or is cancelled.
func (w *environmentWorkflow) collectEvents(ctx workflow.Context) {
	defer func() { w.eventsRunning = false }()
	last := w.wantedEvents()
	for ctx.Err() == nil {
		work := w.wantedEvents()
		if work != last && !w.eventsStopping {
			// A settings change stopped or switched the collection: the
			// error was about what no longer runs.
			w.state.EventsError = ""
			last = work
		}
		switch work {
		case eventsStreaming:
			w.runStream(ctx)
		case eventsPolling:
			w.runPolls(ctx)
		default:
			if w.eventsStopping {
				return
			}
			_ = workflow.Await(ctx, func() bool { return w.eventsStopping || w.wantedEvents() != eventsIdle })
		}
	}
}

// advanceCursor moves the cursor forward, never back: every reader reports
// how far it got, and an older report must not undo a newer one.
func (w *environmentWorkflow) advanceCursor(cursor int64) {
	if cursor > w.state.EventCursor {
		w.state.EventCursor = cursor
	}
}

// runStream runs one StreamEvents activity from the cursor until the settings
// no longer want a stream (it is then cancelled and awaited), the workflow is
// cancelled, or the activity ends by itself. A stream that failed for good is
// restarted after StreamRestartDelay or at the next settings change.
func (w *environmentWorkflow) runStream(ctx workflow.Context) {
	if !w.waitForStreamRestart(ctx) {
		return
	}
	streamCtx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	o := streamActivityOptions()
	if w.lean {
		o = w.leanStreamActivityOptions(ctx)
	}
	actx := workflow.WithActivityOptions(streamCtx, o)
	from := w.state.EventCursor
	future := workflow.ExecuteActivity(actx, ActivityStreamEvents, StreamEventsInput{
		EnvironmentID: w.state.EnvironmentID,
		Cursor:        from,
	})
	w.logger.Info("Event stream started", "Cursor", from)
	if err := workflow.Await(ctx, func() bool {
		return future.IsReady() || w.wantedEvents() != eventsStreaming
	}); err != nil {
		return // workflow cancelled: the stream is cancelled with it
	}
	stopped := false
	if !future.IsReady() {
		stopped = true
		cancel()
	}
	// With WaitForCancellation this returns once the activity has stopped.
	var progress StreamProgress
	err := future.Get(ctx, &progress)
	if ctx.Err() != nil {
		return
	}
	w.streamEnded(ctx, err, progress, stopped)
	w.publishDetails(ctx)
}

// waitForStreamRestart waits until EventsRestartAt, if set; a settings change
// (or the settings no longer wanting a stream) ends the wait early. It
// reports whether the stream should start now.
func (w *environmentWorkflow) waitForStreamRestart(ctx workflow.Context) bool {
	at := w.state.EventsRestartAt
	if at.IsZero() {
		return true
	}
	now := workflow.Now(ctx)
	if now.Before(at) {
		changes := w.settingsChanges
		timerCtx, cancel := workflow.WithCancel(ctx)
		timer := workflow.NewTimerWithOptions(timerCtx, at.Sub(now), workflow.TimerOptions{
			Summary: "restart event stream",
		})
		if err := workflow.Await(ctx, func() bool {
			return timer.IsReady() || w.settingsChanges != changes || w.wantedEvents() != eventsStreaming
		}); err != nil {
			return false
		}
		cancel() // as in waitForPoll: releases the timer's context either way
		if w.eventsStopping {
			return false // the next run waits for the rest of the delay
		}
	}
	w.state.EventsRestartAt = time.Time{}
	w.publishDetails(ctx)
	return w.wantedEvents() == eventsStreaming
}

// runPolls polls every PollInterval while the settings want polls. The first
// poll runs at once (after start or a switch from the stream) unless the
// state carries a poll time from the previous run.
func (w *environmentWorkflow) runPolls(ctx workflow.Context) {
	defer func() {
		if !w.eventsStopping {
			w.state.NextPollAt = time.Time{}
		}
	}()
	if w.state.NextPollAt.IsZero() {
		w.state.NextPollAt = workflow.Now(ctx)
	}
	for ctx.Err() == nil && w.wantedEvents() == eventsPolling {
		if workflow.Now(ctx).Before(w.state.NextPollAt) {
			w.waitForPoll(ctx)
			continue
		}
		w.poll(ctx)
	}
}

// waitForPoll waits until NextPollAt, or until the settings no longer want
// polls or move NextPollAt (a new interval re-arms the timer at once).
func (w *environmentWorkflow) waitForPoll(ctx workflow.Context) {
	due := w.state.NextPollAt
	timerCtx, cancel := workflow.WithCancel(ctx)
	timer := workflow.NewTimerWithOptions(timerCtx, due.Sub(workflow.Now(ctx)), workflow.TimerOptions{
		Summary: pollTimerSummary(w.state.Settings),
	})
	w.publishDetails(ctx)
	if err := workflow.Await(ctx, func() bool {
		return timer.IsReady() || w.wantedEvents() != eventsPolling || !w.state.NextPollAt.Equal(due)
	}); err != nil {
		return
	}
	// A pending timer is cancelled (one history event); for a fired one
	// this records nothing and releases its context, which the workflow's
	// context would otherwise keep among its children until the run ends.
	cancel()
}

// poll runs one PollEvents from the cursor. Polls are paced at a fixed rate
// from the start of the previous poll.
func (w *environmentWorkflow) poll(ctx workflow.Context) {
	w.state.NextPollAt = workflow.Now(ctx).Add(w.state.Settings.PollInterval)
	actx := workflow.WithActivityOptions(ctx, pollActivityOptions())
	var result PollEventsResult
	err := workflow.ExecuteActivity(actx, ActivityPollEvents, PollEventsInput{
		EnvironmentID: w.state.EnvironmentID,
		Cursor:        w.state.EventCursor,
	}).Get(actx, &result)
	if ctx.Err() != nil {
		return
	}
	w.pollEnded(err, result)
	w.publishDetails(ctx)
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

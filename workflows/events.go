package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Container events, driven by the main loop: at most one event activity at
// a time (a stream cancelled and awaited before a poll starts, a running
// poll finished before a stream starts), which makes the cursor hand-over
// exact. The main loop's selector waits on the activity and its timer next
// to the metrics timer. The cursor (State.EventCursor) travels to the next
// run; the activities also resume from the cursor stored with the events.

// Tuning of the event collection.
const (
	// StreamTimeout is the StartToClose timeout of one StreamEvents attempt.
	// The activity runs until cancelled; an attempt that reaches this is
	// restarted by the retry policy from its heartbeat cursor.
	StreamTimeout = 24 * time.Hour
	// StreamHeartbeatTimeout is the heartbeat timeout of the stream: the SDK
	// then throttles heartbeats to one a minute. A dead worker's stream is
	// failed over by a live worker within seconds (activities/failover.go);
	// this timeout is the fallback when no worker can.
	StreamHeartbeatTimeout = 2 * time.Minute
	// StreamRetryInitialInterval, StreamRetryMaxInterval: the reconnect
	// backoff of the stream (5 s, 10 s, 20 s, … at most 60 s, unlimited
	// attempts).
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
	// StreamsTaskQueueSuffix names the streams task queue after the
	// workflow's own: "<queue>-streams".
	StreamsTaskQueueSuffix = "-streams"
)

// StreamsTaskQueue returns the task queue of the event streams of
// environment workflows running on queue: a worker of its own, so that
// long-running streams never take the slots of the other activities.
func StreamsTaskQueue(queue string) string { return queue + StreamsTaskQueueSuffix }

// streamActivityOptions are the options of StreamEvents for a workflow on
// taskQueue. WaitForCancellation makes the future resolve only once the
// activity has really stopped, with the cursor it reached.
func streamActivityOptions(taskQueue string) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		TaskQueue:           StreamsTaskQueue(taskQueue),
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
// are off or the environment is paused.
func (w *environmentWorkflow) wantedEvents() eventsWork {
	s := w.state.Settings
	switch {
	case !s.EventsEnabled || s.Paused:
		return eventsIdle
	case s.EventMode == EventModePoll:
		return eventsPolling
	default:
		return eventsStreaming
	}
}

// eventsDriver is the event collection's part of the main loop.
type eventsDriver struct {
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
	if work != d.last {
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
	if work != eventsStreaming && !w.state.EventsRestartAt.IsZero() {
		// The settings no longer want a stream: its restart wait ends.
		w.stopEventsTimer()
		w.state.EventsRestartAt = time.Time{}
		w.publishDetails(ctx)
	}
	if work != eventsPolling && d.polling {
		d.polling = false
		w.state.NextPollAt = time.Time{}
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
				w.stopEventsTimer() // releases the fired timer's context
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
	actx := workflow.WithActivityOptions(streamCtx, streamActivityOptions(workflow.GetInfo(ctx).TaskQueueName))
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

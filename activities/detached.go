package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/windflow/monitor/internal/telemetry"
	"github.com/windflow/monitor/workflows"
)

// Detached event streams (asynchronous activity completion).
//
// A stream runs as long as its environment does. Kept inside its activity
// task it would hold the SDK's task state, two goroutines and a slot for
// its whole life. Detached, StreamEvents connects, then returns
// activity.ErrResultPending; the stream goes on in its own goroutine and
// heartbeats and completes through the client with its task token. To
// Temporal it is the same activity (running, heartbeating, then completed,
// failed or cancelled). A cancellation arrives with the next heartbeat's
// answer (within a minute); Activities.MaxStreams bounds a worker's streams
// (over it an attempt fails with WorkerAtCapacity and is retried); a
// stopping worker completes its streams with WorkerStopping
// (Activities.WaitStreams) so they resume at once elsewhere; a dead
// worker's streams are failed by a live worker (failover.go).

// Completer is what a detached stream needs of the Temporal client
// (client.Client has both).
type Completer interface {
	RecordActivityHeartbeat(ctx context.Context, taskToken []byte, details ...any) error
	CompleteActivity(ctx context.Context, taskToken []byte, result any, err error) error
}

// Causes of the end of a detached stream's context.
var (
	errCancelRequested = errors.New("the workflow cancelled the event stream")
	errActivityGone    = errors.New("the event stream's activity is no longer running (timed out, or its workflow ended)")
)

const (
	// maxDetachedHeartbeatInterval is the SDK's default heartbeat throttle.
	maxDetachedHeartbeatInterval = time.Minute
	// completerTimeout bounds each heartbeat and completion call.
	completerTimeout = 10 * time.Second
)

// ErrTypeWorkerAtCapacity is the type of the (retryable) failure of a
// stream attempt on a worker that already follows MaxStreams streams.
const ErrTypeWorkerAtCapacity = "WorkerAtCapacity"

// detaches reports whether the stream of the activity of ctx runs detached.
func (a *Activities) detaches(ctx context.Context) bool {
	return a.Completer != nil && len(activity.GetInfo(ctx).TaskToken) > 0
}

// detach starts s, read from since, outside the activity of ctx; release
// is called once it has completed.
func (a *Activities) detach(ctx context.Context, s *eventStream, since int64, release func()) error {
	if !a.streams.admit(a.MaxStreams) {
		release()
		return temporal.NewApplicationError(fmt.Sprintf(
			"this worker already follows %d event streams (its limit); a later attempt or another worker takes this one", a.MaxStreams),
			ErrTypeWorkerAtCapacity)
	}
	info := activity.GetInfo(ctx)
	s.token = info.TaskToken
	s.beatEvery = a.Events.HeartbeatInterval
	if s.beatEvery <= 0 {
		s.beatEvery = maxDetachedHeartbeatInterval
		if t := info.HeartbeatTimeout * 4 / 5; t > 0 {
			s.beatEvery = min(s.beatEvery, t)
		}
	}
	// A context of its own (the activity's ends when it returns), with the
	// telemetry and the logger but not the SDK's task; the attempt's
	// deadline still holds.
	runCtx := telemetry.NewContext(context.Background(), telemetry.FromContext(ctx))
	runCtx = withLogger(runCtx, telemetry.ActivityLogger(ctx, s.env.ID.String(), s.env.Name))
	stopDeadline := context.CancelFunc(func() {})
	if !info.Deadline.IsZero() {
		runCtx, stopDeadline = context.WithDeadline(runCtx, info.Deadline)
	}
	s.ctx, s.end = context.WithCancelCause(runCtx)
	unhold := a.holdStream(s)
	workerStop := activity.GetWorkerStopChannel(ctx)
	go func() {
		defer a.streams.done()
		defer stopDeadline()
		defer release()
		defer unhold()
		progress, err := s.follow(workerStop, since)
		s.complete(progress, err)
		s.end(nil)
	}()
	return nil
}

// detachedBeat heartbeats p through the client; the answer may end the
// stream (cancelled, paused, reset, or no longer running).
func (s *eventStream) detachedBeat(p workflows.StreamProgress) {
	ctx, cancel := context.WithTimeout(s.ctx, completerTimeout)
	err := s.a.Completer.RecordActivityHeartbeat(ctx, s.token, p)
	cancel()
	var notFound *serviceerror.NotFound
	switch {
	case err == nil:
	case temporal.IsCanceledError(err):
		s.end(errCancelRequested)
	case errors.Is(err, activity.ErrActivityPaused), errors.Is(err, activity.ErrActivityReset):
		s.end(err)
	case errors.As(err, &notFound):
		s.end(errActivityGone)
	case s.ctx.Err() == nil:
		// The server did not answer: the next heartbeat tries again, and
		// the heartbeat timeout covers a longer outage.
		logger(s.ctx).Warn("Event stream heartbeat failed", "Error", err)
	}
}

// complete reports the stream's outcome to the server, unless its activity
// is no longer running.
func (s *eventStream) complete(p workflows.StreamProgress, outcome error) {
	if errors.Is(context.Cause(s.ctx), errActivityGone) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), completerTimeout)
	defer cancel()
	var err error
	if outcome != nil {
		// The retry resumes from these details (and the stored cursor).
		_ = s.a.Completer.RecordActivityHeartbeat(ctx, s.token, p)
		err = s.a.Completer.CompleteActivity(ctx, s.token, nil, outcome)
	} else {
		err = s.a.Completer.CompleteActivity(ctx, s.token, p, nil)
	}
	if err != nil {
		// Not completed: the heartbeat timeout retries the attempt.
		logger(s.ctx).Warn("Event stream outcome not reported", "Outcome", outcome, "Error", err)
	}
}

// WaitStreams returns once every detached stream has completed (a
// stopping worker ends its streams at once), or when ctx ends.
func (a *Activities) WaitStreams(ctx context.Context) error {
	return a.streams.wait(ctx)
}

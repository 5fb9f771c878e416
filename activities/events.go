package activities

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/moby/moby/client"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/telemetry"
	"github.com/windflow/monitor/workflows"
)

// Defaults of the event activities.
const (
	// firstReadLookback is how far back the very first read of an
	// environment's events reaches (one poll window).
	firstReadLookback = 30 * time.Second
	defaultBatchSize  = 200
	// defaultFlushInterval bounds how long a received event waits before it
	// is stored (and pushed to live clients).
	defaultFlushInterval = 200 * time.Millisecond
	// defaultHeartbeatInterval is how often the stream records its
	// progress with the SDK, which sends at most one heartbeat a minute (its
	// default throttle under the stream's 2 min heartbeat timeout): well
	// under it.
	defaultHeartbeatInterval = 10 * time.Second
	// storeTimeout bounds every batch write (each flush), also the last one
	// after a cancel: well under the stream's heartbeat timeout.
	storeTimeout = 10 * time.Second
)

// EventOptions tune the event activities; zero values take the defaults.
type EventOptions struct {
	Filter            engine.EventFilter
	BatchSize         int
	FlushInterval     time.Duration
	HeartbeatInterval time.Duration
}

// filter returns Filter, or engine.DefaultEventFilter() when it is unset.
func (o EventOptions) filter() engine.EventFilter {
	if o.Filter == (engine.EventFilter{}) {
		return engine.DefaultEventFilter()
	}
	return o.Filter
}

func (o EventOptions) batchSize() int {
	if o.BatchSize > 0 {
		return o.BatchSize
	}
	return defaultBatchSize
}

func (o EventOptions) flushInterval() time.Duration {
	if o.FlushInterval > 0 {
		return o.FlushInterval
	}
	return defaultFlushInterval
}

func (o EventOptions) heartbeatInterval() time.Duration {
	if o.HeartbeatInterval > 0 {
		return o.HeartbeatInterval
	}
	return defaultHeartbeatInterval
}

// eventRow converts a decoded engine event into its stored form.
func eventRow(envID uuid.UUID, e engine.Event) store.ContainerEvent {
	return store.ContainerEvent{
		EnvironmentID: envID,
		TimeNano:      e.TimeNano,
		Time:          e.Time,
		ContainerID:   e.ContainerID,
		ContainerName: e.Name,
		Image:         e.Image,
		Action:        e.Action,
		Attributes:    e.Attributes,
		ExitCode:      e.ExitCode,
	}
}

// resumeCursor is where a read resumes: the newest of the cursors known.
func (a *Activities) resumeCursor(ctx context.Context, envID uuid.UUID, known ...int64) (int64, error) {
	cursor, err := a.Store.EventCursor(ctx, envID)
	if err != nil {
		return 0, fmt.Errorf("load event cursor: %w", err)
	}
	for _, k := range known {
		cursor = max(cursor, k)
	}
	return cursor, nil
}

// checkGap compares the cursor with the engine's replay buffer and records
// a gap when the engine can no longer replay everything after the cursor.
// It returns the engine's clock.
func (a *Activities) checkGap(ctx context.Context, cli *client.Client, env store.Environment, cursor int64) (engineNow int64, gap bool, err error) {
	ring, err := engine.ReadRing(ctx, cli)
	if err != nil {
		return 0, false, fmt.Errorf("read the event buffer of %s: %w", env.Name, err)
	}
	seenBefore, err := a.Store.RingSeen(ctx, env.ID)
	if err != nil {
		return 0, false, err
	}
	if err := a.Store.SetRingSeen(ctx, env.ID, ring.Len > 0); err != nil {
		return 0, false, err
	}
	engineNow = ring.EngineNow
	g := engine.DetectGap(cursor, ring, seenBefore)
	if g == nil {
		return engineNow, false, nil
	}
	inserted, err := a.Store.RecordGap(ctx, store.EventGap{
		EnvironmentID: env.ID, FromNano: g.From, ToNano: g.To, Reason: g.Reason,
	})
	if err != nil {
		return 0, false, fmt.Errorf("record event gap: %w", err)
	}
	if inserted {
		telemetry.FromContext(ctx).EventGap(env.Name)
	}
	envLogger(ctx, env).Warn("Event gap recorded",
		"From", time.Unix(0, g.From).UTC(), "To", time.Unix(0, g.To).UTC(), "Reason", g.Reason)
	return engineNow, true, nil
}

// PollEvents reads once the events since the cursor up to the engine's own
// clock (so clock skew between worker and engine loses nothing), stores the
// kept ones, and returns the engine time it read up to as the next cursor.
func (a *Activities) PollEvents(ctx context.Context, in workflows.PollEventsInput) (workflows.PollEventsResult, error) {
	var res workflows.PollEventsResult
	env, err := a.environment(ctx, in.EnvironmentID)
	if err != nil {
		return res, err
	}
	cli, release, err := a.connect(ctx, env)
	if err != nil {
		return res, err
	}
	defer release()
	cursor, err := a.resumeCursor(ctx, env.ID, in.Cursor)
	if err != nil {
		return res, err
	}
	until, gap, err := a.checkGap(ctx, cli, env, cursor)
	if err != nil {
		return res, err
	}
	res.Gap = gap
	since := cursor
	if since == 0 {
		since = until - firstReadLookback.Nanoseconds()
	}

	var batch []store.ContainerEvent
	derive := eventDrafts(env.ID, env.Name)
	flush := func(upTo int64) error {
		wctx, cancel := context.WithTimeout(ctx, storeTimeout)
		n, ids, err := a.Store.InsertEventsNotify(wctx, env.ID, batch, upTo, derive)
		cancel()
		if err != nil {
			return storeError(ctx, "store events", "of "+env.Name, err)
		}
		a.startDeliveries(ctx, ids)
		telemetry.FromContext(ctx).EventsStored(env.Name, n, len(batch)-n)
		res.Stored += n
		res.Duplicates += len(batch) - n
		batch = batch[:0]
		return nil
	}
	err = engine.ReadEvents(ctx, cli, engine.EventsQuery{Since: since, Until: until, Filtered: true},
		func(e engine.Event) error {
			if keep, _ := a.Events.filter().Keep(e); !keep {
				res.Filtered++
				return nil
			}
			batch = append(batch, eventRow(env.ID, e))
			if len(batch) >= a.Events.batchSize() {
				return flush(e.TimeNano)
			}
			return nil
		},
		func([]byte) {
			res.Malformed++
			telemetry.FromContext(ctx).EventsMalformed(env.Name, 1)
		})
	if err != nil {
		return res, fmt.Errorf("read events of %s: %w", env.Name, err)
	}
	if err := flush(until); err != nil {
		return res, err
	}
	if res.Stored+res.Duplicates+res.Filtered > 0 {
		if err := a.Store.SetRingSeen(ctx, env.ID, true); err != nil {
			return res, err
		}
	}
	res.Cursor = until
	if res.Malformed > 0 {
		telemetry.ActivityLogger(ctx, env.ID.String(), env.Name).Warn("Malformed event lines skipped", "Count", res.Malformed)
	}
	return res, nil
}

// errStreamEnded is returned when the engine closed the stream: the retry
// policy reconnects with backoff.
var errStreamEnded = errors.New("event stream ended")

// StreamEvents follows an environment's event stream until the workflow
// cancels it, storing kept events in small batches together with the
// cursor. It heartbeats on a timer (not only when events arrive) with its
// progress; after a crash or a cut connection the retry resumes from the
// newest of the heartbeat cursor and the stored cursor, with since, and the
// store's unique key drops the overlap. On cancellation it stores what it
// holds and returns its progress (the workflow hands the cursor over); when
// its worker stops it fails instead, so that another worker takes over.
//
// With a Completer (worker.New sets one) the stream is detached: once
// connected, the activity returns activity.ErrResultPending and the stream
// goes on outside the SDK's activity task, heartbeating and completing
// through the client (see detached.go). A worker then holds, per stream,
// one reading goroutine and its connection instead of also the SDK's task,
// its goroutines and its slot.
func (a *Activities) StreamEvents(ctx context.Context, in workflows.StreamEventsInput) (workflows.StreamProgress, error) {
	var progress workflows.StreamProgress
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &progress)
	}
	env, err := a.environment(ctx, in.EnvironmentID)
	if err != nil {
		return progress, err
	}
	cli, release, err := a.connect(ctx, env)
	if err != nil {
		return progress, err
	}
	cursor, err := a.resumeCursor(ctx, env.ID, in.Cursor, progress.Cursor)
	if err != nil {
		release()
		return progress, err
	}
	engineNow, gap, err := a.checkGap(ctx, cli, env, cursor)
	if err != nil {
		release()
		return progress, err
	}
	if gap {
		progress.Gaps++
	}
	since := cursor
	if since == 0 {
		since = engineNow - firstReadLookback.Nanoseconds()
	}
	progress.Cursor = max(progress.Cursor, cursor)
	s := &eventStream{
		a: a, cli: cli, env: env, derive: eventDrafts(env.ID, env.Name),
		progress: progress, batchCursor: progress.Cursor,
	}
	if a.detaches(ctx) {
		if err := a.detach(ctx, s, since, release); err != nil {
			return progress, err
		}
		return progress, activity.ErrResultPending
	}
	defer release()
	activity.RecordHeartbeat(ctx, progress)
	var cancel context.CancelCauseFunc
	s.ctx, cancel = context.WithCancelCause(ctx)
	defer cancel(nil)
	// The read runs on a fresh goroutine rather than this one, whose stack
	// is already deep (the SDK's frames): a blocked read on top of it would
	// keep a stack twice the size of the two apart.
	type outcome struct {
		progress workflows.StreamProgress
		err      error
	}
	done := make(chan outcome, 1)
	go func() {
		p, err := s.follow(activity.GetWorkerStopChannel(ctx), since)
		done <- outcome{p, err}
	}()
	o := <-done
	return o.progress, o.err
}

// follow reads the stream from since until it ends, storing what it reads,
// and returns the activity's outcome. It runs on a goroutine of its own.
func (s *eventStream) follow(workerStop <-chan struct{}, since int64) (workflows.StreamProgress, error) {
	// Events are read here, and batched, stored and heartbeated from
	// short-lived timer goroutines: an idle stream holds no ticker (a
	// worker follows one stream per environment).
	readCtx, stopReading := context.WithCancel(s.ctx)
	defer stopReading()
	s.stopRead = stopReading
	defer s.a.streams.track(workerStop, s, stopReading)()
	s.mu.Lock() // beat reads s.heartbeat under the lock: it may fire first
	s.heartbeat = time.AfterFunc(s.heartbeatInterval(), s.beat)
	s.mu.Unlock()
	readFrom := time.Now()
	readErr := engine.ReadEvents(readCtx, s.cli, engine.EventsQuery{Since: since, Filtered: true}, s.add, s.malformedLine)
	s.mu.Lock()
	s.progressed = time.Since(readFrom) >= workflows.StreamRetryInitialInterval || s.batchCursor > since
	s.mu.Unlock()
	stopReading()
	progress, err := s.finish()
	if err != nil {
		return progress, err
	}
	// The reader stopped: the engine closed the stream, the connection
	// broke, or the context ended.
	return s.stopped(workerStop, progress, readErr)
}

// eventStream is what one StreamEvents holds between its reads and its
// writes: the events read and not yet stored, and the progress stored.
type eventStream struct {
	a      *Activities
	ctx    context.Context
	cli    *client.Client
	env    store.Environment
	derive store.EventDeriver

	mu          sync.Mutex
	batch       []store.ContainerEvent
	batchCursor int64 // the newest event read, kept or not
	progress    workflows.StreamProgress
	malformed   int64
	ringMarked  bool
	flushArmed  bool
	flusher     *time.Timer // flushes a batch flushInterval after its first event
	heartbeat   *time.Timer // re-armed by each beat
	closed      bool
	// failed is the first store error: it stops the read and fails the
	// activity (the retry resumes from the stored cursor).
	failed   error
	stopRead context.CancelFunc
	// progressed: the last read of the engine's stream read events or
	// lasted StreamRetryInitialInterval.
	progressed bool

	// A detached stream's (nil token: run inside its activity): its task
	// token, how often it heartbeats, and the end of its context with a
	// cause (errCancelRequested, errActivityGone, …).
	token     []byte
	beatEvery time.Duration
	end       context.CancelCauseFunc

	// The engine drops the events of a live reader that lags behind (a full
	// 1,024-event buffer for more than 100 ms): lagFrom is the newest event
	// read before this stream's reader was held up longer than that (0:
	// never held up since the last check). After the next store, the
	// engine's replay buffer from there is read again: what the live stream
	// missed is stored (counted as recovered), and what the buffer no
	// longer holds is recorded as a gap.
	lagFrom   int64
	verifying bool
	verifies  sync.WaitGroup
}

// lagThreshold is how long the reader may be held up before the engine
// may have dropped events for it (dockerd's subscriber timeout).
const lagThreshold = 100 * time.Millisecond

// verifyTimeout bounds a replay check (a read of at most 256 events and
// one write).
const verifyTimeout = 30 * time.Second

// add takes one event read (the reading goroutine). A store error stops
// the read.
func (s *eventStream) add(e engine.Event) error {
	waitFrom := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(waitFrom) > lagThreshold {
		s.lagged(s.batchCursor)
	}
	if s.failed != nil {
		return s.failed
	}
	if !s.ringMarked {
		// The buffer holds events now: an empty one later means a restart.
		if err := s.a.Store.SetRingSeen(s.ctx, s.env.ID, true); err != nil {
			if cerr := s.ctx.Err(); cerr != nil {
				return cerr
			}
			s.failed = storeError(s.ctx, "mark event buffer", "of "+s.env.Name, err)
			return s.failed
		}
		s.ringMarked = true
	}
	s.batchCursor = max(s.batchCursor, e.TimeNano)
	if keep, _ := s.a.Events.filter().Keep(e); keep {
		s.batch = append(s.batch, eventRow(s.env.ID, e))
	}
	if len(s.batch) >= s.a.Events.batchSize() {
		// This flush holds the reader up too.
		before, flushFrom := s.progress.Cursor, time.Now()
		if err := s.flushLocked(s.ctx); err != nil {
			if cerr := s.ctx.Err(); cerr != nil {
				return cerr // ending: finish stores the batch
			}
			s.failed = err
			return err
		}
		if time.Since(flushFrom) > lagThreshold {
			s.lagged(before)
		}
		s.verifyLocked()
		return nil
	}
	if !s.flushArmed {
		s.flushArmed = true
		if s.flusher == nil {
			s.flusher = time.AfterFunc(s.a.Events.flushInterval(), s.timedFlush)
		} else {
			s.flusher.Reset(s.a.Events.flushInterval())
		}
	}
	return nil
}

// malformedLine counts a line the engine sent that is not an event.
func (s *eventStream) malformedLine([]byte) {
	s.mu.Lock()
	s.malformed++
	s.mu.Unlock()
	telemetry.FromContext(s.ctx).EventsMalformed(s.env.Name, 1)
}

// timedFlush stores the batch flushInterval after its first event (a
// timer goroutine). A store error stops the read.
func (s *eventStream) timedFlush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushArmed = false
	if s.closed || s.failed != nil {
		return
	}
	if err := s.flushLocked(s.ctx); err != nil {
		if s.ctx.Err() == nil { // ending: finish stores the batch
			s.failed = err
			s.stopRead()
		}
		return
	}
	s.verifyLocked()
}

// lagged notes that the reader was held up after reading up to cursor.
// s.mu is held.
func (s *eventStream) lagged(cursor int64) {
	if s.lagFrom == 0 && cursor > 0 {
		s.lagFrom = cursor
	}
}

// verifyLocked starts the replay check of a lag once what was read is
// stored, one check at a time. s.mu is held.
func (s *eventStream) verifyLocked() {
	if s.lagFrom == 0 || s.verifying || s.closed || s.progress.Cursor <= s.lagFrom {
		return
	}
	from := s.lagFrom
	s.lagFrom, s.verifying = 0, true
	s.verifies.Go(func() {
		err := s.verify(from)
		s.mu.Lock()
		s.verifying = false
		s.mu.Unlock()
		if err != nil && s.ctx.Err() == nil {
			envLogger(s.ctx, s.env).Warn("Event replay check failed", "Error", err)
		}
	})
}

// verify reads the engine's events from from (on the engine's clock) up to
// the engine's now again, from its replay buffer (the last 256 events), and
// stores what the live stream missed (the store drops what it has); when
// the buffer no longer reaches back to from, the stretch it lost is
// recorded as a gap.
func (s *eventStream) verify(from int64) error {
	ctx, cancel := context.WithTimeout(s.ctx, verifyTimeout)
	defer cancel()
	until, _, err := s.a.checkGap(ctx, s.cli, s.env, from)
	if err != nil {
		return err
	}
	var replayed []store.ContainerEvent
	err = engine.ReadEvents(ctx, s.cli, engine.EventsQuery{Since: from, Until: until, Filtered: true},
		func(e engine.Event) error {
			if keep, _ := s.a.Events.filter().Keep(e); keep {
				replayed = append(replayed, eventRow(s.env.ID, e))
			}
			return nil
		}, nil)
	if err != nil {
		return fmt.Errorf("replay events of %s: %w", s.env.Name, err)
	}
	// Cursor 0: the stored cursor stays where the live stream put it.
	n, ids, err := s.a.Store.InsertEventsNotify(ctx, s.env.ID, replayed, 0, s.derive)
	if err != nil {
		return storeError(s.ctx, "store events", "of "+s.env.Name, err)
	}
	s.a.startDeliveries(s.ctx, ids)
	if n > 0 {
		telemetry.FromContext(s.ctx).EventsRecovered(s.env.Name, n)
		envLogger(s.ctx, s.env).Warn(
			"The engine dropped events of the live stream; recovered from its replay buffer", "Recovered", n)
		s.mu.Lock()
		s.progress.Stored += int64(n)
		s.mu.Unlock()
	}
	return nil
}

// flushLocked stores the batch and the cursor in one transaction, bounded
// well under the heartbeat timeout whatever ctx allows. s.mu is held.
func (s *eventStream) flushLocked(ctx context.Context) error {
	if s.batchCursor <= s.progress.Cursor && len(s.batch) == 0 {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, storeTimeout)
	n, ids, err := s.a.Store.InsertEventsNotify(wctx, s.env.ID, s.batch, s.batchCursor, s.derive)
	cancel()
	if err != nil {
		return storeError(ctx, "store events", "of "+s.env.Name, err)
	}
	s.a.startDeliveries(ctx, ids)
	telemetry.FromContext(ctx).EventsStored(s.env.Name, n, len(s.batch)-n)
	s.progress.Stored += int64(n)
	s.progress.Cursor = s.batchCursor
	// Not batch[:0]: an idle stream should not keep its last events
	// (their attribute maps) alive.
	s.batch = nil
	return nil
}

// snapshotLocked is the progress to report. s.mu is held.
func (s *eventStream) snapshotLocked() workflows.StreamProgress {
	p := s.progress
	p.Malformed += s.malformed
	return p
}

// beat records the progress (with the SDK, which sends at most one
// heartbeat per throttle interval, or, detached, through the client) and
// re-arms itself.
func (s *eventStream) beat() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	p := s.snapshotLocked()
	s.mu.Unlock()
	if s.token == nil {
		activity.RecordHeartbeat(s.ctx, p)
	} else {
		s.detachedBeat(p)
	}
	s.mu.Lock()
	if !s.closed {
		s.heartbeat.Reset(s.heartbeatInterval())
	}
	s.mu.Unlock()
}

// heartbeatInterval is how often the stream heartbeats.
func (s *eventStream) heartbeatInterval() time.Duration {
	if s.beatEvery > 0 {
		return s.beatEvery
	}
	return s.a.Events.heartbeatInterval()
}

// finish stops the timers, stores what was read (also after a cancel) and
// records the final progress. It returns the first store error.
func (s *eventStream) finish() (workflows.StreamProgress, error) {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.verifies.Wait() // a replay check ends with the stream's context
	s.mu.Lock()
	defer s.mu.Unlock()
	s.heartbeat.Stop()
	if s.flusher != nil {
		s.flusher.Stop()
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), storeTimeout)
	defer cancel()
	err := s.flushLocked(wctx)
	p := s.snapshotLocked()
	if s.token == nil {
		activity.RecordHeartbeat(s.ctx, p)
	}
	if s.failed != nil {
		return p, s.failed
	}
	return p, err
}

// stopped turns the way a stream ended into the activity's outcome: a
// cancellation by the workflow completes with the progress; a stopping
// worker, a cut connection or a closed stream fail so the retry policy
// resumes it (elsewhere, with backoff).
func (s *eventStream) stopped(workerStop <-chan struct{}, progress workflows.StreamProgress, readErr error) (workflows.StreamProgress, error) {
	select {
	case <-workerStop:
		return progress, temporal.NewApplicationError("worker stopping", "WorkerStopping")
	default:
	}
	if err := s.ctx.Err(); err != nil {
		cause := context.Cause(s.ctx)
		switch {
		case errors.Is(cause, errActivityGone), errors.Is(cause, activity.ErrActivityPaused), errors.Is(cause, activity.ErrActivityReset):
			return progress, cause
		case errors.Is(err, context.Canceled):
			return progress, nil // cancelled by the workflow: hand the cursor over
		}
		return progress, err
	}
	if readErr == nil {
		readErr = errStreamEnded
	}
	if s.progressed {
		// A stream that read events or ran for a while, then broke (an
		// engine or agent restart), is a new failure: retry after the first
		// interval, not after the backoff its earlier attempts built up. A
		// stream that keeps failing at once still backs off.
		return progress, temporal.NewApplicationErrorWithOptions(
			fmt.Sprintf("event stream of %s: %s", s.env.Name, readErr.Error()), "StreamBroken",
			temporal.ApplicationErrorOptions{Cause: readErr, NextRetryDelay: workflows.StreamRetryInitialInterval})
	}
	return progress, fmt.Errorf("event stream of %s: %w", s.env.Name, readErr)
}

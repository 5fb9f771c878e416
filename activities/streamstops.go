package activities

import (
	"context"
	"sync"
)

// streamStops ends the running event streams as soon as their worker
// starts stopping, instead of when the worker's stop timeout cancels them:
// a stream then fails with WorkerStopping and its retry resumes at once on
// another worker, and the worker stops without waiting. One goroutine per
// worker watches its stop channel (not one per stream).
type streamStops struct {
	mu      sync.Mutex
	workers map[<-chan struct{}]*workerStreams

	// detached counts the detached streams running (admit, done); idle is
	// signalled when it drops to zero.
	detached int
	idle     *sync.Cond
}

// workerStreams are the running streams of one worker.
type workerStreams struct {
	stopping bool
	stops    map[*eventStream]context.CancelFunc
}

// track registers the stream s of the worker whose stop channel is ch;
// stop ends it. The returned function unregisters it.
func (r *streamStops) track(ch <-chan struct{}, s *eventStream, stop context.CancelFunc) (untrack func()) {
	if ch == nil {
		return func() {}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.workers == nil {
		r.workers = make(map[<-chan struct{}]*workerStreams)
	}
	w, ok := r.workers[ch]
	if !ok {
		w = &workerStreams{stops: make(map[*eventStream]context.CancelFunc)}
		r.workers[ch] = w
		go r.watch(ch, w)
	}
	if w.stopping {
		stop()
		return func() {}
	}
	w.stops[s] = stop
	return func() {
		r.mu.Lock()
		delete(w.stops, s)
		r.mu.Unlock()
	}
}

// watch ends every stream of w when its worker starts stopping.
func (r *streamStops) watch(ch <-chan struct{}, w *workerStreams) {
	<-ch
	r.mu.Lock()
	defer r.mu.Unlock()
	w.stopping = true
	for s, stop := range w.stops {
		stop()
		delete(w.stops, s)
	}
}

// admit counts one more detached stream, unless limit (> 0) already run.
func (r *streamStops) admit(limit int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if limit > 0 && r.detached >= limit {
		return false
	}
	r.detached++
	return true
}

// done counts a detached stream that has completed.
func (r *streamStops) done() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.detached--
	if r.detached == 0 && r.idle != nil {
		r.idle.Broadcast()
	}
}

// wait returns once no detached stream runs, or when ctx ends.
func (r *streamStops) wait(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.idle == nil {
		r.idle = sync.NewCond(&r.mu)
	}
	stop := context.AfterFunc(ctx, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.idle.Broadcast()
	})
	defer stop()
	for r.detached > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		r.idle.Wait()
	}
	return nil
}

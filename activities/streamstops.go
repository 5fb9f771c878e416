package activities

import (
	"context"
	"sync"

	"go.temporal.io/sdk/activity"
)

// streamStops ends the running event streams as soon as their worker
// starts stopping, instead of when the worker's stop timeout cancels them:
// a stream then fails with WorkerStopping and its retry resumes at once on
// another worker, and the worker stops without waiting. One goroutine per
// worker watches its stop channel (not one per stream).
type streamStops struct {
	mu      sync.Mutex
	workers map[<-chan struct{}]*workerStreams
}

// workerStreams are the running streams of one worker.
type workerStreams struct {
	stopping bool
	stops    map[*eventStream]context.CancelFunc
}

// track registers the stream s of the activity of ctx; stop ends it. The
// returned function unregisters it.
func (r *streamStops) track(ctx context.Context, s *eventStream, stop context.CancelFunc) (untrack func()) {
	ch := activity.GetWorkerStopChannel(ctx)
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

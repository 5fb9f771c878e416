package fakeengine

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures the engines of a fleet; zero fields take their
// defaults.
type Options struct {
	Containers int           // running containers per engine (default 10)
	StatsTick  time.Duration // the daemon's stats collector period (default 1s): a stats read (stream=false, with or without one-shot) answers at the NEXT shared tick, as dockerd does
	NCPU       int           // /info NCPU (default 2)
	MemTotal   int64         // /info MemTotal bytes (default 8 GiB)
	EventEvery time.Duration // if > 0, each engine emits a synthetic container event sequence (kill, die(exitCode), stop, start, restart of a random container) about this often, jittered per engine; 0 = no events except Emit
	Seed       int64         // deterministic figures/jitter
	// Phases makes each engine publish its stats at its own phase of the
	// tick (spread evenly over StatsTick by engine index), as independent
	// daemons do, instead of every engine at the same instant; the figures
	// are those of the shared tick either way.
	Phases bool
}

func (o Options) withDefaults() Options {
	if o.Containers <= 0 {
		o.Containers = 10
	}
	if o.StatsTick <= 0 {
		o.StatsTick = time.Second
	}
	if o.NCPU <= 0 {
		o.NCPU = 2
	}
	if o.MemTotal <= 0 {
		o.MemTotal = 8 << 30
	}
	return o
}

// Fleet is a set of fake engines sharing one stats ticker.
type Fleet struct {
	opts    Options
	start   time.Time // the fleet's tick 0; counters are functions of the time since
	engines []*Engine

	cur        atomic.Pointer[tick]
	quit       chan struct{}
	tickerDone chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// tick is one publish of the shared stats collector. A reader takes the
// current tick, waits for done, and answers with next.
type tick struct {
	n       int64
	at      time.Time // wall time of the sample, UTC
	elapsed int64     // ns since the fleet's start (monotonic)
	done    chan struct{}
	next    *tick // set before done is closed
}

// StartFleet starts n engines, each on its own 127.0.0.1:0 listener, and the
// one ticker they share.
func StartFleet(n int, o Options) (*Fleet, error) {
	if n <= 0 {
		return nil, fmt.Errorf("fakeengine: %d engines", n)
	}
	o = o.withDefaults()
	now := time.Now()
	f := &Fleet{
		opts:       o,
		start:      now,
		engines:    make([]*Engine, 0, n),
		quit:       make(chan struct{}),
		tickerDone: make(chan struct{}),
	}
	f.cur.Store(&tick{at: now.UTC(), done: make(chan struct{})})
	for i := range n {
		e, err := newEngine(f, i)
		if err != nil {
			for _, e := range f.engines {
				_ = e.close()
			}
			return nil, fmt.Errorf("fakeengine: engine %d: %w", i, err)
		}
		f.engines = append(f.engines, e)
	}
	for _, e := range f.engines {
		e.serve()
	}
	go f.run()
	return f, nil
}

// Start starts a fleet of one engine; its Close closes the fleet.
func Start(o Options) (*Engine, error) {
	f, err := StartFleet(1, o)
	if err != nil {
		return nil, err
	}
	e := f.engines[0]
	e.solo = true
	return e, nil
}

// Engines returns the fleet's engines, in start order.
func (f *Fleet) Engines() []*Engine {
	return append([]*Engine(nil), f.engines...)
}

// Close closes every engine (listeners, connections, streams, pending stats
// reads), waits for their handlers, and stops the ticker. It leaves no
// goroutine of its own behind.
func (f *Fleet) Close() error {
	f.closeOnce.Do(func() {
		var errs []error
		for _, e := range f.engines {
			if err := e.close(); err != nil {
				errs = append(errs, err)
			}
		}
		close(f.quit)
		<-f.tickerDone
		f.closeErr = errors.Join(errs...)
	})
	return f.closeErr
}

// run is the shared ticker: it publishes a stats tick and fires the
// synthetic events that are due.
func (f *Fleet) run() {
	defer close(f.tickerDone)
	t := time.NewTicker(f.opts.StatsTick)
	defer t.Stop()
	if f.opts.EventEvery > 0 {
		for _, e := range f.engines {
			e.scheduleFirstEvent(f.start)
		}
	}
	for {
		select {
		case <-f.quit:
			return
		case now := <-t.C:
			f.advance(now)
			if f.opts.EventEvery > 0 {
				for _, e := range f.engines {
					e.syntheticDue(now)
				}
			}
		}
	}
}

// advance publishes the tick at now and wakes every reader of the previous
// one.
func (f *Fleet) advance(now time.Time) {
	cur := f.cur.Load()
	elapsed := now.Sub(f.start).Nanoseconds()
	if elapsed <= cur.elapsed {
		elapsed = cur.elapsed + 1
	}
	next := &tick{n: cur.n + 1, at: now.UTC(), elapsed: elapsed, done: make(chan struct{})}
	cur.next = next
	f.cur.Store(next)
	close(cur.done)
}

package agent

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Schedule is a reconnection delay schedule: Base after the first failure,
// doubling with each consecutive one, never above Max.
type Schedule struct {
	Base, Max time.Duration
}

// The agent's two schedules. A transient failure (network error, an answer
// other than 101 or 401) retries from 1 s up to a minute; a refused token
// (401) from 30 s up to 10 minutes, so that a revoked agent costs the API
// at most a request every few minutes and never a tight loop.
var (
	TransientSchedule = Schedule{Base: time.Second, Max: time.Minute}
	RefusedSchedule   = Schedule{Base: 30 * time.Second, Max: 10 * time.Minute}
)

// StableSession is how long a session must have lived for the transient
// schedule to start again from its base.
const StableSession = 30 * time.Second

// Delay returns the delay after the n-th consecutive failure (n >= 1),
// without jitter.
func (s Schedule) Delay(n int) time.Duration {
	d := s.Base
	for i := 1; i < n && d < s.Max; i++ {
		d *= 2
	}
	return min(d, s.Max)
}

// Jittered returns Delay(n) less up to a fifth at random, so that agents
// cut off together do not come back together. Successive delays still
// grow until Max: 0.8 × 2d > d.
func (s Schedule) Jittered(n int) time.Duration {
	d := s.Delay(n)
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// backoff counts consecutive failures of each kind.
type backoff struct {
	transient, refused int
}

// next returns the delay before the next attempt after a session that
// lived for lived (0: not established) and ended with err. A refused token
// follows RefusedSchedule; anything else TransientSchedule, from its base
// again after a session of StableSession or more. An established session
// proves the token, so it ends a run of refusals.
func (b *backoff) next(err error, lived time.Duration) time.Duration {
	if lived > 0 {
		b.refused = 0
	}
	if errors.Is(err, ErrTokenRefused) {
		b.refused++
		return RefusedSchedule.Jittered(b.refused)
	}
	if lived >= StableSession {
		b.transient = 0
	}
	b.transient++
	return TransientSchedule.Jittered(b.transient)
}

package agent

import (
	"errors"
	"testing"
	"time"
)

func TestScheduleDelay(t *testing.T) {
	for _, c := range []struct {
		s    Schedule
		n    int
		want time.Duration
	}{
		{TransientSchedule, 1, time.Second},
		{TransientSchedule, 2, 2 * time.Second},
		{TransientSchedule, 6, 32 * time.Second},
		{TransientSchedule, 7, time.Minute},
		{TransientSchedule, 1000, time.Minute},
		{RefusedSchedule, 1, 30 * time.Second},
		{RefusedSchedule, 2, time.Minute},
		{RefusedSchedule, 5, 8 * time.Minute},
		{RefusedSchedule, 6, 10 * time.Minute},
		{RefusedSchedule, 1 << 20, 10 * time.Minute},
	} {
		if got := c.s.Delay(c.n); got != c.want {
			t.Errorf("%+v.Delay(%d) = %v, want %v", c.s, c.n, got, c.want)
		}
		for range 20 {
			if got := c.s.Jittered(c.n); got > c.want || got < c.want*4/5 {
				t.Errorf("%+v.Jittered(%d) = %v, want within [%v, %v]", c.s, c.n, got, c.want*4/5, c.want)
			}
		}
	}
}

// TestBackoffNext checks which schedule each outcome follows and when
// each starts again from its base.
func TestBackoffNext(t *testing.T) {
	var b backoff
	transient := errors.New("connection refused")
	steps := []struct {
		err      error
		lived    time.Duration
		schedule Schedule
		n        int
	}{
		{transient, 0, TransientSchedule, 1},
		{transient, 0, TransientSchedule, 2},
		{transient, 5 * time.Second, TransientSchedule, 3}, // a short session: still growing
		{transient, StableSession, TransientSchedule, 1},   // a stable one: from the base again
		{ErrTokenRefused, 0, RefusedSchedule, 1},
		{ErrTokenRefused, 0, RefusedSchedule, 2},
		{transient, 0, TransientSchedule, 2}, // the server restarting between refusals
		{ErrTokenRefused, 0, RefusedSchedule, 3},
		{transient, time.Second, TransientSchedule, 3}, // connected: the token works again
		{ErrTokenRefused, 0, RefusedSchedule, 1},
	}
	for i, s := range steps {
		got := b.next(s.err, s.lived)
		want := s.schedule.Delay(s.n)
		if got > want || got < want*4/5 {
			t.Errorf("step %d (%v, lived %v): delay %v, want %v less up to a fifth", i, s.err, s.lived, got, want)
		}
	}
}

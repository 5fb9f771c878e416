package engine_test

import (
	"testing"

	"github.com/windflow/monitor/internal/engine"
)

func TestDetectGap(t *testing.T) {
	const (
		cursor = int64(1795700427052902861)
		now    = cursor + 60e9
	)
	full := func(oldest int64) engine.Ring {
		return engine.Ring{Oldest: oldest, Len: engine.RingCapacity, EngineNow: now}
	}
	partial := func(oldest int64) engine.Ring { return engine.Ring{Oldest: oldest, Len: 7, EngineNow: now} }
	empty := func(engineNow int64) engine.Ring { return engine.Ring{EngineNow: engineNow} }
	cases := []struct {
		name   string
		cursor int64
		ring   engine.Ring
		seen   bool
		want   *engine.Gap
	}{
		{"first read, ring has events", 0, full(cursor), true, nil},
		{"first read, ring empty", 0, empty(now), true, nil},
		{"oldest before cursor", cursor, full(cursor - 1), true, nil},
		{"oldest at cursor", cursor, full(cursor), true, nil},
		{"oldest at cursor, ring not full", cursor, partial(cursor), true, nil},
		{"oldest after cursor, ring full: wrapped", cursor, full(cursor + 1), true,
			&engine.Gap{From: cursor, To: cursor + 1, Reason: engine.GapReasonRingWrapped}},
		{"oldest long after cursor, ring full", cursor, full(cursor + 30e9), true,
			&engine.Gap{From: cursor, To: cursor + 30e9, Reason: engine.GapReasonRingWrapped}},
		{"oldest after cursor, ring not full: restarted", cursor, partial(cursor + 5e9), false,
			&engine.Gap{From: cursor, To: cursor + 5e9, Reason: engine.GapReasonRestartedSince}},
		{"ring empty: engine restarted", cursor, empty(now), true,
			&engine.Gap{From: cursor, To: now, Reason: engine.GapReasonRestarted}},
		{"ring empty, engine clock behind cursor", cursor, empty(cursor - 5e9), true,
			&engine.Gap{From: cursor, To: cursor, Reason: engine.GapReasonRestarted}},
		{"ring empty, never seen holding events: idle engine", cursor, empty(now), false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := engine.DetectGap(tc.cursor, tc.ring, tc.seen)
			switch {
			case got == nil && tc.want == nil:
			case got == nil || tc.want == nil || *got != *tc.want:
				t.Errorf("DetectGap(%d, %+v, %v) = %+v, want %+v", tc.cursor, tc.ring, tc.seen, got, tc.want)
			}
		})
	}
	if engine.GapReasonRingWrapped != "engine event buffer no longer reaches back to the cursor" ||
		engine.GapReasonRestarted != "engine restarted: its event memory is empty" {
		t.Error("gap reasons differ from the contract")
	}
}

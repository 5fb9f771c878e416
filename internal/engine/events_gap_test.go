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
	cases := []struct {
		name           string
		cursor, oldest int64
		empty, seen    bool
		engineNow      int64
		want           *engine.Gap
	}{
		{"first read, ring has events", 0, cursor, false, true, now, nil},
		{"first read, ring empty", 0, 0, true, true, now, nil},
		{"oldest before cursor", cursor, cursor - 1, false, true, now, nil},
		{"oldest at cursor", cursor, cursor, false, true, now, nil},
		{"oldest after cursor: ring wrapped", cursor, cursor + 1, false, true, now,
			&engine.Gap{From: cursor, To: cursor + 1, Reason: engine.GapReasonRingWrapped}},
		{"oldest long after cursor", cursor, cursor + 30e9, false, true, now,
			&engine.Gap{From: cursor, To: cursor + 30e9, Reason: engine.GapReasonRingWrapped}},
		{"ring empty: engine restarted", cursor, 0, true, true, now,
			&engine.Gap{From: cursor, To: now, Reason: engine.GapReasonRestarted}},
		{"ring empty, engine clock behind cursor", cursor, 0, true, true, cursor - 5e9,
			&engine.Gap{From: cursor, To: cursor, Reason: engine.GapReasonRestarted}},
		{"ring empty, never seen holding events: idle engine", cursor, 0, true, false, now, nil},
		{"ring empty flag wins over oldest", cursor, cursor - 1, true, true, now,
			&engine.Gap{From: cursor, To: now, Reason: engine.GapReasonRestarted}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := engine.DetectGap(tc.cursor, tc.oldest, tc.empty, tc.seen, tc.engineNow)
			switch {
			case got == nil && tc.want == nil:
			case got == nil || tc.want == nil || *got != *tc.want:
				t.Errorf("DetectGap(%d, %d, %v, %v, %d) = %+v, want %+v", tc.cursor, tc.oldest, tc.empty, tc.seen, tc.engineNow, got, tc.want)
			}
		})
	}
	if engine.GapReasonRingWrapped != "engine event buffer no longer reaches back to the cursor" ||
		engine.GapReasonRestarted != "engine restarted: its event memory is empty" {
		t.Error("gap reasons differ from the contract")
	}
}

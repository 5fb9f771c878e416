package main

import (
	"log/slog"
	"os"
	"runtime/debug"
)

// workerGCPercent is the garbage collector's target (GOGC) of the worker
// and dev processes when the environment sets none.
//
// A worker's memory is mostly long-lived: every environment it follows
// keeps a cached workflow (its state and a 16 KB coroutine stack) and an
// event stream (a goroutine, its buffers and connection). With Go's
// default of 100 the heap may grow to twice what is live, stacks included,
// before a collection: at 1,000 environments ~185 MB of RSS for ~90 MB
// live. At 40 the collector runs more often over the same live set and
// the headroom shrinks; the allocation rate is low (a cycle every 30 s per
// environment), so it costs a few points of one core. Measured with the
// scale harness (docs/capacity.md). GOGC, when set, wins, as does
// GOMEMLIMIT for a hard budget.
const workerGCPercent = 40

// tuneGC sets the collector's target to workerGCPercent unless GOGC is set
// (an empty GOGC is Go's default, 100, and counts as unset).
func tuneGC() {
	if v := os.Getenv("GOGC"); v != "" {
		slog.Info("garbage collector", "GOGC", v, "setting", "GOGC")
		return
	}
	debug.SetGCPercent(workerGCPercent)
	slog.Info("garbage collector", "GOGC", workerGCPercent, "default", true, "setting", "GOGC")
}

package main

import (
	"os"
	"runtime/debug"
	"testing"
)

// gcPercent returns the collector's current target.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestTuneGC(t *testing.T) {
	saved, hadGOGC := os.LookupEnv("GOGC")
	restorePercent := gcPercent()
	t.Cleanup(func() {
		debug.SetGCPercent(restorePercent)
		if hadGOGC {
			os.Setenv("GOGC", saved)
		} else {
			os.Unsetenv("GOGC")
		}
	})

	for _, c := range []struct {
		name, gogc string
		unset      bool
		want       int
	}{
		{name: "unset: the worker's default", unset: true, want: workerGCPercent},
		{name: "empty: unset", gogc: "", want: workerGCPercent},
		// GOGC is read by the runtime at start; tuneGC leaves it alone.
		{name: "set: left as it is", gogc: "80", want: 77},
	} {
		t.Run(c.name, func(t *testing.T) {
			debug.SetGCPercent(77)
			if c.unset {
				os.Unsetenv("GOGC")
			} else {
				os.Setenv("GOGC", c.gogc)
			}
			tuneGC()
			if got := gcPercent(); got != c.want {
				t.Errorf("GC percent = %d, want %d", got, c.want)
			}
		})
	}
}

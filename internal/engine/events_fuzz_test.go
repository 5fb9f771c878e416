package engine_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/windflow/monitor/internal/engine"
)

// FuzzDecodeEvent checks that DecodeEvent never panics, that its errors wrap
// ErrMalformedEvent, that a decoded event is consistent, and that Keep never
// panics on it. Its corpus is every recorded line plus broken ones.
func FuzzDecodeEvent(f *testing.F) {
	for _, name := range []string{recUnfiltered, recFiltered, recHealthOnly} {
		for _, l := range eventLines(f, name) {
			f.Add([]byte(l))
		}
	}
	for _, s := range []string{
		"", "null", "{}", "[]", `{"Type":"container"`, `{"time":1}`, `{"timeNano":-1,"time":9223372036}`,
		`{"Type":"container","Action":"die","Actor":{"ID":"x","Attributes":{"exitCode":"-1"}},"timeNano":1}`,
		`{"Type":"container","Action":":","Actor":null,"time":1795700427}`,
	} {
		f.Add([]byte(s))
	}
	filter := engine.DefaultEventFilter()
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := engine.DecodeEvent(line)
		if err != nil {
			if !errors.Is(err, engine.ErrMalformedEvent) {
				t.Fatalf("error %v does not wrap ErrMalformedEvent", err)
			}
			return
		}
		if e.TimeNano <= 0 || !e.Time.Equal(time.Unix(0, e.TimeNano)) {
			t.Fatalf("TimeNano %d, Time %v", e.TimeNano, e.Time)
		}
		if e.Attributes == nil {
			t.Fatal("Attributes nil")
		}
		if strings.Contains(e.BaseAction, ":") || e.BaseAction != strings.TrimSpace(e.BaseAction) ||
			!strings.HasPrefix(strings.TrimSpace(e.Action), e.BaseAction) {
			t.Fatalf("BaseAction %q of %q", e.BaseAction, e.Action)
		}
		if e.ExitCode != nil && e.BaseAction != "die" {
			t.Fatalf("ExitCode on %q", e.Action)
		}
		keep, reason := filter.Keep(e)
		if keep == (reason != "") {
			t.Fatalf("Keep = %v, %q", keep, reason)
		}
	})
}

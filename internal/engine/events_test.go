package engine_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/windflow/monitor/internal/engine"
)

// The recordings in testdata/events come from Debian's dockerd 20.10.24
// (API 1.41); see testdata/events/README.md for how they were made.
const (
	recUnfiltered = "real_unfiltered.jsonl"
	recFiltered   = "real_filtered.jsonl"
	recHealthOnly = "real_filtered_health_only.jsonl"
)

// eventLines returns the non-empty lines of testdata/events/name.
func eventLines(t testing.TB, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// recorded returns the first line of the unfiltered recording whose name
// attribute starts with name and whose Action starts with action.
func recorded(t testing.TB, name, action string) string {
	t.Helper()
	for _, l := range eventLines(t, recUnfiltered) {
		var m struct {
			Action string
			Actor  struct{ Attributes map[string]string }
		}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(m.Actor.Attributes["name"], name) && strings.HasPrefix(m.Action, action) {
			return l
		}
	}
	t.Fatalf("no recorded event %s %s", name, action)
	return ""
}

// recordedType returns the first line of the unfiltered recording of type
// typ and action.
func recordedType(t testing.TB, typ, action string) string {
	t.Helper()
	for _, l := range eventLines(t, recUnfiltered) {
		var m struct{ Type, Action string }
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if m.Type == typ && m.Action == action {
			return l
		}
	}
	t.Fatalf("no recorded %s event %s", typ, action)
	return ""
}

// derive returns line (a recorded event) with edit applied to its decoded
// JSON: hand-made variants of real lines.
func derive(t testing.TB, line string, edit func(m map[string]any)) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// attrs returns the Actor.Attributes of a derived event's JSON.
func attrs(m map[string]any) map[string]any {
	return m["Actor"].(map[string]any)["Attributes"].(map[string]any)
}

func withImage(t testing.TB, line, image string) string {
	return derive(t, line, func(m map[string]any) { attrs(m)["image"] = image; m["from"] = image })
}

func withLabel(t testing.TB, line, key, value string) string {
	return derive(t, line, func(m map[string]any) { attrs(m)[key] = value })
}

func intp(n int) *int { return &n }

const digest = "sha256:0f1592fdc1333775c7a51b82b9290ac9fd6612fa15147fcc67608cae064f2017"

func TestDecodeAndKeep(t *testing.T) {
	create := recorded(t, "wf-evrec-life", "create")
	type want struct {
		typ, action, base string
		name, image       string
		exit              *int
		keep              bool
		reason            string
		noID              bool
	}
	kept := func(action string) want {
		base, _, _ := strings.Cut(action, ":")
		return want{typ: "container", action: action, base: base, keep: true}
	}
	dropped := func(action, reason string) want {
		base, _, _ := strings.Cut(action, ":")
		return want{typ: "container", action: action, base: strings.TrimSpace(base), reason: reason}
	}
	withExit := func(w want, code int) want { w.exit = intp(code); return w }
	named := func(w want, name, image string) want { w.name, w.image = name, image; return w }
	const bb = "windflow-test/busybox:latest"

	cases := []struct {
		name string
		line string
		want want
	}{
		// Every kept action, as recorded.
		{"create", create, named(kept("create"), "wf-evrec-life", bb)},
		{"start", recorded(t, "wf-evrec-life", "start"), kept("start")},
		{"pause", recorded(t, "wf-evrec-life", "pause"), kept("pause")},
		{"unpause", recorded(t, "wf-evrec-life", "unpause"), kept("unpause")},
		{"rename", recorded(t, "wf-evrec-life2", "rename"), named(kept("rename"), "wf-evrec-life2", bb)},
		{"update", recorded(t, "wf-evrec-life2", "update"), kept("update")},
		{"kill", recorded(t, "wf-evrec-life2", "kill"), kept("kill")},
		{"die after stop", recorded(t, "wf-evrec-life2", "die"), withExit(kept("die"), 137)},
		{"stop", recorded(t, "wf-evrec-life2", "stop"), kept("stop")},
		{"restart", recorded(t, "wf-evrec-life2", "restart"), kept("restart")},
		{"destroy", recorded(t, "wf-evrec-life2", "destroy"), kept("destroy")},
		{"die exit 3", recorded(t, "wf-evrec-exit", "die"), withExit(kept("die"), 3)},
		{"die after kill -9", recorded(t, "wf-evrec-kill", "die"), withExit(kept("die"), 137)},
		{"oom", recorded(t, "wf-evrec-oom", "oom"), kept("oom")},
		{"die after oom", recorded(t, "wf-evrec-oom", "die"), withExit(kept("die"), 137)},
		{"health_status: healthy", recorded(t, "wf-evrec-health", "health_status: healthy"), kept("health_status: healthy")},
		{"health_status: unhealthy", recorded(t, "wf-evrec-health", "health_status: unhealthy"), kept("health_status: unhealthy")},

		// Suffixed and other actions that are not kept.
		{"exec_create", recorded(t, "wf-evrec-health", "exec_create"), dropped("exec_create: /bin/sh -c test -f /tmp/ok", "action exec_create not kept")},
		{"exec_start", recorded(t, "wf-evrec-health", "exec_start"), dropped("exec_start: /bin/sh -c test -f /tmp/ok", "action exec_start not kept")},
		// exec_die carries an exitCode too: it is not the container's.
		{"exec_die", recorded(t, "wf-evrec-health", "exec_die"), dropped("exec_die", "action exec_die not kept")},
		{"attach", recorded(t, "wf-evrec-exit", "attach"), dropped("attach", "action attach not kept")},
		{"unknown suffixed action", derive(t, create, func(m map[string]any) { m["Action"] = "health_statusx: healthy" }), dropped("health_statusx: healthy", "action health_statusx not kept")},

		// Non-container types.
		{"network connect", recordedType(t, "network", "connect"), want{typ: "network", action: "connect", base: "connect", reason: "not a container event"}},
		{"network create", recordedType(t, "network", "create"), want{typ: "network", action: "create", base: "create", name: "wf-evrec-net", reason: "not a container event"}},
		{"image tag", recordedType(t, "image", "tag"), want{typ: "image", action: "tag", base: "tag", name: "anchore/grype:latest", reason: "not a container event"}},
		{"volume create", recordedType(t, "volume", "create"), want{typ: "volume", action: "create", base: "create", reason: "not a container event"}},

		// Scanner images: the four recorded, then tags and digests.
		{"scanner anchore/grype:latest", recorded(t, "wf-evrec-scan-anchore-grype", "create"), named(dropped("create", "scanner image"), "wf-evrec-scan-anchore-grype-latest", "anchore/grype:latest")},
		{"scanner aquasec/trivy:0.50.1", recorded(t, "wf-evrec-scan-aquasec-trivy", "create"), named(dropped("create", "scanner image"), "wf-evrec-scan-aquasec-trivy-0-50-1", "aquasec/trivy:0.50.1")},
		{"scanner ghcr.io/anchore/grype:v0.74.0", recorded(t, "wf-evrec-scan-ghcr-io-anchore-grype", "create"), named(dropped("create", "scanner image"), "wf-evrec-scan-ghcr-io-anchore-grype-v0-74-0", "ghcr.io/anchore/grype:v0.74.0")},
		{"scanner ghcr.io/aquasecurity/trivy", recorded(t, "wf-evrec-scan-ghcr-io-aquasecurity-trivy", "create"), named(dropped("create", "scanner image"), "wf-evrec-scan-ghcr-io-aquasecurity-trivy", "ghcr.io/aquasecurity/trivy")},
		{"scanner anchore/grype@digest", withImage(t, create, "anchore/grype@"+digest), named(dropped("create", "scanner image"), "wf-evrec-life", "anchore/grype@"+digest)},
		{"scanner aquasec/trivy:tag@digest", withImage(t, create, "aquasec/trivy:0.50.1@"+digest), dropped("create", "scanner image")},
		{"scanner ghcr.io/anchore/grype@digest", withImage(t, create, "ghcr.io/anchore/grype@"+digest), dropped("create", "scanner image")},
		{"scanner ghcr.io/aquasecurity/trivy:latest", withImage(t, create, "ghcr.io/aquasecurity/trivy:latest"), dropped("create", "scanner image")},
		{"scanner docker.io/aquasec/trivy", withImage(t, create, "docker.io/aquasec/trivy:latest"), dropped("create", "scanner image")},
		{"not scanner anchore/grype-db", withImage(t, create, "anchore/grype-db:latest"), kept("create")},
		{"not scanner aquasec/trivy-operator", withImage(t, create, "ghcr.io/aquasecurity/trivy-operator:0.1"), kept("create")},
		{"not scanner myorg/trivy", withImage(t, create, "myorg/trivy:latest"), kept("create")},
		{"not scanner other registry", withImage(t, create, "localhost:5000/aquasec/trivy:latest"), kept("create")},
		{"not scanner image id", withImage(t, create, digest), kept("create")},

		// Internal containers and the opt-out label.
		{"internal prefix", recorded(t, "windflow-internal-", "create"), named(dropped("create", "internal container"), "windflow-internal-evrec", bb)},
		{"opt-out label true", recorded(t, "wf-evrec-optout", "create"), dropped("create", "opted out by label")},
		{"opt-out label on destroy", recorded(t, "wf-evrec-optout", "destroy"), dropped("destroy", "opted out by label")},
		{"opt-out label 1", withLabel(t, create, "windflow.ignore", "1"), dropped("create", "opted out by label")},
		{"opt-out label YES", withLabel(t, create, "windflow.ignore", " YES "), dropped("create", "opted out by label")},
		{"opt-out label false", withLabel(t, create, "windflow.ignore", "false"), kept("create")},
		{"opt-out label empty", withLabel(t, create, "windflow.ignore", ""), kept("create")},

		// Missing pieces.
		{"missing Actor", derive(t, create, func(m map[string]any) { delete(m, "Actor"); delete(m, "id") }), want{typ: "container", action: "create", base: "create", reason: "no container id", noID: true}},
		{"Actor without attributes", derive(t, create, func(m map[string]any) { delete(m["Actor"].(map[string]any), "Attributes") }), kept("create")},
		{"die with bad exitCode", withLabel(t, recorded(t, "wf-evrec-exit", "die"), "exitCode", "x"), kept("die")},
		{"die without exitCode", derive(t, recorded(t, "wf-evrec-exit", "die"), func(m map[string]any) { delete(attrs(m), "exitCode") }), kept("die")},
	}
	f := engine.DefaultEventFilter()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := engine.DecodeEvent([]byte(tc.line))
			if err != nil {
				t.Fatalf("DecodeEvent: %v", err)
			}
			w := tc.want
			if e.Type != w.typ || e.Action != w.action || e.BaseAction != w.base {
				t.Errorf("Type/Action/BaseAction = %q/%q/%q, want %q/%q/%q", e.Type, e.Action, e.BaseAction, w.typ, w.action, w.base)
			}
			if w.name != "" && e.Name != w.name {
				t.Errorf("Name = %q, want %q", e.Name, w.name)
			}
			if w.image != "" && e.Image != w.image {
				t.Errorf("Image = %q, want %q", e.Image, w.image)
			}
			if (e.ExitCode == nil) != (w.exit == nil) || (e.ExitCode != nil && *e.ExitCode != *w.exit) {
				t.Errorf("ExitCode = %v, want %v", deref(e.ExitCode), deref(w.exit))
			}
			if (e.ContainerID == "") != w.noID {
				t.Errorf("ContainerID = %q", e.ContainerID)
			}
			if e.Attributes == nil {
				t.Error("Attributes nil")
			}
			if e.TimeNano <= 0 || !e.Time.Equal(time.Unix(0, e.TimeNano)) || e.Time.Location() != time.UTC {
				t.Errorf("TimeNano %d, Time %v", e.TimeNano, e.Time)
			}
			keep, reason := f.Keep(e)
			if keep != w.keep || reason != w.reason {
				t.Errorf("Keep = %v, %q; want %v, %q", keep, reason, w.keep, w.reason)
			}
		})
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestDecodeEventTime(t *testing.T) {
	line := recorded(t, "wf-evrec-life", "start")
	e, err := engine.DecodeEvent([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if e.TimeNano != 1795700427052902861 {
		t.Errorf("TimeNano = %d", e.TimeNano)
	}
	if got, want := e.Time, time.Date(2026, 11, 26, 13, 40, 27, 52902861, time.UTC); !got.Equal(want) {
		t.Errorf("Time = %v, want %v", got, want)
	}

	// Only "time" (seconds): TimeNano = time×1e9.
	onlySec := derive(t, line, func(m map[string]any) { delete(m, "timeNano") })
	e, err = engine.DecodeEvent([]byte(onlySec))
	if err != nil {
		t.Fatal(err)
	}
	if e.TimeNano != 1795700427*int64(time.Second) {
		t.Errorf("TimeNano from time = %d", e.TimeNano)
	}
}

func TestDecodeEventMalformed(t *testing.T) {
	start := recorded(t, "wf-evrec-life", "start")
	cases := map[string]string{
		"truncated":           start[:len(start)/2],
		"not json":            "event: start",
		"array":               "[]",
		"null":                "null",
		"empty object":        "{}",
		"no time":             derive(t, start, func(m map[string]any) { delete(m, "time"); delete(m, "timeNano") }),
		"zero times":          derive(t, start, func(m map[string]any) { m["time"] = 0; m["timeNano"] = 0 }),
		"time not a number":   derive(t, start, func(m map[string]any) { m["timeNano"] = "1795700427052902861" }),
		"time out of range":   derive(t, start, func(m map[string]any) { delete(m, "timeNano"); m["time"] = int64(1) << 40 }),
		"attribute not text":  derive(t, start, func(m map[string]any) { attrs(m)["exitCode"] = 3 }),
		"Actor not an object": derive(t, start, func(m map[string]any) { m["Actor"] = "abc" }),
	}
	for name, line := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := engine.DecodeEvent([]byte(line))
			if !errors.Is(err, engine.ErrMalformedEvent) {
				t.Errorf("DecodeEvent(%q) err = %v, want ErrMalformedEvent", line, err)
			}
		})
	}
}

func TestEventFilterSettings(t *testing.T) {
	internal, err := engine.DecodeEvent([]byte(recorded(t, "windflow-internal-", "create")))
	if err != nil {
		t.Fatal(err)
	}
	optout, err := engine.DecodeEvent([]byte(recorded(t, "wf-evrec-optout", "create")))
	if err != nil {
		t.Fatal(err)
	}
	team, err := engine.DecodeEvent([]byte(recorded(t, "wf-evrec-life", "create"))) // label com.example.team=ops
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		f      engine.EventFilter
		e      engine.Event
		reason string
	}{
		{"no prefix keeps internal", engine.EventFilter{OptOutLabel: "windflow.ignore"}, internal, ""},
		{"other prefix", engine.EventFilter{InternalPrefix: "wf-evrec-"}, team, "internal container"},
		{"no label keeps opted out", engine.EventFilter{InternalPrefix: "windflow-internal-"}, optout, ""},
		{"other label", engine.EventFilter{OptOutLabel: "windflow.test"}, team, "opted out by label"},
		{"label value not a yes", engine.EventFilter{OptOutLabel: "com.example.team"}, team, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			keep, reason := tc.f.Keep(tc.e)
			if keep != (tc.reason == "") || reason != tc.reason {
				t.Errorf("Keep = %v, %q; want reason %q", keep, reason, tc.reason)
			}
		})
	}
	if d := engine.DefaultEventFilter(); d.InternalPrefix != "windflow-internal-" || d.OptOutLabel != "windflow.ignore" {
		t.Errorf("DefaultEventFilter = %+v", d)
	}
}

// TestRecordingsAgreeWithServerFilter checks, on the recordings, that the
// client filter's type and action rules select exactly what the engine's
// own filter (type=container, event=<each KeptAction>) sent, health_status
// included, and that the engine sends events in time order.
func TestRecordingsAgreeWithServerFilter(t *testing.T) {
	decodeAll := func(name string) []engine.Event {
		var out []engine.Event
		for _, l := range eventLines(t, name) {
			e, err := engine.DecodeEvent([]byte(l))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			out = append(out, e)
		}
		return out
	}
	type key struct {
		ns     int64
		id, ac string
	}
	var wantKeys []key
	all := decodeAll(recUnfiltered)
	for i, e := range all {
		if i > 0 && e.TimeNano < all[i-1].TimeNano {
			t.Errorf("event %d out of time order", i)
		}
		if e.Type == "container" && slices.Contains(engine.KeptActions, e.BaseAction) {
			wantKeys = append(wantKeys, key{e.TimeNano, e.ContainerID, e.Action})
		}
	}
	var gotKeys []key
	for _, e := range decodeAll(recFiltered) {
		gotKeys = append(gotKeys, key{e.TimeNano, e.ContainerID, e.Action})
	}
	if !slices.Equal(gotKeys, wantKeys) {
		t.Errorf("server-filtered stream:\n%v\nclient type/action rules:\n%v", gotKeys, wantKeys)
	}
	health := decodeAll(recHealthOnly)
	if len(health) != 2 || health[0].Action != "health_status: healthy" || health[1].Action != "health_status: unhealthy" {
		t.Errorf("event=health_status alone matched %v", health)
	}
}

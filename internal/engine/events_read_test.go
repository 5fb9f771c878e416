package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/engine"
)

// fakeEngine is an HTTP server on a unix socket that answers /_ping as an
// API 1.41 engine, /v1.41/info with SystemTime and /v1.41/events with
// events, so that ReadEvents can be tested on streams no real engine sends.
type fakeEngine struct {
	mu         sync.Mutex
	systemTime string
	// events writes the body of /events; it may block until r is done.
	events   func(w http.ResponseWriter, r *http.Request)
	requests []*http.Request
}

// set changes the answers of a started fake engine.
func (f *fakeEngine) set(systemTime string, events func(http.ResponseWriter, *http.Request)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if systemTime != "" {
		f.systemTime = systemTime
	}
	if events != nil {
		f.events = events
	}
}

// start serves f on a socket in a temporary directory and returns a client.
func (f *fakeEngine) start(t *testing.T) *client.Client {
	t.Helper()
	dir, err := os.MkdirTemp("", "wfev") // short: socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "d.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/_ping", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Api-Version", "1.41")
		_, _ = fmt.Fprint(w, "OK")
	})
	mux.HandleFunc("/v1.41/info", func(w http.ResponseWriter, _ *http.Request) {
		f.mu.Lock()
		st := f.systemTime
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]string{"SystemTime": st})
	})
	mux.HandleFunc("/v1.41/events", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, r)
		events := f.events
		f.mu.Unlock()
		events(w, r)
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	cli, err := client.New(client.WithHost("unix://" + sock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// lastQuery returns the query and Host header of the last /events request.
func (f *fakeEngine) lastQuery(t *testing.T) (url.Values, string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		t.Fatal("no /events request")
	}
	r := f.requests[len(f.requests)-1]
	return r.URL.Query(), r.Host
}

// body returns an events handler that writes s and ends the response.
func body(s string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprint(w, s) }
}

// live returns an events handler that writes s, flushes it and keeps the
// stream open until the client goes away.
func live(s string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprint(w, s)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}
}

type readResult struct {
	events    []engine.Event
	malformed [][]byte
}

func (rr *readResult) fn(e engine.Event) error { rr.events = append(rr.events, e); return nil }
func (rr *readResult) bad(l []byte)            { rr.malformed = append(rr.malformed, l) }

func TestReadEventsLines(t *testing.T) {
	a := recorded(t, "wf-evrec-life", "create")
	b := recorded(t, "wf-evrec-life", "start")
	c := recorded(t, "wf-evrec-life", "pause")
	long := `{"Type":"container","Action":"start","Actor":{"ID":"x","Attributes":{"big":"` +
		strings.Repeat("a", 5<<20) + `"}},"timeNano":1}`
	f := &fakeEngine{events: body(a + "\n" + "garbage\n" + "\n  \n" + "\x1e" + b + "\n" + long + "\n" + c)}
	cli := f.start(t)
	var rr readResult
	if err := engine.ReadEvents(t.Context(), cli, engine.EventsQuery{}, rr.fn, rr.bad); err != nil {
		t.Fatalf("ReadEvents: %v", err)
	}
	var got []string
	for _, e := range rr.events {
		got = append(got, e.Action)
	}
	if strings.Join(got, ",") != "create,start,pause" {
		t.Errorf("events = %v, want create,start,pause (the last line has no newline)", got)
	}
	if len(rr.malformed) != 2 || string(rr.malformed[0]) != "garbage" || len(rr.malformed[1]) != 4<<20 {
		t.Errorf("malformed = %d lines", len(rr.malformed))
	}
	q, host := f.lastQuery(t)
	if len(q) != 0 || host != client.DummyHost {
		t.Errorf("query %v host %q, want none and %q", q, host, client.DummyHost)
	}
	// A nil onMalformed is fine.
	if err := engine.ReadEvents(t.Context(), cli, engine.EventsQuery{}, func(engine.Event) error { return nil }, nil); err != nil {
		t.Fatalf("ReadEvents without onMalformed: %v", err)
	}
}

func TestReadEventsQuery(t *testing.T) {
	f := &fakeEngine{events: body("")}
	cli := f.start(t)
	noop := func(engine.Event) error { return nil }
	q := engine.EventsQuery{Since: 1795700426063903489, Until: 1795700439000000007, Filtered: true}
	if err := engine.ReadEvents(t.Context(), cli, q, noop, nil); err != nil {
		t.Fatal(err)
	}
	v, _ := f.lastQuery(t)
	if v.Get("since") != "1795700426.063903489" || v.Get("until") != "1795700439.000000007" {
		t.Errorf("since %q until %q", v.Get("since"), v.Get("until"))
	}
	var filters map[string]map[string]bool
	if err := json.Unmarshal([]byte(v.Get("filters")), &filters); err != nil {
		t.Fatalf("filters %q: %v", v.Get("filters"), err)
	}
	if len(filters) != 2 || len(filters["type"]) != 1 || !filters["type"]["container"] || len(filters["event"]) != len(engine.KeptActions) {
		t.Errorf("filters = %v", filters)
	}
	for _, a := range engine.KeptActions {
		if !filters["event"][a] {
			t.Errorf("filter event=%s missing", a)
		}
	}

	if err := engine.ReadEvents(t.Context(), cli, engine.EventsQuery{Since: 1}, noop, nil); err != nil {
		t.Fatal(err)
	}
	if v, _ := f.lastQuery(t); v.Get("since") != "0.000000001" || v.Has("until") || v.Has("filters") {
		t.Errorf("query = %v", v)
	}
}

func TestReadEventsStops(t *testing.T) {
	lines := recorded(t, "wf-evrec-life", "create") + "\n" + recorded(t, "wf-evrec-life", "start") + "\n"

	t.Run("fn error", func(t *testing.T) {
		cli := (&fakeEngine{events: live(lines)}).start(t)
		stop := errors.New("stop")
		n := 0
		err := engine.ReadEvents(t.Context(), cli, engine.EventsQuery{}, func(engine.Event) error { n++; return stop }, nil)
		if err != stop || n != 1 {
			t.Errorf("err %v after %d events, want stop after 1", err, n)
		}
	})

	t.Run("ctx cancelled", func(t *testing.T) {
		cli := (&fakeEngine{events: live(lines)}).start(t)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		got := make(chan engine.Event, 10)
		done := make(chan error, 1)
		go func() {
			done <- engine.ReadEvents(ctx, cli, engine.EventsQuery{}, func(e engine.Event) error { got <- e; return nil }, nil)
		}()
		for range 2 {
			select {
			case <-got:
			case err := <-done:
				t.Fatalf("ReadEvents returned %v before cancel", err)
			case <-time.After(10 * time.Second):
				t.Fatal("no event")
			}
		}
		cancel()
		select {
		case err := <-done:
			if err != context.Canceled {
				t.Errorf("err = %v, want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("ReadEvents did not return after cancel")
		}
	})

	t.Run("engine error", func(t *testing.T) {
		cli := (&fakeEngine{events: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = fmt.Fprint(w, `{"message":"invalid since"}`)
		}}).start(t)
		err := engine.ReadEvents(t.Context(), cli, engine.EventsQuery{}, func(engine.Event) error { return nil }, nil)
		if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "invalid since") {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		cli, err := client.New(client.WithHost("unix:///nonexistent/windflow.sock"))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cli.Close() }()
		err = engine.ReadEvents(t.Context(), cli, engine.EventsQuery{}, func(engine.Event) error { return nil }, nil)
		if !errors.Is(err, engine.ErrUnreachable) {
			t.Errorf("err = %v, want ErrUnreachable", err)
		}
	})
}

func TestReadRingFake(t *testing.T) {
	const sys = "2026-11-26T14:40:27.5+01:00"
	now := time.Date(2026, 11, 26, 13, 40, 27, 5e8, time.UTC).UnixNano()
	first := recorded(t, "wf-evrec-life", "create")
	// The daemon sends its buffer, then closes the stream (until is set).
	f := &fakeEngine{systemTime: sys, events: body(first + "\n" + recorded(t, "wf-evrec-life", "start") + "\n{garbage\n")}
	cli := f.start(t)
	ring, err := engine.ReadRing(t.Context(), cli)
	if err != nil {
		t.Fatal(err)
	}
	if ring.Oldest != 1795700426896246693 || ring.Len != 3 || ring.EngineNow != now {
		t.Errorf("ReadRing = %+v; want oldest 1795700426896246693, 3 events (a malformed one counts), now %d", ring, now)
	}
	v, _ := f.lastQuery(t)
	if v.Get("since") != "1.000000000" || v.Get("until") != "1795700427.500000000" || v.Has("filters") {
		t.Errorf("query = %v", v)
	}

	f.set("", body(""))
	ring, err = engine.ReadRing(t.Context(), cli)
	if err != nil || ring.Len != 0 || ring.Oldest != 0 || ring.EngineNow != now {
		t.Errorf("empty ring: ReadRing = %+v, %v", ring, err)
	}

	tm, err := engine.SystemTime(t.Context(), cli)
	if err != nil || tm.UnixNano() != now {
		t.Errorf("SystemTime = %v, %v", tm, err)
	}
	f.set("yesterday", nil)
	if _, err := engine.SystemTime(t.Context(), cli); err == nil {
		t.Error("SystemTime accepted SystemTime \"yesterday\"")
	}
}

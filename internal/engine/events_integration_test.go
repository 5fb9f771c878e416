package engine_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/engine/enginetest"
)

// engineNow returns the engine's clock in Unix ns.
func engineNow(t *testing.T, cli *client.Client) int64 {
	t.Helper()
	now, err := engine.SystemTime(t.Context(), cli)
	if err != nil {
		t.Fatalf("SystemTime: %v", err)
	}
	return now.UnixNano()
}

// eventsOf reads q and returns the events of container id, failing on a
// malformed line.
func eventsOf(t *testing.T, cli *client.Client, q engine.EventsQuery, id string) []engine.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out []engine.Event
	err := engine.ReadEvents(ctx, cli, q, func(e engine.Event) error {
		if e.ContainerID == id {
			out = append(out, e)
		}
		return nil
	}, func(line []byte) { t.Errorf("malformed line from the engine: %s", line) })
	if err != nil {
		t.Fatalf("ReadEvents(%+v): %v", q, err)
	}
	return out
}

func actions(evs []engine.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Action)
	}
	return out
}

// lifecycle creates, starts, stops and removes a container and returns its
// ID and the engine-clock window around it.
func lifecycle(t *testing.T, cli *client.Client) (id string, since, until int64) {
	t.Helper()
	enginetest.BusyboxImage(t, cli)
	since = engineNow(t, cli)
	id = enginetest.RunContainer(t, cli, "wf-events", "sleep", "600")
	zero := 0
	ctx := t.Context()
	if _, err := cli.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &zero}); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{}); err != nil {
		t.Fatalf("remove: %v", err)
	}
	until = engineNow(t, cli)
	return id, since, until
}

// TestReadEventsLifecycle reads back, with the server-side filter, the events
// of a container that was created, started, stopped and removed: each once,
// in time order, all kept by the client filter; and the unfiltered read of
// the same window, client-filtered, gives the same events.
func TestReadEventsLifecycle(t *testing.T) {
	cli := enginetest.Client(t)
	id, since, until := lifecycle(t, cli)

	filtered := eventsOf(t, cli, engine.EventsQuery{Since: since, Until: until, Filtered: true}, id)
	t.Logf("filtered: %v", actions(filtered))
	// stop = kill (SIGTERM), kill (SIGKILL: timeout 0), die, stop; the
	// number of kill events varies with the engine, so it is not checked.
	for _, a := range []string{"create", "start", "die", "stop", "destroy"} {
		if n := strings.Count(","+strings.Join(actions(filtered), ",")+",", ","+a+","); n != 1 {
			t.Errorf("%s appears %d times, want once: %v", a, n, actions(filtered))
		}
	}
	if !slices.Contains(actions(filtered), "kill") {
		t.Errorf("no kill event: %v", actions(filtered))
	}
	order := map[string]int{"create": 0, "start": 1, "kill": 2, "die": 3, "stop": 4, "destroy": 5}
	f := engine.DefaultEventFilter()
	for i, e := range filtered {
		if i > 0 && (e.TimeNano < filtered[i-1].TimeNano || order[e.Action] < order[filtered[i-1].Action]) {
			t.Errorf("event %d (%s) out of order: %v", i, e.Action, actions(filtered))
		}
		if e.TimeNano < since || e.TimeNano > until {
			t.Errorf("%s at %d outside [%d, %d]", e.Action, e.TimeNano, since, until)
		}
		if keep, reason := f.Keep(e); !keep {
			t.Errorf("%s dropped by the client filter: %s", e.Action, reason)
		}
		if !strings.HasPrefix(e.Name, "wf-events-") || e.Image != enginetest.ImageRef || e.Attributes[enginetest.LabelKey] != "1" {
			t.Errorf("%s: name %q image %q attributes %v", e.Action, e.Name, e.Image, e.Attributes)
		}
		if (e.Action == "die") != (e.ExitCode != nil) {
			t.Errorf("%s: ExitCode %v", e.Action, e.ExitCode)
		}
	}

	var clientFiltered []engine.Event
	for _, e := range eventsOf(t, cli, engine.EventsQuery{Since: since, Until: until}, id) {
		if keep, _ := f.Keep(e); keep {
			clientFiltered = append(clientFiltered, e)
		}
	}
	if !slices.EqualFunc(filtered, clientFiltered, func(a, b engine.Event) bool {
		return a.TimeNano == b.TimeNano && a.Action == b.Action
	}) {
		t.Errorf("server filter %v, client filter %v", actions(filtered), actions(clientFiltered))
	}

	// Resuming from the last event's timeNano returns it again (since is
	// inclusive): the overlap the store deduplicates.
	last := filtered[len(filtered)-1]
	again := eventsOf(t, cli, engine.EventsQuery{Since: last.TimeNano, Until: until, Filtered: true}, id)
	if len(again) != 1 || again[0].TimeNano != last.TimeNano || again[0].Action != last.Action {
		t.Errorf("since=%d returned %v, want the %s event again", last.TimeNano, actions(again), last.Action)
	}
}

// TestReadEventsHealthStatus checks on the real engine that the server-side
// filter event=health_status matches "health_status: healthy".
func TestReadEventsHealthStatus(t *testing.T) {
	cli := enginetest.Client(t)
	enginetest.BusyboxImage(t, cli)
	since := engineNow(t, cli)
	id := enginetest.CreateContainer(t, cli, "wf-events-health", func(c *container.Config, _ *container.HostConfig) {
		c.Healthcheck = &container.HealthConfig{
			Test:     []string{"CMD-SHELL", "true"},
			Interval: 500 * time.Millisecond,
			Timeout:  5 * time.Second,
			Retries:  1,
		}
	}, "sleep", "600")
	if _, err := cli.ContainerStart(t.Context(), id, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("start: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var got []string
	err := engine.ReadEvents(ctx, cli, engine.EventsQuery{Since: since, Filtered: true}, func(e engine.Event) error {
		if e.ContainerID != id {
			return nil
		}
		got = append(got, e.Action)
		if strings.HasPrefix(e.Action, "exec_") {
			t.Errorf("server filter let %q through", e.Action)
		}
		if e.Action == "health_status: healthy" {
			if keep, reason := engine.DefaultEventFilter().Keep(e); !keep {
				t.Errorf("health_status dropped: %s", reason)
			}
			cancel()
		}
		return nil
	}, nil)
	if err != context.Canceled {
		t.Fatalf("ReadEvents: %v; events %v (want health_status: healthy)", err, got)
	}
	t.Logf("events: %v", got)
}

func TestSystemTime(t *testing.T) {
	cli := enginetest.Client(t)
	now, err := engine.SystemTime(t.Context(), cli)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(now); d < -time.Minute || d > time.Minute {
		t.Errorf("engine time %v is %v from local time", now, d)
	}
}

func TestReadRing(t *testing.T) {
	cli := enginetest.Client(t)
	id, since, until := lifecycle(t, cli)
	evs := eventsOf(t, cli, engine.EventsQuery{Since: since, Until: until, Filtered: true}, id)
	if len(evs) == 0 {
		t.Fatal("no events")
	}
	last := evs[len(evs)-1].TimeNano
	ring, err := engine.ReadRing(t.Context(), cli)
	if err != nil {
		t.Fatal(err)
	}
	if ring.Len < len(evs) || ring.Len > engine.RingCapacity || ring.Oldest <= 0 || ring.Oldest > last || ring.EngineNow < last {
		t.Errorf("ReadRing = %+v; want at least %d events starting at or before %d, now after it", ring, len(evs), last)
	}
	if g := engine.DetectGap(last, ring, true); g != nil {
		t.Errorf("DetectGap from the last event: %+v", g)
	}
	t.Logf("ring holds %d events from %v before the last event", ring.Len, time.Duration(last-ring.Oldest))
}

// TestReadEventsLive follows the live stream (Until unset), sees the create
// event of a container created after the read started, and returns
// ctx.Err() when cancelled.
func TestReadEventsLive(t *testing.T) {
	cli := enginetest.Client(t)
	enginetest.BusyboxImage(t, cli)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	since := engineNow(t, cli)
	got := make(chan engine.Event, 100)
	done := make(chan error, 1)
	go func() {
		done <- engine.ReadEvents(ctx, cli, engine.EventsQuery{Since: since, Filtered: true}, func(e engine.Event) error {
			select {
			case got <- e:
			default:
			}
			return nil
		}, nil)
	}()
	time.Sleep(200 * time.Millisecond) // let the stream open; since covers a slower start
	id := enginetest.CreateContainer(t, cli, "wf-events-live", nil, "true")
	timeout := time.After(30 * time.Second)
wait:
	for {
		select {
		case e := <-got:
			if e.ContainerID == id && e.Action == "create" {
				break wait
			}
		case err := <-done:
			t.Fatalf("ReadEvents returned %v before the create event", err)
		case <-timeout:
			t.Fatal("no create event within 30 s")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Errorf("ReadEvents = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadEvents did not return after cancel")
	}
}

package fakeengine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/engine"
)

const testTick = 50 * time.Millisecond

func startEngine(t testing.TB, o Options) *Engine {
	t.Helper()
	if o.StatsTick == 0 {
		o.StatsTick = testTick
	}
	e, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func connect(t testing.TB, e *Engine) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cli, err := engine.Connect(ctx, e.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func httpURL(e *Engine, path string) string {
	return "http://" + strings.TrimPrefix(e.Endpoint(), "tcp://") + path
}

func nsString(ns int64) string {
	return fmt.Sprintf("%d.%09d", ns/int64(time.Second), ns%int64(time.Second))
}

func TestRoutesAndHeaders(t *testing.T) {
	e := startEngine(t, Options{Seed: 1})
	if !strings.HasPrefix(e.Endpoint(), "tcp://127.0.0.1:") {
		t.Fatalf("endpoint %q", e.Endpoint())
	}
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/_ping", 200, "OK"},
		{"HEAD", "/_ping", 200, ""},
		{"GET", "/v1.41/_ping", 200, "OK"},
		{"GET", "/version", 200, `"ApiVersion":"1.41"`},
		{"GET", "/v1.41/version", 200, `"MinAPIVersion":"1.12"`},
		{"GET", "/v1.24/info", 200, `"Driver":"overlay2"`},
		{"GET", "/containers/json", 200, `"State":"running"`},
		{"GET", "/v1.41/system/df", 200, `"LayersSize"`},
		{"GET", "/v1.41/images/json", 404, `{"message":"page not found"}`},
		{"POST", "/v1.41/containers/json", 404, `page not found`},
		{"GET", "/v1.41/containers/nope/stats?stream=false", 404, `{"message":"No such container: nope"}`},
		{"GET", "/v1.41/containers/" + e.Expected()[0].ID + "/stats?stream=true&one-shot=true", 400, `cannot have stream=true and one-shot=true`},
	} {
		req, _ := http.NewRequest(tc.method, httpURL(e, tc.path), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.body) {
			t.Errorf("%s %s: %d %q, want %d containing %q", tc.method, tc.path, resp.StatusCode, b, tc.status, tc.body)
		}
		if resp.Header.Get("Api-Version") != "1.41" || resp.Header.Get("Ostype") != "linux" ||
			!strings.HasPrefix(resp.Header.Get("Server"), "Docker/20.10.24") {
			t.Errorf("%s %s: headers %v", tc.method, tc.path, resp.Header)
		}
		if tc.status != 200 && resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: Content-Type %q", tc.method, tc.path, resp.Header.Get("Content-Type"))
		}
	}
	http.DefaultClient.CloseIdleConnections()
	got := e.Requests()
	if got["ping"] != 3 || got["version"] != 2 || got["info"] != 1 || got["containers"] != 1 || got["df"] != 1 || got["stats"] != 2 || got["notfound"] != 2 {
		t.Errorf("requests %v", got)
	}
}

func TestClientCalls(t *testing.T) {
	e := startEngine(t, Options{Containers: 7, NCPU: 4, MemTotal: 16 << 30, Seed: 2})
	cli := connect(t, e)
	ctx := ctxT(t)
	if v := cli.ClientVersion(); v != "1.41" {
		t.Errorf("negotiated version %q", v)
	}

	info, err := cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	in := info.Info
	if in.NCPU != 4 || in.MemTotal != 16<<30 || in.DockerRootDir != "/var/lib/docker" || in.Driver != "overlay2" ||
		in.ServerVersion != "20.10.24" || in.Containers != 7 || in.ContainersRunning != 7 {
		t.Errorf("info %+v", in)
	}
	if st, err := engine.SystemTime(ctx, cli); err != nil || time.Since(st).Abs() > 5*time.Second {
		t.Errorf("engine time %v, %v", st, err)
	}

	list, err := cli.ContainerList(ctx, client.ContainerListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := e.Expected()
	if len(list.Items) != 7 || len(want) != 7 {
		t.Fatalf("%d containers, %d expected", len(list.Items), len(want))
	}
	for i, c := range list.Items {
		if len(c.ID) != 64 || strings.Trim(c.ID, "0123456789abcdef") != "" || c.ID != want[i].ID {
			t.Errorf("container %d ID %q, want %q", i, c.ID, want[i].ID)
		}
		if len(c.Names) != 1 || c.Names[0] != "/"+want[i].Name || c.State != container.StateRunning || c.Image == "" ||
			c.Labels["com.docker.compose.service"] == "" {
			t.Errorf("container %d: %+v", i, c)
		}
	}

	du, err := cli.DiskUsage(ctx, client.DiskUsageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wd := e.ExpectedDisk()
	got := DiskFigures{du.Images.TotalSize, du.Containers.TotalSize, du.Volumes.TotalSize, du.BuildCache.TotalSize}
	if got != wd || wd.Containers != 7*DiskContainerSizeRw {
		t.Errorf("disk usage %+v, want %+v", got, wd)
	}

	if _, err := cli.ContainerStats(ctx, "0123456789ab", client.ContainerStatsOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("stats of an unknown container: %v", err)
	}
	r := e.Requests()
	if r["info"] != 2 || r["containers"] != 1 || r["df"] != 1 || r["ping"] < 1 {
		t.Errorf("requests %v", r)
	}
}

func readStats(t *testing.T, cli *client.Client, id string, pre bool) container.StatsResponse {
	t.Helper()
	res, err := cli.ContainerStats(ctxT(t), id, client.ContainerStatsOptions{IncludePreviousSample: pre})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var rec container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestStatsReads(t *testing.T) {
	e := startEngine(t, Options{Containers: 3, NCPU: 2, Seed: 3})
	cli := connect(t, e)
	want := e.Expected()
	c := want[1]

	// stream=false: precpu filled one tick before.
	start := time.Now()
	rec := readStats(t, cli, c.ID, true)
	if d := time.Since(start); d > 5*testTick {
		t.Errorf("stream=false took %v", d)
	}
	if rec.ID != c.ID || rec.Name != "/"+c.Name || rec.PreRead.IsZero() || !rec.Read.After(rec.PreRead) {
		t.Errorf("record %+v", rec)
	}
	if d := rec.Read.Sub(rec.PreRead); d < testTick/2 || d > 2*testTick {
		t.Errorf("read-preread %v, want about %v", d, testTick)
	}
	if rec.CPUStats.OnlineCPUs != 2 || rec.PreCPUStats.SystemUsage == 0 {
		t.Errorf("cpu stats %+v / %+v", rec.CPUStats, rec.PreCPUStats)
	}
	if sys := rec.CPUStats.SystemUsage - rec.PreCPUStats.SystemUsage; math.Abs(float64(sys)-2*float64(rec.Read.Sub(rec.PreRead))) > 2e6 {
		t.Errorf("system delta %d over %v with 2 CPUs", sys, rec.Read.Sub(rec.PreRead))
	}
	s := engine.SampleFromStats(rec, nil)
	if !s.CPUKnown || math.Abs(s.CPUPercent-c.CPUPercent) > 0.01 || s.MemoryUsed != c.MemoryUsed || s.MemoryLimit != c.MemoryLimit {
		t.Errorf("sample %+v, want %+v", s, c)
	}
	if s.NetRx == 0 || s.NetTx == 0 || s.BlockRead == 0 && s.BlockWrite == 0 {
		t.Errorf("no I/O figures: %+v", s)
	}
	if _, ok := rec.MemoryStats.Stats["inactive_file"]; !ok {
		t.Errorf("memory stats %+v", rec.MemoryStats)
	}

	// one-shot: precpu empty; CPU % against the previous counters.
	one := readStats(t, cli, c.Name, false) // by name
	if !one.PreRead.IsZero() || one.PreCPUStats.SystemUsage != 0 || one.PreCPUStats.CPUUsage.TotalUsage != 0 {
		t.Errorf("one-shot precpu %+v at %v", one.PreCPUStats, one.PreRead)
	}
	if !one.Read.After(rec.Read) {
		t.Errorf("one-shot read %v not after %v", one.Read, rec.Read)
	}
	prev := s.Counters
	s2 := engine.SampleFromStats(one, &prev)
	if math.Abs(s2.CPUPercent-c.CPUPercent) > 0.01 || s2.NetRx < s.NetRx {
		t.Errorf("one-shot sample %+v, want %v %%", s2, c.CPUPercent)
	}
	// An ID prefix works too, and the counters go on.
	third := readStats(t, cli, c.ID[:12], false)
	if third.CPUStats.CPUUsage.TotalUsage <= one.CPUStats.CPUUsage.TotalUsage {
		t.Errorf("counters did not advance")
	}
	if n := e.Requests()["stats"]; n != 3 {
		t.Errorf("stats requests %d", n)
	}
}

// TestCollectorMatchesExpected is the point of the package: the project's
// Collector, through Connect and the moby client, sees the figures the fake
// was configured with.
func TestCollectorMatchesExpected(t *testing.T) {
	for _, ncpu := range []int{1, 2, 8} {
		t.Run(fmt.Sprint(ncpu, "cpu"), func(t *testing.T) {
			e := startEngine(t, Options{Containers: 12, NCPU: ncpu, MemTotal: 4 << 30, Seed: int64(40 + ncpu)})
			cli := connect(t, e)
			ctx := ctxT(t)
			want := map[string]ContainerFigures{}
			for _, c := range e.Expected() {
				if c.CPUPercent < 0.5 || c.CPUPercent > 80 {
					t.Errorf("configured CPU %% %v out of 0.5–80", c.CPUPercent)
				}
				want[c.ID] = c
			}
			var col engine.Collector
			host, first, err := col.Collect(ctx, cli, nil)
			if err != nil {
				t.Fatal(err)
			}
			if host.NCPU != ncpu || host.MemoryTotal != 4<<30 || len(first) != 12 {
				t.Fatalf("host %+v, %d samples", host, len(first))
			}
			prev := map[string]engine.CPUCounters{}
			for _, s := range first {
				prev[s.ID] = s.Counters
			}
			_, second, err := col.Collect(ctx, cli, prev)
			if err != nil {
				t.Fatal(err)
			}
			if len(second) != 12 {
				t.Fatalf("%d samples", len(second))
			}
			var sum float64
			for _, s := range second {
				w, ok := want[s.ID]
				if !ok || s.Name != w.Name {
					t.Fatalf("unknown sample %+v", s)
				}
				if s.Labels["com.docker.compose.service"] == "" {
					t.Errorf("%s: labels %v; want the list's compose labels", s.Name, s.Labels)
				}
				if !s.CPUKnown || math.Abs(s.CPUPercent-w.CPUPercent) > 0.5 {
					t.Errorf("%s: CPU %.3f %%, want %.2f", s.Name, s.CPUPercent, w.CPUPercent)
				}
				if s.MemoryUsed != w.MemoryUsed || s.MemoryLimit != w.MemoryLimit {
					t.Errorf("%s: memory %d/%d, want %d/%d", s.Name, s.MemoryUsed, s.MemoryLimit, w.MemoryUsed, w.MemoryLimit)
				}
				sum += w.CPUPercent
			}
			// The first cycle (stream=false, precpu) is exact too.
			for _, s := range first {
				if math.Abs(s.CPUPercent-want[s.ID].CPUPercent) > 0.5 {
					t.Errorf("first cycle %s: CPU %.3f %%, want %.2f", s.Name, s.CPUPercent, want[s.ID].CPUPercent)
				}
			}
			r := e.Requests()
			if r["stats"] != 24 || r["containers"] != 2 || r["info"] != 2 {
				t.Errorf("requests %v", r)
			}
		})
	}
}

func TestFiguresDeterministic(t *testing.T) {
	a, err := StartFleet(3, Options{Seed: 9, StatsTick: testTick})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := StartFleet(3, Options{Seed: 9, StatsTick: testTick})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ids := map[string]bool{}
	for i := range 3 {
		ea, eb := a.Engines()[i].Expected(), b.Engines()[i].Expected()
		for j := range ea {
			if ea[j] != eb[j] {
				t.Errorf("engine %d container %d: %+v vs %+v", i, j, ea[j], eb[j])
			}
			if ids[ea[j].ID] {
				t.Errorf("duplicate ID %s", ea[j].ID)
			}
			ids[ea[j].ID] = true
		}
	}
	if a.Engines()[0].Endpoint() == a.Engines()[1].Endpoint() {
		t.Error("engines share an endpoint")
	}
}

// allEvents reads the whole ring with the moby client.
func allEvents(t *testing.T, cli *client.Client, since string) []events.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res := cli.Events(ctx, client.EventsListOptions{Since: since, Until: nsString(time.Now().UnixNano())})
	var out []events.Message
	for {
		select {
		case m := <-res.Messages:
			out = append(out, m)
		case err := <-res.Err:
			if !errors.Is(err, io.EOF) {
				t.Fatalf("events: %v", err)
			}
			return out
		}
	}
}

func TestEventsSinceUntil(t *testing.T) {
	e := startEngine(t, Options{Containers: 3, Seed: 5})
	cli := connect(t, e)
	if got := allEvents(t, cli, "1"); len(got) != 0 {
		t.Fatalf("fresh engine has %d events", len(got))
	}
	e.Emit(0, "start")
	e.Emit(1, "die")
	e.Emit(2, "health_status: healthy")
	got := allEvents(t, cli, "1")
	if len(got) != 3 {
		t.Fatalf("%d events", len(got))
	}
	want := e.Expected()
	m := got[1]
	if m.Type != "container" || m.Action != "die" || m.Actor.ID != want[1].ID || m.Actor.Attributes["name"] != want[1].Name ||
		m.Actor.Attributes["exitCode"] != "0" || m.Actor.Attributes["image"] == "" || m.Scope != "local" ||
		m.Time != m.TimeNano/int64(time.Second) || m.TimeNano <= got[0].TimeNano {
		t.Errorf("event %+v", m)
	}
	// An event at exactly since is returned again.
	again := allEvents(t, cli, nsString(got[1].TimeNano))
	if len(again) != 2 || again[0].TimeNano != got[1].TimeNano || again[1].Action != "health_status: healthy" {
		t.Errorf("since the second event: %+v", again)
	}
	// until bounds the replay.
	ctx := ctxT(t)
	res := cli.Events(ctx, client.EventsListOptions{Since: "1", Until: nsString(got[1].TimeNano)})
	var n int
	for done := false; !done; {
		select {
		case <-res.Messages:
			n++
		case err := <-res.Err:
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			done = true
		}
	}
	if n != 2 {
		t.Errorf("until the second event: %d events", n)
	}
	// Filters as the project sends them: die and health_status (prefix) kept.
	var kept []string
	err := engine.ReadEvents(ctx, cli, engine.EventsQuery{Since: 1, Until: time.Now().UnixNano(), Filtered: true},
		func(ev engine.Event) error { kept = append(kept, ev.Action); return nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 3 {
		t.Errorf("filtered: %v", kept)
	}
	e.Emit(0, "exec_start: sh -c true")
	e.Emit(0, "attach")
	kept = kept[:0]
	f := client.Filters{}.Add("type", "container").Add("event", "start", "die")
	res = cli.Events(ctx, client.EventsListOptions{Since: "0", Until: nsString(time.Now().UnixNano()), Filters: f})
	for done := false; !done; {
		select {
		case m := <-res.Messages:
			kept = append(kept, string(m.Action))
		case err := <-res.Err:
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			done = true
		}
	}
	if strings.Join(kept, ",") != "start,die" {
		t.Errorf("exact event filter: %v", kept)
	}
	if n := len(allEvents(t, cli, "1")); n != 5 {
		t.Errorf("ring holds %d events, want 5", n)
	}
}

func TestEventsRingWrap(t *testing.T) {
	e := startEngine(t, Options{Containers: 4, Seed: 6})
	cli := connect(t, e)
	for i := range 300 {
		e.Emit(i%4, "exec_create: true")
	}
	got := allEvents(t, cli, "1")
	if len(got) != 256 {
		t.Fatalf("ring replays %d events, want 256", len(got))
	}
	ring, err := engine.ReadRing(ctxT(t), cli)
	if err != nil {
		t.Fatal(err)
	}
	if ring.Len != 256 || ring.Oldest != got[0].TimeNano {
		t.Errorf("ring %+v, oldest %d", ring, got[0].TimeNano)
	}
	for i := 1; i < len(got); i++ {
		if got[i].TimeNano <= got[i-1].TimeNano {
			t.Fatalf("events out of order at %d", i)
		}
	}
	// The 45th emitted is the oldest kept: its container is 44%4.
	if got[0].Actor.ID != e.Expected()[44%4].ID {
		t.Errorf("oldest event of %s", got[0].Actor.ID)
	}
}

func TestEventsLiveAndRestart(t *testing.T) {
	e := startEngine(t, Options{Containers: 2, Seed: 7})
	cli := connect(t, e)
	e.Emit(0, "create")
	ctx := ctxT(t)
	var (
		mu  sync.Mutex
		got []string
	)
	recv := make(chan struct{}, 16)
	done := make(chan error, 1)
	go func() {
		done <- engine.ReadEvents(ctx, cli, engine.EventsQuery{Since: 1, Filtered: true}, func(ev engine.Event) error {
			mu.Lock()
			got = append(got, ev.Action)
			mu.Unlock()
			recv <- struct{}{}
			return nil
		}, nil)
	}()
	<-recv // the buffered create: the stream is subscribed
	e.Emit(1, "exec_start: sh")
	e.Emit(1, "health_status: unhealthy")
	e.Emit(1, "oom")
	for range 2 {
		select {
		case <-recv:
		case <-time.After(2 * time.Second):
			t.Fatal("live event not delivered")
		}
	}
	e.Restart()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("stream ended with %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Restart did not end the stream")
	}
	mu.Lock()
	if strings.Join(got, ",") != "create,health_status: unhealthy,oom" {
		t.Errorf("events %v", got)
	}
	mu.Unlock()
	ring, err := engine.ReadRing(ctx, cli)
	if err != nil || ring.Len != 0 {
		t.Errorf("after restart: ring %+v, %v", ring, err)
	}
}

func TestEventsUntilFuture(t *testing.T) {
	e := startEngine(t, Options{Containers: 1, Seed: 8})
	cli := connect(t, e)
	until := time.Now().Add(300 * time.Millisecond).UnixNano()
	var n int
	done := make(chan error, 1)
	go func() {
		done <- engine.ReadEvents(ctxT(t), cli, engine.EventsQuery{Until: until}, func(engine.Event) error { n++; return nil }, nil)
	}()
	time.Sleep(100 * time.Millisecond)
	e.Emit(0, "start")
	select {
	case err := <-done:
		if err != nil || n != 1 {
			t.Errorf("until in the future: %d events, %v", n, err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the stream did not end at until")
	}
}

func TestSyntheticEvents(t *testing.T) {
	e := startEngine(t, Options{Containers: 3, StatsTick: 10 * time.Millisecond, EventEvery: 50 * time.Millisecond, Seed: 10})
	cli := connect(t, e)
	deadline := time.Now().Add(3 * time.Second)
	for {
		got := allEvents(t, cli, "1")
		if len(got) >= 5 {
			var acts []string
			for _, m := range got[:5] {
				acts = append(acts, string(m.Action))
				if m.Actor.ID != got[0].Actor.ID {
					t.Errorf("sequence over several containers: %+v", got[:5])
				}
			}
			if strings.Join(acts, ",") != "kill,die,stop,start,restart" {
				t.Errorf("sequence %v", acts)
			}
			if c := got[1].Actor.Attributes["exitCode"]; c != "0" && c != "143" {
				t.Errorf("exit code %q", c)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d synthetic events after 3 s", len(got))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestEngineCloseInFleet(t *testing.T) {
	f, err := StartFleet(3, Options{StatsTick: testTick, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	es := f.Engines()
	if err := es[1].Close(); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if _, err := engine.Connect(ctx, es[1].Endpoint()); !errors.Is(err, engine.ErrUnreachable) {
		t.Errorf("closed engine: %v", err)
	}
	cli := connect(t, es[2])
	if _, _, err := (engine.Collector{}).Collect(ctx, cli, nil); err != nil {
		t.Errorf("the other engines stop too: %v", err)
	}
}

func TestFleetCloseLeavesNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	f, err := StartFleet(20, Options{StatsTick: testTick, Containers: 3, EventEvery: 30 * time.Millisecond, Seed: 12})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var clis []*client.Client
	for i, e := range f.Engines() {
		cli, err := engine.Connect(ctx, e.Endpoint())
		if err != nil {
			t.Fatal(err)
		}
		clis = append(clis, cli)
		switch i % 3 {
		case 0: // a live event stream, ended by Close
			wg.Go(func() {
				_ = engine.ReadEvents(ctx, cli, engine.EventsQuery{Since: 1}, func(engine.Event) error { return nil }, nil)
			})
		case 1: // a stats stream, ended by Close
			wg.Go(func() {
				res, err := cli.ContainerStats(ctx, e.Expected()[0].ID, client.ContainerStatsOptions{Stream: true})
				if err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					_ = res.Body.Close()
				}
			})
		default:
			if _, _, err := (engine.Collector{}).Collect(ctx, cli, nil); err != nil {
				t.Error(err)
			}
		}
	}
	time.Sleep(3 * testTick)
	if err := f.Close(); err != nil {
		t.Error(err)
	}
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Fatal("streams still open after Close")
	}
	for _, cli := range clis {
		_ = cli.Close()
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStartFleetRejectsNoEngine(t *testing.T) {
	if _, err := StartFleet(0, Options{}); err == nil {
		t.Error("no error for 0 engines")
	}
}

// TestPhasesSpreadAnswers: with Phases, each engine answers a stats read at
// its own publish times (its phase within every tick, spread over the tick
// across engines), within one tick of the request, with precpu one tick
// before.
func TestPhasesSpreadAnswers(t *testing.T) {
	const tick = 200 * time.Millisecond
	f, err := StartFleet(8, Options{Containers: 1, StatsTick: tick, Phases: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	phases := map[time.Duration]bool{}
	for i, e := range f.Engines() {
		if e.phase < 0 || e.phase >= tick {
			t.Fatalf("engine %d: phase %s outside [0, %s)", i, e.phase, tick)
		}
		phases[e.phase.Round(10*time.Millisecond)] = true
	}
	if len(phases) < 6 {
		t.Fatalf("8 engines share %d distinct phases, want them spread", len(phases))
	}
	for i, e := range f.Engines() {
		asked := time.Now()
		res, err := http.Get("http://" + strings.TrimPrefix(e.Endpoint(), "tcp://") + "/containers/" + e.Expected()[0].ID + "/stats?stream=false")
		if err != nil {
			t.Fatal(err)
		}
		var rec container.StatsResponse
		err = json.NewDecoder(res.Body).Decode(&rec)
		_ = res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(asked); waited > tick+50*time.Millisecond {
			t.Errorf("engine %d answered after %s, want within one tick", i, waited)
		}
		// The record's time is one of this engine's publish times.
		off := rec.Read.Sub(f.start) % tick
		if d := (off - e.phase).Abs(); d > time.Millisecond && d < tick-time.Millisecond {
			t.Errorf("engine %d published at %s into the tick, want its phase %s", i, off, e.phase)
		}
		if got := rec.Read.Sub(rec.PreRead); got != tick {
			t.Errorf("engine %d: read − preread = %s, want %s", i, got, tick)
		}
	}
}

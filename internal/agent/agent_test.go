package agent_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/agent"
	"github.com/windflow/monitor/internal/agent/agenttest"
)

const token = "wfa_test_token"

// start runs an agent with cfg's missing parts filled in until the test
// ends, and returns the error Run returned then through the channel.
func start(t testing.TB, cfg agent.Config) <-chan error {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agent.Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run returned %v after cancel, want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return within 10s of cancel")
		}
	})
	return done
}

// recordingEngine is a fake engine on tcp:// that answers every request
// with {} and records what reached it.
type recordingEngine struct {
	mu   sync.Mutex
	seen []*http.Request
	url  string
}

func newRecordingEngine(t *testing.T) *recordingEngine {
	e := &recordingEngine{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.seen = append(e.seen, r)
		e.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "{}")
	}))
	t.Cleanup(srv.Close)
	e.url = "tcp://" + strings.TrimPrefix(srv.URL, "http://")
	return e
}

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (e *recordingEngine) requests() []*http.Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*http.Request(nil), e.seen...)
}

// TestProxyForwardsReadsRefusesWrites sends raw requests through a real
// WebSocket+yamux session: read-only calls reach the engine without the
// Authorization header or hop-by-hop headers; the others get a 403 with a
// Docker-shaped body and never reach it.
func TestProxyForwardsReadsRefusesWrites(t *testing.T) {
	eng := newRecordingEngine(t)
	srv := agenttest.NewServer(t, token)
	start(t, agent.Config{ServerURL: srv.URL, Token: token, Engine: eng.url, Version: "1.2.3"})
	sess := srv.Next(t, 10*time.Second)
	if sess.Version != "1.2.3" {
		t.Errorf("agent version header %q, want 1.2.3", sess.Version)
	}
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) { return sess.Open() },
	}}
	do := func(method, path string, body io.Reader, header http.Header) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, "http://agent"+path, body)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header[k] = v
		}
		res, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	status, _ := do("GET", "/v1.41/containers/json?all=1", nil, http.Header{
		"Authorization": {"Bearer secret"}, "Cookie": {"c=1"}, "X-Registry-Auth": {"x"},
		"Connection": {"keep-alive, X-Hop"}, "X-Hop": {"1"}, "User-Agent": {"windflow-test"},
	})
	if status != http.StatusOK {
		t.Fatalf("GET /containers/json: %d", status)
	}
	got := eng.requests()
	if len(got) != 1 || got[0].URL.Path != "/v1.41/containers/json" || got[0].URL.RawQuery != "all=1" {
		t.Fatalf("engine saw %d requests, first %v", len(got), got)
	}
	for _, h := range []string{"Authorization", "Cookie", "X-Registry-Auth", "X-Hop"} {
		if v := got[0].Header.Get(h); v != "" {
			t.Errorf("engine received %s: %q", h, v)
		}
	}
	if ua := got[0].Header.Get("User-Agent"); ua != "windflow-test" {
		t.Errorf("engine received User-Agent %q, want windflow-test", ua)
	}

	for _, c := range []struct {
		method, path string
		body         io.Reader
		header       http.Header
	}{
		{"POST", "/v1.41/containers/create", strings.NewReader(`{"Image":"busybox"}`), nil},
		{"DELETE", "/containers/abc", nil, nil},
		{"POST", "/containers/abc/attach?stream=1", nil, http.Header{"Upgrade": {"tcp"}, "Connection": {"Upgrade"}}},
		{"GET", "/containers/abc/json", nil, http.Header{"Upgrade": {"tcp"}, "Connection": {"Upgrade"}}},
		{"GET", "/info", strings.NewReader("body"), nil},
		{"GET", "/containers/..%2F..%2Fimages/json", nil, nil},
		{"GET", "/images/json", nil, nil},
		{"GET", "/" + strings.Repeat("x", 1000), nil, nil},
	} {
		status, body := do(c.method, c.path, c.body, c.header)
		if status != http.StatusForbidden || !strings.HasPrefix(body, `{"message":"windflow agent: refused `+c.method+" ") ||
			!strings.Contains(body, "not a read-only monitoring call") || len(body) > 400 {
			t.Errorf("%s %s: %d %s, want 403 with a bounded refusal", c.method, c.path[:min(len(c.path), 60)], status, body)
		}
	}
	if n := len(eng.requests()); n != 1 {
		t.Errorf("engine saw %d requests after the refusals, want still 1", n)
	}
}

// TestTokenRefusedBacksOff checks that an agent whose token the server
// refuses (401) retries with the growing delays of RefusedSchedule.
func TestTokenRefusedBacksOff(t *testing.T) {
	srv := agenttest.NewServer(t, "another token")
	delays := make(chan time.Duration, 100)
	var log lockedBuffer
	start(t, agent.Config{ServerURL: srv.URL, Token: token, Logger: slog.New(slog.NewJSONHandler(&log, nil)), Sleep: func(ctx context.Context, d time.Duration) error {
		delays <- d
		return ctx.Err()
	}})
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute}
	var got []time.Duration
	for range want {
		select {
		case d := <-delays:
			got = append(got, d)
		case <-time.After(10 * time.Second):
			t.Fatalf("no retry within 10s; delays so far %v", got)
		}
	}
	for i, d := range got {
		if d > want[i] || d < want[i]*4/5 {
			t.Errorf("delay %d = %v, want %v less up to a fifth (all: %v)", i+1, d, want[i], got)
		}
	}
	if n := srv.Attempts(); n < int64(len(want)) {
		t.Errorf("server saw %d attempts, want at least %d", n, len(want))
	}
	t.Logf("401 delays: %v", got)
	logged := log.String()
	if n := strings.Count(logged, "token refused: revoked or unknown"); n < len(want) {
		t.Errorf("log says the token is refused %d times, want one per attempt (%d):\n%s", n, len(want), logged)
	}
	if strings.Contains(logged, token) {
		t.Errorf("the log shows the token:\n%s", logged)
	}
}

// TestTransientBacksOffAndReconnects checks the transient schedule
// against a server answering 503, then that the agent connects once the
// server accepts it again.
func TestTransientBacksOffAndReconnects(t *testing.T) {
	srv := agenttest.NewServer(t, token)
	srv.SetStatus(http.StatusServiceUnavailable)
	delays := make(chan time.Duration, 100)
	start(t, agent.Config{ServerURL: srv.URL, Token: token, Sleep: func(ctx context.Context, d time.Duration) error {
		delays <- d
		return ctx.Err()
	}})
	var got []time.Duration
	for n := 1; n <= 8; n++ {
		d := <-delays
		got = append(got, d)
		if want := agent.TransientSchedule.Delay(n); d > want || d < want*4/5 {
			t.Errorf("delay %d = %v, want %v less up to a fifth", n, d, want)
		}
	}
	t.Logf("503 delays: %v", got)
	srv.SetStatus(0)
	srv.Next(t, 10*time.Second)
}

// TestPlainHTTPRule checks the HTTPS rule: http:// only to loopback or
// with AllowPlainHTTP.
func TestPlainHTTPRule(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a configuration Run accepts then returns ctx.Err() at once
	for _, c := range []struct {
		url       string
		allow     bool
		wantError bool
	}{
		{"http://windflow.example.com", false, true},
		{"http://10.0.0.5:8080", false, true},
		{"http://windflow.example.com", true, false},
		{"http://127.0.0.1:8080", false, false},
		{"http://localhost:8080", false, false},
		{"http://[::1]:8080", false, false},
		{"https://windflow.example.com/base/", false, false},
		{"ftp://windflow.example.com", true, true},
		{"https://user:pw@windflow.example.com", false, true},
		{"https://windflow.example.com?token=x", false, true},
		{"windflow.example.com", false, true},
	} {
		err := agent.Run(ctx, agent.Config{ServerURL: c.url, Token: token, AllowPlainHTTP: c.allow})
		if c.wantError != errors.Is(err, agent.ErrBadConfig) {
			t.Errorf("Run(%s, allow plain %v) = %v, want bad configuration %v", c.url, c.allow, err, c.wantError)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("error shows the URL's password: %v", err)
		}
	}
	for _, engine := range []string{"http://127.0.0.1:2375", "tcp://127.0.0.1", "unix://relative.sock", "unix:///var/run/"} {
		if err := agent.Run(ctx, agent.Config{ServerURL: "https://w.example.com", Token: token, Engine: engine}); !errors.Is(err, agent.ErrBadConfig) {
			t.Errorf("engine %q: Run = %v, want ErrBadConfig", engine, err)
		}
	}
}

// TestTLSAndReconnect connects over HTTPS to a server that offers HTTP/2
// (the upgrade must still be HTTP/1.1), then checks that the agent comes
// back after the server drops its session.
func TestTLSAndReconnect(t *testing.T) {
	eng := newRecordingEngine(t)
	srv := agenttest.NewTLSServer(t, token)
	if !strings.HasPrefix(srv.URL, "https://") {
		t.Fatalf("server URL %s", srv.URL)
	}
	start(t, agent.Config{ServerURL: srv.URL, Token: token, Engine: eng.url, TLSClientConfig: srv.TLS,
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }})
	first := srv.Next(t, 10*time.Second)
	if _, err := agenttest.DockerClient(t, first.Session).Ping(t.Context(), client.PingOptions{}); err != nil {
		t.Fatalf("ping over the TLS session: %v", err)
	}
	_ = first.Close()
	second := srv.Next(t, 10*time.Second)
	if _, err := agenttest.DockerClient(t, second.Session).Ping(t.Context(), client.PingOptions{}); err != nil {
		t.Fatalf("ping after the reconnection: %v", err)
	}
	if n := srv.Attempts(); n != 2 {
		t.Errorf("server saw %d attempts, want 2", n)
	}
}

// TestEngineUnreachable checks that an engine that does not answer gives
// the API a 502 with a Docker-shaped message, and the session stays up.
func TestEngineUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	srv := agenttest.NewServer(t, token)
	start(t, agent.Config{ServerURL: srv.URL, Token: token, Engine: "tcp://" + addr})
	sess := srv.Next(t, 10*time.Second)
	cli := agenttest.DockerClient(t, sess.Session)
	for range 2 {
		_, err := cli.Ping(t.Context(), client.PingOptions{})
		if err == nil || !strings.Contains(err.Error(), "windflow agent: engine unreachable") {
			t.Errorf("ping of a dead engine through the agent: %v, want the agent's 502 message", err)
		}
	}
	if sess.IsClosed() {
		t.Error("the session closed after an engine error")
	}
}

// TestStreamEndsWithItsReader checks that a stream the API side stops
// reading (an /events stream closed by the worker) ends at the engine
// too, so that the agent keeps no engine connection for it.
func TestStreamEndsWithItsReader(t *testing.T) {
	ended := make(chan struct{})
	eng := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"start"}`+"\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(ended)
	}))
	t.Cleanup(eng.Close)
	srv := agenttest.NewServer(t, token)
	start(t, agent.Config{ServerURL: srv.URL, Token: token, Engine: "tcp://" + strings.TrimPrefix(eng.URL, "http://")})
	sess := srv.Next(t, 10*time.Second)
	conn, err := sess.Open()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, "GET /v1.41/events HTTP/1.1\r\nHost: agent\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), "200 OK") {
		t.Fatalf("events answer %q, %v", buf[:n], err)
	}
	for !strings.Contains(string(buf[:n]), `"start"`) {
		m, err := conn.Read(buf[n:])
		if err != nil {
			t.Fatalf("events stream before the first event: %v", err)
		}
		n += m
	}
	_ = conn.Close()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the engine's events request still open 10s after the API side closed its stream")
	}
}

package api

// Regression tests at the API edge, on the real
// Postgres (evtSetup): hostile filters, times past year 9999, oversized
// subscription lists, dependency errors in answers, and the stream's bounds.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/windflow/monitor/internal/store"
)

// edgeError is an answer in the one error shape.
type edgeError struct {
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// edgeGet sends a GET and returns the status and the body.
func edgeGet(t *testing.T, base, path string) (int, []byte) {
	t.Helper()
	code, raw := ntCall(t, &evtBundle{http: &httptest.Server{URL: base}}, http.MethodGet, path, "")
	return code, raw
}

// wantError checks that an answer is status with the error shape and code.
func wantError(t *testing.T, what string, code int, raw []byte, status int, errCode string) {
	t.Helper()
	var e edgeError
	if err := json.Unmarshal(raw, &e); err != nil || e.Error == nil || e.Error.Message == "" {
		t.Fatalf("%s: %d %q is not the error shape", what, code, raw)
	}
	if code != status || (errCode != "" && e.Error.Code != errCode) {
		t.Fatalf("%s: %d %s; want %d %s", what, code, raw, status, errCode)
	}
}

// TestEdge_EventTextFilters: NUL bytes, invalid UTF-8, control characters
// and overlong values in container/action answered 500 (Postgres refuses
// them in text); now 400 on both events routes.
func TestEdge_EventTextFilters(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, false)
	env := b.createEnv(t, "edge")
	b.insert(t, env.ID, evtEvent(0, "c1", "start"))
	for _, route := range []string{"/api/v1/events", "/api/v1/environments/" + env.ID.String() + "/events"} {
		for _, param := range []string{"container", "action"} {
			for _, bad := range []string{"%00", "a%00b", "%FF", "%C3%28", "x%07", strings.Repeat("a", maxFilterLength+1)} {
				path := route + "?" + param + "=" + bad
				code, raw := edgeGet(t, b.http.URL, path)
				wantError(t, path, code, raw, http.StatusBadRequest, "invalid_query")
			}
		}
		var page evtPage
		if code := b.get(t, route+"?container=c1&action=start", &page); code != http.StatusOK || len(page.Events) != 1 {
			t.Fatalf("%s with good filters: %d %+v", route, code, page)
		}
	}
}

// TestEdge_TimesPastYear9999: such times answered 200 with an empty body
// (the answer echoing them could not be encoded); now 400 on every route
// that takes from/to, and the last second of 9999 still works.
func TestEdge_TimesPastYear9999(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, false)
	env := b.createEnv(t, "edge")
	routes := []string{
		"/api/v1/events",
		"/api/v1/environments/" + env.ID.String() + "/events",
		"/api/v1/environments/" + env.ID.String() + "/metrics",
		"/api/v1/environments/" + env.ID.String() + "/disk",
	}
	bad := []string{"9999-12-31T23:59:59-23:59", "10000-01-01T00:00:00Z", "253402300800", "1099511627776", "-1",
		"1969-12-31T23:59:59Z", "0001-01-01T00:00:00Z"}
	for _, route := range routes {
		for _, param := range []string{"from", "to"} {
			for _, v := range bad {
				path := route + "?" + param + "=" + strings.ReplaceAll(v, "+", "%2B")
				code, raw := edgeGet(t, b.http.URL, path)
				wantError(t, path, code, raw, http.StatusBadRequest, "invalid_query")
			}
		}
		path := route + "?from=9999-12-31T00:00:00Z&to=9999-12-31T23:59:59Z"
		code, raw := edgeGet(t, b.http.URL, path)
		var body map[string]any
		if code != http.StatusOK || json.Unmarshal(raw, &body) != nil {
			t.Fatalf("%s: %d %q; want 200 with a JSON body", path, code, raw)
		}
	}
	// A step in seconds that wraps around int64 nanoseconds.
	for _, step := range []string{"18446744084", "9223372037", "7776001"} {
		path := routes[2] + "?step=" + step
		code, raw := edgeGet(t, b.http.URL, path)
		wantError(t, path, code, raw, http.StatusBadRequest, "invalid_query")
	}
}

// TestEdge_SubscriptionLists: 20,000 copies of one kind and 3,000 of one
// environment were accepted with one lookup each; now over a cap is a 400,
// and duplicates under it are dropped.
func TestEdge_SubscriptionLists(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, false)
	env := b.createEnv(t, "edge")
	id := ntCreateChannel(t, b, "subs", ntSecretURL("127.0.0.1:9"))
	path := "/api/v1/notification-channels/" + id.String() + "/subscription"
	repeat := func(v string, n int) string {
		return `["` + strings.Repeat(v+`","`, n-1) + v + `"]`
	}

	code, raw := ntCall(t, b, http.MethodPut, path, `{"kinds":`+repeat("container_oom", 20000)+`}`)
	wantError(t, "20,000 kinds", code, raw, http.StatusBadRequest, "too_many_kinds")
	code, raw = ntCall(t, b, http.MethodPut, path, `{"environments":`+repeat(env.ID.String(), 3000)+`}`)
	wantError(t, "3,000 environments", code, raw, http.StatusBadRequest, "too_many_environments")
	code, raw = ntCall(t, b, http.MethodPost, "/api/v1/notification-channels",
		fmt.Sprintf(`{"name":"other","url":%q,"environments":%s}`, ntSecretURL("127.0.0.1:9"), repeat(env.ID.String(), 3000)))
	wantError(t, "POST with 3,000 environments", code, raw, http.StatusBadRequest, "too_many_environments")
	// Nothing changed.
	if c, err := b.store.GetChannel(b.ctx, id); err != nil || len(c.Kinds) != 0 || len(c.Environments) != 0 {
		t.Fatalf("channel after refused changes: %+v, %v", c, err)
	}

	code, raw = ntCall(t, b, http.MethodPut, path,
		`{"kinds":`+repeat("container_oom", 40)+`,"environments":`+repeat(env.ID.String(), 500)+`}`)
	if code != http.StatusOK {
		t.Fatalf("duplicates under the caps: %d %s", code, raw)
	}
	var sub subscriptionJSON
	ntDecode(t, raw, &sub)
	if !slices.Equal(sub.Kinds, []string{"container_oom"}) || !slices.Equal(sub.Environments, []uuid.UUID{env.ID}) {
		t.Fatalf("subscription %+v; want the duplicates dropped", sub)
	}
	unknown := uuid.New()
	code, raw = ntCall(t, b, http.MethodPut, path, fmt.Sprintf(`{"environments":[%q,%q]}`, env.ID, unknown))
	wantError(t, "unknown environment", code, raw, http.StatusBadRequest, "invalid_environment")
	if !strings.Contains(string(raw), unknown.String()) {
		t.Fatalf("the 400 does not name the unknown environment: %s", raw)
	}
}

// deadTemporal is a real Temporal client that dials a port nobody listens on.
func deadTemporal(t *testing.T) client.Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := client.NewLazyClient(client.Options{HostPort: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestEdge_ReadyzHidesDependencyErrors: /readyz is open to anyone and used
// to echo pgx's and Temporal's errors (hosts, ports, users).
func TestEdge_ReadyzHidesDependencyErrors(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.Context(), evtSetup(t, false).url)
	if err != nil {
		t.Fatal(err)
	}
	st.Close() // every Ping fails now
	srv := NewTestServer(t, Config{}, Deps{Store: st, Flows: FlowsFor(st, deadTemporal(t), "")})
	hs := httptest.NewServer(srv.Routes())
	t.Cleanup(hs.Close)
	code, raw := edgeGet(t, hs.URL, "/readyz")
	var checks map[string]string
	if err := json.Unmarshal(raw, &checks); err != nil || code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz: %d %s", code, raw)
	}
	if checks["postgres"] != "unavailable" || checks["temporal"] != "unavailable" || len(checks) != 2 {
		t.Fatalf("/readyz = %v; want both unavailable and nothing else", checks)
	}
}

// TestEdge_503WithoutDependencyText: whoever builds a 503, its answer
// carries a generic message; a limit of the API's own keeps its message.
func TestEdge_503WithoutDependencyText(t *testing.T) {
	raw := "settings not applied: dial tcp 10.1.2.3:7233: connect: connection refused (user windflow)"
	rec := httptest.NewRecorder()
	writeError(rec, httptest.NewRequest(http.MethodPut, "/x", nil),
		fmt.Errorf("wrapped: %w", errorf(http.StatusServiceUnavailable, "temporal_unavailable", "%s", raw)))
	var e edgeError
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || rec.Code != 503 || e.Error.Code != "temporal_unavailable" ||
		e.Error.Message != unavailableMessage {
		t.Fatalf("503: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	writeError(rec, httptest.NewRequest(http.MethodGet, "/x", nil), busyf("too_many_streams", "full: %d", 3))
	if !strings.Contains(rec.Body.String(), "full: 3") {
		t.Fatalf("own 503 lost its message: %s", rec.Body)
	}
}

// TestEdge_AnswerEncodedBeforeTheHeader: a value that cannot be encoded is
// a 500 in the error shape, not a 200 with an empty body.
func TestEdge_AnswerEncodedBeforeTheHeader(t *testing.T) {
	rec := httptest.NewRecorder()
	writeJSON(rec, http.StatusOK, map[string]any{"t": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)})
	var e edgeError
	if rec.Code != http.StatusInternalServerError || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error == nil {
		t.Fatalf("unencodable answer: %d %q", rec.Code, rec.Body)
	}
}

// TestEdge_StatusHidesTemporalErrors: the live state's error is ours.
func TestEdge_StatusHidesTemporalErrors(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, false)
	env := b.createEnv(t, "edge")
	dead := deadTemporal(t)
	srv := NewTestServer(t, Config{}, Deps{Store: b.store, Flows: FlowsFor(b.store, dead, "")})
	hs := httptest.NewServer(srv.Routes())
	t.Cleanup(hs.Close)
	code, raw := edgeGet(t, hs.URL, "/api/v1/environments/"+env.ID.String()+"/status")
	var out struct {
		LiveError string `json:"liveError"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || code != http.StatusOK || out.LiveError == "" {
		t.Fatalf("status: %d %s", code, raw)
	}
	if strings.Contains(out.LiveError, "127.0.0.1") || strings.Contains(strings.ToLower(out.LiveError), "dial") {
		t.Fatalf("liveError echoes Temporal's error: %q", out.LiveError)
	}
}

// streamStatus opens the stream and returns its status and headers; the
// body is closed at once.
func streamStatus(t *testing.T, base string) (int, http.Header, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	defer resp.Body.Close()
	var raw []byte
	if resp.StatusCode != http.StatusOK {
		raw, _ = bufio.NewReader(resp.Body).ReadBytes(0)
	}
	return resp.StatusCode, resp.Header, raw
}

// TestStream_ClientCap: over MaxStreamClients the stream answers 503 with
// Retry-After; a slot frees when a client leaves.
func TestStream_ClientCap(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, true)
	b.srv.cfg.MaxStreamClients = 2
	hs := httptest.NewServer(b.srv.Routes())
	t.Cleanup(hs.Close)
	first := openStream(t, hs.URL, "", "")
	openStream(t, hs.URL, "", "")
	code, header, raw := streamStatus(t, hs.URL)
	wantError(t, "third stream", code, raw, http.StatusServiceUnavailable, "too_many_streams")
	if header.Get("Retry-After") == "" || !strings.Contains(string(raw), "2 live streams") {
		t.Fatalf("503 without Retry-After or reason: %v %s", header, raw)
	}
	first.close()
	waitFor(t, "a slot to free", func() bool {
		code, _, _ := streamStatus(t, hs.URL)
		return code == http.StatusOK
	})
}

// waitFor polls cond every 20 ms for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStream_BacklogBounded: "Last-Event-ID: 0:0" replayed both tables
// whole; now a catch-up reads at most StreamBacklog rows, then says so and
// continues live.
func TestStream_BacklogBounded(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, true)
	b.srv.cfg.StreamBacklog = 25
	hs := httptest.NewServer(b.srv.Routes())
	t.Cleanup(hs.Close)
	env := b.createEnv(t, "edge")
	var old []store.ContainerEvent
	for i := range 60 {
		old = append(old, evtEvent(time.Duration(i)*time.Millisecond, fmt.Sprintf("c%d", i), "start"))
	}
	b.insert(t, env.ID, old...)

	c := openStream(t, hs.URL, "", "0:0")
	for i := range 25 {
		if m := c.next(t); m.event != "container_event" {
			t.Fatalf("message %d: %+v; want a replayed event", i, m)
		}
	}
	m := c.next(t)
	if m.event != "backlog_truncated" || m.id == "" {
		t.Fatalf("after 25 rows: %+v; want backlog_truncated with an id", m)
	}
	var body struct{ Code, Message, SkippedAfter string }
	if err := json.Unmarshal([]byte(m.data), &body); err != nil || body.Code != "backlog_truncated" ||
		!strings.Contains(body.Message, "GET /api/v1/events") || body.SkippedAfter == "" {
		t.Fatalf("backlog_truncated data %q", m.data)
	}
	// Live from here: a new row arrives, the 35 skipped ones do not.
	live := b.insert(t, env.ID, evtEvent(time.Hour, "live", "die"))
	liveMsg := c.next(t)
	if liveMsg.event != "container_event" || !strings.Contains(liveMsg.data, fmt.Sprintf(`"id":%d,`, live[0].ID)) {
		t.Fatalf("after the truncation: %+v; want the live event %d", liveMsg, live[0].ID)
	}
	// Resuming from the truncation's id gets the live row only.
	c2 := openStream(t, hs.URL, "", m.id)
	if again := c2.next(t); again.data != liveMsg.data {
		t.Fatalf("resumed from the truncation: %+v; want the live event", again)
	}
	c2.quiet(t, 300*time.Millisecond)
}

// TestStream_StuckClientDropped: a client that stops reading is dropped
// once a write takes longer than StreamWriteTimeout (its slot frees).
func TestStream_StuckClientDropped(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, true)
	b.srv.cfg.MaxStreamClients = 1
	b.srv.cfg.StreamWriteTimeout = 3 * time.Second // the 503 check below runs well within it
	b.srv.cfg.StreamBacklog = 100000
	hs := httptest.NewServer(b.srv.Routes())
	t.Cleanup(hs.Close)
	env := b.createEnv(t, "edge")
	big := strings.Repeat("x", 4000)
	for batch := range 10 {
		var events []store.ContainerEvent
		for i := range 500 {
			e := evtEvent(time.Duration(batch*500+i)*time.Millisecond, fmt.Sprintf("c%d-%d", batch, i), "start")
			e.Attributes["big"] = big
			events = append(events, e)
		}
		if n, err := b.store.InsertEvents(b.ctx, env.ID, events, 0); err != nil || n != len(events) {
			t.Fatalf("InsertEvents = %d, %v", n, err)
		}
	}
	// ~20 MB of replay to a client that never reads, with a small window.
	conn, err := net.Dial("tcp", strings.TrimPrefix(hs.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.(*net.TCPConn).SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(conn, "GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nLast-Event-ID: 0:0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// Read its status line only (a few bytes): the stuck client holds the
	// slot from here on, and nothing else polls before, so no race for it.
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	status, err := bufio.NewReaderSize(conn, 16).ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 200") {
		t.Fatalf("stuck client's status line %q, %v; want 200", status, err)
	}
	if code, _, _ := streamStatus(t, hs.URL); code != http.StatusServiceUnavailable {
		t.Fatalf("a second client while the stuck one holds the only slot: %d; want 503", code)
	}
	waitFor(t, "the stuck client to be dropped", func() bool {
		code, _, _ := streamStatus(t, hs.URL)
		return code == http.StatusOK
	})
}

// TestStream_OutlivesServerTimeouts: behind an http.Server with 1 s read,
// write and idle timeouts (the command's are 30 s, 60 s and 120 s), a live
// stream stays open for several of them, writing its keepalives, and still
// delivers a new event: each of its writes gets a deadline of its own.
func TestStream_OutlivesServerTimeouts(t *testing.T) {
	t.Parallel()
	b := evtSetupWith(t, true, 200*time.Millisecond)
	hs := httptest.NewUnstartedServer(b.srv.Routes())
	hs.Config.ReadTimeout, hs.Config.WriteTimeout, hs.Config.IdleTimeout = time.Second, time.Second, time.Second
	hs.Start()
	t.Cleanup(hs.Close)
	env := b.createEnv(t, "edge")
	c := openStream(t, hs.URL, "", "")
	const hold = 3500 * time.Millisecond
	keepalives, end := 0, time.After(hold)
	for waiting := true; waiting; {
		select {
		case m, ok := <-c.messages:
			if !ok {
				t.Fatalf("the stream ended within %v (after %d keepalives): cut by the server's timeouts", hold, keepalives)
			}
			if m.comment == "keepalive" {
				keepalives++
			}
		case <-end:
			waiting = false
		}
	}
	if keepalives < 10 {
		t.Fatalf("%d keepalives in %v at one per 200 ms; want the stream writing throughout", keepalives, hold)
	}
	e := b.insert(t, env.ID, evtEvent(0, "late", "start"))[0]
	if m := c.next(t); m.event != "container_event" || !strings.Contains(m.data, fmt.Sprintf(`"id":%d,`, e.ID)) {
		t.Fatalf("after %v: %+v; want the new event %d", hold, m, e.ID)
	}
}

// TestSecurity_HostChecked: without a token, a Host that is not loopback,
// an IP literal, the listen address or an allowed name is refused (DNS
// rebinding); with a token every host is served.
func TestSecurity_HostChecked(t *testing.T) {
	srv := NewTestServer(t, Config{ListenAddr: "monitor.lan:8080", AllowedHosts: []string{"Windflow.Example.com:443", " "}}, Deps{})
	h := srv.Routes()
	for host, want := range map[string]int{
		"127.0.0.1:8080": secPassed, "localhost:8080": secPassed,
		"[::1]:8080": secPassed, "app.localhost": secPassed,
		"10.0.0.5": secPassed, "monitor.lan:9999": secPassed,
		"windflow.example.com": secPassed, "WINDFLOW.example.com.:8080": secPassed,
		"evil.example:8080": http.StatusMisdirectedRequest, "localhost.evil.example": http.StatusMisdirectedRequest,
		"127.0.0.1.nip.io:8080": http.StatusMisdirectedRequest,
	} {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/events", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Host %s: %d %s; want %d", host, rec.Code, rec.Body, want)
		}
		if want == http.StatusMisdirectedRequest {
			wantError(t, host, rec.Code, rec.Body.Bytes(), want, "host_not_allowed")
		}
	}
	tokenH := NewTestServer(t, Config{APIToken: secToken}, Deps{}).Routes()
	req := httptest.NewRequest(http.MethodGet, "/api/v1/events", nil)
	req.Host = "evil.example"
	req.Header.Set("Authorization", "Bearer "+secToken)
	rec := httptest.NewRecorder()
	tokenH.ServeHTTP(rec, req)
	if rec.Code != secPassed {
		t.Fatalf("with a token, any Host: %d; want 500", rec.Code)
	}
}

// TestSecurity_BrowserForgeryRefused: without a token, a body that is not
// declared JSON is 415 (a page sends text/plain or a form without a
// preflight), and a change from a page of another origin is 403.
func TestSecurity_BrowserForgeryRefused(t *testing.T) {
	h := NewTestServer(t, Config{CORSOrigins: []string{"https://ops.example.com"}}, Deps{}).Routes()
	post := func(ct, origin, body string) (int, []byte) {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/environments", strings.NewReader(body))
		req.Host = "127.0.0.1:8080"
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.Bytes()
	}
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
		"application/jsonp", "application/json-patch+json", "text/plain; application/json"} {
		code, raw := post(ct, "", `{"name":`)
		wantError(t, "Content-Type "+ct, code, raw, http.StatusUnsupportedMediaType, "unsupported_media_type")
	}
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON"} {
		if code, raw := post(ct, "", `{"name":`); code != http.StatusBadRequest {
			t.Fatalf("Content-Type %s: %d %s; want 400 (the JSON is bad)", ct, code, raw)
		}
	}
	for _, origin := range []string{"https://evil.example", "null", "http://127.0.0.1:8080.evil.example"} {
		code, raw := post("application/json", origin, `{"name":`)
		wantError(t, "Origin "+origin, code, raw, http.StatusForbidden, "cross_origin")
	}
	for _, origin := range []string{"https://ops.example.com", "http://127.0.0.1:8080"} {
		if code, raw := post("application/json", origin, `{"name":`); code != http.StatusBadRequest {
			t.Fatalf("Origin %s: %d %s; want 400", origin, code, raw)
		}
	}
	// A body-less POST from another origin (a form without fields).
	req := httptest.NewRequest(http.MethodPost, "/api/v1/notification-channels/"+uuid.NewString()+"/test", nil)
	req.Host = "localhost:8080"
	req.Header.Set("Origin", "https://evil.example")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	wantError(t, "body-less cross-origin POST", rec.Code, rec.Body.Bytes(), http.StatusForbidden, "cross_origin")
	// With a token, no Content-Type is still accepted (the token is the guard).
	code := secDo(t, NewTestServer(t, Config{APIToken: secToken}, Deps{}).Routes(), secCall{method: http.MethodPost, path: "/api/v1/environments",
		header: map[string]string{"Authorization": "Bearer " + secToken, "Content-Type": ""}, body: `{"name":`}).code
	if code != http.StatusBadRequest {
		t.Fatalf("with a token: %d; want 400", code)
	}
}

// TestEdge_ChannelNullBodies: a JSON null (whole body or a member) was a
// no-op PATCH, and a null subscription reset the channel to "everything".
func TestEdge_ChannelNullBodies(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, false)
	env := b.createEnv(t, "edge")
	id := ntCreateChannel(t, b, "nulls", ntSecretURL("127.0.0.1:9"))
	base := "/api/v1/notification-channels/" + id.String()
	code, raw := ntCall(t, b, http.MethodPut, base+"/subscription", fmt.Sprintf(`{"environments":[%q],"kinds":["container_oom"]}`, env.ID))
	if code != http.StatusOK {
		t.Fatalf("subscription: %d %s", code, raw)
	}
	for _, c := range []struct{ method, path, body, code string }{
		{http.MethodPatch, base, `null`, "invalid_json"},
		{http.MethodPatch, base, `{"name":null}`, "invalid_json"},
		{http.MethodPatch, base, `{"environments":[null]}`, "invalid_environment"},
		{http.MethodPut, base + "/subscription", `null`, "invalid_json"},
		{http.MethodPut, base + "/subscription", `{"kinds":null}`, "invalid_json"},
		{http.MethodPost, "/api/v1/notification-channels", `null`, "invalid_json"},
		{http.MethodPost, "/api/v1/notification-channels", `[]`, "invalid_json"},
	} {
		code, raw := ntCall(t, b, c.method, c.path, c.body)
		wantError(t, c.method+" "+c.body, code, raw, http.StatusBadRequest, c.code)
	}
	if ch, err := b.store.GetChannel(b.ctx, id); err != nil || ch.Name != "nulls" ||
		!slices.Equal(ch.Kinds, []string{"container_oom"}) || !slices.Equal(ch.Environments, []uuid.UUID{env.ID}) {
		t.Fatalf("channel after null bodies: %+v, %v", ch, err)
	}
}

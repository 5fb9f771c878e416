package api_test

// The hostile-request suite: at least 1,000 generated malformed
// and hostile requests across every route of the router — found by walking
// it with chi.Walk, so a new route is covered without touching this file —
// against the real PostgreSQL and the real Temporal server (with a worker,
// so that settings Updates and deletes complete), with and without an API
// token. Every answer must be below 500, and every 4xx must be the one
// error shape. The generator is seeded: a failure names its seed value and the
// request's number, and the same seed sends the same requests.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/windflow/monitor/activities"
	"github.com/windflow/monitor/api"
	"github.com/windflow/monitor/internal/agenthub"
	"github.com/windflow/monitor/internal/dashboard"
	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/engine/enginetest"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
	"github.com/windflow/monitor/internal/temporaltest"
	"github.com/windflow/monitor/worker"
	"github.com/windflow/monitor/workflows"
)

const (
	// hostileSeed is the generator's seed; WINDFLOW_HOSTILE_SEED replaces
	// it to explore (a failure is then reproduced with the same value).
	hostileSeed     = 9
	hostileRequests = 1200
	hostileToken    = "hostile-suite-token-0123456789abcdef"
	// hostileMinPerRoute is how many requests every walked route gets at
	// least.
	hostileMinPerRoute = 15
)

// hostileTarget is one server under test.
type hostileTarget struct {
	name  string
	url   string
	token string // sent as the right token when set
}

// hostileSeeds are the objects real IDs point at.
type hostileSeeds struct {
	envs, channels []string
}

func TestHostileRequests(t *testing.T) {
	ctx := context.Background()
	databaseURL := storetest.NewSchema(t)
	st, err := store.Open(ctx, databaseURL)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(st.Close)
	tc, err := client.Dial(client.Options{HostPort: temporaltest.Address(t), Identity: "hostile-suite"})
	if err != nil {
		t.Fatalf("dial temporal: %v", err)
	}
	t.Cleanup(tc.Close)
	taskQueue := "hostile-" + uuid.NewString()
	w := worker.New(tc, taskQueue, &activities.Activities{
		Store: st, Collector: engine.Collector{Parallelism: 4}, Temporal: tc, TaskQueue: taskQueue,
		Agents: agenthub.NewDialer(st),
	})
	if err := w.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	t.Cleanup(w.Stop)
	// Whatever the suite created keeps no workflow running.
	t.Cleanup(func() { hostileTerminateAll(t, st, tc) })

	hub, err := agenthub.New(st, agenthub.Config{RelayURL: "http://127.0.0.1:9"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Close)
	deps := api.Deps{Store: st, Flows: api.FlowsFor(st, tc, taskQueue), Agents: hub}
	cfg := api.Config{Namespace: "default", UIURL: "http://127.0.0.1:8233", MutationRateLimit: -1, AuthFailureLimit: -1, StreamHeartbeat: time.Minute}
	open := api.NewTestServer(t, cfg, deps)
	cfg.APIToken = hostileToken
	locked := api.NewTestServer(t, cfg, deps)
	var targets []hostileTarget
	for _, s := range []struct {
		srv   *api.Server
		token string
	}{{open, ""}, {locked, hostileToken}} {
		hs := httptest.NewServer(s.srv.Routes())
		t.Cleanup(hs.Close)
		t.Cleanup(s.srv.StopStream) // runs first: open streams end
		targets = append(targets, hostileTarget{url: hs.URL, token: s.token})
	}
	targets[0].name, targets[1].name = "no token", "token"

	routes := hostileRoutes(t, open.Routes())
	seed := uint64(hostileSeed)
	if v := os.Getenv("WINDFLOW_HOSTILE_SEED"); v != "" {
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("WINDFLOW_HOSTILE_SEED=%q: %v", v, err)
		}
	}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	t.Cleanup(receiver.Close)
	g := &hostileGen{rng: rand.New(rand.NewPCG(seed, seed)), receiver: strings.TrimPrefix(receiver.URL, "http://")}
	g.seeds = g.seedObjects(t, targets[0].url)
	hc := &http.Client{Timeout: 30 * time.Second}

	perRoute := map[string]int{}
	var failures []string
	for i := range hostileRequests {
		// Every route in turn first, then random ones.
		rt := routes[i%len(routes)]
		if i >= hostileMinPerRoute*len(routes) {
			rt = routes[g.rng.IntN(len(routes))]
		}
		target := targets[g.rng.IntN(len(targets))]
		req := g.request(rt, target)
		perRoute[rt.method+" "+rt.pattern]++
		problem, status := hostileSend(hc, req, rt)
		if req.wasDelete(status) { // a seeded object is gone: make new ones
			g.seeds = g.seedObjects(t, targets[0].url)
		}
		if problem == "" {
			continue
		}
		failures = append(failures, fmt.Sprintf("seed %d #%d [%s] %s %s: %s", seed, i, target.name, req.method, hostileShort(req.path), problem))
	}
	for _, rt := range routes {
		if n := perRoute[rt.method+" "+rt.pattern]; n < hostileMinPerRoute {
			t.Errorf("route %s %s got %d requests; want at least %d", rt.method, rt.pattern, n, hostileMinPerRoute)
		}
	}
	t.Logf("seed %d: %d requests over %d routes, %d failures", seed, hostileRequests, len(routes), len(failures))
	for _, f := range failures {
		t.Error(f)
	}
}

// hostileRoute is one route of the router.
type hostileRoute struct{ method, pattern string }

// hostileRoutes walks the router: every method and pattern it serves.
func hostileRoutes(t *testing.T, h http.Handler) []hostileRoute {
	t.Helper()
	r, ok := h.(chi.Routes)
	if !ok {
		t.Fatalf("Routes() is a %T, not a chi router", h)
	}
	var out []hostileRoute
	err := chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		out = append(out, hostileRoute{method: method, pattern: route})
		return nil
	})
	if err != nil || len(out) < 20 {
		t.Fatalf("walk: %d routes, %v", len(out), err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pattern+out[i].method < out[j].pattern+out[j].method })
	return out
}

// seedObjects creates (through the API) an environment on the real engine
// and a notification channel to the test's receiver, for the real IDs of
// the generated requests.
func (g *hostileGen) seedObjects(t *testing.T, base string) hostileSeeds {
	t.Helper()
	post := func(path, body string) string {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("seed %s: %v", path, err)
		}
		defer resp.Body.Close()
		var out struct{ ID string }
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusCreated || json.Unmarshal(raw, &out) != nil {
			t.Fatalf("seed %s: %d %s", path, resp.StatusCode, raw)
		}
		return out.ID
	}
	name := "hostile-" + uuid.NewString()[:8]
	return hostileSeeds{
		envs:     []string{post("/api/v1/environments", fmt.Sprintf(`{"name":%q,"endpoint":%q}`, name, enginetest.Endpoint()))},
		channels: []string{post("/api/v1/notification-channels", fmt.Sprintf(`{"name":%q,"url":"generic://%s/hostile?disabletls=yes"}`, name, g.receiver))},
	}
}

// hostileTerminateAll terminates the workflow of every environment left in
// the suite's schema.
func hostileTerminateAll(t *testing.T, st *store.Store, tc client.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	envs, err := st.ListEnvironments(ctx)
	if err != nil {
		t.Errorf("cleanup: list environments: %v", err)
		return
	}
	for _, e := range envs {
		_ = tc.TerminateWorkflow(ctx, workflows.WorkflowID(e.ID.String()), "", "hostile suite cleanup")
	}
}

// hostileRequest is one generated request.
type hostileRequest struct {
	method, path string
	header       map[string]string
	body         []byte
	realDelete   bool
}

func (r hostileRequest) wasDelete(status int) bool {
	return r.realDelete && status == http.StatusNoContent
}

// hostileSend sends req and returns what is wrong with the answer ("" if
// nothing) and its status.
func hostileSend(hc *http.Client, hr hostileRequest, rt hostileRoute) (string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, hr.method, hr.path, bytes.NewReader(hr.body))
	if err != nil {
		return "", 0 // not sendable (the client refuses it): nothing to judge
	}
	if len(hr.body) == 0 {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	for k, v := range hr.header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "no answer: " + err.Error(), 0
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") == "text/event-stream" {
		if resp.StatusCode != http.StatusOK {
			return fmt.Sprintf("event stream with status %d", resp.StatusCode), resp.StatusCode
		}
		return "", resp.StatusCode // a live stream: closing it is the end
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if (rt.pattern == "/" || strings.HasPrefix(rt.pattern, "/assets/")) &&
		(resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNotModified) {
		// The dashboard's page and files: not JSON, under their own policy.
		if csp := resp.Header.Get("Content-Security-Policy"); csp != dashboard.ContentSecurityPolicy {
			return fmt.Sprintf("dashboard answer %d with the policy %q", resp.StatusCode, csp), resp.StatusCode
		}
		return "", resp.StatusCode
	}
	if resp.StatusCode == http.StatusBadGateway && strings.HasSuffix(rt.pattern, "/test") {
		// The receiver of a channel (changed by an earlier request) did
		// not take the test message: the documented answer, in the shape.
		resp.StatusCode = http.StatusBadRequest
		if p := hostileJudge(resp, raw); p != "" || !strings.Contains(string(raw), `"delivery_failed"`) {
			return "502 that is not delivery_failed in the error shape: " + hostileShort(string(raw)), http.StatusBadGateway
		}
		return "", http.StatusBadGateway
	}
	return hostileJudge(resp, raw), resp.StatusCode
}

// hostileJudge checks one answer: below 500, the error shape on every 4xx,
// JSON on every other answer with a body.
func hostileJudge(resp *http.Response, raw []byte) string {
	code := resp.StatusCode
	switch {
	case code >= 500:
		return fmt.Sprintf("answered %d: %s", code, hostileShort(string(raw)))
	case code == http.StatusNoContent:
		return ""
	case !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"):
		return fmt.Sprintf("answered %d with Content-Type %q", code, resp.Header.Get("Content-Type"))
	}
	if code >= 400 {
		var e struct {
			Error *struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil || e.Error == nil || e.Error.Code == "" || e.Error.Message == "" {
			return fmt.Sprintf("%d is not the error shape: %s", code, hostileShort(string(raw)))
		}
		return ""
	}
	if !json.Valid(raw) {
		return fmt.Sprintf("%d with a body that is not JSON: %s", code, hostileShort(string(raw)))
	}
	return ""
}

func hostileShort(s string) string {
	if len(s) > 300 {
		return strconv.Quote(s[:300]) + "…"
	}
	return strconv.Quote(s)
}

// hostileGen generates requests from one seeded source.
type hostileGen struct {
	rng   *rand.Rand
	seeds hostileSeeds
	// receiver is host:port of the webhook receiver of seeded channels.
	receiver string
}

func (g *hostileGen) pick(options ...string) string { return options[g.rng.IntN(len(options))] }

func (g *hostileGen) chance(p float64) bool { return g.rng.Float64() < p }

// request builds a hostile request for rt on target.
func (g *hostileGen) request(rt hostileRoute, target hostileTarget) hostileRequest {
	hr := hostileRequest{method: rt.method, header: map[string]string{}}
	if g.chance(0.08) { // a method the route does not serve
		hr.method = g.pick(http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions, "PROPFIND")
	}
	path, known := g.path(rt.pattern)
	hr.realDelete = known && hr.method == http.MethodDelete
	hr.path = target.url + path
	if q := g.query(); q != "" {
		hr.path += "?" + q
	}
	if hr.method != http.MethodGet && hr.method != http.MethodDelete || g.chance(0.05) {
		hr.body = g.body(rt.pattern)
		hr.header["Content-Type"] = g.contentType()
	}
	switch {
	case target.token == "":
	case g.chance(0.8):
		hr.header["Authorization"] = "Bearer " + target.token
	case g.chance(0.5):
		hr.header["Authorization"] = g.pick("Bearer wrong", "Basic "+target.token, "Bearer", "Bearer "+target.token+"x", "bearer  "+strings.Repeat("t", 5000))
	}
	if g.chance(0.1) {
		hr.header["Host"] = g.pick("evil.example", "127.0.0.1.nip.io:8080", "localhost", "[::1]", "monitor.lan:80")
	}
	if g.chance(0.1) {
		hr.header["Origin"] = g.pick("https://evil.example", "null", "http://localhost:3000")
	}
	if g.chance(0.15) {
		hr.header["Last-Event-ID"] = g.pick("0:0", "1.2:3.4", "x", "-1:-1", "99999999999999999999:1", "1.1:", ":", strings.Repeat("9", 500))
	}
	return hr
}

// path fills the pattern's {id} with a real, unknown or malformed ID; known
// tells that it names a seeded object.
func (g *hostileGen) path(pattern string) (string, bool) {
	path := pattern
	if len(path) > 1 && strings.HasSuffix(path, "/") && g.chance(0.7) {
		path = strings.TrimSuffix(path, "/")
	}
	if !strings.Contains(path, "{id}") {
		return path, false
	}
	ids := g.seeds.envs
	if strings.Contains(pattern, "notification-channels") {
		ids = g.seeds.channels
	}
	var id string
	known := false
	switch g.rng.IntN(6) {
	case 0, 1:
		id, known = ids[g.rng.IntN(len(ids))], true
	case 2:
		id = uuid.NewString()
	case 3:
		id = strings.ToUpper(ids[0])
	default:
		id = url.PathEscape(g.pick("not-a-uuid", "\x00", "\xff\xfe", strings.Repeat("a", 3000), "00000000-0000-0000-0000-000000000000",
			"{id}", "..", ids[0]+"x", "' OR 1=1 --", "%", "ＡＢＣ", "1e309", "-1"))
	}
	return strings.Replace(path, "{id}", id, 1), known
}

// hostileQueryKeys are the query parameters of every route (and some no
// route reads).
var hostileQueryKeys = []string{"from", "to", "step", "limit", "cursor", "container", "action", "environment",
	"kind", "status", "before", "channel", "lastEventId", "access_token", "x"}

func (g *hostileGen) queryValue() string {
	return g.pick("", "0", "-1", "1", "500", "501", "1e3", "NaN", "9223372036854775807", "9223372036854775808",
		"18446744084", "253402300799", "253402300800", "1099511627776", "9999-12-31T23:59:59Z",
		"9999-12-31T23:59:59-23:59", "10000-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z",
		"2025-06-01T12:00:00+02:00", "1s", "0s", "-5m", "2562047h", "1ns", "\x00", "a\x00b", "\xff", "\xc3\x28",
		"\u202e", strings.Repeat("z", 5000), "health_status", "start", "/name", uuid.NewString(), g.seeds.envs[0],
		g.seeds.channels[0], "pending", "delivered", "container_oom", "MTox", "bm90IGEgY3Vyc29y", "0:0", hostileToken, "' OR 1=1 --")
}

// query returns 0 to 4 parameters, sometimes repeated, sometimes raw.
func (g *hostileGen) query() string {
	if g.chance(0.05) {
		return g.pick("%zz", "from=%", "a=b;c=d", "&&&", "from=1&from=2", "=x", strings.Repeat("a=1&", 2000))
	}
	v := url.Values{}
	for range g.rng.IntN(5) {
		v.Add(hostileQueryKeys[g.rng.IntN(len(hostileQueryKeys))], g.queryValue())
	}
	return v.Encode()
}

func (g *hostileGen) contentType() string {
	return g.pick("application/json", "application/json", "application/json", "application/json; charset=utf-8", "",
		"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", "application/json;;")
}

// hostileFields are the body fields of every route (and unknown ones).
var hostileFields = []string{"name", "endpoint", "settings", "tls", "url", "enabled", "environments", "kinds",
	"metricsIntervalSeconds", "collectMetrics", "paused", "offlineAfter", "eventsEnabled", "eventMode",
	"pollIntervalSeconds", "diskIntervalSeconds", "diskTimeoutSeconds", "diskThresholdMode", "diskThresholdPercent",
	"diskThresholdBytes", "diskCapacityBytes", "diskCooldownSeconds", "ca", "cert", "key", "id", "__proto__", ""}

// jsonValue returns a hostile JSON value, nested at most depth deep.
func (g *hostileGen) jsonValue(depth int) string {
	switch n := g.rng.IntN(10); {
	case n < 3:
		return g.pick("0", "-1", "1", "10", "30", "300", "-0", "0.5", "1e-400", "2147483648", "9223372036854775807",
			"9223372036854775808", "18446744084", "18446744073709551616", "1e308", "1e309", "-1e309", "3600", "80", "101")
	case n < 6:
		s := g.pick("", "a", "local", "\\u0000", "a\\u0000b", "\\ud800", "\\udfff\\ud800", "\u202e", "\x7f",
			strings.Repeat("n", 200), strings.Repeat("é", 70000), "unix:///var/run/docker.sock", "unix:///etc/passwd",
			"tcp://169.254.169.254:2375", "tcp://[::1]:1", "tcp://127.0.0.1:0", "tcp://host:99999", "http://x", "ssh://x",
			"ntfy://ntfy.invalid/t", "generic://169.254.169.254/x", "generic://127.0.0.1:9/x?disabletls=yes", "smtp://",
			uuid.NewString(), g.seeds.envs[0], g.seeds.channels[0], "stream", "poll", "percent", "bytes", "off",
			"container_oom", "environment_offline", "-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----")
		return `"` + s + `"`
	case n < 7:
		return g.pick("true", "false", "null")
	case n < 9 && depth > 0:
		var parts []string
		count := g.rng.IntN(4)
		if g.chance(0.05) {
			count = 3000
		}
		v := g.jsonValue(depth - 1)
		for range count {
			if g.chance(0.5) {
				v = g.jsonValue(depth - 1)
			}
			parts = append(parts, v)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case depth > 0:
		return g.jsonObject(depth - 1)
	}
	return "null"
}

func (g *hostileGen) jsonObject(depth int) string {
	var parts []string
	for range g.rng.IntN(5) {
		parts = append(parts, strconv.Quote(hostileFields[g.rng.IntN(len(hostileFields))])+":"+g.jsonValue(depth))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// body returns a hostile body: mostly a JSON object of the routes' fields
// with hostile values, else garbage.
func (g *hostileGen) body(pattern string) []byte {
	if g.chance(0.7) {
		return []byte(g.jsonObject(2))
	}
	switch g.rng.IntN(14) {
	case 0:
		return nil
	case 1:
		return []byte(g.pick("{", "}", "null", "[]", `"s"`, "{}{}", "{} x", `{"name":1,"name":2}`, "\ufeff{}", "0", "true"))
	case 2:
		return []byte{0xff, 0xfe, 0x00, '{', '}'}
	case 3:
		return []byte(strings.Repeat("[", 100000) + strings.Repeat("]", 100000))
	case 4:
		return []byte(`{"name":"` + strings.Repeat("x", 1<<20) + `"}`) // over the 1 MiB limit
	case 5:
		return []byte(`{"settings":` + strings.Repeat(`{"settings":`, 5000) + "1" + strings.Repeat("}", 5001))
	case 6:
		return []byte(`{"name":"a` + "\x00" + `b","endpoint":"unix:///var/run/docker.sock"}`)
	case 7:
		return []byte(`{"name":"` + string([]byte{0xc3, 0x28}) + `","url":"ntfy://x/y"}`)
	case 8:
		return []byte(`{"environments":["` + strings.Repeat(g.seeds.envs[0]+`","`, 2999) + g.seeds.envs[0] + `"]}`)
	case 9:
		return []byte(`{"kinds":["` + strings.Repeat(`container_oom","`, 19999) + `container_oom"]}`)
	case 10:
		return []byte(`{"metricsIntervalSeconds":18446744084,"pollIntervalSeconds":18446744084,"diskCooldownSeconds":18446744084}`)
	case 11:
		return []byte("name=x&endpoint=unix:///var/run/docker.sock")
	case 12:
		return []byte(`{"tls":{"ca":"` + strings.Repeat("A", 500000) + `"}}`)
	}
	return []byte(fmt.Sprintf(`{"name":%q,"endpoint":"unix:///var/run/docker.sock","settings":{"metricsIntervalSeconds":%d}}`,
		"hostile-"+strconv.Itoa(g.rng.IntN(1000)), g.rng.Int64()))
}

package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"go.temporal.io/sdk/converter"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/windflow/monitor/activities"
	"github.com/windflow/monitor/api"
	"github.com/windflow/monitor/internal/agenthub"
	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/engine/enginetest"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
	"github.com/windflow/monitor/internal/temporaltest"
	"github.com/windflow/monitor/worker"
	"github.com/windflow/monitor/workflows"
)

// testBundle is a whole Windflow on the real stack: an isolated Postgres
// schema, two workers and the API on their own task queue of the real
// Temporal server, and a client of the real Docker engine.
type testBundle struct {
	api         *httptest.Server
	store       *store.Store
	temporal    client.Client
	databaseURL string
	taskQueue   string
}

func dial(t testing.TB, identity string) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: temporaltest.Address(t), Identity: identity})
	if err != nil {
		t.Fatalf("dial temporal: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// setup starts two workers and the API. Everything stops when the test ends.
func setup(t *testing.T) *testBundle {
	t.Helper()
	return setupWith(t, 2)
}

// setupWith starts the API and the given number of in-process workers.
func setupWith(t testing.TB, workers int) *testBundle {
	t.Helper()
	databaseURL := storetest.NewSchema(t)
	ctx := context.Background()
	st, err := store.Open(ctx, databaseURL)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(st.Close)
	taskQueue := "e2e-" + uuid.NewString()
	for i := 1; i <= workers; i++ {
		wc := dial(t, fmt.Sprintf("e2e-worker-%d", i))
		w := worker.New(wc, taskQueue, &activities.Activities{
			Store:     st,
			Collector: engine.Collector{Parallelism: 4},
			Temporal:  wc,
			TaskQueue: taskQueue,
			Agents:    agenthub.NewDialer(st),
		})
		if err := w.Start(); err != nil {
			t.Fatalf("start worker %d: %v", i, err)
		}
		t.Cleanup(w.Stop)
	}
	tc := dial(t, "e2e-api")
	b := &testBundle{store: st, temporal: tc, databaseURL: databaseURL, taskQueue: taskQueue}
	b.api = b.startAPI(t)
	return b
}

// startAPI starts one more API instance on the bundle's store and
// Temporal, with its agent hub. It stops when the test ends.
func (b *testBundle) startAPI(t testing.TB) *httptest.Server {
	t.Helper()
	return b.startAPIOn(t, nil)
}

// startAPIOn is startAPI serving on l (nil: a loopback port of its own).
func (b *testBundle) startAPIOn(t testing.TB, l net.Listener) *httptest.Server {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	if l != nil {
		_ = hs.Listener.Close()
		hs.Listener = l
	}
	hub, err := agenthub.New(b.store, agenthub.Config{RelayURL: "http://" + hs.Listener.Addr().String(), CheckInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv := api.NewTestServer(t, api.Config{Namespace: "default", UIURL: "http://127.0.0.1:8233"},
		api.Deps{Store: b.store, Flows: api.FlowsFor(b.store, b.temporal, b.taskQueue), Agents: hub})
	srv.StartStream(context.Background())
	hs.Config.Handler = srv.Routes()
	hs.Start()
	t.Cleanup(hs.Close)
	t.Cleanup(hub.Close)
	t.Cleanup(srv.StopStream) // runs first: ends open streams so Close does not wait
	return hs
}

// call sends a request with an optional raw JSON body and decodes the answer
// into out (when non-nil); it returns the status code.
func (b *testBundle) call(t testing.TB, method, path, body string, out any) int {
	t.Helper()
	code, raw := b.raw(t, method, path, body)
	if out != nil && len(strings.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal([]byte(raw), out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return code
}

// raw sends a request and returns the status and the body as text. Every
// exchange is checked against api/openapi.json (checkContract): a mismatch
// fails the test.
func (b *testBundle) raw(t testing.TB, method, path, body string) (int, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, b.api.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if err := checkContract(req, []byte(body), resp.StatusCode, resp.Header, out); err != nil {
		t.Errorf("%s %s: api/openapi.json: %v", method, path, err)
	}
	return resp.StatusCode, string(out)
}

type environmentJSON struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Version  int    `json:"version"`
	Settings struct {
		MetricsIntervalSeconds int  `json:"metricsIntervalSeconds"`
		CollectMetrics         bool `json:"collectMetrics"`
		OfflineAfter           int  `json:"offlineAfter"`
	} `json:"settings"`
	WorkflowID  string `json:"workflowId"`
	WorkflowURL string `json:"workflowUrl"`
}

type errorJSON struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

type containerJSON struct {
	ContainerID string  `json:"containerId"`
	CPUPercent  float64 `json:"cpuPercent"`
	MemoryUsed  int64   `json:"memoryUsed"`
	MemoryLimit int64   `json:"memoryLimit"`
}

// createEnvironment creates an environment on the test engine and deletes it
// when the test ends (which stops its workflow).
func (b *testBundle) createEnvironment(t testing.TB, name string, interval int) environmentJSON {
	t.Helper()
	return b.createEnvironmentWith(t, name, enginetest.Endpoint(), fmt.Sprintf(`{"metricsIntervalSeconds":%d}`, interval))
}

// createEnvironmentWith creates an environment with raw JSON settings.
func (b *testBundle) createEnvironmentWith(t testing.TB, name, endpoint, settings string) environmentJSON {
	t.Helper()
	var env environmentJSON
	body := fmt.Sprintf(`{"name":%q,"endpoint":%q,"settings":%s}`, name, endpoint, settings)
	if code := b.call(t, http.MethodPost, "/api/v1/environments", body, &env); code != http.StatusCreated {
		t.Fatalf("create environment: status %d", code)
	}
	t.Cleanup(func() { b.call(t, http.MethodDelete, "/api/v1/environments/"+env.ID, "", nil) })
	return env
}

// eventually polls check every second until it returns true or timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if check() {
			return
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}

func TestEndToEnd_MetricsThroughAPI(t *testing.T) {
	cli := enginetest.Client(t)
	b := setup(t)
	busy := enginetest.RunContainer(t, cli, "wf-e2e-busy", "sh", "-c", "while :; do :; done")
	idle := enginetest.RunContainer(t, cli, "wf-e2e-idle", "sleep", "3600")

	env := b.createEnvironment(t, "e2e-"+uuid.NewString()[:8], 10)
	if env.WorkflowID != "environment/"+env.ID || !strings.Contains(env.WorkflowURL, "environment%2F"+env.ID) {
		t.Fatalf("workflow id/url = %q %q", env.WorkflowID, env.WorkflowURL)
	}

	// Within two cycles (10 s each, plus the stats read) both containers show
	// up with sane values; the busy loop burns CPU.
	var got map[string]containerJSON
	eventually(t, 35*time.Second, "container metrics of both containers", func() bool {
		var out struct{ Containers []containerJSON }
		b.call(t, http.MethodGet, "/api/v1/environments/"+env.ID+"/containers/metrics", "", &out)
		got = map[string]containerJSON{}
		for _, c := range out.Containers {
			got[c.ContainerID] = c
		}
		return got[busy].CPUPercent > 0 && got[idle].ContainerID != ""
	})
	if c := got[busy]; c.CPUPercent <= 5 || c.CPUPercent > 100*float64(2*runtimeCPUs()) {
		t.Errorf("busy container CPU = %.2f%%, want a busy loop's share", c.CPUPercent)
	}
	if c := got[idle]; c.MemoryUsed <= 0 || c.MemoryLimit < c.MemoryUsed {
		t.Errorf("idle container memory = %d / %d", c.MemoryUsed, c.MemoryLimit)
	}

	var series struct {
		Points []struct {
			CPUPercent, MemoryPercent float64
			MemoryTotal               int64
			ContainersRunning         float64
		}
	}
	if code := b.call(t, http.MethodGet, "/api/v1/environments/"+env.ID+"/metrics?step=1s", "", &series); code != http.StatusOK {
		t.Fatalf("metrics: status %d", code)
	}
	if len(series.Points) == 0 {
		t.Fatal("no host points")
	}
	last := series.Points[len(series.Points)-1]
	if last.CPUPercent <= 0 || last.CPUPercent > 100 || last.MemoryPercent <= 0 || last.MemoryPercent > 100 ||
		last.MemoryTotal <= 0 || last.ContainersRunning < 2 {
		t.Errorf("host point not sane: %+v", last)
	}

	var status struct {
		Stored *struct{ Online bool }
		Live   *workflows.State
	}
	eventually(t, 20*time.Second, "status online", func() bool {
		b.call(t, http.MethodGet, "/api/v1/environments/"+env.ID+"/status", "", &status)
		return status.Stored != nil && status.Stored.Online && status.Live != nil && status.Live.Status == workflows.StatusOnline
	})
}

func runtimeCPUs() int {
	n := 0
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		n = strings.Count(string(raw), "processor\t:")
	}
	if n == 0 {
		n = 1
	}
	return n
}

// cycleTimes returns the collection times of the environment's host rows in
// the last 10 minutes, oldest first (step 1 s puts each cycle in its own bucket).
func (b *testBundle) cycleTimes(t testing.TB, envID string) []time.Time {
	t.Helper()
	var series struct{ Points []struct{ Time time.Time } }
	from := time.Now().Add(-10 * time.Minute).UTC().Format(time.RFC3339)
	if code := b.call(t, http.MethodGet, "/api/v1/environments/"+envID+"/metrics?step=1s&from="+from, "", &series); code != http.StatusOK {
		t.Fatalf("metrics: status %d", code)
	}
	out := make([]time.Time, 0, len(series.Points))
	for _, p := range series.Points {
		out = append(out, p.Time)
	}
	return out
}

func TestEndToEnd_SettingsChangeCadence(t *testing.T) {
	enginetest.Client(t)
	b := setup(t)
	env := b.createEnvironment(t, "e2e-cadence-"+uuid.NewString()[:8], 30)
	// The first cycle runs at once.
	eventually(t, 20*time.Second, "first cycle", func() bool { return len(b.cycleTimes(t, env.ID)) >= 1 })

	// A rejected value answers 400 with the validator's reason and changes nothing.
	var e errorJSON
	if code := b.call(t, http.MethodPut, "/api/v1/environments/"+env.ID+"/settings", `{"metricsIntervalSeconds":5}`, &e); code != http.StatusBadRequest ||
		e.Error.Code != "invalid_settings" || !strings.Contains(e.Error.Message, "between 10s and 5m0s") {
		t.Fatalf("out-of-range interval: status %d, %+v", code, e)
	}
	var got environmentJSON
	b.call(t, http.MethodGet, "/api/v1/environments/"+env.ID, "", &got)
	if got.Settings.MetricsIntervalSeconds != 30 {
		t.Fatalf("after a rejected change the interval is %d, want 30", got.Settings.MetricsIntervalSeconds)
	}

	// 30 s → 10 s takes effect at once: three more cycles arrive well before
	// the old 30 s timer would have fired twice.
	var answer struct {
		Environment environmentJSON
		State       struct {
			Settings struct{ MetricsIntervalSeconds int }
		}
	}
	if code := b.call(t, http.MethodPut, "/api/v1/environments/"+env.ID+"/settings", `{"metricsIntervalSeconds":10}`, &answer); code != http.StatusOK {
		t.Fatalf("change interval: status %d", code)
	}
	changed := time.Now()
	if answer.State.Settings.MetricsIntervalSeconds != 10 || answer.Environment.Settings.MetricsIntervalSeconds != 10 {
		t.Fatalf("answer after the change: %+v", answer)
	}
	before := len(b.cycleTimes(t, env.ID))
	eventually(t, 45*time.Second, "three cycles at the new interval", func() bool { return len(b.cycleTimes(t, env.ID)) >= before+3 })
	times := b.cycleTimes(t, env.ID)
	var recent []time.Time
	for _, ts := range times {
		if ts.After(changed) {
			recent = append(recent, ts)
		}
	}
	if len(recent) < 3 {
		t.Fatalf("cycles after the change: %v", recent)
	}
	for i := 1; i < len(recent); i++ {
		if gap := recent[i].Sub(recent[i-1]); gap < 8*time.Second || gap > 15*time.Second {
			t.Errorf("gap between cycles %d and %d = %s, want about 10s", i-1, i, gap)
		}
	}
	if first := recent[0].Sub(changed); first > 15*time.Second {
		t.Errorf("first cycle after the change came %s later, want about 10s (the timer is re-armed at once)", first)
	}
}

// TestEndToEnd_TwoWorkersCollectOncePerCycle checks that with two workers on
// the task queue every timer firing of the workflow is collected and stored
// exactly once: the stored rows match the workflow's successful
// CollectMetrics checks one to one (local activities: one LocalActivity
// marker each in the history, recorded by the worker that ran it).
func TestEndToEnd_TwoWorkersCollectOncePerCycle(t *testing.T) {
	enginetest.Client(t)
	b := setup(t)
	env := b.createEnvironment(t, "e2e-two-"+uuid.NewString()[:8], 10)
	eventually(t, 60*time.Second, "four cycles", func() bool { return len(b.cycleTimes(t, env.ID)) >= 4 })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Stop the workflow so the history and the rows are final, then compare.
	wid := workflows.WorkflowID(env.ID)
	if err := b.temporal.CancelWorkflow(ctx, wid, ""); err != nil {
		t.Fatal(err)
	}
	_ = b.temporal.GetWorkflow(ctx, wid, "").Get(ctx, nil)

	completed, failed := 0, 0
	identities := map[string]bool{}
	var taskIdentity string
	iter := b.temporal.GetWorkflowHistory(ctx, wid, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
			taskIdentity = ev.GetWorkflowTaskStartedEventAttributes().GetIdentity()
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			if ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == workflows.ActivityCollectMetrics {
				t.Fatalf("CollectMetrics ran as a regular activity (event %d): new runs check with local activities", ev.GetEventId())
			}
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			a := ev.GetMarkerRecordedEventAttributes()
			if a.GetMarkerName() != "LocalActivity" {
				continue
			}
			var data struct{ ActivityType string }
			if err := converter.GetDefaultDataConverter().FromPayloads(a.GetDetails()["data"], &data); err != nil {
				t.Fatalf("marker %d: %v", ev.GetEventId(), err)
			}
			if data.ActivityType != workflows.ActivityCollectMetrics {
				continue
			}
			if a.GetFailure() != nil {
				failed++
				continue
			}
			completed++
			identities[taskIdentity] = true
		}
	}
	id := uuid.MustParse(env.ID)
	rows, err := b.store.CountHostMetrics(ctx, id, time.Now().Add(-time.Hour), time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if completed < 4 || rows != completed {
		t.Fatalf("%d CollectMetrics checks completed (%d failed), %d cycles stored; want every cycle stored once",
			completed, failed, rows)
	}
	t.Logf("%d cycles, each stored once, collected by workers %v", rows, identities)
}

func TestEndToEnd_BadInput(t *testing.T) {
	enginetest.Client(t)
	b := setup(t)
	env := b.createEnvironment(t, "e2e-bad-"+uuid.NewString()[:8], 30)
	missing := uuid.NewString()
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"malformed JSON", "POST", "/api/v1/environments", `{"name":`, 400, "invalid_json"},
		{"unknown field", "POST", "/api/v1/environments", `{"name":"x","endpoint":"unix:///var/run/docker.sock","color":"red"}`, 400, "invalid_json"},
		{"trailing data", "POST", "/api/v1/environments", `{"name":"x","endpoint":"unix:///var/run/docker.sock"} {}`, 400, "invalid_json"},
		{"empty body", "POST", "/api/v1/environments", ``, 400, "invalid_json"},
		{"bad name", "POST", "/api/v1/environments", `{"name":"no spaces allowed","endpoint":"unix:///var/run/docker.sock"}`, 400, "invalid_name"},
		{"bad endpoint", "POST", "/api/v1/environments", `{"name":"x","endpoint":"http://example.com"}`, 400, "invalid_endpoint"},
		{"metadata endpoint", "POST", "/api/v1/environments", `{"name":"x","endpoint":"tcp://169.254.169.254:2375"}`, 400, "endpoint_refused"},
		{"link-local endpoint", "POST", "/api/v1/environments", `{"name":"x","endpoint":"tcp://[fe80::1]:2375"}`, 400, "endpoint_refused"},
		{"interval out of range", "POST", "/api/v1/environments", `{"name":"x","endpoint":"unix:///var/run/docker.sock","settings":{"metricsIntervalSeconds":301}}`, 400, "invalid_settings"},
		{"name taken", "POST", "/api/v1/environments", fmt.Sprintf(`{"name":%q,"endpoint":"unix:///var/run/docker.sock"}`, env.Name), 409, "name_taken"},
		{"bad uuid", "GET", "/api/v1/environments/not-a-uuid", "", 400, "invalid_id"},
		{"unknown environment", "GET", "/api/v1/environments/" + missing, "", 404, "not_found"},
		{"unknown environment settings", "PUT", "/api/v1/environments/" + missing + "/settings", `{"paused":true}`, 404, "not_found"},
		{"settings unknown field", "PUT", "/api/v1/environments/" + env.ID + "/settings", `{"interval":10}`, 400, "invalid_json"},
		{"offlineAfter out of range", "PUT", "/api/v1/environments/" + env.ID + "/settings", `{"offlineAfter":0}`, 400, "invalid_settings"},
		{"bad step", "GET", "/api/v1/environments/" + env.ID + "/metrics?step=0s", "", 400, "invalid_query"},
		{"from after to", "GET", "/api/v1/environments/" + env.ID + "/metrics?from=2030-01-01T00:00:00Z&to=2029-01-01T00:00:00Z", "", 400, "invalid_query"},
		{"patch bad endpoint", "PATCH", "/api/v1/environments/" + env.ID, `{"endpoint":"ftp://x"}`, 400, "invalid_endpoint"},
		{"patch metadata endpoint", "PATCH", "/api/v1/environments/" + env.ID, `{"endpoint":"tcp://169.254.169.254:2375"}`, 400, "endpoint_refused"},
		{"unknown route", "GET", "/api/v1/nothing", "", 404, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e errorJSON
			if code := b.call(t, tc.method, tc.path, tc.body, &e); code != tc.status || e.Error.Code != tc.code || e.Error.Message == "" {
				t.Fatalf("status %d, error %+v; want %d %s", code, e, tc.status, tc.code)
			}
		})
	}
	// Nothing was half-changed: one environment, with its settings intact.
	var list struct{ Environments []environmentJSON }
	b.call(t, http.MethodGet, "/api/v1/environments", "", &list)
	if len(list.Environments) != 1 || list.Environments[0].Settings.MetricsIntervalSeconds != 30 {
		t.Fatalf("environments after bad input: %+v", list.Environments)
	}
}

func TestEndToEnd_DeleteStopsWorkflow(t *testing.T) {
	enginetest.Client(t)
	b := setup(t)
	env := b.createEnvironment(t, "e2e-del-"+uuid.NewString()[:8], 10)
	eventually(t, 20*time.Second, "first cycle", func() bool { return len(b.cycleTimes(t, env.ID)) >= 1 })
	// Its event stream runs (it learns of a cancellation only at its next
	// heartbeat, up to a minute): the delete does not wait for it.
	started := time.Now()
	if code := b.call(t, http.MethodDelete, "/api/v1/environments/"+env.ID, "", nil); code != http.StatusNoContent {
		t.Fatalf("delete: status %d", code)
	}
	t.Logf("DELETE answered in %s", time.Since(started).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	desc, err := b.temporal.DescribeWorkflow(ctx, workflows.WorkflowID(env.ID), "")
	if err != nil {
		t.Fatal(err)
	}
	if st := desc.RawResponse.GetWorkflowExecutionInfo().GetStatus(); st == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("workflow still running after delete")
	}
	if code := b.call(t, http.MethodGet, "/api/v1/environments/"+env.ID, "", nil); code != http.StatusNotFound {
		t.Fatalf("get after delete: status %d", code)
	}
}

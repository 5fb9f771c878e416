package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/windflow/monitor/activities"
	"github.com/windflow/monitor/api"
	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/envflow"
	"github.com/windflow/monitor/internal/notify"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
	"github.com/windflow/monitor/internal/temporaltest"
	"github.com/windflow/monitor/worker"
)

// bundle is a whole Windflow on the real stack: an isolated Postgres
// schema, the API, and in-process workers or worker processes, on a task
// queue of its own.
type bundle struct {
	api         *httptest.Server
	store       *store.Store
	temporal    client.Client
	databaseURL string
	taskQueue   string
}

func dial(t *testing.T, identity string) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: temporaltest.Address(t), Identity: identity})
	if err != nil {
		t.Fatalf("dial temporal: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// newBundle starts the API and workers in-process workers (0: start
// worker processes with startWorker).
func newBundle(t *testing.T, workers int) *bundle {
	t.Helper()
	databaseURL := storetest.NewSchema(t)
	st, err := store.Open(context.Background(), databaseURL)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(st.Close)
	b := &bundle{store: st, databaseURL: databaseURL, taskQueue: "e2e-alerts-" + uuid.NewString()}
	for i := 1; i <= workers; i++ {
		wc := dial(t, fmt.Sprintf("e2e-worker-%d", i))
		w := worker.New(wc, b.taskQueue, &activities.Activities{
			Store: st, Collector: engine.Collector{Parallelism: 4}, Temporal: wc, TaskQueue: b.taskQueue,
		})
		if err := w.Start(); err != nil {
			t.Fatalf("start worker %d: %v", i, err)
		}
		t.Cleanup(w.Stop)
	}
	b.temporal = dial(t, "e2e-api")
	flows := &envflow.Controller{Store: st, Temporal: b.temporal, TaskQueue: b.taskQueue}
	srv, err := api.New(api.Config{Namespace: "default", UIURL: "http://127.0.0.1:8233"},
		api.Deps{Store: st, Flows: flows, Sender: notify.Sender{Timeout: 20 * time.Second}})
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	b.api = httptest.NewServer(srv.Routes())
	t.Cleanup(b.api.Close)
	return b
}

// call sends a JSON request and decodes a JSON answer into out (when not
// nil); it returns the status.
func (b *bundle) call(t *testing.T, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.api.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	if resp.StatusCode/100 != 2 {
		t.Logf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode
}

// mustCall is call that fails the test unless the answer is want.
func (b *bundle) mustCall(t *testing.T, want int, method, path string, body, out any) {
	t.Helper()
	if got := b.call(t, method, path, body, out); got != want {
		t.Fatalf("%s %s: status %d, want %d", method, path, got, want)
	}
}

// createEnvironment registers an environment on endpoint with settings,
// deleted when the test ends; it returns its ID.
func (b *bundle) createEnvironment(t *testing.T, endpoint string, settings map[string]any) string {
	t.Helper()
	var env struct {
		ID string `json:"id"`
	}
	b.mustCall(t, http.StatusCreated, http.MethodPost, "/api/v1/environments", map[string]any{
		"name": "e2e-" + uuid.NewString()[:8], "endpoint": endpoint, "settings": settings,
	}, &env)
	t.Cleanup(func() { b.call(t, http.MethodDelete, "/api/v1/environments/"+env.ID, nil, nil) })
	return env.ID
}

// createRule creates an alert rule and returns its ID.
func (b *bundle) createRule(t *testing.T, rule map[string]any) string {
	t.Helper()
	var out struct {
		ID string `json:"id"`
	}
	b.mustCall(t, http.StatusCreated, http.MethodPost, "/api/v1/alert-rules", rule, &out)
	return out.ID
}

// alertJSON is one alert of GET /api/v1/alerts (firing or recent).
type alertJSON struct {
	RuleID   string    `json:"ruleId"`
	RuleName string    `json:"ruleName"`
	Target   string    `json:"target"`
	Phase    string    `json:"phase"`
	At       time.Time `json:"at"`
	Since    time.Time `json:"since"`
	FiredAt  time.Time `json:"firedAt"`
	Value    float64   `json:"value"`
	Reason   string    `json:"reason"`
}

type alertsJSON struct {
	Firing []alertJSON `json:"firing"`
	Recent []alertJSON `json:"recent"`
}

func (b *bundle) alerts(t *testing.T, envID string) alertsJSON {
	t.Helper()
	var out alertsJSON
	b.mustCall(t, http.StatusOK, http.MethodGet, "/api/v1/alerts?limit=500&environment="+envID, nil, &out)
	return out
}

// transitions are the recent transitions of rule, oldest first.
func (a alertsJSON) transitions(ruleID string) []alertJSON {
	var out []alertJSON
	for i := len(a.Recent) - 1; i >= 0; i-- {
		if a.Recent[i].RuleID == ruleID {
			out = append(out, a.Recent[i])
		}
	}
	return out
}

type notificationJSON struct {
	Kind    string `json:"kind"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func (b *bundle) notifications(t *testing.T, envID string) []notificationJSON {
	t.Helper()
	var out struct {
		Notifications []notificationJSON `json:"notifications"`
	}
	b.mustCall(t, http.StatusOK, http.MethodGet, "/api/v1/notifications?limit=500&environment="+envID, nil, &out)
	return out.Notifications
}

// receiver is a webhook receiver that keeps what it gets.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, string(body))
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// count is how many received bodies contain every one of parts.
func (r *receiver) count(parts ...string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
next:
	for _, body := range r.bodies {
		for _, p := range parts {
			if !strings.Contains(body, p) {
				continue next
			}
		}
		n++
	}
	return n
}

// createChannel registers r as a notification channel (subscribed to the
// default kinds) and returns its ID.
func (b *bundle) createChannel(t *testing.T, r *receiver) string {
	t.Helper()
	var ch struct {
		ID string `json:"id"`
	}
	url := "generic://" + strings.TrimPrefix(r.srv.URL, "http://") + "/hook?disabletls=yes&template=json"
	b.mustCall(t, http.StatusCreated, http.MethodPost, "/api/v1/notification-channels",
		map[string]any{"name": "hook-" + uuid.NewString()[:8], "url": url}, &ch)
	return ch.ID
}

// eventually polls check every 500 ms until it holds or timeout passes;
// on a timeout, each of explain runs before the test fails.
func eventually(t *testing.T, timeout time.Duration, what string, check func() bool, explain ...func(*testing.T)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !check() {
		if time.Now().After(deadline) {
			for _, e := range explain {
				e(t)
			}
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// workerProcess is a `windflow worker` process of the bundle.
type workerProcess struct{ cmd *exec.Cmd }

// buildWindflow builds the windflow binary for worker processes.
func buildWindflow(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "windflow")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/windflow").CombinedOutput(); err != nil {
		t.Fatalf("build windflow: %v\n%s", err, out)
	}
	return bin
}

// startWorker starts a worker process on the bundle's database and task
// queue; it is stopped (SIGTERM) when the test ends.
func (b *bundle) startWorker(t *testing.T, bin, name string) *workerProcess {
	t.Helper()
	cmd := exec.Command(bin, "worker")
	cmd.Env = append(os.Environ(),
		"DATABASE_URL="+b.databaseURL,
		"WINDFLOW_TASK_QUEUE="+b.taskQueue,
		"WINDFLOW_LOG_LEVEL=warn",
		"WINDFLOW_METRICS_ADDR=",
		"WINDFLOW_OUTBOUND_ALLOW=loopback,unix",
	)
	logf, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &workerProcess{cmd: cmd}
	t.Cleanup(func() { w.kill(syscall.SIGTERM); _ = logf.Close() })
	return w
}

// kill signals the worker's process group and waits for it.
func (w *workerProcess) kill(sig syscall.Signal) {
	if w.cmd.ProcessState != nil {
		return
	}
	_ = syscall.Kill(-w.cmd.Process.Pid, sig)
	_ = w.cmd.Wait()
}

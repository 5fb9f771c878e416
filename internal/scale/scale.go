// Package scale is the scale harness of `windflow-bench scale` (and `make
// scale`): it registers N environments against in-process fake Docker
// engines (internal/engine/fakeengine), runs the real worker and api as
// child processes against a fresh database and the stack's Temporal
// server, lets them run, and measures the budget per environment
// (docs/capacity.md): cycles stored vs due, lateness, Update latency, CPU and
// RSS per process, heartbeat RPCs, history events per cycle and Temporal
// actions per environment per day.
package scale

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"golang.org/x/sync/errgroup"

	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/engine/fakeengine"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/temporalconn"
	"github.com/windflow/monitor/workflows"
)

// Config is one harness run.
type Config struct {
	// Envs environments, each on its own fake engine with Containers containers.
	Envs       int
	Containers int
	// Interval is every environment's metrics interval.
	Interval time.Duration
	// Warmup is how long to let the environments run after the last one is
	// registered before measuring; 0 means one interval + 10 s.
	Warmup time.Duration
	// Duration is the measured window; best a multiple of Interval.
	Duration time.Duration
	// EventEvery is how often each fake engine emits a synthetic restart
	// (0: none); StatsTick the daemon's stats tick (0: 1 s).
	EventEvery time.Duration
	StatsTick  time.Duration
	// UpdateEvery is the pace of PUT /settings during the window (0: none).
	UpdateEvery time.Duration
	// AlertRules is how many alert rules each environment gets (0: none),
	// registered with it: a mix of host and container rules (see
	// alertRuleTemplates) with thresholds the fake engines do not reach,
	// so that they cost their evaluation every cycle and fire nothing.
	AlertRules int
	// HistorySample is how many environment workflows' histories are read
	// (0: 10); at most half of the environments (at least one), and these
	// get no Updates, so that their histories show steady cycles.
	HistorySample int
	// WorkerMemoryLimit, when set, is the worker's GOMEMLIMIT (e.g.
	// "140MiB"): the Go runtime's soft memory limit, which trades GC CPU
	// for RSS.
	WorkerMemoryLimit string
	// Concurrency bounds the registrations and deletions in flight (0: 8).
	Concurrency int
	// Agents registers every environment as agent-placed (endpoint
	// agent://) and runs an agent per environment in this process, its
	// engine the environment's fake engine: the worker reaches every
	// engine through the api child's relay.
	Agents bool

	// Binary is the windflow executable started as worker and api.
	Binary string
	// BaseDatabaseURL is the stack's database (DATABASE_URL); the run
	// creates and finally drops Database (default windflow_scale_<unix>) on
	// the same server, unless KeepDatabase.
	BaseDatabaseURL string
	Database        string
	KeepDatabase    bool
	// TemporalAddress and Namespace are the stack's Temporal server.
	TemporalAddress string
	Namespace       string
	// TaskQueue is the run's own task queue (default windflow-scale-<unix>).
	TaskQueue string
	// DataDir holds the children's logs and the state file (default .data/scale).
	DataDir string
	// TemporalPIDFile is where the stack recorded the dev server's pid
	// (default .data/temporal.pid); without it the process is searched for.
	TemporalPIDFile string
	// Log receives progress lines (nil: none).
	Log io.Writer
}

func (c Config) withDefaults() Config {
	now := time.Now().Unix()
	if c.Containers <= 0 {
		c.Containers = 10
	}
	if c.Interval <= 0 {
		c.Interval = workflows.DefaultMetricsInterval
	}
	if c.Warmup <= 0 {
		c.Warmup = c.Interval + 10*time.Second
	}
	if c.Duration <= 0 {
		c.Duration = 2 * c.Interval
	}
	if c.StatsTick <= 0 {
		c.StatsTick = time.Second
	}
	if c.HistorySample <= 0 {
		c.HistorySample = 10
	}
	c.HistorySample = min(c.HistorySample, max(1, c.Envs/2))
	if c.Concurrency <= 0 {
		c.Concurrency = 8
	}
	if c.Database == "" {
		c.Database = fmt.Sprintf("windflow_scale_%d", now)
	}
	if c.Namespace == "" {
		c.Namespace = "default"
	}
	if c.TaskQueue == "" {
		c.TaskQueue = fmt.Sprintf("windflow-scale-%d", now)
	}
	if c.DataDir == "" {
		c.DataDir = filepath.Join(".data", "scale")
	}
	if c.TemporalPIDFile == "" {
		c.TemporalPIDFile = filepath.Join(".data", "temporal.pid")
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c
}

// harness is one run's moving parts.
type harness struct {
	cfg     Config
	tc      client.Client
	dbURL   string
	fleet   *fakeengine.Fleet
	worker  *child
	api     *child
	apiURL  string
	metrics string
	http    *http.Client
	envs    []uuid.UUID
	state   stateFile
	agents  *agentFleet // nil unless Config.Agents
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(h.cfg.Log, "scale: "+format+"\n", args...)
}

// Run runs the harness once and returns its report. Everything it started
// (children, workflows, engines, database) is gone when it returns, also
// when ctx is cancelled.
func Run(ctx context.Context, cfg Config) (rep *Report, err error) {
	cfg = cfg.withDefaults()
	if cfg.Envs <= 0 {
		return nil, errors.New("scale: Envs must be positive")
	}
	if cfg.Binary == "" || cfg.BaseDatabaseURL == "" || cfg.TemporalAddress == "" {
		return nil, errors.New("scale: Binary, BaseDatabaseURL and TemporalAddress are required")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, err
	}
	h := &harness{cfg: cfg, state: stateFile{filepath.Join(cfg.DataDir, "runs.json")}}
	h.http = &http.Client{
		Timeout:   60 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Concurrency + 64},
	}
	if h.dbURL, err = databaseURL(cfg.BaseDatabaseURL, cfg.Database); err != nil {
		return nil, err
	}
	// TLS, mTLS or an API key come from Temporal's environment
	// configuration, which the worker and api it starts inherit too.
	opts, err := temporalconn.Load(envconfig.EnvLookupOS, temporalconn.Overrides{Address: cfg.TemporalAddress, Namespace: cfg.Namespace})
	if err != nil {
		return nil, fmt.Errorf("scale: %w", err)
	}
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	h.tc, err = client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("scale: dial temporal at %s: %w", temporalconn.Describe(opts), err)
	}
	defer h.tc.Close()

	h.cleanupLeftovers(ctx)
	self := runRecord{PID: os.Getpid(), TaskQueue: cfg.TaskQueue, Database: cfg.Database, Started: time.Now()}
	if cfg.KeepDatabase {
		self.Database = ""
	}
	if err := h.state.update(func(rs []runRecord) []runRecord { return append(rs, self) }); err != nil {
		return nil, fmt.Errorf("scale: state file: %w", err)
	}
	defer func() {
		// Cleanup runs with its own deadline: ctx may be cancelled (Ctrl-C).
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute)
		defer cancel()
		if cerr := h.cleanup(cctx, self); cerr != nil {
			h.logf("cleanup: %v", cerr)
			if err == nil {
				err = cerr
			}
		}
	}()

	if err := h.start(ctx); err != nil {
		return nil, err
	}
	return h.measure(ctx)
}

// cleanupLeftovers cleans up after earlier runs of this data directory
// whose harness is gone.
func (h *harness) cleanupLeftovers(ctx context.Context) {
	var stale []runRecord
	_ = h.state.update(func(rs []runRecord) []runRecord {
		var keep []runRecord
		for _, r := range rs {
			if alive(r.PID) {
				keep = append(keep, r)
			} else {
				stale = append(stale, r)
			}
		}
		return keep
	})
	for _, r := range stale {
		h.logf("cleaning up after an earlier run (task queue %s)", r.TaskQueue)
		if err := cleanupRun(ctx, h.tc, h.cfg.Namespace, h.cfg.BaseDatabaseURL, r); err != nil {
			h.logf("earlier run %s: %v", r.TaskQueue, err)
		}
	}
}

// start creates the database, the engines and the children, and registers
// the environments.
func (h *harness) start(ctx context.Context) error {
	cfg := h.cfg
	h.logf("database %s, task queue %s", cfg.Database, cfg.TaskQueue)
	if err := recreateDatabase(ctx, cfg.BaseDatabaseURL, cfg.Database); err != nil {
		return fmt.Errorf("scale: %w", err)
	}
	if err := store.Migrate(ctx, h.dbURL); err != nil {
		return fmt.Errorf("scale: %w", err)
	}
	var err error
	h.fleet, err = fakeengine.StartFleet(cfg.Envs, fakeengine.Options{
		Containers: cfg.Containers, StatsTick: cfg.StatsTick, EventEvery: cfg.EventEvery, Seed: 1,
		// Independent daemons tick at independent phases.
		Phases: true,
	})
	if err != nil {
		return fmt.Errorf("scale: fake engines: %w", err)
	}
	h.logf("%d fake engines with %d containers each", cfg.Envs, cfg.Containers)

	apiAddr, err := freeAddr()
	if err != nil {
		return err
	}
	metricsAddr, err := freeAddr()
	if err != nil {
		return err
	}
	h.apiURL, h.metrics = "http://"+apiAddr, "http://"+metricsAddr+"/metrics"
	common := map[string]string{
		"DATABASE_URL":        h.dbURL,
		"TEMPORAL_ADDRESS":    cfg.TemporalAddress,
		"TEMPORAL_NAMESPACE":  cfg.Namespace,
		"WINDFLOW_TASK_QUEUE": cfg.TaskQueue,
		"WINDFLOW_LOG_LEVEL":  "warn",
		// The fake engines listen on 127.0.0.1.
		"WINDFLOW_OUTBOUND_ALLOW": "loopback",
	}
	workerEnv := clone(common)
	workerEnv["WINDFLOW_METRICS_ADDR"] = metricsAddr
	if cfg.WorkerMemoryLimit != "" {
		workerEnv["GOMEMLIMIT"] = cfg.WorkerMemoryLimit
	}
	apiEnv := clone(common)
	apiEnv["WINDFLOW_HTTP_ADDR"] = apiAddr
	apiEnv["WINDFLOW_METRICS_ADDR"] = "" // no metrics listener: the harness reads the worker's
	if os.Getenv("WINDFLOW_PPROF") != "" {
		// Profiles of the api too (an -agents run's hub lives there).
		if apiEnv["WINDFLOW_METRICS_ADDR"], err = freeAddr(); err != nil {
			return err
		}
		h.logf("profiles: worker http://%s/debug/pprof/, api http://%s/debug/pprof/", metricsAddr, apiEnv["WINDFLOW_METRICS_ADDR"])
	}
	apiEnv["WINDFLOW_MUTATION_RATE_LIMIT"] = "-1"
	apiEnv["WINDFLOW_RELAY_URL"] = h.apiURL
	if h.worker, err = startChild("worker", cfg.Binary, []string{"worker"}, childEnv(workerEnv), filepath.Join(cfg.DataDir, "worker.log")); err != nil {
		return err
	}
	if h.api, err = startChild("api", cfg.Binary, []string{"api"}, childEnv(apiEnv), filepath.Join(cfg.DataDir, "api.log")); err != nil {
		return err
	}
	if err := h.waitReady(ctx, h.worker, h.metrics); err != nil {
		return err
	}
	if err := h.waitReady(ctx, h.api, h.apiURL+"/readyz"); err != nil {
		return err
	}
	if st, err := store.Open(ctx, h.dbURL); err == nil {
		instance, _ := st.InstanceID(ctx)
		st.Close()
		_ = h.state.update(func(rs []runRecord) []runRecord {
			for i := range rs {
				if rs[i].TaskQueue == cfg.TaskQueue {
					rs[i].Instance = instance
				}
			}
			return rs
		})
	}
	h.logf("worker (pid %d) and api (pid %d) are up; logs in %s", h.worker.pid(), h.api.pid(), cfg.DataDir)
	return nil
}

func clone[V any](m map[string]V) map[string]V {
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// waitReady waits until url answers 200, failing if c exits first.
func (h *harness) waitReady(ctx context.Context, c *child, url string) error {
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if c.exited() {
			return fmt.Errorf("scale: %s exited: %v\n%s", c.name, c.err, c.tail())
		}
		if resp, err := h.http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("scale: %s did not answer %s within 90 s\n%s", c.name, url, c.tail())
}

// request sends a JSON request to the API and decodes a JSON answer into out (may be nil).
func (h *harness) request(ctx context.Context, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.apiURL+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// register creates one environment per engine through the API.
func (h *harness) register(ctx context.Context) error {
	engines := h.fleet.Engines()
	ids := make([]uuid.UUID, len(engines))
	interval := int(h.cfg.Interval / time.Second)
	if h.cfg.Agents {
		h.agents = newAgentFleet()
		h.warnFileLimit()
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(h.cfg.Concurrency)
	for i, e := range engines {
		g.Go(func() error {
			var out struct {
				ID             uuid.UUID `json:"id"`
				AgentEnrolment struct {
					Token string `json:"token"`
				} `json:"agentEnrolment"`
			}
			endpoint := e.Endpoint()
			if h.agents != nil {
				endpoint = engine.AgentEndpoint
			}
			_, err := h.request(gctx, http.MethodPost, "/api/v1/environments", map[string]any{
				"name":     fmt.Sprintf("scale-%05d", i),
				"endpoint": endpoint,
				"settings": map[string]any{
					"metricsIntervalSeconds": interval,
					"collectMetrics":         true,
					"eventsEnabled":          true,
					"eventMode":              "stream",
					"diskIntervalSeconds":    int(workflows.DefaultDiskInterval / time.Second),
				},
			}, &out)
			ids[i] = out.ID
			if err == nil && h.agents != nil {
				if out.AgentEnrolment.Token == "" {
					return fmt.Errorf("environment %s: no enrolment token in the answer", out.ID)
				}
				h.agents.start(h.apiURL, out.AgentEnrolment.Token, e.Handler())
			}
			return err
		})
	}
	err := g.Wait()
	for _, id := range ids {
		if id != uuid.Nil {
			h.envs = append(h.envs, id)
		}
	}
	if err != nil {
		return fmt.Errorf("scale: register environments (%d of %d registered): %w", len(h.envs), len(engines), err)
	}
	return h.registerAlertRules(ctx)
}

// alertRuleTemplates are the rules AlertRules cycles through: one of each
// kind of figure, none of which the fake engines' figures breach.
var alertRuleTemplates = []map[string]any{
	{"metric": "host_cpu_percent", "op": "above", "threshold": 99, "forSeconds": 300},
	{"metric": "host_memory_percent", "op": "above", "threshold": 99, "forSeconds": 300},
	{"metric": "container_cpu_percent", "op": "above", "threshold": 99, "forSeconds": 120},
	{"metric": "container_memory_percent", "op": "above", "threshold": 99, "forSeconds": 300, "containerPattern": "*"},
	{"metric": "container_restarts", "op": "above", "threshold": 1000, "forSeconds": 600},
	{"metric": "container_memory_bytes", "op": "above", "threshold": 1 << 40, "forSeconds": 60},
}

// registerAlertRules gives every environment AlertRules rules.
func (h *harness) registerAlertRules(ctx context.Context) error {
	if h.cfg.AlertRules <= 0 {
		return nil
	}
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(h.cfg.Concurrency)
	for i, id := range h.envs {
		for j := range h.cfg.AlertRules {
			rule := clone(alertRuleTemplates[j%len(alertRuleTemplates)])
			rule["name"] = fmt.Sprintf("scale-%05d-%d", i, j)
			rule["environmentId"] = id
			g.Go(func() error {
				_, err := h.request(gctx, http.MethodPost, "/api/v1/alert-rules", rule, nil)
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("scale: register alert rules: %w", err)
	}
	h.logf("registered %d alert rules per environment in %s", h.cfg.AlertRules, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// cleanup deletes the environments through the API (which stops their
// workflows), terminates whatever is left on the task queue, deletes the
// retention schedule, stops the children and the engines, and drops the
// database.
func (h *harness) cleanup(ctx context.Context, self runRecord) error {
	var errs []error
	if h.api != nil && !h.api.exited() && len(h.envs) > 0 {
		h.logf("deleting %d environments", len(h.envs))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(h.cfg.Concurrency * 2)
		var mu sync.Mutex
		failed := 0
		for _, id := range h.envs {
			g.Go(func() error {
				if _, err := h.request(gctx, http.MethodDelete, "/api/v1/environments/"+id.String(), nil, nil); err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
				}
				return nil
			})
		}
		_ = g.Wait()
		if failed > 0 {
			h.logf("%d environments could not be deleted through the API; their workflows are terminated", failed)
		}
	}
	h.agents.stop()
	h.worker.stop(15 * time.Second)
	h.api.stop(15 * time.Second)
	if h.fleet != nil {
		if err := h.fleet.Close(); err != nil {
			errs = append(errs, fmt.Errorf("fake engines: %w", err))
		}
	}
	// The instance was recorded in the state file once the api was up.
	_ = h.state.update(func(rs []runRecord) []runRecord {
		for _, r := range rs {
			if r.TaskQueue == self.TaskQueue {
				self.Instance = r.Instance
			}
		}
		return rs
	})
	if n, err := terminateTaskQueue(ctx, h.tc, h.cfg.Namespace, self.TaskQueue); err != nil {
		errs = append(errs, err)
	} else if n > 0 {
		h.logf("terminated %d workflows left on %s", n, self.TaskQueue)
	}
	self.TaskQueue = "" // done above
	if err := cleanupRun(ctx, h.tc, h.cfg.Namespace, h.cfg.BaseDatabaseURL, self); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		_ = h.state.update(func(rs []runRecord) []runRecord {
			return slices.DeleteFunc(rs, func(r runRecord) bool { return r.PID == self.PID && r.Started.Equal(self.Started) })
		})
	}
	return errors.Join(errs...)
}

// queryCycles reads the stored cycles of [from−5 intervals, to).
func (h *harness) queryCycles(ctx context.Context, from, to time.Time) (map[uuid.UUID][]Cycle, error) {
	conn, err := pgx.Connect(ctx, h.dbURL)
	if err != nil {
		return nil, err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	rows, err := conn.Query(ctx, `
		SELECT environment_id, cycle_at, collected_at FROM host_metrics
		WHERE cycle_at >= $1 AND cycle_at < $2`, from.Add(-5*h.cfg.Interval), to)
	if err != nil {
		return nil, fmt.Errorf("read cycles: %w", err)
	}
	out := map[uuid.UUID][]Cycle{}
	for rows.Next() {
		var id uuid.UUID
		var c Cycle
		if err := rows.Scan(&id, &c.At, &c.CollectedAt); err != nil {
			return nil, err
		}
		out[id] = append(out[id], c)
	}
	return out, rows.Err()
}

// scrapeHeartbeats reads the worker's heartbeat RPC counter.
func (h *harness) scrapeHeartbeats(ctx context.Context) (float64, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.metrics, nil)
	if err != nil {
		return 0, false, err
	}
	resp, err := h.http.Do(req)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, false, err
	}
	samples, err := ParsePrometheus(string(b))
	if err != nil {
		return 0, false, err
	}
	n, found := Heartbeats(samples)
	return n, found, nil
}

// updater sends PUT /settings to targets in turn, one every `every`,
// alternating offlineAfter between 3 and 2 per environment so that each is
// a real change.
type updater struct {
	h       *harness
	targets []uuid.UUID
	every   time.Duration

	mu        sync.Mutex
	latencies []float64
	non2xx    int
	errs      int
	skipped   int
	lastErr   string
}

func (u *updater) run(ctx context.Context) {
	if u.every <= 0 || len(u.targets) == 0 {
		return
	}
	next := make(map[uuid.UUID]int, len(u.targets))
	busy := make(map[uuid.UUID]bool, len(u.targets))
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(u.every)
	defer t.Stop()
	i := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		id := u.targets[i%len(u.targets)]
		i++
		u.mu.Lock()
		if busy[id] { // its last Update has not answered yet: the ring is short or slow
			u.skipped++
			u.mu.Unlock()
			continue
		}
		busy[id] = true
		v := 3
		if next[id]%2 == 1 {
			v = 2
		}
		next[id]++
		u.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The request outlives the window's ctx: an answer that comes late still counts.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			start := time.Now()
			code, err := u.h.request(rctx, http.MethodPut, "/api/v1/environments/"+id.String()+"/settings",
				map[string]any{"offlineAfter": v}, nil)
			d := time.Since(start).Seconds()
			u.mu.Lock()
			defer u.mu.Unlock()
			busy[id] = false
			switch {
			case code == 0 && err != nil:
				u.errs++
				u.lastErr = err.Error()
			case code/100 != 2:
				u.non2xx++
				u.lastErr = err.Error()
				u.latencies = append(u.latencies, d)
			default:
				u.latencies = append(u.latencies, d)
			}
		}()
	}
}

// measure registers the environments, waits out the warm-up and measures the window.
func (h *harness) measure(ctx context.Context) (*Report, error) {
	cfg := h.cfg
	// Baseline RSS of the worker before any environment.
	base := NewProcSampler([]ProcGroup{{Name: "worker", PIDs: func() []int { return []int{h.worker.pid()} }}}, time.Hour)
	base.Start()
	baseUse, _ := base.Stop()

	if path, size := DevServerDB(TemporalPID(cfg.TemporalPIDFile)); size > devServerDBWarn {
		h.logf("warning: the dev server's SQLite file %s holds %d MB; figures of a dev server used this much are slower (see the report's notes)", path, size>>20)
	}
	regStart := time.Now()
	if err := h.register(ctx); err != nil {
		return nil, err
	}
	h.logf("registered %d environments in %s; warming up for %s", len(h.envs), time.Since(regStart).Round(100*time.Millisecond), cfg.Warmup)
	if err := sleep(ctx, cfg.Warmup); err != nil {
		return nil, err
	}

	sample := h.envs[:cfg.HistorySample]
	targets := h.envs[cfg.HistorySample:]
	updatesOnSample := false
	if len(targets) == 0 {
		targets, updatesOnSample = h.envs, true
	}
	temporalPID := TemporalPID(cfg.TemporalPIDFile)
	groups := []ProcGroup{
		{Name: "worker", PIDs: func() []int { return []int{h.worker.pid()} }},
		{Name: "api", PIDs: func() []int { return []int{h.api.pid()} }},
		{Name: "temporal dev server", PIDs: func() []int {
			if temporalPID == 0 {
				return nil
			}
			return []int{temporalPID}
		}},
		{Name: "postgres (all processes)", PIDs: PostgresPIDs},
		{Name: harnessGroup(cfg.Agents), PIDs: func() []int { return []int{os.Getpid()} }},
	}
	sampler := NewProcSampler(groups, time.Second)

	hb0, _, err := h.scrapeHeartbeats(ctx)
	if err != nil {
		return nil, fmt.Errorf("scale: worker /metrics: %w", err)
	}
	var agentsAtStart int
	if h.agents != nil {
		if agentsAtStart, _, err = h.overviewAgents(ctx); err != nil {
			return nil, fmt.Errorf("scale: %w", err)
		}
		h.logf("%d of %d agents connected", agentsAtStart, len(h.envs))
	}
	from := time.Now()
	h.logf("measuring for %s", cfg.Duration)
	sampler.Start()
	up := &updater{h: h, targets: targets, every: cfg.UpdateEvery}
	wctx, cancel := context.WithDeadline(ctx, from.Add(cfg.Duration))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); up.run(wctx) }()
	<-wctx.Done()
	cancel()
	// The window is exactly Duration long, so that each environment's due
	// cycles are Duration/Interval.
	to := from.Add(cfg.Duration)
	usage, machine := sampler.Stop()
	if err := ctx.Err(); err != nil {
		wg.Wait()
		return nil, err
	}
	hb1, hbFound, err := h.scrapeHeartbeats(ctx)
	if err != nil {
		return nil, fmt.Errorf("scale: worker /metrics: %w", err)
	}
	var agents *AgentStats
	if h.agents != nil {
		if agents, err = h.agentStats(ctx, agentsAtStart); err != nil {
			return nil, fmt.Errorf("scale: %w", err)
		}
	}
	wg.Wait() // Updates still in flight answer now

	// Let the cycles of the window's last moments land before reading them.
	if err := sleep(ctx, 2*time.Second); err != nil {
		return nil, err
	}
	cycles, err := h.queryCycles(ctx, from, to)
	if err != nil {
		return nil, fmt.Errorf("scale: %w", err)
	}

	rep := &Report{
		Config: ReportConfig{
			Envs: cfg.Envs, Registered: len(h.envs), Containers: cfg.Containers, AlertRules: cfg.AlertRules,
			IntervalSeconds: cfg.Interval.Seconds(), WarmupSeconds: cfg.Warmup.Seconds(),
			WindowSeconds: to.Sub(from).Seconds(), EventEverySeconds: cfg.EventEvery.Seconds(),
			TaskQueue: cfg.TaskQueue, Database: cfg.Database, Agents: cfg.Agents,
		},
		Agents:     agents,
		Cycles:     CountCycles(h.envs, cycles, from, to, cfg.Interval),
		Processes:  usage,
		MachineCPU: machine,
	}
	if rep.Cycles.Stored == 0 {
		rep.Notes = append(rep.Notes, "no cycle was stored in the window: see why in "+h.worker.log)
	}
	if temporalPID == 0 {
		rep.Notes = append(rep.Notes, "the Temporal dev server process was not found: its row is empty")
	}
	// A dev server that has kept its SQLite file through many runs is
	// slower (772 MB after a day of runs made StartWorkflow time out).
	if path, size := DevServerDB(temporalPID); size > devServerDBWarn {
		rep.Notes = append(rep.Notes, fmt.Sprintf(
			"the dev server's SQLite file %s holds %d MB: a dev server used this much is slower; for comparable figures stop the stack and delete it (make down; rm .data/temporal.db*)",
			path, size>>20))
	}
	if len(baseUse) == 1 {
		rep.WorkerBaseRSS = baseUse[0].RSSMean
	}
	up.mu.Lock()
	rep.Updates = UpdateStats{
		Latency: distOf(up.latencies), Non2xx: up.non2xx, Errors: up.errs, Skipped: up.skipped,
		Targets: len(targets), LastError: up.lastErr,
	}
	up.mu.Unlock()
	if updatesOnSample {
		rep.Notes = append(rep.Notes, "too few environments to keep Updates off the history sample: events per cycle include Update events")
	}
	rep.Heartbeats = HeartbeatStats{Found: hbFound, Count: hb1 - hb0}
	if w := to.Sub(from).Seconds(); w > 0 {
		rep.Heartbeats.PerSecond = rep.Heartbeats.Count / w
		rep.Heartbeats.PerEnvPerMinute = rep.Heartbeats.Count / float64(len(h.envs)) / w * 60
	}

	hist, err := h.histories(ctx, sample, cycles, from, to)
	if err != nil {
		rep.Notes = append(rep.Notes, "history sample: "+err.Error())
	}
	rep.History = hist
	rep.finish()
	return rep, nil
}

// histories reads the sampled workflows' histories and counts their
// events per cycle and actions in the window.
func (h *harness) histories(ctx context.Context, sample []uuid.UUID, cycles map[uuid.UUID][]Cycle, from, to time.Time) (HistoryStats, error) {
	hs := HistoryStats{Workflows: len(sample)}
	var per []float64
	for _, id := range sample {
		events, err := fetchHistory(ctx, h.tc, workflows.WorkflowID(id.String()), from)
		if err != nil {
			return hs, err
		}
		var at []time.Time
		for _, c := range cycles[id] {
			// cycle_at is the workflow task's start rounded to the µs: step back one
			// so that this WorkflowTaskStarted event falls in its own cycle.
			at = append(at, c.At.Add(-time.Microsecond))
			if inWindow(c.At, from, to) {
				hs.CyclesInWindow++
			}
		}
		for _, n := range EventsPerCycle(events, at, from, to) {
			per = append(per, float64(n))
		}
		hs.EventsInWindow += CountEvents(events, from, to)
		a := CountActions(events, from, to)
		for k, n := range a.ByKind {
			hs.Actions.add(k, n)
		}
	}
	hs.PerCycle = distOf(per)
	hs.Intervals = len(per)
	return hs, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// devServerDBWarn is the size of the dev server's SQLite file past which
// the report warns that the figures may be those of a slowed-down server.
const devServerDBWarn = 256 << 20

package api_test

// GET /api/v1/overview on the real Postgres without Temporal (the route
// does not use it), every answer checked against api/openapi.json.
//
// Statements per request: the handler makes one store call, Overview,
// which sends a fixed batch of five statements (environments, then the
// latest status, host row and disk sample and the sparkline buckets of
// every environment, each by a LATERAL index scan per environment) in one
// transaction. internal/store's TestOverviewStatementsDoNotGrow counts
// them on the wire for 1 and 25 environments; BenchmarkOverview100 times
// the whole route for 100.

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/windflow/monitor/api"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
	"github.com/windflow/monitor/workflows"
)

// overviewAnswer is the answer of GET /api/v1/overview; nullable parts are
// pointers.
type overviewAnswer struct {
	GeneratedAt  time.Time `json:"generatedAt"`
	Environments []struct {
		ID                     uuid.UUID `json:"id"`
		Name                   string    `json:"name"`
		Endpoint               string    `json:"endpoint"`
		Paused                 bool      `json:"paused"`
		CollectMetrics         bool      `json:"collectMetrics"`
		EventsEnabled          bool      `json:"eventsEnabled"`
		EventMode              string    `json:"eventMode"`
		MetricsIntervalSeconds int       `json:"metricsIntervalSeconds"`
		WorkflowID             string    `json:"workflowId"`
		WorkflowURL            string    `json:"workflowUrl"`
		Status                 *struct {
			Online bool      `json:"online"`
			Since  time.Time `json:"since"`
			Error  string    `json:"error"`
		} `json:"status"`
		LastCycleAt *time.Time `json:"lastCycleAt"`
		Latest      *struct {
			CollectedAt       time.Time `json:"collectedAt"`
			CPUPercent        float64   `json:"cpuPercent"`
			MemoryPercent     float64   `json:"memoryPercent"`
			MemoryUsed        int64     `json:"memoryUsed"`
			MemoryTotal       int64     `json:"memoryTotal"`
			ContainersRunning int       `json:"containersRunning"`
		} `json:"latest"`
		Disk *struct {
			Percent       float64   `json:"percent"`
			TotalBytes    int64     `json:"totalBytes"`
			CapacityBytes int64     `json:"capacityBytes"`
			Warned        bool      `json:"warned"`
			CheckedAt     time.Time `json:"checkedAt"`
		} `json:"disk"`
		Sparkline struct {
			StepSeconds int `json:"stepSeconds"`
			Points      []struct {
				T             time.Time `json:"t"`
				CPUPercent    float64   `json:"cpuPercent"`
				MemoryPercent float64   `json:"memoryPercent"`
			} `json:"points"`
		} `json:"sparkline"`
	} `json:"environments"`
}

// getOverview sends GET path to h, checks the exchange against the
// document and returns the status and body.
func getOverview(t testing.TB, h http.Handler, path string) (int, string) {
	t.Helper()
	hs := httptest.NewServer(h)
	defer hs.Close()
	req, err := http.NewRequest(http.MethodGet, hs.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if err := checkContract(req, nil, resp.StatusCode, resp.Header, body); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, string(body)
}

// createOverviewEnv stores an environment with the default settings
// changed by change.
func createOverviewEnv(t testing.TB, st *store.Store, name, endpoint string, change func(*workflows.Settings)) store.Environment {
	t.Helper()
	set := workflows.DefaultSettings()
	if change != nil {
		change(&set)
	}
	e, err := st.CreateEnvironment(t.Context(), store.Environment{Name: name, Endpoint: endpoint, Settings: set})
	if err != nil {
		t.Fatalf("CreateEnvironment(%s): %v", name, err)
	}
	return e
}

// TestOverviewAPI: environments in name order with their settings, stored
// status, latest cycle, latest disk sample and the last hour's 1-minute
// averages; nulls where nothing is stored; unknown query parameters
// ignored; no workflowUrl without a UI URL; 503 when PostgreSQL is down.
func TestOverviewAPI(t *testing.T) {
	t.Parallel()
	databaseURL := storetest.NewSchema(t)
	proxy := storetest.NewProxy(t, databaseURL)
	proxied, err := proxy.URL(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.Context(), proxied)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(st.Close)
	ctx := t.Context()

	gamma := createOverviewEnv(t, st, "gamma", "unix:///var/run/docker.sock", func(s *workflows.Settings) {
		s.MetricsInterval = 30 * time.Second
	})
	alpha := createOverviewEnv(t, st, "alpha", "unix:///var/run/docker.sock", nil)
	beta := createOverviewEnv(t, st, "beta", "tcp://10.0.0.5:2376", func(s *workflows.Settings) {
		s.Paused, s.EventsEnabled, s.EventMode, s.CollectMetrics = true, true, workflows.EventModePoll, false
		s.MetricsInterval = 5 * time.Minute
	})

	now := time.Now().UTC().Truncate(time.Second)
	offlineAt := now.Add(-20 * time.Minute)
	for _, c := range []store.StatusChange{
		{EnvironmentID: beta.ID, Online: false, Error: "connection refused", ChangedAt: offlineAt},
		{EnvironmentID: gamma.ID, Online: true, ChangedAt: now.Add(-2 * time.Hour)},
	} {
		if _, _, err := st.RecordStatus(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
	}
	// gamma: a cycle every 30 s over the last two hours.
	start := now.Add(-2 * time.Hour)
	var last store.HostMetric
	for i := range 240 {
		at := start.Add(time.Duration(i) * 30 * time.Second)
		last = store.HostMetric{EnvironmentID: gamma.ID, CycleAt: at, CollectedAt: at.Add(2 * time.Second),
			CPUPercent: float64(i % 10), MemoryPercent: 40 + float64(i%3), MemoryUsed: 4e9, MemoryTotal: 8e9, ContainersRunning: 3}
		if _, err := st.InsertMetrics(ctx, last, nil); err != nil {
			t.Fatal(err)
		}
	}
	checkedAt := now.Add(-3 * time.Minute)
	if _, err := st.InsertDiskSample(ctx, store.DiskSample{EnvironmentID: gamma.ID, CheckAt: checkedAt,
		TotalBytes: 92e9, CapacityBytes: 100e9, Percent: 92, Warned: true}); err != nil {
		t.Fatal(err)
	}

	srv := &api.Server{Store: st, UIURL: "http://127.0.0.1:8233/", Namespace: "default"}
	status, body := getOverview(t, srv.Routes(), "/api/v1/overview?unknown=1&limit=zz")
	if status != http.StatusOK {
		t.Fatalf("GET /api/v1/overview: %d %s", status, body)
	}
	var got overviewAnswer
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Environments) != 3 || got.Environments[0].ID != alpha.ID || got.Environments[1].ID != beta.ID ||
		got.Environments[2].ID != gamma.ID {
		t.Fatalf("environments = %s, want alpha, beta, gamma", body)
	}
	if !strings.Contains(body, `"generatedAt":"`+got.GeneratedAt.Format(time.RFC3339Nano)+`"`) ||
		!strings.HasSuffix(got.GeneratedAt.Format(time.RFC3339Nano), "Z") || got.GeneratedAt.Before(now) {
		t.Errorf("generatedAt = %s, want the time of the answer in UTC", got.GeneratedAt)
	}

	a := got.Environments[0]
	if a.Name != "alpha" || a.Endpoint != "unix:///var/run/docker.sock" || a.Paused || !a.CollectMetrics ||
		!a.EventsEnabled || a.EventMode != "stream" || a.MetricsIntervalSeconds != int(workflows.DefaultMetricsInterval/time.Second) ||
		a.WorkflowID != "environment/"+alpha.ID.String() ||
		a.WorkflowURL != "http://127.0.0.1:8233/namespaces/default/workflows/environment%2F"+alpha.ID.String() {
		t.Errorf("alpha = %+v", a)
	}
	if a.Status != nil || a.LastCycleAt != nil || a.Latest != nil || a.Disk != nil ||
		a.Sparkline.StepSeconds != 60 || a.Sparkline.Points == nil || len(a.Sparkline.Points) != 0 {
		t.Errorf("alpha has data: %+v", a)
	}
	if !strings.Contains(body, `"status":null,"lastCycleAt":null,"latest":null,"disk":null,"sparkline":{"stepSeconds":60,"points":[]}`) {
		t.Errorf("alpha's empty parts are not null / []: %s", body)
	}

	bt := got.Environments[1]
	if bt.Endpoint != "tcp://10.0.0.5:2376" || !bt.Paused || bt.CollectMetrics || !bt.EventsEnabled ||
		bt.EventMode != "poll" || bt.MetricsIntervalSeconds != 300 {
		t.Errorf("beta's settings = %+v", bt)
	}
	if bt.Status == nil || bt.Status.Online || bt.Status.Error != "connection refused" || !bt.Status.Since.Equal(offlineAt) {
		t.Errorf("beta's status = %+v, want offline since %s", bt.Status, offlineAt)
	}
	if bt.Latest != nil || bt.Disk != nil || len(bt.Sparkline.Points) != 0 {
		t.Errorf("beta has data: %+v", bt)
	}

	g := got.Environments[2]
	if g.Status == nil || !g.Status.Online || g.Status.Error != "" || strings.Contains(body, `"error":""`) {
		t.Errorf("gamma's status = %+v, want online without an error field", g.Status)
	}
	if g.LastCycleAt == nil || !g.LastCycleAt.Equal(last.CycleAt) || g.Latest == nil ||
		!g.Latest.CollectedAt.Equal(last.CollectedAt) || g.Latest.CPUPercent != last.CPUPercent ||
		g.Latest.MemoryPercent != last.MemoryPercent || g.Latest.MemoryUsed != 4e9 || g.Latest.MemoryTotal != 8e9 ||
		g.Latest.ContainersRunning != 3 || g.MetricsIntervalSeconds != 30 {
		t.Errorf("gamma's latest = %v %+v, want %+v", g.LastCycleAt, g.Latest, last)
	}
	if d := g.Disk; d == nil || d.Percent != 92 || d.TotalBytes != 92e9 || d.CapacityBytes != 100e9 || !d.Warned ||
		!d.CheckedAt.Equal(checkedAt) {
		t.Errorf("gamma's disk = %+v", g.Disk)
	}
	// The sparkline: the minutes from the one an hour before the answer on,
	// each the average of the cycles collected in it.
	since := got.GeneratedAt.Add(-time.Hour).Truncate(time.Minute)
	type sums struct {
		cpu, mem float64
		n        int
	}
	want := map[time.Time]*sums{}
	for i := range 240 {
		at := start.Add(time.Duration(i)*30*time.Second + 2*time.Second)
		if m := at.Truncate(time.Minute); !m.Before(since) {
			if want[m] == nil {
				want[m] = &sums{}
			}
			want[m].cpu, want[m].mem, want[m].n = want[m].cpu+float64(i%10), want[m].mem+40+float64(i%3), want[m].n+1
		}
	}
	if len(g.Sparkline.Points) != len(want) || len(want) < 59 {
		t.Fatalf("gamma's sparkline has %d points, want %d (since %s)", len(g.Sparkline.Points), len(want), since)
	}
	for i, p := range g.Sparkline.Points {
		s := want[p.T]
		if s == nil || (i > 0 && !p.T.After(g.Sparkline.Points[i-1].T)) {
			t.Fatalf("sparkline point %d at %s: not a minute of the last hour, or out of order", i, p.T)
		}
		// Rounded to hundredths in the answer.
		if math.Abs(p.CPUPercent-s.cpu/float64(s.n)) > 0.005+1e-9 || math.Abs(p.MemoryPercent-s.mem/float64(s.n)) > 0.005+1e-9 ||
			math.Abs(math.Round(p.CPUPercent*100)-p.CPUPercent*100) > 1e-6 {
			t.Fatalf("sparkline point %s = %+v, want cpu %v mem %v", p.T, p, s.cpu/float64(s.n), s.mem/float64(s.n))
		}
	}

	// Without a UI URL there is no link.
	if _, body := getOverview(t, (&api.Server{Store: st}).Routes(), "/api/v1/overview"); strings.Contains(body, "workflowUrl") {
		t.Errorf("workflowUrl without a UI URL: %s", body)
	}

	// PostgreSQL out of reach: 503, in the error shape, saying nothing of it.
	proxy.SetDown(true)
	status, body = getOverview(t, srv.Routes(), "/api/v1/overview")
	if status != http.StatusServiceUnavailable || !strings.Contains(body, `"postgres_unavailable"`) || strings.Contains(body, "127.0.0.1") {
		t.Fatalf("overview with PostgreSQL down: %d %s, want 503 postgres_unavailable", status, body)
	}
}

// Benchmark data: 100 environments with 50 containers each, 10 s cycles
// over the last 2 hours (raw rows and rollups as InsertMetrics leaves
// them), a disk check every 5 minutes and a few status transitions.
const (
	overviewBenchEnvs       = 100
	overviewBenchContainers = 50
)

// BenchmarkOverview100 serves GET /api/v1/overview (router, middleware,
// store, JSON) for 100 environments and reports the time per answer and
// its size.
func BenchmarkOverview100(b *testing.B) {
	databaseURL := storetest.NewSchema(b)
	st, err := store.Open(b.Context(), databaseURL)
	if err != nil {
		b.Fatalf("open store: %v", err)
	}
	defer st.Close()
	for i := range overviewBenchEnvs {
		createOverviewEnv(b, st, fmt.Sprintf("env-%03d", i), "unix:///var/run/docker.sock", nil)
	}
	end := time.Now().UTC().Truncate(10 * time.Second)
	started := time.Now()
	overviewBenchGenerate(b, databaseURL, end, overviewBenchContainers)
	b.Logf("generated %d environments × %d containers × 2 h of 10 s cycles in %s",
		overviewBenchEnvs, overviewBenchContainers, time.Since(started).Round(time.Second))

	routes := (&api.Server{Store: st, UIURL: "http://127.0.0.1:8233"}).Routes()
	size := 0
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/api/v1/overview", nil)
		rec := httptest.NewRecorder()
		routes.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET /api/v1/overview: %d %s", rec.Code, rec.Body)
		}
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size), "answer-bytes")
}

// overviewBenchGenerate writes the benchmark's data in SQL for every
// environment of the schema, up to end, with containers containers each
// (0: host, disk and status rows only).
func overviewBenchGenerate(b *testing.B, databaseURL string, end time.Time, containers int) {
	ctx := b.Context()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		b.Fatalf("connect: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	start := end.Add(-2 * time.Hour)
	for _, sql := range []string{
		`INSERT INTO host_metrics (environment_id, cycle_at, due_at, collected_at, cpu_percent, memory_percent,
			memory_used, memory_total, containers_running)
		SELECT e.id, t, t, t + interval '1 second', 30 + 20 * random(), 50 + 10 * random(),
			(8e9 * (0.5 + 0.1 * random()))::bigint, 16000000000, $3
		FROM environments e, generate_series($1::timestamptz, $2::timestamptz - interval '10 seconds', interval '10 seconds') t`,
		`INSERT INTO host_metrics_1m
		SELECT environment_id, date_bin('1 minute', collected_at, 'epoch'), count(*), sum(cpu_percent), min(cpu_percent),
			max(cpu_percent), sum(memory_percent), max(memory_percent), sum(memory_used), sum(memory_total), sum(containers_running)
		FROM host_metrics GROUP BY 1, 2`,
		`INSERT INTO host_metrics_1h
		SELECT environment_id, date_bin('1 hour', collected_at, 'epoch'), count(*), sum(cpu_percent), min(cpu_percent),
			max(cpu_percent), sum(memory_percent), max(memory_percent), sum(memory_used), sum(memory_total), sum(containers_running)
		FROM host_metrics GROUP BY 1, 2`,
		`INSERT INTO container_metrics (environment_id, cycle_at, collected_at, container_id, container_name,
			cpu_percent, memory_used, memory_limit, net_rx, net_tx, block_read, block_write,
			cpu_total_usage, system_cpu_usage, online_cpus)
		SELECT e.id, t, t + interval '1 second', md5(e.id::text || c), 'app-' || c, 3 * random(), 100000000, 2000000000,
			0, 0, 0, 0, (extract(epoch FROM t) * 1e7)::bigint, (extract(epoch FROM t) * 1e9)::bigint, 2
		FROM environments e, generate_series($1::timestamptz, $2::timestamptz - interval '10 seconds', interval '10 seconds') t,
			generate_series(1, $3) c`,
		`INSERT INTO container_metrics_1m
		SELECT environment_id, container_id, date_bin('1 minute', collected_at, 'epoch'), max(container_name), count(*),
			sum(cpu_percent), max(cpu_percent), sum(memory_used), max(memory_used), max(memory_limit),
			max(net_rx), max(net_tx), max(block_read), max(block_write)
		FROM container_metrics GROUP BY 1, 2, 3`,
		`INSERT INTO container_metrics_1h
		SELECT environment_id, container_id, date_bin('1 hour', bucket, 'epoch'), max(container_name), sum(samples),
			sum(cpu_sum), max(cpu_max), sum(memory_used_sum), max(memory_used_max), max(memory_limit_max),
			max(net_rx_max), max(net_tx_max), max(block_read_max), max(block_write_max)
		FROM container_metrics_1m GROUP BY 1, 2, 3`,
		`INSERT INTO disk_usage (environment_id, check_at, checked_at, total_bytes, capacity_bytes, capacity_source, percent)
		SELECT e.id, t, t + interval '2 seconds', 40e9, 100e9, 'configured', 40
		FROM environments e, generate_series($1::timestamptz, $2::timestamptz - interval '1 second', interval '5 minutes') t`,
		`INSERT INTO environment_status (environment_id, online, error, changed_at)
		SELECT e.id, s % 2 = 0, CASE WHEN s % 2 = 0 THEN '' ELSE 'connection refused' END, $1::timestamptz + s * interval '20 minutes'
		FROM environments e, generate_series(0, 4) s`,
	} {
		t0 := time.Now()
		tag, err := conn.Exec(ctx, `WITH bench_args AS (SELECT $1::timestamptz, $2::timestamptz, $3::int) `+sql,
			start, end, containers)
		if err != nil {
			b.Fatalf("generate: %s: %v", sql, err)
		}
		b.Logf("%s: %d rows in %s", strings.Fields(sql)[2], tag.RowsAffected(), time.Since(t0).Round(time.Millisecond))
	}
	if _, err := conn.Exec(ctx, "ANALYZE"); err != nil {
		b.Fatalf("analyze: %v", err)
	}
}

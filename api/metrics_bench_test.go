package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
	"github.com/windflow/monitor/workflows"
)

// Chart benchmark data: one environment with 50 containers, 10 s cycles
// for 30 days, as InsertMetrics and the default retention leave them: raw
// host rows for the last 7 days, 1-minute and 1-hour rollups for all 30.
// Raw container rows are generated for the last day only: the charts read
// the rollups, and 7 days (3 M rows) would add some 90 s to every run.
const (
	benchContainers       = 50
	benchDays             = 30
	benchRawDays          = 7
	benchRawContainerDays = 1
)

// BenchmarkMetricsCharts serves the dashboard's charts through the API
// handler (router, middleware, store, JSON) on generated data in a fresh
// schema, and reports the p50 and p99 latency of each (targets: 24 h host
// chart p99 <= 20 ms, 30 d host chart <= 50 ms, one container's 7 d chart
// <= 20 ms). make bench runs it.
func BenchmarkMetricsCharts(b *testing.B) {
	databaseURL := storetest.NewSchema(b)
	st, err := store.Open(b.Context(), databaseURL)
	if err != nil {
		b.Fatalf("open store: %v", err)
	}
	defer st.Close()
	env, err := st.CreateEnvironment(b.Context(), store.Environment{Name: "bench", Endpoint: "unix:///var/run/docker.sock",
		Settings: workflows.DefaultSettings()})
	if err != nil {
		b.Fatalf("CreateEnvironment: %v", err)
	}
	end := time.Now().UTC().Truncate(time.Hour)
	started := time.Now()
	benchGenerate(b, databaseURL, env.ID, end)
	b.Logf("generated %d days of 10 s cycles (%d containers; raw: %d days of host rows, %d of container rows) in %s",
		benchDays, benchContainers, benchRawDays, benchRawContainerDays, time.Since(started).Round(time.Second))

	routes := (&Server{Store: st}).Routes()
	path := "/api/v1/environments/" + env.ID.String()
	window := func(d time.Duration) string { return fmt.Sprintf("from=%d&to=%d", end.Add(-d).Unix(), end.Unix()) }
	for _, chart := range []struct{ name, url string }{
		{"host-24h", path + "/metrics?" + window(24*time.Hour)},
		{"host-24h-step1m", path + "/metrics?step=1m&" + window(24*time.Hour)},
		{"host-24h-step30s-raw", path + "/metrics?step=30s&" + window(24*time.Hour)},
		{"host-30d", path + "/metrics?" + window(30*24*time.Hour)},
		{"container-7d", path + "/containers/app-7/metrics?" + window(7*24*time.Hour)},
		{"container-7d-by-id", path + "/containers/" + benchContainerID(7)[:12] + "/metrics?" + window(7*24*time.Hour)},
	} {
		b.Run(chart.name, func(b *testing.B) {
			latencies := make([]time.Duration, 0, b.N)
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1"+chart.url, nil)
				rec := httptest.NewRecorder()
				t0 := time.Now()
				routes.ServeHTTP(rec, req)
				latencies = append(latencies, time.Since(t0))
				if rec.Code != http.StatusOK {
					b.Fatalf("GET %s: %d %s", chart.url, rec.Code, rec.Body)
				}
			}
			slices.Sort(latencies)
			at := func(q float64) float64 {
				return float64(latencies[min(len(latencies)-1, int(q*float64(len(latencies))))]) / float64(time.Millisecond)
			}
			b.ReportMetric(at(0.50), "p50-ms")
			b.ReportMetric(at(0.99), "p99-ms")
		})
	}
}

// benchContainerID is the full ID of generated container c.
func benchContainerID(c int) string {
	return strings.Repeat(fmt.Sprintf("%08x", 0xbe000000+c), 8)
}

// benchGenerate writes the data in SQL (generate_series), in the shape
// InsertMetrics gives it: the host rows of 30 days are generated, rolled
// up as the migration's backfill does and their last 7 days kept raw; the
// container rows of the last day likewise, and their older 1-minute
// rollups directly (6 samples a minute).
func benchGenerate(b *testing.B, databaseURL string, envID uuid.UUID, end time.Time) {
	start := end.Add(-benchDays * 24 * time.Hour)
	rawStart := end.Add(-benchRawDays * 24 * time.Hour)
	ids := make([]string, benchContainers)
	for c := range ids {
		ids[c] = benchContainerID(c)
	}
	benchExec(b, databaseURL, []string{
		`CREATE TEMP TABLE bench_host (t timestamptz, cpu float8, mem float8, used bigint) ON COMMIT DROP`,
		`INSERT INTO bench_host
		SELECT t, 30 + 20 * sin(extract(epoch FROM t) / 3600) + 5 * random() AS cpu,
			50 + 10 * cos(extract(epoch FROM t) / 7200) AS mem, (8e9 * (0.5 + 0.1 * random()))::bigint AS used
		FROM generate_series($2::timestamptz, $4::timestamptz - interval '10 seconds', interval '10 seconds') t`,
		`INSERT INTO host_metrics (environment_id, cycle_at, due_at, collected_at, cpu_percent, memory_percent,
			memory_used, memory_total, containers_running)
		SELECT $1, t, t, t, cpu, mem, used, 16000000000, 50 FROM bench_host WHERE t >= $3::timestamptz`,
		`INSERT INTO host_metrics_1m
		SELECT $1, date_bin('1 minute', t, 'epoch'), count(*), sum(cpu), min(cpu), max(cpu), sum(mem), max(mem),
			sum(used), count(*) * 16000000000, count(*) * 50
		FROM bench_host GROUP BY 2`,
		`INSERT INTO host_metrics_1h
		SELECT $1, date_bin('1 hour', bucket, 'epoch'), sum(samples), sum(cpu_sum), min(cpu_min), max(cpu_max),
			sum(memory_percent_sum), max(memory_percent_max), sum(memory_used_sum), sum(memory_total_sum), sum(containers_running_sum)
		FROM host_metrics_1m WHERE environment_id = $1 GROUP BY 2`,
		`INSERT INTO container_metrics (environment_id, cycle_at, collected_at, container_id, container_name,
			cpu_percent, memory_used, memory_limit, net_rx, net_tx, block_read, block_write,
			cpu_total_usage, system_cpu_usage, online_cpus)
		SELECT $1, t, t, ($5::text[])[c + 1], 'app-' || c, (c % 10) + 3 * random(), (1e8 * (1 + c % 5 + random()))::bigint,
			2000000000, (extract(epoch FROM t - $7::timestamptz) * 1000 * (c + 1))::bigint, (extract(epoch FROM t - $7::timestamptz) * 500 * (c + 1))::bigint,
			(extract(epoch FROM t - $7::timestamptz) * 100)::bigint, (extract(epoch FROM t - $7::timestamptz) * 200)::bigint,
			(extract(epoch FROM t) * 1e7)::bigint, (extract(epoch FROM t) * 1e9)::bigint, 2
		FROM generate_series($7::timestamptz, $4::timestamptz - interval '10 seconds', interval '10 seconds') t,
			generate_series(0, $6 - 1) c`,
		`INSERT INTO container_metrics_1m
		SELECT environment_id, container_id, date_bin('1 minute', collected_at, 'epoch'), max(container_name), count(*),
			sum(cpu_percent), max(cpu_percent), sum(memory_used), max(memory_used), max(memory_limit),
			max(net_rx), max(net_tx), max(block_read), max(block_write)
		FROM container_metrics WHERE environment_id = $1 GROUP BY 1, 2, 3`,
		`INSERT INTO container_metrics_1m
		SELECT $1, ($5::text[])[c + 1], m, 'app-' || c, 6, 6 * ((c % 10) + 1.5), (c % 10) + 3,
			(6e8 * (1.5 + c % 5))::bigint, (1e8 * (2 + c % 5))::bigint, 2000000000, 0, 0, 0, 0
		FROM generate_series($2::timestamptz, $7::timestamptz - interval '1 minute', interval '1 minute') m,
			generate_series(0, $6 - 1) c`,
		`INSERT INTO container_metrics_1h
		SELECT environment_id, container_id, date_bin('1 hour', bucket, 'epoch'), max(container_name), sum(samples),
			sum(cpu_sum), max(cpu_max), sum(memory_used_sum), max(memory_used_max), max(memory_limit_max),
			max(net_rx_max), max(net_tx_max), max(block_read_max), max(block_write_max)
		FROM container_metrics_1m WHERE environment_id = $1 GROUP BY 1, 2, 3`,
	}, envID, start, rawStart, end, ids, benchContainers, end.Add(-benchRawContainerDays*24*time.Hour))
}

// benchExec runs the statements in one transaction (the temporary table
// lives in it), those with placeholders with args (environment ID, start,
// start of the raw host rows, end, container IDs, number of containers,
// start of the raw container rows), then ANALYZE.
func benchExec(b *testing.B, databaseURL string, statements []string, args ...any) {
	ctx := b.Context()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		b.Fatalf("connect: %v", err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	tx, err := conn.Begin(ctx)
	if err != nil {
		b.Fatalf("begin: %v", err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	for _, sql := range statements {
		var with []any
		if strings.Contains(sql, "$") { // every placeholder typed, used or not
			sql = `WITH bench_args AS (SELECT $1::uuid, $2::timestamptz, $3::timestamptz, $4::timestamptz, $5::text[], $6::int, $7::timestamptz) ` + sql
			with = args
		}
		t0 := time.Now()
		tag, err := tx.Exec(ctx, sql, with...)
		if err != nil {
			b.Fatalf("generate: %s: %v", sql, err)
		}
		b.Logf("%s: %d rows in %s", strings.Fields(strings.TrimPrefix(sql, "WITH "))[:6], tag.RowsAffected(), time.Since(t0).Round(time.Millisecond))
	}
	if err := tx.Commit(ctx); err != nil {
		b.Fatalf("commit: %v", err)
	}
	if _, err := conn.Exec(ctx, "ANALYZE"); err != nil {
		b.Fatalf("analyze: %v", err)
	}
}

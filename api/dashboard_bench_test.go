package api_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/windflow/monitor/api"
	"github.com/windflow/monitor/internal/browsertest"
	"github.com/windflow/monitor/internal/engine/enginetest"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
)

// BenchmarkDashboardOverview100: the overview page with 100 environments
// (2 h of 10 s host data each) in headless Chromium, from navigation start
// to the table drawn with its 200 sparklines (the page's
// "windflow-overview-rendered" mark). Reports the median and p99 of that
// time over the iterations (target: first render ≤ 1 s).
func BenchmarkDashboardOverview100(b *testing.B) {
	databaseURL := storetest.NewSchema(b)
	st, err := store.Open(b.Context(), databaseURL)
	if err != nil {
		b.Fatalf("open store: %v", err)
	}
	defer st.Close()
	const envs = 100
	for i := range envs {
		createOverviewEnv(b, st, fmt.Sprintf("env-%03d", i), "unix:///var/run/docker.sock", nil)
	}
	generateHostData(b, databaseURL, time.Now().UTC().Truncate(10*time.Second))
	hs := httptest.NewServer((&api.Server{Store: st, UIURL: "http://127.0.0.1:8233"}).Routes())
	defer hs.Close()
	ctx := browsertest.New(b)

	var rendered []float64
	for b.Loop() {
		if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(hs.URL+"/")); err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			ms, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(() => {
				const m = performance.getEntriesByName('windflow-overview-rendered')[0];
				const sparks = document.querySelectorAll('tr[data-env] canvas.spark[data-points]').length;
				return m && sparks === 2 * `+fmt.Sprint(envs)+` ? m.startTime : -1 })()`))
			if err == nil && ms >= 0 {
				rendered = append(rendered, ms)
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("the overview did not render 100 environments within 30 s (%v)", err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	slices.Sort(rendered)
	b.ReportMetric(rendered[len(rendered)/2], "render-p50-ms")
	b.ReportMetric(rendered[min(len(rendered)-1, len(rendered)*99/100)], "render-p99-ms")
}

// generateHostData writes 2 h of 10 s host metrics and their 1-minute
// rollup up to end for every environment of the schema.
func generateHostData(b *testing.B, databaseURL string, end time.Time) {
	conn, err := pgx.Connect(b.Context(), databaseURL)
	if err != nil {
		b.Fatalf("connect: %v", err)
	}
	defer func() { _ = conn.Close(b.Context()) }()
	args := []any{end.Add(-2 * time.Hour), end}
	for i, sql := range []string{
		`INSERT INTO host_metrics (environment_id, cycle_at, due_at, collected_at, cpu_percent, memory_percent,
			memory_used, memory_total, containers_running)
		SELECT e.id, t, t, t + interval '1 second', 30 + 20 * random(), 50 + 10 * random(),
			(8e9 * (0.5 + 0.1 * random()))::bigint, 16000000000, 50
		FROM environments e, generate_series($1::timestamptz, $2::timestamptz - interval '10 seconds', interval '10 seconds') t`,
		`INSERT INTO host_metrics_1m
		SELECT environment_id, date_bin('1 minute', collected_at, 'epoch'), count(*), sum(cpu_percent), min(cpu_percent),
			max(cpu_percent), sum(memory_percent), max(memory_percent), sum(memory_used), sum(memory_total), sum(containers_running)
		FROM host_metrics GROUP BY 1, 2`,
	} {
		if i > 0 {
			args = nil // the rollup reads what the first statement wrote
		}
		if _, err := conn.Exec(b.Context(), sql, args...); err != nil {
			b.Fatalf("generate: %v", err)
		}
	}
}

// BenchmarkDashboardLiveEvent: a container started on the real engine, on
// the environment page of the dashboard in headless Chromium (whole stack:
// worker with its event stream, PostgreSQL, the API's live stream): the
// time from the engine's start event (its own timestamp) to the event in
// the page's live list. Reports p50 and p99 (target ≤ 1 s).
func BenchmarkDashboardLiveEvent(b *testing.B) {
	tb := setupWith(b, 1)
	env := tb.createEnvironment(b, "dash-bench-"+uuid.NewString()[:8], 30)
	ctx := browsertest.New(b)
	if err := chromedp.Do(ctx, chromedp.Navigate(tb.api.URL+"/#/env/"+env.ID)); err != nil {
		b.Fatal(err)
	}
	waitEval(b, ctx, `document.querySelector('#event-stream-state') && document.querySelector('#event-stream-state').textContent === 'live' ? 0 : -1`)
	cli := enginetest.Client(b)
	var latencies []float64
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprintf("dash-bench-%s-%d", env.ID[:8], i)
		enginetest.RunContainer(b, cli, name, "sleep", "300") // named name-<suffix>
		ms := waitEval(b, ctx, `(() => {
			for (const li of document.querySelectorAll('#event-list li.action-start')) {
				if (li.querySelector('.container').textContent.startsWith(`+fmt.Sprintf("%q", name+"-")+`))
					return Date.now() - Date.parse(li.querySelector('time').dateTime);
			}
			return -1 })()`)
		latencies = append(latencies, ms)
	}
	slices.Sort(latencies)
	b.ReportMetric(latencies[len(latencies)/2], "event-p50-ms")
	b.ReportMetric(latencies[min(len(latencies)-1, len(latencies)*99/100)], "event-p99-ms")
}

// waitEval polls a JavaScript expression every 5 ms until it yields a
// number ≥ 0, and returns it.
func waitEval(b *testing.B, ctx context.Context, expr string) float64 {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[float64](expr))
		if err == nil && v >= 0 {
			return v
		}
		if time.Now().After(deadline) {
			list, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#event-list') ? document.querySelector('#event-list').innerText : document.body.innerText`))
			b.Fatalf("timed out waiting for %s (%v); the list: %s", expr, err, list)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

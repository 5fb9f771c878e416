package api_test

import (
	"fmt"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/windflow/monitor/api"
	"github.com/windflow/monitor/internal/browsertest"
	"github.com/windflow/monitor/internal/engine/enginetest"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
)

// BenchmarkDashboardOverview100: the overview page with 100 environments
// (2 h of 10 s host data, disk samples and status changes each) in headless Chromium, from navigation start
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
	overviewBenchGenerate(b, databaseURL, time.Now().UTC().Truncate(10*time.Second), 0)
	hs := httptest.NewServer(api.NewTestServer(b, api.Config{UIURL: "http://127.0.0.1:8233"}, api.Deps{Store: st}).Routes())
	defer hs.Close()
	ctx := browsertest.New(b)

	var rendered []float64
	for b.Loop() {
		if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(hs.URL+"/")); err != nil {
			b.Fatal(err)
		}
		rendered = append(rendered, waitNumber(b, ctx, 30*time.Second, "the overview of 100 environments", `(() => {
			const m = performance.getEntriesByName('windflow-overview-rendered')[0];
			const sparks = document.querySelectorAll('tr[data-env] canvas.spark[data-points]').length;
			return m && sparks === 2 * `+fmt.Sprint(envs)+` ? m.startTime : -1 })()`))
	}
	slices.Sort(rendered)
	b.ReportMetric(rendered[len(rendered)/2], "render-p50-ms")
	b.ReportMetric(rendered[min(len(rendered)-1, len(rendered)*99/100)], "render-p99-ms")
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
	waitBrowser(b, ctx, 30*time.Second, "the live event stream", `document.querySelector('#event-stream-state') && document.querySelector('#event-stream-state').textContent === 'live'`)
	cli := enginetest.Client(b)
	var latencies []float64
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprintf("dash-bench-%s-%d", env.ID[:8], i)
		enginetest.RunContainer(b, cli, name, "sleep", "300") // named name-<suffix>
		ms := waitNumber(b, ctx, 30*time.Second, "the container's start in the live list", `(() => {
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

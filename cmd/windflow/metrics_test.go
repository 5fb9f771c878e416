package main

import (
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/windflow/monitor/internal/settings"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
	"github.com/windflow/monitor/internal/telemetry"
)

func TestWithMetrics(t *testing.T) {
	tel, err := telemetry.New()
	if err != nil {
		t.Fatal(err)
	}
	tel.EventGap("prod")
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "api "+r.Method+" "+r.URL.Path)
	})
	srv := httptest.NewServer(withMetrics(api, tel))
	defer srv.Close()
	get := func(method, path string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(http.MethodGet, "/metrics"); code != 200 || !strings.Contains(body, `windflow_event_gaps_total{environment="prod"} 1`) || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("GET /metrics: %d\n%s", code, body)
	}
	for _, p := range []string{"/healthz", "/api/v1/environments", "/metricsx", "/"} {
		if code, body := get(http.MethodGet, p); code != 200 || body != "api GET "+p {
			t.Fatalf("GET %s went to %q (%d), want the API", p, body, code)
		}
	}
	// Other methods on /metrics are the API's to answer (its 404/405).
	if _, body := get(http.MethodPost, "/metrics"); body != "api POST /metrics" {
		t.Fatalf("POST /metrics went to %q, want the API", body)
	}
}

func TestMetricsAddr(t *testing.T) {
	load := func() config { return *loadConfig(flag.NewFlagSet("test", flag.ContinueOnError)) }
	t.Setenv("WINDFLOW_METRICS_ADDR", "") // restored after the test
	os.Unsetenv("WINDFLOW_METRICS_ADDR")
	if got := load().metricsAddr(defaultWorkerMetricsAddr); got != defaultWorkerMetricsAddr {
		t.Fatalf("unset: %q, want the default", got)
	}
	t.Setenv("WINDFLOW_METRICS_ADDR", "")
	if got := load().metricsAddr(defaultWorkerMetricsAddr); got != "" {
		t.Fatalf("set but empty: %q, want off", got)
	}
	t.Setenv("WINDFLOW_METRICS_ADDR", ":9191")
	if got := load().metricsAddr(""); got != ":9191" {
		t.Fatalf("set: %q", got)
	}
}

// TestAlertsFiringFromStore: the API process's windflow_alerts_firing reads
// the store's firing alerts at scrape time.
func TestAlertsFiringFromStore(t *testing.T) {
	st, err := store.Open(t.Context(), storetest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	env, err := st.CreateEnvironment(t.Context(), store.Environment{Name: "prod", Endpoint: "unix:///var/run/docker.sock",
		Settings: settings.Settings{MetricsInterval: 30 * time.Second, OfflineAfter: 2}})
	if err != nil {
		t.Fatal(err)
	}
	rule, err := st.CreateAlertRule(t.Context(), store.AlertRule{Name: "cpu", Metric: "host_cpu_percent", Op: "above",
		Threshold: 90, Severity: "critical", Enabled: true}, store.AlertRuleCaps{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, _, err := st.RecordAlertTransitions(t.Context(), env.ID, []store.Alert{{RuleID: rule.ID, Phase: store.AlertFiring,
		At: now, Since: now, Value: 95}}, nil); err != nil {
		t.Fatal(err)
	}
	tel, err := telemetry.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := tel.RegisterAlertsFiring(firingSource(st), telemetry.MinFiringCache); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	tel.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if body := rec.Body.String(); !strings.Contains(body, `windflow_alerts_firing{environment="prod",severity="critical"} 1`) {
		t.Fatalf("GET /metrics lacks the firing alert:\n%s", body)
	}
}

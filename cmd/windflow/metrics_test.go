package main

import (
	"context"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/windflow/monitor/api"
	"github.com/windflow/monitor/internal/settings"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
	"github.com/windflow/monitor/internal/telemetry"
)

// freeAddr is a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// noDeps are API parts that are not there: the requests of these tests
// never reach them.
type (
	noStore  struct{ api.Store }
	noFlows  struct{ api.Flows }
	noSender struct{ api.Sender }
)

// TestMetricsOffTheAPIAddress: the API's address answers /metrics with the
// API's 404, and the metrics listener serves it (and nothing else).
func TestMetricsOffTheAPIAddress(t *testing.T) {
	tel, err := telemetry.New()
	if err != nil {
		t.Fatal(err)
	}
	tel.EventGap("prod")
	srv, err := api.New(api.Config{}, api.Deps{Store: noStore{}, Flows: noFlows{}, Sender: noSender{}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := loadWith(t)
	cfg.HTTPAddr, cfg.MetricsAddr, cfg.MetricsAddrSet = freeAddr(t), freeAddr(t), true
	ctx, cancel := context.WithCancel(t.Context())
	g, gctx := errgroup.WithContext(ctx)
	serveAPI(gctx, g, cfg, srv, tel)
	t.Cleanup(func() {
		cancel()
		if err := g.Wait(); err != nil {
			t.Errorf("servers: %v", err)
		}
	})
	get := func(base, path string) (int, string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			resp, err := http.Get("http://" + base + path)
			if err != nil {
				if time.Now().After(deadline) {
					t.Fatalf("GET %s%s: %v", base, path, err)
				}
				time.Sleep(20 * time.Millisecond) // not listening yet
				continue
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
	}
	if code, _ := get(cfg.HTTPAddr, "/healthz"); code != http.StatusOK {
		t.Fatalf("API /healthz: %d", code)
	}
	if code, body := get(cfg.HTTPAddr, "/metrics"); code != http.StatusNotFound || strings.Contains(body, "windflow_") {
		t.Fatalf("GET /metrics on the API's address: %d\n%.300s\nwant the API's 404", code, body)
	}
	if code, body := get(cfg.MetricsAddr, "/metrics"); code != http.StatusOK ||
		!strings.Contains(body, `windflow_event_gaps_total{environment="prod"} 1`) || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("GET /metrics on the metrics listener: %d\n%s", code, body)
	}
	for _, p := range []string{"/healthz", "/api/v1/environments", "/"} {
		if code, _ := get(cfg.MetricsAddr, p); code != http.StatusNotFound {
			t.Errorf("GET %s on the metrics listener: %d; want 404", p, code)
		}
	}
}

func TestMetricsAddr(t *testing.T) {
	load := func() config { return *loadConfig(flag.NewFlagSet("test", flag.ContinueOnError)) }
	t.Setenv("WINDFLOW_METRICS_ADDR", "") // restored after the test
	os.Unsetenv("WINDFLOW_METRICS_ADDR")
	for _, def := range []string{defaultWorkerMetricsAddr, defaultAPIMetricsAddr} {
		got := load().metricsAddr(def)
		if host, _, err := net.SplitHostPort(got); got != def || err != nil || host != "127.0.0.1" {
			t.Fatalf("unset: %q, want the loopback default %q", got, def)
		}
	}
	if defaultWorkerMetricsAddr == defaultAPIMetricsAddr {
		t.Fatal("worker and api default to one metrics address: they could not run side by side")
	}
	t.Setenv("WINDFLOW_METRICS_ADDR", "")
	if got := load().metricsAddr(defaultAPIMetricsAddr); got != "" {
		t.Fatalf("set but empty: %q, want off", got)
	}
	t.Setenv("WINDFLOW_METRICS_ADDR", ":9191")
	if got := load().metricsAddr(defaultAPIMetricsAddr); got != ":9191" {
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
		Threshold: 90, Severity: "critical", Enabled: true})
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

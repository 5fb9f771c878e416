package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/windflow/monitor/internal/temporaltest"
)

func newMetrics(t *testing.T) *Metrics {
	t.Helper()
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown(context.Background()) })
	return m
}

// scrape returns what GET /metrics answers.
func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics answered %d: %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

func TestNew_RegistriesAreIndependent(t *testing.T) {
	// Two registries in one process: nothing goes to the global default
	// registry, so a second New does not collide with the first.
	a, b := newMetrics(t), newMetrics(t)
	a.EventGap("prod")
	if got := testutil.ToFloat64(b.eventGaps.WithLabelValues("prod")); got != 0 {
		t.Fatalf("second registry sees %v gaps of the first", got)
	}
}

func TestRecording(t *testing.T) {
	m := newMetrics(t)
	before := time.Now()
	m.CollectionCycle("prod", 1500*time.Millisecond, nil)
	m.CollectionCycle("prod", 2*time.Second, errors.New("engine down"))
	m.CollectionCycle("prod", time.Second, nil)
	m.CollectionCycle("staging", time.Second, errors.New("engine down"))
	m.EventsStored("prod", 5, 2)
	m.EventsStored("prod", 1, 0)
	m.EventsMalformed("prod", 3)
	m.EventsMalformed("prod", 0)
	m.EventGap("prod")
	m.NotificationDelivered("container_oom")
	m.NotificationFailed("container_oom")
	m.NotificationFailed("container_oom")
	m.DiskUsage("prod", 1<<30)
	m.DiskUsage("prod", 2<<30)

	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"cycles prod ok", testutil.ToFloat64(m.cycles.WithLabelValues("prod", OutcomeOK)), 2},
		{"cycles prod error", testutil.ToFloat64(m.cycles.WithLabelValues("prod", OutcomeError)), 1},
		{"cycles staging error", testutil.ToFloat64(m.cycles.WithLabelValues("staging", OutcomeError)), 1},
		{"cycles staging ok (initialised)", testutil.ToFloat64(m.cycles.WithLabelValues("staging", OutcomeOK)), 0},
		{"events ingested", testutil.ToFloat64(m.eventsIngested.WithLabelValues("prod")), 6},
		{"events duplicates", testutil.ToFloat64(m.eventsDuplicates.WithLabelValues("prod")), 2},
		{"events malformed", testutil.ToFloat64(m.eventsMalformed.WithLabelValues("prod")), 3},
		{"gaps", testutil.ToFloat64(m.eventGaps.WithLabelValues("prod")), 1},
		{"delivered", testutil.ToFloat64(m.notifDelivered.WithLabelValues("container_oom")), 1},
		{"failed", testutil.ToFloat64(m.notifFailed.WithLabelValues("container_oom")), 2},
		{"disk", testutil.ToFloat64(m.diskUsage.WithLabelValues("prod")), 2 << 30},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	last := testutil.ToFloat64(m.lastSuccess.WithLabelValues("prod"))
	if last < float64(before.Unix()) || last > float64(time.Now().Unix()+1) {
		t.Errorf("last success = %v, want about %d", last, before.Unix())
	}
	if n := testutil.CollectAndCount(m.lastSuccess); n != 1 {
		t.Errorf("last success has %d series, want 1 (staging never succeeded)", n)
	}
	if n := testutil.CollectAndCount(m.cycleDuration); n != 1 {
		t.Errorf("duration has %d series, want 1 (all environments together)", n)
	}

	body := scrape(t, m.Handler())
	for _, want := range []string{
		`windflow_collection_cycles_total{environment="prod",outcome="ok"} 2`,
		`windflow_collection_cycles_total{environment="prod",outcome="error"} 1`,
		`windflow_collection_duration_seconds_bucket{le="2"} 4`,
		`windflow_collection_duration_seconds_count 4`,
		`windflow_collection_last_success_timestamp_seconds{environment="prod"}`,
		`windflow_events_ingested_total{environment="prod"} 6`,
		`windflow_events_duplicates_total{environment="prod"} 2`,
		`windflow_events_malformed_total{environment="prod"} 3`,
		`windflow_event_gaps_total{environment="prod"} 1`,
		`windflow_notifications_delivered_total{kind="container_oom"} 1`,
		`windflow_notifications_failed_total{kind="container_oom"} 2`,
		`windflow_disk_usage_bytes{environment="prod"} 2.147483648e+09`,
		"# HELP windflow_collection_cycles_total ",
		"# TYPE windflow_collection_duration_seconds histogram",
		"go_goroutines ",
		"go_memstats_heap_alloc_bytes ",
		"process_resident_memory_bytes ",
		"process_open_fds ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}

func TestNilSafe(t *testing.T) {
	var m *Metrics
	m.CollectionCycle("prod", time.Second, nil)
	m.CollectionCycle("prod", time.Second, errors.New("x"))
	m.EventsStored("prod", 1, 1)
	m.EventsMalformed("prod", 1)
	m.EventGap("prod")
	m.NotificationDelivered("k")
	m.NotificationFailed("k")
	m.DiskUsage("prod", 1)
	if m.TemporalMetricsHandler() != nil {
		t.Fatal("nil Metrics: TemporalMetricsHandler must be nil (the SDK then reports nothing)")
	}
	if m.Registry() != nil {
		t.Fatal("nil Metrics: Registry must be nil")
	}
	if err := m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("nil Metrics handler answered %d, want 404", rec.Code)
	}
	// Nothing on the context: nil, which records nothing.
	FromContext(context.Background()).EventGap("prod")
	if FromContext(context.Background()) != nil {
		t.Fatal("FromContext of an empty context must be nil")
	}
	stored := newMetrics(t)
	if FromContext(NewContext(context.Background(), stored)) != stored {
		t.Fatal("FromContext does not return what NewContext stored")
	}
}

func TestTemporalHandler_WithoutServer(t *testing.T) {
	// The SDK's handler writes into the same registry; counters are
	// Prometheus counters (_total), timers histograms in seconds.
	m := newMetrics(t)
	h := m.TemporalMetricsHandler().WithTags(map[string]string{"operation": "Test"})
	h.Counter("temporal_request").Inc(2)
	h.Timer("temporal_request_latency").Record(30 * time.Millisecond)
	h.Gauge("temporal_worker_task_slots_available").Update(4)
	body := scrape(t, m.Handler())
	for _, want := range []string{
		"# TYPE temporal_request_total counter",
		`temporal_request_total{operation="Test"} 2`,
		`temporal_request_latency_seconds_bucket{operation="Test",le="0.05"} 1`,
		`temporal_worker_task_slots_available{operation="Test"} 4`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "target_info") || strings.Contains(body, "otel_scope_name") {
		t.Error("/metrics carries OpenTelemetry target/scope info")
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}

// TestTemporalSDKMetrics dials a real Temporal server with the handler and
// checks the SDK's request metrics reach /metrics.
func TestTemporalSDKMetrics(t *testing.T) {
	addr := temporaltest.Address(t)
	namespace := os.Getenv("TEMPORAL_NAMESPACE")
	if namespace == "" {
		namespace = "default"
	}
	m := newMetrics(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{
		HostPort:       addr,
		Namespace:      namespace,
		MetricsHandler: m.TemporalMetricsHandler(),
		Logger:         sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListOpenWorkflow(ctx, &workflowservice.ListOpenWorkflowExecutionsRequest{Namespace: namespace, MaximumPageSize: 1}); err != nil {
		t.Fatal(err)
	}
	// A worker adds the worker metrics (slots, pollers) while it runs.
	w := worker.New(c, "telemetry-test-"+time.Now().Format("150405.000000000"), worker.Options{})
	w.RegisterWorkflowWithOptions(func(workflow.Context) error { return nil }, workflow.RegisterOptions{Name: "TelemetryNoop"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	w.Stop()

	body := scrape(t, m.Handler())
	for _, want := range []string{
		"temporal_request_total{",
		`operation="DescribeNamespace"`,
		"temporal_request_latency_seconds_bucket{",
		`namespace="` + namespace + `"`,
		"temporal_worker_start_total{",
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}

// TestActivityLogger checks the environment and workflow attributes of an
// activity's log lines, through the slog bridge.
func TestActivityLogger(t *testing.T) {
	var buf bytes.Buffer
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.NewJSONHandler(&buf, nil))))
	env := suite.NewTestActivityEnvironment()
	act := func(ctx context.Context) error {
		ActivityLogger(ctx, "0b6c1c9e-id", "prod").Warn("Event gap recorded", "Reason", "ring")
		return nil
	}
	env.RegisterActivity(act)
	if _, err := env.ExecuteActivity(act); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if rec["msg"] != "Event gap recorded" {
			continue
		}
		found = true
		for k, want := range map[string]any{
			AttrEnvironmentID: "0b6c1c9e-id",
			AttrEnvironment:   "prod",
			"Reason":          "ring",
			"level":           "WARN",
		} {
			if rec[k] != want {
				t.Errorf("%s = %v, want %v (%s)", k, rec[k], want, line)
			}
		}
		if id, _ := rec[AttrWorkflowID].(string); id == "" {
			t.Errorf("no %s in %s", AttrWorkflowID, line)
		}
	}
	if !found {
		t.Fatalf("no log line from the activity in:\n%s", buf.String())
	}
}

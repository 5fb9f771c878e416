package activities_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	dto "github.com/prometheus/client_model/go"

	"github.com/windflow/monitor/internal/engine/enginetest"
	"github.com/windflow/monitor/internal/notify"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/telemetry"
	"github.com/windflow/monitor/workflows"
)

// telemetryBundle is the activities' test bundle whose activities run with
// telemetry on their context, as the worker sets it (worker.WithTelemetry).
type telemetryBundle struct {
	*testBundle
	tel *telemetry.Metrics
}

func setupTelemetry(t *testing.T, endpoint string) *telemetryBundle {
	t.Helper()
	tel, err := telemetry.New()
	if err != nil {
		t.Fatal(err)
	}
	return &telemetryBundle{testBundle: setup(t, endpoint, telemetry.NewContext(context.Background(), tel)), tel: tel}
}

// metricValue is the value of the series of family name whose labels
// include labels (a counter's or gauge's value, a histogram's count), and
// whether it exists.
func metricValue(t *testing.T, tel *telemetry.Metrics, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	families, err := tel.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue series
				}
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				return m.GetCounter().GetValue(), true
			case dto.MetricType_GAUGE:
				return m.GetGauge().GetValue(), true
			case dto.MetricType_HISTOGRAM:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func TestTelemetry_CollectMetricsCountsCycles(t *testing.T) {
	enginetest.Client(t)
	b := setupTelemetry(t, enginetest.Endpoint())
	envLabel := map[string]string{"environment": b.env.Name}
	before := time.Now()
	in := workflows.CollectMetricsInput{EnvironmentID: b.env.ID.String(), CycleAt: time.Now().UTC().Truncate(time.Millisecond)}
	if _, err := b.tenv.ExecuteActivity(b.acts.CollectMetrics, in); err != nil {
		t.Fatal(err)
	}
	if v, _ := metricValue(t, b.tel, "windflow_collection_cycles_total", map[string]string{"environment": b.env.Name, "outcome": "ok"}); v != 1 {
		t.Fatalf("ok cycles = %v, want 1", v)
	}
	if v, ok := metricValue(t, b.tel, "windflow_collection_cycles_total", map[string]string{"environment": b.env.Name, "outcome": "error"}); !ok || v != 0 {
		t.Fatalf("error cycles = %v (present %v), want 0 and present", v, ok)
	}
	if v, _ := metricValue(t, b.tel, "windflow_collection_duration_seconds", nil); v != 1 {
		t.Fatalf("duration observations = %v, want 1", v)
	}
	if v, _ := metricValue(t, b.tel, "windflow_collection_last_success_timestamp_seconds", envLabel); v < float64(before.Unix()) {
		t.Fatalf("last success = %v, want ≥ %d", v, before.Unix())
	}

	// An unreachable engine is a failed cycle of its environment.
	down := setupTelemetry(t, "unix:///nonexistent/docker.sock")
	if _, err := down.tenv.ExecuteActivity(down.acts.CollectMetrics, workflows.CollectMetricsInput{EnvironmentID: down.env.ID.String(), CycleAt: time.Now()}); err == nil {
		t.Fatal("unreachable engine: want an error")
	}
	if v, _ := metricValue(t, down.tel, "windflow_collection_cycles_total", map[string]string{"environment": down.env.Name, "outcome": "error"}); v != 1 {
		t.Fatalf("error cycles = %v, want 1", v)
	}
	if _, ok := metricValue(t, down.tel, "windflow_collection_last_success_timestamp_seconds", nil); ok {
		t.Fatal("a failed cycle set the last success time")
	}

	// An unknown environment has no name to count under: nothing recorded.
	if _, err := down.tenv.ExecuteActivity(down.acts.CollectMetrics, workflows.CollectMetricsInput{EnvironmentID: uuid.NewString(), CycleAt: time.Now()}); err == nil {
		t.Fatal("unknown environment: want an error")
	}
	if v, _ := metricValue(t, down.tel, "windflow_collection_duration_seconds", nil); v != 1 {
		t.Fatalf("duration observations = %v after an unknown environment, want still 1", v)
	}
}

func TestTelemetry_EventsAndDisk(t *testing.T) {
	cli := enginetest.Client(t)
	b := setupTelemetry(t, enginetest.Endpoint())
	envLabel := map[string]string{"environment": b.env.Name}
	enginetest.RunContainer(t, cli, "wf-tel-events", "sleep", "60")

	// The first poll reads back firstReadLookback: the start just above is in it.
	val, err := b.tenv.ExecuteActivity(b.acts.PollEvents, workflows.PollEventsInput{EnvironmentID: b.env.ID.String()})
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.PollEventsResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.Stored < 1 {
		t.Fatalf("poll stored nothing: %+v", res)
	}
	if v, _ := metricValue(t, b.tel, "windflow_events_ingested_total", envLabel); v != float64(res.Stored) {
		t.Fatalf("events ingested = %v, want %d", v, res.Stored)
	}
	if v, ok := metricValue(t, b.tel, "windflow_events_duplicates_total", envLabel); !ok || v != float64(res.Duplicates) {
		t.Fatalf("events duplicates = %v (present %v), want %d", v, ok, res.Duplicates)
	}

	val, err = b.tenv.ExecuteActivity(b.acts.CheckDisk, workflows.CheckDiskInput{EnvironmentID: b.env.ID.String(), CheckAt: time.Now().UTC().Truncate(time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	var disk workflows.DiskSummary
	if err := val.Get(&disk); err != nil {
		t.Fatal(err)
	}
	if v, _ := metricValue(t, b.tel, "windflow_disk_usage_bytes", envLabel); v != float64(disk.TotalBytes) || v <= 0 {
		t.Fatalf("disk usage = %v, want %d (> 0)", v, disk.TotalBytes)
	}
}

// flakySender fails its first fail sends, then succeeds.
type flakySender struct {
	mu   sync.Mutex
	fail int
}

func (f *flakySender) Send(context.Context, string, string, string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail > 0 {
		f.fail--
		return errors.New("channel down")
	}
	return nil
}

func TestTelemetry_NotificationDeliveries(t *testing.T) {
	b := setupTelemetry(t, "unix:///var/run/docker.sock")
	ctx := context.Background()
	if _, err := b.store.CreateChannel(ctx, store.Channel{
		Name: "tel-" + uuid.NewString()[:8], URL: "generic://example.invalid/hook", Enabled: true,
		Kinds: []string{notify.KindDiskSpaceWarning},
	}); err != nil {
		t.Fatal(err)
	}
	checkAt := time.Now().UTC().Truncate(time.Millisecond)
	if _, err := b.store.InsertDiskSample(ctx, store.DiskSample{
		EnvironmentID: b.env.ID, CheckAt: checkAt, CheckedAt: checkAt, TotalBytes: 90, CapacityBytes: 100, Percent: 90,
	}); err != nil {
		t.Fatal(err)
	}
	ids, err := b.store.RecordDiskWarning(ctx, b.env.ID, checkAt, store.NotificationDraft{
		Kind: notify.KindDiskSpaceWarning, Title: "disk", Message: "disk almost full",
	})
	if err != nil || len(ids) != 1 {
		t.Fatalf("notification ids %v, %v; want one", ids, err)
	}
	b.acts.Sender = &flakySender{fail: 2}
	kind := map[string]string{"kind": notify.KindDiskSpaceWarning}
	for attempt := 1; attempt <= 3; attempt++ {
		_, err := b.tenv.ExecuteActivity(b.acts.DeliverNotification, workflows.DeliverNotificationInput{NotificationID: ids[0]})
		if (err == nil) != (attempt == 3) {
			t.Fatalf("attempt %d: err %v", attempt, err)
		}
	}
	if v, _ := metricValue(t, b.tel, "windflow_notifications_failed_total", kind); v != 2 {
		t.Fatalf("failed deliveries = %v, want 2", v)
	}
	if v, _ := metricValue(t, b.tel, "windflow_notifications_delivered_total", kind); v != 1 {
		t.Fatalf("delivered = %v, want 1", v)
	}
	// Delivered already: not sent, not counted again.
	if _, err := b.tenv.ExecuteActivity(b.acts.DeliverNotification, workflows.DeliverNotificationInput{NotificationID: ids[0]}); err != nil {
		t.Fatal(err)
	}
	if v, _ := metricValue(t, b.tel, "windflow_notifications_delivered_total", kind); v != 1 {
		t.Fatalf("delivered = %v after a repeat, want 1", v)
	}
}

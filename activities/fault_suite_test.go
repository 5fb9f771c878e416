package activities_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/windflow/monitor/activities"
	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/engine/enginetest"
	"github.com/windflow/monitor/internal/notify"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
	"github.com/windflow/monitor/internal/telemetry"
	"github.com/windflow/monitor/internal/temporaltest"
	"github.com/windflow/monitor/worker"
	"github.com/windflow/monitor/workflows"
)

// faultOutageCycles is how many checks in a row find PostgreSQL down.
const faultOutageCycles = 2

// TestFaultStoreOutage is a case of the fault suite (its name starts with
// TestFault): PostgreSQL goes away for faultOutageCycles checks (about 20 s)
// while a real worker watches the real Docker engine through a real Temporal
// server, with OfflineAfter 1 so that a single check counted against the
// engine would turn it offline. The shared Postgres is never stopped: the
// worker's store reaches it through a proxy that cuts and refuses
// connections.
//
// Proves: no offline transition and no notification; the outage visible in
// the workflow's state and in /metrics while it lasts; the cycles that could
// not be stored counted; collection resumes by itself.
func TestFaultStoreOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("fault suite: about a minute")
	}
	enginetest.Client(t)
	addr := temporaltest.Address(t)
	schemaURL := storetest.NewSchema(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// What the test reads and arranges goes straight to Postgres; what the
	// worker does goes through the proxy.
	direct, err := store.Open(ctx, schemaURL)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	proxy := storetest.NewProxy(t, schemaURL)
	proxiedURL, err := proxy.URL(schemaURL)
	if err != nil {
		t.Fatal(err)
	}
	proxied, err := store.Open(ctx, proxiedURL)
	if err != nil {
		t.Fatal(err)
	}
	defer proxied.Close()

	settings := workflows.DefaultSettings()
	settings.MetricsInterval = workflows.MinMetricsInterval
	settings.OfflineAfter = 1
	settings.EventsEnabled = false
	env, err := direct.CreateEnvironment(ctx, store.Environment{
		Name: "fault-store-" + uuid.NewString()[:8], Endpoint: enginetest.Endpoint(),
		MetricsInterval: settings.MetricsInterval, CollectMetrics: true, OfflineAfter: settings.OfflineAfter,
	})
	if err != nil {
		t.Fatal(err)
	}
	// A channel subscribed to the environment: an offline transition would
	// leave a notification row.
	if _, err := direct.CreateChannel(ctx, store.Channel{
		Name: "fault-" + env.Name, URL: "generic://127.0.0.1:9/hook", Enabled: true,
		Environments: []uuid.UUID{env.ID}, Kinds: []string{notify.KindEnvironmentOffline, notify.KindEnvironmentOnline},
	}); err != nil {
		t.Fatal(err)
	}

	tel, err := telemetry.New()
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := client.Dial(client.Options{
		HostPort: addr, Namespace: namespace(), Logger: sdklog.NewStructuredLogger(logger),
		MetricsHandler: tel.TemporalMetricsHandler(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	taskQueue := fmt.Sprintf("fault-store-%d", time.Now().UnixNano())
	acts := &activities.Activities{Store: proxied, Collector: engine.Collector{Parallelism: 4}}
	w := worker.New(c, taskQueue, acts, worker.WithTelemetry(tel))
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	defer activities.CloseClients(acts)

	wid := workflows.WorkflowID(env.ID.String())
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wid, TaskQueue: taskQueue}, workflows.WorkflowName,
		workflows.Input{EnvironmentID: env.ID.String(), Name: env.Name, Settings: settings})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.TerminateWorkflow(context.Background(), wid, "", "test over") }()
	state := func() workflows.State {
		t.Helper()
		val, err := c.QueryWorkflow(ctx, wid, "", workflows.QueryState)
		if err != nil {
			t.Fatalf("query state: %v", err)
		}
		var s workflows.State
		if err := val.Get(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	// eventually polls done every 200 ms until it holds, for up to within.
	eventually := func(what string, within time.Duration, done func() bool) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !done() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %s; state %+v", what, within, state())
			}
			select {
			case <-ctx.Done():
				t.Fatal(ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	waitFor := func(what string, within time.Duration, done func(workflows.State) bool) workflows.State {
		t.Helper()
		var s workflows.State
		eventually(what, within, func() bool { s = state(); return done(s) })
		return s
	}

	eventually("the first online transition stored", time.Minute, func() bool {
		last, err := direct.LatestStatus(ctx, env.ID)
		return err == nil && last.Online
	})

	outageStart := time.Now()
	proxy.SetDown(true)
	during := waitFor("the outage seen by the checks", 2*time.Minute, func(s workflows.State) bool {
		return s.UnstoredCycles >= faultOutageCycles
	})
	if during.MonitorUnavailableSince.IsZero() || during.MonitorError == "" {
		t.Errorf("outage not shown in the state: since %v, error %q", during.MonitorUnavailableSince, during.MonitorError)
	}
	if v, _ := metricValue(t, tel, "windflow_store_unavailable", nil); v != 1 {
		t.Errorf("windflow_store_unavailable = %v during the outage, want 1", v)
	}
	proxy.SetDown(false)
	outage := time.Since(outageStart)

	after := waitFor("a stored cycle after the outage", time.Minute, func(s workflows.State) bool {
		return s.MonitorUnavailableSince.IsZero() && s.LastCycle != nil && s.LastCycle.CollectedAt.After(outageStart.Add(outage))
	})
	t.Logf("outage %.1f s: %d checks unknown, status %s, %d failures", outage.Seconds(), after.UnstoredCycles, after.Status, after.ConsecutiveFailures)

	if after.Status != workflows.StatusOnline || after.ConsecutiveFailures != 0 {
		t.Errorf("after the outage: status %s with %d failures, want online with none", after.Status, after.ConsecutiveFailures)
	}
	if after.UnstoredCycles < faultOutageCycles {
		t.Errorf("unstored cycles = %d, want ≥ %d", after.UnstoredCycles, faultOutageCycles)
	}
	history, err := direct.StatusHistory(ctx, env.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(history) != 1 || !history[0].Online {
		t.Errorf("stored status changes = %+v, want the first online only", history)
	}
	envID := env.ID
	notes, err := direct.ListNotifications(ctx, store.NotificationQuery{EnvironmentID: &envID})
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 0 {
		t.Errorf("notifications = %+v, want none", notes)
	}
	unstored := 0.0
	families, err := tel.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == workflows.MetricCyclesUnstored+"_total" {
			for _, m := range f.GetMetric() {
				unstored += m.GetCounter().GetValue()
			}
		}
	}
	if unstored != float64(after.UnstoredCycles) {
		t.Errorf("windflow_cycles_unstored_total = %v, want %d as in the state", unstored, after.UnstoredCycles)
	}
	if v, _ := metricValue(t, tel, "windflow_store_unavailable", nil); v != 0 {
		t.Errorf("windflow_store_unavailable = %v after the outage, want 0", v)
	}
	if v, _ := metricValue(t, tel, "windflow_store_unavailable_total", map[string]string{"operation": "load environment"}); v < faultOutageCycles {
		t.Errorf("windflow_store_unavailable_total{load environment} = %v, want ≥ %d", v, faultOutageCycles)
	}

	// The history replays with the current code, marker included.
	if err := c.TerminateWorkflow(ctx, wid, run.GetRunID(), "test over"); err != nil {
		t.Fatal(err)
	}
	if !replayHistory(ctx, t, c, wid, run.GetRunID()) {
		t.Error("no monitor-faults version marker in the history")
	}
}

// namespace is TEMPORAL_NAMESPACE, or "default".
func namespace() string {
	if ns := os.Getenv("TEMPORAL_NAMESPACE"); ns != "" {
		return ns
	}
	return "default"
}

// TestFaultEnvironmentDeleted deletes an environment's row under its running
// workflow (what a DELETE racing a settings change could leave behind): the
// workflow completes instead of failing its checks forever, records nothing
// for the deleted row, and does not continue as new.
func TestFaultEnvironmentDeleted(t *testing.T) {
	enginetest.Client(t)
	addr := temporaltest.Address(t)
	schemaURL := storetest.NewSchema(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := store.Open(ctx, schemaURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	settings := workflows.DefaultSettings()
	settings.MetricsInterval = workflows.MinMetricsInterval
	settings.EventsEnabled = true // a stream runs, and must stop
	env, err := st.CreateEnvironment(ctx, store.Environment{
		Name: "fault-deleted-" + uuid.NewString()[:8], Endpoint: enginetest.Endpoint(),
		MetricsInterval: settings.MetricsInterval, CollectMetrics: true, OfflineAfter: settings.OfflineAfter,
		EventsEnabled: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := client.Dial(client.Options{HostPort: addr, Namespace: namespace(), Logger: sdklog.NewStructuredLogger(logger)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	taskQueue := fmt.Sprintf("fault-deleted-%d", time.Now().UnixNano())
	acts := &activities.Activities{Store: st, Collector: engine.Collector{Parallelism: 4}}
	w := worker.New(c, taskQueue, acts)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	defer activities.CloseClients(acts)

	wid := workflows.WorkflowID(env.ID.String())
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wid, TaskQueue: taskQueue}, workflows.WorkflowName,
		workflows.Input{EnvironmentID: env.ID.String(), Name: env.Name, Settings: settings})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.TerminateWorkflow(context.Background(), wid, "", "test over") }()
	for {
		last, err := st.LatestStatus(ctx, env.ID)
		if err == nil && last.Online {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the first online transition was never stored: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
	}

	deletedAt := time.Now()
	if err := st.DeleteEnvironment(ctx, env.ID); err != nil {
		t.Fatal(err)
	}
	// The next check (within one interval) finds the row gone.
	if err := c.GetWorkflow(ctx, wid, run.GetRunID()).Get(ctx, nil); err != nil {
		t.Fatalf("the workflow of the deleted environment: %v, want it completed", err)
	}
	desc, err := c.DescribeWorkflowExecution(ctx, wid, run.GetRunID())
	if err != nil {
		t.Fatal(err)
	}
	info := desc.GetWorkflowExecutionInfo()
	if got := info.GetStatus().String(); got != "Completed" {
		t.Fatalf("workflow status %s, want Completed (not ContinuedAsNew, not Failed)", got)
	}
	ended := info.GetCloseTime().AsTime().Sub(deletedAt)
	t.Logf("completed %.1f s after the delete", ended.Seconds())
	if limit := settings.MetricsInterval + workflows.EndTimeout + 5*time.Second; ended > limit {
		t.Errorf("completed %s after the delete, want within %s", ended, limit)
	}
	if !replayHistory(ctx, t, c, wid, run.GetRunID()) {
		t.Error("no monitor-faults version marker in the history")
	}
}

// replayHistory replays the history of a closed run with the current
// workflow code (a nondeterminism fails the test) and reports whether it
// holds the "monitor-faults" version marker.
func replayHistory(ctx context.Context, t *testing.T, c client.Client, wid, runID string) (faultsMarker bool) {
	t.Helper()
	history := &historypb.History{}
	iter := c.GetWorkflowHistory(ctx, wid, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		history.Events = append(history.Events, ev)
		if a := ev.GetMarkerRecordedEventAttributes(); a != nil && a.GetMarkerName() == "Version" &&
			strings.Contains(a.GetDetails()["change-id"].String(), "monitor-faults") {
			faultsMarker = true
		}
	}
	replayer := sdkworker.NewWorkflowReplayer()
	replayer.RegisterWorkflowWithOptions(workflows.EnvironmentWorkflow, workflow.RegisterOptions{Name: workflows.WorkflowName})
	if err := replayer.ReplayWorkflowHistory(nil, history); err != nil {
		t.Fatalf("replay of %s: %v", wid, err)
	}
	return faultsMarker
}

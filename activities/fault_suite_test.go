package activities_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
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

// faultStoreOutage is how long TestFaultStoreOutage keeps PostgreSQL away:
// six checks at the 10 s interval.
const faultStoreOutage = 60 * time.Second

// TestFaultStoreOutage is a case of the fault suite (its name starts with
// TestFault): PostgreSQL goes away for faultStoreOutage (60 s) while a real worker watches the real Docker engine through a real Temporal
// server, with OfflineAfter 1 so that a single check counted against the
// engine would turn it offline. The shared Postgres is never stopped: the
// worker's store reaches it through a proxy that cuts and refuses
// connections.
//
// Proves: no offline transition and no notification; no crash (no failed
// workflow task, the run still running); the outage visible in the
// workflow's state and in /metrics while it lasts; every cycle that could
// not be stored counted (state and windflow_cycles_unstored_total);
// collection resumes by itself.
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
		Settings: workflows.Settings{MetricsInterval: settings.MetricsInterval, CollectMetrics: true, OfflineAfter: settings.OfflineAfter},
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
	during := waitFor("the outage seen by the checks", time.Minute, func(s workflows.State) bool {
		return s.UnstoredCycles >= 1
	})
	if during.MonitorUnavailableSince.IsZero() || during.MonitorError == "" {
		t.Errorf("outage not shown in the state: since %v, error %q", during.MonitorUnavailableSince, during.MonitorError)
	}
	// The rest of the deliberate outage.
	select {
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	case <-time.After(time.Until(outageStart.Add(faultStoreOutage))):
	}
	late := state()
	if late.MonitorUnavailableSince.IsZero() || late.Status != workflows.StatusOnline || late.ConsecutiveFailures != 0 {
		t.Errorf("at the end of the outage: unavailable since %v, status %s with %d failures; want the outage shown, online, none",
			late.MonitorUnavailableSince, late.Status, late.ConsecutiveFailures)
	}
	if v, _ := metricValue(t, tel, "windflow_store_unavailable", nil); v != 1 {
		t.Errorf("windflow_store_unavailable = %v during the outage, want 1", v)
	}
	proxy.SetDown(false)
	outage := time.Since(outageStart)
	// Every check due during the outage found the store away: at least one
	// per interval, less the one that may straddle either edge.
	wantUnstored := int64(outage/settings.MetricsInterval) - 1

	after := waitFor("a stored cycle after the outage", time.Minute, func(s workflows.State) bool {
		return s.MonitorUnavailableSince.IsZero() && s.LastCycle != nil && s.LastCycle.CollectedAt.After(outageStart.Add(outage))
	})
	resumed := after.LastCycle.CollectedAt.Sub(outageStart.Add(outage))

	if after.Status != workflows.StatusOnline || after.ConsecutiveFailures != 0 {
		t.Errorf("after the outage: status %s with %d failures, want online with none", after.Status, after.ConsecutiveFailures)
	}
	if after.UnstoredCycles < wantUnstored {
		t.Errorf("unstored cycles = %d, want ≥ %d", after.UnstoredCycles, wantUnstored)
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
	if v, _ := metricValue(t, tel, "windflow_store_unavailable_total", map[string]string{"operation": "load environment"}); v < float64(wantUnstored) {
		t.Errorf("windflow_store_unavailable_total{load environment} = %v, want ≥ %d", v, wantUnstored)
	}
	// No crash: the run is still running and no workflow task failed.
	desc, err := c.DescribeWorkflow(ctx, wid, run.GetRunID())
	if err != nil {
		t.Fatal(err)
	}
	if s := desc.RawResponse.GetWorkflowExecutionInfo().GetStatus(); s != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Errorf("workflow status %s after the outage, want running", s)
	}
	failedTasks := 0
	iter := c.GetWorkflowHistory(ctx, wid, run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED {
			failedTasks++
		}
	}
	if failedTasks != 0 {
		t.Errorf("%d failed workflow tasks during the outage, want none", failedTasks)
	}
	offline := 0
	for _, h := range history {
		if !h.Online {
			offline++
		}
	}
	t.Logf("faults: Postgres outage %.0f s: %d cycles unstored and counted (state %d, windflow_cycles_unstored_total %.0f), %d offline, %d notifications, %d failed workflow tasks, stored again %.1f s after",
		outage.Seconds(), after.UnstoredCycles, after.UnstoredCycles, unstored, offline, len(notes), failedTasks, resumed.Seconds())

	// The history replays with the current code.
	if err := c.TerminateWorkflow(ctx, wid, run.GetRunID(), "test over"); err != nil {
		t.Fatal(err)
	}
	replayHistory(ctx, t, c, wid, run.GetRunID())
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
		Settings: workflows.Settings{MetricsInterval: settings.MetricsInterval, CollectMetrics: true, OfflineAfter: settings.OfflineAfter,
			EventsEnabled: true},
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
	desc, err := c.DescribeWorkflow(ctx, wid, run.GetRunID())
	if err != nil {
		t.Fatal(err)
	}
	info := desc.RawResponse.GetWorkflowExecutionInfo()
	if got := info.GetStatus().String(); got != "Completed" {
		t.Fatalf("workflow status %s, want Completed (not ContinuedAsNew, not Failed)", got)
	}
	ended := info.GetCloseTime().AsTime().Sub(deletedAt)
	t.Logf("faults: environment deleted under its workflow: run completed %.1f s after the delete (limit %s), not continued as new", ended.Seconds(), settings.MetricsInterval+workflows.EndTimeout+5*time.Second)
	if limit := settings.MetricsInterval + workflows.EndTimeout + 5*time.Second; ended > limit {
		t.Errorf("completed %s after the delete, want within %s", ended, limit)
	}
	replayHistory(ctx, t, c, wid, run.GetRunID())
}

// replayHistory replays the history of a closed run with the current
// workflow code: a nondeterminism fails the test.
func replayHistory(ctx context.Context, t *testing.T, c client.Client, wid, runID string) {
	t.Helper()
	history := &historypb.History{}
	iter := c.GetWorkflowHistory(ctx, wid, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		history.Events = append(history.Events, ev)
	}
	replayer := sdkworker.NewWorkflowReplayer()
	replayer.RegisterWorkflowWithOptions(workflows.EnvironmentWorkflow, workflow.RegisterOptions{Name: workflows.WorkflowName})
	if err := replayer.ReplayWorkflowHistory(nil, history); err != nil {
		t.Fatalf("replay of %s: %v", wid, err)
	}
}

// faultTemporalEnvironments is how many environments TestFaultTemporalRestart watches.
const faultTemporalEnvironments = 3

// faultTemporalDown is how long TestFaultTemporalRestart keeps the server stopped.
const faultTemporalDown = 10 * time.Second

// TestFaultTemporalRestart is a case of the fault suite: a Temporal dev
// server of the test's own (the shared one is never touched; its SQLite file
// keeps the state across the restart) is stopped with SIGTERM under a real
// worker watching faultTemporalEnvironments environments on the real Docker
// engine, left down for faultTemporalDown and started again on the same port
// and file.
//
// Proves: every environment resumes its cycles (new cycles stored in
// Postgres after the restart) without anyone restarting the worker; exactly
// one run per environment is running afterwards (one collector each: the
// stored cycle times of each environment stay spaced by its interval, never
// two collectors interleaved); no offline transition for the monitor's own
// outage.
func TestFaultTemporalRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("fault suite: about a minute")
	}
	enginetest.Client(t)
	srv := temporaltest.StartDevServer(t)
	schemaURL := storetest.NewSchema(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	st, err := store.Open(ctx, schemaURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	db, err := pgxpool.New(ctx, schemaURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	c, err := client.Dial(client.Options{HostPort: srv.Address(), Namespace: "default", Logger: sdklog.NewStructuredLogger(logger)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	taskQueue := fmt.Sprintf("fault-temporal-%d", time.Now().UnixNano())
	acts := &activities.Activities{Store: st, Collector: engine.Collector{Parallelism: 4}, Temporal: c, TaskQueue: taskQueue}
	w := worker.New(c, taskQueue, acts)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	defer activities.CloseClients(acts)

	settings := workflows.DefaultSettings()
	settings.MetricsInterval = workflows.MinMetricsInterval
	settings.EventsEnabled = false
	var envs []store.Environment
	for i := range faultTemporalEnvironments {
		env, err := st.CreateEnvironment(ctx, store.Environment{
			Name: fmt.Sprintf("fault-temporal-%d-%s", i, uuid.NewString()[:8]), Endpoint: enginetest.Endpoint(),
			Settings: workflows.Settings{MetricsInterval: settings.MetricsInterval, CollectMetrics: true, OfflineAfter: settings.OfflineAfter},
		})
		if err != nil {
			t.Fatal(err)
		}
		envs = append(envs, env)
		// As the API starts them: one workflow ID per environment, an
		// existing run used rather than a second one started.
		if _, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: workflows.WorkflowID(env.ID.String()), TaskQueue: taskQueue,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
			WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		}, workflows.WorkflowName, workflows.Input{EnvironmentID: env.ID.String(), Name: env.Name, Settings: settings}); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, env := range envs {
			_ = c.TerminateWorkflow(context.Background(), workflows.WorkflowID(env.ID.String()), "", "test over")
		}
	}()

	// cycles returns the stored cycle times of env at or after from.
	cycles := func(env store.Environment, from time.Time) []time.Time {
		t.Helper()
		rows, err := db.Query(ctx, `SELECT cycle_at FROM host_metrics WHERE environment_id = $1 AND cycle_at >= $2 ORDER BY cycle_at`, env.ID, from)
		if err != nil {
			t.Fatal(err)
		}
		at, err := pgx.CollectRows(rows, pgx.RowTo[time.Time])
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	waitCycles := func(what string, from time.Time, n int, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for _, env := range envs {
			for len(cycles(env, from)) < n {
				if time.Now().After(deadline) {
					t.Fatalf("%s: %s has %d cycles since %s, want %d within %s", what, env.Name, len(cycles(env, from)), from.Format(time.TimeOnly), n, within)
				}
				select {
				case <-ctx.Done():
					t.Fatal(ctx.Err())
				case <-time.After(250 * time.Millisecond):
				}
			}
		}
	}
	start := time.Now().Add(-time.Minute)
	waitCycles("before the restart", start, 2, time.Minute)

	stoppedAt := time.Now()
	srv.Stop()
	downFor := faultTemporalDown // the deliberate outage
	time.Sleep(downFor)
	srv.Start()
	restartedAt := time.Now()
	// Three cycles after the restart: the first is the timer that fired
	// while the server was away, then the cadence resumed.
	waitCycles("after the restart", restartedAt, 3, 2*time.Minute)
	resumed := time.Duration(0)
	for _, env := range envs {
		resumed = max(resumed, cycles(env, restartedAt)[0].Sub(restartedAt))
	}

	// Exactly one running run per environment, and nothing else running on
	// the queue.
	var running []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		running = running[:0]
		var token []byte
		for {
			resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
				Namespace: "default", NextPageToken: token,
				Query: fmt.Sprintf("TaskQueue = '%s' AND ExecutionStatus = 'Running'", taskQueue),
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range resp.GetExecutions() {
				running = append(running, e.GetExecution().GetWorkflowId())
			}
			if token = resp.GetNextPageToken(); len(token) == 0 {
				break
			}
		}
		if len(running) == len(envs) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(running) != len(envs) {
		t.Errorf("running workflows on the queue after the restart: %v, want one per environment (%d)", running, len(envs))
	}
	offline := 0
	for _, env := range envs {
		wid := workflows.WorkflowID(env.ID.String())
		desc, err := c.DescribeWorkflow(ctx, wid, "")
		if err != nil {
			t.Fatal(err)
		}
		if s := desc.RawResponse.GetWorkflowExecutionInfo().GetStatus(); s != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			t.Errorf("%s: status %s after the restart, want running", wid, s)
		}
		// One collector: consecutive stored cycles at least an interval
		// apart (a second collector would interleave its own cycle times),
		// before the stop and after the restart. The first cycle after the
		// restart runs late (its timer fired while the server was away) and
		// the next keeps to the schedule, so that pair may be closer.
		spaced := func(at []time.Time) {
			for i := 1; i < len(at); i++ {
				if gap := at[i].Sub(at[i-1]); gap < settings.MetricsInterval-time.Second {
					t.Errorf("%s: cycles at %s and %s only %s apart, want ≥ %s (two collectors?); all: %v",
						env.Name, at[i-1].Format(time.TimeOnly), at[i].Format(time.TimeOnly), gap, settings.MetricsInterval, at)
				}
			}
		}
		var before []time.Time
		for _, at := range cycles(env, start) {
			if at.Before(stoppedAt) {
				before = append(before, at)
			}
		}
		spaced(before)
		spaced(cycles(env, restartedAt)[1:])
		history, err := st.StatusHistory(ctx, env.ID, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range history {
			if !h.Online {
				offline++
			}
		}
		if len(history) != 1 || !history[0].Online {
			t.Errorf("%s: stored status changes = %+v, want the first online only", env.Name, history)
		}
	}
	t.Logf("faults: Temporal server restarted (down %.0f s): %d/%d environments resumed, first cycle %.1f s after the restart, %d running runs, %d offline",
		restartedAt.Sub(stoppedAt).Seconds(), len(envs), len(envs), resumed.Seconds(), len(running), offline)
}

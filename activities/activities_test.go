package activities_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/windflow/monitor/activities"
	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/engine/enginetest"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
	"github.com/windflow/monitor/workflows"
)

type testBundle struct {
	store *store.Store
	env   store.Environment
	acts  *activities.Activities
	tenv  *testsuite.TestActivityEnvironment
}

// setup gives each test its own schema holding one environment that points
// at the real test engine, and a Temporal activity test environment.
// An optional background context becomes the activities' context parent,
// as the worker sets it (worker.WithTelemetry puts telemetry there).
func setup(t *testing.T, endpoint string, background ...context.Context) *testBundle {
	t.Helper()
	st, err := store.Open(context.Background(), storetest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	set := workflows.DefaultSettings()
	env, err := st.CreateEnvironment(context.Background(), store.Environment{
		Name: "act-" + uuid.NewString()[:8], Endpoint: endpoint,
		Settings: workflows.Settings{MetricsInterval: set.MetricsInterval, CollectMetrics: true, OfflineAfter: set.OfflineAfter},
	})
	if err != nil {
		t.Fatal(err)
	}
	acts := &activities.Activities{Store: st, Collector: engine.Collector{Parallelism: 4}}
	var suite testsuite.WorkflowTestSuite
	tenv := suite.NewTestActivityEnvironment()
	if len(background) > 0 {
		tenv.SetWorkerOptions(sdkworker.Options{BackgroundActivityContext: background[0]})
	}
	tenv.RegisterActivity(acts)
	return &testBundle{store: st, env: env, acts: acts, tenv: tenv}
}

func TestCollectMetrics_StoresEachCycleOnce(t *testing.T) {
	cli := enginetest.Client(t)
	b := setup(t, enginetest.Endpoint())
	busy := enginetest.RunContainer(t, cli, "wf-act-busy", "sh", "-c", "while :; do :; done")

	cycle := time.Now().UTC().Truncate(time.Millisecond)
	in := workflows.CollectMetricsInput{EnvironmentID: b.env.ID.String(), CycleAt: cycle}
	var first, second workflows.MetricsSummary
	val, err := b.tenv.ExecuteActivity(b.acts.CollectMetrics, in)
	if err != nil {
		t.Fatal(err)
	}
	if err := val.Get(&first); err != nil {
		t.Fatal(err)
	}
	// A retried attempt of the same cycle stores nothing.
	val, err = b.tenv.ExecuteActivity(b.acts.CollectMetrics, in)
	if err != nil {
		t.Fatal(err)
	}
	if err := val.Get(&second); err != nil {
		t.Fatal(err)
	}
	if !first.Stored || second.Stored {
		t.Fatalf("stored: first %v, second %v; want true then false", first.Stored, second.Stored)
	}
	if first.ContainersRunning < 1 || first.CPUPercent <= 0 || first.MemoryPercent <= 0 {
		t.Fatalf("summary not sane: %+v", first)
	}
	n, err := b.store.CountHostMetrics(context.Background(), b.env.ID, cycle.Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("host rows = %d (%v), want 1", n, err)
	}
	rows, err := b.store.LatestContainerMetrics(context.Background(), b.env.ID)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range rows {
		if r.ContainerID == busy {
			found = r.CPUPercent > 0 && r.CPUTotalUsage > 0 && r.SystemCPUUsage > 0
		}
	}
	if !found {
		t.Fatalf("busy container row missing or without CPU and counters: %+v", rows)
	}

	// The next cycle reads one-shot against the stored counters and still
	// sees the busy loop.
	time.Sleep(time.Second)
	val, err = b.tenv.ExecuteActivity(b.acts.CollectMetrics, workflows.CollectMetricsInput{EnvironmentID: b.env.ID.String(), CycleAt: cycle.Add(10 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	var third workflows.MetricsSummary
	if err := val.Get(&third); err != nil || !third.Stored || third.CPUPercent <= 0 {
		t.Fatalf("second cycle: %+v, %v", third, err)
	}
}

func TestCollectMetrics_Errors(t *testing.T) {
	enginetest.Client(t)
	for _, tc := range []struct {
		name         string
		endpoint     string
		envID        func(b *testBundle) string
		nonRetryable bool
	}{
		{"unknown environment", enginetest.Endpoint(), func(*testBundle) string { return uuid.NewString() }, true},
		{"malformed id", enginetest.Endpoint(), func(*testBundle) string { return "garbage" }, true},
		{"engine unreachable", "unix:///nonexistent/docker.sock", func(b *testBundle) string { return b.env.ID.String() }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t, tc.endpoint)
			_, err := b.tenv.ExecuteActivity(b.acts.CollectMetrics, workflows.CollectMetricsInput{EnvironmentID: tc.envID(b), CycleAt: time.Now()})
			if err == nil {
				t.Fatal("want an error")
			}
			var appErr *temporal.ApplicationError
			if got := errors.As(err, &appErr) && appErr.NonRetryable(); got != tc.nonRetryable {
				t.Fatalf("non-retryable = %v, want %v (%v)", got, tc.nonRetryable, err)
			}
			n, _ := b.store.CountHostMetrics(context.Background(), b.env.ID, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
			if n != 0 {
				t.Fatalf("%d rows stored after a failed cycle", n)
			}
		})
	}
}

func TestRecordStatus_Once(t *testing.T) {
	b := setup(t, "unix:///var/run/docker.sock")
	at := time.Now().UTC().Truncate(time.Millisecond)
	in := workflows.RecordStatusInput{EnvironmentID: b.env.ID.String(), Online: false, Error: "engine down", ChangedAt: at}
	for range 2 {
		if _, err := b.tenv.ExecuteActivity(b.acts.RecordStatus, in); err != nil {
			t.Fatal(err)
		}
	}
	hist, err := b.store.StatusHistory(context.Background(), b.env.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || hist[0].Online || hist[0].Error != "engine down" || !hist[0].ChangedAt.Equal(at) {
		t.Fatalf("history = %+v, want one offline transition", hist)
	}
}

func TestCheckEngine(t *testing.T) {
	enginetest.Client(t)
	b := setup(t, enginetest.Endpoint())
	if _, err := b.tenv.ExecuteActivity(b.acts.CheckEngine, workflows.CheckEngineInput{EnvironmentID: b.env.ID.String()}); err != nil {
		t.Fatalf("reachable engine: %v", err)
	}
	down := setup(t, "unix:///nonexistent/docker.sock")
	if _, err := down.tenv.ExecuteActivity(down.acts.CheckEngine, workflows.CheckEngineInput{EnvironmentID: down.env.ID.String()}); err == nil {
		t.Fatal("unreachable engine: want an error")
	}
}

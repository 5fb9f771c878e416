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
	"github.com/windflow/monitor/internal/telemetry"
	"github.com/windflow/monitor/workflows"
)

// proxiedBundle is a telemetry bundle whose store reaches PostgreSQL through
// a proxy that the test can take down (the shared server stays up).
type proxiedBundle struct {
	*telemetryBundle
	proxy *storetest.Proxy
}

func setupBehindProxy(t *testing.T, endpoint string) *proxiedBundle {
	t.Helper()
	schemaURL := storetest.NewSchema(t)
	proxy := storetest.NewProxy(t, schemaURL)
	proxied, err := proxy.URL(schemaURL)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), proxied)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	set := workflows.DefaultSettings()
	env, err := st.CreateEnvironment(context.Background(), store.Environment{
		Name: "fault-" + uuid.NewString()[:8], Endpoint: endpoint,
		Settings: workflows.Settings{MetricsInterval: set.MetricsInterval, CollectMetrics: true, OfflineAfter: set.OfflineAfter},
	})
	if err != nil {
		t.Fatal(err)
	}
	tel, err := telemetry.New()
	if err != nil {
		t.Fatal(err)
	}
	acts := &activities.Activities{Store: st, Collector: engine.Collector{Parallelism: 4}}
	var suite testsuite.WorkflowTestSuite
	tenv := suite.NewTestActivityEnvironment()
	tenv.SetWorkerOptions(sdkworker.Options{BackgroundActivityContext: telemetry.NewContext(context.Background(), tel)})
	tenv.RegisterActivity(acts)
	return &proxiedBundle{
		telemetryBundle: &telemetryBundle{testBundle: &testBundle{store: st, env: env, acts: acts, tenv: tenv}, tel: tel},
		proxy:           proxy,
	}
}

// errorType is the type of the application error in err ("" if none), and
// whether it may be retried.
func errorType(err error) (string, bool) {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		return "", true
	}
	return appErr.Type(), !appErr.NonRetryable()
}

func (b *proxiedBundle) collect(t *testing.T) error {
	t.Helper()
	_, err := b.tenv.ExecuteActivity(b.acts.CollectMetrics, workflows.CollectMetricsInput{
		EnvironmentID: b.env.ID.String(), CycleAt: time.Now().UTC().Truncate(time.Millisecond),
	})
	return err
}

func TestCollectMetrics_StoreDownIsTheMonitorsFault(t *testing.T) {
	enginetest.Client(t)
	b := setupBehindProxy(t, enginetest.Endpoint())
	if err := b.collect(t); err != nil {
		t.Fatalf("store up: %v", err)
	}

	b.proxy.SetDown(true)
	err := b.collect(t)
	if typ, retryable := errorType(err); typ != workflows.ErrTypeMonitorUnavailable || !retryable {
		t.Fatalf("store down: got %v (type %q, retryable %v), want a retryable %s", err, typ, retryable, workflows.ErrTypeMonitorUnavailable)
	}
	if v, _ := metricValue(t, b.tel, "windflow_store_unavailable", nil); v != 1 {
		t.Fatalf("store_unavailable = %v during the outage, want 1", v)
	}
	if v, _ := metricValue(t, b.tel, "windflow_store_unavailable_total", map[string]string{"operation": "load environment"}); v != 1 {
		t.Fatalf("store_unavailable_total{load environment} = %v, want 1", v)
	}
	// CheckEngine and the disk check load the environment the same way.
	if _, err := b.tenv.ExecuteActivity(b.acts.CheckEngine, workflows.CheckEngineInput{EnvironmentID: b.env.ID.String()}); !isType(err, workflows.ErrTypeMonitorUnavailable) {
		t.Fatalf("CheckEngine, store down: got %v, want %s", err, workflows.ErrTypeMonitorUnavailable)
	}

	b.proxy.SetDown(false)
	if err := b.collect(t); err != nil {
		t.Fatalf("store back: %v", err)
	}
	if v, _ := metricValue(t, b.tel, "windflow_store_unavailable", nil); v != 0 {
		t.Fatalf("store_unavailable = %v after the outage, want 0", v)
	}
}

// storeDownOnInsert takes the database down just before the cycle is
// stored: the engine has answered, the store cannot take the cycle.
type storeDownOnInsert struct {
	*store.Store
	proxy *storetest.Proxy
}

func (s storeDownOnInsert) InsertMetrics(ctx context.Context, host store.HostMetric, containers []store.ContainerMetric) (bool, error) {
	s.proxy.SetDown(true)
	return s.Store.InsertMetrics(ctx, host, containers)
}

func TestCollectMetrics_EngineReadButNotStoredIsTheMonitorsFault(t *testing.T) {
	enginetest.Client(t)
	b := setupBehindProxy(t, enginetest.Endpoint())
	b.acts.Store = storeDownOnInsert{Store: b.store, proxy: b.proxy}
	err := b.collect(t)
	if !isType(err, workflows.ErrTypeMonitorUnavailable) {
		t.Fatalf("got %v, want %s", err, workflows.ErrTypeMonitorUnavailable)
	}
	if v, _ := metricValue(t, b.tel, "windflow_collection_cycles_total", map[string]string{"environment": b.env.Name, "outcome": telemetry.OutcomeUnavailable}); v != 1 {
		t.Fatalf("unavailable cycles = %v, want 1", v)
	}
	if v, _ := metricValue(t, b.tel, "windflow_collection_cycles_total", map[string]string{"environment": b.env.Name, "outcome": telemetry.OutcomeError}); v != 0 {
		t.Fatalf("error cycles = %v, want 0: the engine answered", v)
	}
	if v, _ := metricValue(t, b.tel, "windflow_store_unavailable_total", map[string]string{"operation": "store metrics"}); v != 1 {
		t.Fatalf("store_unavailable_total{store metrics} = %v, want 1", v)
	}
}

func TestCheckEngine_UnreachableEngineIsNotTheMonitorsFault(t *testing.T) {
	b := setupBehindProxy(t, "unix:///nonexistent/docker.sock")
	_, err := b.tenv.ExecuteActivity(b.acts.CheckEngine, workflows.CheckEngineInput{EnvironmentID: b.env.ID.String()})
	if err == nil {
		t.Fatal("unreachable engine: want an error")
	}
	if typ, _ := errorType(err); typ == workflows.ErrTypeMonitorUnavailable || typ == workflows.ErrTypeEnvironmentNotFound {
		t.Fatalf("unreachable engine: got type %q (%v), want the engine's fault", typ, err)
	}
	if _, err := b.tenv.ExecuteActivity(b.acts.CollectMetrics, workflows.CollectMetricsInput{EnvironmentID: b.env.ID.String(), CycleAt: time.Now()}); isType(err, workflows.ErrTypeMonitorUnavailable) || err == nil {
		t.Fatalf("CollectMetrics, unreachable engine: got %v, want the engine's fault", err)
	}
}

func TestActivities_DeletedEnvironmentIsNotFound(t *testing.T) {
	b := setupBehindProxy(t, "unix:///nonexistent/docker.sock")
	if err := b.store.DeleteEnvironment(context.Background(), b.env.ID); err != nil {
		t.Fatal(err)
	}
	for name, run := range map[string]func() error{
		"CollectMetrics": func() error { return b.collect(t) },
		"CheckEngine": func() error {
			_, err := b.tenv.ExecuteActivity(b.acts.CheckEngine, workflows.CheckEngineInput{EnvironmentID: b.env.ID.String()})
			return err
		},
		"RecordStatus": func() error {
			_, err := b.tenv.ExecuteActivity(b.acts.RecordStatus, workflows.RecordStatusInput{EnvironmentID: b.env.ID.String(), ChangedAt: time.Now()})
			return err
		},
		"RecordAlertTransitions": func() error {
			_, err := b.tenv.ExecuteActivity(b.acts.RecordAlertTransitions, workflows.RecordAlertTransitionsInput{EnvironmentID: b.env.ID.String(),
				Transitions: []workflows.AlertTransition{{RuleID: uuid.NewString(), Phase: workflows.AlertFiring, At: time.Now()}}})
			return err
		},
	} {
		typ, retryable := errorType(run())
		if typ != workflows.ErrTypeEnvironmentNotFound || retryable {
			t.Errorf("%s: type %q retryable %v, want a non-retryable %s", name, typ, retryable, workflows.ErrTypeEnvironmentNotFound)
		}
	}
}

func isType(err error, errType string) bool {
	typ, _ := errorType(err)
	return typ == errType
}

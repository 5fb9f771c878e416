package api_test

// Postgres is the one source of truth of the settings: when the workflow
// cannot take a change, the API says so honestly and the reconciler brings
// the workflow to the stored settings afterwards.

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/google/uuid"

	"github.com/windflow/monitor/api"
	"github.com/windflow/monitor/internal/engine/enginetest"
	"github.com/windflow/monitor/internal/envflow"
	"github.com/windflow/monitor/workflows"
)

// updatesFail is a Temporal client whose configure Updates fail with err.
type updatesFail struct {
	client.Client
	err error
}

func (u updatesFail) UpdateWorkflow(context.Context, client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	return nil, u.err
}

// withTemporal serves a second API on b's store whose Temporal client is c.
func (b *testBundle) withTemporal(t *testing.T, c client.Client) *testBundle {
	t.Helper()
	srv := &api.Server{Store: b.store, Temporal: c, TaskQueue: b.taskQueue, Namespace: "default", MutationRateLimit: -1}
	hs := httptest.NewServer(srv.Routes())
	t.Cleanup(hs.Close)
	other := *b
	other.api = hs
	return &other
}

func (b *testBundle) controller() *envflow.Controller {
	return &envflow.Controller{Store: b.store, Temporal: b.temporal, TaskQueue: b.taskQueue}
}

// Temporal unreachable during a PUT: 202, the change is stored and marked
// pending; the reconciler applies it once Temporal answers.
func TestEnvironments_SettingsStoredThenApplied(t *testing.T) {
	enginetest.Client(t)
	b := setupUnlimited(t)
	env := b.createEnvironment(t, "pending-"+uuid.NewString()[:8], 30)
	down := b.withTemporal(t, updatesFail{Client: b.temporal, err: errors.New("connection refused (test)")})
	a := down.send(t, http.MethodPut, "/api/v1/environments/"+env.ID+"/settings", `{"metricsIntervalSeconds":20}`, nil)
	if a.code != http.StatusAccepted || !strings.Contains(a.body, `"settingsApplied":false`) {
		t.Fatalf("PUT with Temporal down: %d %s; want 202 with settingsApplied false", a.code, a.body)
	}
	stored := b.storedEnvironment(t, env.ID)
	if !stored.SettingsPending || stored.Settings.MetricsInterval != 20*time.Second {
		t.Fatalf("stored: pending %t, interval %s; want pending, 20s", stored.SettingsPending, stored.Settings.MetricsInterval)
	}
	if got := b.workflowSettings(t, env.ID); got.MetricsInterval != 30*time.Second {
		t.Fatalf("the workflow has %s before the reconciler ran", got.MetricsInterval)
	}
	// A GET says the settings are not applied yet.
	var view struct {
		SettingsApplied bool `json:"settingsApplied"`
	}
	if b.call(t, http.MethodGet, "/api/v1/environments/"+env.ID, "", &view); view.SettingsApplied {
		t.Fatal("GET says the settings are applied")
	}
	n, err := b.controller().SyncPending(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("SyncPending = %d, %v; want 1", n, err)
	}
	if got := b.requireInStep(t, env.ID); got.Settings.MetricsInterval != 20*time.Second {
		t.Fatalf("after the reconciler: %s", got.Settings.MetricsInterval)
	}
}

// The workflow refuses what the API accepted (a worker of another version):
// 400, the stored settings are put back, and the workflow is left with them.
func TestEnvironments_SettingsRefusedByTheWorkflowAreRestored(t *testing.T) {
	enginetest.Client(t)
	b := setupUnlimited(t)
	env := b.createEnvironment(t, "refused-"+uuid.NewString()[:8], 30)
	refusing := b.withTemporal(t, updatesFail{Client: b.temporal,
		err: temporal.NewApplicationError("invalid settings: refused by this test", workflows.ErrTypeInvalidSettings)})
	a := refusing.send(t, http.MethodPut, "/api/v1/environments/"+env.ID+"/settings", `{"metricsIntervalSeconds":20}`, nil)
	if a.code != http.StatusBadRequest || !strings.Contains(a.body, "refused by this test") {
		t.Fatalf("PUT refused by the workflow: %d %s; want 400 with its reason", a.code, a.body)
	}
	if stored := b.storedEnvironment(t, env.ID); stored.Settings.MetricsInterval != 30*time.Second {
		t.Fatalf("stored interval %s after a refused change, want 30s", stored.Settings.MetricsInterval)
	}
	if _, err := b.controller().SyncPending(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.requireInStep(t, env.ID)
}

// Reconcile restarts the workflow of a stored environment that has none,
// and starts nothing for an environment that is gone.
func TestEnvironments_ReconcileStartsOnlyStoredEnvironments(t *testing.T) {
	enginetest.Client(t)
	b := setupUnlimited(t)
	ctx := context.Background()
	kept := b.createEnvironment(t, "kept-"+uuid.NewString()[:8], 30)
	gone := b.createEnvironment(t, "gone-"+uuid.NewString()[:8], 30)
	if err := b.temporal.TerminateWorkflow(ctx, workflows.WorkflowID(kept.ID), "", "test: no workflow"); err != nil {
		t.Fatal(err)
	}
	if code := b.call(t, http.MethodDelete, "/api/v1/environments/"+gone.ID, "", nil); code != http.StatusNoContent {
		t.Fatalf("DELETE: %d", code)
	}
	if err := b.controller().Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if !b.workflowRunning(t, kept.ID) {
		t.Fatal("Reconcile did not restart the workflow of a stored environment")
	}
	if b.workflowRunning(t, gone.ID) {
		t.Fatal("Reconcile started a workflow for a deleted environment")
	}
	b.requireInStep(t, kept.ID)
}

// A PUT on an environment whose workflow is not running starts it with the
// stored settings, then applies the change: 200, and the two agree.
func TestEnvironments_SettingsRestartAStoppedWorkflow(t *testing.T) {
	enginetest.Client(t)
	b := setupUnlimited(t)
	env := b.createEnvironment(t, "stopped-"+uuid.NewString()[:8], 30)
	if err := b.temporal.TerminateWorkflow(context.Background(), workflows.WorkflowID(env.ID), "", "test: no workflow"); err != nil {
		t.Fatal(err)
	}
	if a := b.send(t, http.MethodPut, "/api/v1/environments/"+env.ID+"/settings", `{"metricsIntervalSeconds":25}`, nil); a.code != http.StatusOK {
		t.Fatalf("PUT without a running workflow: %d %s; want 200", a.code, a.body)
	}
	if !b.workflowRunning(t, env.ID) {
		t.Fatal("the workflow was not started again")
	}
	if got := b.requireInStep(t, env.ID); got.Settings.MetricsInterval != 25*time.Second {
		t.Fatalf("interval %s, want 25s", got.Settings.MetricsInterval)
	}
}

package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/engine/enginetest"
	"github.com/windflow/monitor/workflows"
)

// A configure signal sent straight to the workflow is recorded in Postgres:
// the API reports the signalled settings at the next version, the
// reconciler's pass leaves the workflow and the store in step at the
// signalled value, and a PUT afterwards keeps it.
func TestEnvironments_SignalIsRecorded(t *testing.T) {
	enginetest.Client(t)
	b := setupUnlimited(t)
	env := b.createEnvironment(t, "signal-"+uuid.NewString()[:8], 30)
	path := "/api/v1/environments/" + env.ID
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	twenty := 20
	if err := b.temporal.SignalWorkflow(ctx, workflows.WorkflowID(env.ID), "", workflows.SignalConfigure,
		workflows.SettingsPatch{MetricsIntervalSeconds: &twenty}); err != nil {
		t.Fatalf("signal: %v", err)
	}
	var view environmentJSON
	eventually(t, 30*time.Second, "the signalled interval in the API", func() bool {
		b.call(t, http.MethodGet, path, "", &view)
		return view.Settings.MetricsIntervalSeconds == 20
	})
	if view.Version != env.Version+1 {
		t.Fatalf("after the signal: version %d, want %d", view.Version, env.Version+1)
	}

	if err := b.controller().Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if got := b.requireInStep(t, env.ID); got.Settings.MetricsInterval != 20*time.Second {
		t.Fatalf("after the reconciler: interval %s, want 20s", got.Settings.MetricsInterval)
	}

	if code := b.call(t, http.MethodPut, path+"/settings", `{"offlineAfter":4}`, nil); code != http.StatusOK {
		t.Fatalf("PUT settings: %d", code)
	}
	got := b.requireInStep(t, env.ID)
	if got.Settings.MetricsInterval != 20*time.Second || got.Settings.OfflineAfter != 4 {
		t.Fatalf("after the PUT: interval %s, offlineAfter %d (want 20s, 4)", got.Settings.MetricsInterval, got.Settings.OfflineAfter)
	}
}

package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/windflow/monitor/internal/envflow"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
	"github.com/windflow/monitor/internal/temporaltest"
)

// TestPrepareInstallation: without WINDFLOW_TASK_QUEUE the installation
// runs on its own queue; an explicit one wins; the search attributes are
// there (temporaltest registers them).
func TestPrepareInstallation(t *testing.T) {
	addr := temporaltest.Address(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, storetest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	tc, err := client.Dial(client.Options{HostPort: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	instance, err := st.InstanceID(ctx)
	if err != nil {
		t.Fatal(err)
	}

	t.Setenv("WINDFLOW_TASK_QUEUE", "")
	cfg := loadWith(t)
	if cfg.TaskQueue != "" {
		t.Fatalf("default task queue %q before the database is known", cfg.TaskQueue)
	}
	if err := prepareInstallation(ctx, &cfg, st, tc, false); err != nil {
		t.Fatal(err)
	}
	if want := envflow.InstallationTaskQueue(instance); cfg.TaskQueue != want {
		t.Errorf("task queue %q, want the installation's %q", cfg.TaskQueue, want)
	}

	t.Setenv("WINDFLOW_TASK_QUEUE", "mine")
	cfg = loadWith(t)
	if err := prepareInstallation(ctx, &cfg, st, tc, false); err != nil {
		t.Fatal(err)
	}
	if cfg.TaskQueue != "mine" {
		t.Errorf("task queue %q, want the explicit one", cfg.TaskQueue)
	}
}

// TestConfig_TaskQueueQuoted: a task queue that would break the visibility
// queries the upgrade runs is refused at start.
func TestConfig_TaskQueueQuoted(t *testing.T) {
	t.Setenv("WINDFLOW_TASK_QUEUE", "it's")
	if err := loadWith(t).validate(); err == nil || !strings.Contains(err.Error(), "WINDFLOW_TASK_QUEUE") {
		t.Fatalf("validate: %v, want a refusal naming WINDFLOW_TASK_QUEUE", err)
	}
}

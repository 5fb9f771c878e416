package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/client"

	"github.com/windflow/monitor/internal/envflow"
	"github.com/windflow/monitor/internal/store"
)

// prepareInstallation settles what the installation shares with others in
// a Temporal namespace: the task queue (WINDFLOW_TASK_QUEUE, else the
// installation's own, envflow.InstallationTaskQueue, written into cfg) and
// the search attributes the workflows set (registered on a dev server;
// elsewhere a missing one stops the process with how to register it).
func prepareInstallation(ctx context.Context, cfg *config, st *store.Store, tc client.Client, dev bool) error {
	if cfg.TaskQueue == "" {
		instance, err := st.InstanceID(ctx)
		if err != nil {
			return fmt.Errorf("the installation's task queue: %w", err)
		}
		cfg.TaskQueue = envflow.InstallationTaskQueue(instance)
	}
	namespace := cmp.Or(cfg.TemporalNamespace, client.DefaultNamespace)
	err := envflow.EnsureSearchAttributes(ctx, tc.OperatorService(), namespace, dev)
	if errors.Is(err, envflow.ErrSearchAttributesUnchecked) {
		slog.Warn("the namespace's search attributes could not be checked; see docs/operations.md to register them", "err", err)
		return nil
	}
	return err
}

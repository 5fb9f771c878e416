package envflow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/store"
)

// syncTimeout bounds the reconciliation of one environment.
const syncTimeout = 20 * time.Second

// Sync brings the workflow of environment id to the stored settings, under
// the row lock: when the row is marked pending it applies them (starting
// the workflow if none runs) and clears the mark; otherwise it only makes
// sure the workflow runs (use-existing). A deleted environment is left
// alone (nil).
func (c *Controller) Sync(ctx context.Context, id uuid.UUID) error {
	ctx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	err := c.Store.LockEnvironment(ctx, id, func(ctx context.Context, tx *store.EnvironmentTx) error {
		env := tx.Environment()
		if !env.SettingsPending {
			return c.start(ctx, env)
		}
		if _, err := c.apply(ctx, env); err != nil {
			return err
		}
		return tx.SetSettingsPending(ctx, false)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// Reconcile syncs every stored environment (see Sync); it is idempotent and
// runs when an API or dev process starts.
func (c *Controller) Reconcile(ctx context.Context) error {
	c.upgradeWorkflows(ctx)
	envs, err := c.Store.ListEnvironments(ctx)
	if err != nil {
		return fmt.Errorf("list environments: %w", err)
	}
	var errs []error
	for _, env := range envs {
		if err := c.Sync(ctx, env.ID); err != nil {
			errs = append(errs, fmt.Errorf("environment %s: %w", env.ID, err))
		}
	}
	return errors.Join(errs...)
}

// pendingBatch bounds the environments one sweep of Follow handles.
const pendingBatch = 100

// SyncPending syncs the environments marked pending (at most a batch) and
// returns how many it synced.
func (c *Controller) SyncPending(ctx context.Context) (int, error) {
	ids, err := c.Store.PendingEnvironments(ctx, pendingBatch)
	if err != nil {
		return 0, err
	}
	synced := 0
	var errs []error
	for _, id := range ids {
		if err := c.Sync(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("environment %s: %w", id, err))
			continue
		}
		synced++
	}
	return synced, errors.Join(errs...)
}

// Follow sweeps the environments marked pending every interval until ctx
// ends: a settings change whose answer failed halfway (Temporal or Postgres
// unavailable, the process killed) is applied from Postgres once both answer.
// One query when nothing is marked.
func (c *Controller) Follow(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := c.SyncPending(ctx); err != nil && ctx.Err() == nil {
			c.logger().Warn("some environment workflows could not be brought to their stored settings", "synced", n, "err", err)
		} else if n > 0 {
			c.logger().Info("environment workflows brought to their stored settings", "synced", n)
		}
	}
}

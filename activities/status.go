package activities

import (
	"context"
	"fmt"

	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/workflows"
)

// CheckEngine pings an environment's engine. The workflow runs it instead of
// CollectMetrics when metric collection is off, to keep the status known.
func (a *Activities) CheckEngine(ctx context.Context, in workflows.CheckEngineInput) error {
	env, err := a.environment(ctx, in.EnvironmentID)
	if err != nil {
		return err
	}
	cli, err := a.connect(ctx, env)
	if err != nil {
		return err
	}
	defer cli.Close()
	if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
		return fmt.Errorf("ping %s: %w", env.Name, err)
	}
	return nil
}

// RecordStatus stores one online/offline transition decided by the
// workflow. It is keyed by (environment, ChangedAt): a retry records nothing
// twice. An environment deleted meanwhile fails without retry.
func (a *Activities) RecordStatus(ctx context.Context, in workflows.RecordStatusInput) error {
	env, err := a.environment(ctx, in.EnvironmentID)
	if err != nil {
		return err
	}
	if _, err := a.Store.RecordStatus(ctx, store.StatusChange{
		EnvironmentID: env.ID,
		Online:        in.Online,
		Error:         in.Error,
		ChangedAt:     in.ChangedAt,
	}); err != nil {
		return fmt.Errorf("record status of %s: %w", env.Name, err)
	}
	return nil
}

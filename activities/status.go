package activities

import (
	"context"
	"fmt"

	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/notify"
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
	cli, release, err := a.connect(ctx, env)
	if err != nil {
		return err
	}
	defer release()
	if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
		return fmt.Errorf("ping %s: %w", env.Name, engine.BoundError(err))
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
	_, ids, err := a.Store.RecordStatus(ctx, store.StatusChange{
		EnvironmentID: env.ID,
		Online:        in.Online,
		Error:         in.Error,
		ChangedAt:     in.ChangedAt,
	}, statusDraft(env, in))
	if err != nil {
		return storeError(ctx, "record status", "of "+env.Name, err)
	}
	a.startDeliveries(ctx, ids)
	return nil
}

// statusDraft is the notification of a transition, or nil: going offline is
// notified (from unknown too: an engine that never answered), coming back
// online only after having been offline — never the first online of a new
// environment, never a repeat.
func statusDraft(env store.Environment, in workflows.RecordStatusInput) *store.NotificationDraft {
	kind := notify.KindEnvironmentOffline
	if in.Online {
		if in.Previous != workflows.StatusOffline {
			return nil
		}
		kind = notify.KindEnvironmentOnline
	}
	title, message := notify.StatusMessage(env.Name, in.Online, in.Error)
	return &store.NotificationDraft{
		Kind: kind, Title: title, Message: message,
		CauseKey: fmt.Sprintf("status:%s:%d", env.ID, in.ChangedAt.UnixNano()),
	}
}

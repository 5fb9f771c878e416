package envflow

import (
	"context"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/windflow/monitor/workflows"
)

// followEvery is how often the follower started by ReconcileAndFollow looks
// for environments whose workflow may not run with the stored settings.
const followEvery = 30 * time.Second

// ReconcileAndFollow brings every stored environment's workflow to its
// stored settings (Reconcile), then keeps doing so in the background until
// ctx ends, every 30 s, for the environments whose settings change was
// stored but not confirmed by their workflow (Follow).
func (c *Controller) ReconcileAndFollow(ctx context.Context) error {
	go c.Follow(ctx, followEvery)
	return c.Reconcile(ctx)
}

// StartDispatcher starts the singleton notification dispatcher workflow of
// the installation instance, or keeps the running one (use-existing).
func (c *Controller) StartDispatcher(ctx context.Context, instance string) error {
	if c.Temporal == nil {
		return fmt.Errorf("start the notification dispatcher: %w", errNoTemporal)
	}
	_, err := c.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.NotificationDispatcherID(instance),
		TaskQueue:                c.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		StaticSummary:            "Starts the delivery of pending notifications every 30 s",
	}, workflows.NotificationDispatcherWorkflowName, workflows.DispatcherState{})
	if err != nil {
		return fmt.Errorf("start the notification dispatcher: %w", err)
	}
	return nil
}

// Background is the long-lived work an API or dev process makes sure
// exists when it starts.
type Background struct {
	// InstanceID reads the installation's ID (store.Store.InstanceID),
	// which names the dispatcher and the retention schedule.
	InstanceID func(ctx context.Context) (string, error)
	Schedules  client.ScheduleClient
	Retention  workflows.PruneInput
}

// StartBackground starts (all idempotent) every stored environment's
// workflow and the follower of pending settings (ReconcileAndFollow), the
// notification dispatcher and the retention schedule, after moving the
// installation's other workflows to its task queue
// (MoveInstallationWorkflows). A failure is logged
// and the others are still started: the process serves anyway, and the
// next start tries again.
func (c *Controller) StartBackground(ctx context.Context, b Background) {
	if err := c.ReconcileAndFollow(ctx); err != nil {
		c.logger().Warn("some environment workflows could not be started", "err", err)
	}
	instance, err := b.InstanceID(ctx)
	if err != nil {
		c.logger().Warn("the notification dispatcher and the retention schedule could not be started", "err", err)
		return
	}
	if _, err := c.MoveInstallationWorkflows(ctx, instance); err != nil {
		c.logger().Warn("some of the installation's workflows could not be moved to its task queue", "err", err)
	}
	if err := c.StartDispatcher(ctx, instance); err != nil {
		c.logger().Warn("the notification dispatcher could not be started", "err", err)
	}
	if err := StartRetentionSchedule(ctx, b.Schedules, instance, c.TaskQueue, b.Retention, DefaultRetentionEvery); err != nil {
		c.logger().Warn("the retention schedule could not be started", "err", err)
	}
}

package envflow

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/workflows"
)

// upgradeQuery lists the running environment workflows this installation
// may have to change: on its task queue, those of another type than
// workflows.WorkflowName or without the environment search attribute; on
// the bare default queue (where an installation ran before it had a queue
// of its own), all of them. Other installations' queues are never listed.
func (c *Controller) upgradeQuery() string {
	q := fmt.Sprintf("ExecutionStatus = 'Running' AND WorkflowId STARTS_WITH '%s' AND (TaskQueue = '%s' AND (WorkflowType != '%s' OR %s IS NULL)",
		workflows.WorkflowID(""), c.TaskQueue, workflows.WorkflowName, workflows.SearchAttributeEnvironment)
	if c.TaskQueue != workflows.DefaultTaskQueue {
		q += fmt.Sprintf(" OR TaskQueue = '%s'", workflows.DefaultTaskQueue)
	}
	return q + ")"
}

// upgradeReason is the termination reason of a replaced workflow.
const upgradeReason = "replaced by the workflow type " + workflows.WorkflowName + " on the installation's task queue"

// UpgradeWorkflows brings the running workflows of stored environments to
// this release, under each row lock: one of another type (an earlier
// release's) or on another task queue is terminated and the current type
// started on the controller's queue with the stored settings (the event
// cursor lives with the events in Postgres, so only the disk-warning
// cooldown starts over); one without the environment search attribute
// gets it (the rename Update, which needs a worker: after the first that
// fails, the others wait for the next start). Workflows of environments
// this database does not hold are left alone. It returns how many it
// changed.
func (c *Controller) UpgradeWorkflows(ctx context.Context) (int, error) {
	changed := 0
	var errs []error
	renameFailed := false
	var token []byte
	for {
		resp, err := c.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query:         c.upgradeQuery(),
			NextPageToken: token,
		})
		if err != nil {
			return changed, fmt.Errorf("list workflows to upgrade: %w", err)
		}
		for _, ex := range resp.GetExecutions() {
			id, ok := environmentIDOf(ex.GetExecution().GetWorkflowId())
			if !ok {
				continue
			}
			if renameFailed && !c.mustReplace(ex) {
				continue
			}
			err := c.upgradeWorkflow(ctx, id, ex)
			if err != nil && !errors.Is(err, store.ErrNotFound) && !c.mustReplace(ex) {
				renameFailed = true
			}
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				errs = append(errs, fmt.Errorf("environment %s: %w", id, err))
			default:
				changed++
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return changed, errors.Join(errs...)
		}
	}
}

// mustReplace tells whether run ex is of another type or on another queue.
func (c *Controller) mustReplace(ex *workflowpb.WorkflowExecutionInfo) bool {
	return ex.GetType().GetName() != workflows.WorkflowName || ex.GetTaskQueue() != c.TaskQueue
}

// upgradeWorkflow replaces the run ex of environment id when it must be
// (mustReplace), else gives it its search attribute.
func (c *Controller) upgradeWorkflow(ctx context.Context, id uuid.UUID, ex *workflowpb.WorkflowExecutionInfo) error {
	if !c.mustReplace(ex) {
		return c.Store.LockEnvironment(ctx, id, func(ctx context.Context, tx *store.EnvironmentTx) error {
			return c.rename(ctx, tx.Environment())
		})
	}
	return c.replaceWorkflow(ctx, id, ex.GetExecution().GetRunId(), ex.GetType().GetName()+" on "+ex.GetTaskQueue())
}

// replaceWorkflow terminates run runID of the environment's workflow and
// starts the current type, under the row lock.
func (c *Controller) replaceWorkflow(ctx context.Context, id uuid.UUID, runID, oldType string) error {
	return c.Store.LockEnvironment(ctx, id, func(ctx context.Context, tx *store.EnvironmentTx) error {
		wid := workflows.WorkflowID(id.String())
		err := c.Temporal.TerminateWorkflow(ctx, wid, runID, upgradeReason)
		var notFound *serviceerror.NotFound
		if err != nil && !errors.As(err, &notFound) { // NotFound: it ended meanwhile
			return fmt.Errorf("terminate %s (%s): %w", wid, oldType, err)
		}
		if err := c.start(ctx, tx.Environment()); err != nil {
			return err
		}
		c.logger().Info("environment workflow replaced by the current type on the installation's queue",
			"workflowID", wid, "from", oldType, "to", workflows.WorkflowName, "task_queue", c.TaskQueue)
		return nil
	})
}

// environmentIDOf returns the environment ID of an environment workflow's
// ID ("environment/<uuid>"); false for any other workflow.
func environmentIDOf(workflowID string) (uuid.UUID, bool) {
	rest, ok := strings.CutPrefix(workflowID, workflows.WorkflowID(""))
	if !ok {
		return uuid.UUID{}, false
	}
	id, err := uuid.Parse(rest)
	return id, err == nil
}

// upgradeWorkflows runs UpgradeWorkflows and logs its outcome; Reconcile
// calls it first, so that the syncs that follow find the current type.
func (c *Controller) upgradeWorkflows(ctx context.Context) {
	n, err := c.UpgradeWorkflows(ctx)
	if err != nil {
		c.logger().Warn("some environment workflows could not be upgraded", "upgraded", n, "err", err)
		return
	}
	if n > 0 {
		c.logger().Info("environment workflows upgraded", "upgraded", n)
	}
}

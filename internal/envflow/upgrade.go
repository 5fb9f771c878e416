package envflow

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/workflows"
)

// upgradeQuery lists the running workflows of another type than the
// environment workflow's; their IDs tell which are environment workflows.
var upgradeQuery = fmt.Sprintf("ExecutionStatus = 'Running' AND WorkflowType != '%s'", workflows.WorkflowName)

// upgradeReason is the termination reason of a replaced workflow.
const upgradeReason = "replaced by the workflow type " + workflows.WorkflowName

// UpgradeWorkflows replaces the running workflows of stored environments
// whose type is not workflows.WorkflowName (a workflow type of an earlier
// release): under the row lock, it terminates the run and starts the current
// type with the stored settings. The event cursor lives with the events in
// Postgres, so only the disk-warning cooldown starts over. Workflows of
// environments this database does not hold are left alone. It returns how
// many it replaced.
func (c *Controller) UpgradeWorkflows(ctx context.Context) (int, error) {
	replaced := 0
	var errs []error
	var token []byte
	for {
		resp, err := c.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query:         upgradeQuery,
			NextPageToken: token,
		})
		if err != nil {
			return replaced, fmt.Errorf("list workflows of other types: %w", err)
		}
		for _, ex := range resp.GetExecutions() {
			wid, runID := ex.GetExecution().GetWorkflowId(), ex.GetExecution().GetRunId()
			id, ok := environmentIDOf(wid)
			if !ok {
				continue
			}
			err := c.replaceWorkflow(ctx, id, runID, ex.GetType().GetName())
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				errs = append(errs, fmt.Errorf("environment %s: %w", id, err))
			default:
				replaced++
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return replaced, errors.Join(errs...)
		}
	}
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
		c.logger().Info("environment workflow replaced by the current type", "workflowID", wid, "from", oldType, "to", workflows.WorkflowName)
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
		c.logger().Warn("some environment workflows of an earlier type could not be replaced", "replaced", n, "err", err)
		return
	}
	if n > 0 {
		c.logger().Info("environment workflows of an earlier type replaced", "replaced", n)
	}
}

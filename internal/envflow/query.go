package envflow

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/windflow/monitor/workflows"
)

// ErrNotRunning means no workflow runs for the environment.
var ErrNotRunning = errors.New("the environment's workflow is not running")

// State asks the environment's workflow for its live state (the state
// query). The error wraps ErrNotRunning when no workflow runs.
func (c *Controller) State(ctx context.Context, id uuid.UUID) (workflows.State, error) {
	if c.Temporal == nil {
		return workflows.State{}, fmt.Errorf("%w: %w", ErrWorkflowUnavailable, errNoTemporal)
	}
	var state workflows.State
	val, err := c.Temporal.QueryWorkflow(ctx, workflows.WorkflowID(id.String()), "", workflows.QueryState)
	if err == nil {
		err = val.Get(&state)
	}
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return workflows.State{}, fmt.Errorf("%w: %w", ErrNotRunning, err)
	}
	return state, err
}

// CheckHealth reports whether Temporal answers.
func (c *Controller) CheckHealth(ctx context.Context) error {
	if c.Temporal == nil {
		return errNoTemporal
	}
	_, err := c.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
	return err
}

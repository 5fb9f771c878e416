package envflow

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/windflow/monitor/internal/settings"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/workflows"
)

// errNoTemporal is the error of a controller without a Temporal client.
var errNoTemporal = errors.New("no Temporal client")

// start starts the environment's workflow with its stored settings, or keeps
// the running one: the ID conflict policy is use-existing, so there is never
// a second collector for an environment. Callers hold the row lock.
func (c *Controller) start(ctx context.Context, env store.Environment) error {
	if c.Temporal == nil {
		return fmt.Errorf("%w: %w", ErrWorkflowUnavailable, errNoTemporal)
	}
	_, err := c.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.WorkflowID(env.ID.String()),
		TaskQueue:                c.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		StaticSummary:            fmt.Sprintf("Environment **%s** — Docker engine %s", env.Name, RedactEndpoint(env.Endpoint)),
		TypedSearchAttributes:    temporal.NewSearchAttributes(workflows.EnvironmentSearchAttribute.ValueSet(env.Name)),
	}, workflows.WorkflowName, workflows.Input{
		EnvironmentID: env.ID.String(),
		Name:          env.Name,
		Settings:      env.Settings,
	})
	if err != nil {
		return fmt.Errorf("%w: start workflow of %s: %w", ErrWorkflowUnavailable, env.Name, err)
	}
	return nil
}

// apply makes the environment's workflow run with env's stored settings: it
// sends them all in the configure Update, or starts the workflow with them
// when none runs. Callers hold the row lock. The error is a *SettingsError
// when the workflow rejects them, else wraps ErrWorkflowUnavailable.
func (c *Controller) apply(ctx context.Context, env store.Environment) (workflows.State, error) {
	if c.Temporal == nil {
		return workflows.State{}, fmt.Errorf("%w: %w", ErrWorkflowUnavailable, errNoTemporal)
	}
	patch := settings.PatchTo(env.Settings)
	state, err := c.update(ctx, env.ID.String(), workflows.UpdateConfigure, patch)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		// No running workflow (it ended, or an operator terminated it):
		// start it with the stored settings, then read its state.
		if err = c.start(ctx, env); err == nil {
			state, err = c.update(ctx, env.ID.String(), workflows.UpdateConfigure, patch)
		}
	}
	if err == nil && state.Name != env.Name {
		// A rename the workflow did not hear of (see Modify).
		state, err = c.update(ctx, env.ID.String(), workflows.UpdateRename, env.Name)
	}
	var appErr *temporal.ApplicationError
	switch {
	case err == nil:
		return state, nil
	case errors.As(err, &appErr) && appErr.Type() == workflows.ErrTypeInvalidSettings:
		return workflows.State{}, &SettingsError{Reason: appErr.Message()}
	case errors.Is(err, ErrWorkflowUnavailable):
		return workflows.State{}, err
	default:
		return workflows.State{}, fmt.Errorf("%w: configure: %w", ErrWorkflowUnavailable, err)
	}
}

// renameTimeout bounds the wait for the workflow to take a new name: a
// rename is stored anyway, and the reconciler takes it to the workflow later.
const renameTimeout = 10 * time.Second

// rename gives the running workflow env's stored name (the rename Update,
// which keeps the search attribute current). Callers hold the row lock.
func (c *Controller) rename(ctx context.Context, env store.Environment) error {
	if c.Temporal == nil {
		return errNoTemporal
	}
	ctx, cancel := context.WithTimeout(ctx, renameTimeout)
	defer cancel()
	if _, err := c.update(ctx, env.ID.String(), workflows.UpdateRename, env.Name); err != nil {
		return fmt.Errorf("rename workflow of %s: %w", env.ID, err)
	}
	return nil
}

// update runs Update name (UpdateConfigure with a patch, UpdateRename with
// a name) and waits for its result, the workflow's state.
func (c *Controller) update(ctx context.Context, envID, name string, arg any) (workflows.State, error) {
	handle, err := c.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   workflows.WorkflowID(envID),
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return workflows.State{}, err
	}
	var state workflows.State
	err = handle.Get(ctx, &state)
	return state, err
}

// stopGrace is how long a cancelled workflow gets to end by itself before
// it is terminated: its event stream learns of a cancellation only at its
// next heartbeat (up to a minute), and a DELETE should not wait for that.
const stopGrace = 5 * time.Second

// stop requests cancellation, waits up to stopGrace for the workflow to
// end, then terminates it: the environment is going away, nothing it still
// holds is worth keeping (its stream activity stops at its next heartbeat,
// which finds the workflow closed).
func (c *Controller) stop(ctx context.Context, id fmt.Stringer) error {
	if c.Temporal == nil {
		return errNoTemporal
	}
	wid := workflows.WorkflowID(id.String())
	err := c.Temporal.CancelWorkflow(ctx, wid, "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return nil
	}
	if err != nil {
		return err
	}
	wait, cancel := context.WithTimeout(ctx, stopGrace)
	defer cancel()
	_ = c.Temporal.GetWorkflow(wait, wid, "").Get(wait, nil)
	if err := ctx.Err(); err != nil {
		return err // the caller gave up
	}
	if wait.Err() == nil {
		return nil // ended: cancelled, completed, failed or terminated
	}
	err = c.Temporal.TerminateWorkflow(ctx, wid, "", "environment deleted")
	if err == nil || errors.As(err, &notFound) { // NotFound: it ended meanwhile
		return nil
	}
	return fmt.Errorf("terminate workflow %s: %w", wid, err)
}

// RedactEndpoint drops user info and query parameters from an endpoint URL
// before it is shown in the Temporal Web UI.
func RedactEndpoint(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "(unparsable endpoint)"
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}

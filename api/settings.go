package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/windflow/monitor/workflows"
)

// updateTimeout bounds how long a settings change waits for the workflow.
const updateTimeout = 15 * time.Second

// putSettings sends a settings patch to the environment's workflow as the
// configure Update and, once accepted, stores the new settings. A value the
// validator rejects answers 400 with its reason and changes nothing.
func (s *Server) putSettings(w http.ResponseWriter, r *http.Request) {
	env, err := s.environment(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var patch workflows.SettingsPatch
	if err := decodeJSON(w, r, &patch); err != nil {
		writeError(w, r, err)
		return
	}
	// The workflow validates too; checking here first answers bad input
	// without a round trip and even when Temporal is down.
	if _, err := patch.Apply(settingsOf(env)); err != nil {
		writeError(w, r, errorf(http.StatusBadRequest, "invalid_settings", "%s", err.Error()))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), updateTimeout)
	defer cancel()
	state, err := s.configure(ctx, env.ID.String(), patch)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		// No running workflow (terminated by an operator, say): start it with
		// the stored settings, then apply the change.
		if err = s.StartWorkflow(ctx, env); err == nil {
			state, err = s.configure(ctx, env.ID.String(), patch)
		}
	}
	var appErr *temporal.ApplicationError
	switch {
	case errors.As(err, &appErr) && appErr.Type() == workflows.ErrTypeInvalidSettings:
		writeError(w, r, errorf(http.StatusBadRequest, "invalid_settings", "%s", appErr.Message()))
		return
	case err != nil:
		writeError(w, r, errorf(http.StatusServiceUnavailable, "temporal_unavailable", "settings not applied: %s", err.Error()))
		return
	}
	env, err = s.Store.UpdateEnvironment(ctx, withSettings(env, state.Settings))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"environment": s.environmentJSON(env),
		"state":       stateView(state),
	})
}

// configure runs the configure Update and waits for its result.
func (s *Server) configure(ctx context.Context, envID string, patch workflows.SettingsPatch) (workflows.State, error) {
	handle, err := s.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   workflows.WorkflowID(envID),
		UpdateName:   workflows.UpdateConfigure,
		Args:         []any{patch},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return workflows.State{}, err
	}
	var state workflows.State
	err = handle.Get(ctx, &state)
	return state, err
}

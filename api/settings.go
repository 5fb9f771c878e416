package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/windflow/monitor/internal/envflow"
	"github.com/windflow/monitor/workflows"
)

// updateTimeout bounds how long a settings change waits for the workflow.
const updateTimeout = 15 * time.Second

// putSettings changes an environment's settings. Postgres holds them: the
// change is stored first (from the row as it is then, under its lock, so a
// concurrent PATCH is kept), then applied by the workflow's configure
// Update. Answers: 200 with the environment and the workflow's state once
// the workflow applied it; 400 for a value out of range (nothing changed);
// 412 when If-Match names another version; 202 with the stored environment
// ("settingsApplied": false) when Temporal could not be reached: the change
// is kept and the workflow gets it as soon as Temporal answers.
func (s *Server) putSettings(w http.ResponseWriter, r *http.Request) error {
	ifMatch, patch, err := changeRequest[workflows.SettingsPatch](w, r)
	if err != nil {
		return err
	}
	id := environmentFrom(r).ID
	ctx, cancel := context.WithTimeout(r.Context(), updateTimeout)
	defer cancel()
	env, state, err := s.flows.Configure(ctx, id, ifMatch, patch)
	if errors.Is(err, envflow.ErrWorkflowUnavailable) && env.Version > 0 {
		s.logger().Warn("settings stored, not yet applied by the workflow", "environment_id", id, "err", err)
		setETag(w, env)
		writeJSON(w, http.StatusAccepted, map[string]any{
			"environment": s.environmentJSON(env),
			"state":       nil,
			"message":     "settings stored; the workflow applies them as soon as Temporal answers",
		})
		return nil
	}
	if err != nil {
		return flowError(err, "")
	}
	setETag(w, env)
	writeJSON(w, http.StatusOK, map[string]any{
		"environment": s.environmentJSON(env),
		"state":       stateView(state),
	})
	return nil
}

package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/envflow"
	"github.com/windflow/monitor/internal/notify"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/workflows"
)

// workflowURL links to an environment's workflow in the Temporal Web UI
// (the notifications' link).
func (s *Server) workflowURL(id uuid.UUID) string {
	return notify.Links{TemporalUIURL: s.cfg.UIURL, Namespace: s.cfg.Namespace}.Workflow(workflows.WorkflowID(id.String()))
}

// getStatus answers the stored status (last recorded transition), the
// workflow's live state from the state query and a link to the workflow.
func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) error {
	env := environmentFrom(r)
	type storedJSON struct {
		Online    bool      `json:"online"`
		Error     string    `json:"error,omitempty"`
		ChangedAt time.Time `json:"changedAt"`
	}
	out := map[string]any{
		"environmentId": env.ID,
		"workflow": map[string]string{
			"id":  workflows.WorkflowID(env.ID.String()),
			"url": s.workflowURL(env.ID),
		},
	}
	last, err := s.store.LatestStatus(r.Context(), env.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		out["stored"] = nil
	case err != nil:
		return err
	default:
		out["stored"] = storedJSON{Online: last.Online, Error: last.Error, ChangedAt: last.ChangedAt}
	}
	if agent, err := s.agentState(r.Context(), env); err != nil {
		return err
	} else if agent != nil {
		out["agent"] = agent
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	state, err := s.flows.State(ctx, env.ID)
	if err != nil {
		out["live"] = nil
		out["liveError"] = s.liveError(r, env.ID, err)
	} else {
		out["live"] = stateView(state)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// stateView is the workflow's live state as the API shows it: the settings
// in effect (unset fields with their defaults).
func stateView(s workflows.State) workflows.State {
	s.Settings = s.Settings.InEffect()
	return s
}

// liveError says why the live state is missing without repeating
// Temporal's error, which is logged instead.
func (s *Server) liveError(r *http.Request, envID uuid.UUID, err error) string {
	if errors.Is(err, envflow.ErrNotRunning) {
		return "the environment's workflow is not running"
	}
	s.logger().Warn("status: the workflow's state query failed", "environment_id", envID, "err", err,
		"request_id", middleware.GetReqID(r.Context()))
	return "the workflow did not answer the state query (Temporal unavailable, or the workflow is busy); retry later"
}

// getStatusHistory answers an environment's recorded transitions (online,
// offline), newest first; ?limit= 1..500 (default 100). The dashboard
// shades the offline spans on its charts with them.
func (s *Server) getStatusHistory(w http.ResponseWriter, r *http.Request) error {
	env := environmentFrom(r)
	limit, err := parseLimit(r.URL.Query().Get("limit"))
	if err != nil {
		return err
	}
	changes, err := s.store.StatusHistory(r.Context(), env.ID, limit)
	if err != nil {
		return err
	}
	writeList(w, "changes", changes, statusView)
	return nil
}

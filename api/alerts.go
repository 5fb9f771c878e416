package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/store"
)

// AlertStore is what GET /api/v1/alerts needs of the store.
type AlertStore interface {
	ListAlerts(ctx context.Context, envID *uuid.UUID, limit int) (store.AlertList, error)
}

// alertJSON are the fields every alert answer has: where, which rule (as
// evaluated), the figure and since when.
type alertJSON struct {
	EnvironmentID   uuid.UUID `json:"environmentId"`
	EnvironmentName string    `json:"environmentName"`
	RuleID          uuid.UUID `json:"ruleId"`
	RuleName        string    `json:"ruleName"`
	Severity        string    `json:"severity"`
	Target          string    `json:"target"`
	Metric          string    `json:"metric"`
	Op              string    `json:"op"`
	Threshold       float64   `json:"threshold"`
	ForSeconds      int       `json:"forSeconds"`
	Value           float64   `json:"value"`
	Since           time.Time `json:"since"`
}

// alertView is the common part of a's answers.
func alertView(a store.Alert) alertJSON {
	return alertJSON{EnvironmentID: a.EnvironmentID, EnvironmentName: a.EnvironmentName, RuleID: a.RuleID,
		RuleName: a.RuleName, Severity: a.Severity, Target: a.Target, Metric: a.Metric, Op: a.Op,
		Threshold: a.Threshold, ForSeconds: a.ForSeconds, Value: a.Value, Since: a.Since}
}

// firingAlertJSON is an alert firing now: the latest transition of its
// rule × target fired (firedAt) after breaching since Since.
type firingAlertJSON struct {
	alertJSON
	FiredAt time.Time `json:"firedAt"`
}

// alertTransitionJSON is one row of the alert history.
type alertTransitionJSON struct {
	ID int64 `json:"id"`
	alertJSON
	Phase  string    `json:"phase"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// listAlerts answers GET /api/v1/alerts: the alerts firing now and the
// recent transitions, newest first, of every environment or of
// ?environment=<id or name>; limit (1..500, default 100) bounds each list.
func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) error {
	envID, err := s.environmentRef(r)
	if err != nil {
		return err
	}
	limit, err := parseLimit(r.URL.Query().Get("limit"))
	if err != nil {
		return err
	}
	list, err := s.store.ListAlerts(r.Context(), envID, limit)
	if err != nil {
		return err
	}
	firing := views(list.Firing, func(a store.Alert) firingAlertJSON {
		return firingAlertJSON{alertJSON: alertView(a), FiredAt: a.At}
	})
	recent := views(list.Recent, func(a store.Alert) alertTransitionJSON {
		return alertTransitionJSON{ID: a.ID, alertJSON: alertView(a), Phase: a.Phase, At: a.At, Reason: a.Reason}
	})
	writeJSON(w, http.StatusOK, map[string]any{"firing": firing, "recent": recent})
	return nil
}

// environmentRef reads the optional ?environment= filter: an environment's
// ID or, when not a UUID, its name. An unknown environment is a 404.
func (s *Server) environmentRef(r *http.Request) (*uuid.UUID, error) {
	raw := r.URL.Query().Get("environment")
	if raw == "" {
		return nil, nil
	}
	var (
		env store.Environment
		err error
	)
	if id, perr := uuid.Parse(raw); perr == nil {
		env, err = s.store.GetEnvironment(r.Context(), id)
	} else if validateName(raw) == nil {
		env, err = s.store.GetEnvironmentByName(r.Context(), raw)
	} else {
		err = store.ErrNotFound // no environment can have that name
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, errorf(http.StatusNotFound, "not_found", "environment %q does not exist", shorten(raw))
	}
	if err != nil {
		return nil, err
	}
	return &env.ID, nil
}

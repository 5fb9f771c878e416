package api

import (
	"context"
	"errors"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/workflows"
)

// AlertRuleStore is what /api/v1/alert-rules needs of the store.
type AlertRuleStore interface {
	CreateAlertRule(ctx context.Context, a store.AlertRule, caps store.AlertRuleCaps) (store.AlertRule, error)
	GetAlertRule(ctx context.Context, id uuid.UUID) (store.AlertRule, error)
	ListAlertRules(ctx context.Context, envID *uuid.UUID) ([]store.AlertRule, error)
	UpdateAlertRule(ctx context.Context, a store.AlertRule, caps store.AlertRuleCaps) (store.AlertRule, error)
	DeleteAlertRule(ctx context.Context, id uuid.UUID) error
}

// alertRuleRoutes serves /api/v1/alert-rules: create, list, read,
// replace and delete rules.
func (s *Server) alertRuleRoutes() chi.Router {
	r := chi.NewRouter()
	r.Post("/", handle(s.createAlertRule))
	r.Get("/", handle(s.listAlertRules))
	r.Route("/{id}", func(r chi.Router) {
		r = r.With(itemCtx("alert rule", s.store.GetAlertRule))
		r.Get("/", getItem(alertRuleView))
		r.Put("/", handle(s.putAlertRule))
		r.Delete("/", deleteItem(func(a store.AlertRule) uuid.UUID { return a.ID }, s.store.DeleteAlertRule))
	})
	return r
}

// alertRuleJSON is a rule in answers.
type alertRuleJSON struct {
	ID               uuid.UUID         `json:"id"`
	Name             string            `json:"name"`
	EnvironmentID    *uuid.UUID        `json:"environmentId"`
	Metric           string            `json:"metric"`
	Op               string            `json:"op"`
	Threshold        float64           `json:"threshold"`
	ForSeconds       int               `json:"forSeconds"`
	Recovery         *float64          `json:"recovery"`
	ContainerPattern string            `json:"containerPattern"`
	Labels           map[string]string `json:"labels"`
	Severity         string            `json:"severity"`
	Enabled          bool              `json:"enabled"`
	Channels         []uuid.UUID       `json:"channels"`
	CreatedAt        time.Time         `json:"createdAt"`
	UpdatedAt        time.Time         `json:"updatedAt"`
}

func alertRuleView(a store.AlertRule) alertRuleJSON {
	return alertRuleJSON{ID: a.ID, Name: a.Name, EnvironmentID: a.EnvironmentID, Metric: a.Metric, Op: a.Op,
		Threshold: a.Threshold, ForSeconds: a.ForSeconds, Recovery: a.Recovery, ContainerPattern: a.ContainerPattern,
		Labels: a.Labels, Severity: a.Severity, Enabled: a.Enabled, Channels: a.ChannelIDs, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

// alertRuleRequest is the body of POST and PUT: the whole rule.
type alertRuleRequest struct {
	Name             string            `json:"name"`
	EnvironmentID    *uuid.UUID        `json:"environmentId"`
	Metric           string            `json:"metric"`
	Op               string            `json:"op"`
	Threshold        *float64          `json:"threshold"`
	ForSeconds       int               `json:"forSeconds"`
	Recovery         *float64          `json:"recovery"`
	ContainerPattern string            `json:"containerPattern"`
	Labels           map[string]string `json:"labels"`
	Severity         string            `json:"severity"`
	Enabled          *bool             `json:"enabled"`
	// Channels are the IDs of the channels that receive the rule's
	// notifications; empty: the subscriptions decide.
	Channels []string `json:"channels"`
}

// Bounds of a rule's texts and lists (its labels: Config.AlertCaps).
const (
	maxRuleName     = 100
	maxRuleText     = 256 // a pattern, a label key or value
	maxRuleChannels = 32
)

var severities = []string{"info", "warning", "critical"}

// alertRule validates req into the rule to store (id kept), its labels
// within caps.
func alertRule(id uuid.UUID, req alertRuleRequest, caps workflows.AlertCaps) (store.AlertRule, error) {
	invalid := func(format string, args ...any) (store.AlertRule, error) {
		return store.AlertRule{}, errorf(http.StatusBadRequest, "invalid_rule", format, args...)
	}
	if !printable(req.Name, maxRuleName) || strings.TrimSpace(req.Name) == "" {
		return invalid("name must be 1-%d printable characters, not only spaces", maxRuleName)
	}
	if req.Threshold == nil || math.IsInf(*req.Threshold, 0) || math.IsNaN(*req.Threshold) {
		return invalid("threshold is required (a number)")
	}
	if req.Recovery != nil && (math.IsInf(*req.Recovery, 0) || math.IsNaN(*req.Recovery)) {
		return invalid("recovery must be a number or null")
	}
	if req.ForSeconds < 0 || req.ForSeconds > 86400 {
		return invalid("forSeconds must be between 0 and 86400, got %d", req.ForSeconds)
	}
	if req.ContainerPattern != "" && !printable(req.ContainerPattern, maxRuleText) {
		return invalid("containerPattern must be at most %d printable bytes", maxRuleText)
	}
	if len(req.Labels) > caps.RuleLabels {
		return invalid("at most %d labels per rule (WINDFLOW_ALERT_MAX_RULE_LABELS), got %d", caps.RuleLabels, len(req.Labels))
	}
	labelBytes := 0
	for k, v := range req.Labels {
		if k == "" || !printable(k, maxRuleText) || (v != "" && !printable(v, maxRuleText)) {
			return invalid("labels: keys and values must be at most %d printable bytes (keys not empty)", maxRuleText)
		}
		labelBytes += len(k) + len(v)
	}
	if labelBytes > caps.RuleLabelBytes {
		return invalid("labels: at most %d bytes of keys and values per rule (WINDFLOW_ALERT_MAX_RULE_LABEL_BYTES), got %d",
			caps.RuleLabelBytes, labelBytes)
	}
	if req.Severity == "" {
		req.Severity = "warning"
	}
	if !slices.Contains(severities, req.Severity) {
		return invalid("severity must be info, warning or critical, got %q", shorten(req.Severity))
	}
	if len(req.Channels) > maxRuleChannels {
		return invalid("at most %d channels, got %d", maxRuleChannels, len(req.Channels))
	}
	channels := make([]uuid.UUID, 0, len(req.Channels))
	for _, raw := range req.Channels {
		ch, err := uuid.Parse(raw)
		if err != nil {
			return invalid("channels: %q is not a UUID", shorten(raw))
		}
		channels = append(channels, ch)
	}
	enabled := req.Enabled == nil || *req.Enabled
	rule := store.AlertRule{ID: id, Name: req.Name, EnvironmentID: req.EnvironmentID, Metric: req.Metric, Op: req.Op,
		Threshold: *req.Threshold, ForSeconds: req.ForSeconds, Recovery: req.Recovery, ContainerPattern: req.ContainerPattern,
		Labels: req.Labels, Severity: req.Severity, Enabled: enabled, ChannelIDs: channels}
	if err := evaluatedRule(rule).Validate(); err != nil {
		return invalid("%s", strings.TrimPrefix(err.Error(), workflows.ErrInvalidSettings.Error()+": "))
	}
	return rule, nil
}

// evaluatedRule is a stored rule as a workflow evaluates it.
func evaluatedRule(a store.AlertRule) workflows.AlertRule {
	return workflows.AlertRule{ID: a.ID.String(), Metric: workflows.AlertMetric(a.Metric), Op: workflows.AlertComparison(a.Op),
		Threshold: a.Threshold, For: time.Duration(a.ForSeconds) * time.Second, Recovery: a.Recovery,
		ContainerPattern: a.ContainerPattern, Labels: a.Labels}
}

// printable reports whether s is valid UTF-8 of at most limit bytes without
// control characters.
func printable(s string, limit int) bool {
	return utf8.ValidString(s) && len(s) <= limit && strings.IndexFunc(s, unicode.IsControl) < 0
}

// alertRuleWriteError maps the store's errors of a write (caps: the rule
// caps it was written under).
func alertRuleWriteError(a store.AlertRule, caps workflows.AlertCaps, err error) error {
	switch {
	case errors.Is(err, store.ErrCapReached) && a.EnvironmentID == nil:
		return errorf(http.StatusBadRequest, "too_many_rules",
			"at most %d global alert rules (WINDFLOW_ALERT_MAX_GLOBAL_RULES): delete one first", caps.GlobalRules)
	case errors.Is(err, store.ErrCapReached):
		return errorf(http.StatusBadRequest, "too_many_rules",
			"at most %d alert rules per environment (WINDFLOW_ALERT_MAX_ENVIRONMENT_RULES): environment %s has them", caps.EnvironmentRules, *a.EnvironmentID)
	case errors.Is(err, store.ErrUnknownChannel):
		_, ids, _ := strings.Cut(err.Error(), store.ErrUnknownChannel.Error()+": ")
		return errorf(http.StatusBadRequest, "unknown_channel", "channels: no notification channel %s", ids)
	case errors.Is(err, store.ErrNotFound) && a.EnvironmentID != nil:
		return errorf(http.StatusBadRequest, "unknown_environment", "environment %s does not exist (or rule %s)", *a.EnvironmentID, a.ID)
	}
	return writeItemError(err, "an alert rule", a.Name, a.ID, "invalid_rule")
}

// createAlertRule stores the rule of the body, or putAlertRule replaces the
// rule of the route with it (the whole rule).
func (s *Server) createAlertRule(w http.ResponseWriter, r *http.Request) error {
	return s.writeAlertRule(w, r, uuid.New(), s.store.CreateAlertRule, http.StatusCreated)
}

func (s *Server) putAlertRule(w http.ResponseWriter, r *http.Request) error {
	return s.writeAlertRule(w, r, itemFrom[store.AlertRule](r).ID, s.store.UpdateAlertRule, http.StatusOK)
}

// writeAlertRule validates the body as rule id, writes it with write and
// answers it with status.
func (s *Server) writeAlertRule(w http.ResponseWriter, r *http.Request, id uuid.UUID,
	write func(context.Context, store.AlertRule, store.AlertRuleCaps) (store.AlertRule, error), status int) error {
	req, err := decodeBody[alertRuleRequest](w, r, "environmentId", "recovery")
	if err != nil {
		return err
	}
	caps := s.cfg.AlertCaps.WithDefaults()
	rule, err := alertRule(id, req, caps)
	if err != nil {
		return err
	}
	saved, err := write(r.Context(), rule, store.AlertRuleCaps{Global: caps.GlobalRules, PerEnvironment: caps.EnvironmentRules})
	if err != nil {
		return alertRuleWriteError(rule, caps, err)
	}
	if status == http.StatusCreated {
		writeCreated(w, "alert-rules", saved.ID, alertRuleView(saved))
		return nil
	}
	writeJSON(w, status, alertRuleView(saved))
	return nil
}

// listAlertRules answers every rule, or (?environment=<uuid>) those that
// apply to one environment.
func (s *Server) listAlertRules(w http.ResponseWriter, r *http.Request) error {
	envID, err := s.environmentFilter(r)
	if err != nil {
		return err
	}
	rules, err := s.store.ListAlertRules(r.Context(), envID)
	if err != nil {
		return err
	}
	writeList(w, "rules", rules, alertRuleView)
	return nil
}

package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// AlertRule is a stored alert rule (see workflows.AlertRule for what its
// fields mean to the evaluation).
type AlertRule struct {
	// ID identifies the rule; CreateAlertRule generates it when zero.
	ID uuid.UUID
	// Name is unique, 1 to 100 characters.
	Name string
	// EnvironmentID limits the rule to one environment; nil: every one.
	EnvironmentID *uuid.UUID
	Metric        string
	Op            string
	Threshold     float64
	ForSeconds    int
	// Recovery is the hysteresis value; nil: the threshold.
	Recovery         *float64
	ContainerPattern string
	// Labels is the container label selector, never nil once read.
	Labels   map[string]string
	Severity string
	Enabled  bool
	// CreatedAt and UpdatedAt are set by the database.
	CreatedAt, UpdatedAt time.Time
}

const alertRuleColumns = `id, name, environment_id, metric, op, threshold, for_seconds, recovery,
	container_pattern, labels, severity, enabled, created_at, updated_at`

// CreateAlertRule stores a new rule and returns it as stored. It returns
// ErrNameTaken when the name is used, ErrNotFound for an unknown
// environment and ErrInvalid for a value the database refuses. The rule
// itself is validated by the caller.
func (s *Store) CreateAlertRule(ctx context.Context, a AlertRule) (AlertRule, error) {
	if a.ID == uuid.Nil {
		a.ID = uuid.New()
	}
	if a.Labels == nil {
		a.Labels = map[string]string{}
	}
	rows, _ := s.pool.Query(ctx, `
		INSERT INTO alert_rules (id, name, environment_id, metric, op, threshold, for_seconds, recovery,
			container_pattern, labels, severity, enabled)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		RETURNING `+alertRuleColumns,
		a.ID, a.Name, a.EnvironmentID, a.Metric, a.Op, a.Threshold, a.ForSeconds, a.Recovery,
		a.ContainerPattern, a.Labels, a.Severity, a.Enabled)
	created, err := pgx.CollectExactlyOneRow(rows, scanAlertRule)
	if err != nil {
		return AlertRule{}, wrapAlertRuleError("create alert rule", err)
	}
	return created, nil
}

// GetAlertRule returns the rule with the given ID, or ErrNotFound.
func (s *Store) GetAlertRule(ctx context.Context, id uuid.UUID) (AlertRule, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+alertRuleColumns+` FROM alert_rules WHERE id = $1`, id)
	a, err := pgx.CollectExactlyOneRow(rows, scanAlertRule)
	if err != nil {
		return AlertRule{}, wrapAlertRuleError(fmt.Sprintf("get alert rule %s", id), err)
	}
	return a, nil
}

// ListAlertRules returns the rules ordered by name: every rule, or (envID
// set) those that apply to that environment — its own and those of every
// environment.
func (s *Store) ListAlertRules(ctx context.Context, envID *uuid.UUID) ([]AlertRule, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT `+alertRuleColumns+` FROM alert_rules
		WHERE $1::uuid IS NULL OR environment_id IS NULL OR environment_id = $1
		ORDER BY name, id`, envID)
	rules, err := pgx.CollectRows(rows, scanAlertRule)
	if err != nil {
		return nil, fmt.Errorf("store: list alert rules: %w", err)
	}
	return rules, nil
}

// UpdateAlertRule replaces every field of the rule a.ID but its ID and
// creation time, sets UpdatedAt to now and returns it as stored. Errors as
// CreateAlertRule, and ErrNotFound for an unknown rule.
func (s *Store) UpdateAlertRule(ctx context.Context, a AlertRule) (AlertRule, error) {
	if a.Labels == nil {
		a.Labels = map[string]string{}
	}
	rows, _ := s.pool.Query(ctx, `
		UPDATE alert_rules SET
			name = $2, environment_id = $3, metric = $4, op = $5, threshold = $6, for_seconds = $7,
			recovery = $8, container_pattern = $9, labels = $10, severity = $11, enabled = $12,
			updated_at = now()
		WHERE id = $1
		RETURNING `+alertRuleColumns,
		a.ID, a.Name, a.EnvironmentID, a.Metric, a.Op, a.Threshold, a.ForSeconds, a.Recovery,
		a.ContainerPattern, a.Labels, a.Severity, a.Enabled)
	updated, err := pgx.CollectExactlyOneRow(rows, scanAlertRule)
	if err != nil {
		return AlertRule{}, wrapAlertRuleError(fmt.Sprintf("update alert rule %s", a.ID), err)
	}
	return updated, nil
}

// DeleteAlertRule deletes the rule, or returns ErrNotFound.
func (s *Store) DeleteAlertRule(ctx context.Context, id uuid.UUID) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM alert_rules WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("store: delete alert rule: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: delete alert rule %s: %w", id, ErrNotFound)
	}
	return nil
}

// scanAlertRule reads one row selected with alertRuleColumns.
func scanAlertRule(row pgx.CollectableRow) (AlertRule, error) {
	var a AlertRule
	err := row.Scan(&a.ID, &a.Name, &a.EnvironmentID, &a.Metric, &a.Op, &a.Threshold, &a.ForSeconds, &a.Recovery,
		&a.ContainerPattern, &a.Labels, &a.Severity, &a.Enabled, &a.CreatedAt, &a.UpdatedAt)
	if err != nil {
		return AlertRule{}, err
	}
	if a.Labels == nil {
		a.Labels = map[string]string{}
	}
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return a, nil
}

// wrapAlertRuleError maps the errors of a statement on alert_rules.
func wrapAlertRuleError(op string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("store: %s: %w", op, ErrNotFound)
	}
	code, constraint := pgErrorCode(err)
	switch {
	case code == codeUniqueViolation && constraint == "alert_rules_name_key":
		return fmt.Errorf("store: %s: %w: %w", op, ErrNameTaken, err)
	case code == codeForeignKeyViolation:
		return fmt.Errorf("store: %s: environment %w: %w", op, ErrNotFound, err)
	case code == codeCheckViolation:
		return fmt.Errorf("store: %s: %w (%s): %w", op, ErrInvalid, constraint, err)
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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
	// ChannelIDs are the channels that receive the rule's notifications:
	// empty, the channels' subscriptions decide (kinds alert_firing and
	// alert_resolved); else exactly these (enabled) channels. Never nil
	// once read.
	ChannelIDs []uuid.UUID
	// CreatedAt and UpdatedAt are set by the database.
	CreatedAt, UpdatedAt time.Time
}

// AlertRuleCaps bound the stored rules (0: no bound): Global the rules of
// every environment, PerEnvironment the rules of one environment.
type AlertRuleCaps struct {
	Global, PerEnvironment int
}

// ErrCapReached is returned when a write would take the rules of a scope
// (global, or one environment) past their cap.
var ErrCapReached = errors.New("alert rule cap reached")

const alertRuleColumns = `id, name, environment_id, metric, op, threshold, for_seconds, recovery,
	container_pattern, labels, severity, enabled, channel_ids, created_at, updated_at`

// CreateAlertRule stores a new rule and returns it as stored. It returns
// ErrNameTaken when the name is used, ErrNotFound for an unknown
// environment, ErrUnknownChannel for a channel ID that names no channel and
// ErrInvalid for a value the database refuses, ErrCapReached when the
// rule's scope (global, or its environment) holds as many rules as caps
// allow. The rule itself is validated by the caller.
func (s *Store) CreateAlertRule(ctx context.Context, a AlertRule, caps AlertRuleCaps) (AlertRule, error) {
	if a.ID == uuid.Nil {
		a.ID = uuid.New()
	}
	created, err := s.writeAlertRule(ctx, a, caps, `
		INSERT INTO alert_rules (id, name, environment_id, metric, op, threshold, for_seconds, recovery,
			container_pattern, labels, severity, enabled, channel_ids)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		RETURNING `+alertRuleColumns)
	if err != nil {
		return AlertRule{}, wrapAlertRuleError("create alert rule", err)
	}
	return created, nil
}

// writeAlertRule runs sql (an INSERT or UPDATE of alert_rules returning
// alertRuleColumns, with a's fields as $1..$13) after checking, in the same
// transaction, that a's channels exist (and keeping them until the commit)
// and that a's scope has room under caps.
func (s *Store) writeAlertRule(ctx context.Context, a AlertRule, caps AlertRuleCaps, sql string) (written AlertRule, err error) {
	if a.Labels == nil {
		a.Labels = map[string]string{}
	}
	channels := uniqueIDs(a.ChannelIDs)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := checkChannels(ctx, tx, channels); err != nil {
			return err
		}
		if err := checkRuleCap(ctx, tx, a, caps); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, sql,
			a.ID, a.Name, a.EnvironmentID, a.Metric, a.Op, a.Threshold, a.ForSeconds, a.Recovery,
			a.ContainerPattern, a.Labels, a.Severity, a.Enabled, channels)
		written, err = pgx.CollectExactlyOneRow(rows, scanAlertRule)
		return err
	})
	return written, err
}

// checkChannels returns ErrUnknownChannel unless every ID names a channel;
// the channels found are locked against deletion until tx ends.
func checkChannels(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	rows, _ := tx.Query(ctx, `SELECT id FROM notification_channels WHERE id = ANY ($1) FOR KEY SHARE`, ids)
	found, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return err
	}
	var missing []string
	for _, id := range ids {
		if !slices.Contains(found, id) {
			missing = append(missing, id.String())
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s", ErrUnknownChannel, strings.Join(missing, ", "))
	}
	return nil
}

// checkRuleCap returns ErrCapReached when a joins a scope (global, or its
// environment) that holds as many rules as caps allow; a rule replaced in
// its own scope passes, so a lowered cap never blocks editing one. The
// table lock (which reads do not wait for) makes concurrent writes count in
// turn.
func checkRuleCap(ctx context.Context, tx pgx.Tx, a AlertRule, caps AlertRuleCaps) error {
	limit := caps.PerEnvironment
	if a.EnvironmentID == nil {
		limit = caps.Global
	}
	if limit <= 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE alert_rules IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return err
	}
	var (
		n       int
		inScope bool
	)
	err := tx.QueryRow(ctx, `SELECT count(*), coalesce(bool_or(id = $1), false) FROM alert_rules
		WHERE environment_id IS NOT DISTINCT FROM $2`, a.ID, a.EnvironmentID).Scan(&n, &inScope)
	if err != nil {
		return err
	}
	if !inScope && n >= limit {
		return fmt.Errorf("%w: %d of %d", ErrCapReached, n, limit)
	}
	return nil
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
func (s *Store) UpdateAlertRule(ctx context.Context, a AlertRule, caps AlertRuleCaps) (AlertRule, error) {
	updated, err := s.writeAlertRule(ctx, a, caps, `
		UPDATE alert_rules SET
			name = $2, environment_id = $3, metric = $4, op = $5, threshold = $6, for_seconds = $7,
			recovery = $8, container_pattern = $9, labels = $10, severity = $11, enabled = $12,
			channel_ids = $13, updated_at = now()
		WHERE id = $1
		RETURNING `+alertRuleColumns)
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
		&a.ContainerPattern, &a.Labels, &a.Severity, &a.Enabled, &a.ChannelIDs, &a.CreatedAt, &a.UpdatedAt)
	if err != nil {
		return AlertRule{}, err
	}
	if a.Labels == nil {
		a.Labels = map[string]string{}
	}
	if a.ChannelIDs == nil {
		a.ChannelIDs = []uuid.UUID{}
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
	case errors.Is(err, ErrCapReached):
		return fmt.Errorf("store: %s: %w", op, err)
	case code == codeCheckViolation:
		return fmt.Errorf("store: %s: %w (%s): %w", op, ErrInvalid, constraint, err)
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

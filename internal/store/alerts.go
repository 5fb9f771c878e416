package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Alert phases as stored.
const (
	AlertFiring   = "firing"
	AlertResolved = "resolved"
)

// Alert is one row of the alert history: a transition (firing or
// resolved) of a rule on a target of an environment.
type Alert struct {
	// ID is set by the database.
	ID            int64
	EnvironmentID uuid.UUID
	// EnvironmentName is read only (ListAlerts).
	EnvironmentName string
	RuleID          uuid.UUID
	// RuleName and Severity are the rule's when the transition was stored
	// (RecordAlertTransitions fills them).
	RuleName, Severity string
	// Target is "" for the host, else the container's name.
	Target string
	// Phase is AlertFiring or AlertResolved.
	Phase string
	// At is the cycle of the transition; Since when the breach began
	// (firing) or the alert fired (resolved).
	At, Since time.Time
	// Value is the figure at At.
	Value float64
	// The rule as evaluated: metric, comparison, threshold and duration
	// (restart rules: the window) in seconds.
	Metric, Op string
	Threshold  float64
	ForSeconds int
	// Reason says why an alert resolved without its figure recovering.
	Reason string
	// Quiet records a transition without a notification (a rename: the
	// alert goes on under another name). Not stored.
	Quiet bool
}

// AlertDrafter renders the notification of a newly stored transition
// (RuleName and Severity filled). Its CauseKey and Channels are set by
// RecordAlertTransitions.
type AlertDrafter func(a Alert) NotificationDraft

// alertColumns are the columns scanAlert reads (a is alerts).
const alertColumns = `a.id, a.environment_id, a.rule_id, a.rule_name, a.severity, a.target, a.phase, a.at, a.since,
	a.value, a.metric, a.op, a.threshold, a.for_seconds, a.reason`

// RecordAlertTransitions stores the transitions of one evaluation of the
// environment's rules and, for each one newly stored, the notification
// draft(a) gives to the rule's channels (or, for a rule without channels
// or removed, to the subscribed ones), in one transaction. Each
// transition is keyed by (environment, rule, target, phase, At): stored
// again, it changes nothing and notifies no one, so a retried record is
// harmless. Its notifications have the cause key
// "alert:<env>:<rule>:<target>:<phase>:<At Unix ns>".
//
// A nil draft stores the transitions without notifications, as a Quiet
// transition is stored.
// RuleName and Severity come from the rule; a transition whose rule was
// removed (a resolution) takes them, and a missing Metric, Op, Threshold
// and ForSeconds, from the latest firing row of its rule and target.
// stored are the new rows in the order given; notificationIDs the
// notifications created. An unknown environment gives ErrNotFound.
func (s *Store) RecordAlertTransitions(ctx context.Context, envID uuid.UUID, transitions []Alert, draft AlertDrafter) (stored []Alert, notificationIDs []int64, err error) {
	if envID == uuid.Nil {
		return nil, nil, fmt.Errorf("store: record alert transitions: %w: environment ID is required", ErrInvalid)
	}
	if len(transitions) == 0 {
		return nil, nil, nil
	}
	// One array per column, for unnest.
	var (
		rules                                  []uuid.UUID
		targets, phases, metrics, ops, reasons []string
		ats, sinces                            []time.Time
		values, thresholds                     []float64
		fors                                   []int32
	)
	quiet := map[string]bool{}
	for _, t := range transitions {
		if t.Quiet {
			quiet[alertKey(envID, t)] = true
		}
		if t.RuleID == uuid.Nil || t.At.IsZero() || (t.Phase != AlertFiring && t.Phase != AlertResolved) {
			return nil, nil, fmt.Errorf("store: record alert transitions: %w: a transition needs a rule, a time and phase firing or resolved (got %q)", ErrInvalid, t.Phase)
		}
		rules, targets, phases = append(rules, t.RuleID), append(targets, t.Target), append(phases, t.Phase)
		ats, sinces, values = append(ats, t.At), append(sinces, t.Since), append(values, t.Value)
		metrics, ops, thresholds = append(metrics, t.Metric), append(ops, t.Op), append(thresholds, t.Threshold)
		fors, reasons = append(fors, int32(t.ForSeconds)), append(reasons, t.Reason)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		stored, notificationIDs = nil, nil
		rows, _ := tx.Query(ctx, `
			WITH t AS (
				SELECT * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
						$7::float8[], $8::text[], $9::text[], $10::float8[], $11::int[], $12::text[])
					WITH ORDINALITY AS t(rule_id, target, phase, at, since, value, metric, op, threshold, for_seconds, reason, ord)
			), ins AS (
				INSERT INTO alerts (environment_id, rule_id, rule_name, severity, target, phase, at, since, value,
					metric, op, threshold, for_seconds, reason)
				SELECT $1, t.rule_id, coalesce(r.name, f.rule_name, ''), coalesce(r.severity, f.severity, 'warning'),
					t.target, t.phase, t.at, t.since, t.value,
					CASE WHEN t.metric = '' THEN coalesce(f.metric, '') ELSE t.metric END,
					CASE WHEN t.metric = '' THEN coalesce(f.op, '') ELSE t.op END,
					CASE WHEN t.metric = '' THEN coalesce(f.threshold, 0) ELSE t.threshold END,
					CASE WHEN t.metric = '' THEN coalesce(f.for_seconds, 0) ELSE t.for_seconds END,
					t.reason
				FROM t
				LEFT JOIN alert_rules r ON r.id = t.rule_id
				LEFT JOIN LATERAL (
					SELECT a.rule_name, a.severity, a.metric, a.op, a.threshold, a.for_seconds FROM alerts a
					WHERE r.id IS NULL AND a.environment_id = $1 AND a.rule_id = t.rule_id AND a.target = t.target
						AND a.phase = 'firing'
					ORDER BY a.at DESC, a.id DESC LIMIT 1
				) f ON true
				ORDER BY t.ord
				ON CONFLICT (environment_id, rule_id, target, phase, at) DO NOTHING
				RETURNING *
			)
			SELECT `+alertColumns+`, coalesce(r.channel_ids, '{}')
			FROM ins a LEFT JOIN alert_rules r ON r.id = a.rule_id
			ORDER BY a.id`,
			envID, rules, targets, phases, ats, sinces, values, metrics, ops, thresholds, fors, reasons)
		var channels [][]uuid.UUID
		got, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Alert, error) {
			var (
				a   Alert
				ids []uuid.UUID
			)
			err := row.Scan(alertFields(&a, &ids)...)
			channels = append(channels, ids)
			return utcAlert(a), err
		})
		if err != nil {
			return err
		}
		stored = got
		if draft == nil {
			return nil
		}
		drafts := make([]draftRow, 0, len(got))
		for i, a := range got {
			if quiet[alertKey(envID, a)] {
				continue
			}
			d := draft(a)
			d.CauseKey = alertKey(envID, a)
			d.Channels = channels[i]
			row, err := newDraftRow(&envID, d, "")
			if err != nil {
				return err
			}
			drafts = append(drafts, row)
		}
		notificationIDs, err = insertNotifications(ctx, tx, drafts)
		return err
	})
	if err != nil {
		return nil, nil, wrapWriteError("record alert transitions", err)
	}
	return stored, notificationIDs, nil
}

// alertKey is the key of transition a of environment envID, the cause
// key of its notification.
func alertKey(envID uuid.UUID, a Alert) string {
	return fmt.Sprintf("alert:%s:%s:%s:%s:%d", envID, a.RuleID, a.Target, a.Phase, a.At.UnixNano())
}

// FiringAlerts returns the alerts of the environment firing now (the
// latest transition of their rule × target is a firing), at most limit,
// the most recently fired first.
func (s *Store) FiringAlerts(ctx context.Context, envID uuid.UUID, limit int) ([]Alert, error) {
	rows, _ := s.pool.Query(ctx, `
		WITH latest AS (`+latestAlertsSQL+`)
		SELECT `+alertColumns+` FROM latest a
		WHERE a.phase = 'firing'
		ORDER BY a.at DESC, a.id DESC LIMIT $2`, envID, limit)
	firing, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Alert, error) {
		var a Alert
		err := row.Scan(alertFields(&a)...)
		return utcAlert(a), err
	})
	if err != nil {
		return nil, fmt.Errorf("store: firing alerts of %s: %w", envID, err)
	}
	return firing, nil
}

// alertFields are the scan targets of alertColumns followed by extra.
func alertFields(a *Alert, extra ...any) []any {
	return append([]any{&a.ID, &a.EnvironmentID, &a.RuleID, &a.RuleName, &a.Severity, &a.Target, &a.Phase,
		&a.At, &a.Since, &a.Value, &a.Metric, &a.Op, &a.Threshold, &a.ForSeconds, &a.Reason}, extra...)
}

// utcAlert is a with its times in UTC.
func utcAlert(a Alert) Alert {
	a.At, a.Since = a.At.UTC(), a.Since.UTC()
	return a
}

// AlertList is what ListAlerts answers.
type AlertList struct {
	// Firing are the alerts firing now (the latest transition of their
	// rule × target is a firing), the most recently fired first.
	Firing []Alert
	// Recent are the latest transitions, newest first.
	Recent []Alert
}

// latestAlertsSQL selects the latest transition of each environment × rule
// × target (of environment $1 when not NULL).
const latestAlertsSQL = `
	SELECT DISTINCT ON (a.environment_id, a.rule_id, a.target) a.*
	FROM alerts a
	WHERE $1::uuid IS NULL OR a.environment_id = $1
	ORDER BY a.environment_id, a.rule_id, a.target, a.at DESC, a.id DESC`

// ListAlerts returns the alerts firing now and the recent transitions, of
// one environment (envID set) or of all, at most limit of each (clamped
// to 1..500), with their environment's name, in one round trip.
func (s *Store) ListAlerts(ctx context.Context, envID *uuid.UUID, limit int) (AlertList, error) {
	limit = min(max(limit, 1), 500)
	var (
		out   AlertList
		batch pgx.Batch
	)
	scan := func(row pgx.CollectableRow) (Alert, error) {
		var a Alert
		err := row.Scan(alertFields(&a, &a.EnvironmentName)...)
		return utcAlert(a), err
	}
	batch.Queue(`
		WITH latest AS (`+latestAlertsSQL+`)
		SELECT `+alertColumns+`, e.name FROM latest a JOIN environments e ON e.id = a.environment_id
		WHERE a.phase = 'firing'
		ORDER BY a.at DESC, a.id DESC LIMIT $2`, envID, limit).Query(func(rows pgx.Rows) (err error) {
		out.Firing, err = pgx.CollectRows(rows, scan)
		return err
	})
	batch.Queue(`
		SELECT `+alertColumns+`, e.name FROM alerts a JOIN environments e ON e.id = a.environment_id
		WHERE $1::uuid IS NULL OR a.environment_id = $1
		ORDER BY a.at DESC, a.id DESC LIMIT $2`, envID, limit).Query(func(rows pgx.Rows) (err error) {
		out.Recent, err = pgx.CollectRows(rows, scan)
		return err
	})
	snapshot := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err := pgx.BeginTxFunc(ctx, s.pool, snapshot, func(tx pgx.Tx) error {
		return tx.SendBatch(ctx, &batch).Close()
	})
	if err != nil {
		return AlertList{}, fmt.Errorf("store: list alerts: %w", err)
	}
	return out, nil
}

// FiringCount is the number of alerts firing in one environment at one
// severity.
type FiringCount struct {
	Environment string
	Severity    string
	Count       int
}

// CountFiringAlerts counts the alerts firing now by environment name and
// severity (only pairs with at least one), ordered by both.
func (s *Store) CountFiringAlerts(ctx context.Context) ([]FiringCount, error) {
	rows, _ := s.pool.Query(ctx, `
		WITH latest AS (`+latestAlertsSQL+`)
		SELECT e.name, a.severity, count(*)::int FROM latest a JOIN environments e ON e.id = a.environment_id
		WHERE a.phase = 'firing'
		GROUP BY e.name, a.severity
		ORDER BY e.name, a.severity`, nil)
	counts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (FiringCount, error) {
		var c FiringCount
		err := row.Scan(&c.Environment, &c.Severity, &c.Count)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: count firing alerts: %w", err)
	}
	return counts, nil
}

package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// What a collection cycle reads for the alert rules: the rules
// that apply to its environment and the restarts of its containers over the
// windows of its restart rules, sent with the CPU counters it reads anyway
// (one round trip).

// CycleInputs is what a collection cycle reads from the store before it
// reads the engine.
type CycleInputs struct {
	// Counters are LatestCPUCounters.
	Counters map[string]CPUCounters
	// Rules are AlertRulesFor.
	Rules []AlertRule
	// Restarts are ContainerRestarts over the windows of the enabled
	// restart rules (container_restarts) among Rules; empty without one.
	Restarts map[string]ContainerRestarts
}

// CycleInputs reads LatestCPUCounters(envID, maxAge), AlertRulesFor(envID)
// and the ContainerRestarts(envID, now) of its restart rules' windows in
// one batch: one round trip, as the counters alone took. (The statements
// see the rules each at its own start: a rule changed meanwhile is seen
// whole at the next cycle.)
func (s *Store) CycleInputs(ctx context.Context, envID uuid.UUID, maxAge time.Duration, now time.Time) (CycleInputs, error) {
	var (
		in    CycleInputs
		batch pgx.Batch
	)
	batch.Queue(latestCPUCountersSQL, envID, countersSince(maxAge)).Query(func(rows pgx.Rows) (err error) {
		in.Counters, err = collectCPUCounters(rows)
		return err
	})
	batch.Queue(alertRulesForSQL, envID).Query(func(rows pgx.Rows) (err error) {
		in.Rules, err = pgx.CollectRows(rows, scanAlertRule)
		return err
	})
	batch.Queue(restartsSQL(restartWindowsOfRules), envID, now.UnixNano()).Query(func(rows pgx.Rows) (err error) {
		in.Restarts, err = collectRestarts(rows)
		return err
	})
	if err := s.pool.SendBatch(ctx, &batch).Close(); err != nil {
		return CycleInputs{}, fmt.Errorf("store: cycle inputs: %w", err)
	}
	return in, nil
}

// alertRulesForSQL selects the enabled rules of environment $1 and the
// enabled global ones, by ID.
const alertRulesForSQL = `SELECT ` + alertRuleColumns + ` FROM alert_rules
	WHERE enabled AND (environment_id IS NULL OR environment_id = $1)
	ORDER BY id`

// AlertRulesFor returns the enabled rules that apply to the environment
// (its own and the global ones), ordered by ID. A collection cycle reads
// them through CycleInputs instead.
func (s *Store) AlertRulesFor(ctx context.Context, envID uuid.UUID) ([]AlertRule, error) {
	rows, _ := s.pool.Query(ctx, alertRulesForSQL, envID)
	rules, err := pgx.CollectRows(rows, scanAlertRule)
	if err != nil {
		return nil, fmt.Errorf("store: alert rules of %s: %w", envID, err)
	}
	return rules, nil
}

// ContainerRestarts are one container's restarts over some windows.
type ContainerRestarts struct {
	// ContainerID and Attributes (the container's labels, plus the image
	// and name Docker adds) are those of its latest start or create event
	// in the widest window.
	ContainerID string
	Attributes  map[string]string
	// Counts holds, per window, the restarts in (now - window, now], when
	// above 0 (a window left out: none).
	Counts map[time.Duration]int
}

// ContainerRestarts counts the restarts of each container of the
// environment, by name, over each window ending at now (CycleInputs reads
// them for the windows of the restart rules): the start events in the
// window but the first start of each container ID (one whose previous
// start or create is its create, inside the window or up to the widest
// window before the start), so that a new container is no restart while a
// policy restart (die, start) and `docker restart` (…, start, restart)
// count one each. A start without a start or create that close before it
// counts. Containers without a restart in any window are left out.
// Windows must be positive.
func (s *Store) ContainerRestarts(ctx context.Context, envID uuid.UUID, now time.Time, windows []time.Duration) (map[string]ContainerRestarts, error) {
	if len(windows) == 0 {
		return map[string]ContainerRestarts{}, nil
	}
	lengths := make([]int64, 0, len(windows))
	for _, w := range windows {
		if w <= 0 {
			return nil, fmt.Errorf("store: container restarts: %w: window %s", ErrInvalid, w)
		}
		if !slices.Contains(lengths, int64(w)) {
			lengths = append(lengths, int64(w))
		}
	}
	rows, _ := s.pool.Query(ctx, restartsSQL(restartWindowsParam), envID, now.UnixNano(), lengths)
	out, err := collectRestarts(rows)
	if err != nil {
		return nil, fmt.Errorf("store: container restarts: %w", err)
	}
	return out, nil
}

// The windows (column ns, in nanoseconds) restartsSQL counts over: given
// ($3), or those of the enabled restart rules of environment $1.
const (
	restartWindowsParam   = `SELECT unnest($3::bigint[]) AS ns`
	restartWindowsOfRules = `SELECT DISTINCT for_seconds::bigint * 1000000000 AS ns FROM alert_rules
		WHERE enabled AND metric = 'container_restarts' AND for_seconds > 0
			AND (environment_id IS NULL OR environment_id = $1)`
)

// restartsSQL counts, per container name of environment $1 and window of
// windows, the restarts (ContainerRestarts) over ($2 - window, $2] ($2:
// Unix ns), with the ID and attributes of the name's latest start or
// create. The previous start or create of a start comes from the
// container's index, over the widest window before it. Without a window it
// reads nothing.
func restartsSQL(windows string) string {
	return `
		WITH w AS (` + windows + `),
		e AS (
			SELECT c.container_name, c.container_id, c.action, c.time_nano, c.attributes,
				CASE WHEN c.action = 'start' THEN coalesce((
					SELECT p.action FROM container_events p
					WHERE p.environment_id = $1 AND p.container_id = c.container_id
						AND p.action IN ('start', 'create') AND p.time_nano < c.time_nano
						AND p.time_nano >= c.time_nano - (SELECT max(ns) FROM w)
					ORDER BY p.time_nano DESC LIMIT 1), 'start') = 'start' ELSE false END AS restart
			FROM container_events c
			WHERE c.environment_id = $1 AND c.action IN ('start', 'create') AND c.container_name <> ''
				AND c.time_nano > $2 - (SELECT max(ns) FROM w) AND c.time_nano <= $2
		)
		SELECT e.container_name, w.ns,
			count(*) FILTER (WHERE e.restart AND e.time_nano > $2 - w.ns)::int,
			(array_agg(e.container_id ORDER BY e.time_nano DESC))[1],
			(array_agg(e.attributes ORDER BY e.time_nano DESC))[1]
		FROM e CROSS JOIN w
		GROUP BY e.container_name, w.ns`
}

// collectRestarts reads the rows of restartsSQL, leaving out the
// containers without a restart.
func collectRestarts(rows pgx.Rows) (map[string]ContainerRestarts, error) {
	type row struct {
		name, id string
		window   int64
		count    int32
		attrs    map[string]string
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.name, &x.window, &x.count, &x.id, &x.attrs)
		return x, err
	})
	if err != nil {
		return nil, err
	}
	out := map[string]ContainerRestarts{}
	for _, x := range got {
		if x.count == 0 {
			continue
		}
		c, ok := out[x.name]
		if !ok {
			c = ContainerRestarts{ContainerID: x.id, Attributes: x.attrs, Counts: map[time.Duration]int{}}
		}
		c.Counts[time.Duration(x.window)] = int(x.count)
		out[x.name] = c
	}
	return out, nil
}

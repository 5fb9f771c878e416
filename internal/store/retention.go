package store

import (
	"context"
	"fmt"
	"time"
)

// Retention says how long each kind of sample is kept. A zero duration keeps
// that kind forever.
type Retention struct {
	// Metrics covers the raw rows, host_metrics and container_metrics (by
	// collected_at).
	Metrics time.Duration
	// MetricsMinute and MetricsHour cover the 1-minute and 1-hour rollups
	// (host_metrics_1m, container_metrics_1m; host_metrics_1h,
	// container_metrics_1h), by the start of their bucket.
	MetricsMinute, MetricsHour time.Duration
	// Events covers container_events (by event_time) and event_gaps (by the
	// end of the gap, to_nano: a gap goes when the events around it went).
	Events time.Duration
	// Disk covers disk_usage (by checked_at).
	Disk time.Duration
	// Notifications covers delivered and failed notifications (by
	// created_at), with their attempts. Pending ones are never pruned.
	// It covers the alert history too (alerts, by the transition's time),
	// except the last transition of an alert that still fires.
	Notifications time.Duration
}

// DefaultRetention is 7 days of raw metrics, 30 days of their 1-minute
// rollups, a year (365 days) of their 1-hour rollups, and 90 days of events,
// disk usage samples and finished notifications.
func DefaultRetention() Retention {
	const day = 24 * time.Hour
	return Retention{
		Metrics:       7 * day,
		MetricsMinute: 30 * day,
		MetricsHour:   365 * day,
		Events:        90 * day,
		Disk:          90 * day,
		Notifications: 90 * day,
	}
}

// DefaultPruneBatch is the batch size Prune uses when given batch <= 0.
const DefaultPruneBatch = 5000

// PruneResult counts the rows Prune deleted, per table.
type PruneResult struct {
	HostMetrics      int64
	ContainerMetrics int64
	// The rollup tiers.
	HostMetrics1m, HostMetrics1h           int64
	ContainerMetrics1m, ContainerMetrics1h int64
	ContainerEvents                        int64
	EventGaps                              int64
	DiskUsage                              int64
	Notifications                          int64
	Alerts                                 int64
}

// Total is the number of rows deleted over all tables.
func (r PruneResult) Total() int64 {
	return r.HostMetrics + r.ContainerMetrics + r.ContainerEvents + r.EventGaps + r.DiskUsage + r.Notifications +
		r.HostMetrics1m + r.HostMetrics1h + r.ContainerMetrics1m + r.ContainerMetrics1h + r.Alerts
}

// pruneTable is one table Prune deletes from: where selects its old rows
// given the cutoff as $1 (a timestamptz, or unix nanoseconds when nanos).
type pruneTable struct {
	name  string
	where string
	nanos bool
	keep  func(Retention) time.Duration
	count func(*PruneResult) *int64
}

// pruneTables lists the tables in the order Prune visits them. The names and
// conditions are constants: nothing here comes from a caller.
var pruneTables = []pruneTable{
	{"host_metrics", "collected_at < $1", false,
		func(r Retention) time.Duration { return r.Metrics }, func(p *PruneResult) *int64 { return &p.HostMetrics }},
	{"container_metrics", "collected_at < $1", false,
		func(r Retention) time.Duration { return r.Metrics }, func(p *PruneResult) *int64 { return &p.ContainerMetrics }},
	{"host_metrics_1m", "bucket < $1", false,
		func(r Retention) time.Duration { return r.MetricsMinute }, func(p *PruneResult) *int64 { return &p.HostMetrics1m }},
	{"container_metrics_1m", "bucket < $1", false,
		func(r Retention) time.Duration { return r.MetricsMinute }, func(p *PruneResult) *int64 { return &p.ContainerMetrics1m }},
	{"host_metrics_1h", "bucket < $1", false,
		func(r Retention) time.Duration { return r.MetricsHour }, func(p *PruneResult) *int64 { return &p.HostMetrics1h }},
	{"container_metrics_1h", "bucket < $1", false,
		func(r Retention) time.Duration { return r.MetricsHour }, func(p *PruneResult) *int64 { return &p.ContainerMetrics1h }},
	{"container_events", "event_time < $1", false,
		func(r Retention) time.Duration { return r.Events }, func(p *PruneResult) *int64 { return &p.ContainerEvents }},
	{"event_gaps", "to_nano < $1", true,
		func(r Retention) time.Duration { return r.Events }, func(p *PruneResult) *int64 { return &p.EventGaps }},
	{"disk_usage", "checked_at < $1", false,
		func(r Retention) time.Duration { return r.Disk }, func(p *PruneResult) *int64 { return &p.DiskUsage }},
	{"notifications", "status IN ('delivered', 'failed') AND created_at < $1", false,
		func(r Retention) time.Duration { return r.Notifications }, func(p *PruneResult) *int64 { return &p.Notifications }},
	// The alert history, in two passes: a firing goes once a later
	// transition (its resolution) came, so what fires now stays listed
	// however old; then a resolution goes once no firing before it is left
	// (never before its firing, which would then look like firing still).
	{"alerts", `at < $1 AND phase = 'firing' AND EXISTS (SELECT 1 FROM alerts later
		WHERE later.environment_id = alerts.environment_id AND later.rule_id = alerts.rule_id
		AND later.target = alerts.target AND later.at > alerts.at)`, false,
		func(r Retention) time.Duration { return r.Notifications }, func(p *PruneResult) *int64 { return &p.Alerts }},
	{"alerts", `at < $1 AND phase = 'resolved' AND NOT EXISTS (SELECT 1 FROM alerts earlier
		WHERE earlier.environment_id = alerts.environment_id AND earlier.rule_id = alerts.rule_id
		AND earlier.target = alerts.target AND earlier.phase = 'firing' AND earlier.at <= alerts.at)`, false,
		func(r Retention) time.Duration { return r.Notifications }, func(p *PruneResult) *int64 { return &p.Alerts }},
}

// PruneProgress is told, after every batch, the table and how many rows the
// batch deleted (0 for a table with nothing to delete or kept forever).
type PruneProgress func(table string, deleted int64)

// Prune deletes the rows older than now minus the retention of their table,
// batch rows per statement (DefaultPruneBatch when batch <= 0), each batch in
// its own short transaction so that no table stays locked for long, until
// none are left. A zero or negative duration keeps that table's rows.
// Deleted notifications take their attempts with them (ON DELETE CASCADE);
// pending notifications are never deleted.
//
// On error the result counts what was deleted before it; running Prune again
// carries on.
func (s *Store) Prune(ctx context.Context, r Retention, now time.Time, batch int) (PruneResult, error) {
	return s.PruneWithProgress(ctx, r, now, batch, nil)
}

// PruneWithProgress is Prune calling progress (when not nil) after every
// batch, e.g. to heartbeat a Temporal activity.
func (s *Store) PruneWithProgress(ctx context.Context, r Retention, now time.Time, batch int, progress PruneProgress) (PruneResult, error) {
	if batch <= 0 {
		batch = DefaultPruneBatch
	}
	var res PruneResult
	for _, t := range pruneTables {
		keep := t.keep(r)
		if keep <= 0 {
			if progress != nil {
				progress(t.name, 0)
			}
			continue
		}
		cutoff := now.Add(-keep)
		var arg any = cutoff
		if t.nanos {
			arg = cutoff.UnixNano()
		}
		// ctid identifies the row version the subquery saw; a row updated
		// in between is skipped and goes with the next run.
		sql := fmt.Sprintf(`DELETE FROM %[1]s WHERE ctid = ANY(ARRAY(SELECT ctid FROM %[1]s WHERE %[2]s LIMIT $2))`, t.name, t.where)
		n := t.count(&res)
		for {
			tag, err := s.pool.Exec(ctx, sql, arg, batch)
			if err != nil {
				return res, fmt.Errorf("store: prune %s: %w", t.name, err)
			}
			deleted := tag.RowsAffected()
			*n += deleted
			if progress != nil {
				progress(t.name, deleted)
			}
			if deleted < int64(batch) {
				break
			}
		}
	}
	return res, nil
}

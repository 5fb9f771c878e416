package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// OverviewEnvironment is one environment as the dashboard's overview shows
// it: the stored row (settings included) and the latest of its data.
type OverviewEnvironment struct {
	Environment
	// Status is the latest status transition (greatest ChangedAt, as
	// LatestStatus), nil before the first.
	Status *StatusChange
	// Latest is the host row of the latest cycle (greatest CycleAt, as
	// LatestContainerMetrics), nil when no metrics were stored.
	Latest *HostMetric
	// Disk is the latest disk sample (greatest CheckAt), nil before the
	// first disk check.
	Disk *DiskSample
	// Agent is the agent connection of an agent-placed environment, nil
	// when none is recorded.
	Agent *AgentSession
	// Sparkline holds the host averages of the 1-minute buckets from since
	// on, oldest first; empty when there are none.
	Sparkline []SparkPoint
}

// SparkPoint is the host averages of one 1-minute bucket.
type SparkPoint struct {
	// Time is the start of the bucket.
	Time time.Time
	// CPUPercent and MemoryPercent are averages of the cycles collected in
	// the bucket.
	CPUPercent, MemoryPercent float64
}

// The statements of Overview. Each reads every environment at once, so
// their number does not depend on the number of environments. The
// per-environment reads are LATERAL subqueries on an index whose leading
// column is environment_id: one short index scan per environment (the
// newest row, or the buckets from since on), never a scan of the table.
const (
	overviewEnvironmentsSQL = `SELECT ` + environmentColumns + ` FROM environments ORDER BY name, id`

	overviewStatusSQL = `
		SELECT s.id, s.environment_id, s.online, s.error, s.changed_at
		FROM environments e CROSS JOIN LATERAL (
			SELECT id, environment_id, online, error, changed_at
			FROM environment_status
			WHERE environment_id = e.id
			ORDER BY changed_at DESC -- unique per environment
			LIMIT 1) s`

	overviewHostSQL = `
		SELECT h.environment_id, h.cycle_at, h.due_at, h.collected_at, h.cpu_percent,
			h.memory_percent, h.memory_used, h.memory_total, h.containers_running
		FROM environments e CROSS JOIN LATERAL (
			SELECT environment_id, cycle_at, due_at, collected_at, cpu_percent,
				memory_percent, memory_used, memory_total, containers_running
			FROM host_metrics
			WHERE environment_id = e.id
			ORDER BY cycle_at DESC
			LIMIT 1) h`

	overviewDiskSQL = `
		SELECT d.environment_id, d.check_at, d.checked_at, d.images_bytes, d.containers_bytes,
			d.volumes_bytes, d.build_cache_bytes, d.total_bytes, d.capacity_bytes,
			d.capacity_source, d.percent, d.warned
		FROM environments e CROSS JOIN LATERAL (
			SELECT environment_id, check_at, checked_at, images_bytes, containers_bytes,
				volumes_bytes, build_cache_bytes, total_bytes, capacity_bytes,
				capacity_source, percent, warned
			FROM disk_usage
			WHERE environment_id = e.id
			ORDER BY check_at DESC
			LIMIT 1) d`

	// The 1-minute tier is written in the transaction of the raw rows
	// (InsertMetrics), so it is never behind them: like HostSeries with a
	// 1-minute step, the sparkline reads it alone. The ORDER BY of the
	// subquery keeps it from being flattened into a join that the planner
	// could run as a scan of the whole tier; each environment's buckets
	// come from one run of it, oldest first, so no sort of the whole
	// result is needed.
	overviewSparklineSQL = `
		SELECT e.id, m.bucket, m.cpu_sum / m.samples, m.memory_percent_sum / m.samples
		FROM environments e CROSS JOIN LATERAL (
			SELECT bucket, cpu_sum, memory_percent_sum, samples
			FROM host_metrics_1m
			WHERE environment_id = e.id AND bucket >= $1::timestamptz
			ORDER BY bucket) m`
)

// Overview returns every environment ordered by name, each with its latest
// status transition, host metrics and disk sample, and its 1-minute host
// averages of the buckets that start at or after since (the dashboard's
// sparkline; pass a whole minute).
//
// It runs five statements whatever the number of environments, sent
// together (one round trip) in one read-only REPEATABLE READ transaction:
// the environments and their data are of one snapshot.
func (s *Store) Overview(ctx context.Context, since time.Time) ([]OverviewEnvironment, error) {
	var (
		envs      []Environment
		statuses  []StatusChange
		hosts     []HostMetric
		disks     []DiskSample
		sparkline []sparkRow
		agents    []AgentSession
	)
	var batch pgx.Batch
	batch.Queue(overviewEnvironmentsSQL).Query(func(rows pgx.Rows) (err error) {
		envs, err = pgx.CollectRows(rows, scanEnvironment)
		return err
	})
	batch.Queue(overviewStatusSQL).Query(func(rows pgx.Rows) (err error) {
		statuses, err = pgx.CollectRows(rows, scanStatusChange)
		return err
	})
	batch.Queue(overviewHostSQL).Query(func(rows pgx.Rows) (err error) {
		hosts, err = pgx.CollectRows(rows, scanLatestHost)
		return err
	})
	batch.Queue(overviewDiskSQL).Query(func(rows pgx.Rows) (err error) {
		disks, err = pgx.CollectRows(rows, scanDiskSample)
		return err
	})
	batch.Queue(overviewSparklineSQL, since).Query(func(rows pgx.Rows) (err error) {
		sparkline, err = pgx.CollectRows(rows, scanSparkRow)
		return err
	})
	batch.Queue(`SELECT ` + agentSessionColumns + ` FROM agent_sessions`).Query(func(rows pgx.Rows) (err error) {
		agents, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (AgentSession, error) { return scanAgentSession(r) })
		return err
	})
	snapshot := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err := pgx.BeginTxFunc(ctx, s.pool, snapshot, func(tx pgx.Tx) error {
		return tx.SendBatch(ctx, &batch).Close()
	})
	if err != nil {
		return nil, fmt.Errorf("store: overview: %w", err)
	}
	out := assembleOverview(envs, statuses, hosts, disks, sparkline)
	byID := make(map[uuid.UUID]*OverviewEnvironment, len(out))
	for i := range out {
		byID[out[i].ID] = &out[i]
	}
	for i := range agents {
		if o := byID[agents[i].EnvironmentID]; o != nil {
			o.Agent = &agents[i]
		}
	}
	return out, nil
}

// assembleOverview attaches the rows read to their environments.
func assembleOverview(envs []Environment, statuses []StatusChange, hosts []HostMetric,
	disks []DiskSample, sparkline []sparkRow) []OverviewEnvironment {
	out := make([]OverviewEnvironment, len(envs))
	byID := make(map[uuid.UUID]*OverviewEnvironment, len(envs))
	for i, e := range envs {
		out[i].Environment = e
		byID[e.ID] = &out[i]
	}
	for i := range statuses {
		if o := byID[statuses[i].EnvironmentID]; o != nil {
			o.Status = &statuses[i]
		}
	}
	for i := range hosts {
		if o := byID[hosts[i].EnvironmentID]; o != nil {
			o.Latest = &hosts[i]
		}
	}
	for i := range disks {
		if o := byID[disks[i].EnvironmentID]; o != nil {
			o.Disk = &disks[i]
		}
	}
	for _, r := range sparkline {
		if o := byID[r.environmentID]; o != nil {
			o.Sparkline = append(o.Sparkline, r.point)
		}
	}
	return out
}

// sparkRow is one sparkline bucket of one environment.
type sparkRow struct {
	environmentID uuid.UUID
	point         SparkPoint
}

func scanSparkRow(row pgx.CollectableRow) (sparkRow, error) {
	var r sparkRow
	err := row.Scan(&r.environmentID, &r.point.Time, &r.point.CPUPercent, &r.point.MemoryPercent)
	r.point.Time = r.point.Time.UTC()
	return r, err
}

// scanLatestHost reads one row of overviewHostSQL.
func scanLatestHost(row pgx.CollectableRow) (HostMetric, error) {
	var (
		h       HostMetric
		dueAt   *time.Time
		running int32
	)
	err := row.Scan(&h.EnvironmentID, &h.CycleAt, &dueAt, &h.CollectedAt, &h.CPUPercent,
		&h.MemoryPercent, &h.MemoryUsed, &h.MemoryTotal, &running)
	if dueAt != nil {
		h.DueAt = dueAt.UTC()
	}
	h.CycleAt, h.CollectedAt = h.CycleAt.UTC(), h.CollectedAt.UTC()
	h.ContainersRunning = int(running)
	return h, err
}

// scanDiskSample reads one row of overviewDiskSQL.
func scanDiskSample(row pgx.CollectableRow) (DiskSample, error) {
	var d DiskSample
	err := row.Scan(&d.EnvironmentID, &d.CheckAt, &d.CheckedAt, &d.ImagesBytes, &d.ContainersBytes,
		&d.VolumesBytes, &d.BuildCacheBytes, &d.TotalBytes, &d.CapacityBytes,
		&d.CapacitySource, &d.Percent, &d.Warned)
	d.CheckAt, d.CheckedAt = d.CheckAt.UTC(), d.CheckedAt.UTC()
	return d, err
}

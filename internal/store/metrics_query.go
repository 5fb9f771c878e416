package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// CPUCounters are the raw CPU counters of a container's latest reading.
type CPUCounters struct {
	// TotalUsage is the container's cumulative CPU time.
	TotalUsage int64
	// SystemUsage is the host's cumulative CPU time.
	SystemUsage int64
	// OnlineCPUs is the number of CPUs the counters span.
	OnlineCPUs int
	// CollectedAt is when the counters were read.
	CollectedAt time.Time
}

// HostPoint is the average of the host rows of one time bucket.
type HostPoint struct {
	// Time is the start of the bucket.
	Time time.Time
	// CPUPercent and MemoryPercent are averages.
	CPUPercent, MemoryPercent float64
	// CPUPercentMax and MemoryPercentMax are the highest readings.
	CPUPercentMax, MemoryPercentMax float64
	// MemoryUsed and MemoryTotal are averages rounded to whole bytes.
	MemoryUsed, MemoryTotal int64
	// ContainersRunning is the average number of running containers.
	ContainersRunning float64
	// Samples is the number of rows averaged.
	Samples int
}

// LatestCPUCounters returns, per container ID, the CPU counters of that
// container's most recent row in the environment, ignoring rows collected more
// than maxAge ago. A maxAge of zero or less means no age limit.
func (s *Store) LatestCPUCounters(ctx context.Context, envID uuid.UUID, maxAge time.Duration) (map[string]CPUCounters, error) {
	rows, _ := s.pool.Query(ctx, latestCPUCountersSQL, envID, countersSince(maxAge))
	counters, err := collectCPUCounters(rows)
	if err != nil {
		return nil, fmt.Errorf("store: latest cpu counters: %w", err)
	}
	return counters, nil
}

// latestCPUCountersSQL selects the latest counters of each container of
// environment $1 collected since $2 (NULL: no limit).
const latestCPUCountersSQL = `
	SELECT DISTINCT ON (container_id)
		container_id, cpu_total_usage, system_cpu_usage, online_cpus, collected_at
	FROM container_metrics
	WHERE environment_id = $1
		AND ($2::timestamptz IS NULL OR collected_at >= $2::timestamptz)
	ORDER BY container_id, collected_at DESC, cycle_at DESC`

// countersSince is the oldest collection time maxAge allows (nil: none).
func countersSince(maxAge time.Duration) *time.Time {
	if maxAge <= 0 {
		return nil
	}
	t := time.Now().Add(-maxAge)
	return &t
}

// collectCPUCounters reads the rows of latestCPUCountersSQL.
func collectCPUCounters(rows pgx.Rows) (map[string]CPUCounters, error) {
	defer rows.Close()
	counters := make(map[string]CPUCounters)
	for rows.Next() {
		var (
			id     string
			c      CPUCounters
			online int32
		)
		if err := rows.Scan(&id, &c.TotalUsage, &c.SystemUsage, &online, &c.CollectedAt); err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		c.OnlineCPUs = int(online)
		c.CollectedAt = c.CollectedAt.UTC()
		counters[id] = c
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return counters, nil
}

// HostSeries averages the host rows of the environment collected in
// [from, to) into buckets of length step starting at from
// (date_bin(step, collected_at, from)), ordered by time. Buckets without rows
// are omitted. step must be at least a microsecond.
//
// It reads SeriesTier(from, step): the rollups of the coarsest tier whose
// unit divides step when from is aligned to it, so the averages are those of
// the raw rows. A rollup bucket counts whole: with a tier, the data read
// reaches to the end of to's unit (no later rows exist when to is now).
func (s *Store) HostSeries(ctx context.Context, envID uuid.UUID, from, to time.Time, step time.Duration) ([]HostPoint, error) {
	if step < time.Microsecond {
		return nil, fmt.Errorf("store: host series: %w: step %s is below a microsecond", ErrInvalid, step)
	}
	tier := SeriesTier(from, step)
	values := `avg(cpu_percent), max(cpu_percent), avg(memory_percent), max(memory_percent),
			round(avg(memory_used))::bigint, round(avg(memory_total))::bigint,
			avg(containers_running)::float8, count(*)::int`
	if tier.Unit > 0 {
		values = `sum(cpu_sum) / sum(samples), max(cpu_max), sum(memory_percent_sum) / sum(samples), max(memory_percent_max),
			round(sum(memory_used_sum)::numeric / sum(samples))::bigint, round(sum(memory_total_sum)::numeric / sum(samples))::bigint,
			(sum(containers_running_sum)::numeric / sum(samples))::float8, sum(samples)::int`
	}
	stride := pgtype.Interval{Microseconds: step.Microseconds(), Valid: true}
	rows, _ := s.pool.Query(ctx, fmt.Sprintf(`
		SELECT date_bin($4::interval, %[2]s, $2::timestamptz) AS b, %[3]s
		FROM %[1]s
		WHERE environment_id = $1
			AND %[2]s >= $2::timestamptz
			AND %[2]s < $3::timestamptz
		GROUP BY b
		ORDER BY b`, tier.host, tier.at, values),
		envID, from, to, stride)
	points, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (HostPoint, error) {
		var (
			p       HostPoint
			samples int32
		)
		err := row.Scan(&p.Time, &p.CPUPercent, &p.CPUPercentMax, &p.MemoryPercent, &p.MemoryPercentMax,
			&p.MemoryUsed, &p.MemoryTotal, &p.ContainersRunning, &samples)
		p.Time = p.Time.UTC()
		p.Samples = int(samples)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: host series: %w", err)
	}
	return points, nil
}

// LatestContainerMetrics returns the container rows of the environment's most
// recent cycle, the host row with the latest CycleAt, ordered by container
// name. It returns an empty slice when that cycle saw no container or the
// environment has no metrics.
func (s *Store) LatestContainerMetrics(ctx context.Context, envID uuid.UUID) ([]ContainerMetric, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT environment_id, cycle_at, collected_at, container_id, container_name,
			cpu_percent, memory_used, memory_limit, net_rx, net_tx,
			block_read, block_write, cpu_total_usage, system_cpu_usage, online_cpus
		FROM container_metrics
		WHERE environment_id = $1
			AND cycle_at = (SELECT max(cycle_at) FROM host_metrics WHERE environment_id = $1)
		ORDER BY container_name, container_id`,
		envID)
	metrics, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ContainerMetric, error) {
		var (
			c      ContainerMetric
			online int32
		)
		err := row.Scan(&c.EnvironmentID, &c.CycleAt, &c.CollectedAt, &c.ContainerID, &c.ContainerName,
			&c.CPUPercent, &c.MemoryUsed, &c.MemoryLimit, &c.NetRx, &c.NetTx,
			&c.BlockRead, &c.BlockWrite, &c.CPUTotalUsage, &c.SystemCPUUsage, &online)
		c.OnlineCPUs = int(online)
		c.CycleAt = c.CycleAt.UTC()
		c.CollectedAt = c.CollectedAt.UTC()
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: latest container metrics: %w", err)
	}
	return metrics, nil
}

// CountHostMetrics counts the host rows of the environment collected in
// [from, to).
func (s *Store) CountHostMetrics(ctx context.Context, envID uuid.UUID, from, to time.Time) (int, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `
		SELECT count(*) FROM host_metrics
		WHERE environment_id = $1 AND collected_at >= $2 AND collected_at < $3`,
		envID, from, to).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count host metrics: %w", err)
	}
	return int(n), nil
}

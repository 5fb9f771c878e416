package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Tier is a resolution at which metrics are kept: the raw rows of every
// cycle, or their rollups into 1-minute and 1-hour buckets
// (host_metrics_1m, host_metrics_1h, container_metrics_1m,
// container_metrics_1h; migration 00010). A rollup bucket starts at a whole
// multiple of its unit since the Unix epoch and holds the running sums,
// sample count and min/max of the raw rows collected in it.
type Tier struct {
	// Name is "raw", "1m" or "1h".
	Name string
	// Unit is the bucket length of a rollup tier, zero for raw.
	Unit time.Duration
	// host and container are the tables; at is their time column.
	host, container, at string
}

// The tiers, finest first.
var (
	TierRaw    = Tier{Name: "raw", host: "host_metrics", container: "container_metrics", at: "collected_at"}
	TierMinute = Tier{Name: "1m", Unit: time.Minute, host: "host_metrics_1m", container: "container_metrics_1m", at: "bucket"}
	TierHour   = Tier{Name: "1h", Unit: time.Hour, host: "host_metrics_1h", container: "container_metrics_1h", at: "bucket"}
)

// rollupTiers are the tiers InsertMetrics maintains, coarsest first.
var rollupTiers = []Tier{TierHour, TierMinute}

// TierForStep is the coarsest tier whose unit divides step (1h for a step
// of 2h or 3h, 1m for 5m or 90m, raw for 30s or 90s): its buckets fit the
// step's exactly.
func TierForStep(step time.Duration) Tier {
	for _, t := range rollupTiers {
		if step >= t.Unit && step%t.Unit == 0 {
			return t
		}
	}
	return TierRaw
}

// SeriesTier is the tier a series from `from` in steps of step reads: the
// coarsest whose unit divides step, provided from is a whole multiple of
// that unit since the epoch (else the step buckets would cut its buckets);
// raw otherwise. Callers that want the rollups align from with
// AlignSeriesStart.
func SeriesTier(from time.Time, step time.Duration) Tier {
	t := TierForStep(step)
	if t.Unit > 0 && from.UnixMicro()%t.Unit.Microseconds() != 0 {
		return TierRaw
	}
	return t
}

// AlignSeriesStart rounds from down to the unit of TierForStep(step), so
// that SeriesTier(AlignSeriesStart(from, step), step) is that tier.
func AlignSeriesStart(from time.Time, step time.Duration) time.Time {
	t := TierForStep(step)
	if t.Unit == 0 {
		return from
	}
	return time.UnixMicro(from.UnixMicro() - from.UnixMicro()%t.Unit.Microseconds()).UTC()
}

// rollupEpoch is the origin of the rollup buckets.
const rollupEpoch = `'1970-01-01T00:00:00Z'::timestamptz`

// queueRollups adds the cycle just stored (host, and its container rows
// already in container_metrics) to every rollup tier, in the caller's
// transaction. Containers are upserted in container ID order so that two
// cycles of one environment stored at once lock their rows in one order.
func queueRollups(batch *pgx.Batch, host HostMetric) {
	for _, t := range rollupTiers {
		unit := fmt.Sprintf("'%d seconds'::interval", int64(t.Unit/time.Second))
		batch.Queue(fmt.Sprintf(`
			INSERT INTO %[1]s AS t (environment_id, bucket, samples, cpu_sum, cpu_min, cpu_max,
				memory_percent_sum, memory_percent_max, memory_used_sum, memory_total_sum, containers_running_sum)
			VALUES ($1, date_bin(%[2]s, $2::timestamptz, %[3]s), 1, $3, $3, $3, $4, $4, $5, $6, $7)
			ON CONFLICT (environment_id, bucket) DO UPDATE SET
				samples = t.samples + 1,
				cpu_sum = t.cpu_sum + EXCLUDED.cpu_sum,
				cpu_min = least(t.cpu_min, EXCLUDED.cpu_min),
				cpu_max = greatest(t.cpu_max, EXCLUDED.cpu_max),
				memory_percent_sum = t.memory_percent_sum + EXCLUDED.memory_percent_sum,
				memory_percent_max = greatest(t.memory_percent_max, EXCLUDED.memory_percent_max),
				memory_used_sum = t.memory_used_sum + EXCLUDED.memory_used_sum,
				memory_total_sum = t.memory_total_sum + EXCLUDED.memory_total_sum,
				containers_running_sum = t.containers_running_sum + EXCLUDED.containers_running_sum`,
			t.host, unit, rollupEpoch),
			host.EnvironmentID, host.CollectedAt, host.CPUPercent, host.MemoryPercent,
			host.MemoryUsed, host.MemoryTotal, host.ContainersRunning)
		batch.Queue(fmt.Sprintf(`
			INSERT INTO %[1]s AS t (environment_id, container_id, bucket, container_name, samples,
				cpu_sum, cpu_max, memory_used_sum, memory_used_max, memory_limit_max,
				net_rx_max, net_tx_max, block_read_max, block_write_max)
			SELECT environment_id, container_id, date_bin(%[2]s, collected_at, %[3]s), container_name, 1,
				cpu_percent, cpu_percent, memory_used, memory_used, memory_limit,
				net_rx, net_tx, block_read, block_write
			FROM container_metrics
			WHERE environment_id = $1 AND cycle_at = $2
			ORDER BY container_id
			ON CONFLICT (environment_id, container_id, bucket) DO UPDATE SET
				container_name = EXCLUDED.container_name,
				samples = t.samples + 1,
				cpu_sum = t.cpu_sum + EXCLUDED.cpu_sum,
				cpu_max = greatest(t.cpu_max, EXCLUDED.cpu_max),
				memory_used_sum = t.memory_used_sum + EXCLUDED.memory_used_sum,
				memory_used_max = greatest(t.memory_used_max, EXCLUDED.memory_used_max),
				memory_limit_max = greatest(t.memory_limit_max, EXCLUDED.memory_limit_max),
				net_rx_max = greatest(t.net_rx_max, EXCLUDED.net_rx_max),
				net_tx_max = greatest(t.net_tx_max, EXCLUDED.net_tx_max),
				block_read_max = greatest(t.block_read_max, EXCLUDED.block_read_max),
				block_write_max = greatest(t.block_write_max, EXCLUDED.block_write_max)`,
			t.container, unit, rollupEpoch),
			host.EnvironmentID, host.CycleAt)
	}
}

// CountTierRows counts the host rows of the environment in tier t with a
// time in [from, to) (tests and benchmarks).
func (s *Store) CountTierRows(ctx context.Context, t Tier, envID uuid.UUID, from, to time.Time) (int, error) {
	var n int64
	err := s.pool.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %s WHERE environment_id = $1 AND %s >= $2 AND %s < $3`,
		t.host, t.at, t.at), envID, from, to).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count %s rows: %w", t.host, err)
	}
	return int(n), nil
}

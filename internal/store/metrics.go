package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// HostMetric is the engine-wide reading of one collection cycle.
type HostMetric struct {
	// EnvironmentID and CycleAt identify the cycle: a second insert of the
	// same pair (a retried activity) writes nothing.
	EnvironmentID uuid.UUID
	// CycleAt is the workflow time of the cycle.
	CycleAt time.Time
	// DueAt, when set, is the schedule slot the cycle was due at: a second
	// insert of the same (EnvironmentID, DueAt), whatever its CycleAt (a
	// check run again by a retried workflow task), writes nothing either.
	DueAt time.Time
	// CollectedAt is when the values were read.
	CollectedAt time.Time
	// CPUPercent and MemoryPercent must be finite.
	CPUPercent, MemoryPercent float64
	// MemoryUsed and MemoryTotal are in bytes.
	MemoryUsed, MemoryTotal int64
	// ContainersRunning is the number of running containers.
	ContainersRunning int
}

// ContainerMetric is the reading of one container in one collection cycle.
type ContainerMetric struct {
	// EnvironmentID and CycleAt are those of the cycle's HostMetric;
	// InsertMetrics fills them in when zero.
	EnvironmentID uuid.UUID
	// CycleAt is the workflow time of the cycle.
	CycleAt time.Time
	// CollectedAt is when the values were read; InsertMetrics uses the host
	// row's when zero.
	CollectedAt time.Time
	// ContainerID is the engine's container ID, never empty.
	ContainerID string
	// ContainerName is the container's name.
	ContainerName string
	// CPUPercent must be finite.
	CPUPercent float64
	// MemoryUsed and MemoryLimit are in bytes.
	MemoryUsed, MemoryLimit int64
	// NetRx and NetTx are the bytes received and sent.
	NetRx, NetTx int64
	// BlockRead and BlockWrite are the bytes read from and written to block
	// devices.
	BlockRead, BlockWrite int64
	// CPUTotalUsage and SystemCPUUsage are the raw CPU counters of the stats
	// read, kept so the next cycle can compute CPU % from a one-shot read.
	CPUTotalUsage, SystemCPUUsage int64
	// OnlineCPUs is the number of CPUs the counters span.
	OnlineCPUs int
}

// InsertMetrics writes the host row of a cycle and its container rows in one
// transaction, and adds them to the 1-minute and 1-hour rollup tiers in the
// same transaction. When the host row of (EnvironmentID, CycleAt) — or of
// (EnvironmentID, DueAt) when DueAt is set — already exists, as for a
// retried activity, nothing is written and inserted is false.
//
// A NaN or infinite float, a zero key, a container row of another cycle or a
// container listed twice is rejected with ErrInvalid before anything is
// written; an unknown environment gives ErrNotFound.
func (s *Store) InsertMetrics(ctx context.Context, host HostMetric, containers []ContainerMetric) (inserted bool, err error) {
	rows, err := prepareMetrics(host, containers)
	if err != nil {
		return false, fmt.Errorf("store: insert metrics: %w", err)
	}

	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("store: insert metrics: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }() // no-op after Commit

	var id int64
	err = tx.QueryRow(ctx, `
		INSERT INTO host_metrics (environment_id, cycle_at, collected_at, cpu_percent,
			memory_percent, memory_used, memory_total, containers_running, due_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT DO NOTHING -- (environment_id, cycle_at) or (environment_id, due_at)
		RETURNING id`,
		host.EnvironmentID, host.CycleAt, host.CollectedAt, host.CPUPercent,
		host.MemoryPercent, host.MemoryUsed, host.MemoryTotal, host.ContainersRunning, nullTime(host.DueAt),
	).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil // this cycle is already stored
	}
	if err != nil {
		return false, wrapWriteError("insert host metrics", err)
	}

	if len(rows) > 0 {
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"container_metrics"}, []string{
			"environment_id", "cycle_at", "collected_at", "container_id", "container_name",
			"cpu_percent", "memory_used", "memory_limit", "net_rx", "net_tx",
			"block_read", "block_write", "cpu_total_usage", "system_cpu_usage", "online_cpus",
		}, pgx.CopyFromRows(rows))
		if err != nil {
			return false, wrapWriteError("insert container metrics", err)
		}
	}

	// The rollup tiers take the cycle in this transaction, only when its
	// raw rows were stored: a retried cycle is counted once.
	var rollups pgx.Batch
	queueRollups(&rollups, host)
	if err := tx.SendBatch(ctx, &rollups).Close(); err != nil {
		return false, wrapWriteError("roll up metrics", err)
	}

	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("store: insert metrics: commit: %w", err)
	}
	return true, nil
}

// prepareMetrics validates a cycle and returns its container rows ready for
// COPY, with the keys filled in from the host row.
func prepareMetrics(host HostMetric, containers []ContainerMetric) ([][]any, error) {
	if host.EnvironmentID == uuid.Nil {
		return nil, fmt.Errorf("%w: host metric has no environment ID", ErrInvalid)
	}
	if host.CycleAt.IsZero() || host.CollectedAt.IsZero() {
		return nil, fmt.Errorf("%w: host metric needs CycleAt and CollectedAt", ErrInvalid)
	}
	if err := finite("host cpu percent", host.CPUPercent); err != nil {
		return nil, err
	}
	if err := finite("host memory percent", host.MemoryPercent); err != nil {
		return nil, err
	}

	rows := make([][]any, 0, len(containers))
	seen := make(map[string]bool, len(containers))
	for i, c := range containers {
		if c.EnvironmentID == uuid.Nil {
			c.EnvironmentID = host.EnvironmentID
		}
		if c.CycleAt.IsZero() {
			c.CycleAt = host.CycleAt
		}
		if c.CollectedAt.IsZero() {
			c.CollectedAt = host.CollectedAt
		}
		if c.EnvironmentID != host.EnvironmentID || !c.CycleAt.Equal(host.CycleAt) {
			return nil, fmt.Errorf("%w: container metric %d (%q) belongs to another cycle than the host metric",
				ErrInvalid, i, c.ContainerID)
		}
		if c.ContainerID == "" {
			return nil, fmt.Errorf("%w: container metric %d has no container ID", ErrInvalid, i)
		}
		if seen[c.ContainerID] {
			return nil, fmt.Errorf("%w: container %q appears twice in one cycle", ErrInvalid, c.ContainerID)
		}
		seen[c.ContainerID] = true
		if err := finite(fmt.Sprintf("cpu percent of container %q", c.ContainerID), c.CPUPercent); err != nil {
			return nil, err
		}
		rows = append(rows, []any{
			c.EnvironmentID, c.CycleAt, c.CollectedAt, c.ContainerID, c.ContainerName,
			c.CPUPercent, c.MemoryUsed, c.MemoryLimit, c.NetRx, c.NetTx,
			c.BlockRead, c.BlockWrite, c.CPUTotalUsage, c.SystemCPUUsage, c.OnlineCPUs,
		})
	}
	return rows, nil
}

// finite rejects NaN and infinite values, which must never be stored.
func finite(what string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("%w: %s is %v", ErrInvalid, what, v)
	}
	return nil
}

// nullTime is t, or NULL when t is zero.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

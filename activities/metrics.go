package activities

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/telemetry"
	"github.com/windflow/monitor/workflows"
)

// countersMaxAge bounds how old a container's previous CPU counters may be to
// serve as the base of a one-shot CPU reading; older ones are ignored and the
// container is read with stream=false instead.
const countersMaxAge = 15 * time.Minute

// CollectMetrics reads the stats of every running container of an
// environment, computes per-container and per-environment CPU and memory, and
// stores the cycle in one transaction keyed by (environment, CycleAt), so a
// retried attempt stores nothing twice. When alert rules apply to the
// environment, the summary carries them and the figures they read
// (Alerts; the rules and the restarts read with the previous counters);
// otherwise Alerts is nil.
func (a *Activities) CollectMetrics(ctx context.Context, in workflows.CollectMetricsInput) (_ workflows.MetricsSummary, err error) {
	start := time.Now()
	env, err := a.environment(ctx, in.EnvironmentID)
	if err != nil {
		return workflows.MetricsSummary{}, err
	}
	// One cycle per attempt, labelled with the environment's name.
	defer func() {
		outcome := telemetry.OutcomeOK
		switch {
		case isMonitorUnavailable(err):
			outcome = telemetry.OutcomeUnavailable
		case err != nil:
			outcome = telemetry.OutcomeError
		}
		telemetry.FromContext(ctx).CollectionCycleOutcome(env.Name, time.Since(start), outcome)
	}()
	cli, release, err := a.connect(ctx, env)
	if err != nil {
		return workflows.MetricsSummary{}, err
	}
	defer release()

	// The previous counters, the alert rules and the container restarts
	// their restart rules count: one round trip.
	sctx, cancel := storeContext(ctx)
	inputs, err := a.Store.CycleInputs(sctx, env.ID, countersMaxAge, in.CycleAt)
	cancel()
	if err != nil {
		return workflows.MetricsSummary{}, storeError(ctx, "load previous counters", "of "+env.Name, err)
	}
	rules := alertRules(ctx, inputs.Rules)
	prev := make(map[string]engine.CPUCounters, len(inputs.Counters))
	for id, c := range inputs.Counters {
		prev[id] = engine.CPUCounters{
			TotalUsage:  uint64(c.TotalUsage),
			SystemUsage: uint64(c.SystemUsage),
			OnlineCPUs:  uint32(c.OnlineCPUs),
			ReadAt:      c.CollectedAt,
		}
	}

	host, samples, err := a.Collector.Collect(ctx, cli, prev)
	if err != nil {
		return workflows.MetricsSummary{}, fmt.Errorf("collect from %s: %w", env.Name, err)
	}
	collectedAt := time.Now().UTC()
	hostRow := store.HostMetric{
		EnvironmentID:     env.ID,
		CycleAt:           in.CycleAt,
		DueAt:             in.DueAt,
		CollectedAt:       collectedAt,
		CPUPercent:        host.CPUPercent,
		MemoryPercent:     host.MemoryPercent,
		MemoryUsed:        clampInt64(host.MemoryUsed),
		MemoryTotal:       clampInt64(host.MemoryTotal),
		ContainersRunning: host.ContainersRunning,
	}
	rows := make([]store.ContainerMetric, 0, len(samples))
	for _, s := range samples {
		rows = append(rows, store.ContainerMetric{
			EnvironmentID:  env.ID,
			CycleAt:        in.CycleAt,
			CollectedAt:    collectedAt,
			ContainerID:    s.ID,
			ContainerName:  s.Name,
			CPUPercent:     s.CPUPercent,
			MemoryUsed:     clampInt64(s.MemoryUsed),
			MemoryLimit:    clampInt64(s.MemoryLimit),
			NetRx:          clampInt64(s.NetRx),
			NetTx:          clampInt64(s.NetTx),
			BlockRead:      clampInt64(s.BlockRead),
			BlockWrite:     clampInt64(s.BlockWrite),
			CPUTotalUsage:  clampInt64(s.Counters.TotalUsage),
			SystemCPUUsage: clampInt64(s.Counters.SystemUsage),
			OnlineCPUs:     int(s.Counters.OnlineCPUs),
		})
	}
	// The engine answered: a store that cannot take the cycle now is the
	// monitor's fault (storeError), not the engine's.
	sctx, cancel = storeContext(ctx)
	inserted, err := a.Store.InsertMetrics(sctx, hostRow, rows)
	cancel()
	if errors.Is(err, store.ErrNotFound) {
		// Deleted meanwhile: the workflow ends.
		return workflows.MetricsSummary{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("store metrics of %s: environment %s does not exist", env.Name, env.ID), errNotFound, err)
	}
	if errors.Is(err, store.ErrInvalid) {
		// Values Postgres refuses: retrying cannot help.
		return workflows.MetricsSummary{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("store metrics of %s: %v", env.Name, err), "StoreRejected", err)
	}
	if err != nil {
		return workflows.MetricsSummary{}, storeError(ctx, "store metrics", "of "+env.Name, err)
	}
	summary := workflows.MetricsSummary{
		CollectedAt:       collectedAt,
		ContainersRunning: host.ContainersRunning,
		CPUPercent:        host.CPUPercent,
		MemoryPercent:     host.MemoryPercent,
		Stored:            inserted,
	}
	summary.Alerts, err = a.alertCycleOf(ctx, env, rules, in, host, samples, inputs.Restarts)
	if err != nil {
		return workflows.MetricsSummary{}, err
	}
	return summary, nil
}

// clampInt64 converts an engine counter to Postgres' bigint.
func clampInt64(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

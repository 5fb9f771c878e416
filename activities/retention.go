package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/workflows"
)

// maxRetentionDays bounds a retention (100 years), far below the overflow
// of a time.Duration.
const maxRetentionDays = 36500

// pruneBatch is the number of rows PruneOldData deletes per statement.
const pruneBatch = 5000

// Pruner is the part of the store PruneOldData needs (*store.Store is one).
// It is separate from Store so that stores without retention keep working
// for every other activity.
type Pruner interface {
	PruneWithProgress(ctx context.Context, r store.Retention, now time.Time, batch int, progress store.PruneProgress) (store.PruneResult, error)
}

// pruneHeartbeat is the heartbeat detail of PruneOldData: where it is.
type pruneHeartbeat struct {
	Table   string
	Deleted int64
}

// PruneOldData deletes the samples older than the number of days in, per
// kind (0 keeps a kind forever), in batches of 5000 rows, heartbeating after
// every batch. A store that cannot prune, or a negative number of days, is a
// non-retryable error. A retried attempt starts over: what an earlier one
// deleted is gone and not counted again.
func (a *Activities) PruneOldData(ctx context.Context, in workflows.PruneInput) (workflows.PruneResult, error) {
	p, ok := a.Store.(Pruner)
	if !ok {
		return workflows.PruneResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("the store (%T) cannot prune old data", a.Store), "PruneUnsupported", nil)
	}
	r, err := retention(in)
	if err != nil {
		return workflows.PruneResult{}, err
	}
	logger := activity.GetLogger(ctx)
	var total pruneHeartbeat
	res, err := p.PruneWithProgress(ctx, r, time.Now(), pruneBatch, func(table string, deleted int64) {
		if table != total.Table {
			total = pruneHeartbeat{Table: table}
		}
		total.Deleted += deleted
		activity.RecordHeartbeat(ctx, total)
	})
	// The result's shape predates the rollup tiers: their rows count with
	// the raw rows of their kind.
	out := workflows.PruneResult{
		HostMetrics:      res.HostMetrics + res.HostMetrics1m + res.HostMetrics1h,
		ContainerMetrics: res.ContainerMetrics + res.ContainerMetrics1m + res.ContainerMetrics1h,
		ContainerEvents:  res.ContainerEvents,
		EventGaps:        res.EventGaps,
		DiskUsage:        res.DiskUsage,
		Notifications:    res.Notifications + res.Alerts, // the alert history counts with the notifications
	}
	if err != nil {
		logger.Warn("Pruning stopped", "Deleted", out.Total(), "Error", err)
		return out, fmt.Errorf("prune old data: %w", err)
	}
	logger.Info("Pruned old data", "Deleted", out.Total())
	return out, nil
}

// retention turns the days of in into a store.Retention.
func retention(in workflows.PruneInput) (store.Retention, error) {
	days := func(name string, n int) (time.Duration, error) {
		if n < 0 || n > maxRetentionDays {
			return 0, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("%s must be between 0 (keep forever) and %d, got %d", name, maxRetentionDays, n), "InvalidRetention", nil)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	var r store.Retention
	var err error
	if r.Metrics, err = days("metrics days", in.MetricsDays); err != nil {
		return r, err
	}
	minuteDays, hourDays := in.RollupDays()
	if r.MetricsMinute, err = days("1-minute metrics days", minuteDays); err != nil {
		return r, err
	}
	if r.MetricsHour, err = days("1-hour metrics days", hourDays); err != nil {
		return r, err
	}
	if r.Events, err = days("events days", in.EventsDays); err != nil {
		return r, err
	}
	if r.Disk, err = days("disk days", in.DiskDays); err != nil {
		return r, err
	}
	if r.Notifications, err = days("notifications days", in.NotificationsDays); err != nil {
		return r, err
	}
	return r, nil
}

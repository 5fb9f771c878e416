package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Retention: a Temporal Schedule (ID RetentionScheduleID(instance)) starts
// RetentionWorkflow every hour or so; it runs PruneOldData once, which
// deletes the samples older than the configured number of days in small
// batches. Overlapping runs are skipped by the schedule.

const (
	// RetentionWorkflowName is the registered name of RetentionWorkflow.
	RetentionWorkflowName = "Retention"
	// ActivityPruneOldData is the registered name of PruneOldData.
	ActivityPruneOldData = "PruneOldData"

	// PruneTimeout is the StartToClose timeout of one PruneOldData attempt.
	PruneTimeout = 30 * time.Minute
	// PruneHeartbeatTimeout bounds the wait between two heartbeats: PruneOldData heartbeats after every batch.
	PruneHeartbeatTimeout = time.Minute
	// PruneMaxAttempts bounds the attempts of one run: the next scheduled
	// run is the real retry.
	PruneMaxAttempts = 3
)

// RetentionScheduleID is the ID of the Temporal Schedule that starts the
// retention runs of an instance.
func RetentionScheduleID(instance string) string { return "retention/" + instance }

// RetentionWorkflowID is the workflow ID of the runs the schedule starts
// (the server appends the scheduled time).
func RetentionWorkflowID(instance string) string { return "retention-run/" + instance }

// PruneInput is how many days each kind of sample is kept; 0 keeps it
// forever.
type PruneInput struct {
	// MetricsDays covers host and container metrics.
	MetricsDays int
	// EventsDays covers container events and event gaps.
	EventsDays int
	// DiskDays covers disk usage samples.
	DiskDays int
	// NotificationsDays covers delivered and failed notifications (pending
	// ones are never pruned).
	NotificationsDays int
	// MetricsMinuteDays and MetricsHourDays cover the 1-minute and 1-hour
	// rollups of host and container metrics. Nil (the input of a schedule
	// made before they existed): DefaultMetricsMinuteDays and
	// DefaultMetricsHourDays.
	MetricsMinuteDays *int `json:",omitempty"`
	MetricsHourDays   *int `json:",omitempty"`
}

// Default retention of the rollup tiers, in days.
const (
	DefaultMetricsMinuteDays = 30
	DefaultMetricsHourDays   = 365
)

// RollupDays returns the retention of the 1-minute and 1-hour tiers, the
// defaults where in leaves them unset.
func (in PruneInput) RollupDays() (minuteDays, hourDays int) {
	minuteDays, hourDays = DefaultMetricsMinuteDays, DefaultMetricsHourDays
	if in.MetricsMinuteDays != nil {
		minuteDays = *in.MetricsMinuteDays
	}
	if in.MetricsHourDays != nil {
		hourDays = *in.MetricsHourDays
	}
	return minuteDays, hourDays
}

// DefaultPruneInput is 30 days of raw metrics, 90 days of events, disk
// samples and notifications, and the rollup tiers' defaults.
func DefaultPruneInput() PruneInput {
	minute, hour := DefaultMetricsMinuteDays, DefaultMetricsHourDays
	return PruneInput{MetricsDays: 30, EventsDays: 90, DiskDays: 90, NotificationsDays: 90,
		MetricsMinuteDays: &minute, MetricsHourDays: &hour}
}

// PruneResult counts the rows one run deleted, per table.
type PruneResult struct {
	HostMetrics      int64
	ContainerMetrics int64
	ContainerEvents  int64
	EventGaps        int64
	DiskUsage        int64
	Notifications    int64
}

// Total is the number of rows deleted over all tables.
func (r PruneResult) Total() int64 {
	return r.HostMetrics + r.ContainerMetrics + r.ContainerEvents + r.EventGaps + r.DiskUsage + r.Notifications
}

// pruneActivityOptions are the options of PruneOldData.
func pruneActivityOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: PruneTimeout,
		HeartbeatTimeout:    PruneHeartbeatTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    10 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    PruneMaxAttempts,
		},
		Summary: "prune old data",
	}
}

// RetentionWorkflow runs PruneOldData once with in and returns what it
// deleted; it is registered under RetentionWorkflowName. A failed run (after
// PruneMaxAttempts attempts) fails the workflow; the schedule starts the
// next one at its next interval.
func RetentionWorkflow(ctx workflow.Context, in PruneInput) (PruneResult, error) {
	logger := workflow.GetLogger(ctx)
	actx := workflow.WithActivityOptions(ctx, pruneActivityOptions())
	var res PruneResult
	if err := workflow.ExecuteActivity(actx, ActivityPruneOldData, in).Get(actx, &res); err != nil {
		logger.Warn("Retention run failed", "Error", err)
		return PruneResult{}, err
	}
	logger.Info("Retention run done", "Deleted", res.Total(), "Result", res)
	return res, nil
}

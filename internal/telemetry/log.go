package telemetry

import (
	"context"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
)

// Log attribute keys Windflow adds to its structured logs (log/slog, JSON).
// The Temporal SDK's own keys (WorkflowID, RunID, ActivityType, Attempt, …)
// come along on activity loggers as well.
const (
	AttrEnvironmentID = "environment_id"
	AttrEnvironment   = "environment"
	AttrWorkflowID    = "workflow_id"
)

// ActivityLogger is the activity's logger (activity.GetLogger, bridged to
// slog) with the environment's ID and name and the workflow ID as attributes.
// Call it only from inside an activity.
func ActivityLogger(ctx context.Context, environmentID, environment string) log.Logger {
	return log.With(activity.GetLogger(ctx),
		AttrEnvironmentID, environmentID,
		AttrEnvironment, environment,
		AttrWorkflowID, activity.GetInfo(ctx).WorkflowExecution.ID,
	)
}

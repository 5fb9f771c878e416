// Package worker builds the Temporal worker of Windflow: the one place that
// registers the environment workflow and its activities. Start more workers on
// the same task queue to scale out; Temporal hands each activity to one of them.
package worker

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/windflow/monitor/activities"
	"github.com/windflow/monitor/internal/telemetry"
	"github.com/windflow/monitor/workflows"
)

// StopTimeout is how long a stopping worker lets running activities finish.
const StopTimeout = 10 * time.Second

// HeartbeatThrottle caps how long the SDK holds back heartbeats. A
// cancellation (a mode switch, a pause, continue-as-new) reaches the event
// stream only with a heartbeat that reaches the server, so it arrives within
// this bound instead of 0.8 × the 30 s heartbeat timeout.
const HeartbeatThrottle = 3 * time.Second

// Option adjusts the options New builds the worker with.
type Option func(*sdkworker.Options)

// WithTelemetry puts m on the context every activity runs under
// (telemetry.FromContext), so the activities record Windflow's metrics into
// it. The SDK's own metrics come from the client's MetricsHandler
// (m.TemporalMetricsHandler()), which the worker inherits.
func WithTelemetry(m *telemetry.Metrics) Option {
	return func(o *sdkworker.Options) {
		ctx := o.BackgroundActivityContext
		if ctx == nil {
			ctx = context.Background()
		}
		o.BackgroundActivityContext = telemetry.NewContext(ctx, m)
	}
}

// New returns a worker on taskQueue with the environment workflow and every
// activity registered. The caller starts and stops it.
func New(c client.Client, taskQueue string, acts *activities.Activities, opts ...Option) sdkworker.Worker {
	o := sdkworker.Options{
		WorkerStopTimeout:            StopTimeout,
		MaxHeartbeatThrottleInterval: HeartbeatThrottle,
	}
	for _, opt := range opts {
		opt(&o)
	}
	w := sdkworker.New(c, taskQueue, o)
	Register(w, acts)
	return w
}

// Register registers every workflow (environment, notification delivery and
// dispatcher, retention) and every activity on r under the names they are
// called by.
func Register(r sdkworker.Registry, acts *activities.Activities) {
	r.RegisterWorkflowWithOptions(workflows.EnvironmentWorkflow, workflow.RegisterOptions{Name: workflows.WorkflowName})
	r.RegisterWorkflowWithOptions(workflows.NotificationDeliveryWorkflow, workflow.RegisterOptions{Name: workflows.NotificationDeliveryWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.NotificationDispatcherWorkflow, workflow.RegisterOptions{Name: workflows.NotificationDispatcherWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.RetentionWorkflow, workflow.RegisterOptions{Name: workflows.RetentionWorkflowName})
	r.RegisterActivityWithOptions(acts.CollectMetrics, activity.RegisterOptions{Name: workflows.ActivityCollectMetrics})
	r.RegisterActivityWithOptions(acts.CheckEngine, activity.RegisterOptions{Name: workflows.ActivityCheckEngine})
	r.RegisterActivityWithOptions(acts.RecordStatus, activity.RegisterOptions{Name: workflows.ActivityRecordStatus})
	r.RegisterActivityWithOptions(acts.StreamEvents, activity.RegisterOptions{Name: workflows.ActivityStreamEvents})
	r.RegisterActivityWithOptions(acts.PollEvents, activity.RegisterOptions{Name: workflows.ActivityPollEvents})
	r.RegisterActivityWithOptions(acts.CheckDisk, activity.RegisterOptions{Name: workflows.ActivityCheckDisk})
	r.RegisterActivityWithOptions(acts.RecordDiskWarning, activity.RegisterOptions{Name: workflows.ActivityRecordDiskWarning})
	r.RegisterActivityWithOptions(acts.DeliverNotification, activity.RegisterOptions{Name: workflows.ActivityDeliverNotification})
	r.RegisterActivityWithOptions(acts.MarkNotificationFailed, activity.RegisterOptions{Name: workflows.ActivityMarkNotificationFailed})
	r.RegisterActivityWithOptions(acts.DispatchNotifications, activity.RegisterOptions{Name: workflows.ActivityDispatchNotifications})
	r.RegisterActivityWithOptions(acts.PruneOldData, activity.RegisterOptions{Name: workflows.ActivityPruneOldData})
}

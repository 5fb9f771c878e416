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

// Slot budgets of one worker process (see Worker). The checks of the
// environment workflow are local activities with slots of their own; the event
// streams have a worker of their own; so a long-running stream can never
// take the slot of a check, a disk check or a notification delivery.
const (
	// DefaultMaxStreams bounds the event streams one worker process follows
	// at once (each is a goroutine and one idle HTTP connection).
	DefaultMaxStreams = 10_000
	// DefaultMaxActivities bounds the other regular activities running at
	// once (disk checks, status records, deliveries, polls, retention).
	DefaultMaxActivities = 500
	// DefaultMaxLocalActivities bounds the checks running at once.
	DefaultMaxLocalActivities = 1_000
	// DefaultWorkflowTaskPollers and DefaultActivityTaskPollers are the
	// long polls of the main task queue.
	DefaultWorkflowTaskPollers = 8
	DefaultActivityTaskPollers = 4
)

// Option adjusts the options New builds the workers with.
type Option func(*options)

// options are the options of the two workers of a process.
type options struct {
	main    sdkworker.Options
	streams sdkworker.Options
}

// WithSlots sets the slot budgets (zero or negative keeps a default):
// streams followed at once, other activities, checks.
func WithSlots(streams, activities, checks int) Option {
	return func(o *options) {
		if streams > 0 {
			o.streams.MaxConcurrentActivityExecutionSize = streams
		}
		if activities > 0 {
			o.main.MaxConcurrentActivityExecutionSize = activities
		}
		if checks > 0 {
			o.main.MaxConcurrentLocalActivityExecutionSize = checks
		}
	}
}

// WithTelemetry puts m on the context every activity runs under
// (telemetry.FromContext), so the activities record Windflow's metrics into
// it. The SDK's own metrics come from the client's MetricsHandler
// (m.TemporalMetricsHandler()), which the workers inherit.
func WithTelemetry(m *telemetry.Metrics) Option {
	return func(o *options) {
		for _, wo := range []*sdkworker.Options{&o.main, &o.streams} {
			ctx := wo.BackgroundActivityContext
			if ctx == nil {
				ctx = context.Background()
			}
			wo.BackgroundActivityContext = telemetry.NewContext(ctx, m)
		}
	}
}

// Worker is the Temporal worker of one Windflow process: a worker on the
// task queue (workflows, checks, every activity) and one on its streams
// task queue (workflows.StreamsTaskQueue) for the long-running event
// streams of the environment workflows, each with its own slot budget.
type Worker struct {
	main, streams sdkworker.Worker
	acts          *activities.Activities
	stopFailover  func()
}

// New returns the workers of taskQueue with every workflow and activity
// registered. The caller starts and stops them.
//
// Heartbeats use the SDK's default throttle (at most one a minute, or 0.8 ×
// the heartbeat timeout when shorter): the event stream's cursor is stored
// in Postgres with the events, so more frequent heartbeats buy nothing.
func New(c client.Client, taskQueue string, acts *activities.Activities, opts ...Option) *Worker {
	o := options{
		main: sdkworker.Options{
			WorkerStopTimeout: StopTimeout,
			// The SDK's 2 pollers of each kind fall behind at ~1,000
			// environments (a workflow task every 30 ms): more long polls
			// cost the server almost nothing while idle.
			MaxConcurrentWorkflowTaskPollers:        DefaultWorkflowTaskPollers,
			MaxConcurrentActivityTaskPollers:        DefaultActivityTaskPollers,
			MaxConcurrentActivityExecutionSize:      DefaultMaxActivities,
			MaxConcurrentLocalActivityExecutionSize: DefaultMaxLocalActivities,
		},
		streams: sdkworker.Options{
			WorkerStopTimeout:                  StopTimeout,
			MaxConcurrentActivityExecutionSize: DefaultMaxStreams,
		},
	}
	for _, opt := range opts {
		opt(&o)
	}
	// The event streams run detached from their activity tasks, completed
	// through c (activities/detached.go), the streams' slot budget bounding
	// them instead of the SDK's slots.
	acts.Completer = c
	acts.MaxStreams = o.streams.MaxConcurrentActivityExecutionSize
	w := &Worker{
		main:    sdkworker.New(c, taskQueue, o.main),
		streams: sdkworker.New(c, workflows.StreamsTaskQueue(taskQueue), o.streams),
		acts:    acts,
	}
	Register(w.main, acts)
	w.streams.RegisterActivityWithOptions(acts.StreamEvents, activity.RegisterOptions{Name: workflows.ActivityStreamEvents})
	return w
}

// Start takes the process's worker lease (stream failover, when
// acts.Leases is set) and starts both workers.
func (w *Worker) Start() error {
	stop, err := w.acts.StartStreamFailover(context.Background())
	if err != nil {
		return err
	}
	if err := w.main.Start(); err != nil {
		stop()
		return err
	}
	if err := w.streams.Start(); err != nil {
		w.main.Stop()
		stop()
		return err
	}
	w.stopFailover = stop
	return nil
}

// Stop stops both workers, each letting running activities finish for up
// to StopTimeout, and waits as long for the detached event streams to
// report that they stopped (so that they resume at once elsewhere).
func (w *Worker) Stop() {
	w.streams.Stop()
	w.main.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), StopTimeout)
	defer cancel()
	_ = w.acts.WaitStreams(ctx)
	if w.stopFailover != nil {
		w.stopFailover()
	}
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
	r.RegisterActivityWithOptions(acts.RecordAlertTransitions, activity.RegisterOptions{Name: workflows.ActivityRecordAlertTransitions})
	r.RegisterActivityWithOptions(acts.RecordSettings, activity.RegisterOptions{Name: workflows.ActivityRecordSettings})
	r.RegisterActivityWithOptions(acts.DeliverNotification, activity.RegisterOptions{Name: workflows.ActivityDeliverNotification})
	r.RegisterActivityWithOptions(acts.MarkNotificationFailed, activity.RegisterOptions{Name: workflows.ActivityMarkNotificationFailed})
	r.RegisterActivityWithOptions(acts.DispatchNotifications, activity.RegisterOptions{Name: workflows.ActivityDispatchNotifications})
	r.RegisterActivityWithOptions(acts.PruneOldData, activity.RegisterOptions{Name: workflows.ActivityPruneOldData})
}

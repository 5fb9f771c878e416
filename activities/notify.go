package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/windflow/monitor/internal/notify"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/telemetry"
	"github.com/windflow/monitor/workflows"
)

// Sender sends one message to a channel URL.
type Sender interface {
	Send(ctx context.Context, rawURL, title, message string) error
}

// WorkflowStarter starts workflows; a Temporal client is one.
type WorkflowStarter interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow interface{}, args ...interface{}) (client.WorkflowRun, error)
}

// Dispatch tuning.
const (
	// dispatchStaleAfter is when a dispatched but still pending notification
	// is dispatched again (its delivery workflow may never have started).
	dispatchStaleAfter = 10 * time.Minute
	dispatchBatch      = 200
)

// startDeliveries starts the delivery workflow of each new notification,
// best effort: what fails here is picked up by the dispatcher.
func (a *Activities) startDeliveries(ctx context.Context, ids []int64) {
	if len(ids) == 0 || a.Temporal == nil {
		return
	}
	started, err := a.startDeliveryWorkflows(ctx, ids)
	if err != nil {
		logger(ctx).Warn("Delivery not started; the dispatcher will retry", "Error", err)
	}
	if len(started) > 0 {
		if err := a.Store.MarkDispatched(ctx, started); err != nil {
			logger(ctx).Warn("Dispatch not recorded; the dispatcher will retry", "Error", err)
		}
	}
}

// startDeliveryWorkflows starts one NotificationDelivery workflow per ID
// ("notification/<id>"); one already started counts as started.
func (a *Activities) startDeliveryWorkflows(ctx context.Context, ids []int64) (started []int64, err error) {
	instance, err := a.instanceID(ctx)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, id := range ids {
		_, serr := a.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID:        workflows.NotificationWorkflowID(instance, id),
			TaskQueue: a.TaskQueue,
			// A delivery that completed has marked its row delivered or
			// failed; one that was terminated or timed out may run again.
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
			StaticSummary:         fmt.Sprintf("Deliver notification %d", id),
		}, workflows.NotificationDeliveryWorkflowName, workflows.DeliverNotificationInput{NotificationID: id})
		var already *serviceerror.WorkflowExecutionAlreadyStarted
		if serr == nil || errors.As(serr, &already) {
			started = append(started, id)
			continue
		}
		errs = append(errs, fmt.Errorf("start delivery of notification %d: %w", id, serr))
	}
	return started, errors.Join(errs...)
}

// instanceID is the database's instance ID, read once (it never changes).
func (a *Activities) instanceID(ctx context.Context) (string, error) {
	a.instanceMu.Lock()
	defer a.instanceMu.Unlock()
	if a.instance == "" {
		id, err := a.Store.InstanceID(ctx)
		if err != nil {
			return "", err
		}
		a.instance = id
	}
	return a.instance, nil
}

// DispatchNotifications starts delivery workflows for pending notifications
// that have none yet (the writer's own start failed, or its worker died).
func (a *Activities) DispatchNotifications(ctx context.Context) (workflows.DispatchResult, error) {
	if a.Temporal == nil {
		return workflows.DispatchResult{}, temporal.NewNonRetryableApplicationError("no Temporal client configured", "Misconfigured", nil)
	}
	ids, err := a.Store.PendingUndispatched(ctx, dispatchStaleAfter, dispatchBatch)
	if err != nil {
		return workflows.DispatchResult{}, fmt.Errorf("list pending notifications: %w", err)
	}
	started, serr := a.startDeliveryWorkflows(ctx, ids)
	if len(started) > 0 {
		if err := a.Store.MarkDispatched(ctx, started); err != nil {
			return workflows.DispatchResult{}, fmt.Errorf("record dispatch: %w", err)
		}
	}
	res := workflows.DispatchResult{Started: len(started), Pending: len(ids) - len(started)}
	return res, serr
}

// DeliverNotification makes one delivery attempt of a notification and
// records it (status, error, time). A failure is returned so that the
// workflow's retry policy tries again with backoff; an already delivered
// notification is not sent twice.
func (a *Activities) DeliverNotification(ctx context.Context, in workflows.DeliverNotificationInput) error {
	n, ch, err := a.Store.GetNotification(ctx, in.NotificationID)
	if errors.Is(err, store.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("notification %d or its channel no longer exists", in.NotificationID), "NotificationNotFound", err)
	}
	if err != nil {
		return fmt.Errorf("load notification %d: %w", in.NotificationID, err)
	}
	if n.Status == "delivered" {
		return nil
	}
	if !ch.Enabled {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("channel %q is disabled", ch.Name), "ChannelDisabled", nil)
	}
	attempt := int(activity.GetInfo(ctx).Attempt)
	sendErr := a.sender().Send(ctx, ch.URL, n.Title, n.Message)
	errText := ""
	if sendErr != nil {
		errText = sendErr.Error() // notify scrubs the URL from its errors
		telemetry.FromContext(ctx).NotificationFailed(n.Kind)
	} else {
		telemetry.FromContext(ctx).NotificationDelivered(n.Kind)
	}
	if err := a.Store.RecordAttempt(ctx, n.ID, attempt, sendErr == nil, errText); err != nil {
		return fmt.Errorf("record attempt %d of notification %d: %w", attempt, n.ID, err)
	}
	if sendErr != nil {
		return fmt.Errorf("deliver notification %d to channel %q: %s", n.ID, ch.Name, errText)
	}
	return nil
}

// MarkNotificationFailed records that delivery of a notification gave up.
func (a *Activities) MarkNotificationFailed(ctx context.Context, in workflows.MarkNotificationFailedInput) error {
	err := a.Store.MarkNotificationFailed(ctx, in.NotificationID, in.Error)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted with its channel: nothing left to mark
	}
	return err
}

func (a *Activities) sender() Sender {
	if a.Sender != nil {
		return a.Sender
	}
	return notify.Sender{}
}

// eventDrafts derives the notifications of stored container events (OOM,
// unhealthy, recovered, died unexpectedly, started, stopped).
func eventDrafts(envID uuid.UUID, envName string) store.EventDeriver {
	return func(e store.ContainerEvent, recent []store.ContainerEvent) []store.NotificationDraft {
		prior := make([]notify.Event, 0, len(recent))
		for _, r := range recent {
			prior = append(prior, notifyEvent(r))
		}
		ne := notifyEvent(e)
		kind, ok := notify.Classify(ne, prior)
		if !ok {
			return nil
		}
		title, message := notify.EventMessage(envName, kind, ne)
		return []store.NotificationDraft{{
			Kind: kind, Title: title, Message: message,
			CauseKey: fmt.Sprintf("event:%s:%d:%s:%s", envID, e.TimeNano, e.ContainerID, e.Action),
		}}
	}
}

func notifyEvent(e store.ContainerEvent) notify.Event {
	return notify.Event{
		TimeNano: e.TimeNano, ContainerID: e.ContainerID, Name: e.ContainerName, Image: e.Image,
		Action: e.Action, Attributes: e.Attributes, ExitCode: e.ExitCode,
	}
}

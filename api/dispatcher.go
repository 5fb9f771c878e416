package api

import (
	"context"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/windflow/monitor/workflows"
)

// StartDispatcher starts the singleton notification dispatcher workflow,
// or keeps the running one (use-existing).
func (s *Server) StartDispatcher(ctx context.Context) error {
	instance, err := s.Store.InstanceID(ctx)
	if err != nil {
		return fmt.Errorf("start the notification dispatcher: %w", err)
	}
	_, err = s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.NotificationDispatcherID(instance),
		TaskQueue:                s.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		StaticSummary:            "Starts the delivery of pending notifications every 30 s",
	}, workflows.NotificationDispatcherWorkflowName, workflows.DispatcherState{})
	if err != nil {
		return fmt.Errorf("start the notification dispatcher: %w", err)
	}
	return nil
}

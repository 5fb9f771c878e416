package envflow

import (
	"context"
	"errors"
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"

	"github.com/windflow/monitor/workflows"
)

// InstallationTaskQueue is the default task queue of the installation whose
// database has instance ID instance ("windflow-<instance>"): two
// installations sharing a namespace never take each other's tasks, and
// every workflow they start runs on their own queue.
func InstallationTaskQueue(instance string) string {
	return workflows.DefaultTaskQueue + "-" + instance
}

// SearchAttributes are the custom search attributes Windflow sets, with
// their types; the namespace must have them registered.
var SearchAttributes = map[string]enumspb.IndexedValueType{
	workflows.SearchAttributeEnvironment: enumspb.INDEXED_VALUE_TYPE_KEYWORD,
}

// SearchAttributeOperator is the part of Temporal's operator service that
// EnsureSearchAttributes uses (client.Client.OperatorService()).
type SearchAttributeOperator interface {
	ListSearchAttributes(ctx context.Context, in *operatorservice.ListSearchAttributesRequest, opts ...grpc.CallOption) (*operatorservice.ListSearchAttributesResponse, error)
	AddSearchAttributes(ctx context.Context, in *operatorservice.AddSearchAttributesRequest, opts ...grpc.CallOption) (*operatorservice.AddSearchAttributesResponse, error)
}

// ErrSearchAttributesMissing means the namespace lacks a search attribute
// Windflow sets: starting an environment workflow would fail.
var ErrSearchAttributesMissing = errors.New("search attributes missing")

// ErrSearchAttributesUnchecked means the server did not let this process
// list the namespace's search attributes (no permission, or a service such
// as Temporal Cloud that does not offer it to namespace users): the caller
// carries on, and a missing attribute shows when a workflow starts.
var ErrSearchAttributesUnchecked = errors.New("search attributes could not be checked")

// EnsureSearchAttributes checks that namespace has SearchAttributes. With
// register (a dev server) it registers the missing ones; otherwise the
// error wraps ErrSearchAttributesMissing and says how to register them.
func EnsureSearchAttributes(ctx context.Context, op SearchAttributeOperator, namespace string, register bool) error {
	resp, err := op.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	var denied *serviceerror.PermissionDenied
	var unimplemented *serviceerror.Unimplemented
	if errors.As(err, &denied) || errors.As(err, &unimplemented) {
		return fmt.Errorf("%w in namespace %s: %w", ErrSearchAttributesUnchecked, namespace, err)
	}
	if err != nil {
		return fmt.Errorf("list the search attributes of namespace %s: %w", namespace, err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	var problems []string
	for name, want := range SearchAttributes {
		got, ok := resp.GetCustomAttributes()[name]
		switch {
		case !ok:
			missing[name] = want
			problems = append(problems, fmt.Sprintf("%s (%s) is not registered", name, typeName(want)))
		case got != want:
			problems = append(problems, fmt.Sprintf("%s is registered as %s, want %s", name, typeName(got), typeName(want)))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	if register && len(missing) == len(problems) {
		_, err := op.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: namespace, SearchAttributes: missing})
		var exists *serviceerror.AlreadyExists
		if err == nil || errors.As(err, &exists) {
			return nil
		}
		return fmt.Errorf("register the search attributes of namespace %s: %w", namespace, err)
	}
	var how []string
	for name, want := range missing {
		how = append(how, fmt.Sprintf("temporal operator search-attribute create --namespace %s --name %s --type %s", namespace, name, typeName(want)))
	}
	return fmt.Errorf("%w in namespace %s: %s; register them (docs/operations.md): %s",
		ErrSearchAttributesMissing, namespace, strings.Join(problems, "; "), strings.Join(how, "; "))
}

// typeName is a search attribute type as the temporal CLI spells it.
func typeName(t enumspb.IndexedValueType) string {
	return strings.TrimPrefix(t.String(), "IndexedValueType")
}

// installationMoveQuery lists the running workflows of the installation
// instance other than environment workflows (the notification dispatcher,
// deliveries, retention runs) that run on another task queue than queue.
func installationMoveQuery(instance, queue string) string {
	return fmt.Sprintf("ExecutionStatus = 'Running' AND TaskQueue != '%s' AND (WorkflowId = '%s' OR WorkflowId STARTS_WITH '%s' OR WorkflowId STARTS_WITH '%s')",
		queue, workflows.NotificationDispatcherID(instance),
		strings.TrimSuffix(workflows.NotificationWorkflowID(instance, 0), "0"),
		workflows.RetentionWorkflowID(instance))
}

// moveReason is the termination reason of a workflow moved to the
// installation's task queue.
const moveReason = "moved to the installation's task queue"

// MoveInstallationWorkflows terminates the installation's own workflows
// other than environment workflows that run on another task queue than
// the controller's: no worker of this installation polls it any longer. They
// come back on the controller's queue: the dispatcher when the process
// starts it (StartBackground), a delivery when the dispatcher finds its
// notification pending, a retention run at the schedule's next turn. It
// returns how many it terminated.
func (c *Controller) MoveInstallationWorkflows(ctx context.Context, instance string) (int, error) {
	if c.Temporal == nil {
		return 0, errNoTemporal
	}
	moved := 0
	var errs []error
	var token []byte
	for {
		resp, err := c.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query:         installationMoveQuery(instance, c.TaskQueue),
			NextPageToken: token,
		})
		if err != nil {
			return moved, fmt.Errorf("list the installation's workflows on other queues: %w", err)
		}
		for _, ex := range resp.GetExecutions() {
			wid, runID := ex.GetExecution().GetWorkflowId(), ex.GetExecution().GetRunId()
			err := c.Temporal.TerminateWorkflow(ctx, wid, runID, moveReason)
			var notFound *serviceerror.NotFound
			switch {
			case err == nil:
				moved++
				c.logger().Info("workflow moved to the installation's task queue", "workflowID", wid, "from", ex.GetTaskQueue(), "to", c.TaskQueue)
			case !errors.As(err, &notFound): // NotFound: it ended meanwhile
				errs = append(errs, fmt.Errorf("terminate %s: %w", wid, err))
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return moved, errors.Join(errs...)
		}
	}
}

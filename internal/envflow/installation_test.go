package envflow

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
	"github.com/windflow/monitor/workflows"
)

// TestInstallationTaskQueue: two databases (two installations) get two
// task queues, each the same on every call.
func TestInstallationTaskQueue(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	queueOf := func() string {
		st, err := store.Open(ctx, storetest.NewSchema(t))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		instance, err := st.InstanceID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		q := InstallationTaskQueue(instance)
		if again, _ := st.InstanceID(ctx); InstallationTaskQueue(again) != q {
			t.Fatalf("the task queue of one installation changed: %s, then %s", q, InstallationTaskQueue(again))
		}
		return q
	}
	a, b := queueOf(), queueOf()
	if a == b {
		t.Fatalf("two installations share the task queue %s", a)
	}
	for _, q := range []string{a, b} {
		if !strings.HasPrefix(q, workflows.DefaultTaskQueue+"-") {
			t.Errorf("task queue %q does not start with %q", q, workflows.DefaultTaskQueue+"-")
		}
	}
	t.Logf("task queues: %s, %s", a, b)
}

// startUnrun starts a workflow of a type no worker runs, terminated when
// the test ends.
func startUnrun(ctx context.Context, t *testing.T, tc client.Client, id, queue, typ string) client.WorkflowRun {
	t.Helper()
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue}, typ)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tc.TerminateWorkflow(context.Background(), id, "", "test over") })
	return run
}

// TestUpgradeLeavesOtherQueues: the upgrade moves a stored environment's
// workflow off the bare default queue onto the installation's, and does
// not look at another installation's queue at all.
func TestUpgradeLeavesOtherQueues(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	s := newStack(ctx, t)
	stored := func() store.Environment {
		env, err := s.st.CreateEnvironment(ctx, store.Environment{
			Name: "move-" + uuid.NewString()[:8], Endpoint: "unix:///var/run/docker.sock", Settings: quietSettings(),
		})
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	// A type no worker runs, so that nothing polling the bare queue on
	// this server picks it up.
	const oldType = "EnvironmentWorkflow"
	bare, other := stored(), stored()
	onBare := startUnrun(ctx, t, s.tc, workflows.WorkflowID(bare.ID.String()), workflows.DefaultTaskQueue, oldType)
	otherQueue := "another-installation-" + uuid.NewString()
	onOther := startUnrun(ctx, t, s.tc, workflows.WorkflowID(other.ID.String()), otherQueue, oldType)

	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := s.flows.UpgradeWorkflows(ctx); err != nil {
			t.Fatal(err)
		}
		if queueOf(ctx, t, s.tc, onBare.GetID()) == s.queue {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the workflow on the bare default queue was not moved")
		}
		time.Sleep(500 * time.Millisecond)
	}
	if got := typeOf(ctx, t, s.tc, onBare.GetID(), ""); got != workflows.WorkflowName {
		t.Errorf("moved workflow is of type %s", got)
	}
	if got := queueOf(ctx, t, s.tc, onOther.GetID()); got != otherQueue {
		t.Errorf("a workflow on another queue moved to %s", got)
	}
	if got := statusOf(ctx, t, s.tc, onOther.GetID(), onOther.GetRunID()); got != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Errorf("a workflow on another queue is %s, want left running", got)
	}
}

// TestMoveInstallationWorkflows: the installation's dispatcher, deliveries
// and retention runs on another queue are terminated (to come back on its
// own); another installation's are left alone.
func TestMoveInstallationWorkflows(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	s := newStack(ctx, t)
	instance, err := s.st.InstanceID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	foreign := uuid.NewString()
	oldQueue := "old-queue-" + uuid.NewString()
	mine := []client.WorkflowRun{
		startUnrun(ctx, t, s.tc, workflows.NotificationDispatcherID(instance), oldQueue, "Unrun"),
		startUnrun(ctx, t, s.tc, workflows.NotificationWorkflowID(instance, 7), oldQueue, "Unrun"),
		startUnrun(ctx, t, s.tc, workflows.RetentionWorkflowID(instance)+"-2026-12-07T00:00:00Z", oldQueue, "Unrun"),
	}
	onMyQueue := startUnrun(ctx, t, s.tc, workflows.NotificationWorkflowID(instance, 8), s.queue, "Unrun")
	theirs := startUnrun(ctx, t, s.tc, workflows.NotificationDispatcherID(foreign), oldQueue, "Unrun")

	deadline := time.Now().Add(30 * time.Second)
	moved := 0
	for moved < len(mine) {
		n, err := s.flows.MoveInstallationWorkflows(ctx, instance)
		if err != nil {
			t.Fatal(err)
		}
		moved += n
		if time.Now().After(deadline) {
			t.Fatalf("moved %d of %d workflows", moved, len(mine))
		}
		time.Sleep(300 * time.Millisecond)
	}
	for _, run := range mine {
		if got := statusOf(ctx, t, s.tc, run.GetID(), run.GetRunID()); got != enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED {
			t.Errorf("%s is %s, want terminated", run.GetID(), got)
		}
	}
	for _, run := range []client.WorkflowRun{onMyQueue, theirs} {
		if got := statusOf(ctx, t, s.tc, run.GetID(), run.GetRunID()); got != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			t.Errorf("%s is %s, want left running", run.GetID(), got)
		}
	}
}

func queueOf(ctx context.Context, t *testing.T, tc client.Client, id string) string {
	t.Helper()
	d, err := tc.DescribeWorkflow(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	return d.RawResponse.GetExecutionConfig().GetTaskQueue().GetName()
}

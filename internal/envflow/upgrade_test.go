package envflow

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
	"github.com/windflow/monitor/internal/temporaltest"
	"github.com/windflow/monitor/workflows"
)

// TestUpgradeWorkflows starts workflows of an earlier type (no worker runs
// them) for a stored environment and for one this database does not hold:
// the first is replaced by the current type with the stored settings, the
// second is left alone.
func TestUpgradeWorkflows(t *testing.T) {
	addr := temporaltest.Address(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, storetest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	c, err := client.Dial(client.Options{HostPort: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)

	settings := workflows.DefaultSettings()
	settings.MetricsInterval = 20 * time.Second
	env, err := st.CreateEnvironment(ctx, store.Environment{
		Name: "upgrade-" + uuid.NewString()[:8], Endpoint: "unix:///var/run/docker.sock", Settings: settings,
	})
	if err != nil {
		t.Fatal(err)
	}
	queue := "upgrade-test-" + uuid.NewString()
	const oldType = "EnvironmentWorkflow"
	startOld := func(id uuid.UUID) client.WorkflowRun {
		t.Helper()
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.WorkflowID(id.String()), TaskQueue: queue},
			oldType, workflows.Input{EnvironmentID: id.String(), Name: "old"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.TerminateWorkflow(context.Background(), run.GetID(), "", "test over") })
		return run
	}
	stored := startOld(env.ID)
	foreign := startOld(uuid.New())

	flows := &Controller{Store: st, Temporal: c, TaskQueue: queue}
	deadline := time.Now().Add(30 * time.Second)
	for {
		// Visibility is eventually consistent: the new runs show up soon.
		if _, err := flows.UpgradeWorkflows(ctx); err != nil {
			t.Fatal(err)
		}
		if typeOf(ctx, t, c, stored.GetID(), "") == workflows.WorkflowName {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the workflow of the earlier type was not replaced")
		}
		time.Sleep(500 * time.Millisecond)
	}
	if got := statusOf(ctx, t, c, stored.GetID(), stored.GetRunID()); got != enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED {
		t.Errorf("old run %s, want terminated", got)
	}
	if got := statusOf(ctx, t, c, stored.GetID(), ""); got != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Errorf("new run %s, want running", got)
	}
	var in workflows.Input
	if err := firstInput(ctx, c, stored.GetID(), &in); err != nil {
		t.Fatal(err)
	}
	if in.Settings.MetricsInterval != 20*time.Second || in.Name != env.Name {
		t.Errorf("the new run started with %+v, want the stored settings and name", in)
	}
	if got := typeOf(ctx, t, c, foreign.GetID(), ""); got != oldType {
		t.Errorf("a workflow of an environment this database does not hold became %s", got)
	}
	if got := statusOf(ctx, t, c, foreign.GetID(), ""); got != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Errorf("a workflow of an environment this database does not hold is %s, want left running", got)
	}
}

func typeOf(ctx context.Context, t *testing.T, c client.Client, id, runID string) string {
	t.Helper()
	d, err := c.DescribeWorkflow(ctx, id, runID)
	if err != nil {
		t.Fatal(err)
	}
	return d.RawResponse.GetWorkflowExecutionInfo().GetType().GetName()
}

func statusOf(ctx context.Context, t *testing.T, c client.Client, id, runID string) enumspb.WorkflowExecutionStatus {
	t.Helper()
	d, err := c.DescribeWorkflow(ctx, id, runID)
	if err != nil {
		t.Fatal(err)
	}
	return d.RawResponse.GetWorkflowExecutionInfo().GetStatus()
}

// firstInput decodes the input of the current run of workflow id.
func firstInput(ctx context.Context, c client.Client, id string, in *workflows.Input) error {
	iter := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	if !iter.HasNext() {
		return fmt.Errorf("empty history of %s", id)
	}
	ev, err := iter.Next()
	if err != nil {
		return err
	}
	payloads := ev.GetWorkflowExecutionStartedEventAttributes().GetInput()
	return converter.GetDefaultDataConverter().FromPayloads(payloads, in)
}

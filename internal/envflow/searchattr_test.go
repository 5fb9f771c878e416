package envflow

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/grpc"

	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
	"github.com/windflow/monitor/internal/temporaltest"
	"github.com/windflow/monitor/workflows"
)

// fakeOperator answers ListSearchAttributes with custom (or err) and
// records AddSearchAttributes.
type fakeOperator struct {
	custom map[string]enumspb.IndexedValueType
	err    error
	added  map[string]enumspb.IndexedValueType
}

func (f *fakeOperator) ListSearchAttributes(context.Context, *operatorservice.ListSearchAttributesRequest, ...grpc.CallOption) (*operatorservice.ListSearchAttributesResponse, error) {
	return &operatorservice.ListSearchAttributesResponse{CustomAttributes: f.custom}, f.err
}

func (f *fakeOperator) AddSearchAttributes(_ context.Context, in *operatorservice.AddSearchAttributesRequest, _ ...grpc.CallOption) (*operatorservice.AddSearchAttributesResponse, error) {
	f.added = in.GetSearchAttributes()
	return &operatorservice.AddSearchAttributesResponse{}, nil
}

func TestEnsureSearchAttributes(t *testing.T) {
	ctx := t.Context()
	t.Run("registered", func(t *testing.T) {
		op := &fakeOperator{custom: maps.Clone(SearchAttributes)}
		if err := EnsureSearchAttributes(ctx, op, "default", false); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		op := &fakeOperator{}
		err := EnsureSearchAttributes(ctx, op, "prod", false)
		if !errors.Is(err, ErrSearchAttributesMissing) {
			t.Fatalf("got %v, want ErrSearchAttributesMissing", err)
		}
		want := "temporal operator search-attribute create --namespace prod --name WindflowEnvironment --type Keyword"
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error %q does not say how to register it (%q)", err, want)
		}
		if op.added != nil {
			t.Error("registered without being asked to")
		}
	})
	t.Run("registered on a dev server", func(t *testing.T) {
		op := &fakeOperator{}
		if err := EnsureSearchAttributes(ctx, op, "default", true); err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(op.added, SearchAttributes) {
			t.Errorf("registered %v, want %v", op.added, SearchAttributes)
		}
	})
	t.Run("wrong type", func(t *testing.T) {
		op := &fakeOperator{custom: map[string]enumspb.IndexedValueType{workflows.SearchAttributeEnvironment: enumspb.INDEXED_VALUE_TYPE_TEXT}}
		err := EnsureSearchAttributes(ctx, op, "default", true)
		if !errors.Is(err, ErrSearchAttributesMissing) || !strings.Contains(err.Error(), "registered as Text, want Keyword") {
			t.Fatalf("got %v", err)
		}
		if op.added != nil {
			t.Error("tried to register an attribute that exists with another type")
		}
	})
	t.Run("not allowed to list", func(t *testing.T) {
		op := &fakeOperator{err: serviceerror.NewPermissionDenied("no", "")}
		if err := EnsureSearchAttributes(ctx, op, "default", false); !errors.Is(err, ErrSearchAttributesUnchecked) {
			t.Fatalf("got %v, want ErrSearchAttributesUnchecked", err)
		}
	})
}

// TestSearchAttributesOfTestServers: the test servers register what the
// workflows set.
func TestSearchAttributesOfTestServers(t *testing.T) {
	if !maps.Equal(temporaltest.SearchAttributes, SearchAttributes) {
		t.Fatalf("temporaltest registers %v, the workflows set %v", temporaltest.SearchAttributes, SearchAttributes)
	}
}

// stack is a store schema, a Temporal client and a worker that runs the
// environment workflow on a queue of the test's own.
type stack struct {
	st    *store.Store
	tc    client.Client
	queue string
	flows *Controller
}

func newStack(ctx context.Context, t *testing.T) *stack {
	t.Helper()
	addr := temporaltest.Address(t)
	st, err := store.Open(ctx, storetest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	tc, err := client.Dial(client.Options{HostPort: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	queue := "searchattr-test-" + uuid.NewString()
	return &stack{st: st, tc: tc, queue: queue, flows: &Controller{Store: st, Temporal: tc, TaskQueue: queue}}
}

// startWorker runs the environment workflow on s.queue until the test
// ends or stop is called.
func (s *stack) startWorker(t *testing.T) (stop func()) {
	t.Helper()
	w := sdkworker.New(s.tc, s.queue, sdkworker.Options{})
	w.RegisterWorkflowWithOptions(workflows.EnvironmentWorkflow, workflow.RegisterOptions{Name: workflows.WorkflowName})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			w.Stop()
		}
	}
	t.Cleanup(stop)
	return stop
}

// quietSettings run no activity: paused, events off.
func quietSettings() workflows.Settings {
	s := workflows.DefaultSettings()
	s.Paused = true
	s.EventsEnabled = false
	return s
}

// findByName polls visibility (eventually consistent) until the query
// WindflowEnvironment="name" lists exactly the workflow IDs want, for up
// to 30 s.
func findByName(ctx context.Context, t *testing.T, tc client.Client, name string, want ...string) {
	t.Helper()
	query := fmt.Sprintf("%s = %q", workflows.SearchAttributeEnvironment, name)
	deadline := time.Now().Add(30 * time.Second)
	var got []string
	for {
		resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query + " AND ExecutionStatus = 'Running'"})
		if err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for _, ex := range resp.GetExecutions() {
			got = append(got, ex.GetExecution().GetWorkflowId())
		}
		if strings.Join(got, ",") == strings.Join(want, ",") {
			t.Logf("%s lists %v", query, got)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s lists %v, want %v", query, got, want)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestFindEnvironmentByName creates an environment, finds its workflow by
// the WindflowEnvironment search attribute, renames it and finds it by its
// new name only.
func TestFindEnvironmentByName(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	s := newStack(ctx, t)
	s.startWorker(t)
	name := "find-" + uuid.NewString()[:8]
	env, err := s.flows.Create(ctx, store.Environment{Name: name, Endpoint: "unix:///var/run/docker.sock", Settings: quietSettings()})
	if err != nil {
		t.Fatal(err)
	}
	wid := workflows.WorkflowID(env.ID.String())
	t.Cleanup(func() { _ = s.tc.TerminateWorkflow(context.Background(), wid, "", "test over") })
	findByName(ctx, t, s.tc, name, wid)

	renamed := name + "-renamed"
	saved, err := s.flows.Modify(ctx, env.ID, nil, func(e *store.Environment) error { e.Name = renamed; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if saved.SettingsPending {
		t.Error("the rename reached the workflow but the row is marked pending")
	}
	findByName(ctx, t, s.tc, renamed, wid)
	findByName(ctx, t, s.tc, name)
	state, err := s.flows.State(ctx, env.ID)
	if err != nil {
		t.Fatal(err)
	}
	if state.Name != renamed {
		t.Errorf("the workflow's state has the name %q, want %q", state.Name, renamed)
	}
}

// TestRenameWhileWorkerDown: a rename while no worker runs the workflow is
// stored and marked pending; the reconciler brings it to the workflow once
// a worker runs again.
func TestRenameWhileWorkerDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	s := newStack(ctx, t)
	stop := s.startWorker(t)
	name := "down-" + uuid.NewString()[:8]
	env, err := s.flows.Create(ctx, store.Environment{Name: name, Endpoint: "unix:///var/run/docker.sock", Settings: quietSettings()})
	if err != nil {
		t.Fatal(err)
	}
	wid := workflows.WorkflowID(env.ID.String())
	t.Cleanup(func() { _ = s.tc.TerminateWorkflow(context.Background(), wid, "", "test over") })
	stop()

	renamed := name + "-renamed"
	saved, err := s.flows.Modify(ctx, env.ID, nil, func(e *store.Environment) error { e.Name = renamed; return nil })
	if err != nil {
		t.Fatalf("a rename the workflow could not hear of failed: %v", err)
	}
	if saved.Name != renamed || !saved.SettingsPending {
		t.Fatalf("stored %q pending=%t, want %q pending", saved.Name, saved.SettingsPending, renamed)
	}
	s.startWorker(t)
	if n, err := s.flows.SyncPending(ctx); err != nil || n != 1 {
		t.Fatalf("SyncPending synced %d: %v", n, err)
	}
	findByName(ctx, t, s.tc, renamed, wid)
}

// TestUpgradeSetsMissingSearchAttribute: a running environment workflow
// started without the search attribute gets it from the upgrade, with its
// stored name.
func TestUpgradeSetsMissingSearchAttribute(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	s := newStack(ctx, t)
	s.startWorker(t)
	env, err := s.st.CreateEnvironment(ctx, store.Environment{
		Name: "backfill-" + uuid.NewString()[:8], Endpoint: "unix:///var/run/docker.sock", Settings: quietSettings(),
	})
	if err != nil {
		t.Fatal(err)
	}
	wid := workflows.WorkflowID(env.ID.String())
	run, err := s.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wid, TaskQueue: s.queue}, workflows.WorkflowName,
		workflows.Input{EnvironmentID: env.ID.String(), Name: env.Name, Settings: env.Settings})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.tc.TerminateWorkflow(context.Background(), wid, "", "test over") })

	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := s.flows.UpgradeWorkflows(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the workflow without the search attribute was not listed")
		}
		time.Sleep(300 * time.Millisecond)
	}
	findByName(ctx, t, s.tc, env.Name, wid)
	if got := statusOf(ctx, t, s.tc, wid, run.GetRunID()); got != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Errorf("the run is %s, want still running (not replaced)", got)
	}
}

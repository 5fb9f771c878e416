package api

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/envflow"
	"github.com/windflow/monitor/internal/notify"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/workflows"
)

// NewTestServer builds a Server for a test. Parts deps leaves out are
// filled in: a Store that answers errStub to the calls of the security
// tests (any other call panics), Flows on the Store when it is a real one
// (without Temporal unless FlowsFor gave it) or else answering errStub,
// and notify.Sender.
func NewTestServer(t testing.TB, cfg Config, deps Deps) *Server {
	t.Helper()
	if deps.Store == nil {
		deps.Store = stubStore{}
	}
	if deps.Flows == nil {
		if st, ok := deps.Store.(envflow.Store); ok {
			deps.Flows = &envflow.Controller{Store: st}
		} else {
			deps.Flows = stubFlows{}
		}
	}
	if deps.Sender == nil {
		deps.Sender = notify.Sender{Timeout: testSendTimeout}
	}
	srv, err := New(cfg, deps)
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	return srv
}

// FlowsFor is the controller of environment workflows a command would
// wire: st and tc on taskQueue.
func FlowsFor(st envflow.Store, tc envflow.Temporal, taskQueue string) *envflow.Controller {
	return &envflow.Controller{Store: st, Temporal: tc, TaskQueue: taskQueue}
}

// errStub is the answer of the stub parts: a plain error, so a 500.
var errStub = errors.New("stub: no database or Temporal in this test")

// stubStore is a Store that is not there: the reads a request makes once it
// is past the middleware answer errStub.
type stubStore struct{ Store }

func (stubStore) Ping(context.Context) error { return errStub }
func (stubStore) ListEventsPage(context.Context, store.EventQuery) ([]store.ContainerEvent, *store.EventPosition, error) {
	return nil, nil, errStub
}
func (stubStore) GetEnvironment(context.Context, uuid.UUID) (store.Environment, error) {
	return store.Environment{}, errStub
}
func (stubStore) GetChannel(context.Context, uuid.UUID) (store.Channel, error) {
	return store.Channel{}, errStub
}
func (stubStore) Listen(context.Context, []string, func(string, string), func()) error {
	return errStub
}
func (stubStore) EventsChannel() string { return "events" }
func (stubStore) StatusChannel() string { return "status" }
func (stubStore) StreamHead(context.Context) (store.StreamHead, error) {
	return store.StreamHead{}, errStub
}

// stubFlows is a Flows whose every call answers errStub.
type stubFlows struct{}

func (stubFlows) Create(context.Context, store.Environment) (store.Environment, error) {
	return store.Environment{}, errStub
}
func (stubFlows) Modify(context.Context, uuid.UUID, []int64, func(*store.Environment) error) (store.Environment, error) {
	return store.Environment{}, errStub
}
func (stubFlows) Configure(context.Context, uuid.UUID, []int64, workflows.SettingsPatch) (store.Environment, workflows.State, error) {
	return store.Environment{}, workflows.State{}, errStub
}
func (stubFlows) Delete(context.Context, uuid.UUID, []int64) error { return errStub }
func (stubFlows) State(context.Context, uuid.UUID) (workflows.State, error) {
	return workflows.State{}, errStub
}
func (stubFlows) CheckHealth(context.Context) error { return errStub }

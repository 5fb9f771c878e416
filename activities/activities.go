// Package activities holds the Temporal activities of Windflow: every I/O
// step of the environment workflow (reading Docker engines, writing Postgres)
// lives here. Activities load an environment's connection details from
// Postgres by ID, so that no endpoint secret ever travels through workflow
// inputs, results or history.
package activities

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/moby/moby/client"
	"go.temporal.io/sdk/temporal"

	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/notify"
	"github.com/windflow/monitor/internal/secretbox"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/telemetry"
	"github.com/windflow/monitor/workflows"
)

// Store is what the activities need from Postgres.
type Store interface {
	GetEnvironment(ctx context.Context, id uuid.UUID) (store.Environment, error)
	LockEnvironment(ctx context.Context, id uuid.UUID, fn func(ctx context.Context, tx *store.EnvironmentTx) error) error
	CycleInputs(ctx context.Context, envID uuid.UUID, maxAge time.Duration, now time.Time) (store.CycleInputs, error)
	RecordAlertTransitions(ctx context.Context, envID uuid.UUID, transitions []store.Alert, draft store.AlertDrafter) ([]store.Alert, []int64, error)
	FiringAlerts(ctx context.Context, envID uuid.UUID, limit int) ([]store.Alert, error)
	InsertMetrics(ctx context.Context, host store.HostMetric, containers []store.ContainerMetric) (bool, error)
	RecordStatus(ctx context.Context, c store.StatusChange, draft *store.NotificationDraft) (bool, []int64, error)
	InsertEventsNotify(ctx context.Context, envID uuid.UUID, events []store.ContainerEvent, cursor int64, derive store.EventDeriver) (int, []int64, error)
	EventCursor(ctx context.Context, envID uuid.UUID) (int64, error)
	RecordGap(ctx context.Context, g store.EventGap) (bool, error)
	RingSeen(ctx context.Context, envID uuid.UUID) (bool, error)
	SetRingSeen(ctx context.Context, envID uuid.UUID, seen bool) error
	InsertDiskSample(ctx context.Context, d store.DiskSample) (bool, error)
	RecordDiskWarning(ctx context.Context, envID uuid.UUID, checkAt time.Time, draft store.NotificationDraft) ([]int64, error)
	GetNotification(ctx context.Context, id int64) (store.Notification, store.Channel, error)
	RecordAttempt(ctx context.Context, id int64, attempt int, ok bool, errText string) error
	MarkNotificationFailed(ctx context.Context, id int64, errText string) error
	MarkDispatched(ctx context.Context, ids []int64) error
	PendingUndispatched(ctx context.Context, staleAfter time.Duration, limit int) ([]int64, error)
	InstanceID(ctx context.Context) (string, error)
}

// AgentDialer opens a connection to the engine of an agent-placed
// environment, through its agent.
type AgentDialer interface {
	DialAgent(ctx context.Context, envID uuid.UUID) (net.Conn, error)
}

// Activities holds the dependencies of every activity. Register it with
// worker.Register.
type Activities struct {
	Store     Store
	Collector engine.Collector
	// Events tunes StreamEvents and PollEvents.
	Events EventOptions
	// Temporal starts notification deliveries (nil: only the dispatcher
	// sweep starts them, and DispatchNotifications fails). TaskQueue is
	// where they run.
	Temporal  WorkflowStarter
	TaskQueue string
	// Sender delivers notifications; notify.Sender{} when nil.
	Sender Sender
	// Links are the links alert notifications carry (the dashboard, the
	// Temporal Web UI); zero: none.
	Links notify.Links
	// AlertCaps bound the alerts of an environment (zero fields: the
	// defaults).
	AlertCaps workflows.AlertCaps

	// instance caches Store.InstanceID.
	instanceMu sync.Mutex
	instance   string
	// Connect opens a client for an engine endpoint; engine.NewClient when
	// nil. Environments with TLS material always use engine.NewClient.
	Connect func(ctx context.Context, endpoint string) (*client.Client, error)
	// clients caches one engine client per environment.
	clients clientCache
	// Completer, when set, detaches the event streams from their activity
	// tasks (see detached.go); MaxStreams (> 0) then bounds the streams
	// this Activities follows at once. worker.New sets both.
	Completer  Completer
	MaxStreams int
	// streams ends the event streams of a stopping worker at once and
	// counts the detached ones.
	streams streamStops
	// Leases, when set, runs the stream failover (failover.go) of the
	// worker process WorkerID (NewWorkerID when empty).
	Leases   StreamLeases
	WorkerID string
	// Agents reaches the engines of agent-placed environments (an
	// *agenthub.Dialer); nil fails their activities.
	Agents AgentDialer
	// Secrets opens the sealed TLS material of environments (a
	// *secretbox.Box from WINDFLOW_SECRET_KEY, the API's key). Nil, or a nil
	// Box, fails the activities of environments that have TLS material.
	Secrets engine.Sealer
}

// errNotFound is the type of the non-retryable error returned when an
// environment does not exist (any more): its workflow ends.
const errNotFound = workflows.ErrTypeEnvironmentNotFound

// environment loads an environment by ID; an unknown or malformed ID is a
// non-retryable error (errNotFound), PostgreSQL unavailable the monitor's
// own fault (see storeError).
func (a *Activities) environment(ctx context.Context, id string) (store.Environment, error) {
	envID, err := uuid.Parse(id)
	if err != nil {
		return store.Environment{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("bad environment id %q", id), errNotFound, err)
	}
	sctx, cancel := storeContext(ctx)
	defer cancel()
	env, err := a.Store.GetEnvironment(sctx, envID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Environment{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("environment %s does not exist", id), errNotFound, err)
	}
	if err != nil {
		return store.Environment{}, storeError(ctx, "load environment", id, err)
	}
	telemetry.FromContext(ctx).StoreAvailable()
	return env, nil
}

// connect returns the environment's engine client, with its TLS material
// when it has some: opened here, in the activity, from the sealed copy
// loaded by ID, so that it never travels through workflow inputs, results
// or history. The client is cached per environment (see clientCache) and
// built without talking to the engine: the first request of the activity
// is what finds an engine unreachable. Call release when done; never Close
// the client. Errors never include the material.
func (a *Activities) connect(ctx context.Context, env store.Environment) (*client.Client, func(), error) {
	var sealed []byte
	if env.TLS != nil {
		sealed = env.TLS.Sealed
	}
	cli, release, err := a.clients.acquire(env.ID, clientKey(env.Endpoint, sealed), func() (*client.Client, error) {
		return a.newClient(ctx, env)
	})
	if errors.Is(err, engine.ErrBadEndpoint) {
		return nil, nil, temporal.NewNonRetryableApplicationError(err.Error(), "BadEndpoint", err)
	}
	if errors.Is(err, engine.ErrBadTLS) {
		return nil, nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("environment %s: %s", env.Name, err.Error()), "BadTLS", err)
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return nil, nil, err
	}
	if err != nil {
		return nil, nil, fmt.Errorf("connect to environment %s: %w", env.Name, err)
	}
	return cli, release, nil
}

// newClient builds the client of env: a.Connect when set (tests), else
// engine.NewClient with the opened TLS material.
func (a *Activities) newClient(ctx context.Context, env store.Environment) (*client.Client, error) {
	var material *engine.TLSMaterial
	if env.TLS != nil {
		m, err := a.openTLS(env)
		if err != nil {
			return nil, err
		}
		material = &m
	}
	if engine.IsAgentEndpoint(env.Endpoint) {
		if a.Agents == nil {
			return nil, temporal.NewApplicationError(
				fmt.Sprintf("environment %s is behind an agent but this worker has no agent relay", env.Name), "AgentRelayMissing")
		}
		return engine.NewAgentClient(func(ctx context.Context) (net.Conn, error) {
			return a.Agents.DialAgent(ctx, env.ID)
		})
	}
	if a.Connect != nil && material == nil {
		return a.Connect(ctx, env.Endpoint)
	}
	return engine.NewClient(env.Endpoint, material)
}

// CloseClients closes the engine clients a keeps (see clientCache);
// activities running later open new ones. A function, not a method: every
// exported method of Activities is an activity to a worker that registers
// the struct.
func CloseClients(a *Activities) { a.clients.closeAll() }

// openTLS opens the environment's sealed TLS material. A worker without the
// key, or with another key, fails retryably (another worker may have it,
// or the operator fixes the configuration: the workflow meanwhile sees the
// environment as unreachable); sealed bytes that open to something that is
// not material fail for good.
func (a *Activities) openTLS(env store.Environment) (engine.TLSMaterial, error) {
	if a.Secrets == nil {
		return engine.TLSMaterial{}, temporal.NewApplicationError(
			fmt.Sprintf("environment %s has TLS material but this worker has no WINDFLOW_SECRET_KEY", env.Name), "SecretKeyMissing")
	}
	m, err := engine.OpenTLS(a.Secrets, env.ID.String(), env.TLS.Sealed)
	switch {
	case errors.Is(err, secretbox.ErrNoKey):
		return engine.TLSMaterial{}, temporal.NewApplicationError(
			fmt.Sprintf("environment %s has TLS material but this worker has no WINDFLOW_SECRET_KEY", env.Name), "SecretKeyMissing")
	case errors.Is(err, engine.ErrBadTLS):
		return engine.TLSMaterial{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("environment %s: %s", env.Name, err.Error()), "BadTLS", nil)
	case err != nil:
		return engine.TLSMaterial{}, temporal.NewApplicationError(
			fmt.Sprintf("environment %s: cannot open its TLS material (is WINDFLOW_SECRET_KEY the API's key?): %s", env.Name, err.Error()), "SecretKeyMismatch")
	}
	return m, nil
}

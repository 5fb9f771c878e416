package api

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/workflows"
)

// Store is what the API needs from PostgreSQL; *store.Store implements it.
type Store interface {
	EnvironmentStore
	EventStore
	NotificationStore
	AlertRuleStore
	AlertStore
	ContainerSeriesStore
	AgentStore
}

// EnvironmentStore is what the environment, series, status and overview
// routes read from PostgreSQL (changes go through Flows).
type EnvironmentStore interface {
	Ping(ctx context.Context) error
	GetEnvironment(ctx context.Context, id uuid.UUID) (store.Environment, error)
	GetEnvironmentByName(ctx context.Context, name string) (store.Environment, error)
	ListEnvironments(ctx context.Context) ([]store.Environment, error)
	HostSeries(ctx context.Context, envID uuid.UUID, from, to time.Time, step time.Duration) ([]store.HostPoint, error)
	LatestContainerMetrics(ctx context.Context, envID uuid.UUID) ([]store.ContainerMetric, error)
	LatestStatus(ctx context.Context, envID uuid.UUID) (store.StatusChange, error)
	StatusHistory(ctx context.Context, envID uuid.UUID, limit int) ([]store.StatusChange, error)
	Overview(ctx context.Context, since time.Time) ([]store.OverviewEnvironment, error)
}

// Flows is what the API needs of the orchestration of environment
// workflows; *envflow.Controller implements it. Its errors are those of
// envflow (ErrVersionMismatch, ErrWorkflowUnavailable, ErrNotRunning,
// *SettingsError) and of the store.
type Flows interface {
	// Create stores a new environment and starts its workflow.
	Create(ctx context.Context, env store.Environment) (store.Environment, error)
	// Modify changes the fields of an environment its workflow does not hold.
	Modify(ctx context.Context, id uuid.UUID, ifMatch []int64, change func(env *store.Environment) error) (store.Environment, error)
	// Configure changes an environment's settings and applies them.
	Configure(ctx context.Context, id uuid.UUID, ifMatch []int64, patch workflows.SettingsPatch) (store.Environment, workflows.State, error)
	// Delete stops an environment's workflow and deletes it.
	Delete(ctx context.Context, id uuid.UUID, ifMatch []int64) error
	// State is the live state of an environment's workflow.
	State(ctx context.Context, id uuid.UUID) (workflows.State, error)
	// CheckHealth reports whether Temporal answers (/readyz).
	CheckHealth(ctx context.Context) error
}

// Sender sends one notification to a channel URL (notify.Sender does). Its
// errors must not contain the URL; the API scrubs them once more anyway.
type Sender interface {
	Send(ctx context.Context, url, title, message string) error
}

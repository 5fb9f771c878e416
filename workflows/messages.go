// Package workflows holds the environment workflow: one long-running workflow
// per watched Docker engine that collects metrics on a timer and tracks whether
// the engine is reachable. Everything in this package is deterministic
// workflow code or plain data shared with the API and the activities.
package workflows

import (
	"errors"
	"fmt"
	"time"
)

// Message and activity names shared by the workflow, the worker and the API.
const (
	// WorkflowName is the registered name of the environment workflow.
	WorkflowName = "EnvironmentWorkflow"
	// UpdateConfigure changes an environment's settings; it is validated and
	// answered synchronously.
	UpdateConfigure = "configure"
	// SignalConfigure carries the same payload as UpdateConfigure, fire and
	// forget; an invalid value is logged and leaves the state unchanged.
	SignalConfigure = "configure"
	// QueryState returns the live State.
	QueryState = "state"

	// ActivityCollectMetrics reads container stats and stores one cycle.
	ActivityCollectMetrics = "CollectMetrics"
	// ActivityCheckEngine pings the engine when metric collection is off, so
	// that reachability is still known.
	ActivityCheckEngine = "CheckEngine"
	// ActivityRecordStatus stores one online/offline transition.
	ActivityRecordStatus = "RecordStatus"

	// DefaultTaskQueue is the task queue used when none is configured.
	DefaultTaskQueue = "windflow"
)

// Limits and defaults of the settings.
const (
	DefaultMetricsInterval = 30 * time.Second
	MinMetricsInterval     = 10 * time.Second
	MaxMetricsInterval     = 5 * time.Minute
	// DefaultOfflineAfter is how many consecutive failed checks turn an
	// environment offline, so that one blip does not page anyone.
	DefaultOfflineAfter = 2
	// MaxOfflineAfter bounds OfflineAfter.
	MaxOfflineAfter = 20
)

// WorkflowID returns the workflow ID of an environment: "environment/<uuid>".
func WorkflowID(environmentID string) string { return "environment/" + environmentID }

// Settings is the environment's configuration as the workflow applies it.
type Settings struct {
	// MetricsInterval is the time between two collection cycles.
	MetricsInterval time.Duration `json:"metricsInterval"`
	// CollectMetrics turns metric collection on or off; when off the engine
	// is still pinged on the same cadence to keep its status known.
	CollectMetrics bool `json:"collectMetrics"`
	// Paused stops all activity for the environment until resumed.
	Paused bool `json:"paused"`
	// OfflineAfter is the number of consecutive failed checks before the
	// environment is declared offline.
	OfflineAfter int `json:"offlineAfter"`
}

// DefaultSettings returns the settings of a new environment.
func DefaultSettings() Settings {
	return Settings{
		MetricsInterval: DefaultMetricsInterval,
		CollectMetrics:  true,
		OfflineAfter:    DefaultOfflineAfter,
	}
}

// Validate reports the first setting that is out of range.
func (s Settings) Validate() error {
	if s.MetricsInterval < MinMetricsInterval || s.MetricsInterval > MaxMetricsInterval {
		return fmt.Errorf("%w: metricsInterval must be between %s and %s, got %s",
			ErrInvalidSettings, MinMetricsInterval, MaxMetricsInterval, s.MetricsInterval)
	}
	if s.OfflineAfter < 1 || s.OfflineAfter > MaxOfflineAfter {
		return fmt.Errorf("%w: offlineAfter must be between 1 and %d, got %d",
			ErrInvalidSettings, MaxOfflineAfter, s.OfflineAfter)
	}
	return nil
}

// ErrInvalidSettings marks a rejected settings change.
var ErrInvalidSettings = errors.New("invalid settings")

// ErrTypeInvalidSettings is the type of the temporal.ApplicationError that a
// rejected configure update returns to its caller: errors.Is does not survive
// the trip through the server, the type does. Its Message() is the reason,
// e.g. "invalid settings: metricsInterval must be between 10s and 5m0s, got 5s".
const ErrTypeInvalidSettings = "InvalidSettings"

// SettingsPatch is the payload of the configure Update and Signal: only the
// fields that are set change.
type SettingsPatch struct {
	// MetricsIntervalSeconds sets Settings.MetricsInterval.
	MetricsIntervalSeconds *int `json:"metricsIntervalSeconds,omitempty"`
	// CollectMetrics sets Settings.CollectMetrics.
	CollectMetrics *bool `json:"collectMetrics,omitempty"`
	// Paused sets Settings.Paused (true pauses, false resumes).
	Paused *bool `json:"paused,omitempty"`
	// OfflineAfter sets Settings.OfflineAfter.
	OfflineAfter *int `json:"offlineAfter,omitempty"`
}

// Apply returns s with the patch applied, or an error if the result is out of
// range; s itself is never modified.
func (p SettingsPatch) Apply(s Settings) (Settings, error) {
	if p.MetricsIntervalSeconds != nil {
		s.MetricsInterval = time.Duration(*p.MetricsIntervalSeconds) * time.Second
	}
	if p.CollectMetrics != nil {
		s.CollectMetrics = *p.CollectMetrics
	}
	if p.Paused != nil {
		s.Paused = *p.Paused
	}
	if p.OfflineAfter != nil {
		s.OfflineAfter = *p.OfflineAfter
	}
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// Status is the reachability of an environment as the workflow sees it.
type Status string

// Statuses.
const (
	StatusUnknown Status = "unknown"
	StatusOnline  Status = "online"
	StatusOffline Status = "offline"
)

// Input starts (or continues) an environment workflow. It carries no
// connection details or secrets: activities load those from Postgres.
type Input struct {
	EnvironmentID string   `json:"environmentId"`
	Name          string   `json:"name"`
	Settings      Settings `json:"settings"`
	// State is set only when the workflow continues as new.
	State *State `json:"state,omitempty"`
}

// State is the live state of an environment workflow, returned by the state
// query and carried across continue-as-new.
type State struct {
	EnvironmentID string   `json:"environmentId"`
	Name          string   `json:"name"`
	Settings      Settings `json:"settings"`
	Status        Status   `json:"status"`
	// StatusSince is when Status last changed (zero while unknown).
	StatusSince time.Time `json:"statusSince"`
	// ConsecutiveFailures counts failed checks since the last success.
	ConsecutiveFailures int `json:"consecutiveFailures"`
	// LastError is the error of the last failed check; a successful check
	// clears it.
	LastError string `json:"lastError,omitempty"`
	// LastCycle is the summary of the last successful collection.
	LastCycle *MetricsSummary `json:"lastCycle,omitempty"`
	// LastCycleAt is when the last check ran (successful or not).
	LastCycleAt time.Time `json:"lastCycleAt"`
	// Cycles counts checks over the whole life of the workflow, across runs.
	Cycles int64 `json:"cycles"`
	// NextCycleAt is when the next check is due (zero while paused). It is
	// carried across continue-as-new so that the cadence does not skip a beat.
	NextCycleAt time.Time `json:"nextCycleAt"`
}

// CollectMetricsInput is the input of the CollectMetrics activity.
type CollectMetricsInput struct {
	EnvironmentID string `json:"environmentId"`
	// CycleAt is the workflow time of the cycle; with EnvironmentID it is the
	// idempotency key of the stored rows, so a retried attempt stores nothing twice.
	CycleAt time.Time `json:"cycleAt"`
}

// MetricsSummary is the small result of one collection cycle.
type MetricsSummary struct {
	CollectedAt       time.Time `json:"collectedAt"`
	ContainersRunning int       `json:"containersRunning"`
	CPUPercent        float64   `json:"cpuPercent"`
	MemoryPercent     float64   `json:"memoryPercent"`
	// Stored is false when the cycle had already been stored by an earlier attempt.
	Stored bool `json:"stored"`
}

// CheckEngineInput is the input of the CheckEngine activity.
type CheckEngineInput struct {
	EnvironmentID string `json:"environmentId"`
}

// RecordStatusInput is the input of the RecordStatus activity: one transition.
type RecordStatusInput struct {
	EnvironmentID string `json:"environmentId"`
	Online        bool   `json:"online"`
	Error         string `json:"error,omitempty"`
	// ChangedAt is the workflow time of the transition; with EnvironmentID it
	// is the idempotency key, so the transition is recorded once.
	ChangedAt time.Time `json:"changedAt"`
}

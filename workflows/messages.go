// Package workflows holds the environment workflow: one long-running workflow
// per watched Docker engine that collects metrics on a timer and tracks whether
// the engine is reachable. Everything in this package is deterministic
// workflow code or plain data shared with the API and the activities.
package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	envsettings "github.com/windflow/monitor/internal/settings"
)

// Message and activity names shared by the workflow, the worker and the API.
const (
	// WorkflowName is the registered name of the environment workflow.
	// Running workflows of another type are replaced on upgrade (see
	// docs/versioning.md).
	WorkflowName = "Environment"
	// UpdateConfigure changes an environment's settings; it is validated and
	// answered synchronously.
	UpdateConfigure = "configure"
	// SignalConfigure carries the same payload as UpdateConfigure, fire and
	// forget; an invalid value is logged and leaves the state unchanged.
	SignalConfigure = "configure"
	// QueryState returns the live State.
	QueryState = "state"
	// UpdateRename gives the workflow its environment's new name (a
	// string): it keeps the name in its State and in the
	// SearchAttributeEnvironment search attribute; returns the State.
	UpdateRename = "rename"
	// SearchAttributeEnvironment is the Keyword search attribute that holds
	// an environment workflow's environment name, set at start and kept
	// current on rename; it must be registered in the namespace.
	SearchAttributeEnvironment = "WindflowEnvironment"

	// ActivityCollectMetrics reads container stats and stores one cycle.
	ActivityCollectMetrics = "CollectMetrics"
	// ActivityCheckEngine pings the engine when metric collection is off, so
	// that reachability is still known.
	ActivityCheckEngine = "CheckEngine"
	// ActivityRecordStatus stores one online/offline transition.
	ActivityRecordStatus = "RecordStatus"
	// ActivityStreamEvents follows an engine's event stream until cancelled.
	ActivityStreamEvents = "StreamEvents"
	// ActivityPollEvents reads the events since the cursor once.
	ActivityPollEvents = "PollEvents"
	// ActivityCheckDisk reads /system/df and stores a disk-usage sample.
	ActivityCheckDisk = "CheckDisk"
	// ActivityRecordDiskWarning records a disk warning and its notifications.
	ActivityRecordDiskWarning = "RecordDiskWarning"
	// ActivityRecordAlertTransitions stores the alert transitions of one
	// cycle and their notifications (one outbox row per transition).
	ActivityRecordAlertTransitions = "RecordAlertTransitions"
	// ActivityRecordSettings stores a settings change that a configure
	// signal made, so that Postgres agrees with the workflow.
	ActivityRecordSettings = "RecordSettings"
	// ActivityDeliverNotification sends one notification (one attempt).
	ActivityDeliverNotification = "DeliverNotification"
	// ActivityMarkNotificationFailed records that delivery gave up.
	ActivityMarkNotificationFailed = "MarkNotificationFailed"
	// ActivityDispatchNotifications starts delivery workflows for pending
	// notifications that have none yet.
	ActivityDispatchNotifications = "DispatchNotifications"

	// NotificationDeliveryWorkflowName delivers one notification; workflow ID
	// NotificationWorkflowID(id).
	NotificationDeliveryWorkflowName = "NotificationDelivery"
	// NotificationDispatcherWorkflowName is the singleton that sweeps the
	// outbox; workflow ID NotificationDispatcherID(instance).
	NotificationDispatcherWorkflowName = "NotificationDispatcher"

	// DefaultTaskQueue prefixes an installation's own task queue when none
	// is configured (envflow.InstallationTaskQueue); the upgrade moves this
	// installation's workflows off the bare name.
	DefaultTaskQueue = "windflow"
)

// EnvironmentSearchAttribute is the typed key of SearchAttributeEnvironment.
var EnvironmentSearchAttribute = temporal.NewSearchAttributeKeyKeyword(SearchAttributeEnvironment)

// WorkflowID returns the workflow ID of an environment: "environment/<uuid>".
func WorkflowID(environmentID string) string { return "environment/" + environmentID }

// NotificationDispatcherID returns the workflow ID of the dispatcher of one
// database's outbox: "notifications/dispatcher/<instance>" (one per database,
// so installations sharing a Temporal namespace never share a dispatcher).
func NotificationDispatcherID(instance string) string {
	return "notifications/dispatcher/" + instance
}

// NotificationWorkflowID returns the workflow ID of a notification's
// delivery: "notification/<instance>/<id>", where instance is the database's
// instance ID (notification IDs are only unique within one database).
func NotificationWorkflowID(instance string, id int64) string {
	return fmt.Sprintf("notification/%s/%d", instance, id)
}

// Settings is the environment's configuration as the workflow applies it
// (its JSON shows durations in seconds).
type Settings = envsettings.Settings

// SettingsPatch is the payload of the configure Update and Signal: only the
// fields that are set change.
type SettingsPatch = envsettings.Patch

// EventMode is how container events are collected.
type EventMode = envsettings.EventMode

// Event modes.
const (
	EventModeStream = envsettings.EventModeStream
	EventModePoll   = envsettings.EventModePoll
)

// Disk threshold modes.
const (
	DiskThresholdPercent = envsettings.DiskThresholdPercent
	DiskThresholdBytes   = envsettings.DiskThresholdBytes
	DiskThresholdOff     = envsettings.DiskThresholdOff
)

// Limits and defaults of the settings.
const (
	DefaultMetricsInterval      = envsettings.DefaultMetricsInterval
	MinMetricsInterval          = envsettings.MinMetricsInterval
	MaxMetricsInterval          = envsettings.MaxMetricsInterval
	DefaultOfflineAfter         = envsettings.DefaultOfflineAfter
	MaxOfflineAfter             = envsettings.MaxOfflineAfter
	DefaultPollInterval         = envsettings.DefaultPollInterval
	MinPollInterval             = envsettings.MinPollInterval
	MaxPollInterval             = envsettings.MaxPollInterval
	DefaultDiskInterval         = envsettings.DefaultDiskInterval
	MinDiskInterval             = envsettings.MinDiskInterval
	MaxDiskInterval             = envsettings.MaxDiskInterval
	DefaultDiskTimeout          = envsettings.DefaultDiskTimeout
	MinDiskTimeout              = envsettings.MinDiskTimeout
	MaxDiskTimeout              = envsettings.MaxDiskTimeout
	DefaultDiskThresholdPercent = envsettings.DefaultDiskThresholdPercent
	DefaultDiskThresholdBytes   = envsettings.DefaultDiskThresholdBytes
	DefaultDiskCooldown         = envsettings.DefaultDiskCooldown
	MinDiskCooldown             = envsettings.MinDiskCooldown
	MaxDiskCooldown             = envsettings.MaxDiskCooldown
)

// DefaultSettings returns the settings of a new environment.
func DefaultSettings() Settings { return envsettings.Default() }

// ErrInvalidSettings marks a rejected settings change (envsettings.ErrInvalid).
var ErrInvalidSettings = envsettings.ErrInvalid

// ErrTypeInvalidSettings is the type of the temporal.ApplicationError that a
// rejected configure update returns to its caller: errors.Is does not survive
// the trip through the server, the type does. Its Message() is the reason,
// e.g. "invalid settings: metricsInterval must be between 10s and 5m0s, got 5s".
const ErrTypeInvalidSettings = "InvalidSettings"

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
	// EventCursor is the engine time (Unix nanoseconds) up to which every
	// container event has been read and stored; 0 before the first read.
	// The next read starts there (since is inclusive; the store's unique key
	// drops the overlap). Carried across continue-as-new and mode switches.
	EventCursor int64 `json:"eventCursor,omitempty"`
	// EventsError is the last error of the event collection, cleared by a
	// successful read.
	EventsError string `json:"eventsError,omitempty"`
	// EventCursorAt is EventCursor as a time (UTC), for people; zero before
	// the first read. Derived: the workflow recomputes it from EventCursor.
	EventCursorAt time.Time `json:"eventCursorAt,omitzero"`
	// NextPollAt is when the next poll is due, in poll mode only (zero
	// otherwise). Carried across continue-as-new so that the poll cadence
	// does not skip a beat.
	NextPollAt time.Time `json:"nextPollAt,omitzero"`
	// EventsRestartAt is set while the event stream waits after a failure
	// that retrying could not fix (EventsError): it restarts then, or at the
	// next accepted configure update or signal, whichever comes first.
	EventsRestartAt time.Time `json:"eventsRestartAt,omitzero"`

	// Disk checks. All of them are carried across continue-as-new.
	//
	// LastDisk is the result of the last successful disk check.
	LastDisk *DiskSummary `json:"lastDisk,omitempty"`
	// LastDiskCheckAt is the workflow time of the last disk check
	// (successful or not).
	LastDiskCheckAt time.Time `json:"lastDiskCheckAt,omitzero"`
	// DiskError is the error of the last disk check (or of recording its
	// warning), cleared by the next successful one. It never affects Status.
	DiskError string `json:"diskError,omitempty"`
	// DiskVerdict is the outcome of the last warning decision in words: the
	// threshold crossed, or why there was no warning (below the threshold,
	// capacity unknown, cooldown, threshold off); see DiskWarningDue.
	DiskVerdict string `json:"diskVerdict,omitempty"`
	// LastDiskWarningAt is the workflow time of the check that raised the
	// last disk warning (zero: never). The cooldown counts from it; it lives
	// here so that it survives restarts and continue-as-new.
	LastDiskWarningAt time.Time `json:"lastDiskWarningAt,omitzero"`
	// NextDiskAt is when the next disk check is due (zero while paused).
	NextDiskAt time.Time `json:"nextDiskAt,omitzero"`

	// Records decided but not yet stored, carried across continue-as-new so
	// that it never waits for the database.
	//
	// PendingStatus holds the status transitions not yet recorded, oldest
	// first.
	PendingStatus []RecordStatusInput `json:"pendingStatus,omitempty"`
	// PendingDiskWarning is a disk warning not yet recorded.
	PendingDiskWarning *RecordDiskWarningInput `json:"pendingDiskWarning,omitempty"`
	// PendingAlerts holds alert transitions not yet recorded, oldest first.
	PendingAlerts []AlertTransition `json:"pendingAlerts,omitempty"`
	// PendingSettings holds the accepted configure signals not yet stored
	// in Postgres, oldest first.
	PendingSettings []SettingsPatch `json:"pendingSettings,omitempty"`

	// Alerts is the state of every alert rule × target that is pending or
	// firing (see EvaluateAlerts), carried across continue-as-new so that
	// a restart never loses pending time nor fires an alert twice.
	Alerts []AlertState `json:"alerts,omitempty"`
	// AlertRules are the rules of the last evaluation and AlertRulesDigest
	// their digest (see AlertCycle).
	AlertRules       []AlertRule `json:"alertRules,omitempty"`
	AlertRulesDigest string      `json:"alertRulesDigest,omitempty"`
	// AdoptAlerts is set on a run started without a State until a
	// collection has brought the alerts stored as firing
	// (CollectMetricsInput.AdoptAlerts): they join Alerts, so that
	// each resolves or carries on.
	AdoptAlerts bool `json:"adoptAlerts,omitempty"`

	// The monitor's own outages: checks that could not be
	// judged because PostgreSQL was unavailable.
	//
	// MonitorUnavailableSince is the workflow time of the first such check
	// of the current outage; zero when there is none (a check that reached
	// the store again ends it).
	MonitorUnavailableSince time.Time `json:"monitorUnavailableSince,omitzero"`
	// MonitorError is the error of the last such check, during an outage.
	MonitorError string `json:"monitorError,omitempty"`
	// UnstoredCycles counts such checks over the whole life of the
	// workflow: cycles whose sample was not stored and whose outcome is
	// unknown.
	UnstoredCycles int64 `json:"unstoredCycles,omitempty"`
}

// CollectMetricsInput is the input of the CollectMetrics activity.
type CollectMetricsInput struct {
	EnvironmentID string `json:"environmentId"`
	// CycleAt is the workflow time of the cycle; with EnvironmentID it is the
	// idempotency key of the stored rows, so a retried attempt stores nothing twice.
	CycleAt time.Time `json:"cycleAt"`
	// DueAt is the schedule slot of the cycle (zero when the
	// cycle has none): a second key, the same when a retried workflow task
	// runs the check again with a later CycleAt.
	DueAt time.Time `json:"dueAt,omitzero"`
	// AlertRulesDigest is the digest of the alert rules the workflow holds
	// (AlertCycle.RulesDigest; "" for none): when the rules have not
	// changed, the result does not carry them again.
	AlertRulesDigest string `json:"alertRulesDigest,omitempty"`
	// AlertTargets are the containers (by name, and by short ID when
	// known) with a pending or firing alert: their figures always come back, so that the evaluation can
	// carry on or resolve them; other containers' only when they breach a
	// rule.
	AlertTargets []string `json:"alertTargets,omitempty"`
	// AdoptAlerts asks for the alerts stored as firing
	// (AlertCycle.Firing): the workflow started without its State.
	AdoptAlerts bool `json:"adoptAlerts,omitempty"`
}

// MetricsSummary is the small result of one collection cycle.
type MetricsSummary struct {
	CollectedAt       time.Time `json:"collectedAt"`
	ContainersRunning int       `json:"containersRunning"`
	CPUPercent        float64   `json:"cpuPercent"`
	MemoryPercent     float64   `json:"memoryPercent"`
	// Stored is false when the cycle had already been stored by an earlier attempt.
	Stored bool `json:"stored"`
	// Alerts carries the enabled alert rules that apply to the environment
	// and the figures they read, for the workflow to evaluate; nil when no
	// rule applies (and then absent from the history). The workflow takes
	// it out before keeping the summary in its State.
	Alerts *AlertCycle `json:"alerts,omitempty"`
}

// AlertCycle is what a collection cycle gives the alert evaluation. It
// rides in the cycle's local-activity marker, so a steady cycle keeps it
// small: the rules only when they changed, the containers only when they
// matter.
type AlertCycle struct {
	// Rules are the enabled rules of the environment and the global ones,
	// unless RulesUnchanged: then they are the ones the workflow holds
	// (CollectMetricsInput.AlertRulesDigest was RulesDigest).
	Rules          []AlertRule `json:"rules,omitempty"`
	RulesUnchanged bool        `json:"rulesUnchanged,omitempty"`
	// RulesDigest identifies the rules ("" in histories recorded before it).
	RulesDigest string `json:"rulesDigest,omitempty"`
	// Figures: the host's, and the containers a per-container rule matches
	// that breach one of them or are among CollectMetricsInput.AlertTargets,
	// with the rules that match each (ContainerFigures.Matches) instead of
	// labels (and, for restart rules, containers not running that restarted
	// in the window). A container left out neither breaches nor has an
	// alert, or is past AlertCaps.ContainerAlerts: the evaluation would do
	// nothing with it.
	Figures CycleFigures `json:"figures"`
	// Adopted answers CollectMetricsInput.AdoptAlerts: Firing are
	// the alerts stored as firing (the latest transition of their rule ×
	// target), as firing states.
	Adopted bool         `json:"adopted,omitempty"`
	Firing  []AlertState `json:"firing,omitempty"`
}

// RecordAlertTransitionsInput is the input of RecordAlertTransitions: the
// transitions one evaluation decided, in EvaluateAlerts' order. Each is
// stored once (key: environment, rule, target, phase, At) with one
// notification, so a retried or repeated record changes nothing.
type RecordAlertTransitionsInput struct {
	EnvironmentID string            `json:"environmentId"`
	Transitions   []AlertTransition `json:"transitions"`
}

// RecordSettingsInput is the input of RecordSettings: the patch of one
// accepted configure signal, applied to the stored settings under the
// environment's row lock.
type RecordSettingsInput struct {
	EnvironmentID string        `json:"environmentId"`
	Patch         SettingsPatch `json:"patch"`
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
	// Previous is the status before the transition ("" in histories recorded
	// before notifications: treated as unknown). Only →offline and
	// offline→online are notified.
	Previous Status `json:"previous,omitempty"`
}

// StreamEventsInput is the input of the StreamEvents activity.
type StreamEventsInput struct {
	EnvironmentID string `json:"environmentId"`
	// Cursor is where to resume (Unix nanoseconds, 0 = never read). The
	// activity resumes from the newest of this, its own heartbeat details
	// after a retry, and the cursor stored with the events in Postgres.
	Cursor int64 `json:"cursor"`
}

// StreamProgress is the heartbeat detail of StreamEvents and its result when
// it stops (cancelled by the workflow): how far it got.
type StreamProgress struct {
	// Cursor: every event up to this engine time (Unix ns) is stored.
	Cursor int64 `json:"cursor"`
	// Stored counts events newly stored by this activity (all attempts).
	Stored int64 `json:"stored"`
	// Malformed counts lines that could not be decoded and were skipped.
	Malformed int64 `json:"malformed"`
	// Gaps counts the gaps recorded (windows the engine could no longer replay).
	Gaps int64 `json:"gaps"`
}

// PollEventsInput is the input of the PollEvents activity.
type PollEventsInput struct {
	EnvironmentID string `json:"environmentId"`
	// Cursor is where to start (Unix ns); 0 = 30 s before the engine's clock.
	Cursor int64 `json:"cursor"`
}

// PollEventsResult is the result of one poll.
type PollEventsResult struct {
	// Cursor is the engine time (Unix ns) the poll read up to: the next since.
	Cursor int64 `json:"cursor"`
	// Stored counts newly stored events; Duplicates those already stored.
	Stored     int `json:"stored"`
	Duplicates int `json:"duplicates"`
	// Filtered counts events dropped by the filters; Malformed undecodable lines.
	Filtered  int `json:"filtered"`
	Malformed int `json:"malformed"`
	// Gap is true when a gap was recorded by this poll.
	Gap bool `json:"gap"`
}

// CheckDiskInput is the input of the CheckDisk activity.
type CheckDiskInput struct {
	EnvironmentID string `json:"environmentId"`
	// CheckAt is the workflow time of the check: with EnvironmentID the
	// idempotency key of the stored sample.
	CheckAt time.Time `json:"checkAt"`
}

// DiskSummary is the result of a disk check: Docker's disk usage by kind
// and, when known, the capacity it is compared with.
type DiskSummary struct {
	CheckedAt       time.Time `json:"checkedAt"`
	ImagesBytes     int64     `json:"imagesBytes"`
	ContainersBytes int64     `json:"containersBytes"`
	VolumesBytes    int64     `json:"volumesBytes"`
	BuildCacheBytes int64     `json:"buildCacheBytes"`
	TotalBytes      int64     `json:"totalBytes"`
	// CapacityBytes is 0 when unknown; CapacitySource says where it came
	// from: "configured", "statfs" (the engine's DockerRootDir, local
	// engines only) or "".
	CapacityBytes  int64  `json:"capacityBytes"`
	CapacitySource string `json:"capacitySource,omitempty"`
	// Percent is TotalBytes / CapacityBytes × 100, 0 when the capacity is unknown.
	Percent float64 `json:"percent"`
}

// RecordDiskWarningInput is the input of the RecordDiskWarning activity.
type RecordDiskWarningInput struct {
	EnvironmentID string      `json:"environmentId"`
	CheckAt       time.Time   `json:"checkAt"`
	Summary       DiskSummary `json:"summary"`
	// Reason says which threshold was crossed, e.g. "92.0 % > 80 %".
	Reason string `json:"reason"`
}

// DeliverNotificationInput is the input of the notification delivery
// workflow and its activities: only the ID (channel URLs are secrets and
// never enter workflow history).
type DeliverNotificationInput struct {
	NotificationID int64 `json:"notificationId"`
}

// MarkNotificationFailedInput records the final failure of a delivery.
type MarkNotificationFailedInput struct {
	NotificationID int64  `json:"notificationId"`
	Error          string `json:"error"`
}

// DispatchResult is the result of DispatchNotifications.
type DispatchResult struct {
	// Started counts delivery workflows started; Pending those still waiting.
	Started int `json:"started"`
	Pending int `json:"pending"`
}

// DispatcherState is the input of NotificationDispatcherWorkflow and the
// state it carries across continue-as-new. The zero value starts a new
// dispatcher (first sweep at once).
type DispatcherState struct {
	// Iterations counts the sweeps over the whole life of the dispatcher.
	Iterations int64 `json:"iterations"`
	// Started counts the delivery workflows the sweeps started.
	Started int64 `json:"started"`
	// Failures counts the sweeps whose activity failed for good.
	Failures int64 `json:"failures"`
	// LastPending is DispatchResult.Pending of the last successful sweep.
	LastPending int `json:"lastPending"`
	// LastError is the error of the last sweep, cleared by a successful one.
	LastError string `json:"lastError,omitempty"`
	// LastRunAt is the workflow time of the last sweep.
	LastRunAt time.Time `json:"lastRunAt,omitzero"`
	// NextRunAt is when the next sweep is due; carried across
	// continue-as-new so that the cadence does not skip a beat.
	NextRunAt time.Time `json:"nextRunAt,omitzero"`
}

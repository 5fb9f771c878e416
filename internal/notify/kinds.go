package notify

import "slices"

// Notification kinds. The values are stored in the database and accepted by
// the API, so they never change.
const (
	// KindEnvironmentOffline: an environment turned offline after the
	// configured number of consecutive failed checks.
	KindEnvironmentOffline = "environment_offline"
	// KindEnvironmentOnline: an environment is reachable again after having
	// been offline (not sent for the first check after start).
	KindEnvironmentOnline = "environment_online"
	// KindDiskSpaceWarning: Docker's disk usage is above the environment's
	// threshold and the warning cooldown has passed.
	KindDiskSpaceWarning = "disk_space_warning"
	// KindContainerOOM: a container's process was killed for running out of
	// memory (an "oom" event).
	KindContainerOOM = "container_oom"
	// KindContainerUnhealthy: a container's health check started failing.
	KindContainerUnhealthy = "container_unhealthy"
	// KindContainerHealthy: a container recovered from unhealthy.
	KindContainerHealthy = "container_healthy"
	// KindContainerDiedUnexpectedly: a container exited with a non-zero code
	// that no stop, kill, restart, update, pause or OOM explains.
	KindContainerDiedUnexpectedly = "container_died_unexpectedly"
	// KindContainerStarted: a container started (off by default).
	KindContainerStarted = "container_started"
	// KindContainerStopped: a container was stopped (off by default).
	KindContainerStopped = "container_stopped"
	// KindAlertFiring: an alert rule's figure breached its threshold for
	// the rule's duration.
	KindAlertFiring = "alert_firing"
	// KindAlertResolved: a firing alert resolved (its figure recovered, its
	// container stopped or is gone, or its rule was removed).
	KindAlertResolved = "alert_resolved"
)

// AllKinds lists every kind, in the order of the constants above.
var AllKinds = []string{
	KindEnvironmentOffline,
	KindEnvironmentOnline,
	KindDiskSpaceWarning,
	KindContainerOOM,
	KindContainerUnhealthy,
	KindContainerHealthy,
	KindContainerDiedUnexpectedly,
	KindContainerStarted,
	KindContainerStopped,
	KindAlertFiring,
	KindAlertResolved,
}

// DefaultKinds are the kinds a channel with an empty kind list receives:
// all but KindContainerStarted and KindContainerStopped. The alert kinds
// are in: an alert exists only because someone wrote a rule asking for it,
// so a channel that takes "the defaults" should hear it (a rule that names
// its channels reaches exactly those, whatever their kinds), and a
// resolution goes wherever its firing went.
var DefaultKinds = []string{
	KindEnvironmentOffline,
	KindEnvironmentOnline,
	KindDiskSpaceWarning,
	KindContainerOOM,
	KindContainerUnhealthy,
	KindContainerHealthy,
	KindContainerDiedUnexpectedly,
	KindAlertFiring,
	KindAlertResolved,
}

// ValidKind reports whether k is one of AllKinds (exact, case-sensitive).
func ValidKind(k string) bool {
	return slices.Contains(AllKinds, k)
}

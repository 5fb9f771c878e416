package notify

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// SilenceLabel is the container label that silences a container: with the
// value "false", "0" or "no" (any case, surrounding spaces ignored) none of
// its events produce a notification.
const SilenceLabel = "windflow.notify"

// ClassifyWindow is how far before a die event Classify looks for the kill,
// stop, restart, update, pause or oom that explains it. Callers pass at
// least this much history in Classify's recent argument; for a
// "health_status: healthy" event recent must also hold the container's
// previous health_status event (however old), else the recovery is missed.
const ClassifyWindow = 30 * time.Second

// Event is the minimal view of a stored container event that
// classification and rendering need.
type Event struct {
	// TimeNano is the event's time in Unix nanoseconds (engine clock).
	TimeNano int64
	// ContainerID is the full container ID.
	ContainerID string
	// Name is the container name, with or without Docker's leading '/'.
	Name string
	// Image is the container's image reference.
	Image string
	// Action is the full action, e.g. "die" or "health_status: unhealthy".
	Action string
	// Attributes are the actor attributes: labels plus image, name and,
	// on die, exitCode.
	Attributes map[string]string
	// ExitCode is the die event's exit code when known.
	ExitCode *int
}

// expectedDieCauses are the actions that explain a non-zero exit when they
// precede it by at most ClassifyWindow: the user asked for it (kill, stop,
// restart, update, pause) or it was an OOM kill (reported as such).
var expectedDieCauses = []string{"kill", "stop", "restart", "update", "pause", "oom"}

// Classify returns the notification kind of e, given the same container's
// earlier events (oldest first; events of other containers and events
// after e are ignored), or ok=false when e is not notifiable:
//   - oom → KindContainerOOM;
//   - "health_status: unhealthy" → KindContainerUnhealthy;
//   - "health_status: healthy" → KindContainerHealthy only when the latest
//     earlier health_status event in recent is unhealthy (a recovery; a
//     container that becomes healthy after start is not news). This rule
//     looks at all of recent, not only ClassifyWindow;
//   - die with a non-zero exit code (ExitCode, else Attributes["exitCode"])
//     and no kill/stop/restart/update/pause/oom of the container within
//     ClassifyWindow before it → KindContainerDiedUnexpectedly. A policy
//     restart (die then start, no kill) is unexpected;
//   - start → KindContainerStarted; stop → KindContainerStopped.
//
// A container labelled SilenceLabel=false|0|no gives ok=false for all events.
func Classify(e Event, recent []Event) (kind string, ok bool) {
	if silenced(e.Attributes) {
		return "", false
	}
	base, detail := splitAction(e.Action)
	switch base {
	case "oom":
		return KindContainerOOM, true
	case "health_status":
		switch detail {
		case "unhealthy":
			return KindContainerUnhealthy, true
		case "healthy":
			if previousHealth(e, recent) == "unhealthy" {
				return KindContainerHealthy, true
			}
		}
	case "die":
		if code, known := exitCode(e); known && code != 0 && !explainedDie(e, recent) {
			return KindContainerDiedUnexpectedly, true
		}
	case "start":
		return KindContainerStarted, true
	case "stop":
		return KindContainerStopped, true
	}
	return "", false
}

// silenced reports whether the attributes carry SilenceLabel=false|0|no.
func silenced(attrs map[string]string) bool {
	v, ok := attrs[SilenceLabel]
	if !ok {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "false", "0", "no":
		return true
	}
	return false
}

// splitAction splits "health_status: healthy" into ("health_status",
// "healthy"); an action without ':' has detail "".
func splitAction(action string) (base, detail string) {
	base, detail, _ = strings.Cut(action, ":")
	return strings.TrimSpace(base), strings.TrimSpace(detail)
}

// exitCode returns the die event's exit code from ExitCode or, failing
// that, the exitCode attribute.
func exitCode(e Event) (int, bool) {
	if e.ExitCode != nil {
		return *e.ExitCode, true
	}
	code, err := strconv.Atoi(strings.TrimSpace(e.Attributes["exitCode"]))
	if err != nil {
		return 0, false
	}
	return code, true
}

// earlierSameContainer reports whether r is another event of e's container
// that happened no later than e.
func earlierSameContainer(e, r Event) bool {
	if e.ContainerID != "" && r.ContainerID != "" && e.ContainerID != r.ContainerID {
		return false
	}
	if r.TimeNano > e.TimeNano {
		return false
	}
	return r.TimeNano != e.TimeNano || r.Action != e.Action
}

// previousHealth returns the status ("healthy", "unhealthy", …) of the
// latest health_status event in recent before e, or "" when there is none.
func previousHealth(e Event, recent []Event) string {
	status, at := "", int64(0)
	found := false
	for _, r := range recent {
		base, detail := splitAction(r.Action)
		if base != "health_status" || !earlierSameContainer(e, r) {
			continue
		}
		if !found || r.TimeNano >= at {
			status, at, found = detail, r.TimeNano, true
		}
	}
	return status
}

// explainedDie reports whether a kill, stop, restart, update, pause or oom
// of e's container happened within ClassifyWindow before e.
func explainedDie(e Event, recent []Event) bool {
	for _, r := range recent {
		if !earlierSameContainer(e, r) || e.TimeNano-r.TimeNano > int64(ClassifyWindow) {
			continue
		}
		base, _ := splitAction(r.Action)
		if slices.Contains(expectedDieCauses, base) {
			return true
		}
	}
	return false
}

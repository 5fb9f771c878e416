package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Event is one decoded engine event (one line of GET /events).
type Event struct {
	// Type is the object type: "container", "network", "image", "volume"…
	Type string
	// Action is the full action, e.g. "start" or "health_status: unhealthy".
	Action string
	// BaseAction is Action before its first ':', trimmed: "health_status".
	BaseAction string
	// ContainerID is Actor.ID for every type (for a network event it is the
	// network's ID); "" when the event has no Actor.
	ContainerID string
	// Name and Image are the "name" and "image" attributes.
	Name, Image string
	// Attributes are Actor.Attributes: the container's labels plus image,
	// name and, on die, exitCode. Never nil.
	Attributes map[string]string
	// ExitCode is the "exitCode" attribute of a die event; nil for other
	// actions or when the attribute is missing or not an integer.
	ExitCode *int
	// TimeNano is the event's time in Unix ns on the engine's clock.
	TimeNano int64
	// Time is TimeNano as a time in UTC.
	Time time.Time
}

// ErrMalformedEvent is wrapped by DecodeEvent's errors.
var ErrMalformedEvent = errors.New("malformed event")

// wireEvent is the JSON of an event. Engines also send the legacy fields
// status, id and from, which repeat Action, Actor.ID and the image.
type wireEvent struct {
	Type   string `json:"Type"`
	Action string `json:"Action"`
	Actor  *struct {
		ID         string            `json:"ID"`
		Attributes map[string]string `json:"Attributes"`
	} `json:"Actor"`
	Time     int64 `json:"time"`
	TimeNano int64 `json:"timeNano"`
}

// DecodeEvent decodes one JSON line of /events. Invalid JSON and a line with
// neither timeNano nor time (nor a positive value in either) give an error
// wrapping ErrMalformedEvent. A missing Actor is not malformed: the event
// has ContainerID "" and EventFilter.Keep drops it. When timeNano is missing
// but time (seconds) is present, TimeNano is time×1e9.
func DecodeEvent(line []byte) (Event, error) {
	var w wireEvent
	if err := json.Unmarshal(line, &w); err != nil {
		return Event{}, fmt.Errorf("%w: %w", ErrMalformedEvent, err)
	}
	ns := w.TimeNano
	if ns <= 0 {
		switch {
		case w.Time <= 0:
			return Event{}, fmt.Errorf("%w: no timeNano or time", ErrMalformedEvent)
		case w.Time > math.MaxInt64/int64(time.Second):
			return Event{}, fmt.Errorf("%w: time %d out of range", ErrMalformedEvent, w.Time)
		}
		ns = w.Time * int64(time.Second)
	}
	e := Event{
		Type:       w.Type,
		Action:     w.Action,
		BaseAction: baseAction(w.Action),
		TimeNano:   ns,
		Time:       time.Unix(0, ns).UTC(),
	}
	if w.Actor != nil {
		e.ContainerID = w.Actor.ID
		e.Attributes = w.Actor.Attributes
	}
	if e.Attributes == nil {
		e.Attributes = map[string]string{}
	}
	e.Name = e.Attributes["name"]
	e.Image = e.Attributes["image"]
	if e.BaseAction == "die" {
		if s, ok := e.Attributes["exitCode"]; ok {
			if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
				e.ExitCode = &n
			}
		}
	}
	return e, nil
}

// baseAction returns action before its first ':', trimmed
// ("exec_start: sh -c true" → "exec_start").
func baseAction(action string) string {
	base, _, _ := strings.Cut(action, ":")
	return strings.TrimSpace(base)
}

// KeptActions are the base actions of the container events that are stored;
// the others (exec_*, attach, detach, resize, top, copy, …) are dropped.
var KeptActions = []string{
	"create", "start", "stop", "die", "kill", "restart", "pause", "unpause",
	"destroy", "rename", "update", "oom", "health_status",
}

// ScannerImages are the repositories of vulnerability scanners whose
// containers are ignored, with or without a tag or digest (and with or
// without a docker.io/ prefix for the Docker Hub ones).
var ScannerImages = []string{
	"anchore/grype", "aquasec/trivy",
	"ghcr.io/anchore/grype", "ghcr.io/aquasecurity/trivy",
}

// EventFilter decides which events are stored.
type EventFilter struct {
	// InternalPrefix: containers whose name starts with it are the product's
	// own helpers and are ignored. "" disables the check.
	InternalPrefix string
	// OptOutLabel: containers with this label set to "true", "1" or "yes"
	// (any case) are ignored. "" disables the check.
	OptOutLabel string
}

// Default names of DefaultEventFilter.
const (
	DefaultInternalPrefix = "windflow-internal-"
	DefaultOptOutLabel    = "windflow.ignore"
)

// DefaultEventFilter returns the filter with InternalPrefix
// "windflow-internal-" and OptOutLabel "windflow.ignore".
func DefaultEventFilter() EventFilter {
	return EventFilter{InternalPrefix: DefaultInternalPrefix, OptOutLabel: DefaultOptOutLabel}
}

// Keep reports whether e is stored and, when it is not, why: "not a
// container event", "action <base> not kept", "no container id", "scanner
// image", "internal container" or "opted out by label" (checked in that
// order).
func (f EventFilter) Keep(e Event) (keep bool, reason string) {
	switch {
	case e.Type != "container":
		return false, "not a container event"
	case !slices.Contains(KeptActions, e.BaseAction):
		return false, fmt.Sprintf("action %s not kept", e.BaseAction)
	case e.ContainerID == "":
		return false, "no container id"
	case IsScannerImage(e.Image):
		return false, "scanner image"
	case f.InternalPrefix != "" && strings.HasPrefix(strings.TrimPrefix(e.Name, "/"), f.InternalPrefix):
		return false, "internal container"
	case f.OptOutLabel != "" && isTrue(e.Attributes[f.OptOutLabel]):
		return false, "opted out by label"
	}
	return true, ""
}

// isTrue reports whether a label value opts out: "true", "1" or "yes".
func isTrue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes":
		return true
	}
	return false
}

// IsScannerImage reports whether image (as in the event's "image" attribute:
// a reference with optional tag and digest) is one of ScannerImages.
func IsScannerImage(image string) bool {
	repo := imageRepository(image)
	for _, p := range []string{"docker.io/", "index.docker.io/"} {
		if r, ok := strings.CutPrefix(repo, p); ok {
			repo = r
			break
		}
	}
	return slices.Contains(ScannerImages, repo)
}

// imageRepository strips the digest and the tag from an image reference,
// lower-cased: "ghcr.io/anchore/grype:v1@sha256:…" → "ghcr.io/anchore/grype".
// A registry port ("host:5000/x") is not taken for a tag.
func imageRepository(ref string) string {
	ref = strings.ToLower(strings.TrimSpace(ref))
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	return ref
}

// Gap is a window [From, To] (Unix ns, engine clock) whose events the engine
// could no longer replay.
type Gap struct {
	From, To int64
	Reason   string
}

// Reasons of the gaps DetectGap returns.
const (
	GapReasonRingWrapped = "engine event buffer no longer reaches back to the cursor"
	GapReasonRestarted   = "engine restarted: its event memory is empty"
	// GapReasonRestartedSince: the buffer is not full yet does not reach
	// back to the cursor, so the engine restarted and forgot what came before.
	GapReasonRestartedSince = "engine restarted: events before the restart are gone"
)

// DetectGap compares the cursor (every event up to it has been stored; 0 =
// nothing read yet) with the engine's replay buffer as ReadRing reports it,
// and returns the window that may have been lost, or nil:
//
//   - cursor 0 (first read): no gap;
//   - buffer non-empty, oldest event at or before the cursor: no gap;
//   - buffer full (RingCapacity), oldest event after the cursor: gap from
//     the cursor to the oldest event (the buffer wrapped);
//   - buffer not full, oldest event after the cursor: the same gap, but the
//     engine restarted (a buffer that is not full loses nothing otherwise);
//   - buffer empty, cursor set: gap from the cursor to the engine's now (the
//     engine restarted and forgot its events). If that is not after the
//     cursor (the engine's clock went back), To is the cursor.
//
// An empty buffer alone cannot tell a restart from an idle engine, so it
// counts as a restart only when the buffer was seen holding events before
// (ringSeenBefore): events leave the buffer only when newer ones push them
// out, or when the engine restarts.
func DetectGap(cursor int64, ring Ring, ringSeenBefore bool) *Gap {
	switch {
	case cursor <= 0:
		return nil
	case ring.Len == 0 && !ringSeenBefore:
		// Still empty: an idle engine, nothing was forgotten.
		return nil
	case ring.Len == 0:
		return &Gap{From: cursor, To: max(ring.EngineNow, cursor), Reason: GapReasonRestarted}
	case ring.Oldest <= cursor:
		return nil
	case ring.Len < RingCapacity:
		// Events leave a buffer that is not full only when the engine restarts.
		return &Gap{From: cursor, To: ring.Oldest, Reason: GapReasonRestartedSince}
	default:
		return &Gap{From: cursor, To: ring.Oldest, Reason: GapReasonRingWrapped}
	}
}

package workflows

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Alert rules: the pending → firing → resolved machine that an
// environment's workflow runs on each cycle's figures. Everything here is
// pure and deterministic (no map iteration reaches the output, no clock
// but the cycle's time), so that the workflow can call it and keep its
// result in its state: the state of every rule × target then survives
// worker crashes and continue-as-new with the rest of the State.

// AlertMetric is what a rule watches.
type AlertMetric string

// Metrics a rule can watch.
const (
	AlertHostCPU         AlertMetric = "host_cpu_percent"
	AlertHostMemory      AlertMetric = "host_memory_percent"
	AlertContainerCPU    AlertMetric = "container_cpu_percent"
	AlertContainerMemory AlertMetric = "container_memory_percent" // of its limit (the host's memory without one)
	AlertContainerHost   AlertMetric = "container_memory_host_percent"
	AlertContainerBytes  AlertMetric = "container_memory_bytes"
	// AlertContainerRestarts counts a container's restarts (start events
	// after its first, policy restarts included) over the rule's For, which
	// is then a sliding window rather than a pending time: the rule fires
	// at the first cycle whose window holds more restarts than the
	// threshold, and resolves when the window holds no more than the
	// recovery value.
	AlertContainerRestarts AlertMetric = "container_restarts"
)

// AlertMetrics lists the metrics a rule can watch, in the order documents
// list them.
var AlertMetrics = []AlertMetric{
	AlertHostCPU, AlertHostMemory, AlertContainerCPU, AlertContainerMemory,
	AlertContainerHost, AlertContainerBytes, AlertContainerRestarts,
}

// perContainer reports whether m is a figure of each container.
func (m AlertMetric) perContainer() bool {
	switch m {
	case AlertContainerCPU, AlertContainerMemory, AlertContainerHost, AlertContainerBytes, AlertContainerRestarts:
		return true
	}
	return false
}

// RestartWindowKey is the key of ContainerFigures.Restarts for a window.
func RestartWindowKey(window time.Duration) string {
	return strconv.FormatInt(int64(window/time.Second), 10)
}

// AlertComparison says on which side of the threshold a value breaches.
type AlertComparison string

// Comparisons.
const (
	AlertAbove AlertComparison = "above"
	AlertBelow AlertComparison = "below"
)

// AlertRule is a rule as the workflow evaluates it.
type AlertRule struct {
	ID     string          `json:"id"`
	Metric AlertMetric     `json:"metric"`
	Op     AlertComparison `json:"op"`
	// Threshold is breached by a value above it (Op above) or below it.
	Threshold float64 `json:"threshold"`
	// For is how long the breach must hold before the alert fires (0: at
	// the first breaching cycle).
	For time.Duration `json:"for"`
	// Recovery, when set, is the value the figure must get back past for a
	// firing alert to resolve (hysteresis); by default the threshold.
	Recovery *float64 `json:"recovery,omitempty"`
	// ContainerPattern (a path.Match glob on the container name) and
	// Labels (every label equal) narrow a per-container rule; empty: every
	// container.
	ContainerPattern string            `json:"containerPattern,omitempty"`
	Labels           map[string]string `json:"labels,omitempty"`
}

// Validate reports the first field out of range.
func (r AlertRule) Validate() error {
	if !slices.Contains(AlertMetrics, r.Metric) {
		names := make([]string, len(AlertMetrics))
		for i, m := range AlertMetrics {
			names[i] = string(m)
		}
		return fmt.Errorf("%w: metric %q is not one of %s", ErrInvalidSettings, r.Metric, strings.Join(names, ", "))
	}
	if r.Op != AlertAbove && r.Op != AlertBelow {
		return fmt.Errorf("%w: op must be %q or %q, got %q", ErrInvalidSettings, AlertAbove, AlertBelow, r.Op)
	}
	if r.For < 0 || r.For > 24*time.Hour {
		return fmt.Errorf("%w: for must be between 0 and 24h, got %s", ErrInvalidSettings, r.For)
	}
	if r.Metric == AlertContainerRestarts && (r.For < time.Minute || r.For%time.Second != 0) {
		return fmt.Errorf("%w: for is the window of container_restarts: whole seconds, at least 1m, got %s", ErrInvalidSettings, r.For)
	}
	if r.Recovery != nil && r.breaches(*r.Recovery) {
		return fmt.Errorf("%w: recovery %v is on the breaching side of threshold %v", ErrInvalidSettings, *r.Recovery, r.Threshold)
	}
	if _, err := path.Match(r.ContainerPattern, ""); err != nil {
		return fmt.Errorf("%w: containerPattern %q: %v", ErrInvalidSettings, r.ContainerPattern, err)
	}
	if !r.Metric.perContainer() && (r.ContainerPattern != "" || len(r.Labels) > 0) {
		return fmt.Errorf("%w: containerPattern and labels apply to container metrics only", ErrInvalidSettings)
	}
	return nil
}

// pendingFor is how long a breach must hold before the alert fires: For,
// except for restart counts, whose For is their window.
func (r AlertRule) pendingFor() time.Duration {
	if r.Metric == AlertContainerRestarts {
		return 0
	}
	return r.For
}

// Breaches reports whether v is on the alerting side of the threshold.
func (r AlertRule) Breaches(v float64) bool { return r.breaches(v) }

// ContainerValue is the figure of container c that rule r judges (r a
// per-container rule).
func (r AlertRule) ContainerValue(c ContainerFigures) float64 {
	switch r.Metric {
	case AlertContainerCPU:
		return c.CPUPercent
	case AlertContainerMemory:
		return c.MemoryPercent
	case AlertContainerHost:
		return c.MemoryHostPercent
	case AlertContainerRestarts:
		return float64(c.Restarts[RestartWindowKey(r.For)])
	case AlertContainerBytes:
		return float64(c.MemoryBytes)
	}
	return 0
}

// breaches reports whether v is on the alerting side of the threshold.
func (r AlertRule) breaches(v float64) bool {
	if r.Op == AlertBelow {
		return v < r.Threshold
	}
	return v > r.Threshold
}

// recovered reports whether v is back past the recovery value.
func (r AlertRule) recovered(v float64) bool {
	rec := r.Threshold
	if r.Recovery != nil {
		rec = *r.Recovery
	}
	if r.Op == AlertBelow {
		return v >= rec
	}
	return v <= rec
}

// matches reports whether the rule covers container c.
func (r AlertRule) matches(c ContainerFigures) bool {
	if r.ContainerPattern != "" {
		if ok, _ := path.Match(r.ContainerPattern, c.Name); !ok {
			return false
		}
	}
	for k, v := range r.Labels {
		if c.Labels[k] != v {
			return false
		}
	}
	return true
}

// CycleFigures are the figures of one cycle that rules read.
type CycleFigures struct {
	At            time.Time          `json:"at"`
	CPUPercent    float64            `json:"cpuPercent"`
	MemoryPercent float64            `json:"memoryPercent"`
	Containers    []ContainerFigures `json:"containers,omitempty"`
	// Interval is the metrics interval, set by the workflow: a pending
	// breach not observed for more than two of them starts over (0: never).
	Interval time.Duration `json:"interval,omitempty"`
	// MaxContainerAlerts bounds the container states (rule × container)
	// an evaluation holds (AlertCaps.ContainerAlerts; 0: no bound).
	MaxContainerAlerts int `json:"maxContainerAlerts,omitempty"`
}

// ContainerFigures are one container's figures of a cycle.
type ContainerFigures struct {
	ID     string            `json:"id"`
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
	// NotRunning marks a container listed only for its restarts (a
	// crash-looping container between two starts): its other figures are
	// zero and only restart rules judge it.
	NotRunning    bool    `json:"notRunning,omitempty"`
	CPUPercent    float64 `json:"cpuPercent"`
	MemoryPercent float64 `json:"memoryPercent"`
	// MemoryHostPercent is its memory use as a percentage of the host's.
	MemoryHostPercent float64 `json:"memoryHostPercent,omitempty"`
	MemoryBytes       int64   `json:"memoryBytes"`
	// Restarts counts its restarts over each window a restart rule asks
	// for, keyed by RestartWindowKey(window).
	Restarts map[string]int `json:"restarts,omitempty"`
	// Matches, when set, is the collection's matching: bit i (of byte
	// i/8) is set when the i-th rule of the evaluation covers the
	// container. Labels are then left out.
	Matches []byte `json:"matches,omitempty"`
}

// AlertPhase is where one rule × target stands.
type AlertPhase string

// Phases. An alert that is neither pending nor firing has no state.
const (
	AlertPending  AlertPhase = "pending"
	AlertFiring   AlertPhase = "firing"
	AlertResolved AlertPhase = "resolved" // only in transitions
)

// AlertState is the state of one rule × target (Target: "" for the host,
// the container's name otherwise, so that a recreated container keeps its
// alert).
type AlertState struct {
	RuleID string `json:"ruleId"`
	Target string `json:"target,omitempty"`
	// ContainerID is the short ID (12 characters) of the target container
	// when last seen: a rename keeps the alert.
	ContainerID string     `json:"containerId,omitempty"`
	Phase       AlertPhase `json:"phase"`
	// Since is when the breach began (pending) or the alert fired.
	Since time.Time `json:"since"`
	// Seen is the cycle a pending breach was last observed (zero when
	// firing).
	Seen time.Time `json:"seen,omitzero"`
	// Value is the figure of the last cycle evaluated.
	Value float64 `json:"value"`
}

// AlertTransition is one change to notify: firing or resolved.
type AlertTransition struct {
	RuleID string     `json:"ruleId"`
	Target string     `json:"target,omitempty"`
	Phase  AlertPhase `json:"phase"`
	At     time.Time  `json:"at"`
	Value  float64    `json:"value"`
	// Since is when the breach began (firing) or the alert fired (resolved).
	Since time.Time `json:"since"`
	// Reason says why an alert resolved without its figure recovering (the
	// container stopped or is gone; the rule was removed).
	Reason string `json:"reason,omitempty"`
	// RenamedFrom, on a firing transition, is the name the alert fired
	// under: its container was renamed. It is recorded without a
	// notification (the old name resolved, the new one firing).
	RenamedFrom string `json:"renamedFrom,omitempty"`
	// The rule as evaluated, for the message (zero when the rule was
	// removed).
	Metric    AlertMetric     `json:"metric,omitempty"`
	Op        AlertComparison `json:"op,omitempty"`
	Threshold float64         `json:"threshold,omitempty"`
	For       time.Duration   `json:"for,omitempty"`
}

// EvaluateAlerts runs rules on one cycle's figures from states (the result
// of the previous evaluation) and returns the new states and the
// transitions to notify, both in a stable order (rule, then target).
// A target a per-container rule no longer sees (its container stopped or
// is gone) resolves if firing; a state whose rule is gone resolves too.
// A container seen under a new name but with the ID its state holds was
// renamed: the state follows it (a firing one with a transition that
// carries RenamedFrom, recorded without a notification).
// A cycle with no figures (the engine offline) must not be evaluated; a
// pending breach whose last observation is more than two intervals
// (f.Interval) old starts over. With f.MaxContainerAlerts set, new
// container states are started only while fewer are held.
func EvaluateAlerts(rules []AlertRule, states []AlertState, f CycleFigures) ([]AlertState, []AlertTransition) {
	prev := make(map[[2]string]AlertState, len(states))
	byContainer := make(map[[2]string]AlertState, len(states))
	for _, s := range states {
		prev[[2]string{s.RuleID, s.Target}] = s
		if s.ContainerID != "" {
			byContainer[[2]string{s.RuleID, s.ContainerID}] = s
		}
	}
	judged := make([][]alertTarget, len(rules))
	seen := make(map[[2]string]bool, len(rules)*(len(f.Containers)+1))
	for i, r := range rules {
		judged[i] = targets(r, i, f)
		for _, t := range judged[i] {
			seen[[2]string{r.ID, t.name}] = true
		}
	}
	next := make([]AlertState, 0, len(states))
	var (
		out   []AlertTransition
		fresh []freshAlert // new container states, started while room is left
	)
	moved := map[[2]string]bool{} // states that followed a renamed container
	for i, r := range rules {
		for _, t := range judged[i] {
			key := [2]string{r.ID, t.name}
			s, had := prev[key]
			if !had && t.id != "" {
				// A rename: the ID's state, whose name is no longer seen.
				if old, ok := byContainer[[2]string{r.ID, shortContainerID(t.id)}]; ok && !seen[[2]string{r.ID, old.Target}] && !moved[[2]string{r.ID, old.Target}] {
					moved[[2]string{r.ID, old.Target}] = true
					if old.Phase == AlertFiring {
						tr := r.transition(t.name, AlertFiring, f.At, t.value, old.Since)
						tr.RenamedFrom = old.Target
						out = append(out, tr)
					}
					s, had = old, true
					s.Target = t.name
				}
			}
			switch {
			case !had && r.breaches(t.value) && t.name != "" && f.MaxContainerAlerts > 0:
				fresh = append(fresh, freshAlert{rule: r, target: t})
			case !had && r.breaches(t.value):
				next, out = r.start(next, out, t, f.At)
			case !had:
			case s.Phase == AlertPending && !r.breaches(t.value):
				// The breach ended before it lasted: forgotten.
			case s.Phase == AlertPending:
				if f.Interval > 0 && !s.Seen.IsZero() && f.At.Sub(s.Seen) > 2*f.Interval {
					s.Since = f.At // not observed meanwhile: the breach starts over
				}
				s.Value, s.Seen, s.ContainerID = t.value, f.At, shortContainerID(t.id)
				if f.At.Sub(s.Since) >= r.pendingFor() {
					out = append(out, r.transition(t.name, AlertFiring, f.At, t.value, s.Since))
					s.Phase, s.Since, s.Seen = AlertFiring, f.At, time.Time{}
				}
				next = append(next, s)
			case r.recovered(t.value): // firing, back past the recovery value
				out = append(out, r.transition(t.name, AlertResolved, f.At, t.value, s.Since))
			default: // firing, still breaching or within the hysteresis band
				s.Value, s.ContainerID = t.value, shortContainerID(t.id)
				next = append(next, s)
			}
		}
	}
	if len(fresh) > 0 {
		room := f.MaxContainerAlerts
		for _, s := range next {
			if s.Target != "" {
				room--
			}
		}
		for _, c := range fresh[:max(0, min(room, len(fresh)))] {
			next, out = c.rule.start(next, out, c.target, f.At)
		}
	}
	// States of targets no longer seen, or of rules gone.
	ruleByID := make(map[string]AlertRule, len(rules))
	for _, r := range rules {
		ruleByID[r.ID] = r
	}
	for _, s := range states {
		key := [2]string{s.RuleID, s.Target}
		if seen[key] || moved[key] || s.Phase != AlertFiring {
			continue
		}
		r, ok := ruleByID[s.RuleID]
		t := r.transition(s.Target, AlertResolved, f.At, s.Value, s.Since)
		t.RuleID, t.Reason = s.RuleID, "the container stopped or is gone"
		if !ok {
			t.Reason = "the rule was removed"
		}
		out = append(out, t)
	}
	order := func(ruleA, targetA, ruleB, targetB string) int {
		return cmp.Or(cmp.Compare(ruleA, ruleB), cmp.Compare(targetA, targetB))
	}
	slices.SortStableFunc(next, func(a, b AlertState) int { return order(a.RuleID, a.Target, b.RuleID, b.Target) })
	slices.SortStableFunc(out, func(a, b AlertTransition) int { return order(a.RuleID, a.Target, b.RuleID, b.Target) })
	return next, out
}

// freshAlert is a breach of a target without a state.
type freshAlert struct {
	rule   AlertRule
	target alertTarget
}

// start adds the state of a new breach of t at at to next: pending, or
// firing at once (with its transition in out) when the rule has no
// pending time.
func (r AlertRule) start(next []AlertState, out []AlertTransition, t alertTarget, at time.Time) ([]AlertState, []AlertTransition) {
	s := AlertState{RuleID: r.ID, Target: t.name, ContainerID: shortContainerID(t.id), Phase: AlertPending, Since: at, Seen: at, Value: t.value}
	if r.pendingFor() == 0 {
		s.Phase, s.Seen = AlertFiring, time.Time{}
		out = append(out, r.transition(t.name, AlertFiring, at, t.value, at))
	}
	return append(next, s), out
}

// shortContainerID is the first 12 characters of a container ID, as
// Docker shows it: enough to tell a renamed container from another.
func shortContainerID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// transition is a transition of rule r on target.
func (r AlertRule) transition(target string, phase AlertPhase, at time.Time, value float64, since time.Time) AlertTransition {
	return AlertTransition{
		RuleID: r.ID, Target: target, Phase: phase, At: at, Value: value, Since: since,
		Metric: r.Metric, Op: r.Op, Threshold: r.Threshold, For: r.For,
	}
}

// alertTarget is one value a rule judges: the host's (name and id
// empty), or a container's.
type alertTarget struct {
	name, id string
	value    float64
}

// targets lists what rule r (rules[i] of the evaluation) judges in f: the
// host, or every container it matches, by name (a container without a
// name by ID).
func targets(r AlertRule, i int, f CycleFigures) []alertTarget {
	switch r.Metric {
	case AlertHostCPU:
		return []alertTarget{{"", "", f.CPUPercent}}
	case AlertHostMemory:
		return []alertTarget{{"", "", f.MemoryPercent}}
	}
	var out []alertTarget
	for _, c := range f.Containers {
		if !c.matchedBy(r, i) {
			continue
		}
		if c.NotRunning && r.Metric != AlertContainerRestarts {
			continue
		}
		out = append(out, alertTarget{cmp.Or(c.Name, c.ID), c.ID, r.ContainerValue(c)})
	}
	return out
}

// matchedBy reports whether rule r, rules[i] of the evaluation, covers c:
// bit i of Matches when the collection matched it, else by pattern and
// labels.
func (c ContainerFigures) matchedBy(r AlertRule, i int) bool {
	if c.Matches == nil {
		return r.matches(c)
	}
	return i/8 < len(c.Matches) && c.Matches[i/8]&(1<<(i%8)) != 0
}

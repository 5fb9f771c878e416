package workflows

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"time"
)

// Alert rules (issue 11): the pending → firing → resolved machine that an
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
	AlertContainerBytes  AlertMetric = "container_memory_bytes"
)

// perContainer reports whether m is a figure of each container.
func (m AlertMetric) perContainer() bool {
	switch m {
	case AlertContainerCPU, AlertContainerMemory, AlertContainerBytes:
		return true
	}
	return false
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
	switch r.Metric {
	case AlertHostCPU, AlertHostMemory, AlertContainerCPU, AlertContainerMemory, AlertContainerBytes:
	default:
		return fmt.Errorf("%w: metric %q is not one of host_cpu_percent, host_memory_percent, container_cpu_percent, container_memory_percent, container_memory_bytes", ErrInvalidSettings, r.Metric)
	}
	if r.Op != AlertAbove && r.Op != AlertBelow {
		return fmt.Errorf("%w: op must be %q or %q, got %q", ErrInvalidSettings, AlertAbove, AlertBelow, r.Op)
	}
	if r.For < 0 || r.For > 24*time.Hour {
		return fmt.Errorf("%w: for must be between 0 and 24h, got %s", ErrInvalidSettings, r.For)
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
}

// ContainerFigures are one container's figures of a cycle.
type ContainerFigures struct {
	ID            string            `json:"id"`
	Name          string            `json:"name"`
	Labels        map[string]string `json:"labels,omitempty"`
	CPUPercent    float64           `json:"cpuPercent"`
	MemoryPercent float64           `json:"memoryPercent"`
	MemoryBytes   int64             `json:"memoryBytes"`
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
	RuleID string     `json:"ruleId"`
	Target string     `json:"target,omitempty"`
	Phase  AlertPhase `json:"phase"`
	// Since is when the breach began (pending) or the alert fired.
	Since time.Time `json:"since"`
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
}

// EvaluateAlerts runs rules on one cycle's figures from states (the result
// of the previous evaluation) and returns the new states and the
// transitions to notify, both in a stable order (rule, then target).
// A target a per-container rule no longer sees (its container stopped or
// is gone) resolves if firing; a state whose rule is gone resolves too.
// A cycle with no figures (the engine offline) must not be evaluated:
// pending time then carries on, nothing fires or resolves.
func EvaluateAlerts(rules []AlertRule, states []AlertState, f CycleFigures) ([]AlertState, []AlertTransition) {
	prev := make(map[[2]string]AlertState, len(states))
	for _, s := range states {
		prev[[2]string{s.RuleID, s.Target}] = s
	}
	next := make([]AlertState, 0, len(states))
	var out []AlertTransition
	seen := make(map[[2]string]bool, len(rules)*(len(f.Containers)+1))
	for _, r := range rules {
		for _, t := range targets(r, f) {
			key := [2]string{r.ID, t.name}
			seen[key] = true
			s, had := prev[key]
			switch {
			case !had && r.breaches(t.value):
				s = AlertState{RuleID: r.ID, Target: t.name, Phase: AlertPending, Since: f.At, Value: t.value}
				if r.For == 0 {
					s.Phase = AlertFiring
					out = append(out, AlertTransition{RuleID: r.ID, Target: t.name, Phase: AlertFiring, At: f.At, Value: t.value, Since: f.At})
				}
				next = append(next, s)
			case !had:
			case s.Phase == AlertPending && !r.breaches(t.value):
				// The breach ended before it lasted: forgotten.
			case s.Phase == AlertPending:
				s.Value = t.value
				if f.At.Sub(s.Since) >= r.For {
					out = append(out, AlertTransition{RuleID: r.ID, Target: t.name, Phase: AlertFiring, At: f.At, Value: t.value, Since: s.Since})
					s.Phase, s.Since = AlertFiring, f.At
				}
				next = append(next, s)
			case r.recovered(t.value): // firing, back past the recovery value
				out = append(out, AlertTransition{RuleID: r.ID, Target: t.name, Phase: AlertResolved, At: f.At, Value: t.value, Since: s.Since})
			default: // firing, still breaching or within the hysteresis band
				s.Value = t.value
				next = append(next, s)
			}
		}
	}
	// States of targets no longer seen, or of rules gone.
	ruleIDs := make(map[string]bool, len(rules))
	for _, r := range rules {
		ruleIDs[r.ID] = true
	}
	for _, s := range states {
		key := [2]string{s.RuleID, s.Target}
		if seen[key] || s.Phase != AlertFiring {
			continue
		}
		reason := "the container stopped or is gone"
		if !ruleIDs[s.RuleID] {
			reason = "the rule was removed"
		}
		out = append(out, AlertTransition{RuleID: s.RuleID, Target: s.Target, Phase: AlertResolved, At: f.At, Value: s.Value, Since: s.Since, Reason: reason})
	}
	order := func(ruleA, targetA, ruleB, targetB string) int {
		return cmp.Or(cmp.Compare(ruleA, ruleB), cmp.Compare(targetA, targetB))
	}
	slices.SortStableFunc(next, func(a, b AlertState) int { return order(a.RuleID, a.Target, b.RuleID, b.Target) })
	slices.SortStableFunc(out, func(a, b AlertTransition) int { return order(a.RuleID, a.Target, b.RuleID, b.Target) })
	return next, out
}

// alertTarget is one value a rule judges: the host's, or a container's.
type alertTarget struct {
	name  string
	value float64
}

// targets lists what rule r judges in f: the host, or every container it
// matches, by name (a container without a name by ID).
func targets(r AlertRule, f CycleFigures) []alertTarget {
	switch r.Metric {
	case AlertHostCPU:
		return []alertTarget{{"", f.CPUPercent}}
	case AlertHostMemory:
		return []alertTarget{{"", f.MemoryPercent}}
	}
	var out []alertTarget
	for _, c := range f.Containers {
		if !r.matches(c) {
			continue
		}
		name := cmp.Or(c.Name, c.ID)
		switch r.Metric {
		case AlertContainerCPU:
			out = append(out, alertTarget{name, c.CPUPercent})
		case AlertContainerMemory:
			out = append(out, alertTarget{name, c.MemoryPercent})
		case AlertContainerBytes:
			out = append(out, alertTarget{name, float64(c.MemoryBytes)})
		}
	}
	return out
}

package activities

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"

	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/notify"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/workflows"
)

// Alert rules, the activities' side: CollectMetrics gives the
// workflow the rules that apply and the figures they read
// (MetricsSummary.Alerts); RecordAlertTransitions stores what the
// workflow's evaluation decided and notifies it.

// alertRules converts the enabled stored rules of an environment into the
// rules the workflow evaluates, sorted by ID. A rule the evaluator would
// refuse (stored before a validation change) is left out.
func alertRules(ctx context.Context, stored []store.AlertRule) []workflows.AlertRule {
	rules := make([]workflows.AlertRule, 0, len(stored))
	for _, s := range stored {
		r := workflows.AlertRule{
			ID: s.ID.String(), Metric: workflows.AlertMetric(s.Metric), Op: workflows.AlertComparison(s.Op),
			Threshold: s.Threshold, For: time.Duration(s.ForSeconds) * time.Second, Recovery: s.Recovery,
			ContainerPattern: s.ContainerPattern,
		}
		if len(s.Labels) > 0 {
			r.Labels = s.Labels
		}
		if err := r.Validate(); err != nil {
			logger(ctx).Warn("Alert rule skipped", "Rule", s.Name, "Error", err)
			continue
		}
		rules = append(rules, r)
	}
	slices.SortFunc(rules, func(a, b workflows.AlertRule) int { return cmp.Compare(a.ID, b.ID) })
	return rules
}

// alertCycle is what the cycle of in gives the workflow's evaluation: the
// rules only when they differ from the ones the workflow holds (by
// digest), the figures the rules need (see alertFigures), at most
// maxAlerts containers that are not watched.
func alertCycle(rules []workflows.AlertRule, in workflows.CollectMetricsInput, host engine.HostSample,
	samples []engine.ContainerSample, restarts map[string]store.ContainerRestarts, maxAlerts int) *workflows.AlertCycle {
	out := &workflows.AlertCycle{
		RulesDigest: rulesDigest(rules),
		Figures:     alertFigures(rules, in.CycleAt, host, samples, restarts, in.AlertTargets),
	}
	out.Figures.Containers = limitUnwatched(out.Figures.Containers, in.AlertTargets, maxAlerts)
	out.Figures.MaxContainerAlerts = maxAlerts
	if out.RulesDigest == in.AlertRulesDigest {
		out.RulesUnchanged = true
	} else {
		out.Rules = rules
	}
	return out
}

// alertCycleOf is the alert part of a collection's summary (see
// alertCycle), with the alerts stored as firing when in asks for them;
// nil when no rule applies and none is asked for.
func (a *Activities) alertCycleOf(ctx context.Context, env store.Environment, rules []workflows.AlertRule,
	in workflows.CollectMetricsInput, host engine.HostSample, samples []engine.ContainerSample,
	restarts map[string]store.ContainerRestarts) (*workflows.AlertCycle, error) {
	if len(rules) == 0 && !in.AdoptAlerts {
		return nil, nil
	}
	caps := a.AlertCaps.WithDefaults()
	if !in.AdoptAlerts {
		return alertCycle(rules, in, host, samples, restarts, caps.ContainerAlerts), nil
	}
	sctx, cancel := storeContext(ctx)
	firing, err := a.Store.FiringAlerts(sctx, env.ID, caps.ContainerAlerts+caps.GlobalRules+caps.EnvironmentRules)
	cancel()
	if err != nil {
		return nil, storeError(ctx, "read firing alerts", "of "+env.Name, err)
	}
	// Their containers are watched: the figures say whether each recovered.
	in.AlertTargets = slices.Clone(in.AlertTargets)
	adopted := make([]workflows.AlertState, 0, len(firing))
	for _, al := range firing {
		adopted = append(adopted, workflows.AlertState{RuleID: al.RuleID.String(), Target: al.Target,
			Phase: workflows.AlertFiring, Since: al.At, Value: al.Value})
		if al.Target != "" {
			in.AlertTargets = append(in.AlertTargets, al.Target)
		}
	}
	cycle := alertCycle(rules, in, host, samples, restarts, caps.ContainerAlerts)
	cycle.Adopted, cycle.Firing = true, adopted
	return cycle, nil
}

// rulesDigest identifies rules (sorted by ID): 16 hex digits of the
// SHA-256 of their JSON.
func rulesDigest(rules []workflows.AlertRule) string {
	b, err := json.Marshal(rules)
	if err != nil {
		return "" // cannot happen: plain data; "" never matches a held digest
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// perContainer reports whether rule r judges each container (rather than
// the host).
func perContainer(r workflows.AlertRule) bool {
	return r.Metric != workflows.AlertHostCPU && r.Metric != workflows.AlertHostMemory
}

// containerRule is a per-container rule prepared for matching.
type containerRule struct {
	rule workflows.AlertRule
	// index is the rule's place among the rules (its bit in
	// ContainerFigures.Matches).
	index   int
	pattern string
	labels  [][2]string // key, value
	// window and key (RestartWindowKey(window)) of a restart rule; zero
	// otherwise.
	window time.Duration
	key    string
}

// newContainerRule prepares per-container rule r.
func newContainerRule(r workflows.AlertRule, index int) containerRule {
	c := containerRule{rule: r, index: index, pattern: r.ContainerPattern}
	for k, v := range r.Labels {
		c.labels = append(c.labels, [2]string{k, v})
	}
	if r.Metric == workflows.AlertContainerRestarts {
		c.window, c.key = r.For, workflows.RestartWindowKey(r.For)
	}
	return c
}

// matches reports whether the rule covers the container named name with
// labels: the workflow's matching (a path.Match glob on the name, every
// label equal).
func (c containerRule) matches(name string, labels map[string]string) bool {
	if c.pattern != "" {
		if ok, _ := path.Match(c.pattern, name); !ok {
			return false
		}
	}
	for _, kv := range c.labels {
		if labels[kv[0]] != kv[1] {
			return false
		}
	}
	return true
}

// alertFigures are the figures of one cycle that rules read: the host's,
// and each container that at least one per-container rule matches and that
// breaches one of them or is among watched (the containers with an alert,
// by name or short ID) — a container that neither breaches nor has an
// alert gives the evaluation nothing to do, so a steady cycle carries no
// container — with the rules that match it (Matches, in place of its
// labels), its memory as a share of its limit and of the host's, and its
// restarts over the windows of the restart rules that match it — plus, for
// restart rules, the containers not running that restarted in a window
// (NotRunning). Containers are ordered by name, then ID. restarts are the
// container restarts over (at least) the windows of the restart rules
// (store.CycleInputs.Restarts).
func alertFigures(rules []workflows.AlertRule, at time.Time, host engine.HostSample, samples []engine.ContainerSample,
	restarts map[string]store.ContainerRestarts, watched []string) workflows.CycleFigures {
	f := workflows.CycleFigures{At: at, CPUPercent: host.CPUPercent, MemoryPercent: host.MemoryPercent}
	var byContainer []containerRule
	for i, r := range rules {
		if perContainer(r) {
			byContainer = append(byContainer, newContainerRule(r, i))
		}
	}
	if len(byContainer) == 0 {
		return f
	}
	isWatched := watchedSet(watched)
	// container figures c if a rule matches it (its restarts filled) and
	// it breaches one or is watched, or false.
	figures := func(c workflows.ContainerFigures, labels map[string]string) (workflows.ContainerFigures, bool) {
		var matching []workflows.AlertRule
		matches := make([]byte, (len(rules)+7)/8)
		for _, r := range byContainer {
			if !r.matches(c.Name, labels) {
				continue
			}
			matching = append(matching, r.rule)
			matches[r.index/8] |= 1 << (r.index % 8)
			if r.key != "" {
				if c.Restarts == nil {
					c.Restarts = map[string]int{}
				}
				c.Restarts[r.key] = restarts[c.Name].Counts[r.window]
			}
		}
		matched := len(matching) > 0 && isWatched(c)
		for _, r := range matching {
			if matched {
				break
			}
			if !c.NotRunning || r.Metric == workflows.AlertContainerRestarts {
				matched = r.Breaches(r.ContainerValue(c))
			}
		}
		c.Matches = matches
		return c, matched
	}
	running := make(map[string]bool, len(samples))
	for _, s := range samples {
		running[s.Name] = true
		c := workflows.ContainerFigures{ID: s.ID, Name: s.Name, CPUPercent: s.CPUPercent,
			MemoryPercent: percentOf(s.MemoryUsed, s.MemoryLimit), MemoryHostPercent: percentOf(s.MemoryUsed, host.MemoryTotal),
			MemoryBytes: clampInt64(s.MemoryUsed)}
		if c, ok := figures(c, s.Labels); ok {
			f.Containers = append(f.Containers, c)
		}
	}
	for name, r := range restarts {
		if running[name] {
			continue
		}
		c, ok := figures(workflows.ContainerFigures{ID: r.ContainerID, Name: name, NotRunning: true}, r.Attributes)
		if ok && restarted(c.Restarts) {
			f.Containers = append(f.Containers, c)
		}
	}
	slices.SortFunc(f.Containers, func(a, b workflows.ContainerFigures) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return f
}

// watchedSet reports whether a container is among watched, by name or
// short ID.
func watchedSet(watched []string) func(c workflows.ContainerFigures) bool {
	set := make(map[string]bool, len(watched))
	for _, w := range watched {
		set[w] = true
	}
	return func(c workflows.ContainerFigures) bool {
		return set[c.Name] || (c.ID != "" && set[c.ID[:min(len(c.ID), 12)]])
	}
}

// limitUnwatched keeps every watched container of containers (sorted) and
// the first of the others, in order, up to limit less the watched ones
// (all with limit 0): an evaluation can start no more container alerts.
func limitUnwatched(containers []workflows.ContainerFigures, watched []string, limit int) []workflows.ContainerFigures {
	if limit <= 0 || len(containers) <= limit {
		return containers
	}
	isWatched := watchedSet(watched)
	room := limit
	for _, c := range containers {
		if isWatched(c) {
			room--
		}
	}
	out := containers[:0:0]
	for _, c := range containers {
		if isWatched(c) || room > 0 {
			if !isWatched(c) {
				room--
			}
			out = append(out, c)
		}
	}
	return out
}

// restarted reports whether some window counts a restart.
func restarted(counts map[string]int) bool {
	for _, n := range counts {
		if n > 0 {
			return true
		}
	}
	return false
}

// percentOf is part / whole × 100, 0 when whole is 0.
func percentOf(part, whole uint64) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole) * 100
}

// RecordAlertTransitions stores the alert transitions one evaluation of the
// environment's rules decided, each with its notification (to the rule's
// channels, or the subscribed ones), in one transaction, then starts their
// delivery. Each transition is keyed by (environment, rule, target, phase,
// At), so a retried attempt stores and notifies nothing twice. An
// environment deleted meanwhile fails without retry; PostgreSQL unavailable
// is the monitor's fault (storeError).
func (a *Activities) RecordAlertTransitions(ctx context.Context, in workflows.RecordAlertTransitionsInput) error {
	env, err := a.environment(ctx, in.EnvironmentID)
	if err != nil || len(in.Transitions) == 0 {
		return err
	}
	rows := make([]store.Alert, 0, len(in.Transitions))
	for _, t := range in.Transitions {
		ruleID, err := uuid.Parse(t.RuleID)
		if err != nil {
			return temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("alert transition of %s: rule ID %q is not a UUID", env.Name, t.RuleID), "StoreRejected", err)
		}
		row := store.Alert{RuleID: ruleID, Target: t.Target, Phase: string(t.Phase), At: t.At, Since: t.Since,
			Value: t.Value, Metric: string(t.Metric), Op: string(t.Op), Threshold: t.Threshold,
			ForSeconds: int(t.For / time.Second), Reason: t.Reason}
		if t.RenamedFrom != "" {
			// The alert goes on under the new name: both rows, no notification.
			old := row
			old.Target, old.Phase, old.Reason, old.Quiet = t.RenamedFrom, store.AlertResolved, "the container was renamed to "+t.Target, true
			row.Reason, row.Quiet = "the container was renamed from "+t.RenamedFrom, true
			rows = append(rows, old)
		}
		rows = append(rows, row)
	}
	workflowID := workflows.WorkflowID(env.ID.String())
	draft := func(al store.Alert) store.NotificationDraft {
		kind, title, message := notify.AlertMessage(notify.AlertFacts{
			EnvironmentID: env.ID.String(), EnvironmentName: env.Name, WorkflowID: workflowID,
			RuleName: al.RuleName, Severity: al.Severity, Target: al.Target, Resolved: al.Phase == store.AlertResolved,
			Metric: al.Metric, Op: al.Op, Threshold: al.Threshold, For: time.Duration(al.ForSeconds) * time.Second,
			Value: al.Value, At: al.At, Since: al.Since, Reason: al.Reason,
		}, a.Links)
		return store.NotificationDraft{Kind: kind, Title: title, Message: message}
	}
	sctx, cancel := storeContext(ctx)
	_, ids, err := a.Store.RecordAlertTransitions(sctx, env.ID, rows, draft)
	cancel()
	switch {
	case errors.Is(err, store.ErrNotFound):
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("record alert transitions of %s: environment %s does not exist", env.Name, env.ID), errNotFound, err)
	case errors.Is(err, store.ErrInvalid):
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("record alert transitions of %s: %v", env.Name, err), "StoreRejected", err)
	case err != nil:
		return storeError(ctx, "record alert transitions", "of "+env.Name, err)
	}
	a.startDeliveries(ctx, ids)
	return nil
}

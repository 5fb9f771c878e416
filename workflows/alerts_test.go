package workflows

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var alertT0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// runAlerts evaluates rules over cycles and returns every transition (with
// the rule's copy in it left out; TestAlerts_TransitionCarriesRule checks
// it) and the final states.
func runAlerts(t *testing.T, rules []AlertRule, cycles []CycleFigures) ([]AlertTransition, []AlertState) {
	t.Helper()
	var states []AlertState
	var all []AlertTransition
	for _, f := range cycles {
		var out []AlertTransition
		states, out = EvaluateAlerts(rules, states, f)
		for _, tr := range out {
			tr.Metric, tr.Op, tr.Threshold, tr.For = "", "", 0, 0
			all = append(all, tr)
		}
	}
	return all, states
}

// A transition carries the rule as it was evaluated (for the message),
// also when its container is gone; a removed rule's carries none.
func TestAlerts_TransitionCarriesRule(t *testing.T) {
	rule := AlertRule{ID: "mem", Metric: AlertContainerHost, Op: AlertAbove, Threshold: 20, For: time.Minute}
	require.NoError(t, rule.Validate())
	c := ContainerFigures{ID: "a", Name: "app", MemoryHostPercent: 30, MemoryPercent: 90}
	states, out := EvaluateAlerts([]AlertRule{rule}, nil, CycleFigures{At: alertT0, Containers: []ContainerFigures{c}})
	require.Empty(t, out)
	states, out = EvaluateAlerts([]AlertRule{rule}, states, CycleFigures{At: alertT0.Add(time.Minute), Containers: []ContainerFigures{c}})
	want := AlertTransition{RuleID: "mem", Target: "app", Phase: AlertFiring, At: alertT0.Add(time.Minute), Value: 30, Since: alertT0,
		Metric: AlertContainerHost, Op: AlertAbove, Threshold: 20, For: time.Minute}
	require.Equal(t, []AlertTransition{want}, out)
	_, out = EvaluateAlerts([]AlertRule{rule}, states, CycleFigures{At: alertT0.Add(90 * time.Second)})
	want.Phase, want.At, want.Since, want.Reason = AlertResolved, alertT0.Add(90*time.Second), alertT0.Add(time.Minute), "the container stopped or is gone"
	require.Equal(t, []AlertTransition{want}, out)
	_, out = EvaluateAlerts(nil, states, CycleFigures{At: alertT0.Add(90 * time.Second)})
	require.Equal(t, []AlertTransition{{RuleID: "mem", Target: "app", Phase: AlertResolved, At: alertT0.Add(90 * time.Second),
		Value: 30, Since: alertT0.Add(time.Minute), Reason: "the rule was removed"}}, out)
}

// Restarts: For is the window; the rule fires at the first cycle whose
// window holds more restarts than the threshold (no pending time), a
// crash-looping container listed between two starts (NotRunning) keeps
// its alert, and the alert resolves when the window empties. Other rules
// do not judge a container that is not running.
func TestAlerts_Restarts(t *testing.T) {
	rule := AlertRule{ID: "loop", Metric: AlertContainerRestarts, Op: AlertAbove, Threshold: 2, For: 10 * time.Minute}
	require.NoError(t, rule.Validate())
	cpu := AlertRule{ID: "cpu", Metric: AlertContainerCPU, Op: AlertAbove, Threshold: -1}
	key := RestartWindowKey(10 * time.Minute)
	require.Equal(t, "600", key)
	c := func(i, restarts int, running bool) CycleFigures {
		return CycleFigures{At: alertT0.Add(time.Duration(i) * 30 * time.Second), Containers: []ContainerFigures{
			{ID: "a", Name: "worker", NotRunning: !running, Restarts: map[string]int{key: restarts}}}}
	}
	got, states := runAlerts(t, []AlertRule{rule, cpu}, []CycleFigures{c(0, 1, true), c(1, 3, false), c(2, 4, true), c(3, 2, true)})
	require.Equal(t, []AlertTransition{
		{RuleID: "cpu", Target: "worker", Phase: AlertFiring, At: alertT0, Value: 0, Since: alertT0},
		{RuleID: "cpu", Target: "worker", Phase: AlertResolved, At: alertT0.Add(30 * time.Second), Value: 0, Since: alertT0,
			Reason: "the container stopped or is gone"},
		{RuleID: "loop", Target: "worker", Phase: AlertFiring, At: alertT0.Add(30 * time.Second), Value: 3, Since: alertT0.Add(30 * time.Second)},
		{RuleID: "cpu", Target: "worker", Phase: AlertFiring, At: alertT0.Add(time.Minute), Value: 0, Since: alertT0.Add(time.Minute)},
		{RuleID: "loop", Target: "worker", Phase: AlertResolved, At: alertT0.Add(90 * time.Second), Value: 2, Since: alertT0.Add(30 * time.Second)},
	}, got)
	require.Len(t, states, 1) // cpu, firing

	for _, bad := range []time.Duration{0, 30 * time.Second, time.Minute + time.Millisecond} {
		rule.For = bad
		require.Error(t, rule.Validate(), "window %s", bad)
	}
}

func hostCycles(values ...float64) []CycleFigures {
	out := make([]CycleFigures, len(values))
	for i, v := range values {
		out[i] = CycleFigures{At: alertT0.Add(time.Duration(i) * 30 * time.Second), CPUPercent: v}
	}
	return out
}

// A host above 90 % CPU for 2 minutes: pending from the first breach,
// firing once it has lasted 2 minutes, resolved once below: exactly one
// transition each.
func TestAlerts_HostCPUForTwoMinutes(t *testing.T) {
	rule := AlertRule{ID: "cpu90", Metric: AlertHostCPU, Op: AlertAbove, Threshold: 90, For: 2 * time.Minute}
	require.NoError(t, rule.Validate())
	got, states := runAlerts(t, []AlertRule{rule}, hostCycles(50, 95, 96, 97, 98, 99, 99, 40, 30))
	require.Equal(t, []AlertTransition{
		{RuleID: "cpu90", Phase: AlertFiring, At: alertT0.Add(150 * time.Second), Value: 99, Since: alertT0.Add(30 * time.Second)},
		{RuleID: "cpu90", Phase: AlertResolved, At: alertT0.Add(210 * time.Second), Value: 40, Since: alertT0.Add(150 * time.Second)},
	}, got)
	require.Empty(t, states)
}

// A breach that ends before it has lasted is forgotten: the next breach
// starts its own count.
func TestAlerts_InterruptedBreachStartsOver(t *testing.T) {
	rule := AlertRule{ID: "cpu90", Metric: AlertHostCPU, Op: AlertAbove, Threshold: 90, For: time.Minute}
	got, states := runAlerts(t, []AlertRule{rule}, hostCycles(95, 95, 50, 95, 95))
	require.Empty(t, got)
	require.Equal(t, []AlertState{{RuleID: "cpu90", Phase: AlertPending, Since: alertT0.Add(90 * time.Second),
		Seen: alertT0.Add(120 * time.Second), Value: 95}}, states)
}

// For 0: the first breaching cycle fires.
func TestAlerts_ForZeroFiresAtOnce(t *testing.T) {
	rule := AlertRule{ID: "mem", Metric: AlertHostMemory, Op: AlertAbove, Threshold: 80}
	var cycles []CycleFigures
	for i, v := range []float64{70, 85, 86} {
		cycles = append(cycles, CycleFigures{At: alertT0.Add(time.Duration(i) * 30 * time.Second), MemoryPercent: v})
	}
	got, states := runAlerts(t, []AlertRule{rule}, cycles)
	require.Len(t, got, 1)
	require.Equal(t, AlertFiring, got[0].Phase)
	require.Equal(t, alertT0.Add(30*time.Second), got[0].At)
	require.Len(t, states, 1)
}

// With a recovery value, a firing alert stays firing in the band between
// it and the threshold.
func TestAlerts_Hysteresis(t *testing.T) {
	recovery := 70.0
	rule := AlertRule{ID: "cpu", Metric: AlertHostCPU, Op: AlertAbove, Threshold: 80, Recovery: &recovery}
	require.NoError(t, rule.Validate())
	got, _ := runAlerts(t, []AlertRule{rule}, hostCycles(85, 75, 79, 81, 72, 69, 75))
	require.Len(t, got, 2, "%+v", got)
	require.Equal(t, AlertFiring, got[0].Phase)
	require.Equal(t, AlertResolved, got[1].Phase)
	require.Equal(t, 69.0, got[1].Value)
}

// A "below" rule.
func TestAlerts_Below(t *testing.T) {
	rule := AlertRule{ID: "idle", Metric: AlertHostCPU, Op: AlertBelow, Threshold: 1, For: 30 * time.Second}
	got, _ := runAlerts(t, []AlertRule{rule}, hostCycles(5, 0.5, 0.2, 3))
	require.Len(t, got, 2)
	require.Equal(t, alertT0.Add(60*time.Second), got[0].At)
	require.Equal(t, AlertResolved, got[1].Phase)
}

// A memory rule with a label selector fires for the labelled container
// only; per container, by name; a container that stops resolves its alert
// (with the reason), and one that was only pending is forgotten.
func TestAlerts_ContainersByLabelAndGone(t *testing.T) {
	rule := AlertRule{ID: "leak", Metric: AlertContainerBytes, Op: AlertAbove, Threshold: 500e6, For: time.Minute,
		Labels: map[string]string{"team": "web"}}
	require.NoError(t, rule.Validate())
	web := func(mb int64) ContainerFigures {
		return ContainerFigures{ID: "aaa", Name: "web", Labels: map[string]string{"team": "web"}, MemoryBytes: mb * 1e6}
	}
	db := func(mb int64) ContainerFigures {
		return ContainerFigures{ID: "bbb", Name: "db", Labels: map[string]string{"team": "data"}, MemoryBytes: mb * 1e6}
	}
	cycle := func(i int, cs ...ContainerFigures) CycleFigures {
		return CycleFigures{At: alertT0.Add(time.Duration(i) * 30 * time.Second), Containers: cs}
	}
	// The leak: 400, 520, 560, 610 MB (fires at 610, a minute after 520);
	// db is always above 500 MB but not labelled; then web stops.
	got, states := runAlerts(t, []AlertRule{rule}, []CycleFigures{
		cycle(0, web(400), db(900)), cycle(1, web(520), db(900)), cycle(2, web(560), db(900)),
		cycle(3, web(610), db(900)), cycle(4, web(650), db(900)), cycle(5, db(900)),
	})
	require.Equal(t, []AlertTransition{
		{RuleID: "leak", Target: "web", Phase: AlertFiring, At: alertT0.Add(90 * time.Second), Value: 610e6, Since: alertT0.Add(30 * time.Second)},
		{RuleID: "leak", Target: "web", Phase: AlertResolved, At: alertT0.Add(150 * time.Second), Value: 650e6, Since: alertT0.Add(90 * time.Second),
			Reason: "the container stopped or is gone"},
	}, got)
	require.Empty(t, states)

	// Pending when it stops: forgotten, nothing sent.
	got, states = runAlerts(t, []AlertRule{rule}, []CycleFigures{cycle(0, web(600)), cycle(1)})
	require.Empty(t, got)
	require.Empty(t, states)
}

// A container name pattern.
func TestAlerts_ContainerPattern(t *testing.T) {
	rule := AlertRule{ID: "cpu", Metric: AlertContainerCPU, Op: AlertAbove, Threshold: 50, ContainerPattern: "api-*"}
	f := CycleFigures{At: alertT0, Containers: []ContainerFigures{
		{ID: "1", Name: "api-1", CPUPercent: 60}, {ID: "2", Name: "worker-1", CPUPercent: 90}, {ID: "3", Name: "api-2", CPUPercent: 10},
	}}
	_, out := EvaluateAlerts([]AlertRule{rule}, nil, f)
	require.Len(t, out, 1)
	require.Equal(t, "api-1", out[0].Target)
}

// The states go through JSON (continue-as-new, a new worker replaying):
// an alert already firing is not fired again, and a pending one keeps its
// start.
func TestAlerts_StatesSurviveJSON(t *testing.T) {
	rule := AlertRule{ID: "cpu90", Metric: AlertHostCPU, Op: AlertAbove, Threshold: 90, For: time.Minute}
	cycles := hostCycles(95, 95, 95, 95, 40)
	var states []AlertState
	var all []AlertTransition
	for _, f := range cycles {
		raw, err := json.Marshal(states)
		require.NoError(t, err)
		var decoded []AlertState
		require.NoError(t, json.Unmarshal(raw, &decoded))
		var out []AlertTransition
		states, out = EvaluateAlerts([]AlertRule{rule}, decoded, f)
		all = append(all, out...)
	}
	require.Len(t, all, 2)
	require.Equal(t, alertT0.Add(60*time.Second), all[0].At)
	require.Equal(t, AlertResolved, all[1].Phase)
}

// A rule removed while firing resolves its alert; a settings change that
// keeps the rule does not re-fire it.
func TestAlerts_RuleRemovedOrKept(t *testing.T) {
	rule := AlertRule{ID: "cpu90", Metric: AlertHostCPU, Op: AlertAbove, Threshold: 90}
	states, out := EvaluateAlerts([]AlertRule{rule}, nil, CycleFigures{At: alertT0, CPUPercent: 95})
	require.Len(t, out, 1)
	rule.Threshold = 92 // edited, still breaching: no new firing
	states2, out := EvaluateAlerts([]AlertRule{rule}, states, CycleFigures{At: alertT0.Add(30 * time.Second), CPUPercent: 95})
	require.Empty(t, out)
	_, out = EvaluateAlerts(nil, states2, CycleFigures{At: alertT0.Add(time.Minute), CPUPercent: 95})
	require.Equal(t, []AlertTransition{{RuleID: "cpu90", Phase: AlertResolved, At: alertT0.Add(time.Minute), Value: 95, Since: alertT0,
		Reason: "the rule was removed"}}, out)
}

// The output does not depend on the order of the containers or states.
func TestAlerts_Deterministic(t *testing.T) {
	rules := benchRules(5)
	f := benchFigures(30)
	want, wantOut := EvaluateAlerts(rules, nil, f)
	for i := range 20 {
		g := f
		g.Containers = append([]ContainerFigures(nil), f.Containers...)
		r := rand.New(rand.NewPCG(uint64(i), 7))
		r.Shuffle(len(g.Containers), func(a, b int) { g.Containers[a], g.Containers[b] = g.Containers[b], g.Containers[a] })
		got, gotOut := EvaluateAlerts(rules, nil, g)
		require.Equal(t, want, got)
		require.Equal(t, wantOut, gotOut)
	}
}

func TestAlerts_Validate(t *testing.T) {
	bad := func(mutate func(*AlertRule)) error {
		r := AlertRule{ID: "r", Metric: AlertContainerCPU, Op: AlertAbove, Threshold: 50}
		mutate(&r)
		return r.Validate()
	}
	high := 60.0
	for name, m := range map[string]func(*AlertRule){
		"metric":   func(r *AlertRule) { r.Metric = "disk" },
		"op":       func(r *AlertRule) { r.Op = ">" },
		"for":      func(r *AlertRule) { r.For = -time.Second },
		"recovery": func(r *AlertRule) { r.Recovery = &high },
		"pattern":  func(r *AlertRule) { r.ContainerPattern = "[" },
		"host+labels": func(r *AlertRule) {
			r.Metric, r.Labels = AlertHostCPU, map[string]string{"a": "b"}
		},
	} {
		require.ErrorIs(t, bad(m), ErrInvalidSettings, name)
	}
	require.NoError(t, bad(func(*AlertRule) {}))
}

func benchRules(n int) []AlertRule {
	metrics := []AlertMetric{AlertContainerCPU, AlertContainerMemory, AlertContainerBytes, AlertHostCPU, AlertHostMemory}
	rules := make([]AlertRule, n)
	for i := range rules {
		rules[i] = AlertRule{ID: fmt.Sprintf("rule-%02d", i), Metric: metrics[i%len(metrics)], Op: AlertAbove, Threshold: 40, For: time.Minute}
	}
	return rules
}

func benchFigures(containers int) CycleFigures {
	f := CycleFigures{At: alertT0, CPUPercent: 50, MemoryPercent: 60}
	for i := range containers {
		f.Containers = append(f.Containers, ContainerFigures{ID: fmt.Sprintf("%064d", i), Name: fmt.Sprintf("c-%02d", i),
			Labels: map[string]string{"app": "x"}, CPUPercent: float64(i * 2), MemoryPercent: float64(i), MemoryBytes: int64(i) * 1e8})
	}
	return f
}

// BenchmarkEvaluateAlerts: 20 rules on a 50-container cycle, half of the
// targets pending from the previous cycle (target: ≤ 1 ms of workflow CPU).
func BenchmarkEvaluateAlerts(b *testing.B) {
	rules := benchRules(20)
	f := benchFigures(50)
	states, _ := EvaluateAlerts(rules, nil, f)
	f.At = f.At.Add(30 * time.Second)
	for b.Loop() {
		EvaluateAlerts(rules, states, f)
	}
}

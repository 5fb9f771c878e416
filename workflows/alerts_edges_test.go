package workflows

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Pending time counts observed breaching time only: after a gap longer
// than two intervals the breach starts over, so one breaching sample after
// hours offline does not fire; a gap of two intervals carries on.
func TestAlerts_GapRestartsPending(t *testing.T) {
	rule := AlertRule{ID: "cpu90", Metric: AlertHostCPU, Op: AlertAbove, Threshold: 90, For: 2 * time.Minute}
	at := func(d time.Duration) CycleFigures {
		return CycleFigures{At: alertT0.Add(d), CPUPercent: 95, Interval: 30 * time.Second}
	}
	// Pending at 0, then the engine is offline for three hours.
	got, states := runAlerts(t, []AlertRule{rule}, []CycleFigures{at(0), at(3 * time.Hour)})
	require.Empty(t, got, "one sample after a gap does not fire")
	require.Len(t, states, 1)
	require.Equal(t, alertT0.Add(3*time.Hour), states[0].Since, "the breach starts over at the sample after the gap")
	require.Equal(t, alertT0.Add(3*time.Hour), states[0].Seen)

	// Observed again and again from there: fires two minutes later.
	got, _ = runAlerts(t, []AlertRule{rule}, []CycleFigures{at(0), at(3 * time.Hour), at(3*time.Hour + time.Minute),
		at(3*time.Hour + 90*time.Second), at(3*time.Hour + 2*time.Minute)})
	require.Equal(t, []AlertTransition{{RuleID: "cpu90", Phase: AlertFiring, At: alertT0.Add(3*time.Hour + 2*time.Minute),
		Value: 95, Since: alertT0.Add(3 * time.Hour)}}, got)

	// Gaps of exactly two intervals carry on: fires at 2 min.
	got, _ = runAlerts(t, []AlertRule{rule}, []CycleFigures{at(0), at(time.Minute), at(2 * time.Minute)})
	require.Len(t, got, 1)
	require.Equal(t, alertT0, got[0].Since)

	// Without an interval (figures of older histories) nothing starts over.
	old := []CycleFigures{at(0), at(3 * time.Hour)}
	old[0].Interval, old[1].Interval = 0, 0
	got, _ = runAlerts(t, []AlertRule{rule}, old)
	require.Len(t, got, 1)
}

// A renamed container (same ID, new name) keeps its alert: no resolution
// and no new firing, but one transition that names the old name; a pending
// one carries its start. A recreated container (same name, new ID) keeps
// its alert too.
func TestAlerts_RenameCarriesAlert(t *testing.T) {
	rule := AlertRule{ID: "mem", Metric: AlertContainerBytes, Op: AlertAbove, Threshold: 100, For: time.Minute}
	const id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	c := func(name, id string, v int64) ContainerFigures {
		return ContainerFigures{ID: id, Name: name, MemoryBytes: v}
	}
	cycle := func(i int, cs ...ContainerFigures) CycleFigures {
		return CycleFigures{At: alertT0.Add(time.Duration(i) * 30 * time.Second), Interval: 30 * time.Second, Containers: cs}
	}
	got, states := runAlerts(t, []AlertRule{rule}, []CycleFigures{
		cycle(0, c("web", id, 200)), cycle(1, c("web", id, 200)), cycle(2, c("web", id, 200)), // fires at 60 s
		cycle(3, c("web-old", id, 200)),      // renamed
		cycle(4, c("web-old", "other", 200)), // recreated under the new name
	})
	require.Equal(t, []AlertTransition{
		{RuleID: "mem", Target: "web", Phase: AlertFiring, At: alertT0.Add(time.Minute), Value: 200, Since: alertT0},
		{RuleID: "mem", Target: "web-old", Phase: AlertFiring, At: alertT0.Add(90 * time.Second), Value: 200,
			Since: alertT0.Add(time.Minute), RenamedFrom: "web"},
	}, got)
	require.Equal(t, []AlertState{{RuleID: "mem", Target: "web-old", ContainerID: "other", Phase: AlertFiring,
		Since: alertT0.Add(time.Minute), Value: 200}}, states)

	// Pending when renamed: the breach keeps its start, fires on time.
	got, _ = runAlerts(t, []AlertRule{rule}, []CycleFigures{
		cycle(0, c("a", id, 200)), cycle(1, c("b", id, 200)), cycle(2, c("b", id, 200)),
	})
	require.Equal(t, []AlertTransition{{RuleID: "mem", Target: "b", Phase: AlertFiring, At: alertT0.Add(time.Minute),
		Value: 200, Since: alertT0}}, got)

	// The old name still seen (another container took it): no carry-over.
	got, _ = runAlerts(t, []AlertRule{rule}, []CycleFigures{
		cycle(0, c("a", id, 200)), cycle(1, c("a", id, 200)), cycle(2, c("a", id, 200)),
		cycle(3, c("a", "new-a", 200), c("b", id, 200)),
	})
	require.Len(t, got, 1, "a keeps its alert (recreated); b starts pending")
}

// Past MaxContainerAlerts no new container alert starts (in rule, then
// container order); held ones carry on, host alerts are not counted, and
// the room a resolution makes is taken in the same cycle.
func TestAlerts_ContainerAlertsCap(t *testing.T) {
	rules := []AlertRule{
		{ID: "a", Metric: AlertContainerCPU, Op: AlertAbove, Threshold: 50},
		{ID: "b", Metric: AlertContainerCPU, Op: AlertAbove, Threshold: 50},
		{ID: "h", Metric: AlertHostCPU, Op: AlertAbove, Threshold: 50},
	}
	var cs []ContainerFigures
	for i := range 3 {
		cs = append(cs, ContainerFigures{ID: fmt.Sprint("id", i), Name: fmt.Sprint("c", i), CPUPercent: 90})
	}
	f := CycleFigures{At: alertT0, CPUPercent: 90, Containers: cs, MaxContainerAlerts: 4}
	states, out := EvaluateAlerts(rules, nil, f)
	var keys []string
	for _, s := range states {
		keys = append(keys, s.RuleID+"/"+s.Target)
	}
	require.Equal(t, []string{"a/c0", "a/c1", "a/c2", "b/c0", "h/"}, keys)
	require.Len(t, out, 5)

	// c0 recovers: its two alerts resolve, b/c1 and b/c2 start.
	f.At, f.Containers = alertT0.Add(30*time.Second), append([]ContainerFigures{{ID: "id0", Name: "c0", CPUPercent: 10}}, cs[1:]...)
	states, _ = EvaluateAlerts(rules, states, f)
	keys = nil
	for _, s := range states {
		keys = append(keys, s.RuleID+"/"+s.Target)
	}
	require.Equal(t, []string{"a/c1", "a/c2", "b/c1", "b/c2", "h/"}, keys)
}

// The collection's matching (Matches) decides which rules cover a
// container; without it, the pattern and labels do.
func TestAlerts_MatchesFromCollection(t *testing.T) {
	rules := []AlertRule{
		{ID: "a", Metric: AlertContainerCPU, Op: AlertAbove, Threshold: 50, Labels: map[string]string{"team": "web"}},
		{ID: "b", Metric: AlertContainerCPU, Op: AlertAbove, Threshold: 50},
	}
	c := ContainerFigures{ID: "1", Name: "web", CPUPercent: 90, Matches: []byte{0b01}}
	states, _ := EvaluateAlerts(rules, nil, CycleFigures{At: alertT0, Containers: []ContainerFigures{c}})
	require.Len(t, states, 1)
	require.Equal(t, "a", states[0].RuleID, "bit 0 only: rule a, whose labels the figures no longer carry")
	c.Matches = nil
	states, _ = EvaluateAlerts(rules, nil, CycleFigures{At: alertT0, Containers: []ContainerFigures{c}})
	require.Len(t, states, 1)
	require.Equal(t, "b", states[0].RuleID, "by labels: a needs team=web")
}

// Pending transitions stay bounded: past maxPendingAlerts, pairs of one
// alert go together and then the oldest (beyond the batch being recorded).
func TestCompactPendingAlerts(t *testing.T) {
	var pending []AlertTransition
	for i := range maxPendingAlerts {
		pending = append(pending, AlertTransition{RuleID: "r", Target: fmt.Sprint("t", i), Phase: AlertFiring})
	}
	same, dropped := compactPendingAlerts(pending)
	require.Len(t, same, maxPendingAlerts)
	require.Zero(t, dropped)

	// t200..t299 resolve: 100 pairs dropped.
	for i := 200; i < 300; i++ {
		pending = append(pending, AlertTransition{RuleID: "r", Target: fmt.Sprint("t", i), Phase: AlertResolved})
	}
	out, dropped := compactPendingAlerts(pending)
	require.Zero(t, dropped)
	require.Len(t, out, maxPendingAlerts-100)

	// t0 (in the batch being recorded) resolves, and 200 new ones fire:
	// nothing pairs beyond the head, the oldest beyond it go.
	pending = append(out, AlertTransition{RuleID: "r", Target: "t0", Phase: AlertResolved})
	for i := range 200 {
		pending = append(pending, AlertTransition{RuleID: "r", Target: fmt.Sprint("n", i), Phase: AlertFiring})
	}
	out, dropped = compactPendingAlerts(pending)
	require.Len(t, out, maxPendingAlerts)
	require.Equal(t, 101, dropped)
	require.Equal(t, pending[:maxAlertsPerRecord], out[:maxAlertsPerRecord])
	require.Equal(t, "n199", out[len(out)-1].Target)
}

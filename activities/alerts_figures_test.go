package activities

import (
	"fmt"
	"testing"
	"time"

	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/workflows"
)

// TestAlertFigures: only the containers some per-container rule matches
// (the workflow's matching) and that breach one of them or are watched
// (have an alert, by name or short ID), with the rules that match them
// (Matches, bit i for rules[i]) instead of labels, memory of the limit and
// of the host, restarts of the matching restart rules' windows, and the
// restarted containers that are not running; none without per-container
// rules.
func TestAlertFigures(t *testing.T) {
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	host := engine.HostSample{CPUPercent: 42, MemoryPercent: 61, MemoryTotal: 8_000_000_000}
	samples := []engine.ContainerSample{
		{ID: "w", Name: "web-1", Labels: map[string]string{"team": "web", "secret": "x"}, CPUPercent: 12.5, MemoryUsed: 400_000_000, MemoryLimit: 1_000_000_000},
		{ID: "d", Name: "db", Labels: map[string]string{"team": "data"}, MemoryUsed: 100, MemoryLimit: 0},
		{ID: "c", Name: "cron", MemoryUsed: 1},
	}
	restarts := map[string]store.ContainerRestarts{
		"web-1":  {ContainerID: "w", Counts: map[time.Duration]int{10 * time.Minute: 2}},
		"crash":  {ContainerID: "x", Attributes: map[string]string{"team": "web", "image": "busybox"}, Counts: map[time.Duration]int{time.Hour: 4}},
		"quiet":  {ContainerID: "q", Attributes: map[string]string{"team": "web"}, Counts: map[time.Duration]int{}},
		"other":  {ContainerID: "o", Attributes: map[string]string{"team": "ops"}, Counts: map[time.Duration]int{10 * time.Minute: 1}},
		"cron-x": {ContainerID: "cx", Counts: map[time.Duration]int{5 * time.Minute: 1}},
	}
	rules := []workflows.AlertRule{
		{ID: "1", Metric: workflows.AlertHostCPU, Op: workflows.AlertAbove, Threshold: 90},
		{ID: "2", Metric: workflows.AlertContainerMemory, Op: workflows.AlertAbove, Threshold: 90, ContainerPattern: "web-*"},
		{ID: "3", Metric: workflows.AlertContainerRestarts, Op: workflows.AlertAbove, Threshold: 1, For: 10 * time.Minute, Labels: map[string]string{"team": "web"}},
		{ID: "4", Metric: workflows.AlertContainerRestarts, Op: workflows.AlertAbove, Threshold: 1, For: time.Hour, ContainerPattern: "cr*"},
	}
	f := alertFigures(rules, at, host, samples, restarts, []string{"cron", "db"})
	if !f.At.Equal(at) || f.CPUPercent != 42 || f.MemoryPercent != 61 {
		t.Fatalf("host figures %+v", f)
	}
	got := map[string]string{}
	for _, c := range f.Containers {
		got[c.Name] = fmt.Sprintf("%s running=%v labels=%v matches=%04b mem=%.0f/%.0f bytes=%d restarts=%v",
			c.ID, !c.NotRunning, c.Labels, c.Matches, c.MemoryPercent, c.MemoryHostPercent, c.MemoryBytes, c.Restarts)
	}
	want := map[string]string{
		// rules 2 and 3; its 10-minute window only.
		"web-1": "w running=true labels=map[] matches=[0110] mem=40/5 bytes=400000000 restarts=map[600:2]",
		// rule 4 (the pattern) and rule 3 (team=web): both windows.
		"crash": "x running=false labels=map[] matches=[1100] mem=0/0 bytes=0 restarts=map[3600:4 600:0]",
		// rule 4 matches the running cron: a window without restart; it
		// breaches nothing, but it is watched. (db is watched too, but no
		// rule matches it.)
		"cron": "c running=true labels=map[] matches=[1000] mem=0/0 bytes=1 restarts=map[3600:0]",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("containers:\n got %v\nwant %v", got, want)
	}
	if names := []string{f.Containers[0].Name, f.Containers[1].Name, f.Containers[2].Name}; fmt.Sprint(names) != "[crash cron web-1]" {
		t.Fatalf("order %v; want by name", names)
	}
	if f := alertFigures(rules[:1], at, host, samples, restarts, []string{"cron"}); len(f.Containers) != 0 {
		t.Fatalf("host rules only: %d containers; want none", len(f.Containers))
	}
	// Nothing watched: cron, which breaches nothing, is left out.
	f = alertFigures(rules, at, host, samples, restarts, nil)
	var names []string
	for _, c := range f.Containers {
		names = append(names, c.Name)
	}
	if fmt.Sprint(names) != "[crash web-1]" {
		t.Fatalf("containers without watched ones: %v; want [crash web-1] (the breaching ones)", names)
	}
}

// A cycle's alert part carries the rules only when their digest differs
// from the one the workflow holds.
func TestAlertCycleRulesOnlyWhenChanged(t *testing.T) {
	rules := []workflows.AlertRule{{ID: "1", Metric: workflows.AlertHostCPU, Op: workflows.AlertAbove, Threshold: 90}}
	in := workflows.CollectMetricsInput{CycleAt: time.Now()}
	first := alertCycle(rules, in, engine.HostSample{}, nil, nil, 0)
	if first.RulesUnchanged || len(first.Rules) != 1 || len(first.RulesDigest) != 16 {
		t.Fatalf("first cycle %+v; want the rules and a digest", first)
	}
	in.AlertRulesDigest = first.RulesDigest
	if again := alertCycle(rules, in, engine.HostSample{}, nil, nil, 0); !again.RulesUnchanged || again.Rules != nil || again.RulesDigest != first.RulesDigest {
		t.Fatalf("unchanged rules %+v; want none and the same digest", again)
	}
	rules[0].Threshold = 91
	if edited := alertCycle(rules, in, engine.HostSample{}, nil, nil, 0); edited.RulesUnchanged || len(edited.Rules) != 1 || edited.RulesDigest == first.RulesDigest {
		t.Fatalf("edited rules %+v; want them and a new digest", edited)
	}
}

// BenchmarkAlertFigures: the figures of a 50-container cycle for 20 rules
// (host, per-container with patterns and labels, restarts).
func BenchmarkAlertFigures(b *testing.B) {
	host := engine.HostSample{CPUPercent: 42, MemoryPercent: 61, MemoryTotal: 8_000_000_000}
	samples := make([]engine.ContainerSample, 50)
	restarts := map[string]store.ContainerRestarts{}
	for i := range samples {
		name := fmt.Sprintf("app-%02d", i)
		samples[i] = engine.ContainerSample{ID: fmt.Sprintf("%064d", i), Name: name, CPUPercent: float64(i),
			MemoryUsed: uint64(i) << 20, MemoryLimit: 1 << 30,
			Labels: map[string]string{"team": fmt.Sprint("t", i%5), "tier": "backend", "com.docker.compose.project": "shop"}}
		if i%10 == 0 {
			restarts[name] = store.ContainerRestarts{ContainerID: samples[i].ID, Counts: map[time.Duration]int{10 * time.Minute: 1}}
		}
	}
	metrics := []workflows.AlertMetric{workflows.AlertContainerCPU, workflows.AlertContainerMemory, workflows.AlertContainerHost,
		workflows.AlertContainerBytes, workflows.AlertContainerRestarts}
	var rules []workflows.AlertRule
	for i := range 20 {
		r := workflows.AlertRule{ID: fmt.Sprintf("%02d", i), Metric: metrics[i%len(metrics)], Op: workflows.AlertAbove, Threshold: 80, For: 10 * time.Minute}
		switch i % 4 {
		case 0:
			r.Metric = workflows.AlertHostCPU
		case 1:
			r.ContainerPattern = "app-1*"
		case 2:
			r.Labels = map[string]string{"team": fmt.Sprint("t", i%5)}
		}
		rules = append(rules, r)
	}
	at := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		alertFigures(rules, at, host, samples, restarts, []string{"app-07", "app-33"})
	}
}

// Past the container alerts cap, the containers without an alert are cut
// to the room left, first by name; watched ones (by name or short ID)
// always come.
func TestAlertCycleLimitsContainers(t *testing.T) {
	rules := []workflows.AlertRule{{ID: "1", Metric: workflows.AlertContainerCPU, Op: workflows.AlertAbove, Threshold: 1}}
	var samples []engine.ContainerSample
	for i := range 6 {
		samples = append(samples, engine.ContainerSample{ID: fmt.Sprintf("%02d%062x", i, i), Name: fmt.Sprint("c", i), CPUPercent: 50})
	}
	in := workflows.CollectMetricsInput{CycleAt: time.Now(), AlertTargets: []string{"c5", samples[4].ID[:12]}}
	cycle := alertCycle(rules, in, engine.HostSample{}, samples, nil, 4)
	var names []string
	for _, c := range cycle.Figures.Containers {
		names = append(names, c.Name)
	}
	if fmt.Sprint(names) != "[c0 c1 c4 c5]" || cycle.Figures.MaxContainerAlerts != 4 {
		t.Fatalf("containers %v (cap %d); want [c0 c1 c4 c5] (cap 4)", names, cycle.Figures.MaxContainerAlerts)
	}
	if all := alertCycle(rules, in, engine.HostSample{}, samples, nil, 0); len(all.Figures.Containers) != 6 {
		t.Fatalf("no cap: %d containers; want 6", len(all.Figures.Containers))
	}
}

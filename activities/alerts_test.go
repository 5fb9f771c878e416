package activities_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/windflow/monitor/activities"
	"github.com/windflow/monitor/internal/engine/enginetest"
	"github.com/windflow/monitor/internal/notify"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/workflows"
)

// collectCycle runs CollectMetrics for one cycle and returns its summary.
func (b *testBundle) collectCycle(t *testing.T, cycle time.Time, watched ...string) workflows.MetricsSummary {
	t.Helper()
	return b.collectCycleWith(t, workflows.CollectMetricsInput{EnvironmentID: b.env.ID.String(), CycleAt: cycle, AlertTargets: watched})
}

// collectCycleWith runs CollectMetrics with in.
func (b *testBundle) collectCycleWith(t *testing.T, in workflows.CollectMetricsInput) workflows.MetricsSummary {
	t.Helper()
	val, err := b.tenv.ExecuteActivity(b.acts.CollectMetrics, in)
	if err != nil {
		t.Fatal(err)
	}
	var s workflows.MetricsSummary
	if err := val.Get(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// createRule stores rule r of b's environment (global: of every
// environment), severity warning, op above unless given.
func (b *testBundle) createRule(t *testing.T, r store.AlertRule, global bool) store.AlertRule {
	t.Helper()
	if !global {
		r.EnvironmentID = &b.env.ID
	}
	if r.Op == "" {
		r.Op = "above"
	}
	r.Severity = "warning"
	created, err := b.store.CreateAlertRule(context.Background(), r, store.AlertRuleCaps{})
	if err != nil {
		t.Fatal(err)
	}
	return created
}

// TestCollectMetrics_AlertFigures, on the real engine: without rules the
// summary has no Alerts; with rules it carries the enabled ones (by ID)
// and the figures of the containers they match only — the labelled
// container's memory with the rules that match it, and a crash-looping
// container's policy restarts read from its stored events.
func TestCollectMetrics_AlertFigures(t *testing.T) {
	cli := enginetest.Client(t)
	b := setup(t, enginetest.Endpoint())
	prefix := "wfal" + uuid.NewString()[:6]
	web := enginetest.CreateContainer(t, cli, prefix+"-web", func(c *container.Config, _ *container.HostConfig) {
		c.Labels["team"] = "web"
	}, "sleep", "300")
	enginetest.CreateContainer(t, cli, prefix+"-db", nil, "sleep", "300") // same pattern, no label
	crash := enginetest.CreateContainer(t, cli, prefix+"-crash", func(_ *container.Config, h *container.HostConfig) {
		h.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyOnFailure, MaximumRetryCount: 2}
	}, "sh", "-c", "sleep 0.2; exit 3")
	ctx := context.Background()
	for _, id := range []string{web, crash} {
		if _, err := cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// The crash loop: three starts (two policy restarts), then it stays down.
	waitFor(t, "the crash loop to end", func() bool {
		res, err := cli.ContainerInspect(ctx, crash, client.ContainerInspectOptions{})
		return err == nil && !res.Container.State.Running && res.Container.RestartCount == 2
	})
	var names = map[string]string{}
	for _, id := range []string{web, crash} {
		res, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		names[id] = strings.TrimPrefix(res.Container.Name, "/")
	}

	cycle := time.Now().UTC().Truncate(time.Millisecond)
	if s := b.collectCycle(t, cycle); s.Alerts != nil {
		t.Fatalf("no rule: Alerts = %+v; want nil", s.Alerts)
	}

	// The engine's events, stored as the workflow's event collection does.
	if _, err := b.tenv.ExecuteActivity(b.acts.PollEvents, workflows.PollEventsInput{EnvironmentID: b.env.ID.String()}); err != nil {
		t.Fatal(err)
	}
	memory := b.createRule(t, store.AlertRule{Name: "web memory", Metric: "container_memory_host_percent", Threshold: 50,
		ContainerPattern: prefix + "-*", Labels: map[string]string{"team": "web"}, Enabled: true}, false)
	hostCPU := b.createRule(t, store.AlertRule{Name: "host cpu", Metric: "host_cpu_percent", Threshold: 95, ForSeconds: 300, Enabled: true}, true)
	loop := b.createRule(t, store.AlertRule{Name: "crash loop", Metric: "container_restarts", Threshold: 1, ForSeconds: 600,
		ContainerPattern: prefix + "-crash*", Enabled: true}, false)
	b.createRule(t, store.AlertRule{Name: "disabled", Metric: "container_cpu_percent", Threshold: 1}, false)

	// The web container breaches nothing; its figures come because it is
	// watched (has an alert, as the workflow would say).
	s := b.collectCycle(t, cycle.Add(30*time.Second), names[web])
	if s.Alerts == nil {
		t.Fatal("rules apply: Alerts is nil")
	}
	var ids []string
	for _, r := range s.Alerts.Rules {
		ids = append(ids, r.ID)
	}
	want := []string{memory.ID.String(), hostCPU.ID.String(), loop.ID.String()}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("rules %v; want the three enabled ones by ID %v", ids, want)
	}
	if r := s.Alerts.Rules[slices.Index(ids, loop.ID.String())]; r.For != 10*time.Minute || r.ContainerPattern != prefix+"-crash*" {
		t.Fatalf("restart rule as evaluated: %+v", r)
	}
	f := s.Alerts.Figures
	if !f.At.Equal(cycle.Add(30*time.Second)) || f.CPUPercent != s.CPUPercent || f.MemoryPercent != s.MemoryPercent {
		t.Fatalf("host figures %+v; summary %+v", f, s)
	}
	var got []string
	memoryBit := byte(1) << slices.Index(ids, memory.ID.String()) // its bit in Matches
	for _, c := range f.Containers {
		got = append(got, c.Name)
		switch c.Name {
		case names[web]:
			if c.ID != web || c.NotRunning || c.MemoryBytes <= 0 || c.MemoryHostPercent <= 0 || c.MemoryPercent <= 0 ||
				c.Labels != nil || len(c.Matches) != 1 || c.Matches[0] != memoryBit || c.Restarts != nil {
				t.Errorf("web figures %+v", c)
			}
		case names[crash]:
			if c.ID != crash || !c.NotRunning || fmt.Sprint(c.Restarts) != "map[600:2]" {
				t.Errorf("crash loop figures %+v; want not running with 2 restarts in its 600 s window", c)
			}
		}
	}
	if wantNames := []string{names[crash], names[web]}; !slices.Equal(got, wantNames) {
		t.Fatalf("containers %v; want %v only", got, wantNames)
	}

	// The next cycle sends the digest back: the rules do not come again;
	// nothing watched: only the breaching crash loop comes.
	next := b.collectCycleWith(t, workflows.CollectMetricsInput{EnvironmentID: b.env.ID.String(), CycleAt: cycle.Add(time.Minute),
		AlertRulesDigest: s.Alerts.RulesDigest})
	if next.Alerts == nil || !next.Alerts.RulesUnchanged || next.Alerts.Rules != nil || next.Alerts.RulesDigest != s.Alerts.RulesDigest {
		t.Fatalf("next cycle's alert part %+v; want the rules unchanged", next.Alerts)
	}
	if cs := next.Alerts.Figures.Containers; len(cs) != 1 || cs[0].Name != names[crash] {
		t.Fatalf("next cycle's containers %+v; want the crash loop only", cs)
	}
}

// TestRecordAlertTransitions: each transition is stored with one
// notification, once however often the activity runs; the message names
// the rule, the figure and the links; a rule ID that is not a UUID fails
// for good.
func TestRecordAlertTransitions(t *testing.T) {
	b := setup(t, enginetest.Endpoint())
	ctx := context.Background()
	b.acts.Links = notify.Links{DashboardURL: "http://dash.example/", TemporalUIURL: "http://ui.example"}
	if _, err := b.store.CreateChannel(ctx, store.Channel{Name: "hook", URL: "generic://127.0.0.1:9/x?disabletls=yes", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	rule := b.createRule(t, store.AlertRule{Name: "web memory", Metric: "container_memory_bytes", Threshold: 5e8, ForSeconds: 300, Enabled: true}, false)
	at := time.Now().UTC().Truncate(time.Millisecond)
	in := workflows.RecordAlertTransitionsInput{EnvironmentID: b.env.ID.String(), Transitions: []workflows.AlertTransition{
		{RuleID: rule.ID.String(), Target: "web-1", Phase: workflows.AlertFiring, At: at, Since: at.Add(-5 * time.Minute), Value: 6e8,
			Metric: workflows.AlertContainerBytes, Op: workflows.AlertAbove, Threshold: 5e8, For: 5 * time.Minute},
		{RuleID: rule.ID.String(), Target: "web-2", Phase: workflows.AlertResolved, At: at, Since: at.Add(-time.Hour), Value: 6e8,
			Reason: "the container stopped or is gone", Metric: workflows.AlertContainerBytes, Op: workflows.AlertAbove, Threshold: 5e8, For: 5 * time.Minute},
	}}
	for range 2 { // a retry
		if _, err := b.tenv.ExecuteActivity(b.acts.RecordAlertTransitions, in); err != nil {
			t.Fatal(err)
		}
	}
	list, err := b.store.ListAlerts(ctx, &b.env.ID, 10)
	if err != nil || len(list.Recent) != 2 || len(list.Firing) != 1 || list.Firing[0].Target != "web-1" || list.Firing[0].RuleName != "web memory" {
		t.Fatalf("alerts %+v, %v; want 2 rows, web-1 firing", list, err)
	}
	notes, err := b.store.ListNotifications(ctx, store.NotificationQuery{EnvironmentID: &b.env.ID})
	if err != nil || len(notes) != 2 {
		t.Fatalf("notifications %d, %v; want 2", len(notes), err)
	}
	byKind := map[string]store.Notification{}
	for _, n := range notes {
		byKind[n.Kind] = n
	}
	firing := byKind[notify.KindAlertFiring]
	for _, w := range []string{"memory at 600.0 MB", "above 500.0 MB for 5m", "http://dash.example/#/env/" + b.env.ID.String(),
		"http://ui.example/namespaces/default/workflows/environment%2F" + b.env.ID.String()} {
		if !strings.Contains(firing.Message, w) {
			t.Errorf("firing message lacks %q:\n%s", w, firing.Message)
		}
	}
	if !strings.Contains(firing.Title, "web memory firing on web-1") {
		t.Errorf("firing title %q", firing.Title)
	}
	if resolved := byKind[notify.KindAlertResolved]; !strings.Contains(resolved.Message, "the container stopped or is gone") {
		t.Errorf("resolved message %q; want the reason", resolved.Message)
	}

	in.Transitions[0].RuleID = "not-a-uuid"
	_, err = b.tenv.ExecuteActivity(b.acts.RecordAlertTransitions, in)
	if typ, retryable := errorType(err); err == nil || retryable {
		t.Fatalf("bad rule ID: %v (type %q, retryable %v); want a non-retryable error", err, typ, retryable)
	}
}

// storeDownOnRecord takes the database down just before the transitions
// are recorded (the environment was loaded).
type storeDownOnRecord struct {
	*store.Store
	down func()
}

func (s storeDownOnRecord) RecordAlertTransitions(ctx context.Context, envID uuid.UUID, transitions []store.Alert, draft store.AlertDrafter) ([]store.Alert, []int64, error) {
	s.down()
	return s.Store.RecordAlertTransitions(ctx, envID, transitions, draft)
}

func TestRecordAlertTransitions_StoreDownIsTheMonitorsFault(t *testing.T) {
	b := setupBehindProxy(t, enginetest.Endpoint())
	b.acts.Store = storeDownOnRecord{Store: b.store, down: func() { b.proxy.SetDown(true) }}
	_, err := b.tenv.ExecuteActivity(b.acts.RecordAlertTransitions, workflows.RecordAlertTransitionsInput{
		EnvironmentID: b.env.ID.String(),
		Transitions:   []workflows.AlertTransition{{RuleID: uuid.NewString(), Phase: workflows.AlertFiring, At: time.Now(), Since: time.Now()}},
	})
	if typ, retryable := errorType(err); typ != workflows.ErrTypeMonitorUnavailable || !retryable {
		t.Fatalf("store down: %v (type %q, retryable %v); want a retryable %s", err, typ, retryable, workflows.ErrTypeMonitorUnavailable)
	}
	if v, _ := metricValue(t, b.tel, "windflow_store_unavailable_total", map[string]string{"operation": "record alert transitions"}); v != 1 {
		t.Fatalf("store_unavailable_total{record alert transitions} = %v, want 1", v)
	}
}

var _ activities.Store = storeDownOnRecord{}

// TestCollectMetrics_AdoptsFiringAlerts, on the real engine and store: a
// run that lost its State asks for the alerts stored as firing, and the
// figures of their containers come; its evaluation resolves them (one
// recovered, one's container is gone, one's rule was deleted),
// RecordAlertTransitions stores that, and nothing stays firing. A
// collection that does not ask carries none.
func TestCollectMetrics_AdoptsFiringAlerts(t *testing.T) {
	cli := enginetest.Client(t)
	b := setup(t, enginetest.Endpoint())
	ctx := context.Background()
	res, err := cli.ContainerInspect(ctx, enginetest.RunContainer(t, cli, "wfadopt", "sleep", "300"), client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	calm := strings.TrimPrefix(res.Container.Name, "/")
	rule := b.createRule(t, store.AlertRule{Name: "cpu", Metric: "container_cpu_percent", Threshold: 1e6, Enabled: true}, false)
	removed := b.createRule(t, store.AlertRule{Name: "removed", Metric: "host_cpu_percent", Threshold: 1e6, Enabled: true}, false)
	firedAt := time.Now().UTC().Truncate(time.Millisecond).Add(-time.Hour)
	if _, _, err := b.store.RecordAlertTransitions(ctx, b.env.ID, []store.Alert{
		{RuleID: rule.ID, Target: "gone-" + uuid.NewString()[:8], Phase: store.AlertFiring, At: firedAt, Since: firedAt, Value: 2e6,
			Metric: "container_cpu_percent", Op: "above", Threshold: 1e6},
		{RuleID: removed.ID, Phase: store.AlertFiring, At: firedAt, Since: firedAt, Value: 2e6, Metric: "host_cpu_percent", Op: "above", Threshold: 1e6},
		{RuleID: rule.ID, Target: calm, Phase: store.AlertFiring, At: firedAt, Since: firedAt, Value: 2e6,
			Metric: "container_cpu_percent", Op: "above", Threshold: 1e6},
	}, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.store.DeleteAlertRule(ctx, removed.ID); err != nil {
		t.Fatal(err)
	}

	s := b.collectCycleWith(t, workflows.CollectMetricsInput{EnvironmentID: b.env.ID.String(),
		CycleAt: time.Now().UTC().Truncate(time.Millisecond), AdoptAlerts: true})
	if s.Alerts == nil || !s.Alerts.Adopted || len(s.Alerts.Firing) != 3 {
		t.Fatalf("alerts %+v; want the three stored as firing adopted", s.Alerts)
	}
	if cs := s.Alerts.Figures.Containers; len(cs) != 1 || cs[0].Name != calm {
		t.Fatalf("containers %+v; want the running one with an adopted alert", cs)
	}
	for _, a := range s.Alerts.Firing {
		if a.Phase != workflows.AlertFiring || !a.Since.Equal(firedAt) {
			t.Fatalf("adopted %+v; want firing since %s", a, firedAt)
		}
	}
	states, transitions := workflows.EvaluateAlerts(s.Alerts.Rules, s.Alerts.Firing, s.Alerts.Figures)
	if len(states) != 0 || len(transitions) != 3 {
		t.Fatalf("evaluation: %d states, %d transitions; want none held, three resolutions", len(states), len(transitions))
	}
	if _, err := b.tenv.ExecuteActivity(b.acts.RecordAlertTransitions, workflows.RecordAlertTransitionsInput{
		EnvironmentID: b.env.ID.String(), Transitions: transitions}); err != nil {
		t.Fatal(err)
	}
	list, err := b.store.ListAlerts(ctx, &b.env.ID, 10)
	if err != nil || len(list.Firing) != 0 || len(list.Recent) != 6 {
		t.Fatalf("alerts %+v, %v; want nothing firing, 6 rows", list, err)
	}
	reasons := []string{list.Recent[0].Reason, list.Recent[1].Reason, list.Recent[2].Reason}
	slices.Sort(reasons)
	if fmt.Sprint(reasons) != "[ the container stopped or is gone the rule was removed]" {
		t.Fatalf("reasons %q", reasons)
	}
	if s := b.collectCycle(t, time.Now().UTC().Truncate(time.Millisecond)); s.Alerts == nil || s.Alerts.Adopted || s.Alerts.Firing != nil {
		t.Fatalf("a collection that does not ask: %+v", s.Alerts)
	}
}

// TestRecordAlertTransitions_Rename: a firing transition that carries
// RenamedFrom stores the old name resolved and the new one firing, and
// notifies no one.
func TestRecordAlertTransitions_Rename(t *testing.T) {
	b := setup(t, enginetest.Endpoint())
	ctx := context.Background()
	rule := b.createRule(t, store.AlertRule{Name: "mem", Metric: "container_memory_bytes", Threshold: 5e8, Enabled: true}, false)
	at := time.Now().UTC().Truncate(time.Millisecond)
	if _, _, err := b.store.RecordAlertTransitions(ctx, b.env.ID, []store.Alert{{RuleID: rule.ID, Target: "web", Phase: store.AlertFiring,
		At: at.Add(-time.Minute), Since: at.Add(-2 * time.Minute), Value: 6e8, Metric: "container_memory_bytes", Op: "above", Threshold: 5e8}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.tenv.ExecuteActivity(b.acts.RecordAlertTransitions, workflows.RecordAlertTransitionsInput{EnvironmentID: b.env.ID.String(),
		Transitions: []workflows.AlertTransition{{RuleID: rule.ID.String(), Target: "web-new", Phase: workflows.AlertFiring, At: at,
			Since: at.Add(-time.Minute), Value: 6e8, RenamedFrom: "web", Metric: workflows.AlertContainerBytes, Op: workflows.AlertAbove, Threshold: 5e8}},
	}); err != nil {
		t.Fatal(err)
	}
	list, err := b.store.ListAlerts(ctx, &b.env.ID, 10)
	if err != nil || len(list.Firing) != 1 || list.Firing[0].Target != "web-new" || len(list.Recent) != 3 {
		t.Fatalf("alerts %+v, %v; want web-new firing, web resolved", list, err)
	}
	notes, err := b.store.ListNotifications(ctx, store.NotificationQuery{EnvironmentID: &b.env.ID})
	if err != nil || len(notes) != 0 {
		t.Fatalf("notifications %d, %v; want none", len(notes), err)
	}
}

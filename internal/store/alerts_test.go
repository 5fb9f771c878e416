package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/store"
)

// createRule stores a valid rule; env nil is a global rule.
func (b *testBundle) createRule(t *testing.T, name string, env *uuid.UUID, metric string, enabled bool, channels ...uuid.UUID) store.AlertRule {
	t.Helper()
	r, err := b.store.CreateAlertRule(b.ctx, store.AlertRule{Name: name, EnvironmentID: env, Metric: metric, Op: "above",
		Threshold: 80, ForSeconds: 60, Severity: "critical", Enabled: enabled, ChannelIDs: channels}, store.AlertRuleCaps{})
	if err != nil {
		t.Fatalf("CreateAlertRule(%q): %v", name, err)
	}
	return r
}

// ruleNames lists the names of rules, in order.
func ruleNames(rules []store.AlertRule) (out []string) {
	for _, r := range rules {
		out = append(out, r.Name)
	}
	return out
}

// TestAlertsMigrationDown rolls 00012 back (the alerts table and the rules'
// channels go, the rules stay) and applies it again.
func TestAlertsMigrationDown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	ch := b.createChannel(t, "ch", true, nil, nil)
	rule := b.createRule(t, "r", &env.ID, "host_cpu_percent", true, ch.ID)
	if _, _, err := b.store.RecordAlertTransitions(b.ctx, env.ID, []store.Alert{{RuleID: rule.ID, Phase: store.AlertFiring,
		At: time.Now(), Since: time.Now(), Value: 90}}, nil); err != nil {
		t.Fatal(err)
	}

	provider := migrationProvider(t, b.url)
	if _, err := provider.DownTo(context.WithoutCancel(b.ctx), 11); err != nil {
		t.Fatalf("down to 11: %v", err)
	}
	var n int
	if err := b.store.Pool().QueryRow(b.ctx, `SELECT count(*) FROM alert_rules WHERE name = 'r'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the rule after down: %d, %v", n, err)
	}
	if _, err := b.store.GetAlertRule(b.ctx, rule.ID); err == nil {
		t.Fatal("GetAlertRule after down: the channel_ids column should be gone")
	}
	if _, err := b.store.ListAlerts(b.ctx, nil, 10); err == nil {
		t.Fatal("ListAlerts after down: the alerts table should be gone")
	}
	if _, err := provider.Up(b.ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if got, err := b.store.GetAlertRule(b.ctx, rule.ID); err != nil || len(got.ChannelIDs) != 0 {
		t.Fatalf("GetAlertRule after up = %+v, %v; want no channels", got, err)
	}
	if list, err := b.store.ListAlerts(b.ctx, nil, 10); err != nil || len(list.Recent) != 0 {
		t.Fatalf("ListAlerts after up = %+v, %v; want an empty history", list, err)
	}
}

// TestAlertRulesFor: the enabled rules of the environment and the global
// ones, by ID; CycleInputs reads them with the CPU counters and the
// restarts over the windows of the restart rules (of the environment's
// enabled rules only) in one round trip, as the counters alone.
func TestAlertRulesFor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	other := b.createEnv(t, "other")
	own := b.createRule(t, "own", &env.ID, "container_cpu_percent", true)
	global := b.createRule(t, "global", nil, "host_cpu_percent", true)
	b.createRule(t, "disabled", &env.ID, "host_memory_percent", false)
	b.createRule(t, "other's", &other.ID, "host_memory_percent", true)
	loops := b.createRule(t, "loops", &env.ID, "container_restarts", true) // window 60 s
	b.createRule(t, "other's loops", &other.ID, "container_restarts", false)
	if _, err := b.store.Pool().Exec(b.ctx, `UPDATE alert_rules SET for_seconds = 600 WHERE name = 'other''s loops'`); err != nil {
		t.Fatal(err)
	}
	byID := []store.AlertRule{own, global, loops}
	slices.SortFunc(byID, func(x, y store.AlertRule) int { return strings.Compare(x.ID.String(), y.ID.String()) })
	want := ruleNames(byID)
	rules, err := b.store.AlertRulesFor(b.ctx, env.ID)
	if err != nil || !slices.Equal(ruleNames(rules), want) {
		t.Fatalf("AlertRulesFor = %v, %v; want %v", ruleNames(rules), err, want)
	}
	if rules[0].Labels == nil || rules[0].ChannelIDs == nil {
		t.Fatalf("rule read with nil labels or channels: %+v", rules[0])
	}
	cycle := time.Now().UTC().Truncate(time.Millisecond)
	if _, err := b.store.InsertMetrics(b.ctx, store.HostMetric{EnvironmentID: env.ID, CycleAt: cycle, CollectedAt: cycle},
		[]store.ContainerMetric{{EnvironmentID: env.ID, CycleAt: cycle, CollectedAt: cycle, ContainerID: "c1", ContainerName: "web",
			CPUTotalUsage: 5, SystemCPUUsage: 50, OnlineCPUs: 2}}); err != nil {
		t.Fatal(err)
	}
	// web restarted 30 s and 5 min before the cycle: once in the 60 s window.
	for _, ago := range []time.Duration{30 * time.Second, 5 * time.Minute} {
		e := containerEvent(0, "c1", "start")
		e.TimeNano, e.ContainerName = cycle.Add(-ago).UnixNano(), "web"
		if _, err := b.store.InsertEvents(b.ctx, env.ID, []store.ContainerEvent{e}, 0); err != nil {
			t.Fatal(err)
		}
	}

	counter, st := b.countedStore(t)
	roundTrips := func(call func() error) (syncs, statements int64) {
		t.Helper()
		for range 2 { // the first call prepares the statements
			counter.syncs.Store(0)
			counter.n.Store(0)
			if err := call(); err != nil {
				t.Fatal(err)
			}
		}
		return counter.syncs.Load(), counter.n.Load()
	}
	aloneSyncs, _ := roundTrips(func() error { _, err := st.LatestCPUCounters(b.ctx, env.ID, time.Hour); return err })
	var in store.CycleInputs
	syncs, statements := roundTrips(func() (err error) { in, err = st.CycleInputs(b.ctx, env.ID, time.Hour, cycle); return err })
	t.Logf("round trips: counters alone %d, with the rules and restarts %d (%d statements)", aloneSyncs, syncs, statements)
	if syncs != aloneSyncs || syncs != 1 || statements != 3 {
		t.Fatalf("CycleInputs took %d round trips (%d statements); the counters alone %d: want 1 with 3 statements", syncs, statements, aloneSyncs)
	}
	if !slices.Equal(ruleNames(in.Rules), want) || in.Counters["c1"].TotalUsage != 5 || in.Counters["c1"].OnlineCPUs != 2 {
		t.Fatalf("CycleInputs = %v, %+v", ruleNames(in.Rules), in.Counters)
	}
	if r := in.Restarts["web"]; len(in.Restarts) != 1 || fmt.Sprint(r.Counts) != "map[1m0s:1]" {
		t.Fatalf("CycleInputs restarts = %+v; want web once in the 60 s window only", in.Restarts)
	}
	in, err = b.store.CycleInputs(b.ctx, unknownID, time.Hour, cycle)
	if err != nil || len(in.Counters) != 0 || len(in.Rules) != 1 || in.Rules[0].ID != global.ID || len(in.Restarts) != 0 {
		t.Fatalf("CycleInputs(unknown) = %+v, %v; want the global rule only", in, err)
	}
}

// TestAlertRuleChannels: a rule's channels must exist (listed once);
// deleting a channel removes it from the rules that name it.
func TestAlertRuleChannels(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.createChannel(t, "a", true, nil, nil)
	c := b.createChannel(t, "c", true, nil, nil)
	rule := b.createRule(t, "r", nil, "host_cpu_percent", true, a.ID, c.ID, a.ID)
	if len(rule.ChannelIDs) != 2 || rule.ChannelIDs[0] != a.ID || rule.ChannelIDs[1] != c.ID {
		t.Fatalf("channels = %v; want [a c]", rule.ChannelIDs)
	}
	missing := uuid.New()
	_, err := b.store.CreateAlertRule(b.ctx, store.AlertRule{Name: "x", Metric: "host_cpu_percent", Op: "above", Severity: "info",
		ChannelIDs: []uuid.UUID{a.ID, missing}}, store.AlertRuleCaps{})
	if !errors.Is(err, store.ErrUnknownChannel) || !strings.Contains(err.Error(), missing.String()) {
		t.Fatalf("create with an unknown channel = %v; want ErrUnknownChannel naming it", err)
	}
	rule.ChannelIDs = []uuid.UUID{missing}
	if _, err := b.store.UpdateAlertRule(b.ctx, rule, store.AlertRuleCaps{}); !errors.Is(err, store.ErrUnknownChannel) {
		t.Fatalf("update with an unknown channel = %v", err)
	}
	if err := b.store.DeleteChannel(b.ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := b.store.GetAlertRule(b.ctx, rule.ID); err != nil || !slices.Equal(got.ChannelIDs, []uuid.UUID{c.ID}) {
		t.Fatalf("after deleting a: %v, %v; want [c]", got.ChannelIDs, err)
	}
	if err := b.store.DeleteChannel(b.ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete = %v", err)
	}
}

// TestContainerRestarts: starts less creates over (now - window, now], per
// container name: a policy restart (die, start) and `docker restart` count
// one, a new container's create and start none; both window edges.
func TestContainerRestarts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	other := b.createEnv(t, "other")
	at := func(offset time.Duration, id, name, action string, labels ...string) store.ContainerEvent {
		e := containerEvent(offset, id, action)
		e.ContainerName, e.Attributes["name"] = name, name
		for i := 0; i+1 < len(labels); i += 2 {
			e.Attributes[labels[i]] = labels[i+1]
		}
		return e
	}
	s := time.Second
	events := []store.ContainerEvent{
		// web: created and started, then two policy restarts.
		at(0, "w1", "web", "create"), at(1*s, "w1", "web", "start"),
		at(99*s, "w1", "web", "die"), at(100*s, "w1", "web", "start"), // on the lower edge of the 300 s window
		at(199*s, "w1", "web", "die"), at(200*s, "w1", "web", "start", "team", "web"),
		at(401*s, "w1", "web", "start"), // after now
		// job: `docker restart`.
		at(250*s, "j1", "job", "kill"), at(250*s+1, "j1", "job", "die"), at(250*s+2, "j1", "job", "stop"),
		at(250*s+3, "j1", "job", "start"), at(250*s+4, "j1", "job", "restart"),
		at(260*s, "j1", "job", "health_status: healthy"),
		// new: created and started at now.
		at(399*s, "n1", "new", "create"), at(400*s, "n1", "new", "start"),
		// edge: created just before the 300 s window, started inside it:
		// its first start, no restart.
		at(99*s, "e1", "edge", "create"), at(101*s, "e1", "edge", "start"),
	}
	if _, err := b.store.InsertEvents(b.ctx, env.ID, events, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.InsertEvents(b.ctx, other.ID, []store.ContainerEvent{at(300*s, "x1", "web", "start")}, 0); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(0, eventBase).Add(400 * s)
	got, err := b.store.ContainerRestarts(b.ctx, env.ID, now, []time.Duration{300 * s, 401 * s, 60 * s, 300 * s})
	if err != nil {
		t.Fatal(err)
	}
	summary := map[string]string{}
	for name, c := range got {
		summary[name] = fmt.Sprintf("300s=%d 401s=%d 60s=%d", c.Counts[300*s], c.Counts[401*s], c.Counts[60*s])
	}
	want := map[string]string{
		"web": "300s=1 401s=2 60s=0", // 401 s: starts at 1, 100, 200 less the create at 0
		"job": "300s=1 401s=1 60s=0",
	}
	if fmt.Sprint(summary) != fmt.Sprint(want) {
		t.Fatalf("ContainerRestarts = %v; want %v", summary, want)
	}
	if got["web"].ContainerID != "w1" || got["web"].Attributes["team"] != "web" {
		t.Fatalf("web's latest event: %q %v; want w1 with team=web", got["web"].ContainerID, got["web"].Attributes)
	}
	if got, err := b.store.ContainerRestarts(b.ctx, env.ID, now, nil); err != nil || len(got) != 0 {
		t.Fatalf("no window: %v, %v", got, err)
	}
	if _, err := b.store.ContainerRestarts(b.ctx, env.ID, now, []time.Duration{0}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("window 0: %v; want ErrInvalid", err)
	}
}

// TestRecordAlertTransitions: a transition is stored and notified once
// however often it is recorded; a rule's channels get its notifications
// whatever their subscriptions, a rule without channels goes to the
// subscribed ones; a resolution of a removed rule is named after its
// firing; the list and the counts of what fires now.
func TestRecordAlertTransitions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	other := b.createEnv(t, "other")
	defaults := b.createChannel(t, "defaults", true, nil, nil)                               // subscribed to the alert kinds by default
	onlyOffline := b.createChannel(t, "offline", true, nil, []string{"environment_offline"}) // subscribed to none
	b.createChannel(t, "other-env", true, []uuid.UUID{other.ID}, nil)
	off := b.createChannel(t, "disabled", false, nil, nil)
	host := b.createRule(t, "host cpu", &env.ID, "host_cpu_percent", true)
	routed := b.createRule(t, "web memory", nil, "container_memory_percent", true, onlyOffline.ID, off.ID)

	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	firing := []store.Alert{
		{RuleID: host.ID, Phase: store.AlertFiring, At: t0, Since: t0.Add(-time.Minute), Value: 93.5, Metric: "host_cpu_percent", Op: "above", Threshold: 80, ForSeconds: 60},
		{RuleID: routed.ID, Target: "web", Phase: store.AlertFiring, At: t0, Since: t0.Add(-time.Minute), Value: 97, Metric: "container_memory_percent", Op: "above", Threshold: 80, ForSeconds: 60},
	}
	var drafted []string
	draft := func(a store.Alert) store.NotificationDraft {
		drafted = append(drafted, a.RuleName+"/"+a.Severity+"/"+a.Target)
		return store.NotificationDraft{Kind: "alert_" + a.Phase, Title: a.RuleName, Message: a.Reason}
	}
	stored, ids, err := b.store.RecordAlertTransitions(b.ctx, env.ID, firing, draft)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 2 || stored[0].RuleID != host.ID || stored[0].ID == 0 || stored[1].Target != "web" || len(ids) != 2 {
		t.Fatalf("stored %+v, notifications %v; want both transitions, one notification each", stored, ids)
	}
	if want := []string{"host cpu/critical/", "web memory/critical/web"}; !slices.Equal(drafted, want) {
		t.Fatalf("drafted %v; want %v", drafted, want)
	}
	channelOf := map[string]uuid.UUID{}
	for _, id := range ids {
		n, _, err := b.store.GetNotification(b.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		channelOf[n.Title] = n.ChannelID
		if n.Title == "host cpu" {
			if want := fmt.Sprintf("alert:%s:%s::firing:%d/%s", env.ID, host.ID, t0.UnixNano(), defaults.ID); n.DedupKey != want {
				t.Errorf("dedup key %q; want %q", n.DedupKey, want)
			}
		}
	}
	if channelOf["host cpu"] != defaults.ID || channelOf["web memory"] != onlyOffline.ID {
		t.Fatalf("channels: %v; want host cpu → defaults (subscription), web memory → offline (the rule's)", channelOf)
	}

	// Recorded again (a retry): nothing new.
	drafted = nil
	if stored, ids, err := b.store.RecordAlertTransitions(b.ctx, env.ID, firing, draft); err != nil || len(stored) != 0 || len(ids) != 0 || len(drafted) != 0 {
		t.Fatalf("again: %v %v %v, drafted %v; want nothing", stored, ids, err, drafted)
	}
	if n, m := b.count(t, "alerts"), b.count(t, "notifications"); n != 2 || m != 2 {
		t.Fatalf("rows: %d alerts, %d notifications; want 2 and 2", n, m)
	}

	// The routed rule is removed; its resolution keeps its name.
	if err := b.store.DeleteAlertRule(b.ctx, routed.ID); err != nil {
		t.Fatal(err)
	}
	t1 := t0.Add(time.Minute)
	stored, ids, err = b.store.RecordAlertTransitions(b.ctx, env.ID, []store.Alert{
		{RuleID: routed.ID, Target: "web", Phase: store.AlertResolved, At: t1, Since: t0, Value: 97, Reason: "the rule was removed"},
	}, draft)
	if err != nil || len(stored) != 1 || len(ids) != 1 {
		t.Fatalf("resolution: %+v %v %v", stored, ids, err)
	}
	if r := stored[0]; r.RuleName != "web memory" || r.Severity != "critical" || r.Metric != "container_memory_percent" || r.Threshold != 80 || r.ForSeconds != 60 {
		t.Fatalf("resolution of a removed rule = %+v; want the firing's name, severity and rule", r)
	}
	if n, _, err := b.store.GetNotification(b.ctx, ids[0]); err != nil || n.ChannelID != defaults.ID || n.Kind != "alert_resolved" {
		t.Fatalf("its notification: %+v, %v; want alert_resolved to the subscribed channel", n, err)
	}

	list, err := b.store.ListAlerts(b.ctx, &env.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Firing) != 1 || list.Firing[0].RuleID != host.ID || list.Firing[0].EnvironmentName != "env" || !list.Firing[0].Since.Equal(t0.Add(-time.Minute)) {
		t.Fatalf("firing = %+v; want the host rule only", list.Firing)
	}
	if len(list.Recent) != 3 || list.Recent[0].Phase != store.AlertResolved || list.Recent[0].Reason != "the rule was removed" {
		t.Fatalf("recent = %+v; want 3, the resolution first", list.Recent)
	}
	if list, err := b.store.ListAlerts(b.ctx, &other.ID, 100); err != nil || len(list.Firing)+len(list.Recent) != 0 {
		t.Fatalf("ListAlerts(other) = %+v, %v; want nothing", list, err)
	}
	if list, err := b.store.ListAlerts(b.ctx, nil, 1); err != nil || len(list.Firing) != 1 || len(list.Recent) != 1 || list.Recent[0].Phase != store.AlertResolved {
		t.Fatalf("ListAlerts(all, 1) = %+v, %v", list, err)
	}
	counts, err := b.store.CountFiringAlerts(b.ctx)
	if err != nil || fmt.Sprint(counts) != "[{env critical 1}]" {
		t.Fatalf("CountFiringAlerts = %v, %v; want env critical 1", counts, err)
	}

	if _, _, err := b.store.RecordAlertTransitions(b.ctx, unknownID, firing, draft); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown environment: %v; want ErrNotFound", err)
	}
	if _, _, err := b.store.RecordAlertTransitions(b.ctx, env.ID, []store.Alert{{RuleID: host.ID, Phase: "pending", At: t1}}, nil); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("phase pending: %v; want ErrInvalid", err)
	}
	if err := b.store.DeleteEnvironment(b.ctx, env.ID); err != nil {
		t.Fatal(err)
	}
	if n := b.count(t, "alerts"); n != 0 {
		t.Fatalf("alerts after deleting the environment: %d", n)
	}
}

// TestFiringAlertsAndQuietTransitions: FiringAlerts lists the alerts whose
// latest transition is a firing, the most recent first, at most limit; a
// Quiet transition is stored without a notification.
func TestFiringAlertsAndQuietTransitions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	rule := b.createRule(t, "cpu", &env.ID, "container_cpu_percent", true)
	at := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)
	alert := func(target, phase string, offset time.Duration, quiet bool) store.Alert {
		return store.Alert{RuleID: rule.ID, Target: target, Phase: phase, At: at.Add(offset), Since: at, Value: 1,
			Metric: "container_cpu_percent", Op: "above", Threshold: 0.5, Quiet: quiet}
	}
	var drafted []string
	draft := func(a store.Alert) store.NotificationDraft {
		drafted = append(drafted, a.Target+"/"+a.Phase)
		return store.NotificationDraft{Kind: "alert_" + a.Phase, Title: a.Target, Message: a.Target}
	}
	stored, _, err := b.store.RecordAlertTransitions(b.ctx, env.ID, []store.Alert{
		alert("a", store.AlertFiring, 0, false), alert("b", store.AlertFiring, time.Second, false),
		alert("c", store.AlertFiring, 2*time.Second, false), alert("c", store.AlertResolved, 3*time.Second, false),
		alert("b", store.AlertResolved, 4*time.Second, true), alert("d", store.AlertFiring, 4*time.Second, true),
	}, draft)
	if err != nil || len(stored) != 6 || fmt.Sprint(drafted) != "[a/firing b/firing c/firing c/resolved]" {
		t.Fatalf("record: %d stored, drafted %v, %v; want 6 stored, none drafted for the quiet ones", len(stored), drafted, err)
	}
	firing, err := b.store.FiringAlerts(b.ctx, env.ID, 10)
	if err != nil || len(firing) != 2 || firing[0].Target != "d" || firing[1].Target != "a" {
		t.Fatalf("firing %+v, %v; want d then a", firing, err)
	}
	if firing, err := b.store.FiringAlerts(b.ctx, env.ID, 1); err != nil || len(firing) != 1 {
		t.Fatalf("limit 1: %d, %v", len(firing), err)
	}
}

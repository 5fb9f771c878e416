package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/api"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
)

// TestAlertsAPI: GET /api/v1/alerts answers what fires now and the recent
// transitions (target "" for the host), of every environment or of one
// named by ID or name; limit bounds both lists; an unknown environment
// 404, a bad limit 400; every exchange checked against api/openapi.json.
func TestAlertsAPI(t *testing.T) {
	st, err := store.Open(t.Context(), storetest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	env := createOverviewEnv(t, st, "alerts-env", "unix:///var/run/docker.sock", nil)
	other := createOverviewEnv(t, st, "alerts-other", "unix:///var/run/docker.sock", nil)
	host, err := st.CreateAlertRule(t.Context(), store.AlertRule{Name: "host cpu", Metric: "host_cpu_percent", Op: "above",
		Threshold: 90, ForSeconds: 120, Severity: "critical", Enabled: true}, store.AlertRuleCaps{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	record := func(envID uuid.UUID, alerts ...store.Alert) {
		t.Helper()
		if _, _, err := st.RecordAlertTransitions(t.Context(), envID, alerts, nil); err != nil {
			t.Fatal(err)
		}
	}
	rule := store.Alert{RuleID: host.ID, Metric: "host_cpu_percent", Op: "above", Threshold: 90, ForSeconds: 120}
	at := func(a store.Alert, phase string, when, since time.Time, value float64, target string) store.Alert {
		a.Phase, a.At, a.Since, a.Value, a.Target = phase, when, since, value, target
		return a
	}
	record(env.ID, at(rule, "firing", t0, t0.Add(-2*time.Minute), 95.5, ""))
	record(other.ID, at(rule, "firing", t0.Add(time.Minute), t0, 97, ""),
		at(rule, "firing", t0.Add(time.Minute), t0, 99, "web"))
	record(other.ID, at(rule, "resolved", t0.Add(2*time.Minute), t0.Add(time.Minute), 40, "web"))
	hs := httptest.NewServer(api.NewTestServer(t, api.Config{}, api.Deps{Store: st}).Routes())
	t.Cleanup(hs.Close)

	type firing struct {
		EnvironmentID, EnvironmentName, RuleID, RuleName, Severity, Target, Metric, Op string
		Threshold, Value                                                               float64
		ForSeconds                                                                     int
		Since, FiredAt                                                                 time.Time
	}
	type transition struct {
		ID                                                                             int64
		EnvironmentName, RuleID, RuleName, Severity, Target, Phase, Reason, Metric, Op string
		At, Since                                                                      time.Time
		Value, Threshold                                                               float64
		ForSeconds                                                                     int
	}
	var all struct {
		Firing []firing
		Recent []transition
	}
	if code := ruleCall(t, hs, http.MethodGet, "/api/v1/alerts", "", &all); code != http.StatusOK {
		t.Fatalf("GET /alerts: %d", code)
	}
	if len(all.Firing) != 2 || all.Firing[0].EnvironmentName != "alerts-other" || all.Firing[0].Target != "" ||
		all.Firing[1].EnvironmentName != "alerts-env" {
		t.Fatalf("firing %+v; want the two host alerts, the latest first (web resolved)", all.Firing)
	}
	f := all.Firing[1]
	if f.EnvironmentID != env.ID.String() || f.RuleID != host.ID.String() || f.RuleName != "host cpu" || f.Severity != "critical" ||
		f.Value != 95.5 || f.Threshold != 90 || f.ForSeconds != 120 || f.Metric != "host_cpu_percent" || f.Op != "above" ||
		!f.FiredAt.Equal(t0) || !f.Since.Equal(t0.Add(-2*time.Minute)) {
		t.Fatalf("firing alert %+v", f)
	}
	if len(all.Recent) != 4 || all.Recent[0].Phase != "resolved" || all.Recent[0].Target != "web" || all.Recent[0].ID == 0 {
		t.Fatalf("recent %+v; want 4, the resolution first", all.Recent)
	}

	for _, ref := range []string{env.ID.String(), "alerts-env"} {
		var one struct {
			Firing []firing
			Recent []transition
		}
		if code := ruleCall(t, hs, http.MethodGet, "/api/v1/alerts?environment="+ref, "", &one); code != http.StatusOK ||
			len(one.Firing) != 1 || len(one.Recent) != 1 || one.Firing[0].EnvironmentName != "alerts-env" {
			t.Fatalf("environment=%s: %d %+v", ref, code, one)
		}
	}
	var limited struct {
		Firing []firing
		Recent []transition
	}
	if code := ruleCall(t, hs, http.MethodGet, "/api/v1/alerts?limit=1", "", &limited); code != http.StatusOK ||
		len(limited.Firing) != 1 || len(limited.Recent) != 1 || limited.Recent[0].Phase != "resolved" {
		t.Fatalf("limit=1: %d %+v", code, limited)
	}
	for path, want := range map[string]int{
		"/api/v1/alerts?environment=6f1c1f0e-0000-4000-8000-000000000000": http.StatusNotFound,
		"/api/v1/alerts?environment=nobody":                               http.StatusNotFound,
		"/api/v1/alerts?environment=%00%ff":                               http.StatusNotFound,
		"/api/v1/alerts?limit=0":                                          http.StatusBadRequest,
		"/api/v1/alerts?limit=501":                                        http.StatusBadRequest,
		"/api/v1/alerts?limit=ten":                                        http.StatusBadRequest,
	} {
		var e errorJSON
		if code := ruleCall(t, hs, http.MethodGet, path, "", &e); code != want || e.Error.Message == "" {
			t.Errorf("GET %s: %d %+v; want %d in the error shape", path, code, e, want)
		}
	}
	if err := st.DeleteEnvironment(t.Context(), other.ID); err != nil {
		t.Fatal(err)
	}
	if code := ruleCall(t, hs, http.MethodGet, "/api/v1/alerts", "", &all); code != http.StatusOK || len(all.Firing) != 1 || len(all.Recent) != 1 {
		t.Fatalf("after deleting an environment: %d %+v; its alerts should be gone", code, all)
	}
}

// TestAlertRuleChannelsAPI: a rule's channels are accepted, returned and
// replaced; an unknown or malformed channel ID is a 400 that stores
// nothing; deleting a channel removes it from the rule; the new metrics are
// accepted and validated (the restart window).
func TestAlertRuleChannelsAPI(t *testing.T) {
	st, err := store.Open(t.Context(), storetest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	hs := httptest.NewServer(api.NewTestServer(t, api.Config{}, api.Deps{Store: st}).Routes())
	t.Cleanup(hs.Close)
	var chans []store.Channel
	for _, name := range []string{"ops", "dev"} {
		c, err := st.CreateChannel(t.Context(), store.Channel{Name: name, URL: "generic://127.0.0.1:9/" + name + "?disabletls=yes", Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		chans = append(chans, c)
	}
	type rule struct {
		ID       string
		Metric   string
		Channels []string
	}
	var created rule
	body := `{"name":"crash loop","metric":"container_restarts","op":"above","threshold":2,"forSeconds":600,
		"channels":["` + chans[0].ID.String() + `","` + chans[1].ID.String() + `"]}`
	if code := ruleCall(t, hs, http.MethodPost, "/api/v1/alert-rules", body, &created); code != http.StatusCreated ||
		len(created.Channels) != 2 || created.Channels[0] != chans[0].ID.String() {
		t.Fatalf("create with channels: %d %+v", code, created)
	}
	var noChannels rule
	if code := ruleCall(t, hs, http.MethodPost, "/api/v1/alert-rules",
		`{"name":"share of host","metric":"container_memory_host_percent","op":"above","threshold":25}`, &noChannels); code != http.StatusCreated ||
		noChannels.Channels == nil || len(noChannels.Channels) != 0 {
		t.Fatalf("create without channels: %d %+v; want channels []", code, noChannels)
	}
	for name, bad := range map[string]string{
		"unknown channel":   `{"name":"x","metric":"host_cpu_percent","op":"above","threshold":1,"channels":["6f1c1f0e-0000-4000-8000-000000000000"]}`,
		"malformed channel": `{"name":"x","metric":"host_cpu_percent","op":"above","threshold":1,"channels":["ops"]}`,
		"restart window":    `{"name":"x","metric":"container_restarts","op":"above","threshold":1,"forSeconds":30}`,
	} {
		var e errorJSON
		if code := ruleCall(t, hs, http.MethodPost, "/api/v1/alert-rules", bad, &e); code != http.StatusBadRequest || e.Error.Message == "" {
			t.Errorf("%s: %d %+v; want 400 with a reason", name, code, e)
		}
		if name == "unknown channel" && (e.Error.Code != "unknown_channel" || !strings.Contains(e.Error.Message, "6f1c1f0e-0000-4000-8000-000000000000")) {
			t.Errorf("unknown channel: %+v; want unknown_channel naming it", e)
		}
	}
	var list struct{ Rules []rule }
	if code := ruleCall(t, hs, http.MethodGet, "/api/v1/alert-rules", "", &list); code != http.StatusOK || len(list.Rules) != 2 {
		t.Fatalf("list after bad input: %d, %d rules; want 2", code, len(list.Rules))
	}

	var replaced rule
	if code := ruleCall(t, hs, http.MethodPut, "/api/v1/alert-rules/"+created.ID,
		`{"name":"crash loop","metric":"container_restarts","op":"above","threshold":2,"forSeconds":600,"channels":["`+chans[1].ID.String()+`"]}`,
		&replaced); code != http.StatusOK || len(replaced.Channels) != 1 || replaced.Channels[0] != chans[1].ID.String() {
		t.Fatalf("replace channels: %d %+v", code, replaced)
	}
	if code := ruleCall(t, hs, http.MethodDelete, "/api/v1/notification-channels/"+chans[1].ID.String(), "", nil); code != http.StatusNoContent {
		t.Fatalf("delete channel: %d", code)
	}
	var got rule
	if code := ruleCall(t, hs, http.MethodGet, "/api/v1/alert-rules/"+created.ID, "", &got); code != http.StatusOK || len(got.Channels) != 0 {
		t.Fatalf("after deleting its channel: %d %+v; want no channel", code, got)
	}
}

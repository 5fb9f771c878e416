package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/windflow/monitor/api"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
	"github.com/windflow/monitor/workflows"
)

// ruleCall sends one request to hs and checks the exchange against
// api/openapi.json.
func ruleCall(t *testing.T, hs *httptest.Server, method, path, body string, out any) int {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, hs.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if err := checkContract(req, []byte(body), resp.StatusCode, resp.Header, raw); err != nil {
		t.Errorf("%s %s: api/openapi.json: %v", method, path, err)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode
}

type ruleJSON struct {
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	EnvironmentID    *string           `json:"environmentId"`
	Metric           string            `json:"metric"`
	Threshold        float64           `json:"threshold"`
	ForSeconds       int               `json:"forSeconds"`
	Recovery         *float64          `json:"recovery"`
	Labels           map[string]string `json:"labels"`
	Severity         string            `json:"severity"`
	Enabled          bool              `json:"enabled"`
	ContainerPattern string            `json:"containerPattern"`
}

// TestAlertRulesAPI: create (defaults filled), read, list (all, one
// environment's), replace, delete; every bad input a 400 with its reason
// that stores nothing; a taken name 409; unknown IDs 404.
func TestAlertRulesAPI(t *testing.T) {
	st, err := store.Open(t.Context(), storetest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	env := createOverviewEnv(t, st, "rules-env", "unix:///var/run/docker.sock", nil)
	hs := httptest.NewServer(api.NewTestServer(t, api.Config{}, api.Deps{Store: st}).Routes())
	t.Cleanup(hs.Close)

	var host ruleJSON
	if code := ruleCall(t, hs, http.MethodPost, "/api/v1/alert-rules",
		`{"name":"host cpu","metric":"host_cpu_percent","op":"above","threshold":90,"forSeconds":120,"recovery":80}`, &host); code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	if host.Severity != "warning" || !host.Enabled || host.EnvironmentID != nil || *host.Recovery != 80 || host.Labels == nil {
		t.Fatalf("created %+v; want the defaults", host)
	}
	var leak ruleJSON
	body := `{"name":"web leak","environmentId":"` + env.ID.String() + `","metric":"container_memory_bytes","op":"above",
		"threshold":5e8,"forSeconds":300,"labels":{"team":"web"},"containerPattern":"web-*","severity":"critical","enabled":true}`
	if code := ruleCall(t, hs, http.MethodPost, "/api/v1/alert-rules", body, &leak); code != http.StatusCreated || leak.Labels["team"] != "web" {
		t.Fatalf("create with labels: %d %+v", code, leak)
	}

	// Bad input: a 400 that stores nothing.
	for name, bad := range map[string]string{
		"no threshold":        `{"name":"x","metric":"host_cpu_percent","op":"above"}`,
		"metric":              `{"name":"x","metric":"disk","op":"above","threshold":1}`,
		"op":                  `{"name":"x","metric":"host_cpu_percent","op":">","threshold":1}`,
		"for":                 `{"name":"x","metric":"host_cpu_percent","op":"above","threshold":1,"forSeconds":90000}`,
		"recovery side":       `{"name":"x","metric":"host_cpu_percent","op":"above","threshold":80,"recovery":90}`,
		"labels on host":      `{"name":"x","metric":"host_cpu_percent","op":"above","threshold":1,"labels":{"a":"b"}}`,
		"pattern":             `{"name":"x","metric":"container_cpu_percent","op":"above","threshold":1,"containerPattern":"["}`,
		"severity":            `{"name":"x","metric":"host_cpu_percent","op":"above","threshold":1,"severity":"loud"}`,
		"name":                `{"name":"  ","metric":"host_cpu_percent","op":"above","threshold":1}`,
		"unknown field":       `{"name":"x","metric":"host_cpu_percent","op":"above","threshold":1,"for":"5m"}`,
		"null name":           `{"name":null,"metric":"host_cpu_percent","op":"above","threshold":1}`,
		"unknown environment": `{"name":"x","environmentId":"6f1c1f0e-0000-4000-8000-000000000000","metric":"host_cpu_percent","op":"above","threshold":1}`,
	} {
		var e errorJSON
		if code := ruleCall(t, hs, http.MethodPost, "/api/v1/alert-rules", bad, &e); code != http.StatusBadRequest || e.Error.Message == "" {
			t.Errorf("%s: %d %+v; want 400 with a reason", name, code, e)
		}
	}
	if code := ruleCall(t, hs, http.MethodPost, "/api/v1/alert-rules",
		`{"name":"host cpu","metric":"host_memory_percent","op":"above","threshold":1}`, nil); code != http.StatusConflict {
		t.Errorf("taken name: %d; want 409", code)
	}
	var list struct{ Rules []ruleJSON }
	if code := ruleCall(t, hs, http.MethodGet, "/api/v1/alert-rules", "", &list); code != http.StatusOK || len(list.Rules) != 2 {
		t.Fatalf("list after bad input: %d, %d rules; want 2", code, len(list.Rules))
	}
	other := createOverviewEnv(t, st, "rules-other", "unix:///var/run/docker.sock", nil)
	if code := ruleCall(t, hs, http.MethodGet, "/api/v1/alert-rules?environment="+other.ID.String(), "", &list); code != http.StatusOK ||
		len(list.Rules) != 1 || list.Rules[0].ID != host.ID {
		t.Fatalf("rules of another environment: %d %+v; want the global one", code, list.Rules)
	}
	for path, want := range map[string]int{
		"/api/v1/alert-rules?environment=nope":                                 http.StatusBadRequest,
		"/api/v1/alert-rules?environment=6f1c1f0e-0000-4000-8000-000000000000": http.StatusNotFound,
		"/api/v1/alert-rules/nope":                                             http.StatusBadRequest,
		"/api/v1/alert-rules/6f1c1f0e-0000-4000-8000-000000000000":             http.StatusNotFound,
	} {
		if code := ruleCall(t, hs, http.MethodGet, path, "", nil); code != want {
			t.Errorf("GET %s: %d; want %d", path, code, want)
		}
	}

	// Replace: the whole rule.
	var replaced ruleJSON
	if code := ruleCall(t, hs, http.MethodPut, "/api/v1/alert-rules/"+host.ID,
		`{"name":"host cpu","metric":"host_cpu_percent","op":"above","threshold":95,"enabled":false}`, &replaced); code != http.StatusOK ||
		replaced.Threshold != 95 || replaced.Enabled || replaced.Recovery != nil || replaced.ForSeconds != 0 {
		t.Fatalf("replace: %d %+v", code, replaced)
	}
	var got ruleJSON
	if code := ruleCall(t, hs, http.MethodGet, "/api/v1/alert-rules/"+host.ID, "", &got); code != http.StatusOK || got.Threshold != 95 {
		t.Fatalf("get after replace: %d %+v", code, got)
	}
	if code := ruleCall(t, hs, http.MethodPut, "/api/v1/alert-rules/"+host.ID,
		`{"name":"web leak","metric":"host_cpu_percent","op":"above","threshold":1}`, nil); code != http.StatusConflict {
		t.Errorf("replace with a taken name: %d; want 409", code)
	}
	if code := ruleCall(t, hs, http.MethodDelete, "/api/v1/alert-rules/"+host.ID, "", nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	if code := ruleCall(t, hs, http.MethodDelete, "/api/v1/alert-rules/"+host.ID, "", nil); code != http.StatusNotFound {
		t.Fatalf("second delete: %d; want 404", code)
	}
}

// TestAlertRuleCaps: past each cap a create or a replace is a 400 that
// names the cap and stores nothing: global rules, one environment's rules
// (another environment has its own room), labels per rule and their bytes.
func TestAlertRuleCaps(t *testing.T) {
	st, err := store.Open(t.Context(), storetest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	envA := createOverviewEnv(t, st, "caps-a", "unix:///var/run/docker.sock", nil)
	envB := createOverviewEnv(t, st, "caps-b", "unix:///var/run/docker.sock", nil)
	caps := workflows.AlertCaps{GlobalRules: 2, EnvironmentRules: 1, RuleLabels: 2, RuleLabelBytes: 12}
	hs := httptest.NewServer(api.NewTestServer(t, api.Config{AlertCaps: caps}, api.Deps{Store: st}).Routes())
	t.Cleanup(hs.Close)

	rule := func(name, env string, labels string) string {
		envField := "null"
		if env != "" {
			envField = `"` + env + `"`
		}
		return `{"name":"` + name + `","environmentId":` + envField + `,"metric":"container_cpu_percent","op":"above","threshold":1,"labels":` + labels + `}`
	}
	created := func(body string) ruleJSON {
		t.Helper()
		var r ruleJSON
		if code := ruleCall(t, hs, http.MethodPost, "/api/v1/alert-rules", body, &r); code != http.StatusCreated {
			t.Fatalf("create %s: %d", body, code)
		}
		return r
	}
	refused := func(method, path, body, variable string) {
		t.Helper()
		var e errorJSON
		code := ruleCall(t, hs, method, path, body, &e)
		if code != http.StatusBadRequest || !strings.Contains(e.Error.Message, variable) {
			t.Errorf("%s %s: %d %+v; want 400 naming %s", method, path, code, e, variable)
		}
	}
	created(rule("g1", "", `{}`))
	created(rule("g2", "", `{"a":"b"}`))
	refused(http.MethodPost, "/api/v1/alert-rules", rule("g3", "", `{}`), "WINDFLOW_ALERT_MAX_GLOBAL_RULES")
	a1 := created(rule("a1", envA.ID.String(), `{}`))
	refused(http.MethodPost, "/api/v1/alert-rules", rule("a2", envA.ID.String(), `{}`), "WINDFLOW_ALERT_MAX_ENVIRONMENT_RULES")
	created(rule("b1", envB.ID.String(), `{}`))
	// Replacing a rule in place is no new rule; moving it to a full scope is.
	var same ruleJSON
	if code := ruleCall(t, hs, http.MethodPut, "/api/v1/alert-rules/"+a1.ID, rule("a1", envA.ID.String(), `{"x":"y"}`), &same); code != http.StatusOK {
		t.Fatalf("replace in place: %d", code)
	}
	refused(http.MethodPut, "/api/v1/alert-rules/"+a1.ID, rule("a1", "", `{}`), "WINDFLOW_ALERT_MAX_GLOBAL_RULES")
	// A cap lowered below what a scope holds still lets its rules be edited.
	lowered := caps
	lowered.GlobalRules = 1
	low := httptest.NewServer(api.NewTestServer(t, api.Config{AlertCaps: lowered}, api.Deps{Store: st}).Routes())
	t.Cleanup(low.Close)
	edited := 0
	var listed struct {
		Rules []ruleJSON `json:"rules"`
	}
	ruleCall(t, low, http.MethodGet, "/api/v1/alert-rules", "", &listed)
	for _, r := range listed.Rules {
		if r.Name == "g2" {
			if code := ruleCall(t, low, http.MethodPut, "/api/v1/alert-rules/"+r.ID, rule("g2", "", `{}`), nil); code != http.StatusOK {
				t.Errorf("edit under a lowered cap: %d; want 200", code)
			}
			edited++
		}
	}
	if edited != 1 {
		t.Fatalf("g2 listed %d times; want 1", edited)
	}
	refused(http.MethodPost, "/api/v1/alert-rules", rule("l", envB.ID.String(), `{"a":"1","b":"2","c":"3"}`), "WINDFLOW_ALERT_MAX_RULE_LABELS")
	refused(http.MethodPost, "/api/v1/alert-rules", rule("l", envB.ID.String(), `{"team":"platforms"}`), "WINDFLOW_ALERT_MAX_RULE_LABEL_BYTES")

	rules, err := st.ListAlertRules(t.Context(), nil)
	if err != nil || len(rules) != 4 {
		t.Fatalf("stored rules %d, %v; want 4 (the refused ones stored nothing)", len(rules), err)
	}
}

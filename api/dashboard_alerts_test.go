package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/browsertest"
)

// dashboardRuleJSON is a rule as GET /alert-rules answers it, with the
// fields ruleJSON leaves out.
type dashboardRuleJSON struct {
	ruleJSON
	Op       string   `json:"op"`
	Channels []string `json:"channels"`
}

// dashboardRules answers the stored rules by name.
func (b *testBundle) dashboardRules(t *testing.T) map[string]dashboardRuleJSON {
	t.Helper()
	var list struct{ Rules []dashboardRuleJSON }
	if code := b.call(t, http.MethodGet, "/api/v1/alert-rules", "", &list); code != http.StatusOK {
		t.Fatalf("GET /alert-rules: %d", code)
	}
	out := make(map[string]dashboardRuleJSON, len(list.Rules))
	for _, r := range list.Rules {
		out[r.Name] = r
	}
	return out
}

// submitRule fills the rule form of the alerts page (each value by the
// key of its field, as a user would: change events included) and submits
// it. A field left out keeps its value.
func submitRule(t *testing.T, ctx context.Context, fields map[string]string) {
	t.Helper()
	values, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	browserDo(t, ctx, "fill the rule form", chromedp.WaitVisible(chromedp.CSS(`#rule-form`)),
		// The metric first: it enables the container fields.
		chromedp.Evaluate[chromedp.Void](`(() => {
			const values = `+string(values)+`;
			const keys = Object.keys(values).sort((a, b) => (b === 'metric') - (a === 'metric'));
			for (const k of keys) {
				const el = document.getElementById('rule-' + k);
				if (!el) throw new Error('no field ' + k);
				if (el.type === 'checkbox') el.checked = values[k] === 'true';
				else el.value = values[k];
				el.dispatchEvent(new Event('input', { bubbles: true }));
				el.dispatchEvent(new Event('change', { bubbles: true }));
			}
		})()`),
		chromedp.Click(chromedp.CSS(`#rule-save`)))
}

// TestDashboard_Alerts: the alerts page on the real stack. A rule created
// through the form (channel picked in the multi-select, labels, pattern)
// is listed with its condition in words and stored as typed; rules the
// validator refuses (a restart window under a minute, a recovery on the
// breaching side) show its message next to the field and store nothing;
// edit and disable go through; a rule that fires at once (host memory
// below 100 %) shows in the firing list and as a badge on the overview; on a
// phone the page does not scroll sideways; deleting the rule removes it
// and resolves its alert. No page error but the refused rules' 400s.
func TestDashboard_Alerts(t *testing.T) {
	b := setupWith(t, 1)
	env := b.createEnvironment(t, "dash-alerts-"+uuid.NewString()[:8], 10)
	// A disabled channel: listed in the form, never delivered to.
	var channel struct{ ID, Name string }
	channelBody := fmt.Sprintf(`{"name":"dash-alerts-%s","url":"generic+https://hooks.example.com/alerts","enabled":false}`, uuid.NewString()[:8])
	if code := b.call(t, http.MethodPost, "/api/v1/notification-channels", channelBody, &channel); code != http.StatusCreated {
		t.Fatalf("create channel: %d", code)
	}
	t.Cleanup(func() { b.call(t, http.MethodDelete, "/api/v1/notification-channels/"+channel.ID, "", nil) })
	ctx := browsertest.New(t)

	browsertest.Navigate(t, ctx, b.api.URL+"/#/alerts")
	browsertest.WaitText(t, ctx, "#firing", "Nothing fires now", 20*time.Second)
	waitBrowser(t, ctx, 20*time.Second, "the environment and the channel in the form",
		fmt.Sprintf(`document.querySelector('#rule-environmentId option[value=%q]') && document.querySelector('#rule-channels option[value=%q]')`, env.ID, channel.ID))

	// A rule through the form: listed, and stored as typed.
	submitRule(t, ctx, map[string]string{
		"name": "web cpu", "environmentId": env.ID, "metric": "container_cpu_percent", "op": "above", "threshold": "50",
		"forSeconds": "60", "containerPattern": "dash-nomatch-*", "labels": "app=web\ntier = front", "severity": "critical",
		"channels": channel.ID,
	})
	browsertest.WaitText(t, ctx, "#rule-result", "Saved", 20*time.Second)
	rules := b.dashboardRules(t)
	web, ok := rules["web cpu"]
	if !ok || web.EnvironmentID == nil || *web.EnvironmentID != env.ID || web.Metric != "container_cpu_percent" || web.Op != "above" ||
		web.Threshold != 50 || web.ForSeconds != 60 || web.Recovery != nil || web.ContainerPattern != "dash-nomatch-*" ||
		web.Labels["app"] != "web" || web.Labels["tier"] != "front" || web.Severity != "critical" || !web.Enabled ||
		len(web.Channels) != 1 || web.Channels[0] != channel.ID {
		t.Fatalf("the rule created through the form: %+v (found %v)", web, ok)
	}
	webRow := fmt.Sprintf(`#rules tr[data-rule=%q]`, web.ID)
	if cond := browsertest.WaitText(t, ctx, webRow+" .condition", "container CPU > 50 % for 1m", 20*time.Second); cond != "container CPU > 50 % for 1m" {
		t.Errorf("condition in words: %q", cond)
	}
	browsertest.WaitText(t, ctx, webRow+" .scope", env.Name+" · containers dash-nomatch-* · labels app=web, tier=front", 5*time.Second)

	// Refused rules: the validator's message next to the field, nothing stored.
	submitRule(t, ctx, map[string]string{"name": "restarts", "environmentId": "", "metric": "container_restarts", "threshold": "3", "forSeconds": "30",
		"containerPattern": "", "labels": "", "channels": ""})
	if msg := browsertest.WaitText(t, ctx, "#rule-error-forSeconds", "at least 1m", 20*time.Second); !strings.Contains(msg, "container_restarts") {
		t.Errorf("message next to forSeconds: %q; want the validator's words", msg)
	}
	submitRule(t, ctx, map[string]string{"name": "host cpu", "metric": "host_cpu_percent", "op": "above", "threshold": "80", "forSeconds": "0", "recovery": "90"})
	browsertest.WaitText(t, ctx, "#rule-error-recovery", "breaching side", 20*time.Second)
	if msg := browserNumber(t, ctx, `document.querySelector('#rule-error-forSeconds').textContent.length`); msg != 0 {
		t.Errorf("the earlier message stayed next to forSeconds")
	}
	if n := len(b.dashboardRules(t)); n != 1 {
		t.Fatalf("%d rules stored after two refused ones; want 1", n)
	}

	// Edit, then disable.
	browserDo(t, ctx, "edit the rule", chromedp.Click(chromedp.CSS(webRow+" button.edit")))
	browsertest.WaitText(t, ctx, "#rule-form-title", "Edit rule web cpu", 5*time.Second)
	submitRule(t, ctx, map[string]string{"threshold": "75", "forSeconds": "90"})
	browsertest.WaitText(t, ctx, webRow+" .condition", "container CPU > 75 % for 1m 30s", 20*time.Second)
	browserDo(t, ctx, "disable the rule", chromedp.Click(chromedp.CSS(webRow+" button.toggle")))
	browsertest.WaitText(t, ctx, webRow+" .enabled", "no", 20*time.Second)
	if web = b.dashboardRules(t)["web cpu"]; web.Threshold != 75 || web.ForSeconds != 90 || web.Enabled || len(web.Channels) != 1 {
		t.Fatalf("after the edit and disable: %+v", web)
	}

	// A rule that fires at once, on the engine of the stack (below 100:
	// the stack's engine may report 0 %).
	submitRule(t, ctx, map[string]string{"name": "host memory", "environmentId": env.ID, "metric": "host_memory_percent", "op": "below",
		"threshold": "100", "forSeconds": "0", "recovery": "", "severity": "warning", "channels": ""})
	browsertest.WaitText(t, ctx, "#rule-result", "Saved the rule host memory", 20*time.Second)
	hostMem := b.dashboardRules(t)["host memory"]
	firingRow := fmt.Sprintf(`#firing tr[data-rule=%q][data-env=%q]`, hostMem.ID, env.ID)
	started := time.Now()
	waitBrowser(t, ctx, 60*time.Second, "the alert in the firing list", `document.querySelector('`+firingRow+`')`)
	t.Logf("dashboard: the alert showed %v after its rule was saved", time.Since(started).Round(time.Millisecond))
	row := browsertest.WaitText(t, ctx, firingRow, env.Name, time.Second)
	for _, want := range []string{"host memory", "warning", "host", " %", "host memory < 100 %"} {
		if !strings.Contains(row, want) {
			t.Errorf("firing row %q: no %q", row, want)
		}
	}
	browsertest.WaitText(t, ctx, "#recent", "firing", 20*time.Second)
	browsertest.Screenshot(t, ctx, "dashboard-alerts")

	// The phone: tables become cards, nothing scrolls sideways.
	browsertest.Phone(t, ctx)
	if over := browserNumber(t, ctx, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); over > 1 {
		t.Errorf("the alerts page is %v px wider than a phone's screen", over)
	}
	browsertest.Screenshot(t, ctx, "dashboard-phone-alerts")
	browsertest.Desktop(t, ctx)

	// The overview's badge, from the same answer for every environment.
	browsertest.Navigate(t, ctx, b.api.URL+"/")
	badge := fmt.Sprintf(`tr[data-env=%q] .alert-count`, env.ID)
	if text := browsertest.WaitText(t, ctx, badge, "alert", 20*time.Second); text != "1 alert" {
		t.Errorf("overview badge %q; want 1 alert", text)
	}
	browsertest.Screenshot(t, ctx, "dashboard-overview-alerts")
	browserDo(t, ctx, "follow the badge", chromedp.Click(chromedp.CSS(badge)))

	// Delete: gone from the list and the API; the alert resolves.
	waitBrowser(t, ctx, 20*time.Second, "the rule listed", fmt.Sprintf(`document.querySelector('#rules tr[data-rule=%q] button.delete')`, hostMem.ID))
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(window.confirm = () => true, true)`)); err != nil {
		t.Fatal(err)
	}
	browserDo(t, ctx, "delete the rule", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#rules tr[data-rule=%q] button.delete`, hostMem.ID))))
	waitBrowser(t, ctx, 20*time.Second, "the rule gone from the list", fmt.Sprintf(`!document.querySelector('#rules tr[data-rule=%q]')`, hostMem.ID))
	if code := b.call(t, http.MethodGet, "/api/v1/alert-rules/"+hostMem.ID, "", nil); code != http.StatusNotFound {
		t.Fatalf("GET the deleted rule: %d; want 404", code)
	}
	waitBrowser(t, ctx, 60*time.Second, "the alert resolved", `!document.querySelector('`+firingRow+`') && document.querySelector('#recent').textContent.includes('resolved')`)
	noPageErrors(t, ctx, "status of 400")
}

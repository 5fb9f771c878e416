package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/windflow/monitor/api"
	"github.com/windflow/monitor/internal/browsertest"
	"github.com/windflow/monitor/internal/dashboard"
	"github.com/windflow/monitor/internal/engine/enginetest"
)

// The dashboard in a real headless Chromium against the real stack (API,
// worker, Temporal, PostgreSQL, the local Docker engine). Screenshots of
// every page land in .data/screenshots/.

// browserDo runs chromedp actions, failing the test on an error.
func browserDo(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(actx, actions...); err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
}

// browserNumber evaluates a JavaScript expression that yields a number.
func browserNumber(t *testing.T, ctx context.Context, expr string) float64 {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`Number(`+expr+`) || 0`))
	if err != nil {
		t.Fatalf("browser: %s: %v", expr, err)
	}
	return v
}

// waitBrowser polls a JavaScript condition until it holds.
func waitBrowser(t testing.TB, ctx context.Context, timeout time.Duration, what, cond string) {
	t.Helper()
	waitNumber(t, ctx, timeout, what, `(`+cond+`) ? 0 : -1`)
}

// waitNumber polls a JavaScript expression every 5 ms until it yields a
// number ≥ 0, and returns it; on a timeout the test fails with the page's
// text.
func waitNumber(t testing.TB, ctx context.Context, timeout time.Duration, what, expr string) float64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`Number(`+expr+`)`))
		if err == nil && v >= 0 {
			return v
		}
		if time.Now().After(deadline) {
			page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("browser: timed out after %s waiting for %s (%s; last error %v); the page: %.2000s", timeout, what, expr, err, page)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDashboard_Pages walks the three pages with live data: the overview
// shows the environment with its figures and sparklines, the environment
// page charts the engine's data, lists a container started meanwhile in
// its live event list and its table, charts that container on click, and
// shows the validator's message for an out-of-range setting, which changes
// nothing; the notifications page adds a channel and shows its URL
// redacted. No page reports an error (CSP violations included).
func TestDashboard_Pages(t *testing.T) {
	b := setupWith(t, 1)
	env := b.createEnvironment(t, "dash-"+uuid.NewString()[:8], 10)
	eventually(t, 30*time.Second, "a first cycle", func() bool { return len(b.cycleTimes(t, env.ID)) >= 1 })
	ctx := browsertest.New(t)

	// Overview.
	browsertest.Navigate(t, ctx, b.api.URL+"/")
	row := fmt.Sprintf(`document.querySelector('tr[data-env=%q]')`, env.ID)
	browsertest.WaitText(t, ctx, fmt.Sprintf(`tr[data-env=%q] .env-name`, env.ID), env.Name, 20*time.Second)
	waitBrowser(t, ctx, 20*time.Second, "the CPU figure and its sparkline",
		row+`.querySelector('.cpu-now').textContent.includes('%') && Number(`+row+`.querySelector('canvas.spark').dataset.points) >= 1`)
	if status := browsertest.WaitText(t, ctx, fmt.Sprintf(`tr[data-env=%q] .badge`, env.ID), "online", 20*time.Second); !strings.Contains(status, "for") {
		t.Errorf("status badge %q: want how long it has been so", status)
	}
	browsertest.Screenshot(t, ctx, "dashboard-overview")

	// Environment: charts with the engine's data.
	browserDo(t, ctx, "open the environment", chromedp.Click(chromedp.CSS(fmt.Sprintf(`tr[data-env=%q] .env-name`, env.ID))))
	browsertest.WaitText(t, ctx, "#env-name", env.Name, 20*time.Second)
	waitBrowser(t, ctx, 20*time.Second, "the host chart's points", `Number(document.querySelector('#host-chart').dataset.points) >= 1 && document.querySelector('#host-chart canvas')`)
	waitBrowser(t, ctx, 20*time.Second, "the live event stream", `document.querySelector('#event-stream-state').textContent === 'live'`)

	// A container started now shows in the live list, then in the table.
	cli := enginetest.Client(t)
	name := "dash-live-" + uuid.NewString()[:8]
	started := time.Now()
	id := enginetest.RunContainer(t, cli, name, "sleep", "300")
	browsertest.WaitText(t, ctx, "#event-list", name, 20*time.Second)
	t.Logf("dashboard: the container's start showed in the live list %v after the engine started it", time.Since(started).Round(time.Millisecond))
	waitBrowser(t, ctx, 45*time.Second, "the container in the table", fmt.Sprintf(`document.querySelector('tr[data-container=%q]')`, id))
	// Clicked as an element, not at its coordinates: the table is redrawn
	// when the engine's other containers come and go (other tests run on
	// it), and a row can move between finding it and a mouse click.
	browserNumber(t, ctx, fmt.Sprintf(`(document.querySelector('tr[data-container=%q]').click(), 1)`, id))
	waitBrowser(t, ctx, 20*time.Second, "the container's chart", `Number(document.querySelector('tr.detail [data-chart=container-cpu]').dataset.points) >= 1`)
	// Sorting by CPU, then by name.
	browserDo(t, ctx, "sort by name", chromedp.Click(chromedp.CSS(`th[data-sort=containerName]`)))
	waitBrowser(t, ctx, 5*time.Second, "the name column sorted", `document.querySelector('th[data-sort=containerName]').getAttribute('aria-sort') !== 'none'`)
	browsertest.Screenshot(t, ctx, "dashboard-environment")

	// An out-of-range setting: the validator's message next to the field,
	// and nothing changed.
	var before environmentJSON
	b.call(t, http.MethodGet, "/api/v1/environments/"+env.ID, "", &before)
	browserDo(t, ctx, "type an out-of-range interval",
		chromedp.SetValue(chromedp.CSS(`#setting-metricsIntervalSeconds`), "5"),
		chromedp.Click(chromedp.CSS(`#settings-save`)))
	msg := browsertest.WaitText(t, ctx, "#error-metricsIntervalSeconds", "between", 20*time.Second)
	if !strings.Contains(msg, "metricsInterval") {
		t.Errorf("message next to the field: %q; want the validator's words", msg)
	}
	var after environmentJSON
	b.call(t, http.MethodGet, "/api/v1/environments/"+env.ID, "", &after)
	if after.Version != before.Version || after.Settings.MetricsIntervalSeconds != 10 {
		t.Fatalf("after a refused setting: version %d → %d, interval %d; want nothing changed",
			before.Version, after.Version, after.Settings.MetricsIntervalSeconds)
	}
	// A valid one is saved and applied.
	browserDo(t, ctx, "type a valid offlineAfter",
		chromedp.SetValue(chromedp.CSS(`#setting-metricsIntervalSeconds`), "10"),
		chromedp.SetValue(chromedp.CSS(`#setting-offlineAfter`), "4"),
		chromedp.Click(chromedp.CSS(`#settings-save`)))
	browsertest.WaitText(t, ctx, "#settings-result", "Saved", 20*time.Second)
	b.call(t, http.MethodGet, "/api/v1/environments/"+env.ID, "", &after)
	if after.Settings.OfflineAfter != 4 || after.Version != before.Version+1 {
		t.Fatalf("after saving offlineAfter 4: %+v (version %d, was %d)", after.Settings, after.Version, before.Version)
	}
	browsertest.Screenshot(t, ctx, "dashboard-environment-settings")

	// Notifications: a channel added shows redacted.
	browsertest.Navigate(t, ctx, b.api.URL+"/#/notifications")
	const secret = "SECRETTOKEN123"
	channel := "dash-hook-" + uuid.NewString()[:8]
	browserDo(t, ctx, "add a channel",
		chromedp.WaitVisible(chromedp.CSS(`#channel-name`)),
		chromedp.SetValue(chromedp.CSS(`#channel-name`), channel),
		chromedp.SetValue(chromedp.CSS(`#channel-url`), "generic+https://hooks.example.com/services/T000/B000/"+secret),
		chromedp.Click(chromedp.CSS(`#channel-add button[type=submit]`)))
	browsertest.WaitText(t, ctx, "#channels", channel, 20*time.Second)
	t.Cleanup(func() {
		var list struct{ Channels []struct{ ID, Name string } }
		b.call(t, http.MethodGet, "/api/v1/notification-channels", "", &list)
		for _, c := range list.Channels {
			if c.Name == channel {
				b.call(t, http.MethodDelete, "/api/v1/notification-channels/"+c.ID, "", nil)
			}
		}
	})
	page, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(page, secret) {
		t.Fatalf("the notifications page shows the channel URL's token")
	}
	browsertest.WaitText(t, ctx, "#deliveries", "", 10*time.Second)
	browsertest.Screenshot(t, ctx, "dashboard-notifications")
	// The refused setting's 400 is the only error the browser logged.
	noPageErrors(t, ctx, "status of 400")
}

// noPageErrors fails the test with every error the page reported, but those
// containing one of allowed (an answer the test asked for, logged by the
// browser as a failed load).
func noPageErrors(t *testing.T, ctx context.Context, allowed ...string) {
	t.Helper()
next:
	for _, e := range browsertest.ConsoleErrors(ctx) {
		for _, a := range allowed {
			if strings.Contains(e, a) {
				continue next
			}
		}
		t.Errorf("page error: %s", e)
	}
}

// TestDashboard_TokenPrompt: with WINDFLOW_API_TOKEN set, the page asks for
// the token once (a wrong one is refused and asked again), then uses it
// for every fetch and the event stream; the assets are served without it.
func TestDashboard_TokenPrompt(t *testing.T) {
	b := setupWith(t, 1)
	env := b.createEnvironment(t, "dash-token-"+uuid.NewString()[:8], 10)
	const token = "dashboard-test-token-0123456789"
	srv := api.NewTestServer(t, api.Config{Namespace: "default", APIToken: token}, api.Deps{Store: b.store, Flows: api.FlowsFor(b.store, b.temporal, b.taskQueue)})
	srv.StartStream(context.Background())
	hs := httptest.NewServer(srv.Routes())
	t.Cleanup(hs.Close)
	t.Cleanup(srv.StopStream)

	ctx := browsertest.New(t)
	browsertest.Navigate(t, ctx, hs.URL+"/")
	waitBrowser(t, ctx, 10*time.Second, "the token prompt", `document.querySelector('#token-dialog').open`)
	browserDo(t, ctx, "type a wrong token",
		chromedp.SetValue(chromedp.CSS(`#token-input`), "wrong-token"),
		chromedp.Click(chromedp.CSS(`#token-submit`)))
	browsertest.WaitText(t, ctx, "#token-error", "refused", 10*time.Second)
	browsertest.Screenshot(t, ctx, "dashboard-token-prompt")
	browserDo(t, ctx, "type the token",
		chromedp.SetValue(chromedp.CSS(`#token-input`), token),
		chromedp.Click(chromedp.CSS(`#token-submit`)))
	browsertest.WaitText(t, ctx, fmt.Sprintf(`tr[data-env=%q] .env-name`, env.ID), env.Name, 20*time.Second)
	// The environment page's fetches and stream use it too: no prompt again.
	browsertest.Navigate(t, ctx, hs.URL+"/#/env/"+env.ID)
	waitBrowser(t, ctx, 20*time.Second, "the live event stream with the token", `document.querySelector('#event-stream-state').textContent === 'live'`)
	if open := browserNumber(t, ctx, `document.querySelector('#token-dialog').open ? 1 : 0`); open != 0 {
		t.Fatal("the token was asked again")
	}
	// The 401 answers before and with the refused token, and nothing else.
	noPageErrors(t, ctx, "status of 401")
}

// TestDashboard_Phone: the overview and an environment on a phone-sized
// screen: no horizontal scrolling of the page.
func TestDashboard_Phone(t *testing.T) {
	b := setupWith(t, 1)
	env := b.createEnvironment(t, "dash-phone-"+uuid.NewString()[:8], 10)
	eventually(t, 30*time.Second, "a first cycle", func() bool { return len(b.cycleTimes(t, env.ID)) >= 1 })
	ctx := browsertest.New(t)
	browsertest.Phone(t, ctx)
	browsertest.Navigate(t, ctx, b.api.URL+"/")
	browsertest.WaitText(t, ctx, fmt.Sprintf(`tr[data-env=%q] .env-name`, env.ID), env.Name, 20*time.Second)
	if over := browserNumber(t, ctx, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); over > 1 {
		t.Errorf("the overview is %v px wider than a phone's screen", over)
	}
	browsertest.Screenshot(t, ctx, "dashboard-phone-overview")
	browsertest.Navigate(t, ctx, b.api.URL+"/#/env/"+env.ID)
	waitBrowser(t, ctx, 20*time.Second, "the host chart", `Number(document.querySelector('#host-chart').dataset.points) >= 1`)
	if over := browserNumber(t, ctx, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); over > 1 {
		t.Errorf("the environment page is %v px wider than a phone's screen", over)
	}
	browsertest.Screenshot(t, ctx, "dashboard-phone-environment")
	browsertest.NoConsoleErrors(t, ctx)
}

// TestDashboard_Assets: the page and its assets are served with the
// strict policy, revalidated by ETag, and nothing else is.
func TestDashboard_Assets(t *testing.T) {
	hs := httptest.NewServer(api.NewTestServer(t, api.Config{APIToken: "secret"}, api.Deps{}).Routes())
	t.Cleanup(hs.Close)
	for _, path := range []string{"/", "/assets/app.js", "/assets/style.css", "/assets/vendor/uplot/uPlot.iife.min.js"} {
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Security-Policy") != dashboard.ContentSecurityPolicy {
			t.Fatalf("GET %s: %d, CSP %q", path, resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
		}
		etag := resp.Header.Get("ETag")
		req, _ := http.NewRequest(http.MethodGet, hs.URL+path, nil)
		req.Header.Set("If-None-Match", etag)
		again, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		again.Body.Close()
		if etag == "" || again.StatusCode != http.StatusNotModified {
			t.Fatalf("GET %s with If-None-Match %s: %d; want 304", path, etag, again.StatusCode)
		}
	}
	for _, path := range []string{"/assets/", "/assets/nope.js", "/assets/../api.go", "/index.html"} {
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d; want 404", path, resp.StatusCode)
		}
	}
	if !strings.Contains(dashboard.ContentSecurityPolicy, "script-src 'self'") || strings.Contains(dashboard.ContentSecurityPolicy, "unsafe") {
		t.Fatalf("policy %q", dashboard.ContentSecurityPolicy)
	}
}

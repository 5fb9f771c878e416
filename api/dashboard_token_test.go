package api_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/windflow/monitor/api"
	"github.com/windflow/monitor/internal/browsertest"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
	"github.com/windflow/monitor/workflows"
)

// dashEvents stores n events of env named prefix-0… at base + i ms.
func dashEvents(t *testing.T, st *store.Store, env store.Environment, prefix string, base time.Time, n int) {
	t.Helper()
	events := make([]store.ContainerEvent, n)
	for i := range events {
		name := fmt.Sprintf("%s-%d", prefix, i)
		events[i] = store.ContainerEvent{TimeNano: base.Add(time.Duration(i) * time.Millisecond).UnixNano(),
			ContainerID: name, ContainerName: name, Image: "busybox:1.36", Action: "start",
			Attributes: map[string]string{"name": name}}
	}
	if stored, err := st.InsertEvents(t.Context(), env.ID, events, 0); err != nil || stored != n {
		t.Fatalf("InsertEvents = %d, %v; want %d", stored, err, n)
	}
}

// TestDashboard_TokenCancelAndBoundedEvents: Esc on the token dialog fails
// the requests that waited for it with a message (they hung until a
// reload), nothing reopens it by itself, and the next action asks again;
// with the token, the live event list keeps 200 events and remembers the
// IDs of those only, however many arrive. Postgres only: no Temporal.
func TestDashboard_TokenCancelAndBoundedEvents(t *testing.T) {
	st, err := store.Open(t.Context(), storetest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	env, err := st.CreateEnvironment(t.Context(), store.Environment{Name: "dash-cancel", Endpoint: "unix:///var/run/docker.sock",
		Settings: workflows.DefaultSettings()})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Hour)
	dashEvents(t, st, env, "before", base, 50)
	const token = "dashboard-cancel-token-0123456789"
	srv := api.NewTestServer(t, api.Config{APIToken: token, StreamHeartbeat: time.Second}, api.Deps{Store: st})
	srv.StartStream(context.Background())
	hs := httptest.NewServer(srv.Routes())
	t.Cleanup(hs.Close)
	t.Cleanup(srv.StopStream) // runs first: the page's stream ends

	ctx := browsertest.New(t)
	page := hs.URL + "/#/env/" + env.ID.String()
	browsertest.Navigate(t, ctx, page)
	const dialogOpen = `document.querySelector('#token-dialog').open`
	waitBrowser(t, ctx, 10*time.Second, "the token prompt", dialogOpen)
	browserDo(t, ctx, "press Esc", chromedp.KeyEvent(kb.Escape))
	waitBrowser(t, ctx, 5*time.Second, "the dialog closed", `!`+dialogOpen)
	browsertest.WaitText(t, ctx, "#events .error", "needs its token", 10*time.Second)
	time.Sleep(1500 * time.Millisecond) // the page's later requests fail too, without asking
	if browserNumber(t, ctx, dialogOpen+` ? 1 : 0`) != 0 {
		t.Fatal("the dialog reopened by itself after Esc")
	}
	browsertest.Screenshot(t, ctx, "dashboard-token-cancelled")

	// The next action (a chart range) asks again; the token then works.
	browserDo(t, ctx, "pick a chart range", chromedp.Click(chromedp.CSS(`button[data-range="6h"]`)))
	waitBrowser(t, ctx, 10*time.Second, "the token prompt again", dialogOpen)
	browserDo(t, ctx, "type the token",
		chromedp.SetValue(chromedp.CSS(`#token-input`), token),
		chromedp.Click(chromedp.CSS(`#token-submit`)))
	waitBrowser(t, ctx, 5*time.Second, "the dialog closed", `!`+dialogOpen)
	browsertest.Navigate(t, ctx, hs.URL+"/?again#/env/"+env.ID.String()) // the tab keeps the token
	waitBrowser(t, ctx, 20*time.Second, "the live event stream", `document.querySelector('#event-stream-state').textContent === 'live'`)
	const shown = `document.querySelectorAll('#event-list li.event').length`
	waitBrowser(t, ctx, 10*time.Second, "the 50 stored events", shown+` === 50`)

	// 300 more arrive live: the list and its set of seen IDs stay at 200,
	// the newest on top.
	dashEvents(t, st, env, "live", base.Add(time.Minute), 300)
	waitBrowser(t, ctx, 30*time.Second, "the newest live event on top",
		`(document.querySelector('#event-list li.event .container') || {}).textContent === 'live-299'`)
	if n := browserNumber(t, ctx, shown); n != 200 {
		t.Errorf("the list shows %v events; want 200", n)
	}
	if seen := browserNumber(t, ctx, `document.querySelector('#event-list').dataset.seen`); seen != 200 {
		t.Errorf("the list remembers %v event IDs; want 200 (those it keeps)", seen)
	}
	// The API without Temporal answers the status and state requests 503.
	noPageErrors(t, ctx, "status of 401", "status of 503")
}

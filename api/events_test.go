package api

// Tests of the event routes and the live stream on the real Postgres, with
// no Temporal at all: these routes must not need it. (Internal package, so
// that names stay apart from the end-to-end tests of package api_test.)

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
	"github.com/windflow/monitor/workflows"
)

// evtBundle is an API server without Temporal on an isolated schema.
type evtBundle struct {
	ctx   context.Context
	url   string // database URL of the schema
	store *store.Store
	srv   *Server
	http  *httptest.Server
}

// evtSetup opens a store on a fresh schema and serves the API on it; the
// stream listener is started explicitly when startStream is set.
func evtSetup(t *testing.T, startStream bool) *evtBundle {
	t.Helper()
	return evtSetupWith(t, startStream, time.Minute)
}

// evtSetupWith is evtSetup with the stream's heartbeat interval.
func evtSetupWith(t *testing.T, startStream bool, heartbeat time.Duration) *evtBundle {
	t.Helper()
	databaseURL := storetest.NewSchema(t)
	b := &evtBundle{ctx: t.Context(), url: databaseURL}
	b.store = evtOpenStore(t, databaseURL)
	b.srv, b.http = evtServe(t, b.store, startStream, heartbeat)
	return b
}

func evtOpenStore(t *testing.T, databaseURL string) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), databaseURL)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(st.Close)
	return st
}

// evtServe serves a Server (Temporal nil) on st. Cleanups run in reverse:
// the HTTP server closes, then the listener stops, then the store closes.
func evtServe(t *testing.T, st *store.Store, startStream bool, heartbeat time.Duration) (*Server, *httptest.Server) {
	t.Helper()
	srv := &Server{Store: st, StreamHeartbeat: heartbeat}
	if startStream {
		if err := srv.StartStream(context.Background()); err != nil {
			t.Fatalf("StartStream: %v", err)
		}
	}
	t.Cleanup(srv.StopStream)
	hs := httptest.NewServer(srv.Routes())
	t.Cleanup(hs.Close)
	return srv, hs
}

func (b *evtBundle) createEnv(t *testing.T, name string) store.Environment {
	t.Helper()
	set := workflows.DefaultSettings()
	e, err := b.store.CreateEnvironment(b.ctx, store.Environment{Name: name, Endpoint: "unix:///var/run/docker.sock", Settings: set})
	if err != nil {
		t.Fatalf("CreateEnvironment: %v", err)
	}
	return e
}

// get sends a GET and decodes the JSON answer into out; it returns the status.
func (b *evtBundle) get(t *testing.T, path string, out any) int {
	t.Helper()
	resp, err := http.Get(b.http.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("GET %s: decode %q: %v", path, raw, err)
		}
	}
	return resp.StatusCode
}

// evtBase is the engine time of the test events.
var evtBase = time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC)

func evtEvent(offset time.Duration, container, action string) store.ContainerEvent {
	return store.ContainerEvent{
		TimeNano:      evtBase.Add(offset).UnixNano(),
		ContainerID:   container,
		ContainerName: "name-" + container,
		Image:         "busybox:1.36",
		Action:        action,
		Attributes:    map[string]string{"name": "name-" + container, "image": "busybox:1.36"},
	}
}

// insert stores events of env and returns them as stored, oldest first.
func (b *evtBundle) insert(t *testing.T, envID uuid.UUID, events ...store.ContainerEvent) []store.ContainerEvent {
	t.Helper()
	before, err := b.store.MaxEventID(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := b.store.InsertEvents(b.ctx, envID, events, 0); err != nil || n != len(events) {
		t.Fatalf("InsertEvents = %d, %v; want %d", n, err, len(events))
	}
	stored, err := b.store.EventsAfterID(b.ctx, before, 500)
	if err != nil {
		t.Fatal(err)
	}
	for i := range stored {
		stored[i].TxID = b.txID(t, "container_events", stored[i].ID)
	}
	return stored
}

// txID returns the writing transaction of a row: with its ID, its place in
// the stream.
func (b *evtBundle) txID(t *testing.T, table string, id int64) uint64 {
	t.Helper()
	var tx uint64
	if err := b.store.Pool().QueryRow(b.ctx, `SELECT tx_id FROM `+table+` WHERE id = $1`, id).Scan(&tx); err != nil {
		t.Fatal(err)
	}
	return tx
}

// recordStatus stores a status change and returns it as stored.
func (b *evtBundle) recordStatus(t *testing.T, envID uuid.UUID, online bool, at time.Time) store.StatusChange {
	t.Helper()
	c := store.StatusChange{EnvironmentID: envID, Online: online, ChangedAt: at}
	if !online {
		c.Error = "connection refused"
	}
	if _, _, err := b.store.RecordStatus(b.ctx, c, nil); err != nil {
		t.Fatal(err)
	}
	c, err := b.store.LatestStatus(b.ctx, envID)
	if err != nil {
		t.Fatal(err)
	}
	c.TxID = b.txID(t, "environment_status", c.ID)
	return c
}

// evtPage is the answer of the events routes.
type evtPage struct {
	Events []struct {
		ID            int64             `json:"id"`
		EnvironmentID uuid.UUID         `json:"environmentId"`
		Time          string            `json:"time"`
		TimeNano      int64             `json:"timeNano"`
		ContainerID   string            `json:"containerId"`
		ContainerName string            `json:"containerName"`
		Image         string            `json:"image"`
		Action        string            `json:"action"`
		Attributes    map[string]string `json:"attributes"`
		ExitCode      *int              `json:"exitCode"`
	} `json:"events"`
	NextCursor *string `json:"nextCursor"`
}

func (p evtPage) ids() []int64 {
	var ids []int64
	for _, e := range p.Events {
		ids = append(ids, e.ID)
	}
	return ids
}

func TestEventsAPI_FiltersAndShape(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, false)
	env := b.createEnv(t, "env")
	other := b.createEnv(t, "other")

	long := strings.Repeat("ab12", 16)
	die := evtEvent(3*time.Second, long, "die")
	die.ExitCode = new(int)
	*die.ExitCode = 137
	die.Attributes["exitCode"] = "137"
	events := b.insert(t, env.ID,
		evtEvent(0, long, "create"),                               // 0
		evtEvent(time.Second, long, "start"),                      // 1
		evtEvent(2*time.Second, long, "health_status: unhealthy"), // 2
		die,                                    // 3
		evtEvent(4*time.Second, "c2", "start"), // 4
	)
	otherEvents := b.insert(t, other.ID, evtEvent(5*time.Second, "c3", "start"))
	all := append(slices.Clone(events), otherEvents...) // 5 = other's

	envPath := "/api/v1/environments/" + env.ID.String() + "/events"
	unix := func(d time.Duration) string { return strconv.FormatInt(evtBase.Add(d).Unix(), 10) }
	rfc := func(d time.Duration) string { return url.QueryEscape(evtBase.Add(d).Format(time.RFC3339Nano)) }
	tests := []struct {
		path string
		want []int // indexes into all, newest first
	}{
		{"/api/v1/events", []int{5, 4, 3, 2, 1, 0}},
		{"/api/v1/events?environment=" + other.ID.String(), []int{5}},
		{envPath, []int{4, 3, 2, 1, 0}},
		{envPath + "?container=name-c2", []int{4}},
		{envPath + "?container=%2Fname-c2", []int{4}}, // the engine's "/name"
		{envPath + "?container=" + long, []int{3, 2, 1, 0}},
		{envPath + "?container=" + long[:12], []int{3, 2, 1, 0}},
		{envPath + "?action=health_status", []int{2}},
		{envPath + "?action=start", []int{4, 1}},
		{"/api/v1/events?action=start", []int{5, 4, 1}},
		{envPath + "?from=" + rfc(time.Second) + "&to=" + rfc(3*time.Second), []int{2, 1}},
		// Unix seconds: evtBase's fraction is cut, so from=+1s keeps +1.12s.
		{envPath + "?from=" + unix(time.Second) + "&to=" + unix(3*time.Second), []int{2, 1}},
		{envPath + "?container=" + long + "&action=die&from=" + rfc(time.Second), []int{3}},
		{envPath + "?container=nobody", nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			var page evtPage
			if code := b.get(t, tt.path, &page); code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			var want []int64
			for _, i := range tt.want {
				want = append(want, all[i].ID)
			}
			if !slices.Equal(page.ids(), want) {
				t.Fatalf("ids %v, want %v", page.ids(), want)
			}
			if page.Events == nil || page.NextCursor != nil {
				t.Fatalf("events %v (want a list), nextCursor %v (want null)", page.Events, page.NextCursor)
			}
		})
	}

	// The shape of one event.
	var page evtPage
	b.get(t, envPath+"?action=die", &page)
	got := page.Events[0]
	if got.EnvironmentID != env.ID || got.TimeNano != die.TimeNano ||
		got.Time != time.Unix(0, die.TimeNano).UTC().Format(time.RFC3339Nano) ||
		got.ContainerID != long || got.ContainerName != "name-"+long || got.Image != "busybox:1.36" ||
		got.Action != "die" || got.ExitCode == nil || *got.ExitCode != 137 || got.Attributes["exitCode"] != "137" {
		t.Fatalf("die event = %+v", got)
	}
	resp, err := http.Get(b.http.URL + envPath + "?action=create")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Events []map[string]any `json:"events"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if v, ok := body.Events[0]["exitCode"]; !ok || v != nil {
		t.Fatalf("exitCode of a create event = %v (present %v), want null", v, ok)
	}
	if resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
}

func TestEventsAPI_Pagination(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, false)
	env := b.createEnv(t, "env")

	// 23 events, ties on time broken by ID.
	var batch []store.ContainerEvent
	for i := range 23 {
		batch = append(batch, evtEvent(time.Duration(i/2)*time.Millisecond, "c"+strconv.Itoa(i%2), "start"))
	}
	stored := b.insert(t, env.ID, batch...)
	var want []int64
	for i := len(stored) - 1; i >= 0; i-- {
		want = append(want, stored[i].ID) // a batch's IDs follow time
	}

	for _, base := range []string{"/api/v1/events?limit=5", "/api/v1/environments/" + env.ID.String() + "/events?limit=5&action=start"} {
		var got []int64
		path, pages := base, 0
		for {
			var page evtPage
			if code := b.get(t, path, &page); code != http.StatusOK {
				t.Fatalf("GET %s: status %d", path, code)
			}
			pages++
			got = append(got, page.ids()...)
			if pages == 1 {
				// Events stored while paging are newer: they do not shift pages.
				b.insert(t, env.ID, evtEvent(time.Hour+time.Duration(len(base)), "late", "create"))
			}
			if page.NextCursor == nil {
				break
			}
			path = base + "&cursor=" + url.QueryEscape(*page.NextCursor)
		}
		if pages != 5 || !slices.Equal(got, want) {
			t.Fatalf("%s: %d pages, ids %v; want 5 pages, %v", base, pages, got, want)
		}
	}

	// The default page is 100 and the largest 500.
	var page evtPage
	b.get(t, "/api/v1/events?limit=500", &page)
	if len(page.Events) != 25 || page.NextCursor != nil {
		t.Fatalf("limit=500: %d events, next %v", len(page.Events), page.NextCursor)
	}
}

func TestEventsAPI_Gaps(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, false)
	env := b.createEnv(t, "env")
	other := b.createEnv(t, "other")
	from, to := evtBase.UnixNano(), evtBase.Add(time.Minute).UnixNano()
	for _, g := range []store.EventGap{
		{EnvironmentID: env.ID, FromNano: from, ToNano: to, Reason: "engine restarted: its event memory is empty"},
		{EnvironmentID: other.ID, FromNano: from + 1, ToNano: to},
	} {
		if _, err := b.store.RecordGap(b.ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	type gapsJSON struct {
		Gaps []struct {
			EnvironmentID uuid.UUID `json:"environmentId"`
			From, To      string
			FromNano      int64 `json:"fromNano"`
			ToNano        int64 `json:"toNano"`
			Reason        string
			DetectedAt    time.Time `json:"detectedAt"`
		} `json:"gaps"`
	}
	var gaps gapsJSON
	if code := b.get(t, "/api/v1/environments/"+env.ID.String()+"/events/gaps", &gaps); code != http.StatusOK || len(gaps.Gaps) != 1 {
		t.Fatalf("environment gaps: %d %+v", code, gaps)
	}
	g := gaps.Gaps[0]
	if g.EnvironmentID != env.ID || g.FromNano != from || g.ToNano != to ||
		g.From != evtBase.Format(time.RFC3339Nano) || g.To != evtBase.Add(time.Minute).Format(time.RFC3339Nano) ||
		g.Reason != "engine restarted: its event memory is empty" || g.DetectedAt.IsZero() {
		t.Fatalf("gap = %+v", g)
	}
	gaps = gapsJSON{}
	if code := b.get(t, "/api/v1/events/gaps", &gaps); code != http.StatusOK || len(gaps.Gaps) != 2 || gaps.Gaps[0].EnvironmentID != other.ID {
		t.Fatalf("all gaps: %d %+v", code, gaps)
	}
	gaps = gapsJSON{}
	if code := b.get(t, "/api/v1/events/gaps?environment="+env.ID.String(), &gaps); code != http.StatusOK || len(gaps.Gaps) != 1 {
		t.Fatalf("gaps of env: %d %+v", code, gaps)
	}
}

func TestEventsAPI_BadInput(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, false)
	env := b.createEnv(t, "env")
	envPath := "/api/v1/environments/" + env.ID.String() + "/events"
	missing := uuid.NewString()
	tests := []struct {
		path string
		code int
		kind string
	}{
		{"/api/v1/environments/not-a-uuid/events", 400, "invalid_id"},
		{"/api/v1/environments/" + missing + "/events", 404, "not_found"},
		{"/api/v1/environments/not-a-uuid/events/gaps", 400, "invalid_id"},
		{"/api/v1/environments/" + missing + "/events/gaps", 404, "not_found"},
		{"/api/v1/events?environment=nope", 400, "invalid_id"},
		{"/api/v1/events?environment=" + missing, 404, "not_found"},
		{"/api/v1/events/gaps?environment=nope", 400, "invalid_id"},
		{"/api/v1/events/gaps?environment=" + missing, 404, "not_found"},
		{"/api/v1/events/gaps?limit=0", 400, "invalid_query"},
		{envPath + "?environment=" + env.ID.String(), 400, "invalid_query"},
		{envPath + "?limit=0", 400, "invalid_query"},
		{envPath + "?limit=501", 400, "invalid_query"},
		{envPath + "?limit=ten", 400, "invalid_query"},
		{envPath + "?from=yesterday", 400, "invalid_query"},
		{envPath + "?to=-5", 400, "invalid_query"},
		{envPath + "?from=2025-06-01T12:00:00Z&to=2025-06-01T11:00:00Z", 400, "invalid_query"},
		{envPath + "?cursor=%25%25%25", 400, "invalid_cursor"},
		{envPath + "?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("12")), 400, "invalid_cursor"},
		{envPath + "?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("12:x")), 400, "invalid_cursor"},
		{envPath + "?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("-1:3")), 400, "invalid_cursor"},
		{"/api/v1/stream?environment=nope", 400, "invalid_id"},
		{"/api/v1/stream?environment=" + missing, 404, "not_found"},
		{"/api/v1/stream?lastEventId=12", 400, "invalid_last_event_id"},
		{"/api/v1/stream?lastEventId=a:b", 400, "invalid_last_event_id"},
		{"/api/v1/stream?lastEventId=-1:0", 400, "invalid_last_event_id"},
		{"/api/v1/stream?lastEventId=1.2:3", 400, "invalid_last_event_id"},
		{"/api/v1/stream?lastEventId=1.2:3.x", 400, "invalid_last_event_id"},
		{"/api/v1/stream?lastEventId=1.2.3:4.5", 400, "invalid_last_event_id"},
		{"/api/v1/stream?lastEventId=1.-2:3.4", 400, "invalid_last_event_id"},
		{"/api/v1/stream?lastEventId=%2B1.2:3.4", 400, "invalid_last_event_id"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if code := b.get(t, tt.path, &body); code != tt.code || body.Error.Code != tt.kind || body.Error.Message == "" {
				t.Fatalf("status %d, error %+v; want %d %s", code, body.Error, tt.code, tt.kind)
			}
		})
	}

	// A Last-Event-ID header is checked like the parameter.
	req, _ := http.NewRequest(http.MethodGet, b.http.URL+"/api/v1/stream", nil)
	req.Header.Set("Last-Event-ID", "1:2:3")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("stream with a bad Last-Event-ID: status %d", resp.StatusCode)
	}
}

// The environment routes next to the event routes still answer.
func TestEventsAPI_EnvironmentRoutesAndSettings(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, false)
	env := b.createEnv(t, "env")
	env.Settings.EventMode, env.Settings.PollInterval = "poll", 45*time.Second
	if _, err := b.store.UpdateEnvironment(b.ctx, env); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Settings map[string]any `json:"settings"`
	}
	if code := b.get(t, "/api/v1/environments/"+env.ID.String(), &got); code != http.StatusOK {
		t.Fatalf("GET environment: %d", code)
	}
	if got.Settings["eventsEnabled"] != true || got.Settings["eventMode"] != "poll" || got.Settings["pollIntervalSeconds"] != 45.0 {
		t.Fatalf("settings = %v", got.Settings)
	}
	if code := b.get(t, "/api/v1/environments/"+env.ID.String()+"/metrics", nil); code != http.StatusOK {
		t.Fatalf("GET metrics: %d", code)
	}
	if code := b.get(t, "/api/v1/environments/"+env.ID.String()+"/nothing", nil); code != http.StatusNotFound {
		t.Fatalf("GET an unknown route: %d", code)
	}
}

func TestSettingsMappingOfEventFields(t *testing.T) {
	t.Parallel()
	set := workflows.DefaultSettings()
	set.EventsEnabled, set.EventMode, set.PollInterval = false, workflows.EventModePoll, 2*time.Minute
	// Settings without event fields show their defaults.
	old := workflows.Settings{MetricsInterval: 30 * time.Second, OfflineAfter: 2}
	if v := old.InEffect(); v.EventsEnabled || v.EventMode != "stream" || v.PollInterval != time.Minute {
		t.Fatalf("old.InEffect() = %+v", v)
	}
	raw, _ := json.Marshal(set)
	for _, key := range []string{`"eventsEnabled":false`, `"eventMode":"poll"`, `"pollIntervalSeconds":120`} {
		if !strings.Contains(string(raw), key) {
			t.Fatalf("settings JSON %s lacks %s", raw, key)
		}
	}
}

// sseMessage is one message (or comment) read from an event stream.
type sseMessage struct {
	id, event, data string
	comment         string
	at              time.Time
}

// sseClient is an open connection to /api/v1/stream.
type sseClient struct {
	resp     *http.Response
	messages chan sseMessage
	cancel   context.CancelFunc
}

// openStream connects to the stream; lastID, when set, is sent as
// Last-Event-ID. The connection closes when the test ends or on close.
func openStream(t *testing.T, baseURL, query, lastID string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/api/v1/stream"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("connect to the stream: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("stream: status %d: %s", resp.StatusCode, raw)
	}
	c := &sseClient{resp: resp, messages: make(chan sseMessage, 100), cancel: cancel}
	go func() {
		defer close(c.messages)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var m sseMessage
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if m.event != "" || m.data != "" {
					m.at = time.Now()
					c.messages <- m
				}
				m = sseMessage{}
			case strings.HasPrefix(line, ":"):
				c.messages <- sseMessage{comment: strings.TrimSpace(line[1:]), at: time.Now()}
			default:
				field, value, _ := strings.Cut(line, ":")
				value = strings.TrimPrefix(value, " ")
				switch field {
				case "id":
					m.id = value
				case "event":
					m.event = value
				case "data":
					m.data += value
				}
			}
		}
	}()
	t.Cleanup(c.close)
	return c
}

func (c *sseClient) close() { c.cancel() }

// next returns the next message that is not a comment.
func (c *sseClient) next(t *testing.T) sseMessage {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-c.messages:
			if !ok {
				t.Fatal("the stream ended")
			}
			if m.comment == "" {
				return m
			}
		case <-deadline:
			t.Fatal("no stream message within 10s")
		}
	}
}

// quiet fails if a message (not a comment) arrives within d.
func (c *sseClient) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m, ok := <-c.messages:
			if ok && m.comment == "" {
				t.Fatalf("unexpected stream message %+v", m)
			}
		case <-deadline:
			return
		}
	}
}

// wantEvent checks that m carries the stored event e with the SSE id cursor.
func wantEvent(t *testing.T, m sseMessage, e store.ContainerEvent, cursor string) {
	t.Helper()
	var got struct {
		ID            int64     `json:"id"`
		EnvironmentID uuid.UUID `json:"environmentId"`
		TimeNano      int64     `json:"timeNano"`
		Action        string    `json:"action"`
		ContainerID   string    `json:"containerId"`
	}
	if m.event != "container_event" || json.Unmarshal([]byte(m.data), &got) != nil ||
		got.ID != e.ID || got.EnvironmentID != e.EnvironmentID || got.TimeNano != e.TimeNano ||
		got.Action != e.Action || got.ContainerID != e.ContainerID || !cursorMatches(m.id, cursor) {
		t.Fatalf("stream message %+v, want container_event %d (%s) with id %s", m, e.ID, e.Action, cursor)
	}
}

// wantStatus checks that m carries the stored status change c.
func wantStatus(t *testing.T, m sseMessage, c store.StatusChange, cursor string) {
	t.Helper()
	var got struct {
		ID            int64     `json:"id"`
		EnvironmentID uuid.UUID `json:"environmentId"`
		Online        bool      `json:"online"`
		Error         string    `json:"error"`
		ChangedAt     time.Time `json:"changedAt"`
	}
	if m.event != "environment_status" || json.Unmarshal([]byte(m.data), &got) != nil ||
		got.ID != c.ID || got.EnvironmentID != c.EnvironmentID || got.Online != c.Online ||
		got.Error != c.Error || !got.ChangedAt.Equal(c.ChangedAt) || !cursorMatches(m.id, cursor) {
		t.Fatalf("stream message %+v, want environment_status %d with id %s", m, c.ID, cursor)
	}
}

// cursorOf is the SSE id "<eventTx>.<eventID>:<statusTx>.<statusID>" of the
// stream after the event and status change at ev and st; anyPos stands for
// a half the test cannot know (where a fresh connection started).
func cursorOf(ev, st store.StreamPosition) string {
	half := func(p store.StreamPosition) string {
		if p == anyPos {
			return "*"
		}
		return fmt.Sprintf("%d.%d", p.TxID, p.ID)
	}
	return half(ev) + ":" + half(st)
}

// anyPos is a position that cursorOf writes as "*".
var anyPos = store.StreamPosition{TxID: ^uint64(0), ID: -1}

func evPos(e store.ContainerEvent) store.StreamPosition {
	return store.StreamPosition{TxID: e.TxID, ID: e.ID}
}

func stPos(c store.StatusChange) store.StreamPosition {
	return store.StreamPosition{TxID: c.TxID, ID: c.ID}
}

// cursorMatches tells whether the SSE id got is want, where a "*" half of
// want matches any position.
func cursorMatches(got, want string) bool {
	gotEv, gotSt, ok := strings.Cut(got, ":")
	wantEv, wantSt, _ := strings.Cut(want, ":")
	half := func(g, w string) bool {
		if w != "*" {
			return g == w
		}
		tx, id, ok := strings.Cut(g, ".")
		_, errTx := strconv.ParseUint(tx, 10, 64)
		_, errID := strconv.ParseInt(id, 10, 64)
		return ok && errTx == nil && errID == nil
	}
	return ok && half(gotEv, wantEv) && half(gotSt, wantSt)
}

func TestStream_LiveThenResume(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, true)
	env := b.createEnv(t, "env")

	// Rows stored before a fresh connection are not replayed.
	old := b.insert(t, env.ID, evtEvent(0, "c1", "create"))[0]
	oldStatus := b.recordStatus(t, env.ID, true, evtBase)

	c := openStream(t, b.http.URL, "", "")
	h := c.resp.Header
	if h.Get("Content-Type") != "text/event-stream" || h.Get("Cache-Control") != "no-cache" || h.Get("X-Accel-Buffering") != "no" {
		t.Fatalf("stream headers %v", h)
	}
	start := b.insert(t, env.ID, evtEvent(time.Second, "c1", "start"))[0]
	inserted := time.Now()
	m := c.next(t)
	// The status half is where the connection started.
	wantEvent(t, m, start, cursorOf(evPos(start), anyPos))
	_, statusHalf, _ := strings.Cut(m.id, ":")
	if lag := m.at.Sub(inserted); lag > time.Second {
		t.Fatalf("the event reached the stream after %s, want within 1s", lag)
	}
	offline := b.recordStatus(t, env.ID, false, evtBase.Add(time.Minute))
	wantStatus(t, c.next(t), offline, cursorOf(evPos(start), stPos(offline)))
	if old.ID >= start.ID {
		t.Fatal("IDs do not grow")
	}
	if !stPos(oldStatus).Less(stPos(offline)) {
		t.Fatalf("status positions do not grow: %+v then %+v (the stream started at %s)", stPos(oldStatus), stPos(offline), statusHalf)
	}

	// Disconnect; what is stored meanwhile comes first on resume, once.
	c.close()
	die := b.insert(t, env.ID, evtEvent(2*time.Second, "c1", "die"), evtEvent(3*time.Second, "c1", "destroy"))
	online := b.recordStatus(t, env.ID, true, evtBase.Add(2*time.Minute))
	r := openStream(t, b.http.URL, "", cursorOf(evPos(start), stPos(offline)))
	wantEvent(t, r.next(t), die[0], cursorOf(evPos(die[0]), stPos(offline)))
	wantEvent(t, r.next(t), die[1], cursorOf(evPos(die[1]), stPos(offline)))
	wantStatus(t, r.next(t), online, cursorOf(evPos(die[1]), stPos(online)))
	// Then live.
	live := b.insert(t, env.ID, evtEvent(4*time.Second, "c2", "create"))[0]
	wantEvent(t, r.next(t), live, cursorOf(evPos(live), stPos(online)))
	r.quiet(t, 300*time.Millisecond)

	// ?lastEventId= resumes the same way (for clients that cannot set headers).
	q := openStream(t, b.http.URL, "?lastEventId="+cursorOf(evPos(die[1]), stPos(online)), "")
	wantEvent(t, q.next(t), live, cursorOf(evPos(live), stPos(online)))
	q.quiet(t, 300*time.Millisecond)

	// The former id "<eventID>:<statusID>" resumes after those IDs.
	l := openStream(t, b.http.URL, "", fmt.Sprintf("%d:%d", die[0].ID, offline.ID))
	wantEvent(t, l.next(t), die[1], cursorOf(evPos(die[1]), anyPos))
	wantEvent(t, l.next(t), live, cursorOf(evPos(live), anyPos))
	wantStatus(t, l.next(t), online, cursorOf(evPos(live), stPos(online)))
	l.quiet(t, 300*time.Millisecond)
	// "0:0" replays both tables from the start, as it always did.
	z := openStream(t, b.http.URL, "?lastEventId=0:0", "")
	for _, e := range []store.ContainerEvent{old, start, die[0], die[1], live} {
		wantEvent(t, z.next(t), e, cursorOf(evPos(e), anyPos))
	}
	for _, st := range []store.StatusChange{oldStatus, offline, online} {
		wantStatus(t, z.next(t), st, cursorOf(evPos(live), stPos(st)))
	}
	z.quiet(t, 300*time.Millisecond)
}

func TestStream_EnvironmentFilter(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, true)
	env := b.createEnv(t, "env")
	other := b.createEnv(t, "other")

	c := openStream(t, b.http.URL, "?environment="+env.ID.String(), "")
	b.insert(t, other.ID, evtEvent(0, "o1", "start"))
	b.recordStatus(t, other.ID, false, evtBase)
	mine := b.insert(t, env.ID, evtEvent(time.Second, "c1", "start"))[0]
	status := b.recordStatus(t, env.ID, true, evtBase.Add(time.Second))
	// The other environment's status may have been read (and skipped)
	// before this event or after it.
	wantEvent(t, c.next(t), mine, cursorOf(evPos(mine), anyPos))
	// The cursor counts the skipped rows too.
	wantStatus(t, c.next(t), status, cursorOf(evPos(mine), stPos(status)))
	c.quiet(t, 300*time.Millisecond)
}

func TestStream_Heartbeat(t *testing.T) {
	t.Parallel()
	b := evtSetupWith(t, true, 100*time.Millisecond)
	c := openStream(t, b.http.URL, "", "")
	deadline := time.After(5 * time.Second)
	var beats int
	for beats < 2 {
		select {
		case m, ok := <-c.messages:
			if !ok {
				t.Fatal("the stream ended")
			}
			if m.comment != "keepalive" {
				t.Fatalf("unexpected message %+v", m)
			}
			beats++
		case <-deadline:
			t.Fatalf("%d keepalive comments within 5s, want 2", beats)
		}
	}
}

// Two API instances on the same database both deliver an event stored once,
// once each.
func TestStream_TwoInstances(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, true)
	env := b.createEnv(t, "env")
	_, second := evtServe(t, evtOpenStore(t, b.url), true, time.Minute)

	c1 := openStream(t, b.http.URL, "", "")
	c2 := openStream(t, second.URL, "", "")
	writer := evtOpenStore(t, b.url) // a worker of its own
	if _, err := writer.InsertEvents(b.ctx, env.ID, []store.ContainerEvent{evtEvent(0, "c1", "oom")}, 0); err != nil {
		t.Fatal(err)
	}
	stored, err := writer.EventsAfterID(b.ctx, 0, 10)
	if err != nil || len(stored) != 1 {
		t.Fatalf("EventsAfterID = %v, %v", stored, err)
	}
	for _, c := range []*sseClient{c1, c2} {
		wantEvent(t, c.next(t), stored[0], cursorOf(store.StreamPosition{TxID: b.txID(t, "container_events", stored[0].ID), ID: stored[0].ID}, anyPos))
	}
	for _, c := range []*sseClient{c1, c2} {
		c.quiet(t, 300*time.Millisecond)
	}
}

// A Server whose StartStream was not called starts the listener on the first
// stream request.
func TestStream_StartsLazily(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, false)
	env := b.createEnv(t, "env")
	c := openStream(t, b.http.URL, "", "")
	e := b.insert(t, env.ID, evtEvent(0, "c1", "start"))[0]
	wantEvent(t, c.next(t), e, cursorOf(evPos(e), anyPos))
}

// The listener's connection is killed: clients catch up once it is back.
func TestStream_ListenerReconnects(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, true)
	env := b.createEnv(t, "env")
	c := openStream(t, b.http.URL, "", "")
	first := b.insert(t, env.ID, evtEvent(0, "c1", "start"))[0]
	wantEvent(t, c.next(t), first, cursorOf(evPos(first), anyPos))

	var killed int
	if err := b.store.Pool().QueryRow(b.ctx, `
		SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE $1`,
		`LISTEN "`+b.store.StatusChannel()+`"%`).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminated %d listeners, %v; want 1", killed, err)
	}
	second := b.insert(t, env.ID, evtEvent(time.Second, "c1", "die"))[0] // likely while reconnecting
	wantEvent(t, c.next(t), second, cursorOf(evPos(second), anyPos))
	third := b.insert(t, env.ID, evtEvent(2*time.Second, "c1", "destroy"))[0]
	wantEvent(t, c.next(t), third, cursorOf(evPos(third), anyPos))
}

// Stopping the listener (the process shutting down) ends the open streams,
// so that a graceful HTTP shutdown does not wait for them.
func TestStream_EndsWhenTheListenerStops(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := &Server{Store: b.store}
	if err := srv.StartStream(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.StopStream)
	hs := httptest.NewServer(srv.Routes())
	t.Cleanup(hs.Close)

	c := openStream(t, hs.URL, "", "")
	cancel()
	select {
	case _, ok := <-c.messages:
		if ok {
			t.Fatal("a message instead of the end of the stream")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream is still open 5s after its listener stopped")
	}
	shutdown, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShutdown()
	if err := hs.Config.Shutdown(shutdown); err != nil {
		t.Fatalf("graceful shutdown: %v", err)
	}
}

// A transaction that began before an event's (and writes nothing the
// stream listens to) holds the event back until it ends; the stream then
// delivers it within about a second although nothing notifies it.
func TestStream_HeldBackByLongTransaction(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, true)
	env := b.createEnv(t, "env")
	c := openStream(t, b.http.URL, "", "")

	long, err := b.store.Pool().Begin(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = long.Rollback(context.WithoutCancel(b.ctx)) }()
	if _, err := long.Exec(b.ctx, `SELECT pg_current_xact_id()`); err != nil { // takes a transaction id
		t.Fatal(err)
	}
	e := b.insert(t, env.ID, evtEvent(0, "c1", "start"))[0]
	c.quiet(t, 500*time.Millisecond)
	if err := long.Commit(b.ctx); err != nil {
		t.Fatal(err)
	}
	ended := time.Now()
	m := c.next(t)
	wantEvent(t, m, e, cursorOf(evPos(e), anyPos))
	if lag := m.at.Sub(ended); lag > 3*time.Second {
		t.Fatalf("the event came %s after the long transaction ended, want about a second at most", lag)
	}
}

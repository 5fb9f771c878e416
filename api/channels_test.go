package api

// Tests of the notification-channel, notification history and disk routes
// on the real Postgres, without Temporal (internal package, like
// events_test.go, whose evtSetup they use).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/notify"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/workflows"
)

// ntToken is the secret part of the test channel URLs: it must never
// appear in an answer.
const ntToken = "s3cr3t-t0ken-4711"

// ntSecretURL is a valid generic webhook URL carrying ntToken in its path
// and in a header parameter.
func ntSecretURL(hostPort string) string {
	return "generic://" + hostPort + "/hook/" + ntToken + "?disabletls=yes&template=json&@X-Token=" + ntToken
}

// ntClient calls the API under test: its own transport, since the
// outbound table polices the process-wide one.
var ntClient = &http.Client{Transport: &http.Transport{}}

// ntCall sends a request with a JSON body (none when empty) and returns the
// status and the raw answer. Every answer is checked for ntToken.
func ntCall(t *testing.T, b *evtBundle, method, path, body string) (int, []byte) {
	t.Helper()
	var reader io.Reader
	if body != "" {
		reader = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, b.http.URL+path, reader)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := ntClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(raw), ntToken) || strings.Contains(string(raw), url.QueryEscape(ntToken)) {
		t.Fatalf("%s %s answered the channel's secret: %s", method, path, raw)
	}
	return resp.StatusCode, raw
}

// ntDecode decodes raw into out.
func ntDecode(t *testing.T, raw []byte, out any) {
	t.Helper()
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
}

// ntErrorCode returns the code of an error answer.
func ntErrorCode(t *testing.T, raw []byte) (code, message string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	ntDecode(t, raw, &e)
	return e.Error.Code, e.Error.Message
}

type ntChannel struct {
	ID             uuid.UUID   `json:"id"`
	Name           string      `json:"name"`
	URL            *string     `json:"url"`
	URLRedacted    string      `json:"urlRedacted"`
	Enabled        bool        `json:"enabled"`
	Environments   []uuid.UUID `json:"environments"`
	Kinds          []string    `json:"kinds"`
	EffectiveKinds []string    `json:"effectiveKinds"`
	CreatedAt      time.Time   `json:"createdAt"`
	UpdatedAt      time.Time   `json:"updatedAt"`
}

func TestChannelCRUDAndRedaction(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, false)
	env := b.createEnv(t, "env")

	body := fmt.Sprintf(`{"name":"ops","url":%q,"environments":[%q],"kinds":["container_oom","environment_offline"]}`,
		ntSecretURL("127.0.0.1:9"), env.ID)
	code, raw := ntCall(t, b, http.MethodPost, "/api/v1/notification-channels", body)
	if code != http.StatusCreated {
		t.Fatalf("POST: %d %s", code, raw)
	}
	var created ntChannel
	ntDecode(t, raw, &created)
	if created.ID == uuid.Nil || created.Name != "ops" || !created.Enabled || created.URL != nil ||
		created.URLRedacted != "generic://127.0.0.1:9/***" ||
		!slices.Equal(created.Environments, []uuid.UUID{env.ID}) ||
		!slices.Equal(created.Kinds, []string{"container_oom", "environment_offline"}) ||
		!slices.Equal(created.EffectiveKinds, created.Kinds) || created.CreatedAt.IsZero() {
		t.Fatalf("created = %+v (%s)", created, raw)
	}
	stored, err := b.store.GetChannel(b.ctx, created.ID)
	if err != nil || stored.URL != ntSecretURL("127.0.0.1:9") {
		t.Fatalf("stored channel = %+v, %v; want the full URL stored", stored, err)
	}
	base := "/api/v1/notification-channels/" + created.ID.String()

	// Name taken.
	code, raw = ntCall(t, b, http.MethodPost, "/api/v1/notification-channels",
		fmt.Sprintf(`{"name":"ops","url":%q}`, ntSecretURL("127.0.0.1:10")))
	if c, _ := ntErrorCode(t, raw); code != http.StatusConflict || c != "name_taken" {
		t.Fatalf("POST taken name: %d %s", code, raw)
	}

	// List and get.
	code, raw = ntCall(t, b, http.MethodGet, "/api/v1/notification-channels", "")
	var list struct{ Channels []ntChannel }
	ntDecode(t, raw, &list)
	if code != http.StatusOK || len(list.Channels) != 1 || list.Channels[0].ID != created.ID {
		t.Fatalf("GET list: %d %s", code, raw)
	}
	code, raw = ntCall(t, b, http.MethodGet, base, "")
	var got ntChannel
	ntDecode(t, raw, &got)
	if code != http.StatusOK || got.ID != created.ID || got.URLRedacted != created.URLRedacted {
		t.Fatalf("GET: %d %s", code, raw)
	}

	// PATCH: rename, disable, new URL (validated, redacted).
	code, raw = ntCall(t, b, http.MethodPatch, base,
		fmt.Sprintf(`{"name":"ops 2","enabled":false,"url":%q}`, ntSecretURL("10.0.0.7:8080")))
	var patched ntChannel
	ntDecode(t, raw, &patched)
	if code != http.StatusOK || patched.Name != "ops 2" || patched.Enabled || patched.URLRedacted != "generic://10.0.0.7:8080/***" ||
		!slices.Equal(patched.Kinds, created.Kinds) || !slices.Equal(patched.Environments, created.Environments) {
		t.Fatalf("PATCH: %d %s", code, raw)
	}
	if stored, _ := b.store.GetChannel(b.ctx, created.ID); stored.URL != ntSecretURL("10.0.0.7:8080") {
		t.Fatal("PATCH did not store the new URL")
	}

	// Subscription.
	code, raw = ntCall(t, b, http.MethodGet, base+"/subscription", "")
	var sub struct {
		Environments   []uuid.UUID
		Kinds          []string
		EffectiveKinds []string
	}
	ntDecode(t, raw, &sub)
	if code != http.StatusOK || !slices.Equal(sub.Environments, []uuid.UUID{env.ID}) || len(sub.Kinds) != 2 {
		t.Fatalf("GET subscription: %d %s", code, raw)
	}
	code, raw = ntCall(t, b, http.MethodPut, base+"/subscription", `{"environments":[],"kinds":[]}`)
	sub.Environments, sub.Kinds, sub.EffectiveKinds = nil, nil, nil
	ntDecode(t, raw, &sub)
	if code != http.StatusOK || sub.Environments == nil || len(sub.Environments) != 0 || sub.Kinds == nil || len(sub.Kinds) != 0 ||
		!slices.Equal(sub.EffectiveKinds, notify.DefaultKinds) {
		t.Fatalf("PUT empty subscription: %d %s", code, raw)
	}
	code, raw = ntCall(t, b, http.MethodPut, base+"/subscription",
		fmt.Sprintf(`{"environments":[%q],"kinds":["container_started"]}`, env.ID))
	ntDecode(t, raw, &sub)
	if code != http.StatusOK || !slices.Equal(sub.Kinds, []string{"container_started"}) ||
		!slices.Equal(sub.EffectiveKinds, []string{"container_started"}) {
		t.Fatalf("PUT subscription: %d %s", code, raw)
	}
	if stored, _ := b.store.GetChannel(b.ctx, created.ID); stored.Name != "ops 2" || stored.URL != ntSecretURL("10.0.0.7:8080") ||
		!slices.Equal(stored.Kinds, []string{"container_started"}) {
		t.Fatalf("after PUT subscription: %+v", stored)
	}

	// Delete.
	if code, raw = ntCall(t, b, http.MethodDelete, base, ""); code != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", code, raw)
	}
	for _, m := range []string{http.MethodGet, http.MethodDelete} {
		if code, raw = ntCall(t, b, m, base, ""); code != http.StatusNotFound {
			t.Fatalf("%s after delete: %d %s", m, code, raw)
		}
	}
	if code, raw = ntCall(t, b, http.MethodGet, "/api/v1/notification-channels/not-a-uuid", ""); code != http.StatusBadRequest {
		t.Fatalf("GET bad id: %d %s", code, raw)
	}
}

func TestChannelBadInput(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, false)
	env := b.createEnv(t, "env")
	good := ntSecretURL("127.0.0.1:9")

	tests := []struct {
		name, body, code string
	}{
		{"malformed JSON", `{"name":"x","url":`, "invalid_json"},
		{"empty body", ``, "invalid_json"},
		{"unknown field", fmt.Sprintf(`{"name":"x","url":%q,"token":"abc"}`, good), "invalid_json"},
		{"trailing data", fmt.Sprintf(`{"name":"x","url":%q} {}`, good), "invalid_json"},
		{"missing url", `{"name":"x"}`, "invalid_request"},
		{"missing name", fmt.Sprintf(`{"url":%q}`, good), "invalid_request"},
		{"empty name", fmt.Sprintf(`{"name":" ","url":%q}`, good), "invalid_name"},
		{"long name", fmt.Sprintf(`{"name":%q,"url":%q}`, strings.Repeat("n", 101), good), "invalid_name"},
		{"bad kind", fmt.Sprintf(`{"name":"x","url":%q,"kinds":["container_oom","everything"]}`, good), "invalid_kind"},
		{"unknown environment", fmt.Sprintf(`{"name":"x","url":%q,"environments":[%q]}`, good, uuid.New()), "invalid_environment"},
		{"environment not a UUID", fmt.Sprintf(`{"name":"x","url":%q,"environments":["prod"]}`, good), "invalid_environment"},
		{"unknown service", `{"name":"x","url":"nosuchservice://host/` + ntToken + `"}`, "invalid_url"},
		{"not a URL", `{"name":"x","url":"` + ntToken + `"}`, "invalid_url"},
		{"empty URL", `{"name":"x","url":""}`, "invalid_url"},
		{"bad generic template", `{"name":"x","url":"generic://127.0.0.1:9/` + ntToken + `?template=nope"}`, "invalid_url"},
	}
	for _, tt := range tests {
		code, raw := ntCall(t, b, http.MethodPost, "/api/v1/notification-channels", tt.body)
		if c, _ := ntErrorCode(t, raw); code != http.StatusBadRequest || c != tt.code {
			t.Errorf("%s: %d %s; want 400 %s", tt.name, code, raw, tt.code)
		}
	}
	// Wrong content type.
	req, _ := http.NewRequest(http.MethodPost, b.http.URL+"/api/v1/notification-channels",
		strings.NewReader(fmt.Sprintf(`{"name":"x","url":%q}`, good)))
	req.Header.Set("Content-Type", "text/plain")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("text/plain body: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if list, err := b.store.ListChannels(b.ctx); err != nil || len(list) != 0 {
		t.Fatalf("channels stored after bad input: %+v, %v", list, err)
	}

	// Bad PATCH and PUT change nothing.
	code, raw := ntCall(t, b, http.MethodPost, "/api/v1/notification-channels",
		fmt.Sprintf(`{"name":"ok","url":%q,"environments":[%q]}`, good, env.ID))
	if code != http.StatusCreated {
		t.Fatalf("POST: %d %s", code, raw)
	}
	var ch ntChannel
	ntDecode(t, raw, &ch)
	before, _ := b.store.GetChannel(b.ctx, ch.ID)
	base := "/api/v1/notification-channels/" + ch.ID.String()
	for _, tt := range []struct{ method, path, body, code string }{
		{http.MethodPatch, base, `{"url":"nosuchservice://x/y"}`, "invalid_url"},
		{http.MethodPatch, base, `{"url":"` + ntToken + `"}`, "invalid_url"},
		{http.MethodPatch, base, `{"name":"renamed","kinds":["nope"]}`, "invalid_kind"},
		{http.MethodPatch, base, `{"enabled":"yes"}`, "invalid_json"},
		{http.MethodPatch, base, `{"name":""}`, "invalid_name"},
		{http.MethodPut, base + "/subscription", `{"kinds":["nope"]}`, "invalid_kind"},
		{http.MethodPut, base + "/subscription", fmt.Sprintf(`{"environments":[%q]}`, uuid.New()), "invalid_environment"},
		{http.MethodPut, base + "/subscription", `{"environments":[],"extra":1}`, "invalid_json"},
	} {
		code, raw := ntCall(t, b, tt.method, tt.path, tt.body)
		if c, _ := ntErrorCode(t, raw); code != http.StatusBadRequest || c != tt.code {
			t.Errorf("%s %s: %d %s; want 400 %s", tt.method, tt.body, code, raw, tt.code)
		}
	}
	if after, _ := b.store.GetChannel(b.ctx, ch.ID); !after.UpdatedAt.Equal(before.UpdatedAt) || after.URL != good ||
		after.Name != "ok" || len(after.Kinds) != 0 || !slices.Equal(after.Environments, []uuid.UUID{env.ID}) {
		t.Fatalf("channel changed by bad requests: %+v", after)
	}
}

// ntReceiver is a webhook receiver that answers status (200 by default).
type ntReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	status int
	paths  []string
	bodies []string
}

func newReceiver(t *testing.T, status int) *ntReceiver {
	t.Helper()
	r := &ntReceiver{status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.paths = append(r.paths, req.URL.Path)
		r.bodies = append(r.bodies, string(raw))
		r.mu.Unlock()
		w.WriteHeader(r.status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *ntReceiver) hostPort() string { return strings.TrimPrefix(r.srv.URL, "http://") }

func (r *ntReceiver) received() (paths, bodies []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.paths), slices.Clone(r.bodies)
}

// ntCreateChannel creates a channel through the API and returns its ID.
func ntCreateChannel(t *testing.T, b *evtBundle, name, rawURL string) uuid.UUID {
	t.Helper()
	code, raw := ntCall(t, b, http.MethodPost, "/api/v1/notification-channels", fmt.Sprintf(`{"name":%q,"url":%q}`, name, rawURL))
	if code != http.StatusCreated {
		t.Fatalf("create channel %s: %d %s", name, code, raw)
	}
	var ch ntChannel
	ntDecode(t, raw, &ch)
	return ch.ID
}

func TestChannelTestSend(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, false)

	ok := newReceiver(t, http.StatusOK)
	id := ntCreateChannel(t, b, "ok", ntSecretURL(ok.hostPort()))
	code, raw := ntCall(t, b, http.MethodPost, "/api/v1/notification-channels/"+id.String()+"/test", "")
	if code != http.StatusOK || strings.TrimSpace(string(raw)) != `{"delivered":true}` {
		t.Fatalf("test send: %d %s", code, raw)
	}
	paths, bodies := ok.received()
	if len(bodies) != 1 || paths[0] != "/hook/"+ntToken {
		t.Fatalf("receiver got %v %v", paths, bodies)
	}
	var msg struct{ Title, Message string }
	ntDecode(t, []byte(bodies[0]), &msg)
	if msg.Title != "Windflow test notification" || !strings.Contains(msg.Message, `"ok"`) {
		t.Fatalf("receiver got %s", bodies[0])
	}

	// A disabled channel can be tested too.
	if code, raw := ntCall(t, b, http.MethodPatch, "/api/v1/notification-channels/"+id.String(), `{"enabled":false}`); code != http.StatusOK {
		t.Fatalf("disable: %d %s", code, raw)
	}
	if code, raw := ntCall(t, b, http.MethodPost, "/api/v1/notification-channels/"+id.String()+"/test", ""); code != http.StatusOK {
		t.Fatalf("test send to a disabled channel: %d %s", code, raw)
	}

	// A failing receiver, and one that is gone: 502, the URL not in the body
	// (ntCall checks the token).
	failing := newReceiver(t, http.StatusInternalServerError)
	gone := newReceiver(t, http.StatusOK)
	gone.srv.Close()
	for name, r := range map[string]*ntReceiver{"failing": failing, "gone": gone} {
		id := ntCreateChannel(t, b, name, ntSecretURL(r.hostPort()))
		code, raw := ntCall(t, b, http.MethodPost, "/api/v1/notification-channels/"+id.String()+"/test", "")
		c, message := ntErrorCode(t, raw)
		if code != http.StatusBadGateway || c != "delivery_failed" || message == "" || strings.Contains(message, "/hook/") {
			t.Fatalf("%s receiver: %d %s", name, code, raw)
		}
	}
	if _, bodies := failing.received(); len(bodies) != 1 {
		t.Fatalf("failing receiver got %d requests, want 1", len(bodies))
	}
	// The cloud metadata address is refused whatever the allow-list.
	if code, raw := ntCall(t, b, http.MethodPost, "/api/v1/notification-channels",
		`{"name":"metadata","url":"generic+http://169.254.169.254/latest/meta-data"}`); code != http.StatusBadRequest || !strings.Contains(string(raw), "target_refused") {
		t.Fatalf("a channel to the metadata address: %d %s, want 400 target_refused", code, raw)
	}
	// A closed port and a port that accepts but never answers give the
	// same message: the test send is no port scanner.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	var messages []string
	for _, hostPort := range []string{gone.hostPort(), silent.Addr().String()} {
		id := ntCreateChannel(t, b, "probe-"+hostPort, ntSecretURL(hostPort))
		_, raw := ntCall(t, b, http.MethodPost, "/api/v1/notification-channels/"+id.String()+"/test", "")
		_, message := ntErrorCode(t, raw)
		messages = append(messages, message)
	}
	if messages[0] != messages[1] || strings.Contains(messages[0], "refused") {
		t.Fatalf("closed port %q vs silent port %q: want one message telling nothing about the port", messages[0], messages[1])
	}
	if code, raw := ntCall(t, b, http.MethodPost, "/api/v1/notification-channels/"+uuid.NewString()+"/test", ""); code != http.StatusNotFound {
		t.Fatalf("test send to an unknown channel: %d %s", code, raw)
	}
}

// leakySender fails with an error that quotes the URL, as a careless
// sender would.
type leakySender struct{}

func (leakySender) Send(_ context.Context, rawURL, _, _ string) error {
	u, _ := url.Parse(rawURL)
	return fmt.Errorf("post %q failed (user %s, path %s, query %s): %w", rawURL, u.User, u.Path, u.RawQuery, errors.New("boom"))
}

func TestChannelTestSendScrubsAnySender(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, false)
	b.srv.sender = leakySender{}
	id := ntCreateChannel(t, b, "leaky", ntSecretURL("127.0.0.1:9"))
	code, raw := ntCall(t, b, http.MethodPost, "/api/v1/notification-channels/"+id.String()+"/test", "")
	if c, _ := ntErrorCode(t, raw); code != http.StatusBadGateway || c != "delivery_failed" || !strings.Contains(string(raw), "boom") {
		t.Fatalf("test send: %d %s", code, raw)
	}

	for _, raw := range []string{
		"discord://" + ntToken + "@123456789",
		"smtp://user:" + ntToken + "@mail.example.com:587/?toaddresses=a@b.c",
		"ntfy://ntfy.sh/" + ntToken,
		"generic+https://example.com/" + url.PathEscape(ntToken+"/x y"),
	} {
		text := fmt.Sprintf("Post %q: %s / %s / %s", raw, raw, url.QueryEscape(ntToken), strings.TrimPrefix(raw, "generic+"))
		if got := notify.ScrubURL(text, raw); strings.Contains(got, ntToken) || strings.Contains(got, url.QueryEscape(ntToken)) {
			t.Errorf("ScrubURL(%q) = %q", text, got)
		}
	}
}

func TestNotificationHistory(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, false)
	envA := b.createEnv(t, "a")
	envB := b.createEnv(t, "b")
	chX := ntCreateChannel(t, b, "x", ntSecretURL("127.0.0.1:9"))
	chY := ntCreateChannel(t, b, "y", ntSecretURL("127.0.0.1:10"))
	if code, raw := ntCall(t, b, http.MethodPut, "/api/v1/notification-channels/"+chY.String()+"/subscription",
		fmt.Sprintf(`{"environments":[%q]}`, envB.ID)); code != http.StatusOK {
		t.Fatalf("subscribe y: %d %s", code, raw)
	}

	record := func(env uuid.UUID, at time.Duration, online bool) []int64 {
		t.Helper()
		kind, title := notify.KindEnvironmentOffline, "offline"
		if online {
			kind, title = notify.KindEnvironmentOnline, "online"
		}
		_, ids, err := b.store.RecordStatus(b.ctx, store.StatusChange{EnvironmentID: env, Online: online, ChangedAt: evtBase.Add(at)},
			&store.NotificationDraft{Kind: kind, Title: title, Message: "engine " + title})
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	offA := record(envA.ID, 0, false)           // x
	offB := record(envB.ID, time.Minute, false) // x, y
	onB := record(envB.ID, 2*time.Minute, true) // x, y
	if len(offA) != 1 || len(offB) != 2 || len(onB) != 2 {
		t.Fatalf("notifications %v %v %v", offA, offB, onB)
	}
	// of returns the notification of channel ch among ids (the order of the
	// channels of one cause is the order of their IDs).
	of := func(ids []int64, ch uuid.UUID) int64 {
		t.Helper()
		for _, id := range ids {
			if n, _, err := b.store.GetNotification(b.ctx, id); err == nil && n.ChannelID == ch {
				return id
			}
		}
		t.Fatalf("no notification of %s among %v", ch, ids)
		return 0
	}
	if err := b.store.RecordAttempt(b.ctx, offA[0], 1, false, "HTTP 500 from the receiver"); err != nil {
		t.Fatal(err)
	}
	if err := b.store.RecordAttempt(b.ctx, offA[0], 2, true, ""); err != nil {
		t.Fatal(err)
	}
	if err := b.store.MarkNotificationFailed(b.ctx, of(onB, chY), "gave up"); err != nil {
		t.Fatal(err)
	}

	type page struct {
		Notifications []struct {
			ID            int64
			ChannelID     uuid.UUID
			ChannelName   string
			EnvironmentID *uuid.UUID
			Kind, Title   string
			Message       string
			Status        string
			AttemptCount  int
			LastError     string
			CreatedAt     time.Time
			DeliveredAt   *time.Time
			Attempts      []struct {
				Attempt int
				At      time.Time
				OK      bool
				Error   string
			}
		}
		NextBefore *int64
	}
	list := func(query string) (page, []int64) {
		t.Helper()
		code, raw := ntCall(t, b, http.MethodGet, "/api/v1/notifications"+query, "")
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", query, code, raw)
		}
		var p page
		ntDecode(t, raw, &p)
		var ids []int64
		for _, n := range p.Notifications {
			ids = append(ids, n.ID)
		}
		return p, ids
	}

	all := slices.Concat(offA, offB, onB)
	slices.Reverse(all)
	p, ids := list("")
	if !slices.Equal(ids, all) || p.NextBefore != nil {
		t.Fatalf("history = %v (next %v), want %v newest first", ids, p.NextBefore, all)
	}
	last := p.Notifications[len(p.Notifications)-1]
	if last.ID != offA[0] || last.Status != "delivered" || last.AttemptCount != 2 || len(last.Attempts) != 2 ||
		last.Attempts[0].OK || last.Attempts[0].Error != "HTTP 500 from the receiver" || last.Attempts[0].Attempt != 1 ||
		!last.Attempts[1].OK || last.DeliveredAt == nil || last.ChannelName != "x" || last.ChannelID != chX ||
		*last.EnvironmentID != envA.ID || last.Kind != "environment_offline" || last.Title != "offline" ||
		last.Message != "engine offline" {
		t.Fatalf("delivered notification = %+v", last)
	}
	failed := p.Notifications[slices.Index(ids, of(onB, chY))]
	if first := failed; first.Attempts == nil || len(first.Attempts) != 0 || first.Status != "failed" || first.LastError != "gave up" {
		t.Fatalf("failed notification = %+v", first)
	}

	filters := []struct {
		query string
		want  []int64
	}{
		{"?channel=" + chY.String(), []int64{of(onB, chY), of(offB, chY)}},
		{"?environment=" + envA.ID.String(), offA},
		{"?kind=environment_online", []int64{onB[1], onB[0]}},
		{"?status=delivered", offA},
		{"?status=failed", []int64{of(onB, chY)}},
		{"?status=pending&channel=" + chX.String(), []int64{of(onB, chX), of(offB, chX)}},
		{fmt.Sprintf("?before=%d", offB[1]), []int64{offB[0], offA[0]}},
	}
	for _, f := range filters {
		if _, ids := list(f.query); !slices.Equal(ids, f.want) {
			t.Errorf("GET %s = %v, want %v", f.query, ids, f.want)
		}
	}

	// Pages of 2 through nextBefore.
	var paged []int64
	query := "?limit=2"
	for range 10 {
		p, ids := list(query)
		paged = append(paged, ids...)
		if p.NextBefore == nil {
			break
		}
		query = fmt.Sprintf("?limit=2&before=%d", *p.NextBefore)
	}
	if !slices.Equal(paged, all) {
		t.Fatalf("paged = %v, want %v", paged, all)
	}

	for _, bad := range []struct {
		query string
		code  int
	}{
		{"?channel=nope", http.StatusBadRequest},
		{"?channel=" + uuid.NewString(), http.StatusNotFound},
		{"?environment=nope", http.StatusBadRequest},
		{"?environment=" + uuid.NewString(), http.StatusNotFound},
		{"?kind=everything", http.StatusBadRequest},
		{"?status=lost", http.StatusBadRequest},
		{"?before=-1", http.StatusBadRequest},
		{"?before=x", http.StatusBadRequest},
		{"?limit=0", http.StatusBadRequest},
		{"?limit=501", http.StatusBadRequest},
	} {
		if code, raw := ntCall(t, b, http.MethodGet, "/api/v1/notifications"+bad.query, ""); code != bad.code {
			t.Errorf("GET %s: %d %s, want %d", bad.query, code, raw, bad.code)
		}
	}
}

func TestDiskRoute(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, false)
	env := b.createEnv(t, "env")
	from := evtBase.Truncate(time.Hour)
	for i, offset := range []time.Duration{0, 2 * time.Minute, 6 * time.Minute, 11 * time.Minute} {
		d := store.DiskSample{
			EnvironmentID: env.ID, CheckAt: from.Add(offset), CheckedAt: from.Add(offset),
			TotalBytes: int64(100 * (i + 1)), ImagesBytes: 10, CapacityBytes: 1000, CapacitySource: "configured",
			Percent: float64(10 * (i + 1)), Warned: i == 1,
		}
		if _, err := b.store.InsertDiskSample(b.ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	path := "/api/v1/environments/" + env.ID.String() + "/disk"
	code, raw := ntCall(t, b, http.MethodGet, fmt.Sprintf("%s?from=%d&to=%d&step=5m", path, from.Unix(), from.Add(15*time.Minute).Unix()), "")
	if code != http.StatusOK {
		t.Fatalf("GET disk: %d %s", code, raw)
	}
	var out struct {
		EnvironmentID uuid.UUID
		StepSeconds   float64
		Threshold     map[string]any
		Points        []struct {
			Time          time.Time
			TotalBytes    float64
			CapacityBytes float64
			Percent       float64
			ImagesBytes   float64
			Samples       int
			Warned        bool
		}
	}
	ntDecode(t, raw, &out)
	if out.EnvironmentID != env.ID || out.StepSeconds != 300 || out.Threshold["mode"] != "percent" || out.Threshold["percent"] != 80.0 ||
		len(out.Points) != 3 {
		t.Fatalf("disk answer = %s", raw)
	}
	p := out.Points[0]
	if !p.Time.Equal(from) || p.TotalBytes != 150 || p.Percent != 15 || p.CapacityBytes != 1000 || p.Samples != 2 || !p.Warned ||
		out.Points[1].Warned || out.Points[2].TotalBytes != 400 {
		t.Fatalf("points = %+v", out.Points)
	}

	// Defaults, and a step alone (the range shrinks to maxBuckets steps).
	for _, q := range []string{"", "?step=1s", "?step=60"} {
		if code, raw := ntCall(t, b, http.MethodGet, path+q, ""); code != http.StatusOK {
			t.Errorf("GET disk%s: %d %s", q, code, raw)
		}
	}
	for _, q := range []string{"?step=0s", "?step=x", "?from=x", "?from=2025-01-02T00:00:00Z&to=2025-01-01T00:00:00Z",
		"?from=0&to=1000000000", "?from=0&to=86400&step=1s"} {
		if code, raw := ntCall(t, b, http.MethodGet, path+q, ""); code != http.StatusBadRequest {
			t.Errorf("GET disk%s: %d %s, want 400", q, code, raw)
		}
	}
	if code, raw := ntCall(t, b, http.MethodGet, "/api/v1/environments/"+uuid.NewString()+"/disk", ""); code != http.StatusNotFound {
		t.Fatalf("GET disk of an unknown environment: %d %s", code, raw)
	}
}

func TestSettingsMappingOfDiskFields(t *testing.T) {
	t.Parallel()
	set := workflows.DefaultSettings()
	set.DiskInterval, set.DiskTimeout, set.DiskCooldown = 10*time.Minute, time.Minute, 2*time.Hour
	set.DiskThresholdMode, set.DiskThresholdPercent, set.DiskThresholdBytes, set.DiskCapacityBytes = "bytes", 90.5, 1<<40, 1<<41
	// Settings without disk fields show the defaults.
	old := workflows.Settings{MetricsInterval: 30 * time.Second, OfflineAfter: 2}
	if v := old.InEffect(); v.DiskInterval != 5*time.Minute || v.DiskTimeout != 20*time.Second || v.DiskThresholdMode != "percent" ||
		v.DiskThresholdPercent != 80 || v.DiskThresholdBytes != 50_000_000_000 || v.DiskCapacityBytes != 0 || v.DiskCooldown != time.Hour {
		t.Fatalf("old.InEffect() = %+v", v)
	}
	raw, _ := json.Marshal(set)
	for _, key := range []string{`"diskIntervalSeconds":600`, `"diskTimeoutSeconds":60`, `"diskThresholdMode":"bytes"`,
		`"diskThresholdPercent":90.5`, `"diskThresholdBytes":1099511627776`, `"diskCapacityBytes":2199023255552`,
		`"diskCooldownSeconds":7200`} {
		if !strings.Contains(string(raw), key) {
			t.Fatalf("settings JSON %s lacks %s", raw, key)
		}
	}
}

func TestEnvironmentAnswerShowsDiskSettings(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, false)
	env := b.createEnv(t, "env")
	var got struct{ Settings map[string]any }
	if code := b.get(t, "/api/v1/environments/"+env.ID.String(), &got); code != http.StatusOK {
		t.Fatalf("GET environment: %d", code)
	}
	if got.Settings["diskIntervalSeconds"] != 300.0 || got.Settings["diskThresholdMode"] != "percent" ||
		got.Settings["diskCooldownSeconds"] != 3600.0 || got.Settings["diskCapacityBytes"] != 0.0 {
		t.Fatalf("settings = %v", got.Settings)
	}
}

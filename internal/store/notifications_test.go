package store_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/notify"
	"github.com/windflow/monitor/internal/store"
)

// channelsOf returns the sorted channel names of the notifications ids.
func (b *testBundle) channelsOf(t *testing.T, ids []int64) []string {
	t.Helper()
	var names []string
	for _, id := range ids {
		n, c, err := b.store.GetNotification(b.ctx, id)
		if err != nil {
			t.Fatalf("GetNotification(%d): %v", id, err)
		}
		if n.ChannelName != c.Name || n.ChannelID != c.ID {
			t.Fatalf("GetNotification(%d): notification of %s/%q, channel %s/%q", id, n.ChannelID, n.ChannelName, c.ID, c.Name)
		}
		names = append(names, c.Name)
	}
	slices.Sort(names)
	return names
}

// notify records a transition of env at offset with a draft of kind and
// returns the IDs of the notifications created.
func (b *testBundle) recordWithDraft(t *testing.T, env uuid.UUID, offset time.Duration, kind string) []int64 {
	t.Helper()
	inserted, ids, err := b.store.RecordStatus(b.ctx,
		store.StatusChange{EnvironmentID: env, ChangedAt: baseTime.Add(offset)},
		&store.NotificationDraft{Kind: kind, Title: "title " + kind, Message: "message " + kind})
	if err != nil || !inserted {
		t.Fatalf("RecordStatus(%s, %s) = %v, %v", kind, offset, inserted, err)
	}
	return ids
}

func TestNotificationChannelMatching(t *testing.T) {
	t.Parallel()
	b := setup(t)
	envA := b.createEnv(t, "a")
	envB := b.createEnv(t, "b")

	b.createChannel(t, "all", true, nil, nil)                            // every env, default kinds
	b.createChannel(t, "only-a", true, []uuid.UUID{envA.ID}, nil)        // env A, default kinds
	b.createChannel(t, "oom-only", true, nil, []string{"container_oom"}) // every env, one kind
	b.createChannel(t, "started", true, nil, []string{"container_started"})
	b.createChannel(t, "disabled", false, nil, nil)
	b.createChannel(t, "b-started", true, []uuid.UUID{envB.ID}, []string{"container_started", "environment_offline"})

	tests := []struct {
		env  uuid.UUID
		kind string
		want []string
	}{
		{envA.ID, "environment_offline", []string{"all", "only-a"}},
		{envB.ID, "environment_offline", []string{"all", "b-started"}},
		{envA.ID, "container_oom", []string{"all", "only-a", "oom-only"}},
		{envB.ID, "container_oom", []string{"all", "oom-only"}},
		// Not a default kind: only explicit subscribers.
		{envA.ID, "container_started", []string{"started"}},
		{envB.ID, "container_started", []string{"b-started", "started"}},
		{envA.ID, "container_stopped", nil},
	}
	for i, tt := range tests {
		ids := b.recordWithDraft(t, tt.env, time.Duration(i)*time.Minute, tt.kind)
		if got := b.channelsOf(t, ids); !slices.Equal(got, tt.want) {
			t.Errorf("%s on %s: channels %v, want %v", tt.kind, tt.env, got, tt.want)
		}
	}
}

func TestRecordStatusNotifiesOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	one := b.createChannel(t, "one", true, nil, nil)
	two := b.createChannel(t, "two", true, []uuid.UUID{env.ID}, []string{"environment_offline"})

	change := store.StatusChange{EnvironmentID: env.ID, Online: false, Error: "refused", ChangedAt: baseTime}
	draft := &store.NotificationDraft{Kind: notify.KindEnvironmentOffline, Title: "env is offline", Message: "refused"}
	inserted, ids, err := b.store.RecordStatus(b.ctx, change, draft)
	if err != nil || !inserted || len(ids) != 2 {
		t.Fatalf("first RecordStatus = %v, %v, %v; want true, 2 IDs, nil", inserted, ids, err)
	}
	inserted, again, err := b.store.RecordStatus(b.ctx, change, draft)
	if err != nil || inserted || len(again) != 0 {
		t.Fatalf("second RecordStatus = %v, %v, %v; want false, no IDs, nil", inserted, again, err)
	}
	if n := b.count(t, "environment_status"); n != 1 {
		t.Fatalf("environment_status rows = %d, want 1", n)
	}
	if n := b.count(t, "notifications"); n != 2 {
		t.Fatalf("notifications rows = %d, want 2", n)
	}

	cause := fmt.Sprintf("status:%s:%d", env.ID, baseTime.UnixNano())
	wantKeys := map[string]bool{cause + "/" + one.ID.String(): true, cause + "/" + two.ID.String(): true}
	for _, id := range ids {
		n, c, err := b.store.GetNotification(b.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !wantKeys[n.DedupKey] || n.Kind != "environment_offline" || n.Title != "env is offline" ||
			n.Message != "refused" || n.Status != store.NotificationPending || n.Attempts != 0 ||
			n.EnvironmentID == nil || *n.EnvironmentID != env.ID || n.DispatchedAt != nil || n.DeliveredAt != nil ||
			n.CreatedAt.IsZero() || c.URL == "" {
			t.Fatalf("notification %d = %+v (channel %+v)", id, n, c)
		}
	}

	// A transition stored without draft notifies nobody when retried with one.
	later := change
	later.ChangedAt = baseTime.Add(time.Minute)
	if _, _, err := b.store.RecordStatus(b.ctx, later, nil); err != nil {
		t.Fatal(err)
	}
	if inserted, ids, err := b.store.RecordStatus(b.ctx, later, draft); err != nil || inserted || len(ids) != 0 {
		t.Fatalf("retry with a draft = %v, %v, %v; want nothing", inserted, ids, err)
	}

	// An explicit cause key is used as is; a draft without kind is rejected.
	custom := &store.NotificationDraft{Kind: "environment_online", CauseKey: "custom-key"}
	change.ChangedAt = baseTime.Add(2 * time.Minute)
	if _, ids, err := b.store.RecordStatus(b.ctx, change, custom); err != nil || len(ids) != 1 { // "two" is offline only
		t.Fatalf("RecordStatus(custom key) = %v, %v", ids, err)
	} else if n, _, _ := b.store.GetNotification(b.ctx, ids[0]); !strings.HasPrefix(n.DedupKey, "custom-key/") {
		t.Fatalf("dedup key = %q, want custom-key/<channel>", n.DedupKey)
	}
	change.ChangedAt = baseTime.Add(3 * time.Minute)
	if _, _, err := b.store.RecordStatus(b.ctx, change, &store.NotificationDraft{}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("RecordStatus(draft without kind) error = %v, want ErrInvalid", err)
	}
	if _, err := b.store.LatestStatus(b.ctx, env.ID); err != nil {
		t.Fatal(err)
	}
	if n := b.count(t, "environment_status"); n != 3 {
		t.Fatalf("environment_status rows = %d, want 3 (the rejected one not stored)", n)
	}
}

// derivedCall is what an EventDeriver saw.
type derivedCall struct {
	event  string   // container/action
	recent []string // container/action@offset
}

func TestInsertEventsNotify(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	other := b.createEnv(t, "other")
	ch := b.createChannel(t, "everything", true, nil, notify.AllKinds)

	label := func(e store.ContainerEvent) string {
		return fmt.Sprintf("%s/%s@%s", e.ContainerID, e.Action, time.Duration(e.TimeNano-eventBase))
	}
	var calls []derivedCall
	derive := func(e store.ContainerEvent, recent []store.ContainerEvent) []store.NotificationDraft {
		if e.ID == 0 || e.EnvironmentID != env.ID {
			t.Errorf("derive got %+v: want a stored event of env", e)
		}
		call := derivedCall{event: label(e)}
		for _, r := range recent {
			call.recent = append(call.recent, label(r))
		}
		calls = append(calls, call)
		kind := map[string]string{
			"stop": notify.KindContainerStopped, "die": notify.KindContainerDiedUnexpectedly,
			"start": notify.KindContainerStarted, "oom": notify.KindContainerOOM,
		}[e.Action]
		if kind == "" {
			return nil
		}
		drafts := []store.NotificationDraft{{Kind: kind, Title: e.Action, Message: e.ContainerName}}
		if e.Action == "start" {
			drafts = append(drafts, store.NotificationDraft{Title: "no kind: skipped"})
		}
		return drafts
	}

	// Stored before: inside and outside the window, another container,
	// another environment.
	before := []store.ContainerEvent{
		containerEvent(-70*time.Second, "c1", "create"),
		containerEvent(-10*time.Second, "c1", "kill"),
		containerEvent(-5*time.Second, "c2", "kill"),
	}
	if n, err := b.store.InsertEvents(b.ctx, env.ID, before, 0); err != nil || n != 3 {
		t.Fatalf("InsertEvents(before) = %d, %v", n, err)
	}
	if _, err := b.store.InsertEvents(b.ctx, other.ID, []store.ContainerEvent{containerEvent(-time.Second, "c1", "kill")}, 0); err != nil {
		t.Fatal(err)
	}

	batch := []store.ContainerEvent{
		containerEvent(time.Second, "c2", "start"),
		containerEvent(0, "c1", "die"),
		containerEvent(0, "c1", "oom"),
		containerEvent(-2*time.Second, "c1", "stop"),
		containerEvent(-10*time.Second, "c1", "kill"), // already stored: not derived again
	}
	inserted, ids, err := b.store.InsertEventsNotify(b.ctx, env.ID, batch, eventBase+int64(2*time.Second), derive)
	if err != nil || inserted != 4 {
		t.Fatalf("InsertEventsNotify = %d, %v, %v; want 4 inserted", inserted, ids, err)
	}
	want := []derivedCall{
		{"c1/stop@-2s", []string{"c1/kill@-10s"}},
		{"c1/die@0s", []string{"c1/kill@-10s", "c1/stop@-2s"}},
		{"c1/oom@0s", []string{"c1/kill@-10s", "c1/stop@-2s"}},
		{"c2/start@1s", []string{"c2/kill@-5s"}},
	}
	if !slices.EqualFunc(calls, want, func(a, b derivedCall) bool {
		return a.event == b.event && slices.Equal(a.recent, b.recent)
	}) {
		t.Fatalf("derive calls = %v, want %v", calls, want)
	}
	if len(ids) != 4 {
		t.Fatalf("notification IDs = %v, want 4", ids)
	}
	gotKeys := map[string]string{}
	for _, id := range ids {
		n, _, err := b.store.GetNotification(b.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		gotKeys[n.Kind] = n.DedupKey
	}
	wantKey := fmt.Sprintf("event:%s:%d:c1:die/%s", env.ID, eventBase, ch.ID)
	if gotKeys[notify.KindContainerDiedUnexpectedly] != wantKey {
		t.Fatalf("dedup key of the die = %q, want %q", gotKeys[notify.KindContainerDiedUnexpectedly], wantKey)
	}
	if kinds := slices.Sorted(maps.Keys(gotKeys)); !slices.Equal(kinds, []string{
		"container_died_unexpectedly", "container_oom", "container_started", "container_stopped"}) {
		t.Fatalf("kinds = %v", kinds)
	}

	// The same batch again: nothing new, nothing derived, nothing notified.
	calls = nil
	inserted, ids, err = b.store.InsertEventsNotify(b.ctx, env.ID, batch, 0, derive)
	if err != nil || inserted != 0 || len(ids) != 0 || len(calls) != 0 {
		t.Fatalf("InsertEventsNotify again = %d, %v, %v, %d calls; want nothing", inserted, ids, err, len(calls))
	}
	if n := b.count(t, "notifications"); n != 4 {
		t.Fatalf("notifications rows = %d, want 4", n)
	}
	if cursor, err := b.store.EventCursor(b.ctx, env.ID); err != nil || cursor != eventBase+int64(2*time.Second) {
		t.Fatalf("EventCursor = %d, %v", cursor, err)
	}

	// An overlapping batch derives only its new event.
	calls = nil
	overlap := append(slices.Clone(batch), containerEvent(30*time.Second, "c1", "stop"))
	inserted, ids, err = b.store.InsertEventsNotify(b.ctx, env.ID, overlap, 0, derive)
	if err != nil || inserted != 1 || len(ids) != 1 || len(calls) != 1 ||
		!slices.Equal(calls[0].recent, []string{"c1/kill@-10s", "c1/stop@-2s", "c1/die@0s", "c1/oom@0s"}) {
		t.Fatalf("overlapping batch = %d, %v, %v, calls %v", inserted, ids, err, calls)
	}
}

func TestNotificationDelivery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	b.createChannel(t, "ch", true, nil, nil)
	first := b.recordWithDraft(t, env.ID, 0, "environment_offline")[0]
	second := b.recordWithDraft(t, env.ID, time.Minute, "environment_online")[0]

	if err := b.store.RecordAttempt(b.ctx, first, 1, false, "HTTP 500"); err != nil {
		t.Fatalf("RecordAttempt(fail): %v", err)
	}
	n, _, err := b.store.GetNotification(b.ctx, first)
	if err != nil || n.Status != store.NotificationPending || n.Attempts != 1 || n.LastError != "HTTP 500" || n.DeliveredAt != nil {
		t.Fatalf("after a failed attempt: %+v, %v", n, err)
	}
	if err := b.store.RecordAttempt(b.ctx, first, 2, true, "ignored"); err != nil {
		t.Fatalf("RecordAttempt(ok): %v", err)
	}
	n, _, err = b.store.GetNotification(b.ctx, first)
	if err != nil || n.Status != store.NotificationDelivered || n.Attempts != 2 || n.LastError != "" || n.DeliveredAt == nil {
		t.Fatalf("after a successful attempt: %+v, %v", n, err)
	}
	deliveredAt := *n.DeliveredAt
	// Giving up after delivery changes nothing; another success keeps the time.
	if err := b.store.MarkNotificationFailed(b.ctx, first, "too late"); err != nil {
		t.Fatal(err)
	}
	if err := b.store.RecordAttempt(b.ctx, first, 3, true, ""); err != nil {
		t.Fatal(err)
	}
	n, _, _ = b.store.GetNotification(b.ctx, first)
	if n.Status != store.NotificationDelivered || n.LastError != "" || !n.DeliveredAt.Equal(deliveredAt) || n.Attempts != 3 {
		t.Fatalf("delivered notification changed: %+v", n)
	}
	attempts, err := b.store.ListAttempts(b.ctx, first)
	if err != nil || len(attempts) != 3 ||
		attempts[0].Attempt != 1 || attempts[0].OK || attempts[0].Error != "HTTP 500" || attempts[0].At.IsZero() ||
		attempts[1].Attempt != 2 || !attempts[1].OK || attempts[1].Error != "" {
		t.Fatalf("ListAttempts = %+v, %v", attempts, err)
	}

	if err := b.store.MarkNotificationFailed(b.ctx, second, "gave up after 8 attempts"); err != nil {
		t.Fatal(err)
	}
	n, _, _ = b.store.GetNotification(b.ctx, second)
	if n.Status != store.NotificationFailed || n.LastError != "gave up after 8 attempts" {
		t.Fatalf("failed notification: %+v", n)
	}
	if attempts, err := b.store.ListAttempts(b.ctx, second); err != nil || attempts == nil || len(attempts) != 0 {
		t.Fatalf("ListAttempts(none) = %#v, %v", attempts, err)
	}

	const unknown = int64(1 << 40)
	if err := b.store.RecordAttempt(b.ctx, unknown, 1, true, ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RecordAttempt(unknown) error = %v, want ErrNotFound", err)
	}
	if err := b.store.MarkNotificationFailed(b.ctx, unknown, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("MarkNotificationFailed(unknown) error = %v, want ErrNotFound", err)
	}
	if _, _, err := b.store.GetNotification(b.ctx, unknown); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetNotification(unknown) error = %v, want ErrNotFound", err)
	}
	if n := b.count(t, "notification_attempts"); n != 3 {
		t.Fatalf("notification_attempts rows = %d, want 3", n)
	}
}

func TestPendingUndispatched(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	b.createChannel(t, "ch", true, nil, nil)
	var ids []int64
	for i := range 3 {
		ids = append(ids, b.recordWithDraft(t, env.ID, time.Duration(i)*time.Minute, "environment_offline")...)
	}
	pending := func(limit int) []int64 {
		t.Helper()
		got, err := b.store.PendingUndispatched(b.ctx, 10*time.Minute, limit)
		if err != nil {
			t.Fatalf("PendingUndispatched: %v", err)
		}
		return got
	}
	if got := pending(0); !slices.Equal(got, ids) {
		t.Fatalf("PendingUndispatched = %v, want %v", got, ids)
	}
	if err := b.store.MarkDispatched(b.ctx, ids[:2]); err != nil {
		t.Fatal(err)
	}
	if err := b.store.MarkDispatched(b.ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := pending(0); !slices.Equal(got, ids[2:]) {
		t.Fatalf("after MarkDispatched = %v, want %v", got, ids[2:])
	}
	n, _, _ := b.store.GetNotification(b.ctx, ids[0])
	if n.DispatchedAt == nil {
		t.Fatal("DispatchedAt not set")
	}
	// A dispatch older than staleAfter is due again, oldest first.
	if _, err := b.store.Pool().Exec(b.ctx,
		`UPDATE notifications SET dispatched_at = now() - interval '11 minutes' WHERE id = $1`, ids[0]); err != nil {
		t.Fatal(err)
	}
	if got := pending(0); !slices.Equal(got, []int64{ids[0], ids[2]}) {
		t.Fatalf("with a stale dispatch = %v, want %v", got, []int64{ids[0], ids[2]})
	}
	if got := pending(1); !slices.Equal(got, ids[:1]) {
		t.Fatalf("limit 1 = %v, want %v", got, ids[:1])
	}
	// Delivered and failed notifications are never due.
	if err := b.store.RecordAttempt(b.ctx, ids[0], 1, true, ""); err != nil {
		t.Fatal(err)
	}
	if err := b.store.MarkNotificationFailed(b.ctx, ids[2], "gave up"); err != nil {
		t.Fatal(err)
	}
	if got := pending(0); len(got) != 0 {
		t.Fatalf("PendingUndispatched = %v, want none", got)
	}
	// MarkDispatched leaves finished notifications alone.
	if err := b.store.MarkDispatched(b.ctx, ids[2:]); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := b.store.GetNotification(b.ctx, ids[2]); n.DispatchedAt != nil {
		t.Fatalf("a failed notification got dispatched_at %v", n.DispatchedAt)
	}
}

func TestListNotifications(t *testing.T) {
	t.Parallel()
	b := setup(t)
	envA := b.createEnv(t, "a")
	envB := b.createEnv(t, "b")
	chX := b.createChannel(t, "x", true, nil, nil)
	chY := b.createChannel(t, "y", true, []uuid.UUID{envB.ID}, nil)

	offA := b.recordWithDraft(t, envA.ID, 0, "environment_offline")           // x
	offB := b.recordWithDraft(t, envB.ID, time.Minute, "environment_offline") // x, y
	onB := b.recordWithDraft(t, envB.ID, 2*time.Minute, "environment_online") // x, y
	all := slices.Concat(offA, offB, onB)
	slices.Reverse(all) // newest first
	if err := b.store.RecordAttempt(b.ctx, onB[0], 1, true, ""); err != nil {
		t.Fatal(err)
	}

	ids := func(list []store.Notification) []int64 {
		var out []int64
		for _, n := range list {
			out = append(out, n.ID)
		}
		return out
	}
	filter := func(keep func(n store.Notification) bool) []int64 {
		var out []int64
		list, err := b.store.ListNotifications(b.ctx, store.NotificationQuery{})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range list {
			if keep(n) {
				out = append(out, n.ID)
			}
		}
		return out
	}
	if got := filter(func(store.Notification) bool { return true }); !slices.Equal(got, all) {
		t.Fatalf("ListNotifications = %v, want %v (newest first)", got, all)
	}
	tests := []struct {
		name string
		q    store.NotificationQuery
		keep func(n store.Notification) bool
	}{
		{"channel", store.NotificationQuery{ChannelID: &chY.ID}, func(n store.Notification) bool { return n.ChannelID == chY.ID }},
		{"environment", store.NotificationQuery{EnvironmentID: &envA.ID}, func(n store.Notification) bool { return *n.EnvironmentID == envA.ID }},
		{"kind", store.NotificationQuery{Kind: "environment_online"}, func(n store.Notification) bool { return n.Kind == "environment_online" }},
		{"status", store.NotificationQuery{Status: "delivered"}, func(n store.Notification) bool { return n.Status == "delivered" }},
		{"channel and kind", store.NotificationQuery{ChannelID: &chX.ID, Kind: "environment_offline"}, func(n store.Notification) bool {
			return n.ChannelID == chX.ID && n.Kind == "environment_offline"
		}},
	}
	for _, tt := range tests {
		got, err := b.store.ListNotifications(b.ctx, tt.q)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if want := filter(tt.keep); len(want) == 0 || !slices.Equal(ids(got), want) {
			t.Fatalf("%s: %v, want %v", tt.name, ids(got), want)
		}
	}

	// Pages of 2: no notification twice, none skipped.
	var paged []int64
	q := store.NotificationQuery{Limit: 2}
	for range 10 {
		page, next, err := b.store.ListNotificationsPage(b.ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, ids(page)...)
		if next == 0 {
			break
		}
		if next != page[len(page)-1].ID {
			t.Fatalf("nextBefore = %d, want the last ID of the page %d", next, page[len(page)-1].ID)
		}
		q.BeforeID = next
	}
	if !slices.Equal(paged, all) {
		t.Fatalf("paged = %v, want %v", paged, all)
	}

	byID, err := b.store.AttemptsOf(b.ctx, all)
	if err != nil || len(byID) != 1 || len(byID[onB[0]]) != 1 {
		t.Fatalf("AttemptsOf = %v, %v", byID, err)
	}

	// Deleting a channel deletes its notifications.
	if err := b.store.DeleteChannel(b.ctx, chY.ID); err != nil {
		t.Fatal(err)
	}
	if n := b.count(t, "notifications"); n != 3 {
		t.Fatalf("notifications after deleting y = %d, want 3", n)
	}
}

// TestInsertEventsNotifyHealthRecovery: a healthy event is judged against
// the container's previous health event however old, so a recovery after a
// long unhealthy spell is still seen.
func TestInsertEventsNotifyHealthRecovery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	b.createChannel(t, "everything", true, nil, notify.AllKinds)
	if _, err := b.store.InsertEvents(b.ctx, env.ID, []store.ContainerEvent{
		containerEvent(-10*time.Minute, "c1", "health_status: unhealthy"),
		containerEvent(-9*time.Minute, "c2", "health_status: unhealthy"), // another container
	}, 0); err != nil {
		t.Fatal(err)
	}
	var got [][]string
	derive := func(e store.ContainerEvent, recent []store.ContainerEvent) []store.NotificationDraft {
		var actions []string
		for _, r := range recent {
			actions = append(actions, r.ContainerID+" "+r.Action)
		}
		got = append(got, actions)
		return nil
	}
	if _, _, err := b.store.InsertEventsNotify(b.ctx, env.ID, []store.ContainerEvent{
		containerEvent(0, "c1", "health_status: healthy"),
		containerEvent(time.Second, "c1", "start"), // not a health event: the 60 s window only
	}, 0, derive); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"c1 health_status: unhealthy"}, {"c1 health_status: healthy"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("recent events given to derive = %q, want %q", got, want)
	}
}

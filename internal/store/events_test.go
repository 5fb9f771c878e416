package store_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/windflow/monitor/internal/store"
)

// eventBase is the engine time of the events of these tests.
var eventBase = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC).UnixNano()

// containerEvent returns a valid event of container at eventBase+offset.
func containerEvent(offset time.Duration, container, action string) store.ContainerEvent {
	return store.ContainerEvent{
		TimeNano:      eventBase + int64(offset),
		ContainerID:   container,
		ContainerName: "name-" + container,
		Image:         "busybox:latest",
		Action:        action,
		Attributes:    map[string]string{"name": "name-" + container, "image": "busybox:latest"},
	}
}

// intPtr returns a pointer to v.
func intPtr(v int) *int { return &v }

func TestEnvironmentEventSettings(t *testing.T) {
	t.Parallel()
	b := setup(t)

	// Zero event mode and poll interval are stored as their defaults.
	env := b.createEnv(t, "defaults")
	if env.Settings.EventsEnabled || env.Settings.EventMode != "stream" || env.Settings.PollInterval != time.Minute {
		t.Fatalf("created with zero event settings: %v %q %s; want false stream 1m",
			env.Settings.EventsEnabled, env.Settings.EventMode, env.Settings.PollInterval)
	}
	env.Settings.EventsEnabled, env.Settings.EventMode, env.Settings.PollInterval = true, "poll", 30*time.Second
	updated, err := b.store.UpdateEnvironment(b.ctx, env)
	if err != nil {
		t.Fatalf("UpdateEnvironment: %v", err)
	}
	if got, err := b.store.GetEnvironment(b.ctx, env.ID); err != nil || got != updated ||
		!got.Settings.EventsEnabled || got.Settings.EventMode != "poll" || got.Settings.PollInterval != 30*time.Second {
		t.Fatalf("GetEnvironment = %+v, %v; want events on, poll every 30s", got, err)
	}
	env = updated
	env.Settings.EventMode, env.Settings.PollInterval = "", 0
	if updated, err = b.store.UpdateEnvironment(b.ctx, env); err != nil ||
		updated.Settings.EventMode != "stream" || updated.Settings.PollInterval != time.Minute {
		t.Fatalf("update with zero event settings = %+v, %v; want stream, 1m", updated, err)
	}

	// Rows whose settings lack the event keys get events on, in stream
	// mode, every minute.
	id := uuid.New()
	if _, err := b.store.Pool().Exec(b.ctx, `
		INSERT INTO environments (id, name, endpoint, settings)
		VALUES ($1, 'old', 'unix:///var/run/docker.sock', '{"metricsIntervalSeconds": 30, "offlineAfter": 2}')`, id); err != nil {
		t.Fatal(err)
	}
	old, err := b.store.GetEnvironment(b.ctx, id)
	if err != nil || !old.Settings.EventsEnabled || old.Settings.EventMode != "stream" || old.Settings.PollInterval != time.Minute {
		t.Fatalf("environment without event columns = %+v, %v; want events on, stream, 1m", old, err)
	}
	envs, err := b.store.ListEnvironments(b.ctx)
	if err != nil || len(envs) != 2 || envs[1] != old {
		t.Fatalf("ListEnvironments = %+v, %v", envs, err)
	}
}

func TestInsertEventsOnceAndCursor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")

	die := containerEvent(2*time.Second, "c1", "die")
	die.ExitCode = intPtr(137)
	die.Attributes["exitCode"] = "137"
	die.ContainerName = "/name-c1" // the engine's form is accepted too
	received := time.Date(2025, 3, 14, 15, 10, 0, 0, time.UTC)
	die.ReceivedAt = received
	batch := []store.ContainerEvent{
		containerEvent(0, "c1", "create"),
		containerEvent(time.Second, "c1", "start"),
		die,
	}
	cursor := batch[2].TimeNano

	inserted, err := b.store.InsertEvents(b.ctx, env.ID, batch, cursor)
	if err != nil || inserted != 3 {
		t.Fatalf("first InsertEvents = %d, %v; want 3", inserted, err)
	}
	// The same batch again (a retried activity) with an older cursor: nothing
	// new, and the cursor does not move back.
	inserted, err = b.store.InsertEvents(b.ctx, env.ID, batch, cursor-int64(time.Second))
	if err != nil || inserted != 0 {
		t.Fatalf("second InsertEvents = %d, %v; want 0", inserted, err)
	}
	if got, err := b.store.EventCursor(b.ctx, env.ID); err != nil || got != cursor {
		t.Fatalf("EventCursor = %d, %v; want %d", got, err, cursor)
	}
	// An overlapping batch stores only the new event.
	overlap := append(batch[1:], containerEvent(3*time.Second, "c1", "destroy"))
	inserted, err = b.store.InsertEvents(b.ctx, env.ID, overlap, eventBase+int64(3*time.Second))
	if err != nil || inserted != 1 {
		t.Fatalf("overlapping InsertEvents = %d, %v; want 1", inserted, err)
	}
	// A duplicate within one batch is stored once.
	twice := containerEvent(4*time.Second, "c2", "start")
	if inserted, err = b.store.InsertEvents(b.ctx, env.ID, []store.ContainerEvent{twice, twice}, 0); err != nil || inserted != 1 {
		t.Fatalf("InsertEvents of a doubled event = %d, %v; want 1", inserted, err)
	}
	if got, err := b.store.EventCursor(b.ctx, env.ID); err != nil || got != eventBase+int64(3*time.Second) {
		t.Fatalf("EventCursor after a batch without cursor = %d, %v; want it unchanged", got, err)
	}
	// An empty batch moves the cursor alone; cursor 0 is a no-op.
	if inserted, err = b.store.InsertEvents(b.ctx, env.ID, nil, eventBase+int64(time.Hour)); err != nil || inserted != 0 {
		t.Fatalf("InsertEvents(empty, cursor) = %d, %v", inserted, err)
	}
	if inserted, err = b.store.InsertEvents(b.ctx, env.ID, nil, 0); err != nil || inserted != 0 {
		t.Fatalf("InsertEvents(empty, 0) = %d, %v", inserted, err)
	}
	if got, err := b.store.EventCursor(b.ctx, env.ID); err != nil || got != eventBase+int64(time.Hour) {
		t.Fatalf("EventCursor = %d, %v; want +1h", got, err)
	}
	if n := b.count(t, "container_events"); n != 5 {
		t.Fatalf("container_events rows = %d, want 5", n)
	}

	// The rows read back as written.
	events, err := b.store.ListEvents(b.ctx, store.EventQuery{Action: "die"})
	if err != nil || len(events) != 1 {
		t.Fatalf("ListEvents(die) = %+v, %v", events, err)
	}
	got := events[0]
	if got.ID == 0 || got.EnvironmentID != env.ID || got.TimeNano != die.TimeNano ||
		!got.Time.Equal(time.Unix(0, die.TimeNano)) || got.Time.Location() != time.UTC ||
		!got.ReceivedAt.Equal(received) || got.ContainerID != "c1" || got.ContainerName != "name-c1" ||
		got.Image != "busybox:latest" || got.Action != "die" || got.ExitCode == nil || *got.ExitCode != 137 ||
		!maps.Equal(got.Attributes, die.Attributes) {
		t.Fatalf("stored die event = %+v (exit %v), want %+v", got, got.ExitCode, die)
	}
	start, err := b.store.ListEvents(b.ctx, store.EventQuery{Action: "start", ContainerID: "c1"})
	if err != nil || len(start) != 1 || start[0].ExitCode != nil || start[0].ReceivedAt.IsZero() {
		t.Fatalf("ListEvents(start) = %+v, %v; want one event without exit code, received now", start, err)
	}
}

func TestInsertEventsErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	valid := containerEvent(0, "c1", "start")

	without := func(modify func(*store.ContainerEvent)) []store.ContainerEvent {
		e := containerEvent(time.Second, "c1", "stop")
		modify(&e)
		return []store.ContainerEvent{valid, e}
	}
	tests := []struct {
		name   string
		env    uuid.UUID
		events []store.ContainerEvent
		cursor int64
		want   error
	}{
		{"unknown environment", unknownID, []store.ContainerEvent{valid}, 1, store.ErrNotFound},
		{"unknown environment, cursor only", unknownID, nil, 1, store.ErrNotFound},
		{"unknown environment, nothing", unknownID, nil, 0, store.ErrNotFound},
		{"no environment", uuid.Nil, []store.ContainerEvent{valid}, 1, store.ErrInvalid},
		{"negative cursor", env.ID, []store.ContainerEvent{valid}, -1, store.ErrInvalid},
		{"no time", env.ID, without(func(e *store.ContainerEvent) { e.TimeNano = 0 }), 1, store.ErrInvalid},
		{"no container", env.ID, without(func(e *store.ContainerEvent) { e.ContainerID = "" }), 1, store.ErrInvalid},
		{"no action", env.ID, without(func(e *store.ContainerEvent) { e.Action = "" }), 1, store.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inserted, err := b.store.InsertEvents(b.ctx, tt.env, tt.events, tt.cursor)
			if inserted != 0 || !errors.Is(err, tt.want) {
				t.Fatalf("InsertEvents = %d, %v; want 0, %v", inserted, err, tt.want)
			}
		})
	}
	if n := b.count(t, "container_events"); n != 0 {
		t.Fatalf("container_events rows = %d, want 0", n)
	}
	if n := b.count(t, "event_cursors"); n != 0 {
		t.Fatalf("event_cursors rows = %d, want 0", n)
	}

	// Time alone gives the TimeNano; text PostgreSQL cannot hold is cleaned.
	at := time.Unix(0, eventBase).UTC()
	odd := store.ContainerEvent{Time: at, ContainerID: "c\x001", Action: "start",
		Attributes: map[string]string{"label": "a\x00b\xff"}}
	if inserted, err := b.store.InsertEvents(b.ctx, env.ID, []store.ContainerEvent{odd}, 0); err != nil || inserted != 1 {
		t.Fatalf("InsertEvents(time only, odd text) = %d, %v", inserted, err)
	}
	events, err := b.store.ListEvents(b.ctx, store.EventQuery{})
	if err != nil || len(events) != 1 || events[0].TimeNano != eventBase ||
		events[0].ContainerID != "c1" || events[0].Attributes["label"] != "ab" {
		t.Fatalf("ListEvents = %+v, %v", events, err)
	}
}

func TestListEventsFilters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	other := b.createEnv(t, "other")

	long := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	events := []store.ContainerEvent{
		containerEvent(0, long, "create"),                               // 0
		containerEvent(time.Second, long, "start"),                      // 1
		containerEvent(2*time.Second, long, "health_status: healthy"),   // 2
		containerEvent(3*time.Second, "c2", "health_status: unhealthy"), // 3
		containerEvent(4*time.Second, "c2", "die"),                      // 4
		containerEvent(5*time.Second, "c2", "health_status_x"),          // 5, not a health_status
	}
	if _, err := b.store.InsertEvents(b.ctx, env.ID, events, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.InsertEvents(b.ctx, other.ID, []store.ContainerEvent{
		containerEvent(time.Second, long, "start"), // 6
	}, 0); err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) time.Time { return time.Unix(0, eventBase+int64(d)) }

	tests := []struct {
		name string
		q    store.EventQuery
		want []int // indexes into events (6 = other's), newest first
	}{
		{"all", store.EventQuery{}, []int{5, 4, 3, 2, 6, 1, 0}},
		{"environment", store.EventQuery{EnvironmentID: &env.ID}, []int{5, 4, 3, 2, 1, 0}},
		{"other environment", store.EventQuery{EnvironmentID: &other.ID}, []int{6}},
		{"container by ID", store.EventQuery{EnvironmentID: &env.ID, Container: long}, []int{2, 1, 0}},
		{"container by short ID", store.EventQuery{EnvironmentID: &env.ID, Container: long[:12]}, []int{2, 1, 0}},
		{"too short an ID prefix", store.EventQuery{Container: long[:11]}, nil},
		{"container by name", store.EventQuery{Container: "name-c2"}, []int{5, 4, 3}},
		{"ContainerID", store.EventQuery{ContainerID: "c2"}, []int{5, 4, 3}},
		{"ContainerName", store.EventQuery{ContainerName: "name-" + long}, []int{2, 6, 1, 0}},
		{"base action", store.EventQuery{Action: "health_status"}, []int{3, 2}},
		{"full action", store.EventQuery{Action: "health_status: healthy"}, []int{2}},
		{"plain action", store.EventQuery{Action: "start"}, []int{6, 1}},
		{"from", store.EventQuery{From: at(4 * time.Second)}, []int{5, 4}},
		{"to (exclusive)", store.EventQuery{To: at(time.Second)}, []int{0}},
		{"from and to", store.EventQuery{From: at(time.Second), To: at(3 * time.Second)}, []int{2, 6, 1}},
		{"far future", store.EventQuery{From: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, nil},
		{"limit", store.EventQuery{Limit: 2}, []int{5, 4}},
		{"combined", store.EventQuery{EnvironmentID: &env.ID, Container: "name-c2", Action: "die",
			From: at(time.Second)}, []int{4}},
	}
	// index identifies a stored event by its position in events (6 is other's).
	index := func(e store.ContainerEvent) int {
		if e.EnvironmentID == other.ID {
			return 6
		}
		return slices.IndexFunc(events, func(w store.ContainerEvent) bool {
			return w.TimeNano == e.TimeNano && w.ContainerID == e.ContainerID && w.Action == e.Action
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := b.store.ListEvents(b.ctx, tt.q)
			if err != nil {
				t.Fatalf("ListEvents: %v", err)
			}
			var gotIdx []int
			for _, e := range got {
				gotIdx = append(gotIdx, index(e))
			}
			if !slices.Equal(gotIdx, tt.want) {
				t.Fatalf("ListEvents = %v, want %v", gotIdx, tt.want)
			}
		})
	}
}

func TestListEventsPagination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")

	// 60 events in 20 instants: ties on TimeNano are ordered by ID.
	var batch []store.ContainerEvent
	for i := range 60 {
		batch = append(batch, containerEvent(time.Duration(i/3)*time.Millisecond, "c"+strconv.Itoa(i%3), "start"))
	}
	if n, err := b.store.InsertEvents(b.ctx, env.ID, batch, 0); err != nil || n != 60 {
		t.Fatalf("InsertEvents = %d, %v", n, err)
	}
	want, err := b.store.ListEvents(b.ctx, store.EventQuery{Limit: 1000})
	if err != nil || len(want) != 60 {
		t.Fatalf("ListEvents(all) = %d events, %v", len(want), err)
	}
	for i := 1; i < len(want); i++ {
		a, c := want[i-1], want[i]
		if a.TimeNano < c.TimeNano || (a.TimeNano == c.TimeNano && a.ID <= c.ID) {
			t.Fatalf("not newest first at %d: %+v then %+v", i, a, c)
		}
	}

	var (
		got    []store.ContainerEvent
		before *store.EventPosition
		pages  int
	)
	for {
		page, next, err := b.store.ListEventsPage(b.ctx, store.EventQuery{EnvironmentID: &env.ID, Before: before, Limit: 7})
		if err != nil {
			t.Fatalf("ListEventsPage: %v", err)
		}
		pages++
		got = append(got, page...)
		if pages == 2 {
			// New events arriving while paging do not shift the pages.
			late := []store.ContainerEvent{containerEvent(time.Hour, "late", "start"), containerEvent(time.Hour, "late", "die")}
			if _, err := b.store.InsertEvents(b.ctx, env.ID, late, 0); err != nil {
				t.Fatal(err)
			}
		}
		if next == nil {
			if len(page) == 0 {
				t.Fatal("an empty last page: the previous page should have had no next")
			}
			break
		}
		if len(page) != 7 || *next != (store.EventPosition{TimeNano: page[6].TimeNano, ID: page[6].ID}) {
			t.Fatalf("page %d: %d events, next %+v", pages, len(page), *next)
		}
		before = next
	}
	if pages != 9 {
		t.Fatalf("%d pages, want 9", pages)
	}
	if len(got) != len(want) {
		t.Fatalf("paged through %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID {
			t.Fatalf("event %d: ID %d, want %d", i, got[i].ID, want[i].ID)
		}
	}

	// The page size is clamped.
	for _, tt := range []struct{ limit, want int }{{0, 62}, {-5, 62}, {1, 1}, {100000, 62}} {
		page, err := b.store.ListEvents(b.ctx, store.EventQuery{Limit: tt.limit})
		if err != nil || len(page) != tt.want {
			t.Fatalf("ListEvents(limit %d) = %d events, %v; want %d", tt.limit, len(page), err, tt.want)
		}
	}
}

func TestListEventsLimitClamp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	var batch []store.ContainerEvent
	for i := range 501 {
		batch = append(batch, containerEvent(time.Duration(i), "c", "start"))
	}
	if n, err := b.store.InsertEvents(b.ctx, env.ID, batch, 0); err != nil || n != 501 {
		t.Fatalf("InsertEvents = %d, %v", n, err)
	}
	for _, tt := range []struct{ limit, want int }{{0, 100}, {500, 500}, {501, 500}} {
		page, next, err := b.store.ListEventsPage(b.ctx, store.EventQuery{Limit: tt.limit})
		if err != nil || len(page) != tt.want || next == nil {
			t.Fatalf("ListEventsPage(limit %d) = %d events, next %v, %v; want %d and a next page",
				tt.limit, len(page), next, err, tt.want)
		}
	}
}

func TestEventGaps(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	other := b.createEnv(t, "other")

	detected := time.Date(2025, 3, 14, 16, 0, 0, 0, time.UTC)
	gap := store.EventGap{EnvironmentID: env.ID, FromNano: 100, ToNano: 200, Reason: "engine restarted", DetectedAt: detected}
	if inserted, err := b.store.RecordGap(b.ctx, gap); err != nil || !inserted {
		t.Fatalf("first RecordGap = %v, %v", inserted, err)
	}
	if inserted, err := b.store.RecordGap(b.ctx, gap); err != nil || inserted {
		t.Fatalf("second RecordGap = %v, %v; want false", inserted, err)
	}
	later := store.EventGap{EnvironmentID: env.ID, FromNano: 300, ToNano: 400, Reason: "buffer"}
	if _, err := b.store.RecordGap(b.ctx, later); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.RecordGap(b.ctx, store.EventGap{EnvironmentID: other.ID, FromNano: 250, ToNano: 260}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.RecordGap(b.ctx, store.EventGap{EnvironmentID: unknownID, FromNano: 1, ToNano: 2}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RecordGap(unknown environment) error = %v, want ErrNotFound", err)
	}
	if _, err := b.store.RecordGap(b.ctx, store.EventGap{FromNano: 1, ToNano: 2}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("RecordGap(no environment) error = %v, want ErrInvalid", err)
	}

	gaps, err := b.store.ListGaps(b.ctx, &env.ID, 0)
	if err != nil || len(gaps) != 2 {
		t.Fatalf("ListGaps(env) = %+v, %v", gaps, err)
	}
	if g := gaps[1]; g.ID == 0 || g.EnvironmentID != env.ID || g.FromNano != 100 || g.ToNano != 200 ||
		g.Reason != "engine restarted" || !g.DetectedAt.Equal(detected) {
		t.Fatalf("stored gap = %+v, want %+v", g, gap)
	}
	if gaps[0].FromNano != 300 || gaps[0].DetectedAt.IsZero() {
		t.Fatalf("newest gap = %+v, want from 300 detected now", gaps[0])
	}
	all, err := b.store.ListGaps(b.ctx, nil, 2)
	if err != nil || len(all) != 2 || all[0].FromNano != 300 || all[1].FromNano != 250 {
		t.Fatalf("ListGaps(all, 2) = %+v, %v", all, err)
	}
	if none, err := b.store.ListGaps(b.ctx, &unknownID, 0); err != nil || none == nil || len(none) != 0 {
		t.Fatalf("ListGaps(unknown) = %#v, %v; want an empty slice", none, err)
	}
}

func TestDeleteEnvironmentCascadesToEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	keep := b.createEnv(t, "keep")

	for _, id := range []uuid.UUID{env.ID, keep.ID} {
		if _, err := b.store.InsertEvents(b.ctx, id, []store.ContainerEvent{containerEvent(0, "c", "start")}, eventBase); err != nil {
			t.Fatal(err)
		}
		if _, err := b.store.RecordGap(b.ctx, store.EventGap{EnvironmentID: id, FromNano: 1, ToNano: 2}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.store.DeleteEnvironment(b.ctx, env.ID); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"container_events", "event_cursors", "event_gaps"} {
		if n := b.count(t, table); n != 1 {
			t.Fatalf("%s rows after delete = %d, want only the other environment's", table, n)
		}
	}
	if c, err := b.store.EventCursor(b.ctx, env.ID); err != nil || c != 0 {
		t.Fatalf("EventCursor of a deleted environment = %d, %v; want 0", c, err)
	}
}

func TestEventsAndStatusAfterID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")

	for _, maxID := range []func() (int64, error){
		func() (int64, error) { return b.store.MaxEventID(b.ctx) },
		func() (int64, error) { return b.store.MaxStatusID(b.ctx) },
	} {
		if id, err := maxID(); err != nil || id != 0 {
			t.Fatalf("max id of an empty table = %d, %v", id, err)
		}
	}
	var batch []store.ContainerEvent
	for i := range 5 {
		batch = append(batch, containerEvent(time.Duration(5-i)*time.Second, "c", "start")) // out of time order
	}
	if _, err := b.store.InsertEvents(b.ctx, env.ID, batch, 0); err != nil {
		t.Fatal(err)
	}
	events, err := b.store.EventsAfterID(b.ctx, 0, 0)
	if err != nil || len(events) != 5 {
		t.Fatalf("EventsAfterID(0) = %d events, %v", len(events), err)
	}
	for i := 1; i < len(events); i++ {
		if events[i].ID <= events[i-1].ID || events[i].TimeNano <= events[i-1].TimeNano {
			t.Fatalf("EventsAfterID not in ID order, or a batch's IDs not in time order: %+v", events)
		}
	}
	maxID, err := b.store.MaxEventID(b.ctx)
	if err != nil || maxID != events[4].ID {
		t.Fatalf("MaxEventID = %d, %v; want %d", maxID, err, events[4].ID)
	}
	if after, err := b.store.EventsAfterID(b.ctx, events[1].ID, 2); err != nil || len(after) != 2 ||
		after[0].ID != events[2].ID || after[1].ID != events[3].ID {
		t.Fatalf("EventsAfterID(second, 2) = %+v, %v", after, err)
	}

	for i := range 3 {
		if _, _, err := b.store.RecordStatus(b.ctx, store.StatusChange{EnvironmentID: env.ID, Online: i%2 == 0,
			ChangedAt: baseTime.Add(time.Duration(i) * time.Minute)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	changes, err := b.store.StatusChangesAfterID(b.ctx, 0, 0)
	if err != nil || len(changes) != 3 || changes[0].ID == 0 || changes[0].EnvironmentID != env.ID ||
		!changes[0].Online || changes[1].Online || !changes[2].ChangedAt.Equal(baseTime.Add(2*time.Minute)) {
		t.Fatalf("StatusChangesAfterID(0) = %+v, %v", changes, err)
	}
	if after, err := b.store.StatusChangesAfterID(b.ctx, changes[0].ID, 1); err != nil || len(after) != 1 || after[0].ID != changes[1].ID {
		t.Fatalf("StatusChangesAfterID(first, 1) = %+v, %v", after, err)
	}
	if id, err := b.store.MaxStatusID(b.ctx); err != nil || id != changes[2].ID {
		t.Fatalf("MaxStatusID = %d, %v; want %d", id, err, changes[2].ID)
	}
	latest, err := b.store.LatestStatus(b.ctx, env.ID)
	if err != nil || latest.ID != changes[2].ID {
		t.Fatalf("LatestStatus = %+v, %v; want ID %d", latest, err, changes[2].ID)
	}
}

// openStore opens another Store on the test's schema with a pool of maxConns
// connections.
func (b *testBundle) openStore(t testing.TB, maxConns int) *store.Store {
	t.Helper()
	s, err := store.Open(b.ctx, b.url+"&pool_max_conns="+strconv.Itoa(maxConns))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// followAll reads events after *pos until nothing is left to read and
// nothing is held back (or the deadline passes), appending them to got.
func followAll(t *testing.T, ctx context.Context, s *store.Store, pos *store.StreamPosition, skip string, got *[]store.ContainerEvent) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		events, held, err := s.EventsAfter(ctx, store.FollowQuery{After: *pos, Skip: skip, Limit: 50})
		if err != nil {
			t.Fatalf("EventsAfter: %v", err)
		}
		for _, e := range events {
			*pos = store.StreamPosition{TxID: e.TxID, ID: e.ID}
		}
		*got = append(*got, events...)
		if len(events) == 50 {
			continue
		}
		if !held {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("rows still held back after 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ids returns the IDs of events.
func ids(events []store.ContainerEvent) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

// A transaction that inserted a row and is still open holds back the rows
// of every later transaction, even committed ones, until it ends: a
// follower never moves past a row that can still appear. A naive follower
// of "id > N" does skip it.
func TestFollowerWaitsForOlderTransactions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	slowEnv, fastEnv := b.createEnv(t, "slow"), b.createEnv(t, "fast")

	slow, err := b.store.Pool().Begin(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = slow.Rollback(context.WithoutCancel(b.ctx)) }()
	var slowEvent, slowStatus int64
	if err := slow.QueryRow(b.ctx, `
		INSERT INTO container_events (environment_id, time_nano, event_time, container_id, action)
		VALUES ($1, $2, now(), 'c', 'start') RETURNING id`, slowEnv.ID, eventBase).Scan(&slowEvent); err != nil {
		t.Fatal(err)
	}
	if err := slow.QueryRow(b.ctx, `
		INSERT INTO environment_status (environment_id, online, changed_at)
		VALUES ($1, true, now()) RETURNING id`, slowEnv.ID).Scan(&slowStatus); err != nil {
		t.Fatal(err)
	}
	// A later transaction commits a greater ID first.
	if _, err := b.store.InsertEvents(b.ctx, fastEnv.ID, []store.ContainerEvent{containerEvent(0, "f", "start")}, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.store.RecordStatus(b.ctx, store.StatusChange{EnvironmentID: fastEnv.ID, Online: true, ChangedAt: baseTime}, nil); err != nil {
		t.Fatal(err)
	}

	// The naive follower sees the greater ID and would move past the other.
	naive, err := b.store.EventsAfterID(b.ctx, 0, 0)
	if err != nil || len(naive) != 1 || naive[0].ID <= slowEvent {
		t.Fatalf("EventsAfterID(0) = %v, %v; want only the fast event, after %d", ids(naive), err, slowEvent)
	}
	// The follower gets nothing yet, and is told rows are held back.
	events, held, err := b.store.EventsAfter(b.ctx, store.FollowQuery{})
	if err != nil || len(events) != 0 || !held {
		t.Fatalf("EventsAfter while an older transaction is open = %v, held %t, %v; want none, held", ids(events), held, err)
	}
	changes, held, err := b.store.StatusChangesAfter(b.ctx, store.FollowQuery{})
	if err != nil || len(changes) != 0 || !held {
		t.Fatalf("StatusChangesAfter while an older transaction is open = %+v, held %t, %v; want none, held", changes, held, err)
	}

	if err := slow.Commit(b.ctx); err != nil {
		t.Fatal(err)
	}
	var (
		pos store.StreamPosition
		got []store.ContainerEvent
	)
	followAll(t, b.ctx, b.store, &pos, "", &got)
	if len(got) != 2 || got[0].ID != slowEvent || got[1].ID != naive[0].ID || got[0].TxID >= got[1].TxID {
		t.Fatalf("EventsAfter after the commit = %+v; want the slow event, then the fast one", got)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		changes, held, err = b.store.StatusChangesAfter(b.ctx, store.FollowQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if !held || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(changes) != 2 || changes[0].ID != slowStatus || changes[0].TxID != got[0].TxID || changes[1].TxID <= got[1].TxID {
		t.Fatalf("StatusChangesAfter after the commit = %+v", changes)
	}
	// Past the last row: nothing more.
	if after, held, err := b.store.StatusChangesAfter(b.ctx, store.FollowQuery{
		After: store.StreamPosition{TxID: changes[1].TxID, ID: changes[1].ID}}); err != nil || len(after) != 0 || held {
		t.Fatalf("StatusChangesAfter(last) = %+v, %t, %v", after, held, err)
	}
}

// A follower that starts at StreamHead gets the rows of transactions that
// were still running then, and not those already committed, even when they
// come later in follow order.
func TestStreamHeadSkipsWhatWasStoredBefore(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	if _, err := b.store.InsertEvents(b.ctx, env.ID, []store.ContainerEvent{containerEvent(0, "c", "old")}, 0); err != nil {
		t.Fatal(err)
	}
	running, err := b.store.Pool().Begin(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = running.Rollback(context.WithoutCancel(b.ctx)) }()
	var runningID int64
	if err := running.QueryRow(b.ctx, `
		INSERT INTO container_events (environment_id, time_nano, event_time, container_id, action)
		VALUES ($1, $2, now(), 'c', 'running') RETURNING id`, env.ID, eventBase+1).Scan(&runningID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.InsertEvents(b.ctx, env.ID, []store.ContainerEvent{containerEvent(2, "c", "committed")}, 0); err != nil {
		t.Fatal(err)
	}
	head, err := b.store.StreamHead(b.ctx)
	if err != nil || head.Snapshot == "" || head.Position.ID != 0 {
		t.Fatalf("StreamHead with a transaction running = %+v, %v; want a snapshot", head, err)
	}
	if err := running.Commit(b.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.InsertEvents(b.ctx, env.ID, []store.ContainerEvent{containerEvent(3, "c", "new")}, 0); err != nil {
		t.Fatal(err)
	}
	pos := head.Position
	var got []store.ContainerEvent
	followAll(t, b.ctx, b.store, &pos, head.Snapshot, &got)
	if len(got) != 2 || got[0].ID != runningID || got[1].Action != "new" {
		t.Fatalf("events after the head = %+v; want the one still running at the head, then the new one", got)
	}

	// With no transaction running, the head needs no snapshot... unless
	// another test of the cluster runs one: then it is only a skip list.
	head, err = b.store.StreamHead(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	pos = head.Position
	got = nil
	followAll(t, b.ctx, b.store, &pos, head.Snapshot, &got)
	if len(got) != 0 {
		t.Fatalf("events after a fresh head = %+v; want none", got)
	}
}

// The stream's former cursor, "every row with an ID greater than N", is
// translated into a position that skips none of them.
func TestPositionAfterID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	for i := range 4 {
		if _, err := b.store.InsertEvents(b.ctx, env.ID, []store.ContainerEvent{containerEvent(time.Duration(i), "c", "start")}, 0); err != nil {
			t.Fatal(err)
		}
	}
	all, err := b.store.EventsAfterID(b.ctx, 0, 0)
	if err != nil || len(all) != 4 {
		t.Fatalf("EventsAfterID = %v, %v", ids(all), err)
	}
	// The first two as if stored before migration 00007 (tx_id 0).
	if _, err := b.store.Pool().Exec(b.ctx, `UPDATE container_events SET tx_id = '0' WHERE id <= $1`, all[1].ID); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		after int64
		want  []int64
	}{
		{0, ids(all)},
		{all[0].ID, ids(all[1:])},
		{all[1].ID, ids(all[2:])},
		{all[2].ID, ids(all[3:])},
		{all[3].ID, nil},
		{all[3].ID + 100, nil},
	} {
		pos, err := b.store.EventPositionAfterID(b.ctx, tt.after)
		if err != nil {
			t.Fatal(err)
		}
		var got []store.ContainerEvent
		followAll(t, b.ctx, b.store, &pos, "", &got)
		if !slices.Equal(ids(got), tt.want) {
			t.Fatalf("after ID %d: got %v, want %v", tt.after, ids(got), tt.want)
		}
	}
	// A position past every row still gets what is stored next.
	pos, err := b.store.EventPositionAfterID(b.ctx, all[3].ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.InsertEvents(b.ctx, env.ID, []store.ContainerEvent{containerEvent(time.Minute, "c", "die")}, 0); err != nil {
		t.Fatal(err)
	}
	var got []store.ContainerEvent
	followAll(t, b.ctx, b.store, &pos, "", &got)
	if len(got) != 1 || got[0].Action != "die" {
		t.Fatalf("after the last ID, then a new event: %+v", got)
	}

	if _, _, err := b.store.RecordStatus(b.ctx, store.StatusChange{EnvironmentID: env.ID, ChangedAt: baseTime}, nil); err != nil {
		t.Fatal(err)
	}
	sp, err := b.store.StatusPositionAfterID(b.ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		changes, held, err := b.store.StatusChangesAfter(b.ctx, store.FollowQuery{After: sp})
		if err != nil || len(changes) > 1 || (len(changes) == 0 && !held) {
			t.Fatalf("status changes after ID 0 = %+v, %t, %v", changes, held, err)
		}
		if len(changes) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the status change is still held back after 20s")
		}
		time.Sleep(10 * time.Millisecond) // another test's transaction holds it back
	}
}

// Many environments write concurrently, some of them keeping their
// transaction open after the insert, while a follower reads with
// EventsAfter: it sees every event exactly once, in follow order. A naive
// follower of "id > N" reading alongside skips events, which shows that the
// writes do commit out of ID order (the test would catch a follower that
// relied on IDs).
func TestFollowerMissesNothingUnderConcurrentWrites(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const (
		fastWriters, fastBatches = 12, 20
		slowWriters, slowBatches = 4, 5
		perBatch                 = 3
	)
	s := b.openStore(t, fastWriters+slowWriters+4)
	envs := make([]store.Environment, fastWriters+slowWriters)
	for i := range envs {
		envs[i] = b.createEnv(t, fmt.Sprintf("env-%d", i))
	}

	// The naive follower publishes the greatest ID it saw; a slow writer
	// keeps its transaction open (inside the store's write, after the
	// insert) until that ID is past its own, or a while.
	var naiveMax atomic.Int64
	hold := func(e store.ContainerEvent, _ []store.ContainerEvent) []store.NotificationDraft {
		deadline := time.Now().Add(300 * time.Millisecond)
		for naiveMax.Load() <= e.ID && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		return nil
	}

	ctx := b.ctx
	var writers sync.WaitGroup
	errs := make(chan error, len(envs))
	for w := range envs {
		writers.Go(func() {
			slow := w >= fastWriters
			batches := fastBatches
			var derive store.EventDeriver
			if slow {
				batches, derive = slowBatches, hold
			}
			for i := range batches {
				var batch []store.ContainerEvent
				for j := range perBatch {
					batch = append(batch, containerEvent(time.Duration(i*perBatch+j), "c", "start"))
				}
				if slow {
					batch = batch[:1] // derive holds once per event
				}
				if _, _, err := s.InsertEventsNotify(ctx, envs[w].ID, batch, 0, derive); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { writers.Wait(); close(done) }()

	// The naive follower.
	naiveSeen := map[int64]bool{}
	naiveDone := make(chan struct{})
	go func() {
		defer close(naiveDone)
		var cursor int64
		for finished := false; !finished; {
			select {
			case <-done:
				finished = true
			default:
			}
			events, err := s.EventsAfterID(ctx, cursor, 500)
			if err != nil {
				errs <- err
				return
			}
			for _, e := range events {
				naiveSeen[e.ID] = true
				cursor = e.ID
			}
			naiveMax.Store(cursor)
			time.Sleep(time.Millisecond)
		}
	}()

	// The follower.
	var (
		pos  store.StreamPosition
		got  []store.ContainerEvent
		held int
	)
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		events, h, err := s.EventsAfter(ctx, store.FollowQuery{After: pos, Limit: 50})
		if err != nil {
			t.Fatalf("EventsAfter: %v", err)
		}
		if h {
			held++
		}
		for _, e := range events {
			next := store.StreamPosition{TxID: e.TxID, ID: e.ID}
			if !pos.Less(next) {
				t.Fatalf("EventsAfter went back: %+v after %+v", next, pos)
			}
			pos = next
		}
		got = append(got, events...)
		if len(events) < 50 {
			time.Sleep(time.Millisecond)
		}
	}
	followAll(t, ctx, s, &pos, "", &got)
	<-naiveDone
	close(errs)
	for err := range errs {
		t.Fatalf("writer or naive follower: %v", err)
	}

	// Every event exactly once, in the database's (tx_id, id) order.
	rows, err := s.Pool().Query(ctx, `SELECT id FROM container_events ORDER BY tx_id, id`)
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n := fastWriters*fastBatches*perBatch + slowWriters*slowBatches; len(want) != n {
		t.Fatalf("%d events stored, want %d", len(want), n)
	}
	if !slices.Equal(ids(got), want) {
		t.Fatalf("the follower saw %d events (%d distinct), want %d in (tx_id, id) order",
			len(got), len(slices.Compact(slices.Sorted(slices.Values(ids(got))))), len(want))
	}
	missed := len(want) - len(naiveSeen)
	t.Logf("%d events; the follower read while rows were held back %d times; the naive id > N follower missed %d", len(want), held, missed)
	if missed == 0 {
		t.Fatal("the naive follower missed nothing: the writes did not commit out of ID order, so this test proves nothing")
	}
}

// Rows stored before migration 00007 get tx_id 0 (first in follow order, in
// ID order); later rows take their transaction's ID.
func TestAppendTxMigration(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	if _, err := b.store.InsertEvents(b.ctx, env.ID, []store.ContainerEvent{containerEvent(0, "c", "start")}, 0); err != nil {
		t.Fatal(err)
	}
	var txID, current uint64
	if err := b.store.Pool().QueryRow(b.ctx, `SELECT tx_id, pg_snapshot_xmax(pg_current_snapshot()) FROM container_events`).Scan(&txID, &current); err != nil {
		t.Fatal(err)
	}
	if txID == 0 || txID >= current {
		t.Fatalf("tx_id of a new row = %d (next transaction %d)", txID, current)
	}
	rows, _ := b.store.Pool().Query(b.ctx, `
		SELECT table_name || '.' || column_default FROM information_schema.columns
		WHERE table_schema = current_schema() AND column_name = 'tx_id' ORDER BY table_name`)
	defaults, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || !slices.Equal(defaults, []string{
		"container_events.pg_current_xact_id()", "environment_status.pg_current_xact_id()"}) {
		t.Fatalf("tx_id defaults = %v, %v", defaults, err)
	}
}

// Concurrent event writes of 50 environments, each flushing batches of 5
// events: the cost of one flush (ns/op) and the flushes' p99 latency.
func BenchmarkInsertEvents50Environments(b *testing.B) {
	bb := setup(b)
	const envCount, perBatch = 50, 5
	s := bb.openStore(b, envCount+5)
	envs := make([]store.Environment, envCount)
	for i := range envs {
		e, err := s.CreateEnvironment(bb.ctx, validEnvironment(fmt.Sprintf("bench-%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		envs[i] = e
	}
	var (
		next      atomic.Int64
		mu        sync.Mutex
		latencies []time.Duration
	)
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := range envCount {
		wg.Go(func() {
			var mine []time.Duration
			for i := 0; ; i++ {
				if next.Add(1) > int64(b.N) {
					break
				}
				batch := make([]store.ContainerEvent, perBatch)
				for j := range batch {
					batch[j] = containerEvent(time.Duration(i*perBatch+j), "c", "start")
				}
				start := time.Now()
				if _, err := s.InsertEvents(bb.ctx, envs[w].ID, batch, eventBase+int64(i)); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(latencies)
	if len(latencies) > 0 {
		b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms/flush")
		b.ReportMetric(float64(len(latencies)*perBatch)/b.Elapsed().Seconds(), "events/s")
	}
}

// A follower that gives its own horizon (an earlier StreamHead's) reads
// below it, not below the statement's: a row committed after that horizon
// was taken, while an older transaction ran, stays held although the older
// transaction has ended since — so that a follower reading two tables below
// one horizon never delivers a later row of one before an earlier row of
// the other.
func TestFollowerReadsBelowTheGivenHorizon(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	older, err := b.store.Pool().Begin(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = older.Rollback(context.WithoutCancel(b.ctx)) }()
	if _, err := older.Exec(b.ctx, `SELECT pg_current_xact_id()`); err != nil { // it gets a transaction ID
		t.Fatal(err)
	}
	head, err := b.store.StreamHead(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.InsertEvents(b.ctx, env.ID, []store.ContainerEvent{containerEvent(0, "c", "start")}, 0); err != nil {
		t.Fatal(err)
	}
	if err := older.Rollback(b.ctx); err != nil {
		t.Fatal(err)
	}
	after := store.StreamPosition{TxID: head.Position.TxID}
	events, held, err := b.store.EventsAfter(b.ctx, store.FollowQuery{After: after, Horizon: head.Position.TxID})
	if err != nil || len(events) != 0 || !held {
		t.Fatalf("EventsAfter below the given horizon = %v, held %t, %v; want none, held", ids(events), held, err)
	}
	// Below the statement's own horizon, once nothing older runs, it comes
	// (another test's transaction may hold the cluster's horizon a while).
	deadline := time.Now().Add(20 * time.Second)
	for {
		events, _, err = b.store.EventsAfter(b.ctx, store.FollowQuery{After: after})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(events) != 1 {
		t.Fatalf("EventsAfter below the statement's horizon = %v; want the event", ids(events))
	}
}

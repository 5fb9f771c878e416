package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ContainerEvent is one container event of an engine, stored once: its
// identity is (EnvironmentID, TimeNano, ContainerID, Action).
type ContainerEvent struct {
	// ID is set by the database; it grows in the order events are
	// inserted, which is not the order their transactions commit in.
	ID int64
	// TxID is the transaction that stored the event: (TxID, ID) is its
	// place in follow order (StreamPosition). Only EventsAfter sets it.
	TxID uint64
	// EnvironmentID is the engine's environment. InsertEvents sets it.
	EnvironmentID uuid.UUID
	// TimeNano is the event's time on the engine's clock, Unix nanoseconds.
	TimeNano int64
	// Time is TimeNano as a time (UTC when read). On insert a zero TimeNano
	// is taken from Time; Time itself is not stored apart from TimeNano.
	Time time.Time
	// ReceivedAt is when the event was read from the engine; now when zero.
	ReceivedAt time.Time
	// ContainerID is the full container ID, never empty.
	ContainerID string
	// ContainerName is the container's name without the leading slash.
	ContainerName string
	// Image is the container's image as the engine reports it.
	Image string
	// Action is the engine's action, suffix included
	// ("health_status: unhealthy"), never empty.
	Action string
	// Attributes are the actor's attributes (labels, name, image, exitCode…).
	Attributes map[string]string
	// ExitCode is the exit code of a die event, nil otherwise.
	ExitCode *int
}

// EventGap is a span of engine time whose events could not be read any more:
// the engine's replay buffer no longer reached back to the cursor, or the
// engine restarted and forgot its events.
type EventGap struct {
	// ID is set by the database.
	ID int64
	// EnvironmentID is the engine's environment.
	EnvironmentID uuid.UUID
	// FromNano and ToNano bound the span (engine clock, Unix nanoseconds);
	// the pair identifies the gap.
	FromNano, ToNano int64
	// Reason says why the events are missing.
	Reason string
	// DetectedAt is when the gap was found; now when zero.
	DetectedAt time.Time
}

// EventPosition is a place in the newest-first order of events, the cursor
// of a page.
type EventPosition struct {
	TimeNano, ID int64
}

// EventQuery selects stored events. Zero fields do not filter.
type EventQuery struct {
	// EnvironmentID keeps the events of one environment.
	EnvironmentID *uuid.UUID
	// Container keeps the events of a container given by full ID, by an ID
	// prefix of at least 12 characters (the short ID), or by name.
	Container string
	// ContainerID keeps the events of the container with this full ID.
	ContainerID string
	// ContainerName keeps the events of containers with this name.
	ContainerName string
	// Action keeps the events with this action or this base action:
	// "health_status" matches "health_status: healthy".
	Action string
	// From and To keep the events with From <= time < To.
	From, To time.Time
	// Before keeps the events strictly before this position (the next page).
	Before *EventPosition
	// Limit is the page size, clamped to 1..500; 0 means 100.
	Limit int
}

// Limits of a page of events or gaps.
const (
	defaultPageSize = 100
	maxPageSize     = 500
	// shortIDLength is the length of the short container ID the engine's
	// CLI shows; shorter prefixes are not matched.
	shortIDLength = 12
)

// clampLimit returns limit within 1..maxPageSize, defaultPageSize for 0 or less.
func clampLimit(limit int) int {
	if limit <= 0 {
		return defaultPageSize
	}
	return min(limit, maxPageSize)
}

// InsertEvents stores a batch of events of one environment and raises the
// environment's stored cursor to cursor, in one transaction: the cursor never
// claims events that are not stored. Events already stored (same identity)
// are skipped, so a resumed read may overlap freely; inserted is the number
// of new rows. The cursor only moves forward (GREATEST); cursor 0 leaves it
// alone, and an empty batch with a cursor only moves the cursor. An unknown
// environment gives ErrNotFound; an event without TimeNano (and Time),
// ContainerID or Action gives ErrInvalid and nothing is written.
//
// NUL bytes and invalid UTF-8, which PostgreSQL text cannot hold, are dropped
// from the strings, so one odd attribute cannot block the stream forever.
//
// InsertEvents is InsertEventsNotify without notifications.
func (s *Store) InsertEvents(ctx context.Context, envID uuid.UUID, events []ContainerEvent, cursor int64) (inserted int, err error) {
	inserted, _, err = s.InsertEventsNotify(ctx, envID, events, cursor, nil)
	return inserted, err
}

// RecentEventsWindow is how far back the recent events given to an
// EventDeriver reach.
const RecentEventsWindow = 60 * time.Second

// EventDeriver returns the notifications an event causes, given the events
// of the same container and environment stored in the RecentEventsWindow
// before it (time_nano in [e.TimeNano-60s, e.TimeNano)), oldest first. It
// runs inside the writing transaction and must be a quick, pure function.
type EventDeriver func(e ContainerEvent, recent []ContainerEvent) []NotificationDraft

// InsertEventsNotify is InsertEvents that also creates, in the same
// transaction, the notifications derive returns for the NEWLY inserted
// events (an event already stored is never derived again, so a retried or
// overlapping batch notifies once). derive sees each new event as stored (ID,
// EnvironmentID set) and its recent events, whether stored before or earlier
// in this batch; nil derive creates no notification. Drafts without Kind are
// skipped, so that a classification bug never blocks event ingestion. A draft's default cause
// key is "event:<env>:<timeNano>:<containerID>:<action>". notificationIDs
// are the IDs of the notifications created, for the caller to start their
// delivery after the commit.
func (s *Store) InsertEventsNotify(ctx context.Context, envID uuid.UUID, events []ContainerEvent, cursor int64, derive EventDeriver) (inserted int, notificationIDs []int64, err error) {
	if envID == uuid.Nil {
		return 0, nil, fmt.Errorf("store: insert events: %w: no environment ID", ErrInvalid)
	}
	if cursor < 0 {
		return 0, nil, fmt.Errorf("store: insert events: %w: negative cursor %d", ErrInvalid, cursor)
	}
	rows, err := eventRows(events)
	if err != nil {
		return 0, nil, fmt.Errorf("store: insert events: %w", err)
	}
	write := func(tx pgx.Tx) error {
		inserted, notificationIDs = 0, nil // a retried transaction starts over
		if len(events) > 0 {
			idRows, _ := tx.Query(ctx, `
				INSERT INTO container_events (environment_id, time_nano, event_time, received_at,
					container_id, container_name, image, action, attributes, exit_code)
				SELECT $1, u.time_nano, u.event_time, coalesce(u.received_at, now()),
					u.container_id, u.container_name, u.image, u.action, u.attributes::jsonb, u.exit_code
				FROM unnest($2::bigint[], $3::timestamptz[], $4::timestamptz[], $5::text[], $6::text[],
					$7::text[], $8::text[], $9::text[], $10::int4[])
					WITH ORDINALITY AS u(time_nano, event_time, received_at, container_id, container_name,
						image, action, attributes, exit_code, ord)
				ORDER BY u.ord
				ON CONFLICT (environment_id, time_nano, container_id, action) DO NOTHING
				RETURNING id`,
				envID, rows.timeNano, rows.eventTime, rows.receivedAt, rows.containerID, rows.containerName,
				rows.image, rows.action, rows.attributes, rows.exitCode)
			ids, err := pgx.CollectRows(idRows, pgx.RowTo[int64])
			if err != nil {
				return err
			}
			inserted = len(ids)
			if derive != nil && len(ids) > 0 {
				if notificationIDs, err = deriveNotifications(ctx, tx, envID, ids, derive); err != nil {
					return err
				}
			}
		}
		if cursor > 0 {
			if _, err := tx.Exec(ctx, `
				INSERT INTO event_cursors (environment_id, cursor_nano) VALUES ($1, $2)
				ON CONFLICT (environment_id) DO UPDATE SET
					cursor_nano = GREATEST(event_cursors.cursor_nano, EXCLUDED.cursor_nano),
					updated_at = now()`,
				envID, cursor); err != nil {
				return err
			}
		}
		if len(events) == 0 && cursor == 0 {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM environments WHERE id = $1)`, envID).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return fmt.Errorf("environment %s: %w", envID, ErrNotFound)
			}
		}
		return nil
	}
	// No lock: followers read in (tx_id, id) order below the horizon (see
	// StreamPosition), so concurrent writers of every environment proceed
	// side by side. ctx bounds the whole write: a canceled or expired ctx
	// interrupts it and the transaction rolls back.
	if err = pgx.BeginFunc(ctx, s.pool, write); err != nil {
		return 0, nil, wrapWriteError("insert events", err)
	}
	return inserted, notificationIDs, nil
}

// deriveNotifications runs derive, in tx, on the events just inserted (ids)
// with their recent events, and creates the notifications it returns.
func deriveNotifications(ctx context.Context, tx pgx.Tx, envID uuid.UUID, ids []int64, derive EventDeriver) ([]int64, error) {
	// The new events, then every event of their containers from the
	// window before the oldest to the newest: one read for the batch.
	rows, _ := tx.Query(ctx, `SELECT `+containerEventColumns+` FROM container_events WHERE id = ANY ($1)`, ids)
	fresh, err := pgx.CollectRows(rows, scanContainerEvent)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(fresh, func(a, b ContainerEvent) int {
		return cmp.Or(cmp.Compare(a.TimeNano, b.TimeNano),
			strings.Compare(a.ContainerID, b.ContainerID), strings.Compare(a.Action, b.Action))
	})
	containers := make([]string, 0, len(fresh))
	minTime, maxTime := fresh[0].TimeNano, fresh[0].TimeNano
	for _, e := range fresh {
		if !slices.Contains(containers, e.ContainerID) {
			containers = append(containers, e.ContainerID)
		}
		minTime, maxTime = min(minTime, e.TimeNano), max(maxTime, e.TimeNano)
	}
	window := int64(RecentEventsWindow)
	from := minTime - window
	if from > minTime { // overflow
		from = math.MinInt64
	}
	rows, _ = tx.Query(ctx, `
		SELECT `+containerEventColumns+`
		FROM container_events
		WHERE environment_id = $1 AND container_id = ANY ($2) AND time_nano >= $3 AND time_nano < $4
		ORDER BY time_nano, id`,
		envID, containers, from, maxTime)
	around, err := pgx.CollectRows(rows, scanContainerEvent)
	if err != nil {
		return nil, err
	}
	byContainer := make(map[string][]ContainerEvent, len(containers))
	for _, e := range around {
		byContainer[e.ContainerID] = append(byContainer[e.ContainerID], e)
	}

	env := envID
	var drafts []draftRow
	for _, e := range fresh {
		history := byContainer[e.ContainerID]
		lo, _ := slices.BinarySearchFunc(history, e.TimeNano-window, func(h ContainerEvent, t int64) int {
			return cmp.Compare(h.TimeNano, t)
		})
		hi, _ := slices.BinarySearchFunc(history, e.TimeNano, func(h ContainerEvent, t int64) int {
			return cmp.Compare(h.TimeNano, t)
		})
		recent := slices.Clone(history[lo:hi])
		if strings.HasPrefix(e.Action, "health_status") && !slices.ContainsFunc(recent, isHealthEvent) {
			// A recovery is judged against the previous health event,
			// however old: prepend it.
			prev, err := previousHealthEvent(ctx, tx, envID, e)
			if err != nil {
				return nil, err
			}
			if prev != nil {
				recent = append([]ContainerEvent{*prev}, recent...)
			}
		}
		key := fmt.Sprintf("event:%s:%d:%s:%s", envID, e.TimeNano, e.ContainerID, e.Action)
		for _, d := range derive(e, recent) {
			row, err := newDraftRow(&env, d, key)
			if err != nil {
				// A draft without kind cannot be delivered; it must not
				// block the ingestion of the events either.
				continue
			}
			drafts = append(drafts, row)
		}
	}
	return insertNotifications(ctx, tx, drafts)
}

// eventColumns are the columns of a batch, as arrays for unnest.
type eventColumns struct {
	timeNano                                              []int64
	eventTime                                             []time.Time
	receivedAt                                            []*time.Time
	containerID, containerName, image, action, attributes []string
	exitCode                                              []*int32
}

// eventRows validates a batch and turns it into columns, sorted by identity
// so that concurrent writers of overlapping batches lock rows in the same
// order, and so that ids follow engine time within a batch.
func eventRows(events []ContainerEvent) (eventColumns, error) {
	sorted := make([]ContainerEvent, 0, len(events))
	for i, e := range events {
		if e.TimeNano == 0 && !e.Time.IsZero() {
			e.TimeNano = e.Time.UnixNano()
		}
		e.ContainerID = cleanText(e.ContainerID)
		e.Action = cleanText(e.Action)
		switch {
		case e.TimeNano <= 0:
			return eventColumns{}, fmt.Errorf("%w: event %d has no time", ErrInvalid, i)
		case e.ContainerID == "":
			return eventColumns{}, fmt.Errorf("%w: event %d has no container ID", ErrInvalid, i)
		case e.Action == "":
			return eventColumns{}, fmt.Errorf("%w: event %d has no action", ErrInvalid, i)
		}
		if e.ExitCode != nil && (*e.ExitCode < math.MinInt32 || *e.ExitCode > math.MaxInt32) {
			return eventColumns{}, fmt.Errorf("%w: event %d has exit code %d", ErrInvalid, i, *e.ExitCode)
		}
		sorted = append(sorted, e)
	}
	slices.SortStableFunc(sorted, func(a, b ContainerEvent) int {
		return cmp.Or(cmp.Compare(a.TimeNano, b.TimeNano),
			strings.Compare(a.ContainerID, b.ContainerID), strings.Compare(a.Action, b.Action))
	})
	var c eventColumns
	for _, e := range sorted {
		attrs := make(map[string]string, len(e.Attributes))
		for k, v := range e.Attributes {
			attrs[cleanText(k)] = cleanText(v)
		}
		raw, err := json.Marshal(attrs)
		if err != nil {
			return eventColumns{}, fmt.Errorf("encode attributes: %w", err)
		}
		var received *time.Time
		if !e.ReceivedAt.IsZero() {
			received = &e.ReceivedAt
		}
		var exit *int32
		if e.ExitCode != nil {
			code := int32(*e.ExitCode)
			exit = &code
		}
		c.timeNano = append(c.timeNano, e.TimeNano)
		c.eventTime = append(c.eventTime, time.Unix(0, e.TimeNano).UTC())
		c.receivedAt = append(c.receivedAt, received)
		c.containerID = append(c.containerID, e.ContainerID)
		c.containerName = append(c.containerName, cleanText(strings.TrimPrefix(e.ContainerName, "/")))
		c.image = append(c.image, cleanText(e.Image))
		c.action = append(c.action, e.Action)
		c.attributes = append(c.attributes, string(raw))
		c.exitCode = append(c.exitCode, exit)
	}
	return c, nil
}

// cleanText drops what PostgreSQL text and jsonb cannot hold: NUL bytes and
// invalid UTF-8.
func cleanText(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "")
}

// EventCursor returns the environment's stored event cursor: the engine time
// up to which every event has been read and stored; 0 when none is stored.
func (s *Store) EventCursor(ctx context.Context, envID uuid.UUID) (int64, error) {
	var cursor int64
	err := s.pool.QueryRow(ctx, `SELECT cursor_nano FROM event_cursors WHERE environment_id = $1`, envID).Scan(&cursor)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: event cursor of %s: %w", envID, err)
	}
	return cursor, nil
}

// RecordGap stores a gap. When the gap (EnvironmentID, FromNano, ToNano) is
// already stored nothing is written and inserted is false. An unknown
// environment gives ErrNotFound.
func (s *Store) RecordGap(ctx context.Context, g EventGap) (inserted bool, err error) {
	if g.EnvironmentID == uuid.Nil {
		return false, fmt.Errorf("store: record gap: %w: no environment ID", ErrInvalid)
	}
	var detected *time.Time
	if !g.DetectedAt.IsZero() {
		detected = &g.DetectedAt
	}
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO event_gaps (environment_id, from_nano, to_nano, reason, detected_at)
		VALUES ($1, $2, $3, $4, coalesce($5, now()))
		ON CONFLICT (environment_id, from_nano, to_nano) DO NOTHING`,
		g.EnvironmentID, g.FromNano, g.ToNano, cleanText(g.Reason), detected)
	if err != nil {
		return false, wrapWriteError("record gap", err)
	}
	return tag.RowsAffected() == 1, nil
}

// ListGaps returns up to limit gaps, of one environment or (envID nil) of
// all, newest first by FromNano. limit is clamped to 1..500 (0 means 100).
func (s *Store) ListGaps(ctx context.Context, envID *uuid.UUID, limit int) ([]EventGap, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT id, environment_id, from_nano, to_nano, reason, detected_at
		FROM event_gaps
		WHERE $1::uuid IS NULL OR environment_id = $1
		ORDER BY from_nano DESC, id DESC
		LIMIT $2`,
		envID, clampLimit(limit))
	gaps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (EventGap, error) {
		var g EventGap
		err := row.Scan(&g.ID, &g.EnvironmentID, &g.FromNano, &g.ToNano, &g.Reason, &g.DetectedAt)
		g.DetectedAt = g.DetectedAt.UTC()
		return g, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: list gaps: %w", err)
	}
	return gaps, nil
}

// containerEventColumns are the columns read by scanContainerEvent.
const containerEventColumns = `id, environment_id, time_nano, received_at, container_id,
	container_name, image, action, attributes, exit_code`

// scanContainerEvent reads one row selected with containerEventColumns.
func scanContainerEvent(row pgx.CollectableRow) (ContainerEvent, error) {
	return scanContainerEventAfter(row)
}

// scanFollowedEvent reads one row selected with tx_id, then
// containerEventColumns.
func scanFollowedEvent(row pgx.CollectableRow) (ContainerEvent, error) {
	var txID uint64
	e, err := scanContainerEventAfter(row, &txID)
	e.TxID = txID
	return e, err
}

// scanContainerEventAfter reads one row selected with the columns of first,
// then containerEventColumns.
func scanContainerEventAfter(row pgx.CollectableRow, first ...any) (ContainerEvent, error) {
	var (
		e    ContainerEvent
		exit *int32
	)
	err := row.Scan(append(first, &e.ID, &e.EnvironmentID, &e.TimeNano, &e.ReceivedAt, &e.ContainerID,
		&e.ContainerName, &e.Image, &e.Action, &e.Attributes, &exit)...)
	if err != nil {
		return ContainerEvent{}, err
	}
	e.Time = time.Unix(0, e.TimeNano).UTC()
	e.ReceivedAt = e.ReceivedAt.UTC()
	if e.Attributes == nil {
		e.Attributes = map[string]string{}
	}
	if exit != nil {
		code := int(*exit)
		e.ExitCode = &code
	}
	return e, nil
}

// ListEvents returns the events q selects, newest first by (TimeNano, ID).
// Page with q.Before set to the position of the last event of a page: no
// event is returned twice and none is skipped, even while events arrive.
func (s *Store) ListEvents(ctx context.Context, q EventQuery) ([]ContainerEvent, error) {
	events, _, err := s.ListEventsPage(ctx, q)
	return events, err
}

// ListEventsPage is ListEvents that also tells whether more events follow:
// next is the position to pass as Before for the next page, nil on the last
// page.
func (s *Store) ListEventsPage(ctx context.Context, q EventQuery) (events []ContainerEvent, next *EventPosition, err error) {
	limit := clampLimit(q.Limit)
	var conds filters
	arg := conds.arg
	if q.EnvironmentID != nil {
		conds.add("environment_id = " + arg(*q.EnvironmentID))
	}
	if q.Container != "" {
		p := arg(q.Container)
		cond := "container_id = " + p + " OR container_name = " + p
		if len(q.Container) >= shortIDLength {
			cond += " OR starts_with(container_id, " + p + ")"
		}
		conds.add("(" + cond + ")")
	}
	if q.ContainerID != "" {
		conds.add("container_id = " + arg(q.ContainerID))
	}
	if q.ContainerName != "" {
		conds.add("container_name = " + arg(q.ContainerName))
	}
	if q.Action != "" {
		p := arg(q.Action)
		conds.add("(action = " + p + " OR starts_with(action, " + p + " || ':'))")
	}
	if !q.From.IsZero() {
		conds.add("time_nano >= " + arg(unixNanos(q.From)))
	}
	if !q.To.IsZero() {
		conds.add("time_nano < " + arg(unixNanos(q.To)))
	}
	if q.Before != nil {
		conds.add("(time_nano, id) < (" + arg(q.Before.TimeNano) + ", " + arg(q.Before.ID) + ")")
	}
	sql := `SELECT ` + containerEventColumns + ` FROM container_events`
	sql += conds.where()
	sql += ` ORDER BY time_nano DESC, id DESC LIMIT ` + arg(limit+1)
	rows, _ := s.pool.Query(ctx, sql, conds.args...)
	events, err = pgx.CollectRows(rows, scanContainerEvent)
	if err != nil {
		return nil, nil, fmt.Errorf("store: list events: %w", err)
	}
	if len(events) > limit {
		events = events[:limit]
		last := events[limit-1]
		next = &EventPosition{TimeNano: last.TimeNano, ID: last.ID}
	}
	return events, next, nil
}

// unixNanos returns t in Unix nanoseconds, clamped to the int64 range.
func unixNanos(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// EventsAfter returns up to q.Limit events of every environment after
// q.After in follow order (TxID, ID), each with its TxID set: what a
// follower of the live stream has not seen yet. Only events of transactions
// that have ended are returned, so no event can later appear before the
// last one returned: a follower that moves its position to the last event
// never skips one. A long transaction anywhere in the cluster (once it has
// written anything) holds back the events of every later transaction until
// it ends: live delivery is delayed, nothing is lost. held then tells (when
// fewer than q.Limit events are returned) that committed events after the
// last one returned are visible all the same, so the follower should read
// again shortly: the end of the long transaction may notify nobody. See
// StreamPosition.
func (s *Store) EventsAfter(ctx context.Context, q FollowQuery) (events []ContainerEvent, held bool, err error) {
	events, held, err = follow(ctx, s, "container_events", containerEventColumns, q, scanFollowedEvent,
		func(e ContainerEvent) StreamPosition { return StreamPosition{TxID: e.TxID, ID: e.ID} })
	if err != nil {
		return nil, false, fmt.Errorf("store: events after %+v: %w", q.After, err)
	}
	return events, held, nil
}

// EventPositionAfterID translates the live stream's former cursor, "every
// event whose ID is greater than id", into a position for EventsAfter that
// skips none of them (some events with a smaller ID that committed later
// may be returned again). Events stored before migration 00007 are in ID
// order, so for them it is exact; id 0 is the start of the table.
func (s *Store) EventPositionAfterID(ctx context.Context, id int64) (StreamPosition, error) {
	p, err := s.positionAfterID(ctx, "container_events", id)
	if err != nil {
		return StreamPosition{}, fmt.Errorf("store: event position after %d: %w", id, err)
	}
	return p, nil
}

// EventsAfterID returns up to limit events of every environment whose ID is
// greater than afterID, in ascending ID order. IDs do not become visible in
// order (writers take no lock), so this is for reading back what was just
// stored, not for following: a follower uses EventsAfter. limit is clamped
// to 1..500 (0 means 100).
func (s *Store) EventsAfterID(ctx context.Context, afterID int64, limit int) ([]ContainerEvent, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT `+containerEventColumns+`
		FROM container_events
		WHERE id > $1
		ORDER BY id
		LIMIT $2`,
		afterID, clampLimit(limit))
	events, err := pgx.CollectRows(rows, scanContainerEvent)
	if err != nil {
		return nil, fmt.Errorf("store: events after %d: %w", afterID, err)
	}
	return events, nil
}

// MaxEventID returns the greatest stored event ID, 0 when there is none. A
// follower that wants only new events starts at StreamHead instead.
func (s *Store) MaxEventID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM container_events`).Scan(&id); err != nil {
		return 0, fmt.Errorf("store: max event id: %w", err)
	}
	return id, nil
}

func isHealthEvent(e ContainerEvent) bool { return strings.HasPrefix(e.Action, "health_status") }

// previousHealthEvent returns the container's last health_status event
// before e, of any age, or nil.
func previousHealthEvent(ctx context.Context, tx pgx.Tx, envID uuid.UUID, e ContainerEvent) (*ContainerEvent, error) {
	rows, _ := tx.Query(ctx, `
		SELECT `+containerEventColumns+`
		FROM container_events
		WHERE environment_id = $1 AND container_id = $2 AND action LIKE 'health_status%' AND time_nano < $3
		ORDER BY time_nano DESC, id DESC
		LIMIT 1`, envID, e.ContainerID, e.TimeNano)
	prev, err := pgx.CollectRows(rows, scanContainerEvent)
	if err != nil {
		return nil, err
	}
	if len(prev) == 0 {
		return nil, nil
	}
	return &prev[0], nil
}

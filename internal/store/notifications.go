package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Notification statuses.
const (
	NotificationPending   = "pending"
	NotificationDelivered = "delivered"
	NotificationFailed    = "failed"
)

// NotificationDraft is a notification to create for every matching channel,
// in the transaction of its cause.
type NotificationDraft struct {
	// Kind is one of the notify kinds ("environment_offline", …), never empty.
	Kind string
	// Title and Message are what the channel receives.
	Title, Message string
	// CauseKey identifies the cause; the notification of each channel gets
	// the dedup key CauseKey + "/" + channel ID, so a retried writer creates
	// it once. Empty means the default key of the cause:
	// "status:<env>:<changedAtUnixNano>", "disk:<env>:<checkAtUnixNano>" or
	// "event:<env>:<timeNano>:<containerID>:<action>". Two drafts of one
	// cause need distinct keys (the second one is otherwise dropped).
	CauseKey string
	// Channels, when not empty, are the only channels that receive it
	// (those enabled), whatever their subscriptions; empty, the
	// subscriptions decide.
	Channels []uuid.UUID
}

// Notification is one row of the outbox: one notification for one channel.
type Notification struct {
	ID        int64
	ChannelID uuid.UUID
	// ChannelName is the channel's name (read only).
	ChannelName string
	// EnvironmentID is the environment the notification is about, if any.
	EnvironmentID *uuid.UUID
	Kind          string
	Title         string
	Message       string
	DedupKey      string
	// Status is NotificationPending, NotificationDelivered or
	// NotificationFailed.
	Status string
	// Attempts counts the recorded delivery attempts.
	Attempts int
	// LastError is the error of the last failed attempt (redacted by the
	// sender), empty once delivered.
	LastError string
	CreatedAt time.Time
	// DispatchedAt is when a delivery workflow was last started, nil before.
	DispatchedAt *time.Time
	// DeliveredAt is when an attempt succeeded, nil before.
	DeliveredAt *time.Time
}

// Attempt is one recorded delivery attempt of a notification.
type Attempt struct {
	// Attempt is the number the deliverer gave it (the activity attempt).
	Attempt int
	At      time.Time
	OK      bool
	// Error is the (redacted) error of a failed attempt.
	Error string
}

// NotificationQuery selects notifications. Zero fields do not filter.
type NotificationQuery struct {
	ChannelID, EnvironmentID *uuid.UUID
	Kind, Status             string
	// BeforeID keeps the notifications with a smaller ID (the next page).
	BeforeID int64
	// Limit is the page size, clamped to 1..500; 0 means 100.
	Limit int
}

// draftRow is a validated draft with its environment and cause key resolved.
type draftRow struct {
	env      *uuid.UUID
	kind     string
	title    string
	message  string
	causeKey string
	// channels are the draft's Channels as "id,id,…" ("" = subscriptions).
	channels string
}

// newDraftRow validates d; defaultKey is used when d.CauseKey is empty.
func newDraftRow(env *uuid.UUID, d NotificationDraft, defaultKey string) (draftRow, error) {
	r := draftRow{
		env: env, kind: cleanText(d.Kind), title: cleanText(d.Title), message: cleanText(d.Message),
		causeKey: cleanText(d.CauseKey),
	}
	ids := make([]string, len(d.Channels))
	for i, id := range d.Channels {
		ids[i] = id.String()
	}
	r.channels = strings.Join(ids, ",")
	if r.causeKey == "" {
		r.causeKey = defaultKey
	}
	if r.kind == "" {
		return draftRow{}, fmt.Errorf("%w: notification draft has no kind", ErrInvalid)
	}
	if r.causeKey == "" {
		return draftRow{}, fmt.Errorf("%w: notification draft has no cause key", ErrInvalid)
	}
	return r, nil
}

// insertNotifications creates, in tx, one notification per draft and
// matching channel: enabled, and either one of the draft's channels or, when
// it names none, subscribed to the draft's environment (an empty list is
// every environment; a draft without environment only matches those) and
// to its kind (an empty list is DefaultKinds). Notifications whose dedup
// key exists are skipped; the IDs of the new rows are returned in draft order.
func insertNotifications(ctx context.Context, tx pgx.Tx, drafts []draftRow) ([]int64, error) {
	if len(drafts) == 0 {
		return nil, nil
	}
	var (
		envs                                      []*uuid.UUID
		kinds, titles, messages, causes, channels []string
	)
	for _, d := range drafts {
		envs = append(envs, d.env)
		kinds = append(kinds, d.kind)
		titles = append(titles, d.title)
		messages = append(messages, d.message)
		causes = append(causes, d.causeKey)
		channels = append(channels, d.channels)
	}
	rows, _ := tx.Query(ctx, `
		INSERT INTO notifications (channel_id, environment_id, kind, title, message, dedup_key)
		SELECT c.id, d.env, d.kind, d.title, d.message, d.cause || '/' || c.id::text
		FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $7::text[])
				WITH ORDINALITY AS d(env, kind, title, message, cause, channels, ord)
			JOIN notification_channels c ON c.enabled AND CASE
				WHEN d.channels <> '' THEN c.id = ANY (string_to_array(d.channels, ',')::uuid[])
				ELSE (cardinality(c.environments) = 0 OR d.env = ANY (c.environments))
					AND (d.kind = ANY (c.kinds) OR (cardinality(c.kinds) = 0 AND d.kind = ANY ($6::text[])))
				END
		ORDER BY d.ord, c.id
		ON CONFLICT (dedup_key) DO NOTHING
		RETURNING id`,
		envs, kinds, titles, messages, causes, DefaultKinds, channels)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// notificationColumns are the columns read by scanNotification (n is
// notifications, c notification_channels).
const notificationColumns = `n.id, n.channel_id, c.name, n.environment_id, n.kind, n.title, n.message,
	n.dedup_key, n.status, n.attempts, n.last_error, n.created_at, n.dispatched_at, n.delivered_at`

func scanNotification(row pgx.CollectableRow) (Notification, error) {
	var (
		n        Notification
		attempts int32
	)
	err := row.Scan(&n.ID, &n.ChannelID, &n.ChannelName, &n.EnvironmentID, &n.Kind, &n.Title, &n.Message,
		&n.DedupKey, &n.Status, &attempts, &n.LastError, &n.CreatedAt, &n.DispatchedAt, &n.DeliveredAt)
	if err != nil {
		return Notification{}, err
	}
	n.Attempts = int(attempts)
	n.CreatedAt = n.CreatedAt.UTC()
	n.DispatchedAt = utcPtr(n.DispatchedAt)
	n.DeliveredAt = utcPtr(n.DeliveredAt)
	return n, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// GetNotification returns a notification and its channel (URL included, for
// the deliverer), or ErrNotFound.
func (s *Store) GetNotification(ctx context.Context, id int64) (Notification, Channel, error) {
	var (
		n        Notification
		c        Channel
		attempts int32
	)
	err := s.pool.QueryRow(ctx, `
		SELECT n.id, n.channel_id, n.environment_id, n.kind, n.title, n.message,
			n.dedup_key, n.status, n.attempts, n.last_error, n.created_at, n.dispatched_at, n.delivered_at,
			c.name, c.url, c.enabled, c.environments, c.kinds, c.created_at, c.updated_at
		FROM notifications n JOIN notification_channels c ON c.id = n.channel_id
		WHERE n.id = $1`, id).Scan(
		&n.ID, &n.ChannelID, &n.EnvironmentID, &n.Kind, &n.Title, &n.Message,
		&n.DedupKey, &n.Status, &attempts, &n.LastError, &n.CreatedAt, &n.DispatchedAt, &n.DeliveredAt,
		&c.Name, &c.URL, &c.Enabled, &c.Environments, &c.Kinds, &c.CreatedAt, &c.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Notification{}, Channel{}, fmt.Errorf("store: get notification %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Notification{}, Channel{}, fmt.Errorf("store: get notification %d: %w", id, err)
	}
	n.ChannelName = c.Name
	n.Attempts = int(attempts)
	n.CreatedAt = n.CreatedAt.UTC()
	n.DispatchedAt = utcPtr(n.DispatchedAt)
	n.DeliveredAt = utcPtr(n.DeliveredAt)
	c.ID = n.ChannelID
	if c.Environments == nil {
		c.Environments = []uuid.UUID{}
	}
	if c.Kinds == nil {
		c.Kinds = []string{}
	}
	c.CreatedAt = c.CreatedAt.UTC()
	c.UpdatedAt = c.UpdatedAt.UTC()
	return n, c, nil
}

// RecordAttempt records one delivery attempt of a notification and updates
// its counters in one transaction: attempts + 1 and, when ok, status
// delivered and delivered_at (kept from the first success), last_error
// cleared; when not ok, last_error = errText (status unchanged: the
// deliverer decides when to give up, see MarkNotificationFailed). errText
// must already be redacted. An unknown notification gives ErrNotFound.
func (s *Store) RecordAttempt(ctx context.Context, id int64, attempt int, ok bool, errText string) error {
	errText = cleanText(errText)
	if ok {
		errText = ""
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE notifications SET
				attempts = attempts + 1,
				status = CASE WHEN $2 THEN 'delivered' ELSE status END,
				delivered_at = CASE WHEN $2 THEN coalesce(delivered_at, now()) ELSE delivered_at END,
				last_error = CASE WHEN $2 THEN '' ELSE $3 END
			WHERE id = $1`,
			id, ok, errText)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("notification %d: %w", id, ErrNotFound)
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO notification_attempts (notification_id, attempt, ok, error)
			VALUES ($1, $2, $3, $4)`,
			id, attempt, ok, errText)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: record attempt: %w", err)
	}
	return nil
}

// MarkNotificationFailed sets a notification's status to failed, unless it
// was delivered meanwhile; a non-empty errText (redacted) replaces
// last_error. An unknown notification gives ErrNotFound.
func (s *Store) MarkNotificationFailed(ctx context.Context, id int64, errText string) error {
	tag, err := s.pool.Exec(ctx, `
		UPDATE notifications SET
			status = CASE WHEN status = 'delivered' THEN status ELSE 'failed' END,
			last_error = CASE WHEN status = 'delivered' OR $2 = '' THEN last_error ELSE $2 END
		WHERE id = $1`,
		id, cleanText(errText))
	if err != nil {
		return fmt.Errorf("store: mark notification %d failed: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: mark notification %d failed: %w", id, ErrNotFound)
	}
	return nil
}

// MarkDispatched sets dispatched_at to now on the pending notifications
// among ids: a delivery workflow was started for them. Unknown IDs are
// ignored.
func (s *Store) MarkDispatched(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `
		UPDATE notifications SET dispatched_at = now()
		WHERE id = ANY ($1) AND status = 'pending'`, ids); err != nil {
		return fmt.Errorf("store: mark dispatched: %w", err)
	}
	return nil
}

// PendingUndispatched returns up to limit (clamped to 1..500, 0 means 100)
// IDs of pending notifications never dispatched or dispatched more than
// staleAfter ago, oldest first: those whose delivery workflow must be
// (re)started.
func (s *Store) PendingUndispatched(ctx context.Context, staleAfter time.Duration, limit int) ([]int64, error) {
	if staleAfter < 0 {
		staleAfter = 0
	}
	rows, _ := s.pool.Query(ctx, `
		SELECT id FROM notifications
		WHERE status = 'pending'
			AND (dispatched_at IS NULL OR dispatched_at < now() - make_interval(secs => $1))
		ORDER BY id
		LIMIT $2`,
		staleAfter.Seconds(), clampLimit(limit))
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("store: pending notifications: %w", err)
	}
	return ids, nil
}

// ListNotifications returns the notifications q selects, newest first (by
// ID). Page with q.BeforeID set to the ID of the last notification of a page.
func (s *Store) ListNotifications(ctx context.Context, q NotificationQuery) ([]Notification, error) {
	list, _, err := s.ListNotificationsPage(ctx, q)
	return list, err
}

// ListNotificationsPage is ListNotifications that also tells whether more
// notifications follow: nextBefore is the BeforeID of the next page, 0 on
// the last page.
func (s *Store) ListNotificationsPage(ctx context.Context, q NotificationQuery) (list []Notification, nextBefore int64, err error) {
	limit := clampLimit(q.Limit)
	var conds filters
	arg := conds.arg
	if q.ChannelID != nil {
		conds.add("n.channel_id = " + arg(*q.ChannelID))
	}
	if q.EnvironmentID != nil {
		conds.add("n.environment_id = " + arg(*q.EnvironmentID))
	}
	if q.Kind != "" {
		conds.add("n.kind = " + arg(q.Kind))
	}
	if q.Status != "" {
		conds.add("n.status = " + arg(q.Status))
	}
	if q.BeforeID > 0 {
		conds.add("n.id < " + arg(q.BeforeID))
	}
	sql := `SELECT ` + notificationColumns + `
		FROM notifications n JOIN notification_channels c ON c.id = n.channel_id`
	sql += conds.where()
	sql += ` ORDER BY n.id DESC LIMIT ` + arg(limit+1)
	rows, _ := s.pool.Query(ctx, sql, conds.args...)
	list, err = pgx.CollectRows(rows, scanNotification)
	if err != nil {
		return nil, 0, fmt.Errorf("store: list notifications: %w", err)
	}
	if len(list) > limit {
		list = list[:limit]
		nextBefore = list[limit-1].ID
	}
	return list, nextBefore, nil
}

// ListAttempts returns the recorded attempts of a notification, oldest first.
func (s *Store) ListAttempts(ctx context.Context, notificationID int64) ([]Attempt, error) {
	byID, err := s.AttemptsOf(ctx, []int64{notificationID})
	if err != nil {
		return nil, err
	}
	if byID[notificationID] == nil {
		return []Attempt{}, nil
	}
	return byID[notificationID], nil
}

// AttemptsOf returns the recorded attempts of several notifications, oldest
// first, by notification ID (a notification without attempts is absent).
func (s *Store) AttemptsOf(ctx context.Context, notificationIDs []int64) (map[int64][]Attempt, error) {
	out := make(map[int64][]Attempt, len(notificationIDs))
	if len(notificationIDs) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT notification_id, attempt, at, ok, error
		FROM notification_attempts
		WHERE notification_id = ANY ($1)
		ORDER BY notification_id, id`, notificationIDs)
	if err != nil {
		return nil, fmt.Errorf("store: list attempts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id      int64
			attempt int32
			a       Attempt
		)
		if err := rows.Scan(&id, &attempt, &a.At, &a.OK, &a.Error); err != nil {
			return nil, fmt.Errorf("store: list attempts: %w", err)
		}
		a.Attempt = int(attempt)
		a.At = a.At.UTC()
		out[id] = append(out[id], a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list attempts: %w", err)
	}
	return out, nil
}

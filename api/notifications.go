package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/notify"
	"github.com/windflow/monitor/internal/store"
)

// notificationJSON is a notification of the history with its attempts.
type notificationJSON struct {
	ID            int64      `json:"id"`
	ChannelID     uuid.UUID  `json:"channelId"`
	ChannelName   string     `json:"channelName"`
	EnvironmentID *uuid.UUID `json:"environmentId"`
	Kind          string     `json:"kind"`
	Title         string     `json:"title"`
	Message       string     `json:"message"`
	// Status is "pending", "delivered" or "failed".
	Status string `json:"status"`
	// AttemptCount counts the delivery attempts; Attempts lists them.
	AttemptCount int           `json:"attemptCount"`
	Attempts     []attemptJSON `json:"attempts"`
	LastError    string        `json:"lastError"`
	CreatedAt    time.Time     `json:"createdAt"`
	DispatchedAt *time.Time    `json:"dispatchedAt"`
	DeliveredAt  *time.Time    `json:"deliveredAt"`
}

// attemptJSON is one delivery attempt.
type attemptJSON struct {
	Attempt int       `json:"attempt"`
	At      time.Time `json:"at"`
	OK      bool      `json:"ok"`
	Error   string    `json:"error"`
}

func notificationView(n store.Notification, attempts []store.Attempt) notificationJSON {
	out := notificationJSON{
		ID: n.ID, ChannelID: n.ChannelID, ChannelName: n.ChannelName, EnvironmentID: n.EnvironmentID,
		Kind: n.Kind, Title: n.Title, Message: n.Message, Status: n.Status,
		AttemptCount: n.Attempts, Attempts: make([]attemptJSON, 0, len(attempts)), LastError: n.LastError,
		CreatedAt: n.CreatedAt, DispatchedAt: n.DispatchedAt, DeliveredAt: n.DeliveredAt,
	}
	for _, a := range attempts {
		out.Attempts = append(out.Attempts, attemptJSON(a))
	}
	return out
}

// listNotifications answers GET /api/v1/notifications: the notification
// history, newest first, with every delivery attempt. Filters: channel and
// environment (UUIDs of existing ones), kind, status (pending, delivered,
// failed); paging: limit (1..500, default 100) and before (the nextBefore
// of the previous page; null on the last page).
func (s *Server) listNotifications(w http.ResponseWriter, r *http.Request) error {
	query := r.URL.Query()
	var (
		q   store.NotificationQuery
		err error
	)
	if raw := query.Get("channel"); raw != "" {
		id, err := uuid.Parse(raw)
		if err != nil {
			return errorf(http.StatusBadRequest, "invalid_id", "channel: %q is not a UUID", raw)
		}
		if _, err := s.store.GetChannel(r.Context(), id); errors.Is(err, store.ErrNotFound) {
			return errorf(http.StatusNotFound, "not_found", "channel %s does not exist", id)
		} else if err != nil {
			return err
		}
		q.ChannelID = &id
	}
	if q.EnvironmentID, err = s.environmentFilter(r); err != nil {
		return err
	}
	if q.Kind = query.Get("kind"); q.Kind != "" && !notify.ValidKind(q.Kind) {
		return errorf(http.StatusBadRequest, "invalid_query", "kind: unknown kind %q", q.Kind)
	}
	switch q.Status = query.Get("status"); q.Status {
	case "", store.NotificationPending, store.NotificationDelivered, store.NotificationFailed:
	default:
		return errorf(http.StatusBadRequest, "invalid_query",
			"status must be pending, delivered or failed, got %q", q.Status)
	}
	if raw := query.Get("before"); raw != "" {
		if q.BeforeID, err = strconv.ParseInt(raw, 10, 64); err != nil || q.BeforeID < 1 {
			return errorf(http.StatusBadRequest, "invalid_query", "before must be a positive integer, got %q", raw)
		}
	}
	if q.Limit, err = parseLimit(query.Get("limit")); err != nil {
		return err
	}
	list, next, err := s.store.ListNotificationsPage(r.Context(), q)
	if err != nil {
		return err
	}
	ids := make([]int64, 0, len(list))
	for _, n := range list {
		ids = append(ids, n.ID)
	}
	attempts, err := s.store.AttemptsOf(r.Context(), ids)
	if err != nil {
		return err
	}
	out := views(list, func(n store.Notification) notificationJSON { return notificationView(n, attempts[n.ID]) })
	var nextBefore *int64
	if next != 0 {
		nextBefore = &next
	}
	writeJSON(w, http.StatusOK, map[string]any{"notifications": out, "nextBefore": nextBefore})
	return nil
}

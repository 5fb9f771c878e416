package api

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/store"
)

// EventStore is what the event routes and the live stream need from
// Postgres.
type EventStore interface {
	ListEventsPage(ctx context.Context, q store.EventQuery) ([]store.ContainerEvent, *store.EventPosition, error)
	ListGaps(ctx context.Context, envID *uuid.UUID, limit int) ([]store.EventGap, error)
	EventsAfterID(ctx context.Context, afterID int64, limit int) ([]store.ContainerEvent, error)
	StatusChangesAfterID(ctx context.Context, afterID int64, limit int) ([]store.StatusChange, error)
	MaxEventID(ctx context.Context) (int64, error)
	MaxStatusID(ctx context.Context) (int64, error)
	Listen(ctx context.Context, channels []string, fn func(channel, payload string), onReconnect func()) error
	EventsChannel() string
	StatusChannel() string
	// The live stream's reads in follow order (stream.go).
	StreamHead(ctx context.Context) (store.StreamHead, error)
	EventsAfter(ctx context.Context, q store.FollowQuery) ([]store.ContainerEvent, bool, error)
	StatusChangesAfter(ctx context.Context, q store.FollowQuery) ([]store.StatusChange, bool, error)
	EventPositionAfterID(ctx context.Context, id int64) (store.StreamPosition, error)
	StatusPositionAfterID(ctx context.Context, id int64) (store.StreamPosition, error)
}

// Bounds of an events query.
const (
	defaultEventsLimit = 100
	maxEventsLimit     = 500
)

// eventRoutes serves /api/v1/events: the events of every environment.
func (s *Server) eventRoutes() chi.Router {
	r := chi.NewRouter()
	r.Get("/", s.perEnvironment(s.eventsPage))
	r.Get("/gaps", s.perEnvironment(s.gaps))
	return r
}

// eventJSON is a stored container event in answers and in the live stream.
type eventJSON struct {
	ID            int64             `json:"id"`
	EnvironmentID uuid.UUID         `json:"environmentId"`
	Time          time.Time         `json:"time"`
	TimeNano      int64             `json:"timeNano"`
	ReceivedAt    time.Time         `json:"receivedAt"`
	ContainerID   string            `json:"containerId"`
	ContainerName string            `json:"containerName"`
	Image         string            `json:"image"`
	Action        string            `json:"action"`
	Attributes    map[string]string `json:"attributes"`
	ExitCode      *int              `json:"exitCode"`
}

func eventView(e store.ContainerEvent) eventJSON {
	attrs := e.Attributes
	if attrs == nil {
		attrs = map[string]string{}
	}
	return eventJSON{
		ID: e.ID, EnvironmentID: e.EnvironmentID,
		Time: time.Unix(0, e.TimeNano).UTC(), TimeNano: e.TimeNano, ReceivedAt: e.ReceivedAt.UTC(),
		ContainerID: e.ContainerID, ContainerName: e.ContainerName, Image: e.Image,
		Action: e.Action, Attributes: attrs, ExitCode: e.ExitCode,
	}
}

// gapJSON is a recorded event gap.
type gapJSON struct {
	ID            int64     `json:"id"`
	EnvironmentID uuid.UUID `json:"environmentId"`
	From          time.Time `json:"from"`
	To            time.Time `json:"to"`
	FromNano      int64     `json:"fromNano"`
	ToNano        int64     `json:"toNano"`
	Reason        string    `json:"reason"`
	DetectedAt    time.Time `json:"detectedAt"`
}

func gapView(g store.EventGap) gapJSON {
	return gapJSON{
		ID: g.ID, EnvironmentID: g.EnvironmentID,
		From: time.Unix(0, g.FromNano).UTC(), To: time.Unix(0, g.ToNano).UTC(),
		FromNano: g.FromNano, ToNano: g.ToNano, Reason: g.Reason, DetectedAt: g.DetectedAt.UTC(),
	}
}

// perEnvironment is the handler of a route of /api/v1/events (events, gaps):
// fn answers for every environment, or for the one of ?environment=<uuid>.
func (s *Server) perEnvironment(fn func(w http.ResponseWriter, r *http.Request, envID *uuid.UUID) error) http.HandlerFunc {
	return handle(func(w http.ResponseWriter, r *http.Request) error {
		envID, err := s.environmentFilter(r)
		if err != nil {
			return err
		}
		return fn(w, r, envID)
	})
}

// ofEnvironment is the handler of the same route below
// /environments/{id}: fn answers for the environment of the route.
func ofEnvironment(fn func(w http.ResponseWriter, r *http.Request, envID *uuid.UUID) error) http.HandlerFunc {
	return handle(func(w http.ResponseWriter, r *http.Request) error {
		env := environmentFrom(r)
		return fn(w, r, &env.ID)
	})
}

// listEnvironmentEvents answers GET /api/v1/environments/{id}/events, which
// takes no ?environment= filter.
func (s *Server) listEnvironmentEvents(w http.ResponseWriter, r *http.Request, envID *uuid.UUID) error {
	if r.URL.Query().Has("environment") {
		return errorf(http.StatusBadRequest, "invalid_query",
			"environment: the filter belongs to /api/v1/events; this route is already one environment's")
	}
	return s.eventsPage(w, r, envID)
}

// eventsPage answers GET /api/v1/events (every environment, or
// ?environment=<uuid>) and …/environments/{id}/events: one page of events,
// newest first, with the filters container (full ID, short ID of 12+
// characters, or name), action (exact, or the base before ':' —
// "health_status" matches "health_status: healthy"), from (inclusive) and to (exclusive) as RFC 3339 or Unix
// seconds, limit (1..500, default 100) and cursor (the nextCursor of the
// previous page; null on the last page).
func (s *Server) eventsPage(w http.ResponseWriter, r *http.Request, envID *uuid.UUID) error {
	q, err := eventQuery(r)
	if err != nil {
		return err
	}
	q.EnvironmentID = envID
	events, next, err := s.store.ListEventsPage(r.Context(), q)
	if err != nil {
		return err
	}
	out := views(events, eventView)
	var nextCursor *string
	if next != nil {
		c := encodeEventCursor(*next)
		nextCursor = &c
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out, "nextCursor": nextCursor})
	return nil
}

// maxFilterLength bounds the container and action filters, in bytes: a
// container ID is 64 hex digits, a name or an action far less.
const maxFilterLength = 256

// textFilter reads a text filter of a query: printable UTF-8 of at most
// maxFilterLength bytes (Postgres refuses NUL bytes and invalid UTF-8 in
// text, and no stored name or action holds a control character).
func textFilter(query url.Values, param string) (string, error) {
	v := strings.TrimSpace(query.Get(param))
	switch {
	case len(v) > maxFilterLength:
		return "", errorf(http.StatusBadRequest, "invalid_query", "%s: longer than %d bytes", param, maxFilterLength)
	case !utf8.ValidString(v):
		return "", errorf(http.StatusBadRequest, "invalid_query", "%s: not valid UTF-8", param)
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return "", errorf(http.StatusBadRequest, "invalid_query", "%s: holds a control character", param)
	}
	return v, nil
}

// eventQuery reads the filters of an events request.
func eventQuery(r *http.Request) (store.EventQuery, error) {
	query := r.URL.Query()
	var (
		q   store.EventQuery
		err error
	)
	if q.Container, err = textFilter(query, "container"); err != nil {
		return q, err
	}
	q.Container = strings.TrimPrefix(q.Container, "/")
	if q.Action, err = textFilter(query, "action"); err != nil {
		return q, err
	}
	if q.From, err = parseTime(query.Get("from"), time.Time{}); err != nil {
		return q, invalidQuery("from", err)
	}
	if q.To, err = parseTime(query.Get("to"), time.Time{}); err != nil {
		return q, invalidQuery("to", err)
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return q, errorf(http.StatusBadRequest, "invalid_query", "from must be before to")
	}
	if q.Limit, err = parseLimit(query.Get("limit")); err != nil {
		return q, err
	}
	if raw := query.Get("cursor"); raw != "" {
		pos, err := decodeEventCursor(raw)
		if err != nil {
			return q, err
		}
		q.Before = &pos
	}
	return q, nil
}

// invalidQuery answers a 400 naming the query parameter that err rejects.
func invalidQuery(param string, err error) error {
	msg := err.Error()
	var apiErr *Error
	if errors.As(err, &apiErr) {
		msg = apiErr.Message
	}
	return errorf(http.StatusBadRequest, "invalid_query", "%s: %s", param, msg)
}

// parseLimit reads a page size: 1..500, default 100.
func parseLimit(raw string) (int, error) {
	if raw == "" {
		return defaultEventsLimit, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > maxEventsLimit {
		return 0, errorf(http.StatusBadRequest, "invalid_query", "limit must be an integer from 1 to %d, got %q", maxEventsLimit, shorten(raw))
	}
	return n, nil
}

// environmentFilter reads the optional ?environment=<uuid> filter; an
// unknown environment is a 404.
func (s *Server) environmentFilter(r *http.Request) (*uuid.UUID, error) {
	raw := r.URL.Query().Get("environment")
	if raw == "" {
		return nil, nil
	}
	id, err := uuid.Parse(raw)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "invalid_id", "environment: %q is not a UUID", shorten(raw))
	}
	if _, err := s.store.GetEnvironment(r.Context(), id); errors.Is(err, store.ErrNotFound) {
		return nil, errorf(http.StatusNotFound, "not_found", "environment %s does not exist", id)
	} else if err != nil {
		return nil, err
	}
	return &id, nil
}

// encodeEventCursor makes the opaque page cursor of a position.
func encodeEventCursor(p store.EventPosition) string {
	return base64.RawURLEncoding.EncodeToString(
		[]byte(strconv.FormatInt(p.TimeNano, 10) + ":" + strconv.FormatInt(p.ID, 10)))
}

// decodeEventCursor reads a cursor made by encodeEventCursor.
func decodeEventCursor(raw string) (store.EventPosition, error) {
	bad := errorf(http.StatusBadRequest, "invalid_cursor", "cursor %q is not a cursor this API returned", shorten(raw))
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return store.EventPosition{}, bad
	}
	nanos, id, ok := strings.Cut(string(b), ":")
	if !ok {
		return store.EventPosition{}, bad
	}
	var p store.EventPosition
	if p.TimeNano, err = strconv.ParseInt(nanos, 10, 64); err != nil || p.TimeNano < 0 {
		return store.EventPosition{}, bad
	}
	if p.ID, err = strconv.ParseInt(id, 10, 64); err != nil || p.ID < 0 {
		return store.EventPosition{}, bad
	}
	return p, nil
}

// gaps answers the recorded gaps of one or every environment, newest
// first; limit 1..500.
func (s *Server) gaps(w http.ResponseWriter, r *http.Request, envID *uuid.UUID) error {
	limit, err := parseLimit(r.URL.Query().Get("limit"))
	if err != nil {
		return err
	}
	gaps, err := s.store.ListGaps(r.Context(), envID, limit)
	if err != nil {
		return err
	}
	writeList(w, "gaps", gaps, gapView)
	return nil
}

package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/store"
)

// DefaultStreamHeartbeat is the interval of the keepalive comment of the live
// stream when Server.StreamHeartbeat is zero: idle connections through
// proxies and load balancers stay open.
const DefaultStreamHeartbeat = 15 * time.Second

// streamPage is how many rows a stream client reads from Postgres at a time.
const streamPage = 500

// streamHub is the one LISTEN connection of a Server, fanned out to its
// stream clients as wake-ups. A wake-up carries nothing: each client then
// reads what is new after its own cursor from Postgres, so order, resume and
// delivery across API instances all come from the database, and a client
// that is slow or missed a wake-up loses nothing.
type streamHub struct {
	mu      sync.Mutex
	started bool
	ctx     context.Context // the listener's; its end ends every stream
	cancel  context.CancelFunc
	done    chan struct{}
	subs    map[chan struct{}]struct{}
}

// start runs the listener until ctx ends or stop is called; once started,
// later calls do nothing.
func (h *streamHub) start(ctx context.Context, es EventStore, log *slog.Logger) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started {
		return
	}
	h.started = true
	ctx, h.cancel = context.WithCancel(ctx)
	h.ctx = ctx
	h.done = make(chan struct{})
	go func() {
		defer close(h.done)
		channels := []string{es.EventsChannel(), es.StatusChannel()}
		// Every (re)LISTEN wakes every client too: notifications sent while
		// the listener was away are lost, the rows are not.
		if err := es.Listen(ctx, channels, func(string, string) { h.wake() }, h.wake); err != nil {
			log.Error("live stream listener stopped; clients now only catch up at each heartbeat", "err", err)
		}
	}()
}

// stop ends the listener and waits for it.
func (h *streamHub) stop() {
	h.mu.Lock()
	cancel, done := h.cancel, h.done
	h.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// stopped is closed when the listener stops: streams end then, so that a
// graceful HTTP shutdown does not wait for them. Call it after start.
func (h *streamHub) stopped() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ctx.Done()
}

// subscribe returns a channel that receives (coalesced) wake-ups.
func (h *streamHub) subscribe() chan struct{} {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = make(map[chan struct{}]struct{})
	}
	h.subs[ch] = struct{}{}
	return ch
}

func (h *streamHub) unsubscribe(ch chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, ch)
}

// wake tells every client to look for new rows; it never blocks.
func (h *streamHub) wake() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// StartStream starts the listener that feeds GET /api/v1/stream: one
// dedicated Postgres connection LISTENing for new container events and status
// changes, shared by every stream client of this Server. It returns at once;
// the listener runs until ctx ends or StopStream is called, reconnecting by
// itself, and open streams end with it — so that a graceful HTTP shutdown
// does not wait for them. Calling it again does nothing. A Server whose
// StartStream was not called starts the listener on its first stream request
// (it then runs until StopStream). The command wiring calls
// srv.StartStream(ctx) with the process's context before serving HTTP.
func (s *Server) StartStream(ctx context.Context) error {
	es, err := s.eventStore()
	if err != nil {
		return err
	}
	s.stream.start(ctx, es, s.logger())
	return nil
}

// StopStream stops the stream listener and waits for it to end. Open stream
// connections stay open (they end with the HTTP server) but get no more
// wake-ups; they still catch up at each heartbeat.
func (s *Server) StopStream() {
	s.stream.stop()
}

func (s *Server) streamHeartbeat() time.Duration {
	if s.StreamHeartbeat > 0 {
		return s.StreamHeartbeat
	}
	return DefaultStreamHeartbeat
}

// streamCursor is the position of a stream client: the last event ID and
// the last status ID it was sent. Its text form "<eventID>:<statusID>" is the
// SSE id of every message.
type streamCursor struct {
	event, status int64
}

func (c streamCursor) String() string {
	return strconv.FormatInt(c.event, 10) + ":" + strconv.FormatInt(c.status, 10)
}

func parseStreamCursor(raw string) (streamCursor, error) {
	bad := errorf(http.StatusBadRequest, "invalid_last_event_id",
		"Last-Event-ID %q is not an id this stream sent (<eventID>:<statusID>)", raw)
	e, st, ok := strings.Cut(raw, ":")
	if !ok {
		return streamCursor{}, bad
	}
	var (
		c   streamCursor
		err error
	)
	if c.event, err = strconv.ParseInt(e, 10, 64); err != nil || c.event < 0 {
		return streamCursor{}, bad
	}
	if c.status, err = strconv.ParseInt(st, 10, 64); err != nil || c.status < 0 {
		return streamCursor{}, bad
	}
	return c, nil
}

// statusJSON is a status change in the live stream.
type statusJSON struct {
	ID            int64     `json:"id"`
	EnvironmentID uuid.UUID `json:"environmentId"`
	Online        bool      `json:"online"`
	Error         string    `json:"error"`
	ChangedAt     time.Time `json:"changedAt"`
}

// streamEvents serves GET /api/v1/stream, Server-Sent Events:
//
//	event: container_event       data: an event as in GET /api/v1/events
//	event: environment_status    data: {id, environmentId, online, error, changedAt}
//
// Every message has the id "<eventID>:<statusID>", the last event and status
// IDs sent on the connection. A client that reconnects with it (the
// Last-Event-ID header, which EventSource sends by itself, or ?lastEventId=)
// first gets every row stored after those IDs, then the live ones; without
// it the stream starts with what is stored from now on. ?environment=<uuid>
// keeps one environment's rows. A ": keepalive" comment is sent every
// StreamHeartbeat (15 s) on an idle stream.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	es, err := s.eventStore()
	if err != nil {
		writeError(w, r, err)
		return
	}
	envID, err := s.environmentFilter(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	lastID := r.Header.Get("Last-Event-ID")
	if lastID == "" {
		lastID = r.URL.Query().Get("lastEventId")
	}
	var cur streamCursor
	if lastID != "" {
		if cur, err = parseStreamCursor(lastID); err != nil {
			writeError(w, r, err)
			return
		}
	}

	// Subscribe before reading where to start: a row stored from here on
	// wakes this client (and a listener that is not listening yet wakes
	// every client once it is).
	s.stream.start(context.Background(), es, s.logger())
	wake := s.stream.subscribe()
	defer s.stream.unsubscribe(wake)
	if lastID == "" {
		if cur.event, err = es.MaxEventID(ctx); err == nil {
			cur.status, err = es.MaxStatusID(ctx)
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
	}

	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // no write timeout on a stream
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		s.logger().Error("stream: response cannot be flushed", "err", err)
		return
	}

	heartbeat := time.NewTicker(s.streamHeartbeat())
	defer heartbeat.Stop()
	stopped := s.stream.stopped()
	for {
		// Catch up on every wake-up, and at each heartbeat as a safety net.
		if err := s.sendNew(ctx, w, rc, es, envID, &cur); err != nil {
			if ctx.Err() == nil && !errors.Is(err, errClientGone) {
				s.logger().Warn("stream: ending a connection; the client resumes with Last-Event-ID", "err", err)
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-stopped:
			return
		case <-wake:
		case <-heartbeat.C:
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}
}

// sendNew writes every event and status change stored after cur (of envID
// when set) and advances cur.
func (s *Server) sendNew(ctx context.Context, w http.ResponseWriter, rc *http.ResponseController,
	es EventStore, envID *uuid.UUID, cur *streamCursor) error {
	for {
		events, err := es.EventsAfterID(ctx, cur.event, streamPage)
		if err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		sent := false
		for _, e := range events {
			cur.event = e.ID
			if envID != nil && e.EnvironmentID != *envID {
				continue
			}
			if err := writeSSE(w, "container_event", *cur, eventView(e)); err != nil {
				return err
			}
			sent = true
		}
		if sent {
			if err := rc.Flush(); err != nil {
				return errors.Join(errClientGone, err)
			}
		}
		if len(events) < streamPage {
			break
		}
	}
	for {
		changes, err := es.StatusChangesAfterID(ctx, cur.status, streamPage)
		if err != nil {
			return fmt.Errorf("read status changes: %w", err)
		}
		sent := false
		for _, c := range changes {
			cur.status = c.ID
			if envID != nil && c.EnvironmentID != *envID {
				continue
			}
			if err := writeSSE(w, "environment_status", *cur, statusView(c)); err != nil {
				return err
			}
			sent = true
		}
		if sent {
			if err := rc.Flush(); err != nil {
				return errors.Join(errClientGone, err)
			}
		}
		if len(changes) < streamPage {
			return nil
		}
	}
}

func statusView(c store.StatusChange) statusJSON {
	return statusJSON{ID: c.ID, EnvironmentID: c.EnvironmentID, Online: c.Online, Error: c.Error, ChangedAt: c.ChangedAt.UTC()}
}

// writeSSE writes one message; data is JSON, which holds no newline.
func writeSSE(w http.ResponseWriter, event string, id streamCursor, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encode %s: %w", event, err)
	}
	if _, err := fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", id, event, raw); err != nil {
		return errors.Join(errClientGone, err)
	}
	return nil
}

// errClientGone marks a write to a client that went away.
var errClientGone = errors.New("stream client gone")

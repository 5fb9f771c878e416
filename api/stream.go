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

// Bounds of the live stream (Server.MaxStreamClients, StreamBacklog,
// StreamWriteTimeout) when the Server leaves them zero.
const (
	DefaultMaxStreamClients   = 256
	DefaultStreamBacklog      = 10000
	DefaultStreamWriteTimeout = 10 * time.Second
)

// streamRetryAfter is the Retry-After, in seconds, of a stream refused
// because every slot is taken.
const streamRetryAfter = "10"

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
	// clients counts the open stream connections (acquire, release).
	clients int
}

// acquire takes a client slot, unless limit (> 0) are taken already.
func (h *streamHub) acquire(limit int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if limit > 0 && h.clients >= limit {
		return false
	}
	h.clients++
	return true
}

func (h *streamHub) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.clients--
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
func (s *Server) StartStream(ctx context.Context) {
	s.stream.start(ctx, s.store, s.logger())
}

// StopStream stops the stream listener and waits for it to end. Open stream
// connections stay open (they end with the HTTP server) but get no more
// wake-ups; they still catch up at each heartbeat.
func (s *Server) StopStream() {
	s.stream.stop()
}

func (s *Server) streamHeartbeat() time.Duration {
	if s.cfg.StreamHeartbeat > 0 {
		return s.cfg.StreamHeartbeat
	}
	return DefaultStreamHeartbeat
}

// maxStreamClients is Server.MaxStreamClients resolved: 0 means no bound.
func (s *Server) maxStreamClients() int {
	switch {
	case s.cfg.MaxStreamClients == 0:
		return DefaultMaxStreamClients
	case s.cfg.MaxStreamClients < 0:
		return 0
	}
	return s.cfg.MaxStreamClients
}

func (s *Server) streamBacklog() int {
	if s.cfg.StreamBacklog > 0 {
		return s.cfg.StreamBacklog
	}
	return DefaultStreamBacklog
}

func (s *Server) streamWriteTimeout() time.Duration {
	if s.cfg.StreamWriteTimeout > 0 {
		return s.cfg.StreamWriteTimeout
	}
	return DefaultStreamWriteTimeout
}

// Re-reads of a stream whose rows are held back by a long transaction
// (store.EventsAfter's held): the end of that transaction may wake nobody.
const (
	streamHeldMinRetry = 50 * time.Millisecond
	streamHeldMaxRetry = time.Second
)

// streamCursor is the position of a stream client: the place in follow
// order (store.StreamPosition: writing transaction, then ID) of the last
// event and of the last status change it was sent. Its text form
// "<eventTx>.<eventID>:<statusTx>.<statusID>" is the SSE id of every
// message; clients treat it as opaque.
type streamCursor struct {
	event, status store.StreamPosition
	// skip is the snapshot of a fresh connection's store.StreamHead: rows
	// already committed when the client connected are not sent. It is not
	// part of the id (a resumed client may get such a row once more).
	skip string
	// legacy is set by parseStreamCursor for the former form
	// "<eventID>:<statusID>": event.ID and status.ID are plain IDs to
	// translate with the store.
	legacy bool
}

func (c streamCursor) String() string {
	return strconv.FormatUint(c.event.TxID, 10) + "." + strconv.FormatInt(c.event.ID, 10) + ":" +
		strconv.FormatUint(c.status.TxID, 10) + "." + strconv.FormatInt(c.status.ID, 10)
}

// parseStreamCursor reads a Last-Event-ID: the current form
// "<eventTx>.<eventID>:<statusTx>.<statusID>", or the former
// "<eventID>:<statusID>" (legacy set), which means "every event and status
// change whose ID is greater".
func parseStreamCursor(raw string) (streamCursor, error) {
	bad := errorf(http.StatusBadRequest, "invalid_last_event_id",
		"Last-Event-ID %q is not an id this stream sent (<eventTx>.<eventID>:<statusTx>.<statusID>)", raw)
	e, st, ok := strings.Cut(raw, ":")
	if !ok {
		return streamCursor{}, bad
	}
	var (
		c        streamCursor
		eok, sok bool
	)
	if c.legacy = !strings.Contains(e, ".") && !strings.Contains(st, "."); c.legacy {
		c.event.ID, eok = parseID(e)
		c.status.ID, sok = parseID(st)
	} else {
		c.event, eok = parsePosition(e)
		c.status, sok = parsePosition(st)
	}
	if !eok || !sok {
		return streamCursor{}, bad
	}
	return c, nil
}

// parsePosition reads "<tx>.<id>".
func parsePosition(raw string) (store.StreamPosition, bool) {
	tx, id, ok := strings.Cut(raw, ".")
	if !ok {
		return store.StreamPosition{}, false
	}
	var (
		p   store.StreamPosition
		err error
	)
	if p.TxID, err = strconv.ParseUint(tx, 10, 64); err != nil || strings.HasPrefix(tx, "+") {
		return store.StreamPosition{}, false
	}
	if p.ID, ok = parseID(id); !ok {
		return store.StreamPosition{}, false
	}
	return p, true
}

// parseID reads a non-negative decimal ID.
func parseID(raw string) (int64, bool) {
	id, err := strconv.ParseInt(raw, 10, 64)
	return id, err == nil && id >= 0 && !strings.HasPrefix(raw, "+")
}

// snapshotXmax returns the xmax of a pg_snapshot's text "xmin:xmax:xip,…".
func snapshotXmax(snapshot string) (uint64, bool) {
	parts := strings.SplitN(snapshot, ":", 3)
	if len(parts) < 2 {
		return 0, false
	}
	xmax, err := strconv.ParseUint(parts[1], 10, 64)
	return xmax, err == nil
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
// Every message has the id "<eventTx>.<eventID>:<statusTx>.<statusID>": the
// places of the last event and status change sent on the connection in the
// store's follow order (writing transaction, then ID; see
// store.StreamPosition). Clients treat it as opaque. A client that
// reconnects with it (the Last-Event-ID header, which EventSource sends by
// itself, or ?lastEventId=) first gets every row stored after those places,
// then the live ones; without it the stream starts with what is stored from
// now on. The former id "<eventID>:<statusID>" is still accepted and means
// "every event and status change whose ID is greater" (none of them is
// skipped; a few with smaller IDs that committed later may come again).
// ?environment=<uuid> keeps one environment's rows. A ": keepalive"
// comment is sent every StreamHeartbeat (15 s) on an idle stream.
//
// Bounds: at most MaxStreamClients connections per Server (then 503 with
// Retry-After); a catch-up reads at most StreamBacklog rows — a resume from
// an old id ("0:0") or a client that fell that far behind gets
// "event: backlog_truncated" (data {code, message, skippedAfter}, id = the
// present) and continues from now; every write must finish within
// StreamWriteTimeout, or the client is dropped.
//
// Rows are sent in follow order, and only once every transaction that
// began before theirs has ended, so that no row is ever skipped while
// writers of every environment run side by side. The cost: a long
// transaction anywhere in the database cluster delays (never loses) live
// delivery until it ends; the stream then re-reads every 50 ms to 1 s.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !s.stream.acquire(s.maxStreamClients()) {
		w.Header().Set("Retry-After", streamRetryAfter)
		writeError(w, r, busyf("too_many_streams",
			"this API instance already serves %d live streams (its limit); retry in %s seconds", s.maxStreamClients(), streamRetryAfter))
		return
	}
	defer s.stream.release()
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
	s.stream.start(context.Background(), s.store, s.logger())
	wake := s.stream.subscribe()
	defer s.stream.unsubscribe(wake)
	switch {
	case lastID == "":
		var head store.StreamHead
		if head, err = s.store.StreamHead(ctx); err == nil {
			cur = streamCursor{event: head.Position, status: head.Position, skip: head.Snapshot}
		}
	case cur.legacy:
		if cur.event, err = s.store.EventPositionAfterID(ctx, cur.event.ID); err == nil {
			cur.status, err = s.store.StatusPositionAfterID(ctx, cur.status.ID)
		}
	}
	if err != nil {
		writeError(w, r, err)
		return
	}

	out := &streamWriter{w: w, rc: http.NewResponseController(w), timeout: s.streamWriteTimeout()}
	// The server's write timeout bounds requests, not a stream: every write
	// gets a deadline of its own (out.deadline), set before it.
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	out.deadline()
	w.WriteHeader(http.StatusOK)
	if err := out.rc.Flush(); err != nil {
		s.logger().Warn("stream: response cannot be flushed", "err", err)
		return
	}

	heartbeat := time.NewTicker(s.streamHeartbeat())
	defer heartbeat.Stop()
	stopped := s.stream.stopped()
	heldRetry := streamHeldMinRetry
	for {
		// Catch up on every wake-up, and at each heartbeat as a safety net.
		held, err := s.catchUp(ctx, out, s.store, envID, &cur)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, errClientGone) {
				s.logger().Warn("stream: ending a connection; the client resumes with Last-Event-ID", "err", err)
			}
			return
		}
		// Rows held back by a long transaction: read again soon, since its
		// end may wake nobody.
		var retry <-chan time.Time
		if held {
			retry = time.After(heldRetry)
			heldRetry = min(2*heldRetry, streamHeldMaxRetry)
		} else {
			heldRetry = streamHeldMinRetry
		}
		select {
		case <-ctx.Done():
			return
		case <-stopped:
			return
		case <-retry:
		case <-wake:
		case <-heartbeat.C:
			out.deadline()
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
				return
			}
			if err := out.rc.Flush(); err != nil {
				return
			}
		}
	}
}

// streamWriter writes to one stream client, each write bounded by timeout
// (a client that stops reading fills the socket buffers, the write times
// out and the connection is dropped).
type streamWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

// deadline gives the next writes (up to the next call) timeout to finish.
// A ResponseWriter that cannot take deadlines (a test recorder) writes
// without.
func (sw *streamWriter) deadline() {
	_ = sw.rc.SetWriteDeadline(time.Now().Add(sw.timeout))
}

// errBacklogTruncated tells that more rows were behind a client than its
// backlog allows.
var errBacklogTruncated = errors.New("stream backlog over the limit")

// catchUp sends what is new after cur (sendNew) within the Server's
// backlog. When more rows are behind, the client gets a backlog_truncated
// message whose id is the present, and the stream continues from there:
// what it skipped is still readable with GET /api/v1/events.
func (s *Server) catchUp(ctx context.Context, out *streamWriter, f EventStore, envID *uuid.UUID, cur *streamCursor) (held bool, err error) {
	budget := s.streamBacklog()
	held, err = s.sendNew(ctx, out, f, envID, cur, &budget)
	if !errors.Is(err, errBacklogTruncated) {
		return held, err
	}
	skipped := cur.String()
	head, err := f.StreamHead(ctx)
	if err != nil {
		return false, fmt.Errorf("read the stream head: %w", err)
	}
	*cur = streamCursor{event: head.Position, status: head.Position, skip: head.Snapshot}
	out.deadline()
	if err := writeSSE(out.w, "backlog_truncated", *cur, map[string]any{
		"code": "backlog_truncated",
		"message": fmt.Sprintf("more than %d rows were behind this connection; the stream continues from now: "+
			"read what was skipped with GET /api/v1/events", s.streamBacklog()),
		"skippedAfter": skipped,
	}); err != nil {
		return false, err
	}
	if err := out.rc.Flush(); err != nil {
		return false, errors.Join(errClientGone, err)
	}
	return false, nil
}

// sendNew writes every event and status change stored after cur (of envID
// when set) that can be followed yet, and advances cur; it reads at most
// *budget rows (and takes what it read from it), and returns
// errBacklogTruncated when rows are left over. held tells that committed
// rows are held back by a transaction that is still running.
func (s *Server) sendNew(ctx context.Context, out *streamWriter, f EventStore, envID *uuid.UUID,
	cur *streamCursor, budget *int) (held bool, err error) {
	if cur.skip != "" {
		// Once both positions are past every transaction the snapshot knew
		// of, it skips nothing any more.
		if xmax, ok := snapshotXmax(cur.skip); !ok || (cur.event.TxID >= xmax && cur.status.TxID >= xmax) {
			cur.skip = ""
		}
	}
	// Both tables are read below one horizon: a status change committed
	// after an event is then never sent before it, however the horizon
	// moves between the reads.
	head, err := f.StreamHead(ctx)
	if err != nil {
		return false, fmt.Errorf("read the horizon: %w", err)
	}
	horizon := head.Position.TxID
	for {
		if *budget <= 0 {
			return held, errBacklogTruncated
		}
		limit := min(streamPage, *budget)
		events, eventsHeld, err := f.EventsAfter(ctx, store.FollowQuery{After: cur.event, Skip: cur.skip, Limit: limit, Horizon: horizon})
		if err != nil {
			return false, fmt.Errorf("read events: %w", err)
		}
		held = held || eventsHeld
		*budget -= len(events)
		out.deadline()
		sent := false
		for _, e := range events {
			cur.event = store.StreamPosition{TxID: e.TxID, ID: e.ID}
			if envID != nil && e.EnvironmentID != *envID {
				continue
			}
			if err := writeSSE(out.w, "container_event", *cur, eventView(e)); err != nil {
				return false, err
			}
			sent = true
		}
		if sent {
			if err := out.rc.Flush(); err != nil {
				return false, errors.Join(errClientGone, err)
			}
		}
		if len(events) < limit {
			break
		}
	}
	for {
		if *budget <= 0 {
			return held, errBacklogTruncated
		}
		limit := min(streamPage, *budget)
		changes, changesHeld, err := f.StatusChangesAfter(ctx, store.FollowQuery{After: cur.status, Skip: cur.skip, Limit: limit, Horizon: horizon})
		if err != nil {
			return false, fmt.Errorf("read status changes: %w", err)
		}
		held = held || changesHeld
		*budget -= len(changes)
		out.deadline()
		sent := false
		for _, c := range changes {
			cur.status = store.StreamPosition{TxID: c.TxID, ID: c.ID}
			if envID != nil && c.EnvironmentID != *envID {
				continue
			}
			if err := writeSSE(out.w, "environment_status", *cur, statusView(c)); err != nil {
				return false, err
			}
			sent = true
		}
		if sent {
			if err := out.rc.Flush(); err != nil {
				return false, errors.Join(errClientGone, err)
			}
		}
		if len(changes) < limit {
			return held, nil
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

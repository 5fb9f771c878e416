// Package agenthub is the server side of windflow-agent connections. An
// agent dials an API instance (Hub.ServeConnect) over a WebSocket that
// carries a yamux session; the instance records the session in Postgres
// with its own relay URL. A worker that needs the engine looks the session
// up and dials that instance's relay (Hub.ServeRelay, Dialer): each
// connection becomes one yamux stream to the agent, which forwards the
// read-only Engine API calls to its engine. So any worker reaches any
// agent through whichever API instance the agent happens to be connected
// to (docs/architecture.md).
package agenthub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/hashicorp/yamux"

	"github.com/windflow/monitor/internal/agentproto"
	"github.com/windflow/monitor/internal/store"
)

// Store is what the hub needs from Postgres (*store.Store).
type Store interface {
	UseAgentToken(ctx context.Context, hash []byte) (store.AgentToken, error)
	OpenAgentSession(ctx context.Context, sess store.AgentSession) error
	TouchAgentSession(ctx context.Context, envID, sessionID uuid.UUID, rtt time.Duration) (bool, error)
	CloseAgentSession(ctx context.Context, envID, sessionID uuid.UUID) error
	RelaySecret(ctx context.Context) ([]byte, error)
}

// DefaultCheckInterval is how often a session is pinged and recorded as
// alive; a revoked token or a session replaced on another instance is
// noticed within it.
const DefaultCheckInterval = 10 * time.Second

// Config configures a Hub.
type Config struct {
	// RelayURL is the base URL (http://host:port) at which workers reach
	// this instance's relay.
	RelayURL string
	// CheckInterval: zero means DefaultCheckInterval.
	CheckInterval time.Duration
	Logger        *slog.Logger
}

// Hub holds the agent sessions of one API instance.
type Hub struct {
	store    Store
	relayURL string
	every    time.Duration
	log      *slog.Logger
	// ctx bounds every session: Close ends them all.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	sessions map[uuid.UUID]*session
	secret   []byte
}

// session is one connected agent.
type session struct {
	id    uuid.UUID
	envID uuid.UUID
	mux   *yamux.Session
}

// New returns a Hub; Close ends its sessions.
func New(st Store, cfg Config) (*Hub, error) {
	if st == nil {
		return nil, errors.New("agenthub: a store is required")
	}
	if !strings.HasPrefix(cfg.RelayURL, "http://") && !strings.HasPrefix(cfg.RelayURL, "https://") {
		return nil, fmt.Errorf("agenthub: relay URL %q: want http://host:port or https://host:port", cfg.RelayURL)
	}
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = DefaultCheckInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Hub{store: st, relayURL: strings.TrimSuffix(cfg.RelayURL, "/"), every: cfg.CheckInterval,
		log: cfg.Logger, ctx: ctx, cancel: cancel, sessions: map[uuid.UUID]*session{}}, nil
}

// Close ends every session of the hub.
func (h *Hub) Close() {
	h.cancel()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.sessions {
		_ = s.mux.Close()
	}
}

// Connected returns how many agents are connected to this instance.
func (h *Hub) Connected() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions)
}

// ServeConnect accepts an agent: its bearer token names its environment,
// the WebSocket carries a yamux session whose streams this instance opens.
// It returns when the session ends.
func (h *Hub) ServeConnect(w http.ResponseWriter, r *http.Request) {
	token, ok := bearer(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, "an enrolment token is required (Authorization: Bearer wfa_…)")
		return
	}
	tok, err := h.store.UseAgentToken(r.Context(), store.HashAgentToken(token))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusUnauthorized, "the enrolment token is unknown or revoked")
		return
	}
	if err != nil {
		h.log.Error("agent connect: token lookup", "err", err)
		writeError(w, http.StatusServiceUnavailable, "the token cannot be checked now")
		return
	}
	// The server's read and write timeouts would cut the session.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		h.log.Warn("agent connect: websocket upgrade failed", "environment", tok.EnvironmentID, "err", err)
		return
	}
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	conn := websocket.NetConn(ctx, c, websocket.MessageBinary)
	mux, err := yamux.Client(conn, agentproto.YamuxConfig(h.log))
	if err != nil {
		_ = conn.Close()
		return
	}
	s := &session{id: uuid.New(), envID: tok.EnvironmentID, mux: mux}
	defer func() { _ = mux.Close() }()
	version := printable(r.Header.Get(agentproto.HeaderVersion), 64)
	defer h.closeSession(s) // also when recording it fails: open registered it here
	if err := h.open(ctx, s, tok.ID, version, r.RemoteAddr); err != nil {
		h.log.Error("agent connect: record session", "environment", s.envID, "err", err)
		return
	}
	h.log.Info("agent connected", "environment", s.envID, "version", version, "remote", r.RemoteAddr)
	h.watch(ctx, s)
	h.log.Info("agent disconnected", "environment", s.envID)
}

// open registers s here and in the store, replacing an older session of
// the same environment on this instance.
func (h *Hub) open(ctx context.Context, s *session, tokenID uuid.UUID, version, remote string) error {
	h.mu.Lock()
	if old, ok := h.sessions[s.envID]; ok {
		_ = old.mux.Close()
	}
	h.sessions[s.envID] = s
	h.mu.Unlock()
	return h.store.OpenAgentSession(ctx, store.AgentSession{EnvironmentID: s.envID, SessionID: s.id,
		TokenID: tokenID, RelayURL: h.relayURL, AgentVersion: version, RemoteAddr: remote})
}

// watch pings s and records it alive every check interval until it ends,
// is replaced or its token is revoked.
func (h *Hub) watch(ctx context.Context, s *session) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.mux.CloseChan():
			return
		case <-t.C:
		}
		rtt, err := s.mux.Ping()
		if err != nil {
			return
		}
		rtt = max(rtt, time.Microsecond) // stored in µs; 0 would read as "not measured"
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		current, err := h.store.TouchAgentSession(sctx, s.envID, s.id, rtt)
		cancel()
		if err == nil && !current {
			h.log.Info("agent session ended: replaced or its token revoked", "environment", s.envID)
			return
		}
		t.Reset(h.every)
	}
}

// closeSession forgets s here and in the store.
func (h *Hub) closeSession(s *session) {
	h.mu.Lock()
	if h.sessions[s.envID] == s {
		delete(h.sessions, s.envID)
	}
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.store.CloseAgentSession(ctx, s.envID, s.id); err != nil {
		h.log.Warn("agent session: forget", "environment", s.envID, "err", err)
	}
}

// local returns the session of envID held here.
func (h *Hub) local(envID uuid.UUID) (*session, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.sessions[envID]
	return s, ok
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	v := r.Header.Get("Authorization")
	if len(v) < 7 || !strings.EqualFold(v[:7], "bearer ") {
		return "", false
	}
	token := strings.TrimSpace(v[7:])
	return token, token != ""
}

// printable returns s without control characters, at most n bytes.
func printable(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "")
	}
	if s == "" {
		return "unknown"
	}
	return s
}

// writeError answers status with the API's error shape.
func writeError(w http.ResponseWriter, status int, message string) {
	code := strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "_"))
	body, _ := json.Marshal(map[string]map[string]string{"error": {"code": code, "message": message}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

package agenthub

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/store"
)

// SessionStore is what a Dialer reads from Postgres (*store.Store).
type SessionStore interface {
	AgentSession(ctx context.Context, envID uuid.UUID) (store.AgentSession, error)
	RelaySecret(ctx context.Context) ([]byte, error)
}

// ErrNotConnected is wrapped by the dial error of an environment whose
// agent is connected to no API instance.
var ErrNotConnected = errors.New("agent not connected")

// sessionTTL is how long a Dialer trusts a looked-up session: a cycle's
// many connections cost one query, and an agent that moved to another
// instance is found within it (a failed dial forgets it at once).
const sessionTTL = 5 * time.Second

// Dialer opens streams to agent-placed engines for a worker, through the
// relay of the API instance that holds each agent's session.
type Dialer struct {
	store  SessionStore
	dialer net.Dialer

	mu       sync.Mutex
	secret   string
	sessions map[uuid.UUID]cachedSession
}

type cachedSession struct {
	relayURL string
	at       time.Time
}

// NewDialer returns a Dialer reading sessions from st.
func NewDialer(st SessionStore) *Dialer {
	return &Dialer{store: st, dialer: net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second},
		sessions: map[uuid.UUID]cachedSession{}}
}

// DialAgent returns a connection to the engine of envID: a byte stream to
// its agent, on which the caller speaks the Engine API.
func (d *Dialer) DialAgent(ctx context.Context, envID uuid.UUID) (net.Conn, error) {
	relayURL, secret, err := d.route(ctx, envID)
	if err != nil {
		return nil, err
	}
	conn, err := d.upgrade(ctx, relayURL, secret, envID)
	if err != nil {
		d.forget(envID)
		return nil, err
	}
	return conn, nil
}

// route returns the relay URL of envID's session and the relay secret.
func (d *Dialer) route(ctx context.Context, envID uuid.UUID) (string, string, error) {
	d.mu.Lock()
	c, ok := d.sessions[envID]
	secret := d.secret
	d.mu.Unlock()
	if secret == "" {
		raw, err := d.store.RelaySecret(ctx)
		if err != nil {
			return "", "", fmt.Errorf("agent relay: %w", err)
		}
		secret = hex.EncodeToString(raw)
	}
	if !ok || time.Since(c.at) > sessionTTL {
		sess, err := d.store.AgentSession(ctx, envID)
		if errors.Is(err, store.ErrNotFound) {
			return "", "", fmt.Errorf("environment %s: %w to any API instance", envID, ErrNotConnected)
		}
		if err != nil {
			return "", "", fmt.Errorf("agent relay: %w", err)
		}
		c = cachedSession{relayURL: sess.RelayURL, at: time.Now()}
	}
	d.mu.Lock()
	d.secret = secret
	d.sessions[envID] = c
	d.mu.Unlock()
	return c.relayURL, secret, nil
}

func (d *Dialer) forget(envID uuid.UUID) {
	d.mu.Lock()
	delete(d.sessions, envID)
	d.mu.Unlock()
}

// upgrade dials relayURL and turns the connection into a stream to the
// agent of envID (101 Switching Protocols).
func (d *Dialer) upgrade(ctx context.Context, relayURL, secret string, envID uuid.UUID) (net.Conn, error) {
	u, err := url.Parse(relayURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("agent relay: bad relay URL %q", relayURL)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	var conn net.Conn
	if u.Scheme == "https" {
		td := tls.Dialer{NetDialer: &d.dialer, Config: &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}}
		conn, err = td.DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.dialer.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("agent relay %s: %w", u.Host, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	path := strings.Replace(RelayPath, "{id}", envID.String(), 1)
	req := &http.Request{Method: http.MethodGet, URL: &url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path + path},
		Host: u.Host, Header: http.Header{
			"Connection":    {"Upgrade"},
			"Upgrade":       {relayProtocol},
			"Authorization": {"Bearer " + secret},
		}}
	br := bufio.NewReaderSize(conn, 1<<10)
	var resp *http.Response
	if err = req.Write(conn); err == nil {
		resp, err = http.ReadResponse(br, req)
	}
	if err != nil {
		_ = conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("agent relay %s: %w", u.Host, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		_ = resp.Body.Close()
		_ = conn.Close()
		if resp.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("environment %s: %w to %s", envID, ErrNotConnected, u.Host)
		}
		return nil, fmt.Errorf("agent relay %s: answered %s", u.Host, resp.Status)
	}
	if br.Buffered() > 0 {
		return &bufferedConn{Conn: conn, r: br}, nil
	}
	return conn, nil
}

// bufferedConn reads what its reader holds before the connection.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

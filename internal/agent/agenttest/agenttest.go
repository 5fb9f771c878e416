// Package agenttest stands in for the API's side of the agent connection
// in tests: an HTTP server at agentproto.ConnectPath that checks the
// Bearer token, upgrades to a WebSocket, opens a yamux client session on
// it, and hands the session to the test, with a Docker client that sends
// its requests through the agent.
package agenttest

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/yamux"
	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/agentproto"
)

// Server is a fake API agent endpoint. Its zero value is not usable: see
// NewServer.
type Server struct {
	// URL is the server's base URL (http:// or https://127.0.0.1:port),
	// the agent's ServerURL.
	URL string
	// TLS verifies the server of NewTLSServer (nil for NewServer): the
	// agent's TLSClientConfig.
	TLS *tls.Config

	token    atomic.Pointer[string]
	status   atomic.Int64 // answer other than the upgrade; 0: upgrade
	attempts atomic.Int64
	sessions chan Session
}

// Session is one connected agent.
type Session struct {
	*yamux.Session
	// Version is the agent's version header.
	Version string
}

// NewServer starts a plain HTTP server that accepts the agents presenting
// token and answers the others 401. It stops, closing every session, when
// the test ends.
func NewServer(t testing.TB, token string) *Server {
	t.Helper()
	return newServer(t, token, false)
}

// NewTLSServer is NewServer over HTTPS, offering HTTP/2 as most
// production front ends do.
func NewTLSServer(t testing.TB, token string) *Server {
	t.Helper()
	return newServer(t, token, true)
}

func newServer(t testing.TB, token string, useTLS bool) *Server {
	s := &Server{sessions: make(chan Session, 16)}
	s.token.Store(&token)
	ctx, cancel := context.WithCancel(context.Background())
	mux := http.NewServeMux()
	mux.HandleFunc(agentproto.ConnectPath, func(w http.ResponseWriter, r *http.Request) {
		s.attempts.Add(1)
		if st := s.status.Load(); st != 0 {
			http.Error(w, "unavailable", int(st))
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+*s.token.Load() {
			http.Error(w, "token refused", http.StatusUnauthorized)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		conn := websocket.NetConn(ctx, c, websocket.MessageBinary)
		sess, err := yamux.Client(conn, agentproto.YamuxConfig(nil))
		if err != nil {
			_ = conn.Close()
			return
		}
		select {
		case s.sessions <- Session{Session: sess, Version: r.Header.Get(agentproto.HeaderVersion)}:
		default:
			_ = sess.Close()
		}
	})
	hs := httptest.NewUnstartedServer(mux)
	if useTLS {
		hs.EnableHTTP2 = true
		hs.StartTLS()
		s.TLS = hs.Client().Transport.(*http.Transport).TLSClientConfig
	} else {
		hs.Start()
	}
	s.URL = hs.URL
	t.Cleanup(func() {
		cancel()
		hs.CloseClientConnections()
		hs.Close()
	})
	return s
}

// SetToken makes the server accept token only: agents with the old one
// get 401 from their next attempt on.
func (s *Server) SetToken(token string) { s.token.Store(&token) }

// SetStatus makes the server answer every attempt with status (e.g. 503)
// instead of checking the token; 0 restores the upgrade.
func (s *Server) SetStatus(status int) { s.status.Store(int64(status)) }

// Attempts returns the number of connection attempts the server has seen.
func (s *Server) Attempts() int64 { return s.attempts.Load() }

// Next waits up to timeout for the next agent session, failing the test
// without one. The session is closed when the test ends.
func (s *Server) Next(t testing.TB, timeout time.Duration) Session {
	t.Helper()
	select {
	case sess := <-s.sessions:
		t.Cleanup(func() { _ = sess.Close() })
		return sess
	case <-time.After(timeout):
		t.Fatalf("no agent connected within %v (%d attempts)", timeout, s.Attempts())
		return Session{}
	}
}

// DockerClient returns a Docker client whose every connection is a new
// stream of sess, closed when the test ends.
func DockerClient(t testing.TB, sess *yamux.Session) *client.Client {
	t.Helper()
	cli, err := client.New(
		client.WithHost("tcp://windflow-agent:2375"),
		client.WithDialContext(func(context.Context, string, string) (net.Conn, error) {
			return sess.Open()
		}),
	)
	if err != nil {
		t.Fatalf("docker client over the agent session: %v", err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

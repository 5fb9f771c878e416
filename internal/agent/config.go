// Package agent is the Windflow agent: a process next to a Docker engine
// that dials out to the Windflow API over a WebSocket, carries a yamux
// session on it, and answers the API's Engine API requests on that
// session's streams from its engine, forwarding only the read-only calls
// the monitor makes (agentproto.ReadOnlyCall) and refusing the rest with
// 403. It listens on no port and holds only its token, the server URL and
// the engine endpoint.
package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/windflow/monitor/internal/agentproto"
)

// DefaultEngine is the engine endpoint when none is given.
const DefaultEngine = "unix:///var/run/docker.sock"

// ErrBadConfig is wrapped by every configuration error of Run.
var ErrBadConfig = errors.New("bad agent configuration")

// Config is what an agent runs with.
type Config struct {
	// ServerURL is the Windflow API's base URL, https://host[:port][/base];
	// http:// only to a loopback host or with AllowPlainHTTP.
	ServerURL string
	// Token is the agent's enrolment token, sent as a Bearer token.
	Token string
	// Engine is the engine endpoint: unix:///path or tcp://host:port
	// (plain); empty: DefaultEngine.
	Engine string
	// AllowPlainHTTP allows an http:// ServerURL to a non-loopback host.
	AllowPlainHTTP bool
	// Version is the agent's version, sent in agentproto.HeaderVersion.
	Version string
	// TLSClientConfig verifies the server; nil: the system's roots
	// (SSL_CERT_FILE adds a private CA).
	TLSClientConfig *tls.Config
	// Logger receives the agent's log; nil: slog.Default().
	Logger *slog.Logger
	// Sleep waits d or until ctx ends (then it returns ctx.Err()) between
	// connection attempts; nil: a real timer. Tests make the backoff fast
	// with it and see its delays.
	Sleep func(ctx context.Context, d time.Duration) error
}

// connectURL checks ServerURL against the HTTPS rule and returns the
// WebSocket URL of agentproto.ConnectPath under it.
func (c Config) connectURL() (string, error) {
	u, err := url.Parse(c.ServerURL)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", fmt.Errorf("%w: server URL must be https://host[:port][/path]", ErrBadConfig)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%w: server URL must carry no user, query or fragment (the token goes in --token)", ErrBadConfig)
	}
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	case "http":
		if !c.AllowPlainHTTP && !agentproto.LoopbackHost(u.Hostname()) {
			return "", fmt.Errorf("%w: plain http:// to %s would send the token in clear: use https://, or --allow-plain-http", ErrBadConfig, u.Hostname())
		}
		u.Scheme = "ws"
	default:
		return "", fmt.Errorf("%w: server URL scheme must be https or http, got %q", ErrBadConfig, u.Scheme)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + agentproto.ConnectPath
	u.RawPath = ""
	return u.String(), nil
}

// engineAddr is where the engine listens: network "unix" with a socket
// path, or "tcp" with host:port.
type engineAddr struct {
	network, addr string
}

// parseEngine parses an engine endpoint (see Config.Engine).
func parseEngine(endpoint string) (engineAddr, error) {
	if endpoint == "" {
		endpoint = DefaultEngine
	}
	bad := fmt.Errorf("%w: engine must be unix:///path/to/docker.sock or tcp://host:port, got %q", ErrBadConfig, endpoint)
	u, err := url.Parse(endpoint)
	if err != nil || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return engineAddr{}, bad
	}
	switch u.Scheme {
	case "unix":
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") || strings.HasSuffix(u.Path, "/") {
			return engineAddr{}, bad
		}
		return engineAddr{"unix", u.Path}, nil
	case "tcp":
		if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" || (u.Path != "" && u.Path != "/") {
			return engineAddr{}, bad
		}
		return engineAddr{"tcp", u.Host}, nil
	}
	return engineAddr{}, bad
}

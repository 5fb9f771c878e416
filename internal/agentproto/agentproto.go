// Package agentproto is the wire contract between a Windflow agent and the
// API it connects to: the path and headers of the WebSocket upgrade, the
// yamux configuration both ends use over it, and the list of Engine API
// calls an agent forwards to its engine.
//
// The agent dials out (it listens on no port). After the upgrade the
// WebSocket carries binary messages that form one yamux session: the API
// side is the yamux client and opens one stream per connection of its
// Docker client; the agent is the yamux server, accepts the streams and
// answers the plain HTTP/1.1 requests on them from its engine, refusing
// every call ReadOnlyCall does not allow.
package agentproto

import (
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/hashicorp/yamux"
)

// ConnectPath is the path of the API's WebSocket endpoint agents dial.
const ConnectPath = "/agent/v1/connect"

// HeaderVersion is the upgrade request header that carries the agent's
// version. The token travels in the Authorization header (Bearer).
const HeaderVersion = "X-Windflow-Agent-Version"

// Keepalive of the yamux session: a ping every KeepAliveInterval, and a
// write (ping included) that does not complete within WriteTimeout closes
// the session. A dead peer behind a NAT that drops the connection silently
// is so noticed within about 25 s by either end, and the pings keep NAT and
// proxy idle timers (often 60 s or more) from closing an idle session.
const (
	KeepAliveInterval = 15 * time.Second
	WriteTimeout      = 10 * time.Second
)

// YamuxConfig returns the session configuration both ends use. yamux logs
// to logger at debug level; a nil logger discards its log. The stream
// window stays yamux's default (256 KB): a monitor's answers (a list or an
// info of some tens of KB, small stream frames) fit in one window, and the
// window bounds what the API buffers per stream of a slow reader
// (internal/agent's BenchmarkLargeAnswer measures the throughput).
func YamuxConfig(logger *slog.Logger) *yamux.Config {
	cfg := yamux.DefaultConfig()
	cfg.EnableKeepAlive = true
	cfg.KeepAliveInterval = KeepAliveInterval
	cfg.ConnectionWriteTimeout = WriteTimeout
	cfg.LogOutput = nil
	if logger == nil {
		cfg.LogOutput = io.Discard
	} else {
		cfg.Logger = slog.NewLogLogger(logger.Handler(), slog.LevelDebug)
	}
	return cfg
}

// LoopbackHost reports whether host (a name or an IP address, without port
// or brackets) is localhost or a loopback address: the only servers an
// agent reaches over plain HTTP without being told to.
func LoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

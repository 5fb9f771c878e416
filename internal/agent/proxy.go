package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync/atomic"
	"time"

	"github.com/windflow/monitor/internal/agentproto"
)

// engineHost is the Host of requests to a unix-socket engine (dockerd
// ignores it; the moby client sends the same kind of placeholder).
const engineHost = "docker.sock"

// maxPathInMessage bounds the path quoted back in a refusal.
const maxPathInMessage = 200

// forwardedHeaders are the only request headers passed to the engine: the
// Engine API's read calls need none of the others, and Authorization,
// cookies or registry credentials must never reach it.
var forwardedHeaders = []string{"Accept", "User-Agent"}

// proxy answers Engine API requests from the engine, refusing every call
// that is not read-only (agentproto.ReadOnlyCall).
type proxy struct {
	rp      *httputil.ReverseProxy
	log     *slog.Logger
	refused atomic.Int64 // requests refused since start
}

// newProxy returns the proxy to the engine at ea.
func newProxy(ea engineAddr, log *slog.Logger) *proxy {
	var d net.Dialer
	host := engineHost
	if ea.network == "tcp" {
		host = ea.addr
	}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, ea.network, ea.addr)
		},
		MaxIdleConns:        4,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     time.Minute,
		// No HTTP/2, no proxy from the environment: the engine is local.
		ForceAttemptHTTP2: false,
	}
	p := &proxy{log: log}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			out := pr.Out
			out.URL.Scheme, out.URL.Host, out.Host = "http", host, host
			out.URL.Path, out.URL.RawPath = pr.In.URL.Path, ""
			out.URL.RawQuery = pr.In.URL.RawQuery
			out.Header = http.Header{}
			for _, h := range forwardedHeaders {
				if v := pr.In.Header.Values(h); len(v) > 0 {
					out.Header[h] = v
				}
			}
			out.Body, out.ContentLength = http.NoBody, 0
		},
		Transport: transport,
		// Flush every write at once: /events and stats stream.
		FlushInterval: -1,
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the API side went away
			}
			log.Warn("engine request failed", "method", r.Method, "path", bounded(r.URL.Path), "err", err)
			writeMessage(w, http.StatusBadGateway, "windflow agent: engine unreachable: "+err.Error())
		},
	}
	return p
}

// ServeHTTP forwards r to the engine, or refuses it with 403 and a
// Docker-shaped error body.
func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	if !agentproto.ReadOnlyCall(r.Method, path) || !plainRequest(r) {
		n := p.refused.Add(1)
		p.log.Warn("refused an engine call that is not read-only monitoring",
			"method", bounded(r.Method), "path", bounded(path), "refused_total", n)
		writeMessage(w, http.StatusForbidden, fmt.Sprintf("windflow agent: refused %s %s: not a read-only monitoring call",
			bounded(r.Method), bounded(path)))
		return
	}
	p.rp.ServeHTTP(w, r)
}

// plainRequest reports whether r is a plain request without a body or a
// protocol switch (attach, exec and the like upgrade the connection).
func plainRequest(r *http.Request) bool {
	return r.ContentLength == 0 && len(r.TransferEncoding) == 0 &&
		r.Header.Get("Upgrade") == "" && !hasToken(r.Header, "Connection", "upgrade")
}

// hasToken reports whether a comma-separated header of h names token.
func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), token) {
				return true
			}
		}
	}
	return false
}

// writeMessage writes the Engine API's error shape, {"message": msg}.
func writeMessage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Message string `json:"message"`
	}{msg})
}

// bounded returns s cut to maxPathInMessage bytes.
func bounded(s string) string {
	if len(s) > maxPathInMessage {
		return s[:maxPathInMessage] + "..."
	}
	return s
}

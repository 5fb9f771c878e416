package agentproto_test

import (
	"io"
	"log/slog"
	pathpkg "path"
	"strings"
	"testing"
	"time"

	"github.com/windflow/monitor/internal/agentproto"
)

func TestReadOnlyCall(t *testing.T) {
	allowed := []string{
		"GET /_ping", "HEAD /_ping", "GET /v1.41/_ping", "HEAD /v1.54/_ping",
		"GET /version", "GET /v1.41/version",
		"GET /info", "GET /v1.41/info",
		"GET /containers/json", "GET /v1.41/containers/json",
		"GET /containers/0123abcd/json", "GET /v1.41/containers/web-1.a_b/json",
		"GET /containers/0123abcd/stats", "GET /v1.47/containers/0123abcd/stats",
		"GET /events", "GET /v1.41/events",
		"GET /system/df", "GET /v1.41/system/df",
		"GET /v10.0/info",
	}
	refused := []string{
		// write-shaped calls
		"POST /containers/create", "POST /v1.41/containers/create",
		"POST /containers/abc/start", "POST /containers/abc/kill", "POST /containers/abc/stop",
		"DELETE /containers/abc", "DELETE /v1.41/containers/abc",
		"POST /containers/abc/exec", "POST /exec/abc/start", "GET /exec/abc/json",
		"POST /containers/abc/attach", "GET /containers/abc/attach/ws",
		"GET /containers/abc/logs", "GET /containers/abc/archive", "GET /containers/abc/export",
		"PUT /containers/abc/archive", "POST /containers/prune",
		"GET /images/json", "POST /images/create", "GET /volumes", "GET /networks",
		"POST /build", "POST /session", "GET /swarm", "POST /auth", "GET /plugins",
		// read-only paths under other methods
		"POST /_ping", "POST /info", "PUT /containers/json", "PATCH /events",
		"DELETE /containers/abc/json", "OPTIONS /_ping", "CONNECT /_ping", "TRACE /info",
		"get /info", "POST /containers/abc/stats",
		// path tricks
		"GET /containers/../containers/create", "GET /containers/abc/../../images/json",
		"GET /containers/../json", "GET /containers/./json", "GET /containers/..%2Fimages/json",
		"GET /containers/abc%2Fexec/json", "GET /containers%2Fjson", "GET /%69nfo",
		"GET //info", "GET /info/", "GET /containers//json", "GET /v1.41//info",
		"GET info", "GET ", "GET /", "GET /v1.41", "GET /v1.41/", "GET /v1/info",
		"GET /va.b/info", "GET /v1.41/v1.41/info", "GET /containers/-abc/json",
		"GET /containers/.abc/json", "GET /containers/abc/json/x", "GET /containers/abc",
		"GET /info;x", "GET /info?x", "GET /in fo", "GET /info\x00", "GET /ïnfo",
		"GET /containers/abc/stats/../../create", "GET /system/df/../../containers/create",
		"GET /system", "GET /containers", "GET /INFO",
		"GET http://engine/info", "GET /" + strings.Repeat("a", 600) + "/json",
	}
	for _, call := range allowed {
		method, path, _ := strings.Cut(call, " ")
		if !agentproto.ReadOnlyCall(method, path) {
			t.Errorf("ReadOnlyCall(%q, %q) = false, want true", method, path)
		}
	}
	for _, call := range refused {
		method, path, _ := strings.Cut(call, " ")
		if agentproto.ReadOnlyCall(method, path) {
			t.Errorf("ReadOnlyCall(%q, %q) = true, want false", method, path)
		}
	}
}

func TestYamuxConfig(t *testing.T) {
	for _, logger := range []*slog.Logger{nil, slog.New(slog.NewTextHandler(io.Discard, nil))} {
		cfg := agentproto.YamuxConfig(logger)
		if !cfg.EnableKeepAlive || cfg.KeepAliveInterval != 15*time.Second || cfg.ConnectionWriteTimeout != 10*time.Second {
			t.Errorf("keepalive %v every %v, write timeout %v", cfg.EnableKeepAlive, cfg.KeepAliveInterval, cfg.ConnectionWriteTimeout)
		}
		if (cfg.LogOutput == nil) == (cfg.Logger == nil) {
			t.Errorf("logger %v: want exactly one of LogOutput and Logger", logger)
		}
	}
}

// FuzzReadOnlyCall checks the properties every allowed call has, whatever
// the path: GET or HEAD, already in clean form, no escapes, and one of the
// listed endpoints.
func FuzzReadOnlyCall(f *testing.F) {
	for _, seed := range []string{"/info", "/v1.41/containers/abc/stats", "/containers/../json", "/containers/a%2F/json", "/events"} {
		f.Add("GET", seed)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		if !agentproto.ReadOnlyCall(method, path) {
			return
		}
		if method != "GET" && method != "HEAD" {
			t.Fatalf("allowed method %q", method)
		}
		if pathpkg.Clean(path) != path || strings.ContainsAny(path, "%?#;\\ ") {
			t.Fatalf("allowed path %q is not plain", path)
		}
		last := path[strings.LastIndex(path, "/")+1:]
		switch last {
		case "_ping", "version", "info", "events", "json", "stats", "df":
		default:
			t.Fatalf("allowed path %q ends in %q", path, last)
		}
	})
}

package engine

import (
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/client"
)

// TestReadStatsDirect checks the direct stats read (engines without TLS)
// against an engine on a unix socket giving each kind of answer: a record,
// a container that vanished (404, 409, the empty record of a stopped one),
// an engine error (its message, bounded, in the error), a connection cut
// before the answer (unreachable), and the request it sends.
func TestReadStatsDirect(t *testing.T) {
	const id = "0123456789abcdef"
	record := `{"id":"` + id + `","name":"/web","read":"2026-01-02T03:04:05Z","preread":"2026-01-02T03:04:04Z",` +
		`"cpu_stats":{"cpu_usage":{"total_usage":2000000000},"system_cpu_usage":20000000000,"online_cpus":2},` +
		`"precpu_stats":{"cpu_usage":{"total_usage":1500000000},"system_cpu_usage":18000000000,"online_cpus":2},` +
		`"memory_stats":{"usage":1000,"limit":4000000000}}` + "\n"
	tests := []struct {
		name    string
		answer  func(w http.ResponseWriter)
		wantOK  bool
		wantErr string // "" = no error; "unreachable" = wraps ErrUnreachable
	}{
		{"record", func(w http.ResponseWriter) { _, _ = io.WriteString(w, record) }, true, ""},
		{"404", func(w http.ResponseWriter) { http.Error(w, `{"message":"No such container"}`, http.StatusNotFound) }, false, ""},
		{"409", func(w http.ResponseWriter) { http.Error(w, `{"message":"is not running"}`, http.StatusConflict) }, false, ""},
		{"stopped: empty record", func(w http.ResponseWriter) { _, _ = io.WriteString(w, `{"id":"`+id+`","name":"/web"}`) }, false, ""},
		{"engine error", func(w http.ResponseWriter) {
			http.Error(w, `{"message":"cgroup gone`+strings.Repeat("x", 5000)+`"}`, http.StatusInternalServerError)
		}, false, "500 Internal Server Error: cgroup gone"},
		{"connection cut", func(w http.ResponseWriter) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			_ = conn.Close()
		}, false, "unreachable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			type request struct{ path, query, connection string }
			requests := make(chan request, 1)
			sock := filepath.Join(t.TempDir(), "engine.sock")
			ln, err := net.Listen("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests <- request{r.URL.Path, r.URL.RawQuery, r.Header.Get("Connection")}
				tc.answer(w)
			})}
			go func() { _ = srv.Serve(ln) }()
			t.Cleanup(func() { _ = srv.Close() })
			cli, err := client.New(client.WithHost("unix://"+sock), client.WithAPIVersion("1.41"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cli.Close() })

			s, ok, err := readStats(t.Context(), cli, id, &CPUCounters{TotalUsage: 1_000_000_000, SystemUsage: 10_000_000_000, OnlineCPUs: 2})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("readStats: %v", err)
			case tc.wantErr == "unreachable" && !errors.Is(err, ErrUnreachable):
				t.Fatalf("readStats = %v, want an error wrapping ErrUnreachable", err)
			case tc.wantErr != "" && tc.wantErr != "unreachable" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("readStats = %v, want an error with %q", err, tc.wantErr)
			}
			if err != nil && len(err.Error()) > 2000 {
				t.Errorf("error text of %d bytes: the engine's message is not bounded", len(err.Error()))
			}
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if ok && (s.ID != id || s.MemoryUsed == 0) {
				t.Errorf("sample = %+v, want container %s with its memory", s, id)
			}
			got := <-requests
			if got.path != "/v1.41/containers/"+id+"/stats" || got.query != "one-shot=true&stream=false" || got.connection != "close" {
				t.Errorf("request %s?%s (Connection %q), want /v1.41/containers/%s/stats?one-shot=true&stream=false, Connection close",
					got.path, got.query, got.connection, id)
			}
		})
	}
}

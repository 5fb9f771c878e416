package agent_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/windflow/monitor/internal/agent"
	"github.com/windflow/monitor/internal/agent/agenttest"
)

// BenchmarkLargeAnswer reads a 4 MB answer (a /containers/json of some
// thousands of containers) from a fake engine through an agent over a
// loopback WebSocket+yamux session with yamux's default 256 KB stream
// window: the transport's throughput (MB/s), next to the engine's own
// answer time.
func BenchmarkLargeAnswer(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 4<<20)
	eng := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(body)
	}))
	b.Cleanup(eng.Close)
	srv := agenttest.NewServer(b, token)
	start(b, agent.Config{ServerURL: srv.URL, Token: token, Engine: "tcp://" + strings.TrimPrefix(eng.URL, "http://")})
	sess := srv.Next(b, 10*time.Second)
	for _, c := range []struct {
		name string
		dial func(context.Context, string, string) (net.Conn, error)
		url  string
	}{
		{"direct", nil, eng.URL},
		{"agent", func(context.Context, string, string) (net.Conn, error) { return sess.Open() }, "http://agent"},
	} {
		b.Run(c.name, func(b *testing.B) {
			hc := &http.Client{Transport: &http.Transport{DialContext: c.dial}}
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				res, err := hc.Get(c.url + "/containers/json")
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				if err != nil || n != int64(len(body)) {
					b.Fatalf("read %d bytes, %v", n, err)
				}
			}
		})
	}
}

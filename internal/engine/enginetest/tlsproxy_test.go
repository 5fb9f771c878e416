package enginetest_test

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/engine/enginetest"
)

// The TLS proxy also fronts a plain tcp:// engine, so that the TLS tests
// run whatever DOCKER_HOST the suite is given. A plain TCP forwarder in
// front of the local engine stands for such an engine here.
func TestTLSProxyFrontsATCPEngine(t *testing.T) {
	enginetest.Client(t)
	socket := strings.TrimPrefix(enginetest.Endpoint(), "unix://")
	if !strings.HasPrefix(socket, "/") {
		// The suite's engine is already tcp://: front it directly.
		socket = ""
	}
	upstream := enginetest.Endpoint()
	if socket != "" {
		upstream = "tcp://" + tcpForwarder(t, socket)
	}
	endpoint, m := enginetest.StartTLSProxy(t, upstream)
	cli, err := engine.ConnectTLS(t.Context(), endpoint, &m)
	if err != nil {
		t.Fatalf("ConnectTLS through the proxy in front of %s: %v", upstream, err)
	}
	defer cli.Close()
	if _, err := cli.Ping(t.Context(), client.PingOptions{}); err != nil {
		t.Fatalf("ping: %v", err)
	}
}

// tcpForwarder listens on 127.0.0.1 and forwards each connection to the
// unix socket, until the test ends.
func tcpForwarder(t *testing.T, socket string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				u, err := net.Dial("unix", socket)
				if err != nil {
					return
				}
				defer u.Close()
				go func() { _, _ = io.Copy(u, c); _ = u.(*net.UnixConn).CloseWrite() }()
				_, _ = io.Copy(c, u)
			})
		}
	})
	return ln.Addr().String()
}

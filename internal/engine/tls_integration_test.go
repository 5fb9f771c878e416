package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/engine/enginetest"
)

// TestConnectTLSThroughProxy connects to the test engine through a TLS
// endpoint that requires client certificates (enginetest.StartTLSProxy, in
// front of the engine's unix socket), and collects through it.
func TestConnectTLSThroughProxy(t *testing.T) {
	local := enginetest.Client(t) // skips when no engine answers
	endpoint, m := enginetest.StartTLSProxy(t, enginetest.Endpoint())
	busy := enginetest.RunContainer(t, local, "wf-tls-busy", "sh", "-c", "while :; do :; done")

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cli, err := engine.ConnectTLS(ctx, endpoint, &m)
	if err != nil {
		t.Fatalf("ConnectTLS: %v", err)
	}
	defer cli.Close()
	if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if cli.ClientVersion() != local.ClientVersion() {
		t.Errorf("negotiated API %s through TLS, %s locally", cli.ClientVersion(), local.ClientVersion())
	}
	host, containers, err := engine.Collector{Parallelism: 4}.Collect(ctx, cli, nil)
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	found := false
	for _, c := range containers {
		found = found || c.ID == busy
	}
	if !found || host.MemoryTotal <= 0 {
		t.Fatalf("collected %d containers (busy one found: %t), host %+v", len(containers), found, host)
	}
}

func TestConnectTLSRejected(t *testing.T) {
	enginetest.Client(t)
	endpoint, m := enginetest.StartTLSProxy(t, enginetest.Endpoint())
	stranger := enginetest.NewPKI(t, "another CA").ClientMaterial(t, "stranger")
	for _, tc := range []struct {
		name string
		m    *engine.TLSMaterial
		want string
	}{
		{"no TLS", nil, ""},
		{"no client certificate", &engine.TLSMaterial{CA: m.CA}, "certificate"},
		{"wrong CA", &engine.TLSMaterial{CA: stranger.CA, Cert: m.Cert, Key: m.Key}, "certificate signed by unknown authority"},
		{"client certificate of another CA", &engine.TLSMaterial{CA: m.CA, Cert: stranger.Cert, Key: stranger.Key}, "certificate"},
		{"system roots", &engine.TLSMaterial{Cert: m.Cert, Key: m.Key}, "unknown authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			cli, err := engine.ConnectTLS(ctx, endpoint, tc.m)
			if err == nil {
				cli.Close()
				t.Fatal("ConnectTLS succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("ConnectTLS = %v; want an error about %q", err, tc.want)
			}
			t.Logf("%s: %v", tc.name, err)
		})
	}
	// A client certificate the engine stops accepting (revoked).
	revoking := enginetest.StartTLSProxyServer(t, enginetest.Endpoint())
	if cli, err := engine.ConnectTLS(t.Context(), revoking.Endpoint, &revoking.Material); err != nil {
		t.Fatalf("ConnectTLS before revocation: %v", err)
	} else {
		cli.Close()
	}
	revoking.RejectClient("windflow test client")
	if cli, err := engine.ConnectTLS(t.Context(), revoking.Endpoint, &revoking.Material); err == nil {
		cli.Close()
		t.Fatal("ConnectTLS with a revoked client certificate succeeded")
	}
	// A server certificate for 127.0.0.1 does not pass for another name.
	other := strings.Replace(endpoint, "127.0.0.1", "localhost", 1)
	if cli, err := engine.ConnectTLS(t.Context(), other, &m); err == nil {
		cli.Close()
		t.Fatal("ConnectTLS under a name the certificate does not carry succeeded")
	} else if !strings.Contains(err.Error(), "localhost") {
		t.Fatalf("ConnectTLS(localhost) = %v; want a name mismatch", err)
	}
}

// TestReadEventsThroughTLS reads a window of past events and the live
// stream through the TLS endpoint.
func TestReadEventsThroughTLS(t *testing.T) {
	local := enginetest.Client(t)
	endpoint, m := enginetest.StartTLSProxy(t, enginetest.Endpoint())
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cli, err := engine.ConnectTLS(ctx, endpoint, &m)
	if err != nil {
		t.Fatalf("ConnectTLS: %v", err)
	}
	defer cli.Close()

	since, err := engine.SystemTime(ctx, cli)
	if err != nil {
		t.Fatal(err)
	}
	// Live: follow the stream, then create a container.
	live := make(chan engine.Event, 64)
	liveCtx, stopLive := context.WithCancel(ctx)
	liveDone := make(chan error, 1)
	go func() {
		liveDone <- engine.ReadEvents(liveCtx, cli, engine.EventsQuery{Since: since.UnixNano(), Filtered: true},
			func(e engine.Event) error { live <- e; return nil }, nil)
	}()
	id := enginetest.RunContainer(t, local, "wf-tls-events", "sleep", "3600")
	deadline := time.After(30 * time.Second)
	for started := false; !started; {
		select {
		case e := <-live:
			started = e.ContainerID == id && e.Action == "start"
		case err := <-liveDone:
			t.Fatalf("live ReadEvents ended: %v", err)
		case <-deadline:
			t.Fatal("no live start event through TLS")
		}
	}
	stopLive()
	if err := <-liveDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("live ReadEvents after cancel = %v, want context.Canceled", err)
	}

	// A closed window: create and start of the container, then the end.
	until, err := engine.SystemTime(ctx, cli)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]bool{}
	err = engine.ReadEvents(ctx, cli, engine.EventsQuery{Since: since.UnixNano(), Until: until.UnixNano(), Filtered: true},
		func(e engine.Event) error {
			if e.ContainerID == id {
				actions[e.Action] = true
			}
			return nil
		}, nil)
	if err != nil {
		t.Fatalf("ReadEvents window: %v", err)
	}
	if !actions["create"] || !actions["start"] {
		t.Fatalf("actions of the container in the window: %v", actions)
	}
	ring, err := engine.ReadRing(ctx, cli)
	if err != nil || ring.Len == 0 {
		t.Fatalf("ReadRing through TLS = %+v, %v", ring, err)
	}
}

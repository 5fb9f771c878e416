package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/engine/enginetest"
	"github.com/windflow/monitor/internal/netpolicy"
	"github.com/windflow/monitor/internal/netpolicy/netpolicytest"
)

func policy(t *testing.T, list string) *netpolicy.Policy {
	t.Helper()
	p, err := netpolicy.Parse(list)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func wantRefused(t *testing.T, what string, err error, rule netpolicy.Rule) {
	t.Helper()
	refused, ok := errors.AsType[*netpolicy.RefusedError](err)
	if !ok || refused.Rule != rule || !errors.Is(err, netpolicy.ErrRefused) {
		t.Fatalf("%s: %v, want refused as %s", what, err, rule)
	}
	if !rule.Always() && !strings.Contains(err.Error(), netpolicy.Setting) {
		t.Fatalf("%s: %q does not say how to allow the target", what, err)
	}
}

// TestClientUnderPolicyMakesNoConnection: an engine client for a target
// the policy refuses fails with the refusal — for a literal address when it
// is built, for a name that resolves to a refused address on every request,
// the raw events dial and the TLS dial — and no connection reaches the
// listener.
func TestClientUnderPolicyMakesNoConnection(t *testing.T) {
	hostPort, accepted := netpolicytest.AcceptCounter(t, nil)
	_, port, _ := net.SplitHostPort(hostPort)
	strict := policy(t, "private")
	ctx := t.Context()

	_, err := engine.NewClientWithPolicy("tcp://127.0.0.1:"+port, nil, strict)
	wantRefused(t, "client for a literal loopback endpoint", err, netpolicy.RuleLoopback)
	_, err = engine.NewClientWithPolicy("tcp://169.254.169.254:2375", nil, netpolicy.Permissive())
	wantRefused(t, "client for the metadata address, permissive", err, netpolicy.RuleMetadata)

	plain, err := engine.NewClientWithPolicy("tcp://localhost:"+port, nil, strict)
	if err != nil {
		t.Fatalf("a name is judged when dialed, not when the client is built: %v", err)
	}
	t.Cleanup(func() { _ = plain.Close() })
	_, err = engine.SystemTime(ctx, plain)
	wantRefused(t, "request to a name resolving to loopback", err, netpolicy.RuleLoopback)
	if !errors.Is(err, engine.ErrUnreachable) {
		t.Errorf("a refused engine should count as unreachable: %v", err)
	}
	err = engine.ReadEvents(ctx, plain, engine.EventsQuery{}, func(engine.Event) error { return nil }, nil)
	wantRefused(t, "events of a name resolving to loopback", err, netpolicy.RuleLoopback)
	_, err = engine.EventsDialer(plain)(ctx)
	wantRefused(t, "raw events dial", err, netpolicy.RuleLoopback)

	m := enginetest.NewPKI(t, "ca").ClientMaterial(t, "c")
	secure, err := engine.NewClientWithPolicy("tcp://localhost:"+port, &m, strict)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = secure.Close() })
	_, err = secure.Ping(ctx, client.PingOptions{})
	wantRefused(t, "TLS request", err, netpolicy.RuleLoopback)
	_, err = engine.EventsDialer(secure)(ctx)
	wantRefused(t, "TLS events dial", err, netpolicy.RuleLoopback)

	if n := accepted.Load(); n != 0 {
		t.Fatalf("%d connections reached the listener, want 0", n)
	}
	// The same client with loopback allowed does connect: the listener counts.
	open, err := engine.NewClientWithPolicy("tcp://localhost:"+port, nil, policy(t, "loopback"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = open.Close() })
	_, _ = open.Ping(ctx, client.PingOptions{})
	if accepted.Load() == 0 {
		t.Fatal("with loopback allowed the client never reached the listener")
	}
}

// TestClientSocketPolicy: the real engine's socket works when it is on the
// allow-list and is refused, before any request, when it is not.
func TestClientSocketPolicy(t *testing.T) {
	enginetest.Client(t) // skips when no engine answers
	endpoint := enginetest.Endpoint()
	if !strings.HasPrefix(endpoint, "unix://") {
		t.Skipf("the test engine %s is not a unix socket", endpoint)
	}
	allowed := policy(t, "").WithSockets(endpoint)
	cli, err := engine.NewClientWithPolicy(endpoint, nil, allowed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	if _, err := engine.SystemTime(t.Context(), cli); err != nil {
		t.Fatalf("engine on an allowed socket: %v", err)
	}
	_, err = engine.NewClientWithPolicy(endpoint, nil, policy(t, "loopback,private,unix:///run/other.sock"))
	wantRefused(t, "socket not on the allow-list", err, netpolicy.RuleSocket)
}

// TestEngineErrorBodyBounded: an engine that answers with a huge error
// message gives an error of bounded size, for API requests and for the
// events stream.
func TestEngineErrorBodyBounded(t *testing.T) {
	huge := strings.Repeat("A", 900<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_ping" {
			w.Header().Set("Api-Version", "1.41")
			_, _ = w.Write([]byte("OK"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": huge})
	}))
	t.Cleanup(srv.Close)
	cli, err := engine.NewClientWithPolicy("tcp://"+srv.Listener.Addr().String(), nil, policy(t, "loopback"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	limit := netpolicy.MaxRemoteText + 200 // the remote text and our own words
	_, err = engine.SystemTime(t.Context(), cli)
	if err == nil || len(err.Error()) > limit || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("info error has %d bytes, want at most %d and marked truncated", len(err.Error()), limit)
	}
	err = engine.ReadEvents(context.Background(), cli, engine.EventsQuery{}, func(engine.Event) error { return nil }, nil)
	if err == nil || len(err.Error()) > limit || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("events error has %d bytes, want at most %d and marked truncated", len(err.Error()), limit)
	}
	if got := engine.BoundError(nil); got != nil {
		t.Fatalf("BoundError(nil) = %v", got)
	}
}

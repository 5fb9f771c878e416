package engine_test

import (
	"testing"

	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"

	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/engine/enginetest"
)

// TestConnectNegotiatesVersion checks that Connect leaves the client on the
// engine's own API version when the engine is older than the client (API
// 1.41 for Debian's dockerd 20.10).
func TestConnectNegotiatesVersion(t *testing.T) {
	enginetest.Client(t) // skips when no engine answers
	cli, err := engine.Connect(t.Context(), enginetest.Endpoint())
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	ping, err := cli.Ping(t.Context(), client.PingOptions{})
	if err != nil {
		t.Fatalf("Ping: %v", err)
	}
	want := client.MaxAPIVersion
	if versions.LessThan(ping.APIVersion, want) {
		want = ping.APIVersion
	}
	if got := cli.ClientVersion(); got != want {
		t.Errorf("ClientVersion = %s, want %s (engine %s)", got, want, ping.APIVersion)
	}
	t.Logf("engine API %s, client API %s", ping.APIVersion, cli.ClientVersion())
}

package telemetry

import (
	"strings"
	"testing"
)

// TestAgentsConnected: the gauge reads the count at each scrape.
func TestAgentsConnected(t *testing.T) {
	m := newMetrics(t)
	n := 3
	if err := m.RegisterAgentsConnected(func() int { return n }); err != nil {
		t.Fatal(err)
	}
	if body := scrape(t, m.Handler()); !strings.Contains(body, "windflow_agents_connected 3") {
		t.Errorf("/metrics lacks windflow_agents_connected 3")
	}
	n = 0
	if body := scrape(t, m.Handler()); !strings.Contains(body, "windflow_agents_connected 0") {
		t.Errorf("/metrics lacks windflow_agents_connected 0 after the agents left")
	}
	if err := m.RegisterAgentsConnected(func() int { return 0 }); err == nil {
		t.Error("registering twice: no error")
	}
}

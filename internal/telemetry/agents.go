package telemetry

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// RegisterAgentsConnected registers windflow_agents_connected: the agents
// connected to this API process now, as connected reports them.
func (m *Metrics) RegisterAgentsConnected(connected func() int) error {
	if m == nil {
		return nil
	}
	g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "agents_connected",
		Help: "Agents (windflow-agent) connected to this API process now.",
	}, func() float64 { return float64(connected()) })
	if err := m.reg.Register(g); err != nil {
		return fmt.Errorf("telemetry: register agents_connected: %w", err)
	}
	return nil
}

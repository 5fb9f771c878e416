package agent_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/engine/enginetest"
)

// benchContainers is how many idle containers BenchmarkRoundTrip runs, the
// agent budget's engine.
const benchContainers = 20

// BenchmarkRoundTrip measures, on the test engine, "direct" on its socket
// and "agent" through an agent over a loopback WebSocket+yamux session
// (the Docker client's connections are yamux streams): GET /_ping, the
// transport's own cost; GET /containers/json then GET /info; and
// engine.Collector's whole cycle over benchContainers running containers
// (plus any other on the engine). A cycle's stats reads wait for the
// engine's 1 s stats pass and the engine is shared, so the figures vary:
// compare several runs (-count 3).
func BenchmarkRoundTrip(b *testing.B) {
	via, direct := throughAgent(b)
	for i := range benchContainers {
		enginetest.RunContainer(b, direct, fmt.Sprintf("wf-agent-bench-%d", i), "sleep", "3600")
	}
	for _, c := range []struct {
		name string
		cli  *client.Client
	}{{"direct", direct}, {"agent", via}} {
		b.Run("ping/"+c.name, func(b *testing.B) {
			ctx := b.Context()
			for b.Loop() {
				if _, err := c.cli.Ping(ctx, client.PingOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("list+info/"+c.name, func(b *testing.B) {
			ctx := b.Context()
			for b.Loop() {
				if _, err := c.cli.ContainerList(ctx, client.ContainerListOptions{All: true}); err != nil {
					b.Fatal(err)
				}
				if _, err := c.cli.Info(ctx, client.InfoOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, c := range []struct {
		name string
		cli  *client.Client
	}{{"direct", direct}, {"agent", via}} {
		b.Run("collect/"+c.name, func(b *testing.B) {
			ctx := b.Context()
			var col engine.Collector
			_, first, err := col.Collect(ctx, c.cli, nil)
			if err != nil {
				b.Fatal(err)
			}
			prev := map[string]engine.CPUCounters{}
			for _, s := range first {
				prev[s.ID] = s.Counters
			}
			for b.Loop() {
				if _, _, err := col.Collect(context.WithoutCancel(ctx), c.cli, prev); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(first)), "containers")
		})
	}
}

package engine_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/agent"
	"github.com/windflow/monitor/internal/agenthub"
	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/engine/enginetest"
	"github.com/windflow/monitor/internal/settings"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
)

// BenchmarkCycleAgent measures the cycle of BenchmarkCycle (Collector.Collect
// over cycleContainers idle containers, the daemon's stats collector idle at
// the start of each op) two ways, back to back in one run:
//
//   - "direct": the worker's client of the engine's own endpoint;
//   - "agent": the client a worker builds for an agent:// environment, every
//     connection dialled through an agenthub.Dialer to the relay of an
//     in-process agenthub.Hub, to an in-process agent.Run whose engine is
//     the same endpoint.
//
// Each reports ns/op (the mean), median-s and cpu-ms/op (this process's
// CPU time: the client's, plus the dialer's, hub's and agent's for "agent";
// the engine's is not counted); "agent" also reports
// x-direct, the ratio of its median to direct's, and logs a summary line.
// The engine is shared: see BenchmarkCycle on bimodal durations.
func BenchmarkCycleAgent(b *testing.B) {
	direct := enginetest.Client(b)
	for i := range cycleContainers {
		enginetest.RunContainer(b, direct, fmt.Sprintf("wf-agentcycle-%d", i), "sleep", "3600")
	}
	through := agentClient(b, enginetest.Endpoint())

	ctx := b.Context()
	medians := map[string]time.Duration{}
	for _, m := range []struct {
		name string
		cli  *client.Client
	}{{"direct", direct}, {"agent", through}} {
		var c engine.Collector
		_, first, err := c.Collect(ctx, m.cli, nil)
		if err != nil {
			b.Fatalf("%s: first cycle: %v", m.name, err)
		}
		prev := countersOf(first)
		b.Run(m.name, func(b *testing.B) {
			var spent []time.Duration
			var cpu time.Duration
			for b.Loop() {
				time.Sleep(idleGap)
				start, cpuStart := time.Now(), processCPU(b)
				_, samples, err := c.Collect(ctx, m.cli, prev)
				d := time.Since(start)
				cpu += processCPU(b) - cpuStart
				if err != nil {
					b.Fatal(err)
				}
				if len(samples) < cycleContainers {
					b.Fatalf("read %d containers, want >= %d", len(samples), cycleContainers)
				}
				prev = countersOf(samples)
				spent = append(spent, d)
			}
			var sum time.Duration
			for _, d := range spent {
				sum += d
			}
			med := median(spent)
			medians[m.name] = med
			b.ReportMetric(float64(sum.Nanoseconds())/float64(len(spent)), "ns/op")
			b.ReportMetric(med.Seconds(), "median-s")
			b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(len(spent)), "cpu-ms/op")
			if d, ok := medians["direct"]; ok && m.name == "agent" {
				b.ReportMetric(med.Seconds()/d.Seconds(), "x-direct")
				b.Logf("%d containers, medians: agent %.3f s, direct %.3f s; agent = %.2f× direct",
					cycleContainers, med.Seconds(), d.Seconds(), med.Seconds()/d.Seconds())
			}
		})
	}
}

// agentClient returns the client a worker builds for an agent:// environment
// whose agent runs here for the engine at endpoint: an environment and its
// token in a fresh schema, a Hub on an httptest server, agent.Run against
// it, and an agenthub.Dialer. It waits until the agent's session is
// recorded; everything stops when the benchmark ends.
func agentClient(b *testing.B, endpoint string) *client.Client {
	b.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.NewSchema(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	env, err := st.CreateEnvironment(ctx, store.Environment{Name: "agent-bench", Endpoint: engine.AgentEndpoint, Settings: settings.Default()})
	if err != nil {
		b.Fatal(err)
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	token := "wfa_" + hex.EncodeToString(raw)
	if _, err := st.CreateAgentToken(ctx, store.AgentToken{EnvironmentID: env.ID, Hash: store.HashAgentToken(token), Hint: token[:8]}); err != nil {
		b.Fatal(err)
	}

	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(mux)
	srv.Start()
	quiet := slog.New(slog.DiscardHandler)
	hub, err := agenthub.New(st, agenthub.Config{RelayURL: srv.URL, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	mux.HandleFunc("GET /agent/v1/connect", hub.ServeConnect)
	mux.HandleFunc("GET "+agenthub.RelayPath, func(w http.ResponseWriter, r *http.Request) {
		id, err := uuid.Parse(r.PathValue("id"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		hub.ServeRelay(w, r, id)
	})

	agentCtx, stopAgent := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = agent.Run(agentCtx, agent.Config{ServerURL: srv.URL, Token: token, Engine: endpoint, Version: "bench", Logger: quiet})
	}()
	// Stopped in this order: the agent, the hub's sessions, the server.
	b.Cleanup(func() { stopAgent(); <-done; hub.Close(); srv.Close() })

	dialer := agenthub.NewDialer(st)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := st.AgentSession(ctx, env.ID)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrNotFound) || time.Now().After(deadline) {
			b.Fatalf("agent session not recorded: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cli, err := engine.NewAgentClient(func(ctx context.Context) (net.Conn, error) { return dialer.DialAgent(ctx, env.ID) })
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cli.Close() })
	return cli
}

// processCPU is the user and system CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

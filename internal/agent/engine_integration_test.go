package agent_test

import (
	"context"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/agent"
	"github.com/windflow/monitor/internal/agent/agenttest"
	"github.com/windflow/monitor/internal/engine/enginetest"
)

// throughAgent starts an agent on the test engine (enginetest.Endpoint)
// connected to a fake API endpoint, and returns a Docker client whose
// requests go through it, with the direct client of the same engine.
func throughAgent(t testing.TB) (via, direct *client.Client) {
	t.Helper()
	direct = enginetest.Client(t) // skips without an engine
	srv := agenttest.NewServer(t, token)
	start(t, agent.Config{ServerURL: srv.URL, Token: token, Engine: enginetest.Endpoint(), Version: "test"})
	sess := srv.Next(t, 10*time.Second)
	return agenttest.DockerClient(t, sess.Session), direct
}

// TestRealEngineThroughAgent reads the real engine through a real
// WebSocket+yamux session and checks that a container create sent the same
// way is refused at the agent and creates nothing.
func TestRealEngineThroughAgent(t *testing.T) {
	via, direct := throughAgent(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	img := enginetest.BusyboxImage(t, direct)
	id := enginetest.RunContainer(t, direct, "agent-read", "sleep", "300")

	ping, err := via.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil || ping.APIVersion == "" {
		t.Fatalf("Ping through the agent: %+v, %v", ping, err)
	}
	info, err := via.Info(ctx, client.InfoOptions{})
	if err != nil {
		t.Fatalf("Info through the agent: %v", err)
	}
	directInfo, err := direct.Info(ctx, client.InfoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Info.ID != directInfo.Info.ID || info.Info.ID == "" {
		t.Errorf("Info through the agent names engine %q, direct %q", info.Info.ID, directInfo.Info.ID)
	}
	list, err := via.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		t.Fatalf("ContainerList through the agent: %v", err)
	}
	if !listed(list.Items, id) {
		t.Errorf("ContainerList through the agent lacks %s (%d containers)", id[:12], len(list.Items))
	}
	if _, err := via.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); err != nil {
		t.Errorf("ContainerInspect through the agent: %v", err)
	}
	stats, err := via.ContainerStats(ctx, id, client.ContainerStatsOptions{Stream: false})
	if err != nil {
		t.Errorf("ContainerStats through the agent: %v", err)
	} else {
		_ = stats.Body.Close()
	}
	if _, err := via.DiskUsage(ctx, client.DiskUsageOptions{}); err != nil {
		t.Errorf("DiskUsage through the agent: %v", err)
	}

	name := "windflow-agent-refused-" + id[:8]
	_, err = via.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name, Config: &container.Config{Image: img, Cmd: []string{"true"}}})
	if err == nil || !strings.Contains(err.Error(), "not a read-only monitoring call") {
		t.Errorf("ContainerCreate through the agent: %v, want the agent's refusal", err)
	}
	if _, err := direct.ContainerInspect(ctx, name, client.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("container %s after a refused create: inspect says %v, want not found", name, err)
		_, _ = direct.ContainerRemove(ctx, name, client.ContainerRemoveOptions{Force: true})
	}
	if _, err := via.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true}); err == nil {
		t.Error("ContainerRemove through the agent succeeded")
	}
	if _, err := direct.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); err != nil {
		t.Errorf("container after a refused remove: %v", err)
	}
}

// TestRealEventsThroughAgent checks that the /events stream flows through
// the agent as the engine writes it: a container started while the stream
// is open appears on it.
func TestRealEventsThroughAgent(t *testing.T) {
	via, direct := throughAgent(t)
	enginetest.BusyboxImage(t, direct)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := via.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		t.Fatal(err)
	}
	events := via.Events(ctx, client.EventsListOptions{})
	time.Sleep(200 * time.Millisecond) // let the stream open before the container starts
	started := time.Now()
	id := enginetest.RunContainer(t, direct, "agent-events", "sleep", "300")
	for {
		select {
		case m := <-events.Messages:
			if m.Actor.ID == id && m.Action == "start" {
				t.Logf("start event through the agent %v after the container was created and started", time.Since(started).Round(time.Millisecond))
				return
			}
		case err := <-events.Err:
			t.Fatalf("event stream through the agent: %v", err)
		case <-ctx.Done():
			t.Fatal("no start event through the agent within a minute")
		}
	}
}

func listed(items []container.Summary, id string) bool {
	for _, c := range items {
		if c.ID == id {
			return true
		}
	}
	return false
}

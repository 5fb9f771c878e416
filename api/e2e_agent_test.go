package api_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/agent"
	"github.com/windflow/monitor/internal/agenthub"
	"github.com/windflow/monitor/internal/browsertest"
	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/engine/enginetest"
)

// agentEnvironmentJSON is the answer of creating an agent-placed
// environment: the environment and its first enrolment token.
type agentEnvironmentJSON struct {
	environmentJSON
	AgentEnrolment struct {
		ID        string `json:"id"`
		Hint      string `json:"hint"`
		Token     string `json:"token"`
		ServerURL string `json:"serverUrl"`
		Command   string `json:"command"`
	} `json:"agentEnrolment"`
}

type agentStateJSON struct {
	Connected      bool       `json:"connected"`
	ConnectedSince *time.Time `json:"connectedSince"`
	Version        string     `json:"version"`
	RTTMillis      *float64   `json:"rttMs"`
}

type statusChangeJSON struct {
	Online    bool      `json:"online"`
	ChangedAt time.Time `json:"changedAt"`
}

// createAgentEnvironment creates an agent-placed environment through api
// (a base URL) and deletes it when the test ends.
func (b *testBundle) createAgentEnvironment(t *testing.T, name string) agentEnvironmentJSON {
	t.Helper()
	var env agentEnvironmentJSON
	body := fmt.Sprintf(`{"name":%q,"endpoint":"agent://","settings":{"metricsIntervalSeconds":10,"offlineAfter":1}}`, name)
	if code := b.call(t, http.MethodPost, "/api/v1/environments", body, &env); code != http.StatusCreated {
		t.Fatalf("create agent environment: status %d", code)
	}
	t.Cleanup(func() { b.call(t, http.MethodDelete, "/api/v1/environments/"+env.ID, "", nil) })
	return env
}

// runningAgent is an in-process agent; stop ends it and waits.
type runningAgent struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	delays []time.Duration
}

// startAgent runs an agent for the engine at endpoint against server.
func startAgent(t *testing.T, server, endpoint, token string) *runningAgent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a := &runningAgent{cancel: cancel, done: make(chan struct{})}
	cfg := agent.Config{ServerURL: server, Token: token, Engine: endpoint, Version: "e2e-agent",
		Sleep: func(ctx context.Context, d time.Duration) error {
			a.mu.Lock()
			a.delays = append(a.delays, d)
			a.mu.Unlock()
			// The delays are recorded as asked and waited out at most 200 ms.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(min(d, 200*time.Millisecond)):
				return nil
			}
		}}
	go func() {
		defer close(a.done)
		_ = agent.Run(ctx, cfg)
	}()
	t.Cleanup(a.stop)
	return a
}

func (a *runningAgent) stop() {
	a.cancel()
	<-a.done
}

func (a *runningAgent) waits() []time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Duration(nil), a.delays...)
}

func (b *testBundle) agentState(t *testing.T, envID string) agentStateJSON {
	t.Helper()
	var st agentStateJSON
	if code := b.call(t, http.MethodGet, "/api/v1/environments/"+envID+"/agent", "", &st); code != http.StatusOK {
		t.Fatalf("agent state: status %d", code)
	}
	return st
}

func (b *testBundle) statusChanges(t *testing.T, envID string) []statusChangeJSON {
	t.Helper()
	var out struct {
		Changes []statusChangeJSON `json:"changes"`
	}
	if code := b.call(t, http.MethodGet, "/api/v1/environments/"+envID+"/status/history?limit=100", "", &out); code != http.StatusOK {
		t.Fatalf("status history: status %d", code)
	}
	return out.Changes
}

// countOnline counts the recorded transitions to online and to offline.
func countOnline(changes []statusChangeJSON) (online, offline int) {
	for _, c := range changes {
		if c.Online {
			online++
		} else {
			offline++
		}
	}
	return online, offline
}

// TestEndToEnd_Agent runs an environment placed behind an in-process
// agent on the real stack: enrolment, metrics, events and status through
// the relay, the agent's state, a write-shaped call refused at the agent,
// offline and online once each when the agent stops and comes back, and a
// revoked token answered 401 with a growing backoff.
func TestEndToEnd_Agent(t *testing.T) {
	d, cli := privateEngine(t)
	b := setup(t)
	env := b.createAgentEnvironment(t, "agent-"+uuid.NewString()[:8])
	enrol := env.AgentEnrolment
	if !strings.HasPrefix(enrol.Token, "wfa_") || len(enrol.Token) < 40 || !strings.HasPrefix(enrol.Token, enrol.Hint) {
		t.Fatalf("enrolment token %q (hint %q): want wfa_ and 32 random bytes", enrol.Token, enrol.Hint)
	}
	if want := "WINDFLOW_AGENT_TOKEN=" + enrol.Token + " windflow-agent --server " + b.api.URL; enrol.Command != want {
		t.Fatalf("command = %q, want %q", enrol.Command, want)
	}
	var tokens struct {
		Tokens []map[string]any `json:"tokens"`
	}
	b.call(t, http.MethodGet, "/api/v1/environments/"+env.ID+"/agent-tokens", "", &tokens)
	if len(tokens.Tokens) != 1 || tokens.Tokens[0]["token"] != nil || tokens.Tokens[0]["hint"] != enrol.Hint {
		t.Fatalf("token list = %v: want one token, its hint and never the token", tokens.Tokens)
	}
	if st := b.agentState(t, env.ID); st.Connected {
		t.Fatalf("agent connected before it was started: %+v", st)
	}

	a := startAgent(t, enrol.ServerURL, d.Endpoint, enrol.Token)
	sleeper := enginetest.RunContainer(t, cli, "wf-agent-"+uuid.NewString()[:8], "sleep", "3600")
	eventually(t, 60*time.Second, "metrics and events through the agent", func() bool {
		var containers struct {
			Containers []containerJSON `json:"containers"`
		}
		b.call(t, http.MethodGet, "/api/v1/environments/"+env.ID+"/containers/metrics", "", &containers)
		seen := false
		for _, c := range containers.Containers {
			seen = seen || c.ContainerID == sleeper
		}
		return seen && len(b.storedEvents(t, env.ID)) > 0
	})
	st := b.agentState(t, env.ID)
	if !st.Connected || st.Version != "e2e-agent" || st.ConnectedSince == nil || st.RTTMillis == nil {
		t.Fatalf("agent state = %+v: want connected, its version, since and a round trip", st)
	}
	online, offline := countOnline(b.statusChanges(t, env.ID))
	if online != 1 || offline != 0 {
		t.Fatalf("status history: %d online, %d offline; want 1 online", online, offline)
	}
	// The dashboard shows the agent next to the environment.
	bctx := browsertest.New(t)
	browsertest.Navigate(t, bctx, b.api.URL+"/")
	browsertest.WaitText(t, bctx, fmt.Sprintf(`tr[data-env=%q] .agent-state`, env.ID), "agent connected", 20*time.Second)
	browsertest.WaitText(t, bctx, fmt.Sprintf(`tr[data-env=%q] .badge`, env.ID), "online", 20*time.Second)
	browsertest.Navigate(t, bctx, b.api.URL+"/#/env/"+env.ID)
	browsertest.WaitText(t, bctx, ".agent-state", "agent connected", 20*time.Second)
	browsertest.Screenshot(t, bctx, "dashboard-agent")

	// A compromised server cannot use the agent to change the engine.
	dialer := agenthub.NewDialer(b.store)
	envID := uuid.MustParse(env.ID)
	write, err := engine.NewAgentClient(func(ctx context.Context) (net.Conn, error) { return dialer.DialAgent(ctx, envID) })
	if err != nil {
		t.Fatal(err)
	}
	defer write.Close()
	name := "wf-agent-forbidden-" + uuid.NewString()[:8]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = write.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name,
		Config: &container.Config{Image: enginetest.ImageRef, Cmd: []string{"true"}}})
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("create through the agent: err = %v, want the agent's refusal", err)
	}
	if _, err := cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{}); err == nil {
		t.Fatalf("container %s exists after a refused create", name)
	}

	// The agent stops: one offline; it comes back: one online.
	a.stop()
	eventually(t, 60*time.Second, "offline after the agent stopped", func() bool {
		_, offline := countOnline(b.statusChanges(t, env.ID))
		return offline == 1
	})
	if st := b.agentState(t, env.ID); st.Connected {
		t.Fatalf("agent state after stop = %+v", st)
	}
	startAgent(t, enrol.ServerURL, d.Endpoint, enrol.Token)
	eventually(t, 60*time.Second, "online after the agent came back", func() bool {
		online, _ := countOnline(b.statusChanges(t, env.ID))
		return online == 2
	})
	time.Sleep(11 * time.Second) // a cycle more: no further transition
	online, offline = countOnline(b.statusChanges(t, env.ID))
	if online != 2 || offline != 1 {
		t.Fatalf("status history: %d online, %d offline; want 2 and 1", online, offline)
	}

	// Revoking the token ends the session and every later attempt gets 401,
	// with growing waits.
	revoked := startAgentAfterRevoke(t, b, env.ID, enrol.ID, enrol.ServerURL, d.Endpoint, enrol.Token)
	eventually(t, 30*time.Second, "the revoked agent's retries", func() bool { return len(revoked.waits()) >= 4 })
	waits := revoked.waits()
	for i := 1; i < len(waits); i++ {
		if waits[i] < waits[i-1] || waits[0] < 10*time.Second {
			t.Fatalf("waits after 401 = %v: want at least 10 s, never shrinking", waits)
		}
	}
	if waits[len(waits)-1] <= waits[0] {
		t.Fatalf("waits after 401 = %v: want them to grow", waits)
	}
	t.Logf("agent: waits after a revoked token: %v", waits)
}

// startAgentAfterRevoke revokes tokenID of envID (all agents using it are
// cut off) and starts an agent with the revoked token.
func startAgentAfterRevoke(t *testing.T, b *testBundle, envID, tokenID, server, endpoint, token string) *runningAgent {
	t.Helper()
	var revoked struct {
		RevokedAt *time.Time `json:"revokedAt"`
	}
	if code := b.call(t, http.MethodDelete, "/api/v1/environments/"+envID+"/agent-tokens/"+tokenID, "", &revoked); code != http.StatusOK || revoked.RevokedAt == nil {
		t.Fatalf("revoke: status %d, %+v", code, revoked)
	}
	eventually(t, 20*time.Second, "the session of the revoked token closed", func() bool {
		return !b.agentState(t, envID).Connected
	})
	return startAgent(t, server, endpoint, token)
}

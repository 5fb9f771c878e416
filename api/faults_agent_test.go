package api_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/engine/enginetest"
)

// rotateAt is the restart of TestFaultAgentKill that rotates the token.
const rotateAt = 3

// newAgentToken makes a new enrolment token of envID through the API and
// returns it and its id.
func (b *testBundle) newAgentToken(t *testing.T, envID string) (token, id string) {
	t.Helper()
	var out struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	if code := b.call(t, http.MethodPost, "/api/v1/environments/"+envID+"/agent-tokens", "", &out); code != http.StatusCreated || out.Token == "" {
		t.Fatalf("new agent token: status %d", code)
	}
	return out.Token, out.ID
}

// buildAgent builds the windflow-agent binary into a temporary directory.
func buildAgent(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "windflow-agent")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/windflow-agent").CombinedOutput(); err != nil {
		t.Fatalf("build windflow-agent: %v\n%s", err, out)
	}
	return bin
}

// startAgentProcess starts bin as the agent of an environment: token in
// its environment, engine and server as flags.
func startAgentProcess(t *testing.T, bin, name, server, engineEndpoint, token string) *workerProcess {
	t.Helper()
	cmd := exec.Command(bin, "--server", server, "--engine", engineEndpoint)
	cmd.Env = append(os.Environ(), "WINDFLOW_AGENT_TOKEN="+token, "WINDFLOW_LOG_LEVEL=warn")
	return startProcess(t, cmd, name)
}

// TestFaultAgentKill SIGKILLs the windflow-agent process of an
// agent-placed environment faultKills times while containers churn on a
// private engine, starting a new agent process a second after each kill.
// Each kill cuts the event stream, which the worker reads through the API
// instance's relay and the agent; its retry resumes from the cursor once
// the new agent is connected.
//
// The third restart rotates the token (new token, then the old one
// revoked). Two API instances and two workers run; each new agent connects to the
// other instance than the last, so the workers' relay route moves with it.
//
// Proves: every event the engine reported for the window stored exactly
// once through the agent — 0 lost, 0 doubled, no gap — and each kill's
// stream resumed within maxFailover, whichever instance the agent chose.
func TestFaultAgentKill(t *testing.T) {
	if testing.Short() {
		t.Skip("fault suite: about 2 minutes")
	}
	d, cli := privateEngine(t)
	bin := buildAgent(t)
	b := setupWith(t, 2)
	servers := []string{b.api.URL, b.startAPI(t).URL}
	env := b.createAgentEnvironment(t, "fault-agent-"+uuid.NewString()[:8])
	token, tokenID := env.AgentEnrolment.Token, env.AgentEnrolment.ID
	agent := startAgentProcess(t, bin, "agent-0", servers[0], d.Endpoint, token)
	warm := enginetest.RunContainer(t, cli, "wf-warm", "sleep", "3600")
	b.waitForContainer(t, env.ID, warm)

	stop := referenceEvents(t, d.Endpoint)
	from := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rounds, stopChurn := startChurn(ctx, t, cli)
	defer stopChurn()

	var failovers []time.Duration
	for i := 1; i <= faultKills; i++ {
		// Mid-churn: a lifecycle happened since the last kill, and (first
		// kill) the stream runs through this agent.
		killedRounds := rounds.Load()
		waitUntil(ctx, func() bool {
			return rounds.Load() > killedRounds && (i > 1 || b.storedCount(t, env.ID, from) > 0)
		})
		agent.kill(syscall.SIGKILL)
		killedAt := time.Now()
		time.Sleep(time.Second) // events happen with no agent at all
		// One restart rotates the token: the new agent starts with a new
		// one, and the old one is revoked once it is connected.
		oldTokenID := tokenID
		if i == rotateAt {
			token, tokenID = b.newAgentToken(t, env.ID)
		}
		// Every other agent connects to the other API instance: the
		// workers follow it there through the instance's relay.
		agent = startAgentProcess(t, bin, fmt.Sprintf("agent-%d", i), servers[i%2], d.Endpoint, token)
		failovers = append(failovers, b.resumedAfter(ctx, t, env.ID, killedAt))
		sess, err := b.store.AgentSession(ctx, uuid.MustParse(env.ID))
		if err != nil || sess.RelayURL != servers[i%2] || sess.TokenID.String() != tokenID {
			t.Fatalf("kill %d: the agent's session %+v (%v): want it on %s with token %s", i, sess, err, servers[i%2], tokenID)
		}
		if i == rotateAt {
			if code := b.call(t, http.MethodDelete, "/api/v1/environments/"+env.ID+"/agent-tokens/"+oldTokenID, "", nil); code != http.StatusOK {
				t.Fatalf("revoke the old token: status %d", code)
			}
		}
		t.Logf("kill %d: stream resumed after %.1f s", i, failovers[len(failovers)-1].Seconds())
	}
	last := rounds.Load()
	waitUntil(ctx, func() bool { return rounds.Load() > last })
	stopChurn()
	until := time.Now()
	expected := stop(until)
	if used := engineEventsSince(t, d.Endpoint, from, until); used >= engineRing {
		t.Fatalf("the engine emitted %d events in the window: more than its ring holds (%d)", used, engineRing)
	}
	b.waitForEvents(t, env.ID, expected, 2*time.Minute)
	missing, extra, doubled := compareEvents(expected, b.storedIn(t, env.ID, from, until))
	gaps := b.gaps(t, env.ID)
	worst := slices.Max(failovers)
	t.Logf("faults: agent SIGKILL x%d: %d events, %d lost, %d doubled, %d not reported by the engine, %d gaps; stream resumed (kill to first event stored after it) max %.1f s, each %s",
		faultKills, len(expected), len(missing), len(doubled), len(extra), len(gaps), worst.Seconds(), secondsList(failovers))
	if len(expected) == 0 {
		t.Fatal("the engine reported no event for the window")
	}
	if len(missing)+len(extra)+len(doubled) > 0 {
		t.Errorf("missing %v; not reported by the engine %v; stored twice %v", missing, extra, doubled)
	}
	if len(gaps) != 0 {
		t.Errorf("gaps recorded although the engine still held every event: %+v", gaps)
	}
	if worst > maxFailover {
		t.Errorf("the stream resumed %.1f s after a kill, over %s", worst.Seconds(), maxFailover)
	}
}

package api_test

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/engine/enginetest"
	"github.com/windflow/monitor/workflows"
)

// The fault suite's cases in this package (make faults; their names start
// with TestFault). TestEndToEnd_EventsEngineRestart (e2e_events_test.go)
// and TestHostileRequests (hostile_test.go) are its other cases here.

// faultKills is how many times TestFaultWorkerKill SIGKILLs the worker.
const faultKills = 5

// faultChurnEvery is the pause between two container lifecycles during
// TestFaultWorkerKill: about 8 events every 5.5 s, so that the ~2-minute
// window stays well inside the engine's 256-event ring.
const faultChurnEvery = 5 * time.Second

// engineRing is how many events (of every type) a Docker engine keeps.
const engineRing = 256

// TestFaultWorkerKill SIGKILLs the only worker process faultKills times
// while containers churn on a private engine, starting a new worker process
// right after each kill. Each kill takes the event stream with it: the new
// worker finds the dead worker's lease expired, fails the stream's attempt
// (stream failover, activities/failover.go), and the retry resumes on it
// from the cursor stored with the events. The kills also hit workers in the
// middle of the environment's workflow tasks and checks (each one killed
// once it has stored a metrics cycle).
//
// Proves: every event the engine reported for the window (the docker CLI's
// replay) stored exactly once — 0 lost, 0 doubled — with no gap recorded,
// the engine's ring having held every event of the window; and each kill's
// stream resumed within maxFailover.
func TestFaultWorkerKill(t *testing.T) {
	if testing.Short() {
		t.Skip("fault suite: about 3 minutes")
	}
	d, cli := privateEngine(t)
	bin := buildWindflow(t)
	b := setupWith(t, 0)
	worker := b.startWorker(t, bin, "worker-0")
	env := b.createEnvironmentWith(t, "fault-kill-"+uuid.NewString()[:8], d.Endpoint,
		`{"eventMode":"stream","metricsIntervalSeconds":10}`)
	warm := enginetest.RunContainer(t, cli, "wf-warm", "sleep", "3600")
	b.waitForContainer(t, env.ID, warm)

	stop := referenceEvents(t, d.Endpoint)
	from := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rounds, stopChurn := startChurn(ctx, t, cli)
	defer stopChurn()

	envID, err := uuid.Parse(env.ID)
	if err != nil {
		t.Fatal(err)
	}
	// cycledSince reports whether a metrics cycle was stored since at: the
	// worker started then has run the environment's workflow task.
	cycledSince := func(at time.Time) bool {
		n, err := b.store.CountHostMetrics(ctx, envID, at, at.Add(time.Hour))
		return err == nil && n > 0
	}
	var (
		firstKill time.Time
		failovers []time.Duration
	)
	startedAt := time.Now()
	for i := 1; i <= faultKills; i++ {
		// Mid-stream: a lifecycle happened since the last kill (or, for the
		// first, its events are stored: the stream runs on this worker),
		// and the worker has done work of the environment.
		killedRounds := rounds.Load()
		deadline := time.Now().Add(time.Minute)
		for rounds.Load() <= killedRounds || (i <= 1 && b.storedCount(t, env.ID, from) <= 0) || !cycledSince(startedAt) {
			if time.Now().After(deadline) {
				t.Fatalf("kill %d: worker %d did no work within a minute (rounds %d, cycle since its start %v)",
					i, i-1, rounds.Load(), cycledSince(startedAt))
			}
			time.Sleep(250 * time.Millisecond)
		}
		worker.kill(syscall.SIGKILL)
		killedAt := time.Now()
		if i == 1 {
			firstKill = killedAt
		}
		startedAt = time.Now()
		worker = b.startWorker(t, bin, fmt.Sprintf("worker-%d", i))
		failovers = append(failovers, b.resumedAfter(ctx, t, env.ID, killedAt))
	}
	killsTook := time.Since(firstKill)
	// Deleted while the last worker lives (cleanups run last first: the
	// workers' SIGTERM would otherwise come before the delete, which then
	// waits for a workflow no worker runs).
	t.Cleanup(func() { b.call(t, http.MethodDelete, "/api/v1/environments/"+env.ID, "", nil) })
	// One more lifecycle with the last worker alive, then the window closes.
	last := rounds.Load()
	waitUntil(ctx, func() bool { return rounds.Load() > last })
	stopChurn()
	until := time.Now()
	expected := stop(until)
	ringUsed := engineEventsSince(t, d.Endpoint, from, until)
	if ringUsed >= engineRing {
		t.Fatalf("the engine emitted %d events in the window: more than its ring holds (%d), the test cannot tell loss from churn", ringUsed, engineRing)
	}

	// The retried stream (at most two heartbeat timeouts: the first kill's,
	// and a later kill of the worker that got it) catches up from the cursor.
	within := 2*workflows.StreamHeartbeatTimeout + 90*time.Second
	deadline := time.Now().Add(within)
	var stored map[eventKey]int
	for {
		stored = b.storedIn(t, env.ID, from, until)
		complete := true
		for k := range expected {
			if stored[k] == 0 {
				complete = false
				break
			}
		}
		if complete || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	caughtUp := time.Since(firstKill)
	missing, extra, doubled := compareEvents(expected, stored)
	gaps := b.gaps(t, env.ID)
	worst := slices.Max(failovers)
	t.Logf("faults: worker SIGKILL x%d: %d events, %d lost, %d doubled, %d not reported by the engine, %d gaps; stream failover (kill to first event stored after it) max %.1f s, each %s; kills over %.0f s, every event stored %.0f s after the first kill; %d of the ring's %d events used",
		faultKills, len(expected), len(missing), len(doubled), len(extra), len(gaps), worst.Seconds(), secondsList(failovers),
		killsTook.Seconds(), caughtUp.Seconds(), ringUsed, engineRing)
	if worst > maxFailover {
		t.Errorf("stream failover took %.1f s after a kill, over %s", worst.Seconds(), maxFailover)
	}
	if len(expected) == 0 {
		t.Fatal("the engine reported no event for the window")
	}
	if len(missing)+len(extra)+len(doubled) > 0 {
		t.Errorf("missing %v; not reported by the engine %v; stored twice %v", missing, extra, doubled)
	}
	if len(gaps) != 0 {
		t.Errorf("gaps recorded although the engine still held every event: %+v", gaps)
	}
}

// startChurn runs churnCounted on cli every faultChurnEvery until stop,
// which ends it and waits for the lifecycle under way; rounds counts the
// whole lifecycles.
func startChurn(ctx context.Context, t *testing.T, cli *client.Client) (rounds *atomic.Int64, stop func()) {
	churnCtx, cancel := context.WithCancel(ctx)
	rounds = new(atomic.Int64)
	churned := make(chan struct{})
	go func() {
		defer close(churned)
		churnCounted(churnCtx, t, cli, faultChurnEvery, rounds)
	}()
	var once sync.Once
	return rounds, func() { once.Do(func() { cancel(); <-churned }) }
}

// maxFailover bounds the time from a worker's SIGKILL to the first event
// stored after it by the stream's retry on the next worker.
const maxFailover = 20 * time.Second

// resumedAfter waits until an event that happened after killedAt is stored
// (only a resumed stream can store it) and returns how long after killedAt
// that was seen, polled every 200 ms. The churn makes events every few
// seconds.
func (b *testBundle) resumedAfter(ctx context.Context, t *testing.T, envID string, killedAt time.Time) time.Duration {
	t.Helper()
	deadline := killedAt.Add(2 * workflows.StreamHeartbeatTimeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		for _, e := range b.storedEvents(t, envID) {
			if e.TimeNano > killedAt.UnixNano() {
				return time.Since(killedAt)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no event stored within %s of a worker kill", 2*workflows.StreamHeartbeatTimeout)
	return 0
}

// secondsList writes durations as "3.1 s, 12.0 s".
func secondsList(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmt.Sprintf("%.1f s", d.Seconds())
	}
	return strings.Join(parts, ", ")
}

// engineEventsSince counts the events of every type (what fills the
// engine's ring) that the engine reports between since and until.
func engineEventsSince(t *testing.T, endpoint string, since, until time.Time) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	unix := func(at time.Time) string { return fmt.Sprintf("%d.%09d", at.Unix(), at.Nanosecond()) }
	out, err := exec.CommandContext(ctx, "docker", "--host", endpoint, "events",
		"--since", unix(since), "--until", unix(until), "--format", "{{.Type}}").Output()
	if err != nil {
		t.Fatalf("docker events: %v", err)
	}
	return len(strings.Fields(string(out)))
}

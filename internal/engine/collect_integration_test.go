package engine_test

import (
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/engine/enginetest"
)

// TestCollectRealEngine runs a busy and an idle container and collects
// twice: first with no previous counters (stream=false reads), then with the
// counters of the first cycle (one-shot reads).
func TestCollectRealEngine(t *testing.T) {
	cli := enginetest.Client(t)
	busy := enginetest.RunContainer(t, cli, "wf-engine-busy", "sh", "-c", "while :; do :; done")
	idle := enginetest.RunContainer(t, cli, "wf-engine-idle", "sleep", "3600")
	ctx := t.Context()
	var c engine.Collector

	host, first, err := c.Collect(ctx, cli, nil)
	if err != nil {
		t.Fatalf("first Collect: %v", err)
	}
	checkCycle(t, "stream=false", host, first, busy, idle)

	time.Sleep(300 * time.Millisecond) // let the busy loop burn CPU between the two reads
	prev := make(map[string]engine.CPUCounters, len(first))
	for _, s := range first {
		prev[s.ID] = s.Counters
	}
	host, second, err := c.Collect(ctx, cli, prev)
	if err != nil {
		t.Fatalf("second Collect: %v", err)
	}
	checkCycle(t, "one-shot", host, second, busy, idle)
}

// TestCollectCPUMatchesDockerStats checks that the CPU % Collect gives a busy
// container in production mode (one-shot, against the previous cycle's
// counters) is within 2 points of what `docker stats --no-stream` prints for
// it. The container spins under a 0.3 CPU quota with a 10 ms CFS period, so
// its use is steady and the same over Collect's window and docker's (the
// second after it), whatever else the host runs, within 0.3 points.
// Other load on the host can still starve it for a moment, so a miss is
// retried twice; a wrong formula misses every time.
func TestCollectCPUMatchesDockerStats(t *testing.T) {
	cli := enginetest.Client(t)
	docker := dockerCLI(t)
	ctx := t.Context()
	busy := enginetest.RunContainer(t, cli, "wf-engine-cpu", "sh", "-c", "while :; do :; done")
	_, err := cli.ContainerUpdate(ctx, busy, client.ContainerUpdateOptions{
		Resources: &container.Resources{CPUPeriod: 10_000, CPUQuota: 3_000},
	})
	if err != nil {
		t.Fatalf("limit the busy container to 0.3 CPU: %v", err)
	}
	const tolerance = 2.0 // points of CPU %
	var c engine.Collector
	for attempt := 1; attempt <= 3; attempt++ {
		_, first, err := c.Collect(ctx, cli, nil)
		if err != nil {
			t.Fatalf("first Collect: %v", err)
		}
		prev := make(map[string]engine.CPUCounters, len(first))
		for _, s := range first {
			prev[s.ID] = s.Counters
		}
		time.Sleep(2 * time.Second)

		var (
			wg     sync.WaitGroup
			out    []byte
			cliErr error
		)
		wg.Go(func() {
			cmd := exec.CommandContext(ctx, docker, "stats", "--no-stream", "--format", "{{.CPUPerc}}", busy)
			cmd.Env = append(os.Environ(), "DOCKER_HOST="+enginetest.Endpoint())
			out, cliErr = cmd.Output()
		})
		_, second, err := c.Collect(ctx, cli, prev)
		wg.Wait()
		if err != nil {
			t.Fatalf("second Collect: %v", err)
		}
		if cliErr != nil {
			t.Fatalf("docker stats: %v (%s)", cliErr, out)
		}
		want, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(string(out)), "%"), 64)
		if err != nil {
			t.Fatalf("docker stats printed %q: %v", out, err)
		}
		var got *engine.ContainerSample
		for i := range second {
			if second[i].ID == busy {
				got = &second[i]
			}
		}
		if got == nil || !got.CPUKnown {
			t.Fatalf("busy container missing or CPU unknown in the second Collect: %+v", got)
		}
		t.Logf("attempt %d: Collect %.2f %%, docker stats %.2f %%", attempt, got.CPUPercent, want)
		if math.Abs(got.CPUPercent-want) <= tolerance {
			return
		}
	}
	t.Errorf("Collect's CPU %% stayed more than %.0f points away from docker stats' in 3 attempts", tolerance)
}

// dockerCLI returns the path of the docker CLI. Without one the test is
// skipped, or fails under WINDFLOW_REQUIRE_STACK=1, like a missing engine.
func dockerCLI(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping a test that needs the docker CLI and engine")
	}
	path, err := exec.LookPath("docker")
	if err != nil {
		if _, statErr := os.Stat("/usr/bin/docker"); statErr == nil {
			return "/usr/bin/docker"
		}
		if os.Getenv("WINDFLOW_REQUIRE_STACK") == "1" {
			t.Fatalf("docker CLI required (WINDFLOW_REQUIRE_STACK=1): %v", err)
		}
		t.Skipf("no docker CLI: %v", err)
	}
	return path
}

// checkCycle asserts what every cycle of TestCollectRealEngine must show.
func checkCycle(t *testing.T, mode string, host engine.HostSample, samples []engine.ContainerSample, busy, idle string) {
	t.Helper()
	byID := make(map[string]engine.ContainerSample, len(samples))
	for _, s := range samples {
		byID[s.ID] = s
		if math.IsNaN(s.CPUPercent) || math.IsInf(s.CPUPercent, 0) || s.CPUPercent < 0 {
			t.Errorf("%s: %s CPU %% = %v", mode, s.Name, s.CPUPercent)
		}
	}
	b, ok := byID[busy]
	if !ok {
		t.Fatalf("%s: busy container %s missing from %d samples", mode, busy, len(samples))
	}
	if !b.CPUKnown || b.CPUPercent <= 0 {
		t.Errorf("%s: busy container CPU = %v (known %v), want > 0", mode, b.CPUPercent, b.CPUKnown)
	}
	i, ok := byID[idle]
	if !ok {
		t.Fatalf("%s: idle container %s missing", mode, idle)
	}
	if i.MemoryUsed == 0 || i.MemoryLimit == 0 {
		t.Errorf("%s: idle container memory used %d limit %d, want > 0", mode, i.MemoryUsed, i.MemoryLimit)
	}
	if i.Name == "" {
		t.Errorf("%s: idle container has no name", mode)
	}
	t.Logf("%s: busy CPU %.1f %%, idle memory %d B, host CPU %.1f %% of %d CPUs, %d running",
		mode, b.CPUPercent, i.MemoryUsed, host.CPUPercent, host.NCPU, host.ContainersRunning)
	if host.ContainersRunning != len(samples) || host.ContainersRunning < 2 {
		t.Errorf("%s: ContainersRunning = %d with %d samples, want >= 2", mode, host.ContainersRunning, len(samples))
	}
	if host.NCPU <= 0 || host.MemoryTotal == 0 {
		t.Errorf("%s: NCPU %d MemoryTotal %d, want > 0", mode, host.NCPU, host.MemoryTotal)
	}
	if host.CPUPercent <= 0 || host.CPUPercent > 100 || host.MemoryPercent <= 0 || host.MemoryPercent > 100 {
		t.Errorf("%s: host CPU %v %% memory %v %%, want in (0, 100]", mode, host.CPUPercent, host.MemoryPercent)
	}
}

// TestReadStatsVanished checks that a container that stopped, or that is
// gone, is skipped rather than reported as an error, in both read modes.
func TestReadStatsVanished(t *testing.T) {
	cli := enginetest.Client(t)
	ctx := t.Context()
	id := enginetest.RunContainer(t, cli, "wf-engine-exits", "true")
	wait := cli.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case <-wait.Result:
	case err := <-wait.Error:
		t.Fatalf("wait: %v", err)
	}
	prev := &engine.CPUCounters{TotalUsage: 1, SystemUsage: 1}

	tests := []struct {
		name   string
		remove bool
		prev   *engine.CPUCounters
	}{
		{"stopped, stream=false", false, nil},
		{"stopped, one-shot", false, prev},
		{"removed, stream=false", true, nil},
		{"removed, one-shot", true, prev},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.remove {
				_, err := cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
				if err != nil && !cerrdefs.IsNotFound(err) { // an earlier case removed it
					t.Fatalf("remove: %v", err)
				}
			}
			_, ok, err := engine.ReadStats(ctx, cli, id, tc.prev)
			if err != nil || ok {
				t.Errorf("ReadStats = ok %v, err %v; want skipped without error", ok, err)
			}
		})
	}
}

// TestCollectCanceled checks that a done context stops Collect with an error
// that still says why.
func TestCollectCanceled(t *testing.T) {
	cli := enginetest.Client(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, _, err := engine.Collector{}.Collect(ctx, cli, nil)
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Collect with canceled ctx = %v, want context.Canceled", err)
	}
}

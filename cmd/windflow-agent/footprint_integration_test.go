package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/agent/agenttest"
	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/engine/enginetest"
)

// footprintContainers is the agent budget's engine: 20 containers.
const footprintContainers = 20

// TestAgentFootprint measures what the windflow-agent binary costs next
// to its engine. It builds the binary, connects it to a loopback fake API
// endpoint (agenttest), and drives it as a worker would, with
// footprintContainers running: an /events stream open throughout and a
// Collector cycle every $WINDFLOW_AGENT_MEASURE_INTERVAL (default 30s),
// for $WINDFLOW_AGENT_MEASURE (e.g. 2m; unset: skipped). It prints the
// agent's RSS once connected, its RSS and peak RSS at the end, and its CPU
// time over the run as a percentage of one core.
func TestAgentFootprint(t *testing.T) {
	duration, err := time.ParseDuration(os.Getenv("WINDFLOW_AGENT_MEASURE"))
	if err != nil {
		t.Skip("set WINDFLOW_AGENT_MEASURE=2m (a duration) to measure the agent")
	}
	interval := 30 * time.Second
	if v := os.Getenv("WINDFLOW_AGENT_MEASURE_INTERVAL"); v != "" {
		if interval, err = time.ParseDuration(v); err != nil {
			t.Fatalf("WINDFLOW_AGENT_MEASURE_INTERVAL: %v", err)
		}
	}
	direct := enginetest.Client(t)
	for i := range footprintContainers {
		enginetest.RunContainer(t, direct, fmt.Sprintf("wf-agent-footprint-%d", i), "sleep", "3600")
	}
	bin := filepath.Join(t.TempDir(), "windflow-agent")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	srv := agenttest.NewServer(t, "footprint-token")
	var log bytes.Buffer
	cmd := exec.Command(bin, "--server", srv.URL, "--engine", enginetest.Endpoint())
	cmd.Env = append(os.Environ(), "WINDFLOW_AGENT_TOKEN=footprint-token")
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("agent log:\n%s", log.String())
		}
	})
	pid := cmd.Process.Pid
	sess := srv.Next(t, 10*time.Second)
	cli := agenttest.DockerClient(t, sess.Session)
	time.Sleep(2 * time.Second)
	connectedRSS := procStatusKB(t, pid, "VmRSS")

	ctx, cancel := context.WithTimeout(t.Context(), duration+time.Minute)
	defer cancel()
	events := cli.Events(ctx, client.EventsListOptions{})
	go func() {
		for range events.Messages { // drained, as a worker reads them
		}
	}()
	var col engine.Collector
	prev := map[string]engine.CPUCounters{}
	cpuStart, start := cpuNanos(t, pid), time.Now()
	cycles := 0
	for time.Since(start) < duration {
		_, samples, err := col.Collect(ctx, cli, prev)
		if err != nil {
			t.Fatalf("cycle %d through the agent: %v", cycles+1, err)
		}
		if len(samples) < footprintContainers {
			t.Fatalf("cycle %d: %d containers, want at least %d", cycles+1, len(samples), footprintContainers)
		}
		for _, s := range samples {
			prev[s.ID] = s.Counters
		}
		cycles++
		time.Sleep(time.Until(start.Add(time.Duration(cycles) * interval)))
	}
	elapsed := time.Since(start)
	cpu := time.Duration(cpuNanos(t, pid) - cpuStart)
	rss, peak := procStatusKB(t, pid, "VmRSS"), procStatusKB(t, pid, "VmHWM")
	t.Logf("agent footprint: %d containers, %d cycles every %v over %v, events stream open: RSS connected %.1f MB, RSS end %.1f MB, peak %.1f MB, CPU %v = %.3f%% of a core",
		footprintContainers, cycles, interval, elapsed.Round(time.Second), float64(connectedRSS)/1024, float64(rss)/1024, float64(peak)/1024,
		cpu.Round(time.Millisecond), 100*cpu.Seconds()/elapsed.Seconds())
}

// procStatusKB returns field (e.g. VmRSS) of /proc/pid/status, in kB.
func procStatusKB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s: %q: %v", field, v, err)
			}
			return kb
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// cpuNanos returns the CPU time of every thread of pid, in nanoseconds
// (the first field of each /proc/pid/task/*/schedstat).
func cpuNanos(t *testing.T, pid int) int64 {
	t.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("no threads of %d: %v", pid, err)
	}
	var sum int64
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // a thread that ended
		}
		n, err := strconv.ParseInt(strings.Fields(string(b))[0], 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		sum += n
	}
	return sum
}

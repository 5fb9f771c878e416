package scale

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	workflowservice "go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/windflow/monitor/internal/store/storetest"
	"github.com/windflow/monitor/internal/temporaltest"
)

// moduleRoot is the directory of go.mod above this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for ; dir != "/"; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
	}
	t.Fatal("no go.mod above the package")
	return ""
}

// writerFunc adapts t.Log to an io.Writer for the harness's progress lines.
type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestHarnessEndToEnd runs the harness for real, with tiny figures, against
// the stack: the windflow binary of this tree as worker and api, fake
// engines, Postgres and the Temporal server; then checks that the report
// is sane and that nothing of the run is left.
func TestHarnessEndToEnd(t *testing.T) {
	cfg, rep := runTiny(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbURL, addr := storetest.DatabaseURL(t), temporaltest.Address(t)

	// The report.
	if rep.Config.Registered != 3 || rep.Cycles.Environments != 3 {
		t.Errorf("registered %d, cycles over %d environments; want 3", rep.Config.Registered, rep.Cycles.Environments)
	}
	if rep.Cycles.Due != 9 || rep.Cycles.Stored == 0 || rep.Cycles.Percent <= 0 || rep.Cycles.Percent > 100 {
		t.Errorf("cycles = %+v, want 9 due (3 × 30 s / 10 s) and some stored", rep.Cycles)
	}
	if rep.Cycles.Lateness.N == 0 || rep.Cycles.Lateness.Max > 10 || rep.Cycles.Collect.N == 0 {
		t.Errorf("lateness %+v collect %+v", rep.Cycles.Lateness, rep.Cycles.Collect)
	}
	if rep.Updates.Targets != 2 || rep.Updates.Latency.N == 0 || rep.Updates.Errors != 0 {
		t.Errorf("updates = %+v, want answers from the 2 environments outside the history sample", rep.Updates)
	}
	h := rep.History
	if h.Workflows != 1 || h.Intervals == 0 || h.PerCycle.P50 < 3 || h.CyclesInWindow == 0 || h.EventsInWindow == 0 {
		t.Errorf("history = %+v, want one workflow's cycles counted", h)
	}
	if h.Actions.ByKind["timer"] == 0 || rep.ActionsPerEnvPerDay <= 0 {
		t.Errorf("actions %+v, per env per day %v", h.Actions, rep.ActionsPerEnvPerDay)
	}
	byName := map[string]ProcUsage{}
	for _, p := range rep.Processes {
		byName[p.Name] = p
	}
	for _, name := range []string{"worker", "api", "postgres (all processes)", "harness (fake engines)"} {
		p := byName[name]
		if p.Processes == 0 || p.RSSMax == 0 || p.RSSMean == 0 {
			t.Errorf("%s not measured: %+v", name, p)
		}
	}
	if TemporalPID(cfg.TemporalPIDFile) != 0 && byName["temporal dev server"].RSSMax == 0 {
		t.Errorf("the dev server runs here but was not measured: %+v", byName["temporal dev server"])
	}
	if byName["worker"].CPUPercent <= 0 {
		t.Errorf("worker CPU = %v, want > 0 with 3 environments cycling", byName["worker"].CPUPercent)
	}
	if len(rep.Targets) != 7 {
		t.Errorf("%d targets, want 7", len(rep.Targets))
	}

	// Nothing is left: children, database, workflows, state.
	for _, name := range []string{"worker", "api"} {
		for _, pid := range byName[name].PIDs {
			if err := syscall.Kill(pid, 0); err == nil {
				t.Errorf("%s (pid %d) still runs", name, pid)
			}
		}
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", cfg.Database).Scan(&n); err != nil || n != 0 {
		t.Errorf("database %s: count %d, %v; want dropped", cfg.Database, n, err)
	}
	tc, err := client.DialContext(ctx, client.Options{HostPort: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	query := fmt.Sprintf("TaskQueue = '%s' AND ExecutionStatus = 'Running'", cfg.TaskQueue)
	deadline := time.Now().Add(15 * time.Second) // visibility is eventually consistent
	for {
		resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		if err == nil && len(resp.Executions) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("workflows still running on %s: %v %v", cfg.TaskQueue, resp, err)
			break
		}
		time.Sleep(time.Second)
	}
	b, err := os.ReadFile(filepath.Join(cfg.DataDir, "runs.json"))
	if err != nil || strings.TrimSpace(string(b)) != "null" && strings.TrimSpace(string(b)) != "[]" {
		t.Errorf("state file after a clean run: %q %v, want no run", b, err)
	}
}

// runTiny builds the windflow binary of this tree and runs the harness with
// tiny figures (3 environments, a 30 s window) against the stack, with or
// without agents; it logs and returns the report.
func runTiny(t *testing.T, agents bool) (Config, *Report) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: about a minute")
	}
	dbURL := storetest.DatabaseURL(t)
	addr := temporaltest.Address(t)
	root := moduleRoot(t)

	bin := filepath.Join(t.TempDir(), "windflow")
	build := exec.Command("go", "build", "-o", bin, "./cmd/windflow")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/windflow: %v\n%s", err, out)
	}

	suffix := fmt.Sprintf("%d_%d", time.Now().UnixNano(), os.Getpid())
	cfg := Config{
		Envs: 3, Containers: 3,
		Interval: 10 * time.Second, Warmup: 12 * time.Second, Duration: 30 * time.Second,
		EventEvery:  10 * time.Second,
		UpdateEvery: 500 * time.Millisecond,
		Agents:      agents,
		Binary:      bin, BaseDatabaseURL: dbURL, TemporalAddress: addr,
		Database:        "windflow_scale_test_" + suffix,
		TaskQueue:       "windflow-scale-test-" + suffix,
		DataDir:         t.TempDir(),
		TemporalPIDFile: filepath.Join(root, ".data", "temporal.pid"),
		Log:             writerFunc(func(p []byte) (int, error) { t.Log(strings.TrimSpace(string(p))); return len(p), nil }),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	rep.Print(&sb)
	t.Log("\n" + sb.String())
	return cfg, rep
}

// TestHarnessEndToEnd_Agents runs the harness with -agents: every
// environment's engine is reached through its agent and the api's relay.
func TestHarnessEndToEnd_Agents(t *testing.T) {
	_, rep := runTiny(t, true)
	if !rep.Config.Agents || rep.Cycles.Stored == 0 || rep.Cycles.Percent <= 0 {
		t.Errorf("config %+v, cycles %+v: want an agents run with stored cycles", rep.Config, rep.Cycles)
	}
	a := rep.Agents
	if a == nil {
		t.Fatal("no agent figures in the report")
	}
	if a.Started != 3 || a.ConnectedAtEnd != 3 || a.Connects < 3 || a.Refused != 0 || a.RTT.N != 3 {
		t.Errorf("agents = %+v, want 3 started, connected at the end, none refused", a)
	}
	// Each connected agent holds a connection to the api.
	if a.OpenFiles["api"] < 3 || a.FileLimit["api"] <= 0 {
		t.Errorf("open files %v, limits %v", a.OpenFiles, a.FileLimit)
	}
	last := rep.Targets[len(rep.Targets)-1]
	if len(rep.Targets) != 8 || !last.Met {
		t.Errorf("targets %+v: want 8, the last (agents connected) met", rep.Targets)
	}
	var measured bool
	for _, p := range rep.Processes {
		measured = measured || p.Name == harnessGroup(true) && p.RSSMax > 0
	}
	if !measured {
		t.Errorf("the harness with its agents was not measured: %+v", rep.Processes)
	}
}

// Command windflow-bench runs the scale harness (internal/scale):
//
//	windflow-bench scale [flags]
//
// It registers N environments against in-process fake Docker engines (with
// -agents, each behind an in-process agent connected to the api), runs
// the windflow binary as worker and api, and prints the figures next to
// their targets. It lives apart from windflow so that the production binary
// links neither the harness nor the fake engine. It reads the stack from
// DATABASE_URL, TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE (source
// .data/stack.env) and exits 0 whether or not the targets are met.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/windflow/monitor/internal/scale"
)

const usage = "usage: windflow-bench scale [flags] (windflow-bench scale -h for the flags)"

func main() {
	if len(os.Args) < 2 || os.Args[1] != "scale" {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runScale(ctx, os.Args[2:]); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, "windflow-bench scale: %v\n", err)
		os.Exit(1)
	}
}

// runScale parses the flags of `windflow-bench scale`, runs the harness and
// prints its report.
func runScale(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("windflow-bench scale", flag.ExitOnError)
	c := scale.Config{
		BaseDatabaseURL: env("DATABASE_URL", "postgres://postgres@127.0.0.1:55432/windflow?sslmode=disable"),
		TemporalAddress: env("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		Namespace:       env("TEMPORAL_NAMESPACE", "default"),
		Log:             os.Stderr,
	}
	fs.IntVar(&c.Envs, "envs", 100, "environments, each on its own fake engine")
	fs.IntVar(&c.Containers, "containers", 10, "containers per fake engine")
	fs.DurationVar(&c.Interval, "interval", 30*time.Second, "metrics interval of every environment")
	fs.DurationVar(&c.Warmup, "warmup", 0, "run time after registering before measuring (0: interval + 10s)")
	fs.DurationVar(&c.Duration, "duration", time.Minute, "measured window (best a multiple of -interval)")
	fs.DurationVar(&c.EventEvery, "event-every", time.Minute, "each engine emits a container restart (5 events) this often (0: none)")
	fs.DurationVar(&c.StatsTick, "stats-tick", time.Second, "the fake daemon's stats tick")
	fs.DurationVar(&c.UpdateEvery, "update-every", 200*time.Millisecond, "one PUT /settings this often during the window (0: none)")
	fs.IntVar(&c.AlertRules, "alert-rules", 0, "alert rules per environment (a mix of host and container rules that never fire)")
	fs.IntVar(&c.HistorySample, "history-sample", 10, "environment workflows whose histories are read (they get no Updates)")
	fs.StringVar(&c.WorkerMemoryLimit, "worker-memory-limit", "", "GOMEMLIMIT of the worker (e.g. 140MiB; empty: none)")
	fs.BoolVar(&c.Agents, "agents", false, "every environment agent-placed (agent://), served by an agent per environment in this process through the api's relay")
	fs.IntVar(&c.Concurrency, "concurrency", 8, "registrations and deletions in flight")
	fs.StringVar(&c.Binary, "bin", windflowBesideSelf(), "windflow executable started as worker and api")
	fs.StringVar(&c.Database, "database", "", "database created for the run and dropped after it (default windflow_scale_<unix>)")
	fs.BoolVar(&c.KeepDatabase, "keep-database", false, "keep the run's database for inspection")
	fs.StringVar(&c.TaskQueue, "task-queue", "", "the run's task queue (default windflow-scale-<unix>)")
	fs.StringVar(&c.DataDir, "data-dir", ".data/scale", "children's logs and the state of runs")
	fs.StringVar(&c.TemporalPIDFile, "temporal-pid-file", ".data/temporal.pid", "pid file of the Temporal dev server (else it is searched for)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	_ = fs.Parse(args) // ExitOnError: a bad flag exits here

	rep, err := scale.Run(ctx, c)
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "scale: interrupted; what the run started is gone")
	}
	if rep == nil {
		return err
	}
	// A measured run is printed even when its cleanup failed afterwards
	// (err then says what was left behind).
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if eerr := enc.Encode(rep); eerr != nil {
			return eerr
		}
		return err
	}
	rep.Print(os.Stdout)
	fmt.Println()
	return err
}

// windflowBesideSelf is the windflow executable in this command's directory
// (make builds both into bin/).
func windflowBesideSelf() string {
	self, err := os.Executable()
	if err != nil {
		return "windflow"
	}
	return filepath.Join(filepath.Dir(self), "windflow")
}

// env is the value of the environment variable name, or def when it is unset
// or empty.
func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

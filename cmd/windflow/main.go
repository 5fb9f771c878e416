// Command windflow watches Docker engines with Temporal workflows and serves
// what it collects over HTTP.
//
//	windflow worker    Temporal worker: the environment workflow and its activities
//	windflow api       the HTTP API
//	windflow migrate   apply the embedded Postgres migrations, then exit
//	windflow dev       api + worker in one process; registers the local engine as "local"
//	windflow agent     the outbound-only agent next to an engine (docs/agent.md)
//	windflow version   print the version
//	windflow healthcheck  exit 0 when the api on this machine answers /healthz
//
// Configuration comes from environment variables, overridden by flags; run
// `windflow <command> -h` for the list.
//
// Metrics: every command that runs serves Prometheus /metrics on its own
// listener, $WINDFLOW_METRICS_ADDR (default 127.0.0.1:9090 for the worker,
// 127.0.0.1:9091 for api and dev; empty turns it off), never on the API's
// address. Logs are JSON (log/slog) on stderr; the Temporal SDK logs
// through the same logger.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"go.temporal.io/sdk/contrib/envconfig"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	run, ok := map[string]func(context.Context, config) error{
		"worker":  runWorker,
		"api":     runAPI,
		"migrate": runMigrate,
		"dev":     runDev,
		// healthcheck probes a running api on this machine (container healthchecks).
		"healthcheck": runHealthcheck,
	}[cmd]
	switch {
	case cmd == "version" || cmd == "--version":
		fmt.Println("windflow", version)
		return
	case cmd == "agent":
		os.Exit(runAgentCommand(args))
	case cmd == "help" || cmd == "-h" || cmd == "--help":
		usage()
		return
	case !ok:
		fmt.Fprintf(os.Stderr, "windflow: unknown command %q\n", cmd)
		usage()
		os.Exit(2)
	}
	fs := flag.NewFlagSet("windflow "+cmd, flag.ExitOnError)
	cfg := loadConfig(fs)
	_ = fs.Parse(args)
	err := cfg.loadTemporal(envconfig.EnvLookupOS)
	if err == nil {
		err = cfg.validate()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "windflow %s: bad configuration:\n%v\n", cmd, err)
		os.Exit(2)
	}
	slog.SetDefault(newLogger(cfg.LogLevel))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *cfg); err != nil && !errors.Is(err, context.Canceled) {
		slog.Error("windflow "+cmd+" failed", "err", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: windflow <command> [flags]

commands:
  worker    run a Temporal worker (start several to scale out)
  api       serve the HTTP API
  migrate   apply the Postgres migrations and exit
  dev       api + worker in one process, registering the local Docker engine as "local"
  agent     the outbound-only agent next to a Docker engine (windflow agent -h)
  version   print the version
  healthcheck  exit 0 when the api on this machine answers /healthz

metrics: Prometheus /metrics on $WINDFLOW_METRICS_ADDR, apart from the API
(default worker 127.0.0.1:9090, api and dev 127.0.0.1:9091; empty: off)
`)
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

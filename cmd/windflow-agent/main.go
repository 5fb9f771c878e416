// Command windflow-agent is the Windflow agent on its own: it dials out to
// the Windflow API and answers its read-only Engine API calls from a local
// engine (see docs/agent.md). It is `windflow agent` without the rest of
// Windflow linked in (no Temporal SDK, no PostgreSQL driver), so that it
// stays small next to the engine it serves.
//
//	WINDFLOW_AGENT_TOKEN=... windflow-agent --server https://windflow.example.com
//
// Run `windflow-agent -h` for the flags.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/windflow/monitor/internal/agent"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(agent.Exit(agent.Main(ctx, agent.Command{
		Name: "windflow-agent", Version: version,
		Getenv: os.Getenv, Stdout: os.Stdout, Stderr: os.Stderr,
	}, os.Args[1:]), "windflow-agent", os.Stderr))
}

package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/windflow/monitor/internal/agent"
)

// runAgentCommand runs `windflow agent`, the code of the windflow-agent
// binary, and returns its exit status. It takes none of the other
// commands' configuration (no database, no Temporal).
func runAgentCommand(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := agent.Main(ctx, agent.Command{
		Name: "windflow agent", Version: version,
		Getenv: os.Getenv, Stdout: os.Stdout, Stderr: os.Stderr,
	}, args)
	return agent.Exit(err, "windflow agent", os.Stderr)
}

package main

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// forbidden are prefixes of packages the agent binary must not link: the
// Temporal SDK, the PostgreSQL driver, the store, the API and the Docker
// client. The agent forwards HTTP; it needs none of them, and each costs
// memory next to the engine it serves.
var forbidden = []string{
	"go.temporal.io/",
	"google.golang.org/grpc",
	"github.com/jackc/pgx",
	"github.com/moby/moby/client",
	"github.com/windflow/monitor/internal/store",
	"github.com/windflow/monitor/api",
	"github.com/windflow/monitor/activities",
	"github.com/windflow/monitor/workflows",
}

// TestAgentLinksLittle fails when `go list -deps ./cmd/windflow-agent`
// names a forbidden package.
func TestAgentLinksLittle(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("go list -deps: %v\n%s", err, exit.Stderr)
		}
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/windflow/monitor/internal/agent") {
		t.Fatalf("go list -deps does not name internal/agent; not the binary's graph:\n%s", out)
	}
	for _, dep := range deps {
		for _, prefix := range forbidden {
			if strings.HasPrefix(dep, prefix) {
				t.Errorf("windflow-agent links %s", dep)
			}
		}
	}
	t.Logf("windflow-agent links %d packages", len(deps))
}

package main

import (
	"errors"
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/windflow/monitor/"

// testOnly reports whether pkg is one of the module's test fakes, harnesses
// or stack helpers (every package named *test, the fake Docker engine and
// the scale harness). The production binary must not link them.
func testOnly(pkg string) bool {
	if !strings.HasPrefix(pkg, module) {
		return false
	}
	switch strings.TrimPrefix(pkg, module) {
	case "internal/engine/fakeengine", "internal/scale":
		return true
	}
	return strings.HasSuffix(path.Base(pkg), "test")
}

// TestBinaryLinksNoTestPackages fails when `go list -deps ./cmd/windflow`
// names a test-only package.
func TestBinaryLinksNoTestPackages(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("go list -deps: %v\n%s", err, exit.Stderr)
		}
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, module+"internal/store") {
		t.Fatalf("go list -deps does not name internal/store; not the binary's graph:\n%s", out)
	}
	for _, dep := range deps {
		if testOnly(dep) {
			t.Errorf("windflow links %s, a test-only package", dep)
		}
	}
}

func TestTestOnly(t *testing.T) {
	for pkg, want := range map[string]bool{
		module + "internal/engine/fakeengine": true,
		module + "internal/scale":             true,
		module + "internal/store/storetest":   true,
		module + "internal/temporaltest":      true,
		module + "internal/engine/enginetest": true,
		module + "internal/browsertest":       true,
		module + "internal/store":             false,
		module + "internal/engine":            false,
		"go.temporal.io/sdk/testsuite":        false,
		"github.com/stretchr/testify/assert":  false,
	} {
		if got := testOnly(pkg); got != want {
			t.Errorf("testOnly(%q) = %v, want %v", pkg, got, want)
		}
	}
}

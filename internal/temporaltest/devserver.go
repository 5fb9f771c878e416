package temporaltest

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
)

// DevServer is a Temporal dev server of the test's own (bin/temporal, built
// by scripts/stack.sh), for fault tests that stop and restart the server:
// the shared server of TEMPORAL_ADDRESS is never touched. Its state lives
// in a SQLite file in the test's temporary directory, so a restart on the
// same port keeps every workflow.
type DevServer struct {
	t       testing.TB
	bin     string
	db      string
	logPath string
	port    int
	cmd     *exec.Cmd
	log     *os.File
	exited  chan struct{}
}

// StartDevServer starts a private dev server on a free loopback port and
// waits until it serves. It is stopped when the test ends. Without
// bin/temporal the test is skipped, or fails with WINDFLOW_REQUIRE_STACK=1.
func StartDevServer(t testing.TB) *DevServer {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping a test that starts a Temporal dev server")
	}
	bin := temporalBinary()
	if bin == "" {
		if os.Getenv("WINDFLOW_REQUIRE_STACK") == "1" {
			t.Fatal("temporaltest: no bin/temporal (run scripts/stack.sh) and WINDFLOW_REQUIRE_STACK=1")
		}
		t.Skip("temporaltest: no bin/temporal: run scripts/stack.sh")
	}
	dir := t.TempDir()
	s := &DevServer{t: t, bin: bin, db: filepath.Join(dir, "temporal.db"), logPath: filepath.Join(dir, "temporal.log"), port: freePort(t)}
	t.Cleanup(func() { s.Stop() })
	s.Start()
	return s
}

// Address is the server's frontend, host:port; it stays the same across
// restarts.
func (s *DevServer) Address() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Start starts the server (again) on its port and database file and waits
// up to a minute until it answers health checks.
func (s *DevServer) Start() {
	s.t.Helper()
	if s.cmd != nil {
		s.t.Fatal("temporaltest: dev server already running")
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	args := append([]string{"server", "start-dev", "--headless", "--ip", "127.0.0.1",
		"--port", strconv.Itoa(s.port), "--db-filename", s.db, "--log-level", "warn"}, devServerFlags()...)
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		s.t.Fatalf("temporaltest: start dev server: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.cmd, s.log, s.exited = cmd, logf, exited
	s.waitHealthy()
}

// Stop sends SIGTERM to the server and waits up to 30 s for it to exit
// (then SIGKILL). It does nothing when the server is not running.
func (s *DevServer) Stop() {
	if s.cmd == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
	}
	s.log.Close()
	s.cmd, s.log, s.exited = nil, nil, nil
}

func (s *DevServer) waitHealthy() {
	s.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case <-s.exited:
			out, _ := os.ReadFile(s.logPath)
			s.t.Fatalf("temporaltest: dev server exited while starting:\n%s", tail(out))
		default:
		}
		if s.healthy() {
			return
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(s.logPath)
			s.t.Fatalf("temporaltest: dev server on %s not serving within a minute:\n%s", s.Address(), tail(out))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// healthy dials the frontend and asks for the health of the service and
// of the default namespace.
func (s *DevServer) healthy() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{HostPort: s.Address(), Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return false
	}
	defer c.Close()
	if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return false
	}
	_, err = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "default"})
	return err == nil
}

func tail(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// freePort asks the kernel for a free loopback port.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// temporalBinary finds bin/temporal at the repository's root (the first
// parent directory holding go.mod), or WINDFLOW_TEMPORAL_BIN.
func temporalBinary() string {
	if p := os.Getenv("WINDFLOW_TEMPORAL_BIN"); p != "" {
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "bin", "temporal")
			if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
				return p
			}
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Binary returns the temporal CLI (bin/temporal, or $WINDFLOW_TEMPORAL_BIN),
// skipping the test without it (failing with WINDFLOW_REQUIRE_STACK=1).
func Binary(t testing.TB) string {
	t.Helper()
	bin := temporalBinary()
	if bin == "" {
		if os.Getenv("WINDFLOW_REQUIRE_STACK") == "1" {
			t.Fatal("temporaltest: no bin/temporal (run scripts/stack.sh) and WINDFLOW_REQUIRE_STACK=1")
		}
		t.Skip("temporaltest: no bin/temporal: run scripts/stack.sh")
	}
	return bin
}

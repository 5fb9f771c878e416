package enginetest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/engine"
)

// Daemon is a Docker engine of the test's own: a dockerd with its own data
// root, exec root and socket, so a test can restart it (or cut it off)
// without disturbing the shared engine other tests use.
type Daemon struct {
	// Endpoint is the daemon's unix:// socket.
	Endpoint string
	dir      string
	cmd      *exec.Cmd
	t        testing.TB
}

// StartDaemon starts a private dockerd (no bridge, no iptables) and stops
// it, removing its files, when the test ends. It needs root and dockerd;
// without them the test is skipped, or fails when WINDFLOW_REQUIRE_STACK=1.
func StartDaemon(t testing.TB) *Daemon {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping a test that starts a private dockerd")
	}
	if _, err := exec.LookPath("dockerd"); err != nil || os.Geteuid() != 0 {
		if os.Getenv("WINDFLOW_REQUIRE_STACK") == "1" {
			t.Fatalf("a private dockerd needs root and dockerd (euid %d, lookpath: %v)", os.Geteuid(), err)
		}
		t.Skip("a private dockerd needs root and dockerd")
	}
	// Unix socket paths are limited to 108 bytes: keep the directory short.
	dir, err := os.MkdirTemp("/tmp", "wfd-")
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{Endpoint: "unix://" + filepath.Join(dir, "docker.sock"), dir: dir, t: t}
	t.Cleanup(func() {
		d.Stop()
		_ = os.RemoveAll(dir)
	})
	d.Start()
	return d
}

// Start starts the daemon (again) and waits until it answers.
func (d *Daemon) Start() {
	d.t.Helper()
	logf, err := os.OpenFile(filepath.Join(d.dir, "dockerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		d.t.Fatal(err)
	}
	defer logf.Close()
	d.cmd = exec.Command("dockerd",
		"--host", d.Endpoint,
		"--data-root", filepath.Join(d.dir, "data"),
		"--exec-root", filepath.Join(d.dir, "exec"),
		"--pidfile", filepath.Join(d.dir, "docker.pid"),
		"--bridge=none", "--iptables=false", "--ip6tables=false",
	)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		d.t.Fatalf("start dockerd: %v", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		cli, err := engine.Connect(ctx, d.Endpoint)
		cancel()
		if err == nil {
			_ = cli.Close()
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(d.dir, "dockerd.log"))
			d.t.Fatalf("private dockerd did not answer within 60s: %v\n%s", err, tail(log, 2000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Stop stops the daemon gracefully (SIGTERM, then SIGKILL after 30 s) and
// waits for it; its containers stop with it.
func (d *Daemon) Stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	d.cmd = nil
}

// Restart stops and starts the daemon: its event memory is lost.
func (d *Daemon) Restart() {
	d.t.Helper()
	d.Stop()
	d.Start()
}

// Client returns a client of the daemon, closed when the test ends.
func (d *Daemon) Client(t testing.TB) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, err := engine.Connect(ctx, d.Endpoint)
	if err != nil {
		t.Fatalf("connect to private dockerd: %v", err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

package scale

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	workflowservice "go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/windflow/monitor/workflows"
)

// databaseURL returns base with its database replaced by name.
func databaseURL(base, name string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("DATABASE_URL must be a postgres:// URL, got %q", base)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// adminExec runs statements on a connection to base (the stack's database).
func adminExec(ctx context.Context, base string, stmts ...string) error {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", redact(base), err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// recreateDatabase drops (forcing out any session) and creates name.
func recreateDatabase(ctx context.Context, base, name string) error {
	id := pgx.Identifier{name}.Sanitize()
	return adminExec(ctx, base, "DROP DATABASE IF EXISTS "+id+" WITH (FORCE)", "CREATE DATABASE "+id)
}

// dropDatabase drops name, forcing out any session.
func dropDatabase(ctx context.Context, base, name string) error {
	return adminExec(ctx, base, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

func redact(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Redacted()
	}
	return "the database"
}

// runRecord is one harness run in the state file, so that the next run can
// clean up after one that was killed before it could.
type runRecord struct {
	PID       int       `json:"pid"`
	TaskQueue string    `json:"taskQueue"`
	Database  string    `json:"database"`
	Instance  string    `json:"instance,omitempty"`
	Started   time.Time `json:"started"`
}

// stateFile holds the runs of one data directory; flock serialises the
// harnesses that share it.
type stateFile struct{ path string }

func (s stateFile) update(fn func([]runRecord) []runRecord) error {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	var runs []runRecord
	if b, err := io.ReadAll(f); err == nil && len(b) > 0 {
		if err := json.Unmarshal(b, &runs); err != nil {
			return fmt.Errorf("%s: %w", s.path, err)
		}
	}
	runs = fn(runs)
	b, err := json.MarshalIndent(runs, "", "  ")
	if err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err = f.WriteAt(append(b, '\n'), 0)
	return err
}

// alive says whether pid is a running harness (a process whose command
// line mentions "bench", or a test binary).
func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	c := cmdline(pid)
	return strings.Contains(c, "bench") || strings.Contains(c, ".test")
}

// cleanupRun stops what a run left behind: its running workflows, its
// retention schedule, its database.
func cleanupRun(ctx context.Context, tc client.Client, namespace, baseDB string, r runRecord) error {
	var errs []error
	if _, err := terminateTaskQueue(ctx, tc, namespace, r.TaskQueue); err != nil {
		errs = append(errs, err)
	}
	if r.Instance != "" {
		err := tc.ScheduleClient().GetHandle(ctx, workflows.RetentionScheduleID(r.Instance)).Delete(ctx)
		if err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("delete schedule: %w", err))
		}
	}
	if r.Database != "" {
		if err := dropDatabase(ctx, baseDB, r.Database); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func isNotFound(err error) bool {
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "not found")
}

// terminateTaskQueue terminates every running workflow of the task queue
// and returns how many there were.
func terminateTaskQueue(ctx context.Context, tc client.Client, namespace, queue string) (int, error) {
	if queue == "" {
		return 0, nil
	}
	query := fmt.Sprintf("TaskQueue = '%s' AND ExecutionStatus = 'Running'", strings.ReplaceAll(queue, "'", ""))
	n := 0
	for range 100 { // each round terminates one page; stop if the list does not shrink
		resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: namespace, Query: query, PageSize: 1000,
		})
		if err != nil {
			return n, fmt.Errorf("list workflows of %s: %w", queue, err)
		}
		if len(resp.Executions) == 0 {
			return n, nil
		}
		for _, e := range resp.Executions {
			err := tc.TerminateWorkflow(ctx, e.Execution.WorkflowId, e.Execution.RunId, "scale harness cleanup")
			if err != nil && !isNotFound(err) {
				return n, fmt.Errorf("terminate %s: %w", e.Execution.WorkflowId, err)
			}
			n++
		}
		// Visibility is eventually consistent: let it catch up before listing again.
		time.Sleep(time.Second)
	}
	return n, nil
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// child is a windflow process the harness started.
type child struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// startChild starts bin with args in its own process group (a Ctrl-C in the
// terminal reaches only the harness, which then cleans up) and with
// Pdeathsig, so that it dies with the harness whatever happens.
func startChild(name, bin string, args, env []string, logPath string) (*child, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		f.Close()
		close(c.done)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, then SIGKILL after grace.
func (c *child) stop(grace time.Duration) {
	if c == nil || c.exited() {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// tail returns the last lines of the child's log, for error messages.
func (c *child) tail() string {
	b, _ := os.ReadFile(c.log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-5):], "\n")
}

// childEnv is the harness's environment without any WINDFLOW_ variable or
// connection setting, plus set.
func childEnv(set map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		// WINDFLOW_PPROF passes through: profiles of the children on
		// their metrics listener, for capacity work.
		if (strings.HasPrefix(k, "WINDFLOW_") && k != "WINDFLOW_PPROF") || slices.Contains([]string{"DATABASE_URL", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE"}, k) {
			continue
		}
		env = append(env, kv)
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return env
}

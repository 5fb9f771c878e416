package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"github.com/windflow/monitor/workflows"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/engine/enginetest"
)

// eventKey is the identity of an event: (timeNano, container ID, action).
type eventKey struct {
	TimeNano    int64
	ContainerID string
	Action      string
}

func (k eventKey) String() string {
	return fmt.Sprintf("%s %s %.12s", time.Unix(0, k.TimeNano).UTC().Format("15:04:05.000000000"), k.Action, k.ContainerID)
}

type apiEvent struct {
	ID            int64             `json:"id"`
	EnvironmentID string            `json:"environmentId"`
	TimeNano      int64             `json:"timeNano"`
	ContainerID   string            `json:"containerId"`
	ContainerName string            `json:"containerName"`
	Image         string            `json:"image"`
	Action        string            `json:"action"`
	Attributes    map[string]string `json:"attributes"`
	ExitCode      *int              `json:"exitCode"`
}

func (e apiEvent) key() eventKey { return eventKey{e.TimeNano, e.ContainerID, e.Action} }

// waitForContainer waits until an event of the container is stored: the
// environment's event collection is running.
func (b *testBundle) waitForContainer(t *testing.T, envID, containerID string) {
	t.Helper()
	eventually(t, 30*time.Second, "events of "+containerID[:12]+" stored", func() bool {
		for _, e := range b.storedEvents(t, envID) {
			if e.ContainerID == containerID {
				return true
			}
		}
		return false
	})
}

// privateEngine starts a Docker engine of the test's own (see
// enginetest.StartDaemon) with the test image, and returns it and a client.
func privateEngine(t *testing.T) (*enginetest.Daemon, *client.Client) {
	t.Helper()
	d := enginetest.StartDaemon(t)
	cli := d.Client(t)
	enginetest.BusyboxImage(t, cli)
	return d, cli
}

// referenceEvents is the ground truth the stored events are compared
// with, independent of Windflow's reader and filter: stop asks the docker
// CLI for the engine's events between the call and until (`docker events
// --since --until`, replayed from the engine's buffer) and keeps the
// container events whose base action the README lists as stored.
func referenceEvents(t *testing.T, endpoint string) (stop func(until time.Time) map[eventKey]int) {
	t.Helper()
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Fatalf("the docker CLI is the reference for stored events: %v", err)
	}
	since := time.Now()
	return func(until time.Time) map[eventKey]int {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		unix := func(at time.Time) string { return fmt.Sprintf("%d.%09d", at.Unix(), at.Nanosecond()) }
		out, err := exec.CommandContext(ctx, docker, "--host", endpoint, "events",
			"--since", unix(since), "--until", unix(until), "--filter", "type=container", "--format", "{{json .}}").Output()
		if err != nil {
			t.Fatalf("docker events: %v", err)
		}
		seen := map[eventKey]int{}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if line == "" {
				continue
			}
			var m struct {
				Type, Action string
				Actor        struct {
					ID         string
					Attributes map[string]string
				}
				TimeNano int64 `json:"timeNano"`
			}
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("docker events line %q: %v", line, err)
			}
			base, _, _ := strings.Cut(m.Action, ":")
			if m.Type != "container" || !documentedStoredActions[base] ||
				strings.HasPrefix(m.Actor.Attributes["name"], "windflow-internal-") || m.Actor.Attributes["windflow.ignore"] != "" {
				continue
			}
			seen[eventKey{m.TimeNano, m.Actor.ID, m.Action}]++
		}
		return seen
	}
}

// documentedStoredActions are the base actions the README says are stored.
var documentedStoredActions = map[string]bool{
	"create": true, "start": true, "stop": true, "die": true, "kill": true, "restart": true, "pause": true,
	"unpause": true, "destroy": true, "rename": true, "update": true, "oom": true, "health_status": true,
}

// storedEvents pages through GET /environments/{id}/events and returns
// every stored event of the environment (newest first as served).
func (b *testBundle) storedEvents(t *testing.T, envID string) []apiEvent {
	t.Helper()
	var all []apiEvent
	cursor := ""
	for page := 0; page < 100; page++ {
		path := "/api/v1/environments/" + envID + "/events?limit=200"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		var out struct {
			Events     []apiEvent `json:"events"`
			NextCursor *string    `json:"nextCursor"`
		}
		if code := b.call(t, http.MethodGet, path, "", &out); code != http.StatusOK {
			t.Fatalf("list events: status %d", code)
		}
		all = append(all, out.Events...)
		if out.NextCursor == nil || *out.NextCursor == "" {
			return all
		}
		cursor = *out.NextCursor
	}
	t.Fatal("more than 100 pages of events")
	return nil
}

// expectEvents waits (up to timeout) until every expected event is stored,
// then checks that the stored events between from and until are exactly the
// expected ones, each stored once.
func (b *testBundle) expectEvents(t *testing.T, envID string, expected map[eventKey]int, from, until time.Time, timeout time.Duration) {
	t.Helper()
	b.waitForEvents(t, envID, expected, timeout)
	stored := b.storedIn(t, envID, from, until)
	missing, extra, doubled := compareEvents(expected, stored)
	if len(expected) == 0 || len(missing)+len(extra)+len(doubled) > 0 {
		t.Fatalf("engine reported %d events, %d stored; missing %d %v; not reported by the engine %d %v; stored twice %v",
			len(expected), len(stored), len(missing), missing, len(extra), extra, doubled)
	}
	t.Logf("%d events, each stored exactly once", len(expected))
}

// storedIn counts the stored events of the environment between from and
// until (both included), by identity.
func (b *testBundle) storedIn(t *testing.T, envID string, from, until time.Time) map[eventKey]int {
	t.Helper()
	stored := map[eventKey]int{}
	for _, e := range b.storedEvents(t, envID) {
		if e.TimeNano >= from.UnixNano() && e.TimeNano <= until.UnixNano() {
			stored[e.key()]++
		}
	}
	return stored
}

// compareEvents lists, sorted, the expected events not stored, the stored
// ones not expected, and the ones stored more than once.
func compareEvents(expected, stored map[eventKey]int) (missing, extra, doubled []string) {
	for k := range expected {
		if stored[k] == 0 {
			missing = append(missing, k.String())
		}
	}
	for k, n := range stored {
		if expected[k] == 0 {
			extra = append(extra, k.String())
		}
		if n > 1 {
			doubled = append(doubled, k.String())
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	sort.Strings(doubled)
	return missing, extra, doubled
}

// waitForEvents waits until every expected event is stored.
func (b *testBundle) waitForEvents(t *testing.T, envID string, expected map[eventKey]int, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("%d events stored", len(expected)), func() bool {
		stored := map[eventKey]bool{}
		for _, e := range b.storedEvents(t, envID) {
			stored[e.key()] = true
		}
		for k := range expected {
			if !stored[k] {
				return false
			}
		}
		return true
	})
}

// churn runs container lifecycles on cli: create, start, pause, unpause,
// stop or kill, remove — one every `every`, until ctx ends.
func churn(ctx context.Context, t *testing.T, cli *client.Client, every time.Duration) {
	churnCounted(ctx, t, cli, every, nil)
}

// churnCounted is churn, adding one to rounds after each whole lifecycle.
func churnCounted(ctx context.Context, t *testing.T, cli *client.Client, every time.Duration, rounds *atomic.Int64) {
	img := enginetest.BusyboxImage(t, cli)
	for i := 0; ctx.Err() == nil; i++ {
		c, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
			Name:       fmt.Sprintf("wf-churn-%s-%d", uuid.NewString()[:6], i),
			Config:     &container.Config{Image: img, Cmd: []string{"sleep", "3600"}, Labels: map[string]string{enginetest.LabelKey: "1"}},
			HostConfig: &container.HostConfig{NetworkMode: "none"},
		})
		if err != nil {
			if ctx.Err() == nil {
				t.Errorf("churn create: %v", err)
			}
			return
		}
		bg := context.Background() // finish the lifecycle even when ctx ends
		steps := []func() error{
			func() error { _, err := cli.ContainerStart(bg, c.ID, client.ContainerStartOptions{}); return err },
			func() error { _, err := cli.ContainerPause(bg, c.ID, client.ContainerPauseOptions{}); return err },
			func() error { _, err := cli.ContainerUnpause(bg, c.ID, client.ContainerUnpauseOptions{}); return err },
			func() error {
				if i%2 == 1 { // docker kill on odd rounds, docker stop on even ones
					_, err := cli.ContainerKill(bg, c.ID, client.ContainerKillOptions{Signal: "KILL"})
					return err
				}
				zero := 0
				_, err := cli.ContainerStop(bg, c.ID, client.ContainerStopOptions{Timeout: &zero})
				return err
			},
			func() error {
				_, err := cli.ContainerRemove(bg, c.ID, client.ContainerRemoveOptions{Force: true})
				return err
			},
		}
		for _, step := range steps {
			if err := step(); err != nil {
				t.Errorf("churn: %v", err)
				return
			}
		}
		if rounds != nil {
			rounds.Add(1)
		}
		select {
		case <-ctx.Done():
		case <-time.After(every):
		}
	}
}

// sseClient reads /api/v1/stream and records when each container event arrived.
type sseClient struct {
	mu       sync.Mutex
	arrived  map[eventKey]time.Time
	statuses int
	cancel   context.CancelFunc
}

func (b *testBundle) subscribe(t *testing.T) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.api.URL+"/api/v1/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		cancel()
		t.Fatalf("stream: status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &sseClient{arrived: map[eventKey]time.Time{}, cancel: cancel}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var kind string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event:"):
				kind = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
			case strings.HasPrefix(line, "data:") && kind == "container_event":
				var e apiEvent
				if json.Unmarshal([]byte(strings.TrimSpace(strings.TrimPrefix(line, "data:"))), &e) == nil {
					s.mu.Lock()
					if _, ok := s.arrived[e.key()]; !ok {
						s.arrived[e.key()] = time.Now()
					}
					s.mu.Unlock()
				}
			case strings.HasPrefix(line, "data:") && kind == "environment_status":
				s.mu.Lock()
				s.statuses++
				s.mu.Unlock()
			}
		}
	}()
	return s
}

func TestEndToEnd_EventsStreamMode(t *testing.T) {
	d, cli := privateEngine(t)
	b := setup(t)
	sse := b.subscribe(t)
	env := b.createEnvironmentWith(t, "e2e-events-"+uuid.NewString()[:8], d.Endpoint, `{"eventMode":"stream"}`)
	// The stream is up once a first container's events are stored.
	warm := enginetest.RunContainer(t, cli, "wf-warm", "sleep", "3600")
	b.waitForContainer(t, env.ID, warm)

	stop := referenceEvents(t, d.Endpoint)
	from := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
	churn(ctx, t, cli, time.Second)
	cancel()
	// A container killed by the kernel for lack of memory: oom, then die 137.
	oom := runOOM(t, cli)
	until := time.Now()
	expected := stop(until)
	b.expectEvents(t, env.ID, expected, from, until, 30*time.Second)

	var sawOOM, sawDie137 bool
	for _, e := range b.storedEvents(t, env.ID) {
		if e.ContainerID == oom && e.Action == "oom" {
			sawOOM = true
		}
		if e.ContainerID == oom && e.Action == "die" && e.ExitCode != nil && *e.ExitCode == 137 {
			sawDie137 = true
		}
	}
	if !sawOOM || !sawDie137 {
		t.Errorf("OOM-killed container: oom stored %v, die with exit code 137 stored %v", sawOOM, sawDie137)
	}

	// Every event reached the live stream, within a second of happening.
	var slowest time.Duration
	sse.mu.Lock()
	for k := range expected {
		at, ok := sse.arrived[k]
		if !ok {
			t.Errorf("event %s never reached /api/v1/stream", k)
			continue
		}
		slowest = max(slowest, at.Sub(time.Unix(0, k.TimeNano)))
	}
	sse.mu.Unlock()
	t.Logf("slowest event reached the live stream %s after it happened", slowest)
	if slowest > time.Second {
		t.Errorf("slowest event took %s to reach the live stream, want within 1s", slowest)
	}
	if gaps := b.gaps(t, env.ID); len(gaps) != 0 {
		t.Errorf("gaps recorded without any fault: %+v", gaps)
	}
}

// runOOM runs a container with a 16 MB memory limit whose shell doubles a
// string until the kernel kills it, and waits until it has stopped.
func runOOM(t *testing.T, cli *client.Client) string {
	t.Helper()
	ctx := context.Background()
	c, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: "wf-oom-" + uuid.NewString()[:6],
		Config: &container.Config{Image: enginetest.BusyboxImage(t, cli), Labels: map[string]string{enginetest.LabelKey: "1"},
			Cmd: []string{"sh", "-c", "x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done"}},
		HostConfig: &container.HostConfig{NetworkMode: "none", Resources: container.Resources{Memory: 16 << 20, MemorySwap: 16 << 20}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = cli.ContainerRemove(context.Background(), c.ID, client.ContainerRemoveOptions{Force: true})
	})
	if _, err := cli.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the OOM container to stop", func() bool {
		res, err := cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		return err == nil && !res.Container.State.Running
	})
	return c.ID
}

type gapJSON struct {
	FromNano int64  `json:"fromNano"`
	ToNano   int64  `json:"toNano"`
	Reason   string `json:"reason"`
}

func (b *testBundle) gaps(t *testing.T, envID string) []gapJSON {
	t.Helper()
	var out struct{ Gaps []gapJSON }
	if code := b.call(t, http.MethodGet, "/api/v1/environments/"+envID+"/events/gaps", "", &out); code != http.StatusOK {
		t.Fatalf("gaps: status %d", code)
	}
	return out.Gaps
}

// storedCount is how many events of the environment at or after from are stored.
func (b *testBundle) storedCount(t *testing.T, envID string, from time.Time) int {
	n := 0
	for _, e := range b.storedEvents(t, envID) {
		if e.TimeNano >= from.UnixNano() {
			n++
		}
	}
	return n
}

// waitUntil polls ok every 100 ms until it holds or ctx ends.
func waitUntil(ctx context.Context, ok func() bool) {
	for !ok() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// workerProcess runs `windflow worker` as a separate process on the
// bundle's database and task queue.
type workerProcess struct{ cmd *exec.Cmd }

func buildWindflow(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "windflow")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/windflow").CombinedOutput()
	if err != nil {
		t.Fatalf("build windflow: %v\n%s", err, out)
	}
	return bin
}

func (b *testBundle) startWorker(t *testing.T, bin, name string) *workerProcess {
	t.Helper()
	cmd := exec.Command(bin, "worker")
	cmd.Env = append(os.Environ(),
		"DATABASE_URL="+b.databaseURL,
		"WINDFLOW_TASK_QUEUE="+b.taskQueue,
		"WINDFLOW_LOG_LEVEL=warn",
		"WINDFLOW_METRICS_ADDR=", // no listener: several workers run on this machine
		// The private engines of these tests listen on unix sockets of
		// their own, and the fakes on loopback.
		"WINDFLOW_OUTBOUND_ALLOW=loopback,unix",
	)
	return startProcess(t, cmd, name)
}

// startProcess starts cmd in a process group of its own, its output in
// name.log in a temporary directory, and SIGTERMs it when the test ends.
func startProcess(t *testing.T, cmd *exec.Cmd, name string) *workerProcess {
	t.Helper()
	logf, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &workerProcess{cmd: cmd}
	t.Cleanup(func() { w.kill(syscall.SIGTERM); _ = logf.Close() })
	return w
}

// kill signals the worker's process group and waits for it.
func (w *workerProcess) kill(sig syscall.Signal) {
	if w.cmd.ProcessState != nil {
		return
	}
	_ = syscall.Kill(-w.cmd.Process.Pid, sig)
	_ = w.cmd.Wait()
}

// TestEndToEnd_EventsSurviveWorkerKill SIGKILLs the worker running the
// event stream while containers churn, starts another, and checks that every
// event the engine reported for the window is stored exactly once.
func TestEndToEnd_EventsSurviveWorkerKill(t *testing.T) {
	d, cli := privateEngine(t)
	bin := buildWindflow(t)
	b := setupWith(t, 0)
	first := b.startWorker(t, bin, "worker-1")
	env := b.createEnvironmentWith(t, "e2e-kill-"+uuid.NewString()[:8], d.Endpoint, `{"eventMode":"stream"}`)
	warm := enginetest.RunContainer(t, cli, "wf-warm", "sleep", "3600")
	b.waitForContainer(t, env.ID, warm)

	stop := referenceEvents(t, d.Endpoint)
	from := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var rounds atomic.Int64
	go func() {
		// Killed once a churned container's events are stored (the stream
		// runs on it), restarted after one more lifecycle happened with no
		// worker at all.
		waitUntil(ctx, func() bool { return rounds.Load() >= 1 && b.storedCount(t, env.ID, from) > 0 })
		first.kill(syscall.SIGKILL)
		killedAt := rounds.Load()
		waitUntil(ctx, func() bool { return rounds.Load() > killedAt })
		b.startWorker(t, bin, "worker-2")
	}()
	churnCounted(ctx, t, cli, 2*time.Second, &rounds)
	until := time.Now()
	expected := stop(until)
	// The dead worker's stream is noticed at its heartbeat timeout (2 min,
	// workflows.StreamHeartbeatTimeout), then retried on the new worker
	// from the cursor.
	b.expectEvents(t, env.ID, expected, from, until, workflows.StreamHeartbeatTimeout+90*time.Second)
	if gaps := b.gaps(t, env.ID); len(gaps) != 0 {
		t.Errorf("gaps recorded although the engine still held every event: %+v", gaps)
	}
}

// TestEndToEnd_EventsPollMode runs the same churn in poll mode.
func TestEndToEnd_EventsPollMode(t *testing.T) {
	d, cli := privateEngine(t)
	b := setup(t)
	env := b.createEnvironmentWith(t, "e2e-poll-"+uuid.NewString()[:8], d.Endpoint, `{"eventMode":"poll","pollIntervalSeconds":30}`)
	stop := referenceEvents(t, d.Endpoint)
	from := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Second)
	churn(ctx, t, cli, 2*time.Second)
	cancel()
	until := time.Now()
	expected := stop(until)
	b.expectEvents(t, env.ID, expected, from, until, 75*time.Second)
	if gaps := b.gaps(t, env.ID); len(gaps) != 0 {
		t.Errorf("gaps recorded without any fault: %+v", gaps)
	}
}

// TestEndToEnd_EventsEngineRestart restarts dockerd under a running stream:
// the stream recovers, later events are stored, and the window the engine
// forgot is recorded as a gap.
func TestEndToEnd_EventsEngineRestart(t *testing.T) {
	d, cli := privateEngine(t)
	b := setup(t)
	env := b.createEnvironmentWith(t, "e2e-restart-"+uuid.NewString()[:8], d.Endpoint, `{"eventMode":"stream"}`)
	warm := enginetest.RunContainer(t, cli, "wf-warm", "sleep", "3600")
	b.waitForContainer(t, env.ID, warm)
	downFrom := time.Now()
	d.Restart()
	upAt := time.Now()
	cli = d.Client(t)
	after := enginetest.RunContainer(t, cli, "wf-after", "sleep", "3600")
	eventually(t, 90*time.Second, "events after the restart", func() bool {
		for _, e := range b.storedEvents(t, env.ID) {
			if e.ContainerID == after && e.Action == "start" {
				return true
			}
		}
		return false
	})
	gaps := b.gaps(t, env.ID)
	if len(gaps) != 1 {
		t.Fatalf("gaps = %+v, want exactly one for the restart", gaps)
	}
	// The gap runs from the last event stored before the restart (the
	// daemon's own shutdown emits some) to the first one the restarted
	// engine still holds: it must overlap the restart and name it.
	if g := gaps[0]; g.FromNano >= g.ToNano || g.FromNano > upAt.UnixNano() || g.ToNano < downFrom.UnixNano() ||
		!strings.Contains(g.Reason, "restarted") {
		t.Errorf("gap %+v does not cover the restart between %s and %s", g, downFrom, upAt)
	}
}

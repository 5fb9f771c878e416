package api_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/agenthub"
	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/engine/enginetest"
)

// natPrefix names what TestFaultAgentBehindNAT creates: its network
// namespaces (wf-nat-…) and, without the dashes, its veth links (wfnat…).
const natPrefix = "wf-nat-"

// The helper process (TestHelperNATForwarder) acts when natForwardListen
// is set: it listens there and forwards every connection to the unix
// socket in natForwardSocket.
const (
	natForwardListen = "WINDFLOW_NAT_FORWARD_LISTEN"
	natForwardSocket = "WINDFLOW_NAT_FORWARD_SOCKET"
	natForwardReady  = "nat-forwarder-ready"
)

// natNamespace is a network namespace joined to the host by a veth pair
// on a /30 of its own: hostIP on the host's end, nsIP inside. The
// namespace has loopback and its veth end, and no route anywhere else.
type natNamespace struct {
	name         string
	hostIP, nsIP netip.Addr
}

// agentStateWithRemote is the agent's state with the address its
// connection came from.
type agentStateWithRemote struct {
	agentStateJSON
	RemoteAddr string `json:"remoteAddr"`
}

// TestFaultAgentBehindNAT puts the engine and the agent where the worker
// cannot dial the engine: in a network namespace the test creates, whose
// only way out is a veth pair to the host, with the engine listening on
// the namespace's own loopback (a forwarder to the socket of a private
// dockerd).
// The agent, in the namespace, dials out to the API on the host's end of
// the veth.
//
// Proves: a direct dial of the engine from the worker's side fails with
// ErrUnreachable (the engine's address on the host's loopback and on the
// namespace's veth address), while through the agent the environment goes
// online and a container's metrics and events are stored, and the relay
// answers Engine API pings; the figure is the time to those and the round
// trips.
func TestFaultAgentBehindNAT(t *testing.T) {
	if testing.Short() {
		t.Skip("fault suite: a network namespace and an agent process")
	}
	ns := newNATNamespace(t)
	// A private engine: containers other tests run on the shared one would
	// be collected too, and their slow reads would be this test's.
	d, cli := privateEngine(t)
	socket := strings.TrimPrefix(d.Endpoint, "unix://")
	port := freeLoopbackPort(t)
	startNATForwarder(t, ns, port, socket)
	agentBin := buildAgent(t)

	// (a) The worker's side has no path to the engine.
	engineURL := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	for _, direct := range []string{engineURL, fmt.Sprintf("tcp://%s:%d", ns.nsIP, port)} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := engine.Connect(ctx, direct)
		cancel()
		if err == nil {
			_ = c.Close()
		}
		if !errors.Is(err, engine.ErrUnreachable) {
			t.Fatalf("direct dial of %s from the host: err = %v, want ErrUnreachable", direct, err)
		}
	}

	// (b) Through the agent in the namespace, collection works.
	l, err := net.Listen("tcp", net.JoinHostPort(ns.hostIP.String(), "0"))
	if err != nil {
		t.Fatalf("listen on the veth's host end: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	b := setup(t)
	b.api = b.startAPIOn(t, l)
	env := b.createAgentEnvironment(t, "nat-"+uuid.NewString()[:8])
	if want := b.api.URL; env.AgentEnrolment.ServerURL != want {
		t.Fatalf("enrolment server URL = %q, want %q", env.AgentEnrolment.ServerURL, want)
	}
	agentStarted := time.Now()
	startNATAgent(t, ns, agentBin, engineURL, env.AgentEnrolment.ServerURL, env.AgentEnrolment.Token)
	eventually(t, 90*time.Second, "online through the agent", func() bool {
		online, _ := countOnline(b.statusChanges(t, env.ID))
		return online > 0
	})
	onlineAfter := time.Since(agentStarted)

	sleeper := enginetest.RunContainer(t, cli, "wf-nat", "sleep", "3600")
	containerStarted := time.Now()
	var metricsAfter time.Duration
	eventually(t, 60*time.Second, "the container's metrics and events through the agent", func() bool {
		var out struct {
			Containers []containerJSON `json:"containers"`
		}
		b.call(t, http.MethodGet, "/api/v1/environments/"+env.ID+"/containers/metrics", "", &out)
		if metricsAfter == 0 && slices.ContainsFunc(out.Containers, func(c containerJSON) bool { return c.ContainerID == sleeper }) {
			metricsAfter = time.Since(containerStarted)
		}
		return metricsAfter > 0 && slices.ContainsFunc(b.storedEvents(t, env.ID), func(e apiEvent) bool {
			return e.ContainerID == sleeper && e.Action == "start"
		})
	})

	var st agentStateWithRemote
	if code := b.call(t, http.MethodGet, "/api/v1/environments/"+env.ID+"/agent", "", &st); code != http.StatusOK {
		t.Fatalf("agent state: status %d", code)
	}
	remote, _, _ := net.SplitHostPort(st.RemoteAddr)
	if !st.Connected || st.ConnectedSince == nil || st.Version == "" || remote != ns.nsIP.String() {
		t.Fatalf("agent state = %+v: want connected, since when, its version, from %s", st, ns.nsIP)
	}
	changes := b.statusChanges(t, env.ID)
	if len(changes) == 0 || !slices.MaxFunc(changes, func(a, b statusChangeJSON) int { return a.ChangedAt.Compare(b.ChangedAt) }).Online {
		t.Fatalf("status history %+v: want online last", changes)
	}

	pings := relayPings(t, b, env.ID, 20)
	median := pings[len(pings)/2]
	t.Logf("faults: NAT: direct dials refused (127.0.0.1:%d on the host, %s:%d across the veth); through the agent "+
		"online %s after its start, container metrics %s after the container's start, relay ping median %s (max %s, %d pings)",
		port, ns.nsIP, port, onlineAfter.Round(time.Millisecond), metricsAfter.Round(time.Millisecond),
		median.Round(time.Microsecond), pings[len(pings)-1].Round(time.Microsecond), len(pings))
	if median > 500*time.Millisecond {
		t.Fatalf("relay ping through the agent: median %s, want <= 500 ms", median)
	}
}

// relayPings pings the engine of envID n times the way a worker reaches it
// (agenthub.Dialer through the API instance's relay) and returns the round
// trips, sorted.
func relayPings(t *testing.T, b *testBundle, envID string, n int) []time.Duration {
	t.Helper()
	dialer := agenthub.NewDialer(b.store)
	id := uuid.MustParse(envID)
	cli, err := engine.NewAgentClient(func(ctx context.Context) (net.Conn, error) { return dialer.DialAgent(ctx, id) })
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	var took []time.Duration
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		at := time.Now()
		_, err := cli.Ping(ctx, client.PingOptions{})
		cancel()
		if err != nil {
			t.Fatalf("ping the engine through the relay: %v", err)
		}
		took = append(took, time.Since(at))
	}
	slices.Sort(took)
	return took
}

// TestHelperNATForwarder is the engine of TestFaultAgentBehindNAT's
// namespace: run inside it by that test (natForwardListen set), it
// forwards connections from the namespace's loopback to the engine's unix
// socket until its stdin closes. Otherwise it skips.
func TestHelperNATForwarder(t *testing.T) {
	listen, socket := os.Getenv(natForwardListen), os.Getenv(natForwardSocket)
	if listen == "" || socket == "" {
		t.Skip("the forwarder process of TestFaultAgentBehindNAT")
	}
	l, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		_ = l.Close()
	}()
	fmt.Println(natForwardReady)
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go forwardTo(c, socket)
	}
}

// forwardTo copies between c and a new connection to socket until either
// side ends, then closes both.
func forwardTo(c net.Conn, socket string) {
	defer c.Close()
	up, err := net.Dial("unix", socket)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
}

// newNATNamespace creates the namespace and its veth pair (after removing
// what a crashed run left) and removes them when the test ends. It skips
// the test without root or `ip netns`.
func newNATNamespace(t *testing.T) *natNamespace {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: it creates a network namespace and a veth pair")
	}
	if out, err := exec.Command("ip", "netns", "list").CombinedOutput(); err != nil {
		t.Skipf("`ip netns` is unavailable: %v %s", err, out)
	}
	removeNATLeftovers(t)
	suffix := hex.EncodeToString(randomBytes(t, 3))
	ns := &natNamespace{name: natPrefix + suffix}
	hostLink, nsLink := "wfnat"+suffix+"h", "wfnat"+suffix+"n"
	ns.hostIP, ns.nsIP = freeSlash30(t)
	if out, err := exec.Command("ip", "netns", "add", ns.name).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace here: %v %s", err, out)
	}
	t.Cleanup(func() { removeNATNamespace(t, ns.name) })
	ip(t, "link", "add", hostLink, "type", "veth", "peer", "name", nsLink, "netns", ns.name)
	ip(t, "addr", "add", ns.hostIP.String()+"/30", "dev", hostLink)
	// No IPv6 link-local addresses: the pair carries the /30 only.
	ip(t, "link", "set", hostLink, "addrgenmode", "none")
	ip(t, "-n", ns.name, "link", "set", nsLink, "addrgenmode", "none")
	ip(t, "link", "set", hostLink, "up")
	ip(t, "-n", ns.name, "addr", "add", ns.nsIP.String()+"/30", "dev", nsLink)
	ip(t, "-n", ns.name, "link", "set", "lo", "up")
	ip(t, "-n", ns.name, "link", "set", nsLink, "up")
	checkNATIsolated(t, ns.name, ns.nsIP)
	return ns
}

// checkNATIsolated fails the test unless the namespace's only addresses
// are loopback's and nsIP, and it has no default route.
func checkNATIsolated(t *testing.T, name string, nsIP netip.Addr) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(ip(t, "-n", name, "-o", "addr", "show")), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 4 || !slices.Contains([]string{"127.0.0.1/8", "::1/128", nsIP.String() + "/30"}, fields[3]) {
			t.Fatalf("namespace %s has address %q: want loopback and %s only", name, line, nsIP)
		}
	}
	if routes := ip(t, "-n", name, "route", "show", "default") + ip(t, "-n", name, "-6", "route", "show", "default"); routes != "" {
		t.Fatalf("namespace %s has a default route: %s", name, routes)
	}
}

// ip runs the ip command with args and returns its output; it fails the
// test when the command fails.
func ip(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// removeNATNamespace kills the processes left in the namespace (by their
// ids) and deletes it, which removes its veth pair.
func removeNATNamespace(t *testing.T, name string) {
	t.Helper()
	out, _ := exec.Command("ip", "netns", "pids", name).Output()
	for _, field := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(field); err == nil && pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
		t.Errorf("ip netns del %s: %v %s", name, err, out)
	}
}

// removeNATLeftovers removes the namespaces and links of a crashed run.
func removeNATLeftovers(t *testing.T) {
	t.Helper()
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if name, _, _ := strings.Cut(line, " "); strings.HasPrefix(name, natPrefix) {
			removeNATNamespace(t, name)
		}
	}
	links, _ := net.Interfaces()
	for _, link := range links {
		if strings.HasPrefix(link.Name, "wfnat") {
			_ = exec.Command("ip", "link", "del", link.Name).Run()
		}
	}
}

// freeSlash30 picks a /30 of 10.213.0.0/16 that no address of the host is
// in and overlaps no network of the host, and returns its .1 and .2.
func freeSlash30(t *testing.T) (host, inside netip.Addr) {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		r := randomBytes(t, 2)
		subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 213, r[0], r[1] &^ 3}), 30)
		clash := slices.ContainsFunc(addrs, func(a net.Addr) bool {
			p, err := netip.ParsePrefix(a.String())
			return err == nil && p.Overlaps(subnet)
		})
		if !clash {
			host = subnet.Addr().Next()
			return host, host.Next()
		}
	}
	t.Fatal("no free /30 in 10.213.0.0/16")
	return
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// freeLoopbackPort returns a TCP port nothing listens on at the host's
// 127.0.0.1 (the namespace's engine listens on it inside).
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port
}

// startNATForwarder runs TestHelperNATForwarder of this test binary inside
// the namespace, listening on its 127.0.0.1:port, and waits until it
// listens. It is killed when the test ends.
func startNATForwarder(t *testing.T, ns *natNamespace, port int, socket string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns.name, self, "-test.run", "^TestHelperNATForwarder$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=127.0.0.1:%d", natForwardListen, port), natForwardSocket+"="+socket)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	logPath := startNATProcess(t, cmd, "forwarder")
	t.Cleanup(func() { _ = stdin.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _ := os.ReadFile(logPath)
		if strings.Contains(string(out), natForwardReady) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the forwarder did not start in the namespace:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startNATAgent runs the agent binary inside the namespace against server.
func startNATAgent(t *testing.T, ns *natNamespace, bin, engineURL, server, token string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns.name, bin,
		"--engine", engineURL, "--server", server, "--allow-plain-http", "--log-level", "debug")
	cmd.Env = append(os.Environ(), "WINDFLOW_AGENT_TOKEN="+token)
	startNATProcess(t, cmd, "agent")
}

// startNATProcess starts cmd (`ip netns exec` execs its command: the pid
// is the command's) in a process group of its own with its output in a
// file, whose path it returns. When the test ends the group is killed and
// waited for, and the output is logged if the test failed.
func startNATProcess(t *testing.T, cmd *exec.Cmd, name string) string {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		_ = logf.Close()
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("%s output:\n%s", name, out[max(0, len(out)-4000):])
		}
	})
	return logPath
}

package api_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/windflow/monitor/internal/netpolicy"
	"github.com/windflow/monitor/internal/netpolicy/netpolicytest"
	"github.com/windflow/monitor/internal/notify"
)

// slowPeerAttempts is how many sends TestFaultSlowPeer makes to each
// service, slowPeerTimeout each one's timeout.
const (
	slowPeerAttempts = 100
	slowPeerTimeout  = 300 * time.Millisecond
	slowPeerParallel = 20
	// slowPeerProcessTimeout is the process-wide client's timeout here
	// (the binary's is longer).
	slowPeerProcessTimeout = 2 * time.Second
)

// TestFaultSlowPeer sends slowPeerAttempts notifications per service
// (smtp, a generic webhook, gotify, ntfy, telegram, and zulip on the
// process-wide client) to a loopback server that accepts every connection
// and never answers.
//
// Proves: every send ends at its timeout (no send outlives it by more than
// 2 s), and once the sends are over the process holds as many goroutines
// and open file descriptors as before, within a small tolerance: no
// connection or goroutine is left behind.
func TestFaultSlowPeer(t *testing.T) {
	if testing.Short() {
		t.Skip("fault suite: slow peers")
	}
	hostPort := netpolicytest.SilentPeer(t)
	policy, err := netpolicy.Parse("loopback")
	if err != nil {
		t.Fatal(err)
	}
	// Every name resolves to loopback and every connection goes to the
	// silent peer, so that services with a fixed server meet it too.
	policy = policy.WithResolver(loopbackResolver{}).WithConnect(func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, hostPort)
	})
	installProcessClient(t, policy, slowPeerProcessTimeout)
	sender := notify.Sender{Timeout: slowPeerTimeout, Policy: policy}
	urls := map[string]string{
		"smtp":     "smtp://" + hostPort + "/?fromaddress=a@example.com&toaddresses=b@example.com&encryption=None",
		"generic":  "generic://" + hostPort + "/hook?disabletls=yes",
		"gotify":   "gotify://" + hostPort + "/Aabcdefghijklmn?disabletls=yes",
		"ntfy":     "ntfy://" + hostPort + "/topic?scheme=http",
		"telegram": "telegram://110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw@telegram?chats=1",
		"zulip":    "zulip://bot@example.com:botkey@zulip.example.com/?stream=s",
	}
	runtime.GC()
	goroutines0, fds0 := runtime.NumGoroutine(), openFDs(t)
	peakGoroutines, peakFDs := goroutines0, fds0
	var longest time.Duration
	timedOut := 0
	for name, raw := range urls {
		var (
			mu  sync.Mutex
			wg  sync.WaitGroup
			sem = make(chan struct{}, slowPeerParallel)
		)
		for range slowPeerAttempts {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				start := time.Now()
				err := sender.Send(context.Background(), raw, "t", "m")
				took := time.Since(start)
				mu.Lock()
				defer mu.Unlock()
				longest = max(longest, took)
				if errors.Is(err, context.DeadlineExceeded) {
					timedOut++
				} else {
					t.Errorf("%s: %v, want the send's deadline", name, err)
				}
			})
			peakGoroutines = max(peakGoroutines, runtime.NumGoroutine())
		}
		wg.Wait()
		peakFDs = max(peakFDs, openFDs(t))
	}
	// Abandoned requests end at their client's timeout (the send's + 1 s;
	// the process-wide client's for zulip).
	const tolerance = 4
	var goroutines, fds int
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		goroutines, fds = runtime.NumGoroutine(), openFDs(t)
		if (goroutines <= goroutines0+tolerance && fds <= fds0+tolerance) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("faults: slow peer: %d sends (%d per service × %d services, timeout %s), %d timed out, longest %s; goroutines %d → peak %d → %d; open fds %d → peak %d → %d",
		slowPeerAttempts*len(urls), slowPeerAttempts, len(urls), slowPeerTimeout, timedOut, longest.Round(time.Millisecond),
		goroutines0, peakGoroutines, goroutines, fds0, peakFDs, fds)
	if longest > slowPeerTimeout+2*time.Second {
		t.Errorf("a send took %s, want at most its timeout + 2 s", longest)
	}
	if goroutines > goroutines0+tolerance || fds > fds0+tolerance {
		buf := make([]byte, 1<<20)
		t.Fatalf("left behind: %d goroutines, %d fds (tolerance %d)\n%s",
			goroutines-goroutines0, fds-fds0, tolerance, buf[:runtime.Stack(buf, true)])
	}
}

// loopbackResolver resolves every name to 127.0.0.1.
type loopbackResolver struct{}

func (loopbackResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
}

// installProcessClient makes p's client with timeout the process-wide one
// (http.DefaultTransport, http.DefaultClient), as the binary does, until
// the test ends.
func installProcessClient(t *testing.T, p *netpolicy.Policy, timeout time.Duration) {
	t.Helper()
	transport, client := http.DefaultTransport, *http.DefaultClient
	hc := p.HTTPClient(timeout)
	http.DefaultTransport = hc.Transport
	*http.DefaultClient = *hc
	t.Cleanup(func() { http.DefaultTransport, *http.DefaultClient = transport, client })
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(entries)
}

package notify

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/windflow/monitor/internal/netpolicy"
	"github.com/windflow/monitor/internal/netpolicy/netpolicytest"
)

func mustPolicy(t *testing.T, list string) *netpolicy.Policy {
	t.Helper()
	p, err := netpolicy.Parse(list)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSendRefusedTargetsMakeNoConnection: under a policy without loopback,
// a webhook or ntfy URL on 127.0.0.1 — as a literal, or as a name that
// resolves to it — fails with the refusal, and nothing reaches the
// listener.
func TestSendRefusedTargetsMakeNoConnection(t *testing.T) {
	hostPort, accepted := netpolicytest.AcceptCounter(t, nil)
	_, port, _ := net.SplitHostPort(hostPort)
	strict := Sender{Timeout: 5 * time.Second, Policy: mustPolicy(t, "private")}
	for _, u := range []string{
		"generic://" + hostPort + "/hook?disabletls=yes&template=json",
		"generic+http://" + hostPort + "/hook",
		"generic://localhost:" + port + "/hook?disabletls=yes",
		"generic://[::ffff:127.0.0.1]:" + port + "/hook?disabletls=yes",
		"ntfy://" + hostPort + "/topic?scheme=http",
		"ntfy://localhost:" + port + "/topic?scheme=http",
	} {
		err := strict.Send(t.Context(), u, sendTitle, sendMessage)
		refused, ok := errors.AsType[*netpolicy.RefusedError](err)
		if !ok || refused.Rule != netpolicy.RuleLoopback || !errors.Is(err, ErrSendFailed) {
			t.Errorf("send to %s: %v, want refused as loopback", RedactURL(u), err)
			continue
		}
		if !strings.Contains(err.Error(), netpolicy.Setting+"=loopback") {
			t.Errorf("send to %s: %q does not say how to allow it", RedactURL(u), err)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("%d connections reached the listener, want 0", n)
	}
	metadata := Sender{Policy: netpolicy.Permissive()}.Send(t.Context(), "generic://169.254.169.254/latest?disabletls=yes", "t", "m")
	if !errors.Is(metadata, netpolicy.ErrRefused) {
		t.Fatalf("send to the metadata address under the permissive policy: %v, want refused", metadata)
	}
	if err := CheckTarget(t.Context(), mustPolicy(t, ""), "slack://10.0.0.1/token-b/token-c"); err != nil {
		t.Errorf("a slack token in the host position is not a target: %v", err)
	}
	if err := CheckTarget(t.Context(), mustPolicy(t, ""), "generic://10.0.0.1/hook"); !errors.Is(err, netpolicy.ErrRefused) {
		t.Errorf("CheckTarget(private literal) = %v, want refused", err)
	}
}

// TestSendRedirectToMetadataRefused: a webhook that redirects to the
// metadata address is not followed there.
func TestSendRedirectToMetadataRefused(t *testing.T) {
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/iam/", status)
		}))
		t.Cleanup(srv.Close)
		err := Sender{Timeout: 5 * time.Second, Policy: mustPolicy(t, "loopback")}.Send(t.Context(),
			"generic://"+srv.Listener.Addr().String()+"/hook?disabletls=yes&template=json", sendTitle, sendMessage)
		refused, ok := errors.AsType[*netpolicy.RefusedError](err)
		if !ok || refused.Rule != netpolicy.RuleMetadata {
			t.Fatalf("redirect %d to the metadata address: %v, want refused as metadata", status, err)
		}
	}
}

// TestSendRemoteStatusBounded: a receiver's status line is bounded in the
// error (it may be stored and served).
func TestSendRemoteStatusBounded(t *testing.T) {
	hostPort, _ := netpolicytest.AcceptCounter(t, []byte("HTTP/1.1 500 "+strings.Repeat("X", 4000)+"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
	err := Sender{Timeout: 5 * time.Second, Policy: mustPolicy(t, "loopback")}.Send(t.Context(),
		"generic://"+hostPort+"/hook?disabletls=yes", sendTitle, sendMessage)
	if err == nil || !strings.Contains(err.Error(), "500") || len(err.Error()) > netpolicy.MaxRemoteText+200 {
		t.Fatalf("error of %d bytes (%.80q…), want the status and at most %d bytes", len(err.Error()), err, netpolicy.MaxRemoteText+200)
	}
}

// TestSendLeavesNoGoroutine: a send to a receiver that never answers
// returns at the timeout and leaves no goroutine of its own behind — for
// a generic webhook (aborted with the context) and for ntfy (its policed
// client's timeout) — while the receiver still holds the request.
func TestSendLeavesNoGoroutine(t *testing.T) {
	release := make(chan struct{})
	rc := newReceiver(t, http.StatusOK, func(*http.Request) { <-release })
	t.Cleanup(func() { close(release) }) // runs before rc.Close
	for _, u := range []string{
		"generic://" + rc.hostPort() + "/hook?disabletls=yes",
		"ntfy://" + rc.hostPort() + "/topic?scheme=http",
	} {
		start := time.Now()
		err := Sender{Timeout: 300 * time.Millisecond, Policy: mustPolicy(t, "loopback")}.Send(context.Background(), u, "t", "m")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("send to %s: %v, want the deadline", RedactURL(u), err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("send to %s took %s", RedactURL(u), took)
		}
		waitNoGoroutine(t, RedactURL(u), "notify.sendNow", "notify.(Sender).Send", "persistConn")
	}
	if n := len(rc.got()); n != 2 {
		t.Fatalf("receiver got %d requests, want 2 (the sends did reach it)", n)
	}
}

// waitNoGoroutine waits up to 5 s until no goroutine's stack mentions any
// of marks.
func waitNoGoroutine(t *testing.T, what string, marks ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	buf := make([]byte, 1<<20)
	for {
		stacks := string(buf[:runtime.Stack(buf, true)])
		left := ""
		for _, m := range marks {
			if strings.Contains(stacks, m) {
				left = m
			}
		}
		if left == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the send to %s a goroutine in %s is still running:\n%s", what, left, stacks)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

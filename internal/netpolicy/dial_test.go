package netpolicy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// countingListener is a listener on 127.0.0.1 that counts the connections
// it accepts: zero proves that a refused dial made none.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func listenCounting(t *testing.T, network, addr string) *countingListener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			cl.accepted.Add(1)
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return cl
}

func TestDialRefusesBeforeConnecting(t *testing.T) {
	ln := listenCounting(t, "tcp", "127.0.0.1:0")
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	strict := mustParse(t, "private")
	ctx := context.Background()
	// A literal, a name that resolves to loopback, and an IPv4-mapped form.
	for _, addr := range []string{ln.Addr().String(), net.JoinHostPort("localhost", port), net.JoinHostPort("::ffff:127.0.0.1", port)} {
		conn, err := strict.DialContext(ctx, "tcp", addr)
		if err == nil {
			_ = conn.Close()
			t.Fatalf("dial %s: connected, want refused", addr)
		}
		refused, ok := errors.AsType[*RefusedError](err)
		if !ok || refused.Rule != RuleLoopback {
			t.Errorf("dial %s: %v, want refused as loopback", addr, err)
		}
	}
	if n := ln.accepted.Load(); n != 0 {
		t.Fatalf("%d connections accepted, want 0: the refusal must come before connect", n)
	}

	conn, err := mustParse(t, "loopback").DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial with loopback allowed: %v", err)
	}
	_ = conn.Close()
}

func TestDialRefusesMetadataNameWithoutLookup(t *testing.T) {
	p := Permissive()
	_, err := p.DialContext(context.Background(), "tcp", "metadata.google.internal:80")
	if refused, ok := errors.AsType[*RefusedError](err); !ok || refused.Rule != RuleMetadata {
		t.Fatalf("dial metadata.google.internal: %v, want refused as metadata", err)
	}
	_, err = p.DialContext(context.Background(), "tcp", "169.254.169.254:80")
	if refused, ok := errors.AsType[*RefusedError](err); !ok || refused.Rule != RuleMetadata {
		t.Fatalf("dial 169.254.169.254: %v, want refused as metadata", err)
	}
}

func TestDialUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "engine.sock")
	ln := listenCounting(t, "unix", sock)
	ctx := context.Background()
	_, err := mustParse(t, "loopback,private").DialContext(ctx, "unix", sock)
	if refused, ok := errors.AsType[*RefusedError](err); !ok || refused.Rule != RuleSocket {
		t.Fatalf("dial unlisted socket: %v, want refused", err)
	}
	if n := ln.accepted.Load(); n != 0 {
		t.Fatalf("%d connections accepted, want 0", n)
	}
	conn, err := mustParse(t, "unix://"+sock).DialContext(ctx, "unix", sock)
	if err != nil {
		t.Fatalf("dial listed socket: %v", err)
	}
	_ = conn.Close()
}

func TestHTTPClientRefusesRedirectToMetadata(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/to-metadata":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		case "/to-mapped":
			http.Redirect(w, r, "http://[::ffff:a9fe:a9fe]/latest/meta-data/", http.StatusTemporaryRedirect)
		case "/to-self":
			http.Redirect(w, r, "/ok", http.StatusFound)
		default:
			_, _ = io.WriteString(w, "ok")
		}
	}))
	t.Cleanup(srv.Close)
	c := mustParse(t, "loopback").HTTPClient(0)
	for _, path := range []string{"/to-metadata", "/to-mapped"} {
		resp, err := c.Get(srv.URL + path)
		if err == nil {
			_ = resp.Body.Close()
			t.Fatalf("GET %s: followed the redirect", path)
		}
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "metadata") {
			t.Errorf("GET %s: %v, want the metadata refusal", path, err)
		}
	}
	resp, err := c.Get(srv.URL + "/to-self")
	if err != nil {
		t.Fatalf("GET /to-self: %v", err)
	}
	_ = resp.Body.Close()

	// With loopback not allowed the first request is refused at its dial.
	before := hits.Load()
	_, err = mustParse(t, "").HTTPClient(0).Get(srv.URL + "/ok")
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("GET on loopback under a strict policy: %v, want refused", err)
	}
	if hits.Load() != before {
		t.Fatal("the strict client reached the server")
	}
}

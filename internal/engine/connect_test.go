package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

func TestValidateEndpoint(t *testing.T) {
	tests := []struct {
		endpoint string
		ok       bool
	}{
		{"unix:///var/run/docker.sock", true},
		{"unix:///run/user/1000/docker.sock", true},
		{"tcp://10.0.0.5:2375", true},
		{"tcp://docker.example.com:2376", true},
		{"tcp://[::1]:2375", true},
		{"tcp://proxy.example.com:443/docker", true},
		{"", false},
		{"   ", false},
		{" unix:///var/run/docker.sock", false},
		{"garbage", false},
		{"://", false},
		{"%zz", false},
		{"/var/run/docker.sock", false},
		{"http://10.0.0.5:2375", false},
		{"https://10.0.0.5:2376", false},
		{"ftp://10.0.0.5:21", false},
		{"ssh://user@host", false},
		{"npipe:////./pipe/docker_engine", false},
		{"unix://", false},
		{"unix://relative.sock", false},
		{"unix:///var/run/", false},
		{"unix:/var/run/docker.sock", false},
		{"tcp://", false},
		{"tcp://host", false},
		{"tcp://host:", false},
		{"tcp://host:0", false},
		{"tcp://host:65536", false},
		{"tcp://host:port", false},
		{"tcp://:2375", false},
		{"tcp://user:pw@host:2375", false},
		{"tcp://host:2375?x=1", false},
		{"tcp://host:2375#frag", false},
		{"TCP://host:2375", true}, // schemes are case-insensitive (RFC 3986)
	}
	for _, tc := range tests {
		t.Run(tc.endpoint, func(t *testing.T) {
			err := ValidateEndpoint(tc.endpoint)
			if tc.ok && err != nil {
				t.Errorf("ValidateEndpoint(%q) = %v, want nil", tc.endpoint, err)
			}
			if !tc.ok && !errors.Is(err, ErrBadEndpoint) {
				t.Errorf("ValidateEndpoint(%q) = %v, want ErrBadEndpoint", tc.endpoint, err)
			}
		})
	}
}

func TestParseEndpointCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{"unix:///var/run/docker.sock", "unix:///var/run/docker.sock"},
		{"tcp://10.0.0.5:2375", "tcp://10.0.0.5:2375"},
		{"tcp://10.0.0.5:2375/", "tcp://10.0.0.5:2375"},
		{"TCP://Host:2375/base", "tcp://Host:2375/base"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			ep, err := parseEndpoint(tc.in)
			if err != nil || ep.host != tc.want {
				t.Errorf("parseEndpoint(%q) = %q, %v; want %q", tc.in, ep.host, err, tc.want)
			}
		})
	}
}

func TestConnectErrors(t *testing.T) {
	missing := "unix://" + filepath.Join(t.TempDir(), "no-such.sock")
	tests := []struct {
		name     string
		endpoint string
		want     error
	}{
		{"bad endpoint", "http://localhost:2375", ErrBadEndpoint},
		{"empty endpoint", "", ErrBadEndpoint},
		{"socket missing", missing, ErrUnreachable},
		{"port closed", "tcp://127.0.0.1:1", ErrUnreachable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cli, err := Connect(t.Context(), tc.endpoint)
			if cli != nil {
				_ = cli.Close()
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("Connect(%q) = %v, want %v", tc.endpoint, err, tc.want)
			}
		})
	}
}

func TestConnectCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := Connect(ctx, "unix:///var/run/docker.sock")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Connect with canceled ctx = %v, want context.Canceled", err)
	}
}

// TestNewClientPlainTCP: a client for a plain tcp:// engine speaks plain
// HTTP, for its requests and for the raw events dial, and keeps its
// connections alive between requests.
func TestNewClientPlainTCP(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.41")
		_, _ = w.Write([]byte("OK"))
	}))
	var closed atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			conns.Add(1)
		case http.StateClosed:
			closed.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	cli, err := NewClient("tcp://"+srv.Listener.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	for range 3 {
		if _, err := cli.Ping(t.Context(), client.PingOptions{}); err != nil {
			t.Fatalf("ping over plain HTTP: %v", err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("3 pings used %d connections, want 1 kept alive", n)
	}
	// Idle connections of a plain engine close after IdleConnTimeout.
	deadline := time.Now().Add(IdleConnTimeout + 5*time.Second)
	for closed.Load() < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the idle connection is still open %s after the last request", IdleConnTimeout+5*time.Second)
		}
		time.Sleep(100 * time.Millisecond)
	}
	conn, err := eventsDialer(cli)(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the events dialer must dial plain TCP: %v", err)
	}
	_ = res.Body.Close()
}

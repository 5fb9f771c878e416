package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startHTTP serves h with t on a loopback port until the test ends and
// returns its address.
func startHTTP(tb testing.TB, h http.Handler, t httpTimeouts) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveOn(ctx, "test", ln, h, t) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("serveOn: %v", err)
		}
	})
	return ln.Addr().String()
}

// readBody is a handler that reads the whole body, as the API's do, and
// answers 400 when it cannot.
var readBody = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if _, err := io.ReadAll(r.Body); err != nil {
		http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
		return
	}
	_, _ = io.WriteString(w, "ok")
})

// closedWithin reads from conn until the server closes it and returns how
// long that took after start (failing after limit).
func closedWithin(t *testing.T, conn net.Conn, start time.Time, limit time.Duration) time.Duration {
	t.Helper()
	if err := conn.SetReadDeadline(start.Add(limit)); err != nil {
		t.Fatal(err)
	}
	_, err := io.Copy(io.Discard, conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the connection was still open %v after the request started", limit)
	}
	return time.Since(start)
}

// TestHTTPServer_SlowBodyCut: a POST whose body comes one byte every 2 s is
// cut once the read timeout passes; without it the 1,000-byte body would
// hold the connection for over half an hour.
func TestHTTPServer_SlowBodyCut(t *testing.T) {
	const readTimeout = 2 * time.Second
	addr := startHTTP(t, readBody, httpTimeouts{Read: readTimeout, Write: 30 * time.Second, Idle: 30 * time.Second})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := fmt.Fprint(conn, "POST /environments HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	sent := make(chan int, 1)
	go func() {
		n := 0
		for ; n < 1000; n++ {
			if _, err := conn.Write([]byte{'x'}); err != nil {
				break
			}
			time.Sleep(2 * time.Second)
		}
		sent <- n
	}()
	took := closedWithin(t, conn, start, readTimeout+5*time.Second)
	conn.Close()
	t.Logf("slow body (1 byte / 2 s): cut after %v with a read timeout of %v, %d bytes sent", took.Round(10*time.Millisecond), readTimeout, <-sent)
	if took < readTimeout-100*time.Millisecond {
		t.Fatalf("cut after %v, before the read timeout %v", took, readTimeout)
	}
}

// TestHTTPServer_LongHandlerKeepsItsContext: the read timeout ends once a
// request is read whole (net/http lifts it), so a handler that runs past
// it keeps its context: the read timeout may be shorter than handlers.
func TestHTTPServer_LongHandlerKeepsItsContext(t *testing.T) {
	const readTimeout = 500 * time.Millisecond
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		select {
		case <-r.Context().Done():
			http.Error(w, "cancelled", http.StatusServiceUnavailable)
		case <-time.After(3 * readTimeout):
			_, _ = io.WriteString(w, "done")
		}
	})
	addr := startHTTP(t, slow, httpTimeouts{Read: readTimeout, Write: 30 * time.Second, Idle: 30 * time.Second})
	for _, req := range []struct{ method, body string }{{http.MethodGet, ""}, {http.MethodPost, `{"name":"x"}`}} {
		r, _ := http.NewRequest(req.method, "http://"+addr+"/", strings.NewReader(req.body))
		if req.body == "" {
			r.Body = nil
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatalf("%s: %v", req.method, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != "done" {
			t.Fatalf("%s past the read timeout: %d %q; want the handler's answer", req.method, resp.StatusCode, b)
		}
	}
}

// TestHTTPServer_IdleAndWriteTimeouts: an idle kept-alive connection is
// closed after the idle timeout, and an answer that takes longer than the
// write timeout is not delivered.
func TestHTTPServer_IdleAndWriteTimeouts(t *testing.T) {
	const idle, write = time.Second, time.Second
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(write + 500*time.Millisecond)
		}
		_, _ = io.WriteString(w, "ok")
	})
	addr := startHTTP(t, slow, httpTimeouts{Read: 5 * time.Second, Write: write, Idle: idle})

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprint(conn, "GET /fast HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	start := time.Now()
	if err := conn.SetReadDeadline(start.Add(idle + 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: %v; want closed by the server (EOF)", err)
	}
	t.Logf("idle connection closed after %v (idle timeout %v)", time.Since(start).Round(10*time.Millisecond), idle)

	r, err := http.Get("http://" + addr + "/slow")
	if err == nil {
		r.Body.Close()
		t.Fatalf("an answer written after the write timeout arrived: %d", r.StatusCode)
	}
}

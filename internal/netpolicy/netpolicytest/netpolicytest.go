// Package netpolicytest helps tests prove that the outbound policy refused
// a target before any connection was made.
package netpolicytest

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
)

// AcceptCounter listens on 127.0.0.1 and counts the connections it
// accepts, answering each with raw after reading one request (nil: closing
// it at once): zero proves a refusal came before any connect. It stops
// when the test ends.
func AcceptCounter(t testing.TB, raw []byte) (hostPort string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			if raw != nil {
				_, _ = http.ReadRequest(bufio.NewReader(c))
				_, _ = c.Write(raw)
			}
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return ln.Addr().String(), accepted
}

// SilentPeer listens on 127.0.0.1, accepts every connection and never
// answers: it reads until the client closes, then closes its side. It
// stops, closing what it holds, when the test ends.
func SilentPeer(t testing.TB) (hostPort string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				_, _ = io.Copy(io.Discard, c)
				_ = c.Close()
			})
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// Package netpolicytest helps tests prove that the outbound policy refused
// a target before any connection was made.
package netpolicytest

import (
	"bufio"
	"net"
	"net/http"
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

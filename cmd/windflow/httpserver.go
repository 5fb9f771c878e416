package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"
)

// shutdownTimeout bounds the graceful HTTP shutdown.
const shutdownTimeout = 10 * time.Second

// Defaults of httpTimeouts (WINDFLOW_HTTP_*_TIMEOUT). The write timeout
// is above the longest handler (a test send: 20 s).
const (
	defaultHTTPReadTimeout  = 30 * time.Second
	defaultHTTPWriteTimeout = 60 * time.Second
	defaultHTTPIdleTimeout  = 120 * time.Second
	// maxHeaderWait bounds reading a request's headers (within Read).
	maxHeaderWait = 10 * time.Second
)

// httpTimeouts bound the connections of every HTTP server of the binary
// (the API and the metrics listener).
type httpTimeouts struct {
	// Read bounds reading a request, headers and body: a client that sends
	// its body slowly is cut. net/http lifts it once the request is read
	// whole, so a handler that runs longer keeps its context.
	Read time.Duration
	// Write bounds a request from the end of its headers to the end of its
	// answer. The live stream sets a deadline of its own before each write.
	Write time.Duration
	// Idle bounds the wait for the next request on a kept-alive connection.
	Idle time.Duration
}

// newHTTPServer is an http.Server serving h within t.
func newHTTPServer(h http.Handler, t httpTimeouts) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(maxHeaderWait, t.Read),
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
	}
}

// serveHTTP serves h on addr until ctx ends, then shuts down gracefully.
// name says which listener it is in the logs (api, metrics).
func serveHTTP(ctx context.Context, name, addr string, h http.Handler, t httpTimeouts) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: listen on %s: %w", name, addr, err)
	}
	return serveOn(ctx, name, ln, h, t)
}

// serveOn is serveHTTP on a listener it takes over.
func serveOn(ctx context.Context, name string, ln net.Listener, h http.Handler, t httpTimeouts) error {
	hs := newHTTPServer(h, t)
	slog.Info(name+" listening", "addr", ln.Addr().String())
	if name == "api" {
		// The first thing to open after make dev.
		fmt.Fprintf(os.Stderr, "\nWindflow dashboard: %s\n\n", dashboardURL(ln.Addr()))
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("%s: http shutdown: %w", name, err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	slog.Info(name + " stopped")
	return nil
}

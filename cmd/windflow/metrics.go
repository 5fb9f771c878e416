package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/pprof"

	"golang.org/x/sync/errgroup"

	"github.com/windflow/monitor/internal/telemetry"
)

// Where /metrics is served when WINDFLOW_METRICS_ADDR is not set: on
// loopback, apart from the API's address (/metrics is not behind the API
// token). The worker and api (and dev, which is both) default to
// different ports, so that a worker runs next to them on one machine.
const (
	defaultWorkerMetricsAddr = "127.0.0.1:9090"
	defaultAPIMetricsAddr    = "127.0.0.1:9091"
)

// metricsHandler serves GET /metrics from tel and, with WINDFLOW_PPROF,
// Go profiles; nothing else.
func metricsHandler(tel *telemetry.Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", tel.Handler())
	if pprofOn() {
		// Profiles for capacity work (WINDFLOW_PPROF=1), on the metrics
		// listener only, never on the API's.
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	}
	return mux
}

// serveMetrics serves metricsHandler alone on addr in g, unless addr is
// empty.
func serveMetrics(ctx context.Context, g *errgroup.Group, addr string, tel *telemetry.Metrics, t httpTimeouts) {
	if addr == "" {
		return
	}
	g.Go(func() error {
		if err := serveHTTP(ctx, "metrics", addr, metricsHandler(tel), t); err != nil {
			return fmt.Errorf("%w (set WINDFLOW_METRICS_ADDR to another address, or to empty to turn the listener off)", err)
		}
		return nil
	})
}

// pprofOn reports whether WINDFLOW_PPROF asks for profiles on the metrics
// listener.
func pprofOn() bool { return envBool("WINDFLOW_PPROF") }

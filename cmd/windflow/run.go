package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"golang.org/x/sync/errgroup"

	"github.com/windflow/monitor/activities"
	"github.com/windflow/monitor/api"
	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/notify"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/worker"
	"github.com/windflow/monitor/workflows"
)

// shutdownTimeout bounds the graceful HTTP shutdown.
const shutdownTimeout = 10 * time.Second

func runMigrate(ctx context.Context, cfg config) error {
	if err := store.Migrate(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	slog.Info("migrations applied")
	return nil
}

func dialTemporal(ctx context.Context, cfg config) (client.Client, error) {
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  cfg.TemporalAddress,
		Namespace: cfg.TemporalNamespace,
		Logger:    tlog.NewStructuredLogger(slog.Default()),
	})
	if err != nil {
		return nil, fmt.Errorf("dial temporal at %s: %w", cfg.TemporalAddress, err)
	}
	return c, nil
}

func runWorker(ctx context.Context, cfg config) error {
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	tc, err := dialTemporal(ctx, cfg)
	if err != nil {
		return err
	}
	defer tc.Close()
	return serveWorker(ctx, cfg, st, tc)
}

// serveWorker runs a worker until ctx ends, then stops it gracefully.
func serveWorker(ctx context.Context, cfg config, st *store.Store, tc client.Client) error {
	w := worker.New(tc, cfg.TaskQueue, &activities.Activities{
		Store:     st,
		Collector: engine.Collector{Parallelism: cfg.StatsParallelism},
		Events: activities.EventOptions{
			Filter: engine.EventFilter{InternalPrefix: cfg.InternalPrefix, OptOutLabel: cfg.OptOutLabel},
		},
		Temporal:  tc,
		TaskQueue: cfg.TaskQueue,
		Sender:    notify.Sender{},
	})
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	slog.Info("worker started", "task_queue", cfg.TaskQueue, "temporal", cfg.TemporalAddress)
	<-ctx.Done()
	w.Stop() // waits up to worker.StopTimeout for running activities
	slog.Info("worker stopped")
	return nil
}

func newServer(cfg config, st *store.Store, tc client.Client) *api.Server {
	return &api.Server{
		Store:     st,
		Temporal:  tc,
		TaskQueue: cfg.TaskQueue,
		Namespace: cfg.TemporalNamespace,
		UIURL:     cfg.TemporalUIURL,
		Logger:    slog.Default(),
		Sender:    notify.Sender{},
	}
}

// startBackground makes sure the long-lived workflows exist: every stored
// environment's workflow and the notification dispatcher (both idempotent).
func startBackground(ctx context.Context, srv *api.Server) {
	if err := srv.Reconcile(ctx); err != nil {
		slog.Warn("some environment workflows could not be started", "err", err)
	}
	if err := srv.StartDispatcher(ctx); err != nil {
		slog.Warn("the notification dispatcher could not be started", "err", err)
	}
}

func runAPI(ctx context.Context, cfg config) error {
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	tc, err := dialTemporal(ctx, cfg)
	if err != nil {
		return err
	}
	defer tc.Close()
	srv := newServer(cfg, st, tc)
	if err := srv.StartStream(ctx); err != nil {
		return err
	}
	defer srv.StopStream()
	startBackground(ctx, srv)
	return serveHTTP(ctx, cfg.HTTPAddr, srv.Routes())
}

// serveHTTP serves h until ctx ends, then shuts down gracefully.
func serveHTTP(ctx context.Context, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	slog.Info("api listening", "addr", ln.Addr().String())
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
		return fmt.Errorf("http shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	slog.Info("api stopped")
	return nil
}

// runDev runs migrations, the worker and the API in one process, and
// registers the local engine as environment "local" if it is not there.
func runDev(ctx context.Context, cfg config) error {
	if err := store.Migrate(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	tc, err := dialTemporal(ctx, cfg)
	if err != nil {
		return err
	}
	defer tc.Close()
	srv := newServer(cfg, st, tc)
	if err := srv.StartStream(ctx); err != nil {
		return err
	}
	defer srv.StopStream()
	if _, err := st.GetEnvironmentByName(ctx, "local"); errors.Is(err, store.ErrNotFound) {
		env, err := srv.CreateEnvironment(ctx, "local", cfg.DockerHost, workflows.SettingsPatch{})
		if err != nil {
			return fmt.Errorf("register the local engine: %w", err)
		}
		slog.Info("registered the local engine", "environment_id", env.ID, "endpoint", cfg.DockerHost)
	} else if err != nil {
		return err
	}
	startBackground(ctx, srv)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serveWorker(gctx, cfg, st, tc) })
	g.Go(func() error { return serveHTTP(gctx, cfg.HTTPAddr, srv.Routes()) })
	return g.Wait()
}

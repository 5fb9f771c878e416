package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	tlog "go.temporal.io/sdk/log"
	"golang.org/x/sync/errgroup"

	"github.com/windflow/monitor/activities"
	"github.com/windflow/monitor/api"
	"github.com/windflow/monitor/internal/agenthub"
	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/envflow"
	"github.com/windflow/monitor/internal/notify"
	"github.com/windflow/monitor/internal/secretbox"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/telemetry"
	"github.com/windflow/monitor/internal/temporalconn"
	"github.com/windflow/monitor/worker"
	"github.com/windflow/monitor/workflows"
)

func runMigrate(ctx context.Context, cfg config) error {
	if err := store.Migrate(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	slog.Info("migrations applied")
	return nil
}

// newTelemetry creates the process's metrics registry; stop shuts down what
// feeds it (call it after the Temporal client is closed).
func newTelemetry() (tel *telemetry.Metrics, stop func(), err error) {
	tel, err = telemetry.New()
	if err != nil {
		return nil, nil, err
	}
	return tel, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tel.Shutdown(ctx); err != nil {
			slog.Warn("telemetry shutdown", "err", err)
		}
	}, nil
}

// dialTemporal connects to Temporal, logging through slog and reporting the
// SDK's metrics into tel (nil: none).
func dialTemporal(ctx context.Context, cfg config, tel *telemetry.Metrics) (client.Client, error) {
	if cfg.temporal.HostPort == "" {
		if err := cfg.loadTemporal(envconfig.EnvLookupOS); err != nil {
			return nil, err
		}
	}
	opts := cfg.temporal
	opts.Logger = tlog.NewStructuredLogger(slog.Default())
	opts.MetricsHandler = tel.TemporalMetricsHandler()
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("dial temporal at %s: %w", temporalconn.Describe(opts), err)
	}
	slog.Info("connected to temporal", "temporal", temporalconn.Describe(opts))
	return c, nil
}

// conns are the connections every long-running command holds.
type conns struct {
	tel *telemetry.Metrics
	st  *store.Store
	tc  client.Client
}

// open opens the metrics registry, Postgres and Temporal, and settles the
// installation's task queue and search attributes in cfg and Temporal
// (prepareInstallation); close releases them in reverse order.
func open(ctx context.Context, cfg *config, dev bool) (c *conns, closeAll func(), err error) {
	tel, stopTel, err := newTelemetry()
	if err != nil {
		return nil, nil, err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		stopTel()
		return nil, nil, err
	}
	tc, err := dialTemporal(ctx, *cfg, tel)
	if err == nil {
		if err = prepareInstallation(ctx, cfg, st, tc, dev); err != nil {
			tc.Close()
		}
	}
	if err != nil {
		st.Close()
		stopTel()
		return nil, nil, err
	}
	return &conns{tel: tel, st: st, tc: tc}, func() { tc.Close(); st.Close(); stopTel() }, nil
}

func runWorker(ctx context.Context, cfg config) error {
	if err := cfg.checkTokenLength(); err != nil {
		return err
	}
	tuneGC()
	if err := installOutbound(cfg, false); err != nil {
		return err
	}
	c, closeAll, err := open(ctx, &cfg, false)
	if err != nil {
		return err
	}
	defer closeAll()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serveWorker(gctx, cfg, c.st, c.tc, c.tel) })
	serveMetrics(gctx, g, cfg.metricsAddr(defaultWorkerMetricsAddr), c.tel, cfg.httpTimeouts())
	return g.Wait()
}

// serveWorker runs a worker until ctx ends, then stops it gracefully.
func serveWorker(ctx context.Context, cfg config, st *store.Store, tc client.Client, tel *telemetry.Metrics) error {
	box, err := secretbox.FromString(cfg.SecretKey)
	if err != nil {
		return fmt.Errorf("WINDFLOW_SECRET_KEY: %w", err)
	}
	acts := &activities.Activities{
		Store:     st,
		Collector: engine.Collector{Parallelism: cfg.StatsParallelism},
		Events: activities.EventOptions{
			Filter: engine.EventFilter{InternalPrefix: cfg.InternalPrefix, OptOutLabel: cfg.OptOutLabel},
		},
		Temporal:  tc,
		TaskQueue: cfg.TaskQueue,
		Sender:    notify.Sender{},
		Leases:    st,
		Links:     notify.Links{DashboardURL: cfg.publicURL(), TemporalUIURL: cfg.TemporalUIURL, Namespace: cfg.TemporalNamespace},
		AlertCaps: cfg.AlertCaps,
		Agents:    agenthub.NewDialer(st),
	}
	if box != nil { // a nil *Box in the interface would not read as "no key"
		acts.Secrets = box
	}
	w := worker.New(tc, cfg.TaskQueue, acts, worker.WithTelemetry(tel),
		worker.WithSlots(cfg.MaxStreams, cfg.MaxActivities, cfg.MaxChecks))
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	slog.Info("worker started", "task_queue", cfg.TaskQueue, "temporal", cfg.TemporalAddress)
	<-ctx.Done()
	w.Stop() // waits up to worker.StopTimeout for running activities
	activities.CloseClients(acts)
	slog.Info("worker stopped")
	return nil
}

// flowsOf is the controller of environment workflows on c's store and
// Temporal client.
func flowsOf(cfg config, c *conns) *envflow.Controller {
	return &envflow.Controller{Store: c.st, Temporal: c.tc, TaskQueue: cfg.TaskQueue, Logger: slog.Default()}
}

// newServer builds the API server and checks its security settings: it
// logs the warnings and refuses to serve beyond loopback without a token
// (unless WINDFLOW_ALLOW_UNAUTHENTICATED).
func newServer(cfg config, c *conns) (*api.Server, error) {
	deps := api.Deps{Store: c.st, Flows: flowsOf(cfg, c), Sender: notify.Sender{}}
	box, err := secretbox.FromString(cfg.SecretKey)
	if err != nil {
		return nil, fmt.Errorf("WINDFLOW_SECRET_KEY: %w", err)
	}
	if box != nil { // a nil *Box in the interface would not read as "no key"
		deps.Secrets = box
	}
	if deps.AuthFailures, err = c.tel.RegisterAuthFailures(); err != nil {
		return nil, err
	}
	hub, err := agenthub.New(c.st, agenthub.Config{RelayURL: cfg.relayURL(), Logger: slog.Default()})
	if err != nil {
		return nil, err
	}
	if err := c.tel.RegisterAgentsConnected(hub.Connected); err != nil {
		return nil, err
	}
	deps.Agents = hub
	srv, err := api.New(api.Config{
		Namespace:            cfg.TemporalNamespace,
		UIURL:                cfg.TemporalUIURL,
		Logger:               slog.Default(),
		APIToken:             cfg.APIToken,
		PublicReads:          cfg.PublicReads,
		AllowUnauthenticated: cfg.AllowUnauthenticated,
		MutationRateLimit:    cfg.MutationRateLimit,
		AuthFailureLimit:     cfg.AuthFailureLimit,
		TrustProxyHeaders:    cfg.TrustProxyHeaders,
		CORSOrigins:          cfg.CORSOrigins,
		ListenAddr:           cfg.HTTPAddr,
		AllowedHosts:         cfg.allowedHosts(),
		MaxStreamClients:     cfg.MaxStreamClients,
		StreamBacklog:        cfg.StreamBacklog,
		StreamWriteTimeout:   cfg.StreamWriteTimeout,
		AlertCaps:            cfg.AlertCaps,
		PublicURL:            cfg.PublicURL,
	}, deps)
	if err != nil {
		return nil, err
	}
	for _, w := range srv.SecurityWarnings() {
		slog.Warn(w)
	}
	if err := srv.CheckListenAddr(cfg.HTTPAddr); err != nil {
		return nil, err
	}
	return srv, nil
}

// startBackground makes sure the long-lived work exists: every stored
// environment's workflow, the notification dispatcher and the retention
// schedule (all idempotent; envflow.Controller.StartBackground).
func startBackground(ctx context.Context, cfg config, c *conns) {
	flowsOf(cfg, c).StartBackground(ctx, envflow.Background{
		InstanceID: c.st.InstanceID,
		Schedules:  c.tc.ScheduleClient(),
		Retention:  cfg.Retention,
	})
}

// startAPI builds the API server, registers the API's metrics read from
// the store (windflow_alerts_firing) and starts its live stream; stop ends
// the stream.
func startAPI(ctx context.Context, cfg config, c *conns) (srv *api.Server, stop func(), err error) {
	srv, err = newServer(cfg, c)
	if err != nil {
		return nil, nil, err
	}
	if err := c.tel.RegisterAlertsFiring(firingSource(c.st), telemetry.MinFiringCache); err != nil {
		return nil, nil, fmt.Errorf("register windflow_alerts_firing: %w", err)
	}
	srv.StartStream(ctx)
	return srv, srv.StopStream, nil
}

// firingSource reads the alerts firing now from st for the metric.
func firingSource(st *store.Store) telemetry.FiringSource {
	return func(ctx context.Context) ([]telemetry.FiringCount, error) {
		counts, err := st.CountFiringAlerts(ctx)
		out := make([]telemetry.FiringCount, len(counts))
		for i, c := range counts {
			out[i] = telemetry.FiringCount{Environment: c.Environment, Severity: c.Severity, Count: c.Count}
		}
		return out, err
	}
}

// serveAPI serves the API on its address and /metrics on the metrics
// listener (never on the API's address: it is not behind the token), in g.
func serveAPI(ctx context.Context, g *errgroup.Group, cfg config, srv *api.Server, tel *telemetry.Metrics) {
	g.Go(func() error { return serveHTTP(ctx, "api", cfg.HTTPAddr, srv.Routes(), cfg.httpTimeouts()) })
	serveMetrics(ctx, g, cfg.metricsAddr(defaultAPIMetricsAddr), tel, cfg.httpTimeouts())
}

func runAPI(ctx context.Context, cfg config) error {
	if err := cfg.checkTokenLength(); err != nil {
		return err
	}
	c, srv, stop, err := openAPI(ctx, &cfg, false)
	if err != nil {
		return err
	}
	defer stop()
	startBackground(ctx, cfg, c)
	g, gctx := errgroup.WithContext(ctx)
	serveAPI(gctx, g, cfg, srv, c.tel)
	return g.Wait()
}

// openAPI installs the outbound policy, migrates the database (dev),
// connects and starts the API server; stop stops the server and closes
// the connections.
func openAPI(ctx context.Context, cfg *config, dev bool) (c *conns, srv *api.Server, stop func(), err error) {
	if err := installOutbound(*cfg, dev); err != nil {
		return nil, nil, nil, err
	}
	if dev {
		if err := store.Migrate(ctx, cfg.DatabaseURL); err != nil {
			return nil, nil, nil, err
		}
	}
	c, closeAll, err := open(ctx, cfg, dev)
	if err != nil {
		return nil, nil, nil, err
	}
	srv, stopAPI, err := startAPI(ctx, *cfg, c)
	if err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	return c, srv, func() { stopAPI(); closeAll() }, nil
}

// dashboardURL is the address a browser on this machine opens for the
// dashboard served on addr (a wildcard listen address becomes localhost).
func dashboardURL(addr net.Addr) string { return hostURL(addr.String()) }

// allowedHosts are the names the API answers to without a token: the
// configured ones, and the hosts of its public and relay URLs, which agents
// and workers name in their requests.
func (c config) allowedHosts() []string {
	hosts := slices.Clone(c.AllowedHosts)
	for _, raw := range []string{c.PublicURL, c.relayURL()} {
		if u, err := url.Parse(raw); err == nil && u.Hostname() != "" {
			hosts = append(hosts, u.Hostname())
		}
	}
	return hosts
}

// relayURL is where workers reach this API's agent relay: the configured
// URL, else the HTTP listen address with a wildcard host replaced by the
// machine's host name (reachable by workers on other machines when it
// resolves there; set WINDFLOW_RELAY_URL otherwise).
func (c config) relayURL() string {
	if c.RelayURL != "" {
		return strings.TrimSuffix(c.RelayURL, "/")
	}
	host, port, err := net.SplitHostPort(c.HTTPAddr)
	if err != nil {
		return "http://" + c.HTTPAddr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if name, err := os.Hostname(); err == nil {
			host = name
		} else {
			host = "localhost"
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}

// publicURL is the dashboard's base URL in notification links: the
// configured one, else the HTTP listen address's (hostURL), which is right
// for `windflow dev` and a worker next to its API only.
func (c config) publicURL() string {
	if c.PublicURL != "" {
		return c.PublicURL
	}
	return hostURL(c.HTTPAddr)
}

// hostURL is "http://host:port/" for a listen address host:port, a
// wildcard host written localhost.
func hostURL(hostport string) string {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "http://" + hostport + "/"
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// runDev runs migrations, the worker and the API in one process, and
// registers the local engine as environment "local" if it is not there.
func runDev(ctx context.Context, cfg config) error {
	if err := cfg.checkTokenLength(); err != nil {
		return err
	}
	tuneGC()
	c, srv, stop, err := openAPI(ctx, &cfg, true)
	if err != nil {
		return err
	}
	defer stop()
	if _, err := c.st.GetEnvironmentByName(ctx, "local"); errors.Is(err, store.ErrNotFound) {
		env, err := srv.CreateEnvironment(ctx, "local", cfg.DockerHost, workflows.SettingsPatch{})
		if err != nil {
			return fmt.Errorf("register the local engine: %w", err)
		}
		slog.Info("registered the local engine", "environment_id", env.ID, "endpoint", cfg.DockerHost)
	} else if err != nil {
		return err
	}
	startBackground(ctx, cfg, c)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serveWorker(gctx, cfg, c.st, c.tc, c.tel) })
	serveAPI(gctx, g, cfg, srv, c.tel)
	return g.Wait()
}

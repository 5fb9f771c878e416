// Package telemetry is Windflow's Prometheus instrumentation: one registry
// per process holding the Go runtime and process collectors, Windflow's own
// metrics (namespace "windflow") and the Temporal SDK's metrics (through the
// SDK's OpenTelemetry contrib handler and the OpenTelemetry Prometheus
// exporter), served by Handler on /metrics.
//
// Windflow's metrics:
//
//	windflow_collection_cycles_total{environment,outcome}     metric collection cycles (attempts), outcome ok|error|unavailable
//	windflow_collection_duration_seconds                      duration of a collection cycle, all environments of the process (histogram)
//	windflow_collection_last_success_timestamp_seconds{environment}
//	                                                          Unix time of the last successful cycle
//	windflow_events_ingested_total{environment}               container events newly stored
//	windflow_events_duplicates_total{environment}             events read again and dropped by the store's key
//	windflow_events_malformed_total{environment}              event lines that could not be decoded
//	windflow_event_gaps_total{environment}                    gaps recorded (events the engine could no longer replay)
//	windflow_events_recovered_total{environment}              events the live stream missed (the engine dropped them for a lagging reader), stored from its replay buffer
//	windflow_notifications_delivered_total{kind}              notification deliveries that succeeded
//	windflow_notifications_failed_total{kind}                 notification delivery attempts that failed
//	windflow_disk_usage_bytes{environment}                    engine disk usage at the last check
//	windflow_store_unavailable                                1 while PostgreSQL is unavailable to this worker's activities
//	                                                          (its last store call failed for that), else 0
//	windflow_store_unavailable_total{operation}               store calls of activities that failed because PostgreSQL was unavailable
//	windflow_cycles_unstored_total{environment,…}             checks left unknown because the monitor was unavailable (counted by the
//	                                                          workflow through the Temporal metrics handler, with the SDK's labels)
//	windflow_alerts_firing{environment,severity}              alerts firing now, read from the store at scrape time (API processes
//	                                                          only, cached 5 s; no series while the store cannot be read; alerts.go)
//
// The environment label is the environment's name: one series set per
// environment, so cardinality grows with the number of environments, not with
// containers or events. A deleted or renamed environment's series stay until
// the process restarts. The kind label takes the values of notify.AllKinds.
//
// Every recording method is safe on a nil *Metrics, so code instrumented with
// it works without telemetry configured (tests, tools). Activities find the
// process's Metrics on their context (NewContext, FromContext); the worker
// puts it on the background activity context.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
)

// Namespace prefixes Windflow's own metrics.
const Namespace = "windflow"

// Outcomes of a collection cycle (label outcome).
const (
	OutcomeOK    = "ok"
	OutcomeError = "error"
	// OutcomeUnavailable: the monitor itself (PostgreSQL) was unavailable;
	// the cycle says nothing about the engine.
	OutcomeUnavailable = "unavailable"
)

// temporalBuckets are the histogram bounds, in seconds, of the Temporal SDK's
// timers (request and long-poll latencies, task schedule-to-start, activity
// and workflow execution times). The OpenTelemetry default bounds are meant
// for milliseconds.
var temporalBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// Metrics holds the registry and every metric of a process. Create it with
// New; the zero value is not usable, but a nil *Metrics records nothing.
type Metrics struct {
	reg      *prometheus.Registry
	provider *sdkmetric.MeterProvider
	temporal client.MetricsHandler

	cycles           *prometheus.CounterVec
	cycleDuration    prometheus.Histogram
	lastSuccess      *prometheus.GaugeVec
	eventsIngested   *prometheus.CounterVec
	eventsDuplicates *prometheus.CounterVec
	eventsMalformed  *prometheus.CounterVec
	eventGaps        *prometheus.CounterVec
	eventsRecovered  *prometheus.CounterVec
	notifDelivered   *prometheus.CounterVec
	notifFailed      *prometheus.CounterVec
	diskUsage        *prometheus.GaugeVec
	storeUnavailable prometheus.Gauge
	storeFailures    *prometheus.CounterVec
}

// New creates a fresh registry (not Prometheus' global default one, so that
// tests are isolated) with the Go runtime, process, Windflow and Temporal SDK
// metrics registered.
func New() (*Metrics, error) {
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg}
	m.cycles = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "collection_cycles_total",
		Help: "Metric collection cycles of an environment, by outcome (ok or error).",
	}, []string{"environment", "outcome"})
	// Worker-wide, not by environment: 14 series per environment (~2.5 KB
	// of worker heap each, 1,000s of series to scrape) for a distribution
	// that cycles_total, last_success and each cycle's stored
	// collected_at − cycle_at already give per environment.
	m.cycleDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "collection_duration_seconds",
		Help:    "Duration of a metric collection cycle (engine connect, stats, store), all environments of this process.",
		Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120},
	})
	m.lastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "collection_last_success_timestamp_seconds",
		Help: "Unix time of the last successful metric collection cycle of an environment.",
	}, []string{"environment"})
	m.eventsIngested = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "events_ingested_total",
		Help: "Container events newly stored.",
	}, []string{"environment"})
	m.eventsDuplicates = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "events_duplicates_total",
		Help: "Container events read again (resumed reads, retries) and dropped as already stored.",
	}, []string{"environment"})
	m.eventsMalformed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "events_malformed_total",
		Help: "Event lines from the engine that could not be decoded and were skipped.",
	}, []string{"environment"})
	m.eventsRecovered = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "events_recovered_total",
		Help: "Events the live stream missed (the engine drops events for a lagging reader), stored from the engine's replay buffer.",
	}, []string{"environment"})
	m.eventGaps = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "event_gaps_total",
		Help: "Event gaps recorded: stretches of events the engine could no longer replay.",
	}, []string{"environment"})
	m.notifDelivered = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "notifications_delivered_total",
		Help: "Notification deliveries that succeeded, by notification kind.",
	}, []string{"kind"})
	m.notifFailed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "notifications_failed_total",
		Help: "Notification delivery attempts that failed (each retry counts), by notification kind.",
	}, []string{"kind"})
	m.diskUsage = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "disk_usage_bytes",
		Help: "Disk used by an environment's engine (images, containers, volumes, build cache) at the last check.",
	}, []string{"environment"})

	m.storeUnavailable = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "store_unavailable",
		Help: "1 while PostgreSQL is unavailable to this process's activities (their last store call failed for that), else 0.",
	})
	m.storeFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "store_unavailable_total",
		Help: "Store calls of activities that failed because PostgreSQL was unavailable, by operation.",
	}, []string{"operation"})

	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.cycles, m.cycleDuration, m.lastSuccess,
		m.eventsIngested, m.eventsDuplicates, m.eventsMalformed, m.eventGaps, m.eventsRecovered,
		m.notifDelivered, m.notifFailed, m.diskUsage,
		m.storeUnavailable, m.storeFailures,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("telemetry: register: %w", err)
		}
	}

	// The Temporal SDK reports through an OpenTelemetry meter whose reader
	// is a Prometheus exporter registered into the same registry: it is read
	// at scrape time, nothing is pushed.
	exporter, err := otelprom.New(
		otelprom.WithRegisterer(reg),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
		otelprom.WithoutTargetInfo(),
		otelprom.WithoutScopeInfo(),
	)
	if err != nil {
		return nil, fmt.Errorf("telemetry: prometheus exporter: %w", err)
	}
	m.provider = sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(exporter),
		sdkmetric.WithView(sdkmetric.NewView(
			sdkmetric.Instrument{Kind: sdkmetric.InstrumentKindHistogram},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: temporalBuckets}},
		)),
	)
	m.temporal = temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter: m.provider.Meter("go.temporal.io/sdk"),
		// The default panics on an instrument error.
		OnError: func(err error) { slog.Warn("temporal sdk metric dropped", "err", err) },
		// Counters as monotonic sums: exported as Prometheus counters (_total).
		UseMonotonicCounters: true,
	})
	return m, nil
}

// Registry is the registry every metric is registered in (nil on nil).
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Handler serves the registry in the Prometheus exposition formats
// (/metrics). On a nil *Metrics it answers 404.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.InstrumentMetricHandler(m.reg, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:          m.reg,
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	}))
}

// TemporalMetricsHandler is the handler for client.Options.MetricsHandler:
// the SDK's client, worker, workflow and activity metrics (temporal_*) land
// in the registry. Nil on a nil *Metrics, which the SDK takes as "no
// metrics".
func (m *Metrics) TemporalMetricsHandler() client.MetricsHandler {
	if m == nil {
		return nil
	}
	return m.temporal
}

// Shutdown stops the OpenTelemetry meter provider behind the Temporal
// metrics. Call it after the Temporal client is closed.
func (m *Metrics) Shutdown(ctx context.Context) error {
	if m == nil || m.provider == nil {
		return nil
	}
	err := m.provider.Shutdown(ctx)
	if errors.Is(err, sdkmetric.ErrReaderShutdown) {
		return nil
	}
	return err
}

// CollectionCycle records one metric collection cycle of an environment:
// its outcome (err nil: ok), its duration and, when it succeeded, the time of
// the last success.
func (m *Metrics) CollectionCycle(environment string, d time.Duration, err error) {
	outcome := OutcomeOK
	if err != nil {
		outcome = OutcomeError
	}
	m.CollectionCycleOutcome(environment, d, outcome)
}

// CollectionCycleOutcome records one metric collection cycle of an
// environment with its outcome (OutcomeOK, OutcomeError or
// OutcomeUnavailable), its duration and, when it succeeded, the time of the
// last success.
func (m *Metrics) CollectionCycleOutcome(environment string, d time.Duration, outcome string) {
	if m == nil {
		return
	}
	m.cycles.WithLabelValues(environment, outcome).Inc()
	// Every outcome exists from the first cycle on, so rates and ratios
	// work before the first error.
	for _, other := range []string{OutcomeOK, OutcomeError, OutcomeUnavailable} {
		m.cycles.WithLabelValues(environment, other).Add(0)
	}
	m.cycleDuration.Observe(d.Seconds())
	if outcome == OutcomeOK {
		m.lastSuccess.WithLabelValues(environment).SetToCurrentTime()
	}
}

// StoreUnavailable records a store call of an activity (operation names
// it: "load environment", "store metrics", …) that failed because
// PostgreSQL was unavailable, and marks the store unavailable.
func (m *Metrics) StoreUnavailable(operation string) {
	if m == nil {
		return
	}
	m.storeFailures.WithLabelValues(operation).Inc()
	m.storeUnavailable.Set(1)
}

// StoreAvailable marks the store available: a store call succeeded.
func (m *Metrics) StoreAvailable() {
	if m == nil {
		return
	}
	m.storeUnavailable.Set(0)
}

// EventsStored records a stored batch of events: how many were new and how
// many were already stored.
func (m *Metrics) EventsStored(environment string, stored, duplicates int) {
	if m == nil {
		return
	}
	m.eventsIngested.WithLabelValues(environment).Add(float64(max(stored, 0)))
	m.eventsDuplicates.WithLabelValues(environment).Add(float64(max(duplicates, 0)))
}

// EventsMalformed records n event lines that could not be decoded.
func (m *Metrics) EventsMalformed(environment string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.eventsMalformed.WithLabelValues(environment).Add(float64(n))
}

// EventGap records one newly stored event gap.
func (m *Metrics) EventGap(environment string) {
	if m == nil {
		return
	}
	m.eventGaps.WithLabelValues(environment).Inc()
}

// EventsRecovered records n events the live stream of environment missed
// and a replay found.
func (m *Metrics) EventsRecovered(environment string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.eventsRecovered.WithLabelValues(environment).Add(float64(n))
}

// NotificationDelivered records a successful delivery of a notification of
// the given kind.
func (m *Metrics) NotificationDelivered(kind string) {
	if m == nil {
		return
	}
	m.notifDelivered.WithLabelValues(kind).Inc()
}

// NotificationFailed records a failed delivery attempt of a notification of
// the given kind.
func (m *Metrics) NotificationFailed(kind string) {
	if m == nil {
		return
	}
	m.notifFailed.WithLabelValues(kind).Inc()
}

// DiskUsage records an environment's disk usage at a check.
func (m *Metrics) DiskUsage(environment string, bytes int64) {
	if m == nil {
		return
	}
	m.diskUsage.WithLabelValues(environment).Set(float64(bytes))
}

type ctxKey struct{}

// NewContext returns ctx carrying m.
func NewContext(ctx context.Context, m *Metrics) context.Context {
	return context.WithValue(ctx, ctxKey{}, m)
}

// FromContext returns the Metrics on ctx, or nil (which records nothing).
func FromContext(ctx context.Context) *Metrics {
	m, _ := ctx.Value(ctxKey{}).(*Metrics)
	return m
}

package telemetry

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// windflow_alerts_firing{environment,severity}: the alerts firing now, read
// from the store when Prometheus scrapes (the API process registers it;
// every instance reports the same figures, so aggregate with max, not sum).

// FiringCount is the number of alerts firing in one environment at one
// severity.
type FiringCount struct {
	Environment, Severity string
	Count                 int
}

// FiringSource reads the alerts firing now (the store's CountFiringAlerts).
type FiringSource func(ctx context.Context) ([]FiringCount, error)

// Bounds of the firing alerts' reads.
const (
	// MinFiringCache is the shortest time a read is kept: scrapes within it
	// (several Prometheus servers, a dashboard) reuse it.
	MinFiringCache = 5 * time.Second
	// firingReadTimeout bounds one read.
	firingReadTimeout = 5 * time.Second
)

// alertsFiring is the collector of windflow_alerts_firing.
type alertsFiring struct {
	desc     *prometheus.Desc
	source   FiringSource
	cacheFor time.Duration
	now      func() time.Time

	mu      sync.Mutex
	readAt  time.Time     // of the last read; zero before the first
	counts  []FiringCount // of the last read (nil when it failed)
	failing bool          // the last read failed (logged once per outage)
}

// RegisterAlertsFiring registers windflow_alerts_firing, read from source
// at scrape time and kept for cacheFor (at least MinFiringCache). When a
// read fails the metric reports no series, and the failure is logged once
// until a read succeeds again. Nothing on a nil *Metrics.
func (m *Metrics) RegisterAlertsFiring(source FiringSource, cacheFor time.Duration) error {
	if m == nil {
		return nil
	}
	return m.reg.Register(newAlertsFiring(source, cacheFor))
}

func newAlertsFiring(source FiringSource, cacheFor time.Duration) *alertsFiring {
	return &alertsFiring{
		desc: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", "alerts_firing"),
			"Alerts firing now (alert rules evaluated by the environment workflows), by environment and severity.",
			[]string{"environment", "severity"}, nil),
		source:   source,
		cacheFor: max(cacheFor, MinFiringCache),
		now:      time.Now,
	}
}

// Describe implements prometheus.Collector.
func (c *alertsFiring) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *alertsFiring) Collect(ch chan<- prometheus.Metric) {
	for _, f := range c.read() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(f.Count), f.Environment, f.Severity)
	}
}

// read returns the cached counts, or reads them again once the cache has
// expired.
func (c *alertsFiring) read() []FiringCount {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if !c.readAt.IsZero() && now.Sub(c.readAt) < c.cacheFor {
		return c.counts
	}
	ctx, cancel := context.WithTimeout(context.Background(), firingReadTimeout)
	defer cancel()
	counts, err := c.source(ctx)
	c.readAt, c.counts = now, counts
	switch {
	case err != nil && !c.failing:
		slog.Warn("windflow_alerts_firing: the firing alerts could not be read; the metric is left out until they can", "err", err)
		c.failing, c.counts = true, nil
	case err != nil:
		c.counts = nil
	default:
		c.failing = false
	}
	return c.counts
}

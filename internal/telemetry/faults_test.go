package telemetry

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestStoreOutageMetrics(t *testing.T) {
	m := newMetrics(t)
	if v := testutil.ToFloat64(m.storeUnavailable); v != 0 {
		t.Fatalf("store_unavailable = %v before any call, want 0", v)
	}
	m.StoreUnavailable("load environment")
	m.StoreUnavailable("load environment")
	m.StoreUnavailable("store metrics")
	if v := testutil.ToFloat64(m.storeUnavailable); v != 1 {
		t.Fatalf("store_unavailable = %v during an outage, want 1", v)
	}
	if v := testutil.ToFloat64(m.storeFailures.WithLabelValues("load environment")); v != 2 {
		t.Fatalf("store_unavailable_total{load environment} = %v, want 2", v)
	}
	m.StoreAvailable()
	if v := testutil.ToFloat64(m.storeUnavailable); v != 0 {
		t.Fatalf("store_unavailable = %v after a successful call, want 0", v)
	}

	// A cycle the monitor could not store is neither ok nor error, and no
	// success.
	m.CollectionCycleOutcome("prod", time.Second, OutcomeUnavailable)
	for outcome, want := range map[string]float64{OutcomeOK: 0, OutcomeError: 0, OutcomeUnavailable: 1} {
		if v := testutil.ToFloat64(m.cycles.WithLabelValues("prod", outcome)); v != want {
			t.Errorf("cycles{%s} = %v, want %v", outcome, v, want)
		}
	}
	if n := testutil.CollectAndCount(m.lastSuccess); n != 0 {
		t.Errorf("last success series = %d, want 0", n)
	}
	m.CollectionCycle("prod", time.Second, errors.New("engine unreachable"))
	if v := testutil.ToFloat64(m.cycles.WithLabelValues("prod", OutcomeError)); v != 1 {
		t.Errorf("cycles{error} = %v, want 1", v)
	}

	var nilMetrics *Metrics
	nilMetrics.StoreUnavailable("x")
	nilMetrics.StoreAvailable()
	nilMetrics.CollectionCycleOutcome("x", 0, OutcomeUnavailable)
}

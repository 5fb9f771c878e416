package telemetry

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestAlertsFiring: the gauge reports what the source reads at scrape
// time, reads it at most once per cache period (never under 5 s), and on a
// failed read reports nothing and logs once until a read works again.
func TestAlertsFiring(t *testing.T) {
	var logs bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))

	m := newMetrics(t)
	calls := 0
	var fail error
	counts := []FiringCount{{"prod", "critical", 2}, {"prod", "warning", 1}, {"staging", "info", 3}}
	c := newAlertsFiring(func(context.Context) ([]FiringCount, error) {
		calls++
		if fail != nil {
			return nil, fail
		}
		return counts, nil
	}, time.Second) // raised to MinFiringCache
	clock := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return clock }
	if err := m.reg.Register(c); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP windflow_alerts_firing Alerts firing now (alert rules evaluated by the environment workflows), by environment and severity.
# TYPE windflow_alerts_firing gauge
windflow_alerts_firing{environment="prod",severity="critical"} 2
windflow_alerts_firing{environment="prod",severity="warning"} 1
windflow_alerts_firing{environment="staging",severity="info"} 3
`
	scrape := func() (int, error) {
		t.Helper()
		n, err := testutil.GatherAndCount(m.reg, "windflow_alerts_firing")
		return n, err
	}
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want), "windflow_alerts_firing"); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(4 * time.Second)
	counts = counts[:1]
	if n, err := scrape(); err != nil || n != 3 || calls != 1 {
		t.Fatalf("within 5 s: %d series, %v, %d reads; want the cached 3, one read", n, err, calls)
	}
	clock = clock.Add(2 * time.Second)
	if n, err := scrape(); err != nil || n != 1 || calls != 2 {
		t.Fatalf("after 6 s: %d series, %v, %d reads; want 1 series, a second read", n, err, calls)
	}

	fail = errors.New("connection refused")
	for range 3 {
		clock = clock.Add(10 * time.Second)
		if n, err := scrape(); err != nil || n != 0 {
			t.Fatalf("store down: %d series, %v; want none", n, err)
		}
	}
	if got := strings.Count(logs.String(), "connection refused"); got != 1 || calls != 5 {
		t.Fatalf("store down for 3 reads: logged %d times, %d reads; want once, 5 reads:\n%s", got, calls, logs.String())
	}
	fail = nil
	clock = clock.Add(10 * time.Second)
	if n, err := scrape(); err != nil || n != 1 {
		t.Fatalf("store back: %d series, %v", n, err)
	}
	fail = errors.New("connection refused again")
	clock = clock.Add(10 * time.Second)
	if _, err := scrape(); err != nil || !strings.Contains(logs.String(), "connection refused again") {
		t.Fatalf("a new outage is logged again: %v\n%s", err, logs.String())
	}
}

package telemetry

import (
	"strings"
	"testing"
)

// TestAuthFailures: every reason is exported from the start, counts add
// up, and nil receivers count nothing.
func TestAuthFailures(t *testing.T) {
	m := newMetrics(t)
	a, err := m.RegisterAuthFailures()
	if err != nil {
		t.Fatal(err)
	}
	body := scrape(t, m.Handler())
	for _, reason := range []string{AuthMissing, AuthInvalid, AuthLimited} {
		if want := `windflow_api_auth_failures_total{reason="` + reason + `"} 0`; !strings.Contains(body, want) {
			t.Errorf("before any failure, /metrics lacks %q", want)
		}
	}
	a.AuthFailure(AuthInvalid)
	a.AuthFailure(AuthInvalid)
	a.AuthFailure(AuthLimited)
	body = scrape(t, m.Handler())
	for _, want := range []string{
		`windflow_api_auth_failures_total{reason="invalid"} 2`,
		`windflow_api_auth_failures_total{reason="limited"} 1`,
		`windflow_api_auth_failures_total{reason="missing"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if _, err := m.RegisterAuthFailures(); err == nil {
		t.Error("registering twice: no error")
	}
	var none *Metrics
	if a, err := none.RegisterAuthFailures(); a != nil || err != nil {
		t.Fatalf("nil Metrics: %v, %v", a, err)
	}
	(*AuthFailures)(nil).AuthFailure(AuthMissing) // no panic
}

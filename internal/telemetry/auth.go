package telemetry

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons of a refused authentication (label reason of
// windflow_api_auth_failures_total).
const (
	// AuthMissing: the request carried no token.
	AuthMissing = "missing"
	// AuthInvalid: the request carried a token that is not the API's.
	AuthInvalid = "invalid"
	// AuthLimited: the client had guessed wrong too often and was refused
	// before its token was looked at.
	AuthLimited = "limited"
)

// AuthFailures counts the API's refused authentications
// (windflow_api_auth_failures_total{reason}). A nil *AuthFailures counts
// nothing.
type AuthFailures struct{ counter *prometheus.CounterVec }

// RegisterAuthFailures registers windflow_api_auth_failures_total, which
// API processes count into (api.Deps.AuthFailures). Every reason exists
// from the start at 0, so rates work before the first failure. Nil on a
// nil *Metrics.
func (m *Metrics) RegisterAuthFailures() (*AuthFailures, error) {
	if m == nil {
		return nil, nil
	}
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "api_auth_failures_total",
		Help: "API requests refused for their token, by reason: missing, invalid, or limited (the client guessed wrong too often).",
	}, []string{"reason"})
	if err := m.reg.Register(c); err != nil {
		return nil, fmt.Errorf("telemetry: register api_auth_failures_total: %w", err)
	}
	for _, reason := range []string{AuthMissing, AuthInvalid, AuthLimited} {
		c.WithLabelValues(reason).Add(0)
	}
	return &AuthFailures{counter: c}, nil
}

// AuthFailure counts one refused authentication.
func (a *AuthFailures) AuthFailure(reason string) {
	if a == nil {
		return
	}
	a.counter.WithLabelValues(reason).Inc()
}

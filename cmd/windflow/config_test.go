package main

import (
	"context"
	"flag"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/windflow/monitor/workflows"
)

// loadWith loads the configuration from the environment set by the test
// and the given flags.
func loadWith(t *testing.T, args ...string) config {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	c := loadConfig(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return *c
}

func TestConfig_DefaultsAreValid(t *testing.T) {
	c := loadWith(t)
	if err := c.validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if c.Retention.MetricsDays != 7 || c.Retention.EventsDays != 90 {
		t.Fatalf("retention defaults %+v", c.Retention)
	}
}

// TestConfig_BadEnvironmentFailsStartup: a value that cannot be read is
// reported with its variable, not silently replaced by the default.
func TestConfig_BadEnvironmentFailsStartup(t *testing.T) {
	for _, tc := range []struct{ name, value, want string }{
		{"WINDFLOW_STATS_PARALLELISM", "lots", "WINDFLOW_STATS_PARALLELISM=\"lots\" is not an integer"},
		{"WINDFLOW_MUTATION_RATE_LIMIT", "60/min", "WINDFLOW_MUTATION_RATE_LIMIT=\"60/min\" is not an integer"},
		{"WINDFLOW_RETENTION_EVENTS_DAYS", "90d", "WINDFLOW_RETENTION_EVENTS_DAYS=\"90d\" is not an integer"},
		{"WINDFLOW_PUBLIC_READS", "yes please", "WINDFLOW_PUBLIC_READS=\"yes please\" is not a boolean"},
		{"WINDFLOW_ALLOW_UNAUTHENTICATED", "on", "WINDFLOW_ALLOW_UNAUTHENTICATED=\"on\" is not a boolean"},
		{"WINDFLOW_PPROF", "enable", "WINDFLOW_PPROF=\"enable\" is not a boolean"},
		{"WINDFLOW_STREAM_WRITE_TIMEOUT", "10", "WINDFLOW_STREAM_WRITE_TIMEOUT=\"10\" is not a duration"},
		{"WINDFLOW_HTTP_READ_TIMEOUT", "30", "WINDFLOW_HTTP_READ_TIMEOUT=\"30\" is not a duration"},
		{"WINDFLOW_ALLOW_SHORT_TOKEN", "please", "WINDFLOW_ALLOW_SHORT_TOKEN=\"please\" is not a boolean"},
		{"WINDFLOW_AUTH_FAILURE_LIMIT", "30/min", "WINDFLOW_AUTH_FAILURE_LIMIT=\"30/min\" is not an integer"},
		{"WINDFLOW_MAX_STREAM_CLIENTS", "1e3", "WINDFLOW_MAX_STREAM_CLIENTS=\"1e3\" is not an integer"},
		{"WINDFLOW_LOG_LEVEL", "verbose", "log level (WINDFLOW_LOG_LEVEL) must be debug, info, warn or error"},
		{"WINDFLOW_HTTP_ADDR", "8080", "WINDFLOW_HTTP_ADDR) must be host:port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(tc.name, tc.value)
			err := loadWith(t).validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%s=%q: validate() = %v; want an error containing %q", tc.name, tc.value, err, tc.want)
			}
		})
	}
}

func TestConfig_EveryErrorAtOnce(t *testing.T) {
	t.Setenv("WINDFLOW_MAX_CHECKS", "x")
	t.Setenv("WINDFLOW_TRUST_PROXY_HEADERS", "maybe")
	t.Setenv("WINDFLOW_RETENTION_DISK_DAYS", "-1")
	err := loadWith(t).validate()
	if err == nil {
		t.Fatal("validate() = nil")
	}
	for _, want := range []string{"WINDFLOW_MAX_CHECKS", "WINDFLOW_TRUST_PROXY_HEADERS", "WINDFLOW_RETENTION_DISK_DAYS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

// TestConfig_RetentionValidatedAtStartup: the bounds of the pruning
// activity are checked before anything starts, from the environment and
// from flags.
func TestConfig_RetentionValidatedAtStartup(t *testing.T) {
	for _, tc := range []struct {
		env, value string
		args       []string
		ok         bool
	}{
		{"WINDFLOW_RETENTION_METRICS_DAYS", "0", nil, true},
		{"WINDFLOW_RETENTION_METRICS_DAYS", "36500", nil, true},
		{"WINDFLOW_RETENTION_METRICS_DAYS", "36501", nil, false},
		{"WINDFLOW_RETENTION_NOTIFICATIONS_DAYS", "-5", nil, false},
		{"WINDFLOW_RETENTION_EVENTS_DAYS", "99999999", nil, false},
		{"WINDFLOW_RETENTION_METRICS_1M_DAYS", "0", nil, true},
		{"WINDFLOW_RETENTION_METRICS_1H_DAYS", "36501", nil, false},
		{"WINDFLOW_RETENTION_METRICS_1M_DAYS", "-1", nil, false},
		{"", "", []string{"-retention-disk-days", "-1"}, false},
		{"", "", []string{"-retention-disk-days", "7"}, true},
		// A flag wins over a bad-but-readable environment value.
		{"WINDFLOW_RETENTION_EVENTS_DAYS", "-1", []string{"-retention-events-days", "10"}, true},
	} {
		t.Run(tc.env+"="+tc.value+strings.Join(tc.args, " "), func(t *testing.T) {
			if tc.env != "" {
				t.Setenv(tc.env, tc.value)
			}
			err := loadWith(t, tc.args...).validate()
			if tc.ok != (err == nil) {
				t.Fatalf("validate() = %v; want ok=%v", err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "from 0 (keep forever) to 36500 days") {
				t.Fatalf("error %q does not give the range", err)
			}
		})
	}
}

func TestConfig_StreamAndHosts(t *testing.T) {
	t.Setenv("WINDFLOW_ALLOWED_HOSTS", " monitor.lan, ,windflow.example.com:8080 ")
	t.Setenv("WINDFLOW_STREAM_WRITE_TIMEOUT", "3s")
	t.Setenv("WINDFLOW_MAX_STREAM_CLIENTS", "12")
	c := loadWith(t, "-stream-backlog", "50")
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.AllowedHosts, "|") != "monitor.lan|windflow.example.com:8080" {
		t.Fatalf("AllowedHosts = %q", c.AllowedHosts)
	}
	if c.StreamWriteTimeout != 3*time.Second || c.MaxStreamClients != 12 || c.StreamBacklog != 50 {
		t.Fatalf("stream settings %v %d %d", c.StreamWriteTimeout, c.MaxStreamClients, c.StreamBacklog)
	}
	if err := loadWith(t, "-stream-backlog", "-1").validate(); err == nil {
		t.Fatal("a negative backlog passed")
	}
}

// TestDashboardURL: the URL printed at start is one a local browser opens.
func TestDashboardURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080/",
		"0.0.0.0:8080":   "http://localhost:8080/",
		"[::]:9000":      "http://localhost:9000/",
		"[::1]:9000":     "http://[::1]:9000/",
	} {
		tcp, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := dashboardURL(tcp); got != want {
			t.Errorf("dashboardURL(%s) = %s; want %s", addr, got, want)
		}
		if got := (config{HTTPAddr: addr}).publicURL(); got != want {
			t.Errorf("publicURL with -http-addr %s = %s; want %s", addr, got, want)
		}
	}
	if got := (config{HTTPAddr: "0.0.0.0:8080", PublicURL: "https://windflow.example/"}).publicURL(); got != "https://windflow.example/" {
		t.Errorf("publicURL with -public-url = %s", got)
	}
}

// TestConfig_ShortTokenRefused: api, worker and dev refuse a token under
// 16 characters before they open anything, saying why and how to proceed,
// unless WINDFLOW_ALLOW_SHORT_TOKEN (or -allow-short-token) accepts it.
func TestConfig_ShortTokenRefused(t *testing.T) {
	const short = "tooshort-123" // 12 characters
	t.Setenv("WINDFLOW_API_TOKEN", short)
	c := loadWith(t)
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	for name, run := range map[string]func(context.Context, config) error{"api": runAPI, "worker": runWorker, "dev": runDev} {
		err := run(t.Context(), c)
		if err == nil {
			t.Fatalf("%s started with a 12-character token", name)
		}
		for _, want := range []string{"WINDFLOW_API_TOKEN", "12 characters", "16", "openssl rand", "WINDFLOW_ALLOW_SHORT_TOKEN=true"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q does not say %q", name, err, want)
			}
		}
		if strings.Contains(err.Error(), short) {
			t.Fatalf("%s: the error holds the token: %q", name, err)
		}
	}
	if err := loadWith(t, "-allow-short-token").checkTokenLength(); err != nil {
		t.Fatalf("-allow-short-token: %v", err)
	}
	t.Setenv("WINDFLOW_ALLOW_SHORT_TOKEN", "1")
	if err := loadWith(t).checkTokenLength(); err != nil {
		t.Fatalf("WINDFLOW_ALLOW_SHORT_TOKEN=1: %v", err)
	}
	t.Setenv("WINDFLOW_ALLOW_SHORT_TOKEN", "")
	for _, token := range []string{"", "   ", "0123456789abcdef", "  0123456789abcdef  "} {
		t.Setenv("WINDFLOW_API_TOKEN", token)
		if err := loadWith(t).checkTokenLength(); err != nil {
			t.Errorf("token %q: %v", token, err)
		}
	}
}

// TestConfig_HTTPTimeouts: the HTTP timeouts have defaults, read the
// environment and flags, and must be positive.
func TestConfig_HTTPTimeouts(t *testing.T) {
	got := loadWith(t).httpTimeouts()
	if got != (httpTimeouts{Read: defaultHTTPReadTimeout, Write: defaultHTTPWriteTimeout, Idle: defaultHTTPIdleTimeout}) {
		t.Fatalf("defaults %+v", got)
	}
	t.Setenv("WINDFLOW_HTTP_READ_TIMEOUT", "5s")
	c := loadWith(t, "-http-idle-timeout", "1m")
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.httpTimeouts(); got.Read != 5*time.Second || got.Idle != time.Minute || got.Write != defaultHTTPWriteTimeout {
		t.Fatalf("set: %+v", got)
	}
	if err := loadWith(t, "-http-write-timeout", "0s").validate(); err == nil || !strings.Contains(err.Error(), "WINDFLOW_HTTP_WRITE_TIMEOUT") {
		t.Fatalf("a zero write timeout: %v", err)
	}
}

// TestConfig_AlertCapsBounded: the alert caps default, take a value within
// their maximum and refuse one past it, naming the variable.
func TestConfig_AlertCapsBounded(t *testing.T) {
	if c := loadWith(t); c.AlertCaps != workflows.DefaultAlertCaps() {
		t.Fatalf("caps %+v; want the defaults", c.AlertCaps)
	}
	t.Setenv("WINDFLOW_ALERT_MAX_GLOBAL_RULES", "40")
	if c := loadWith(t); c.AlertCaps.GlobalRules != 40 || c.validate() != nil {
		t.Fatalf("40 global rules: %+v, %v", c.AlertCaps, c.validate())
	}
	t.Setenv("WINDFLOW_ALERT_MAX_CONTAINER_ALERTS", "501")
	if err := loadWith(t).validate(); err == nil || !strings.Contains(err.Error(), "WINDFLOW_ALERT_MAX_CONTAINER_ALERTS must be from 1 to 500") {
		t.Fatalf("501 container alerts: %v; want refused", err)
	}
}

// TestAllowedHostsNameTheAgentURLs: without an API token the API answers
// only to the names it knows, so the hosts agents (public URL) and workers
// (relay URL) name must be among them.
func TestAllowedHostsNameTheAgentURLs(t *testing.T) {
	c := config{AllowedHosts: []string{"monitor.lan"}, PublicURL: "https://windflow.example.com/",
		RelayURL: "http://api-1.internal:8080", HTTPAddr: "0.0.0.0:8080"}
	if got := strings.Join(c.allowedHosts(), "|"); got != "monitor.lan|windflow.example.com|api-1.internal" {
		t.Fatalf("allowed hosts = %q", got)
	}
	c = config{HTTPAddr: "0.0.0.0:8080"}
	name, _ := os.Hostname()
	if got := c.allowedHosts(); len(got) != 1 || got[0] != name || c.relayURL() != "http://"+net.JoinHostPort(name, "8080") {
		t.Fatalf("allowed hosts = %q, relay URL %q: want the host name %q", got, c.relayURL(), name)
	}
}

package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/windflow/monitor/api"
	"github.com/windflow/monitor/internal/temporalconn"
	"github.com/windflow/monitor/worker"
	"github.com/windflow/monitor/workflows"
)

// config is the whole configuration; every field has an environment
// variable and a flag (the flag wins), and a default that works with
// `make dev`.
type config struct {
	DatabaseURL       string
	TemporalAddress   string
	TemporalNamespace string
	// temporal is the resolved connection (loadTemporal): the flags over
	// Temporal's environment configuration (TLS, mTLS, API key, profiles).
	temporal client.Options
	// TaskQueue is $WINDFLOW_TASK_QUEUE; empty, open sets the
	// installation's own (prepareInstallation).
	TaskQueue        string
	HTTPAddr         string
	TemporalUIURL    string
	DockerHost       string
	StatsParallelism int
	// PublicURL is the dashboard's base URL as people open it, for the
	// links of alert notifications ($WINDFLOW_PUBLIC_URL); empty: derived
	// from HTTPAddr (see publicURL).
	PublicURL string
	// RelayURL is where workers reach this API instance's agent relay
	// (http://host:port); empty means relayURL's guess from HTTPAddr.
	RelayURL string
	// Slot budgets of the worker (see worker.WithSlots).
	MaxStreams, MaxActivities, MaxChecks int
	LogLevel                             string
	// InternalPrefix and OptOutLabel decide which containers' events are ignored.
	InternalPrefix string
	OptOutLabel    string
	// SecretKey encrypts the TLS material of remote engines at rest
	// (internal/secretbox: 32 bytes as 64 hex digits or base64). It comes
	// from $WINDFLOW_SECRET_KEY only, never a flag (flags show in ps);
	// empty means environments with TLS material are refused.
	SecretKey string
	// MetricsAddr is the /metrics listener ($WINDFLOW_METRICS_ADDR; set but
	// empty: none). Unset: the worker listens on 127.0.0.1:9090, api and
	// dev on 127.0.0.1:9091 (metrics.go); never on the API's address.
	MetricsAddr    string
	MetricsAddrSet bool
	// Timeouts of every HTTP server (httpserver.go).
	HTTPReadTimeout, HTTPWriteTimeout, HTTPIdleTimeout time.Duration
	// API security (see api.Server). The token comes from the environment
	// only, never a flag; AllowShortToken accepts one shorter than
	// api.MinTokenLength (checkTokenLength).
	APIToken             string
	AllowShortToken      bool
	PublicReads          bool
	AllowUnauthenticated bool
	MutationRateLimit    int
	AuthFailureLimit     int
	TrustProxyHeaders    bool
	CORSOrigins          []string
	// AllowedHosts are host names the API answers to without a token,
	// besides loopback and its listen address ($WINDFLOW_ALLOWED_HOSTS).
	AllowedHosts []string
	// Live stream bounds (see api.Server).
	MaxStreamClients   int
	StreamBacklog      int
	StreamWriteTimeout time.Duration
	// Retention in days of old data (0: keep forever), pruned hourly by a
	// Temporal Schedule.
	Retention workflows.PruneInput
	// OutboundAllow is the outbound allow-list ($WINDFLOW_OUTBOUND_ALLOW,
	// -outbound-allow; unset: the command's default, see outbound.go).
	OutboundAllow    string
	OutboundAllowSet bool
	// AlertCaps bound the alert rules (API) and the container alerts of an
	// environment (worker); see workflows.AlertCaps.
	AlertCaps workflows.AlertCaps

	// envErrors are the environment variables whose value could not be
	// read; validate reports them.
	envErrors *envReader
}

// envReader reads typed environment variables and remembers every value
// it could not parse: a typo fails startup instead of silently meaning the
// default.
type envReader struct{ errs []error }

func (r *envReader) fail(name, value, want string) {
	r.errs = append(r.errs, fmt.Errorf("%s=%q is not %s", name, value, want))
}

func (r *envReader) int(name string, def int) int {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.fail(name, v, "an integer")
		return def
	}
	return n
}

func (r *envReader) bool(name string) bool {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(name, v, "a boolean (true, false, 1, 0)")
	}
	return b
}

func (r *envReader) duration(name string, def time.Duration) time.Duration {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		r.fail(name, v, "a duration (such as 10s or 1m)")
		return def
	}
	return d
}

// list reads a comma-separated list, without empty entries.
func (r *envReader) list(name string) []string {
	var out []string
	for _, v := range strings.Split(os.Getenv(name), ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// envBool reads a boolean variable; an unparsable value is false (the
// startup check of loadConfig's variables reports it).
func envBool(name string) bool {
	b, _ := strconv.ParseBool(strings.TrimSpace(os.Getenv(name)))
	return b
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// loadConfig reads the environment and defines the flags on fs; the flags
// write into the returned config when fs is parsed (so it is a pointer:
// a copy taken before fs.Parse would not see them).
func loadConfig(fs *flag.FlagSet) *config {
	c := &config{envErrors: &envReader{}}
	envInt, envBool, envDuration := c.envErrors.int, c.envErrors.bool, c.envErrors.duration
	fs.StringVar(&c.DatabaseURL, "database-url",
		env("DATABASE_URL", "postgres://postgres@127.0.0.1:55432/windflow?sslmode=disable"), "PostgreSQL URL ($DATABASE_URL)")
	fs.StringVar(&c.TemporalAddress, "temporal-address", "",
		"Temporal frontend host:port; default: Temporal's environment configuration ($TEMPORAL_ADDRESS, $TEMPORAL_PROFILE), else 127.0.0.1:7233")
	fs.StringVar(&c.TemporalNamespace, "temporal-namespace", "",
		"Temporal namespace; default: Temporal's environment configuration ($TEMPORAL_NAMESPACE), else default")
	fs.StringVar(&c.TaskQueue, "task-queue", env("WINDFLOW_TASK_QUEUE", ""),
		"Temporal task queue ($WINDFLOW_TASK_QUEUE; default "+workflows.DefaultTaskQueue+"-<the database's instance ID>)")
	fs.StringVar(&c.HTTPAddr, "http-addr", env("WINDFLOW_HTTP_ADDR", "127.0.0.1:8080"), "HTTP listen address of the API ($WINDFLOW_HTTP_ADDR)")
	fs.StringVar(&c.TemporalUIURL, "temporal-ui-url", env("TEMPORAL_UI_URL", "http://127.0.0.1:8233"), "Temporal Web UI base URL, for links ($TEMPORAL_UI_URL)")
	fs.StringVar(&c.RelayURL, "relay-url", env("WINDFLOW_RELAY_URL", ""),
		"URL at which workers reach this API's agent relay; default: from -http-addr and the host name ($WINDFLOW_RELAY_URL)")
	fs.StringVar(&c.PublicURL, "public-url", env("WINDFLOW_PUBLIC_URL", ""),
		"the dashboard's URL as people open it, for links in notifications; empty: http://<http-addr>/ ($WINDFLOW_PUBLIC_URL)")
	fs.StringVar(&c.DockerHost, "docker-host", env("DOCKER_HOST", "unix:///var/run/docker.sock"), "engine registered as \"local\" by dev ($DOCKER_HOST)")
	fs.IntVar(&c.StatsParallelism, "stats-parallelism", envInt("WINDFLOW_STATS_PARALLELISM", 128), "container stats read at once per environment ($WINDFLOW_STATS_PARALLELISM)")
	fs.IntVar(&c.MaxStreams, "max-streams", envInt("WINDFLOW_MAX_STREAMS", worker.DefaultMaxStreams),
		"event streams one worker follows at once ($WINDFLOW_MAX_STREAMS)")
	fs.IntVar(&c.MaxActivities, "max-activities", envInt("WINDFLOW_MAX_ACTIVITIES", worker.DefaultMaxActivities),
		"other activities (disk checks, records, deliveries) one worker runs at once ($WINDFLOW_MAX_ACTIVITIES)")
	fs.IntVar(&c.MaxChecks, "max-checks", envInt("WINDFLOW_MAX_CHECKS", worker.DefaultMaxLocalActivities),
		"checks (metrics cycles) one worker runs at once ($WINDFLOW_MAX_CHECKS)")
	fs.StringVar(&c.InternalPrefix, "internal-prefix", env("WINDFLOW_INTERNAL_PREFIX", "windflow-internal-"), "events of containers named with this prefix are ignored ($WINDFLOW_INTERNAL_PREFIX)")
	fs.StringVar(&c.OptOutLabel, "opt-out-label", env("WINDFLOW_OPT_OUT_LABEL", "windflow.ignore"), "containers with this label set to true are ignored ($WINDFLOW_OPT_OUT_LABEL)")
	fs.StringVar(&c.LogLevel, "log-level", env("WINDFLOW_LOG_LEVEL", "info"), "debug, info, warn or error ($WINDFLOW_LOG_LEVEL)")
	c.SecretKey = os.Getenv("WINDFLOW_SECRET_KEY")
	c.MetricsAddr, c.MetricsAddrSet = os.LookupEnv("WINDFLOW_METRICS_ADDR")
	c.APIToken = os.Getenv("WINDFLOW_API_TOKEN")
	fs.BoolVar(&c.AllowShortToken, "allow-short-token", envBool("WINDFLOW_ALLOW_SHORT_TOKEN"),
		fmt.Sprintf("accept a WINDFLOW_API_TOKEN shorter than %d characters ($WINDFLOW_ALLOW_SHORT_TOKEN)", api.MinTokenLength))
	fs.BoolVar(&c.PublicReads, "public-reads", envBool("WINDFLOW_PUBLIC_READS"), "GET requests need no token ($WINDFLOW_PUBLIC_READS)")
	fs.BoolVar(&c.AllowUnauthenticated, "allow-unauthenticated", envBool("WINDFLOW_ALLOW_UNAUTHENTICATED"),
		"serve beyond loopback without WINDFLOW_API_TOKEN ($WINDFLOW_ALLOW_UNAUTHENTICATED)")
	fs.IntVar(&c.MutationRateLimit, "mutation-rate-limit", envInt("WINDFLOW_MUTATION_RATE_LIMIT", 0),
		"mutating requests per minute per client IP; 0: 60, negative: off ($WINDFLOW_MUTATION_RATE_LIMIT)")
	fs.IntVar(&c.AuthFailureLimit, "auth-failure-limit", envInt("WINDFLOW_AUTH_FAILURE_LIMIT", 0),
		"wrong API tokens per minute per client IP, any method; 0: 30, negative: off ($WINDFLOW_AUTH_FAILURE_LIMIT)")
	fs.BoolVar(&c.TrustProxyHeaders, "trust-proxy-headers", envBool("WINDFLOW_TRUST_PROXY_HEADERS"),
		"take the client IP from X-Forwarded-For, behind one trusted proxy ($WINDFLOW_TRUST_PROXY_HEADERS)")
	def := workflows.DefaultPruneInput()
	fs.IntVar(&c.Retention.MetricsDays, "retention-metrics-days", envInt("WINDFLOW_RETENTION_METRICS_DAYS", defaultRawMetricsDays),
		"days raw host and container metrics are kept, 0: forever ($WINDFLOW_RETENTION_METRICS_DAYS)")
	fs.IntVar(&c.Retention.EventsDays, "retention-events-days", envInt("WINDFLOW_RETENTION_EVENTS_DAYS", def.EventsDays),
		"days container events and gaps are kept, 0: forever ($WINDFLOW_RETENTION_EVENTS_DAYS)")
	fs.IntVar(&c.Retention.DiskDays, "retention-disk-days", envInt("WINDFLOW_RETENTION_DISK_DAYS", def.DiskDays),
		"days disk samples are kept, 0: forever ($WINDFLOW_RETENTION_DISK_DAYS)")
	c.Retention.MetricsMinuteDays, c.Retention.MetricsHourDays = new(int), new(int)
	fs.IntVar(c.Retention.MetricsMinuteDays, "retention-metrics-1m-days", envInt("WINDFLOW_RETENTION_METRICS_1M_DAYS", workflows.DefaultMetricsMinuteDays),
		"days 1-minute metric rollups are kept, 0: forever ($WINDFLOW_RETENTION_METRICS_1M_DAYS)")
	fs.IntVar(c.Retention.MetricsHourDays, "retention-metrics-1h-days", envInt("WINDFLOW_RETENTION_METRICS_1H_DAYS", workflows.DefaultMetricsHourDays),
		"days 1-hour metric rollups are kept, 0: forever ($WINDFLOW_RETENTION_METRICS_1H_DAYS)")
	fs.IntVar(&c.Retention.NotificationsDays, "retention-notifications-days", envInt("WINDFLOW_RETENTION_NOTIFICATIONS_DAYS", def.NotificationsDays),
		"days delivered or failed notifications are kept, 0: forever ($WINDFLOW_RETENTION_NOTIFICATIONS_DAYS)")
	fs.IntVar(&c.MaxStreamClients, "max-stream-clients", envInt("WINDFLOW_MAX_STREAM_CLIENTS", 0),
		"open live streams per API process; 0: 256, negative: no bound ($WINDFLOW_MAX_STREAM_CLIENTS)")
	fs.IntVar(&c.StreamBacklog, "stream-backlog", envInt("WINDFLOW_STREAM_BACKLOG", 0),
		"rows a live stream reads to catch up before it skips to the present; 0: 10000 ($WINDFLOW_STREAM_BACKLOG)")
	fs.DurationVar(&c.StreamWriteTimeout, "stream-write-timeout", envDuration("WINDFLOW_STREAM_WRITE_TIMEOUT", 0),
		"a live stream client that takes longer to accept a write is dropped; 0: 10s ($WINDFLOW_STREAM_WRITE_TIMEOUT)")
	fs.DurationVar(&c.HTTPReadTimeout, "http-read-timeout", envDuration("WINDFLOW_HTTP_READ_TIMEOUT", defaultHTTPReadTimeout),
		"a request's headers and body must arrive within this ($WINDFLOW_HTTP_READ_TIMEOUT)")
	fs.DurationVar(&c.HTTPWriteTimeout, "http-write-timeout", envDuration("WINDFLOW_HTTP_WRITE_TIMEOUT", defaultHTTPWriteTimeout),
		"an answer must be written within this; the live stream is bounded per write instead ($WINDFLOW_HTTP_WRITE_TIMEOUT)")
	fs.DurationVar(&c.HTTPIdleTimeout, "http-idle-timeout", envDuration("WINDFLOW_HTTP_IDLE_TIMEOUT", defaultHTTPIdleTimeout),
		"a kept-alive connection without a request is closed after this ($WINDFLOW_HTTP_IDLE_TIMEOUT)")
	caps, most := workflows.DefaultAlertCaps(), workflows.MaxAlertCaps()
	for _, f := range []struct {
		v          *int
		flag, name string
		def, most  int
		what       string
	}{
		{&c.AlertCaps.GlobalRules, "alert-max-global-rules", "WINDFLOW_ALERT_MAX_GLOBAL_RULES", caps.GlobalRules, most.GlobalRules, "alert rules of every environment"},
		{&c.AlertCaps.EnvironmentRules, "alert-max-environment-rules", "WINDFLOW_ALERT_MAX_ENVIRONMENT_RULES", caps.EnvironmentRules, most.EnvironmentRules, "alert rules of one environment"},
		{&c.AlertCaps.RuleLabels, "alert-max-rule-labels", "WINDFLOW_ALERT_MAX_RULE_LABELS", caps.RuleLabels, most.RuleLabels, "labels one alert rule selects on"},
		{&c.AlertCaps.RuleLabelBytes, "alert-max-rule-label-bytes", "WINDFLOW_ALERT_MAX_RULE_LABEL_BYTES", caps.RuleLabelBytes, most.RuleLabelBytes, "bytes of one alert rule's label keys and values"},
		{&c.AlertCaps.ContainerAlerts, "alert-max-container-alerts", "WINDFLOW_ALERT_MAX_CONTAINER_ALERTS", caps.ContainerAlerts, most.ContainerAlerts, "container alerts (rule × container) one environment holds"},
	} {
		fs.IntVar(f.v, f.flag, envInt(f.name, f.def), fmt.Sprintf("%s, 1 to %d ($%s)", f.what, f.most, f.name))
	}
	envBool("WINDFLOW_PPROF") // only checked here (pprofOn reads it): a bad value fails startup
	c.CORSOrigins = c.envErrors.list("WINDFLOW_CORS_ORIGINS")
	c.AllowedHosts = c.envErrors.list("WINDFLOW_ALLOWED_HOSTS")
	c.OutboundAllow, c.OutboundAllowSet = os.LookupEnv("WINDFLOW_OUTBOUND_ALLOW")
	fs.Func("outbound-allow", "outbound targets allowed besides public addresses and DOCKER_HOST: loopback, private, unix, CIDRs, unix:///path ($WINDFLOW_OUTBOUND_ALLOW)", c.setOutboundAllow)
	return c
}

// maxRetentionDays is the longest retention (100 years), the bound the
// pruning activity enforces too.
const maxRetentionDays = 36500

// defaultRawMetricsDays is the default retention of raw metrics; their
// 1-minute and 1-hour rollups are kept 30 and 365 days by default.
const defaultRawMetricsDays = 7

// validate reports, all at once, the environment variables that could not
// be read and the values out of range; startup stops on it.
func (c config) validate() error {
	var errs []error
	if c.envErrors != nil {
		errs = append(errs, c.envErrors.errs...)
	}
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	for _, d := range []struct {
		name string
		days int
	}{
		{"metrics", c.Retention.MetricsDays}, {"events", c.Retention.EventsDays},
		{"disk", c.Retention.DiskDays}, {"notifications", c.Retention.NotificationsDays},
	} {
		check(d.days >= 0 && d.days <= maxRetentionDays,
			"retention of %s (WINDFLOW_RETENTION_%s_DAYS, -retention-%s-days) must be from 0 (keep forever) to %d days, got %d",
			d.name, strings.ToUpper(d.name), d.name, maxRetentionDays, d.days)
	}
	for _, d := range []struct {
		name, tier string
		days       int
	}{{"1M", "1m", *c.Retention.MetricsMinuteDays}, {"1H", "1h", *c.Retention.MetricsHourDays}} {
		check(d.days >= 0 && d.days <= maxRetentionDays,
			"retention of metrics rollups (WINDFLOW_RETENTION_METRICS_%s_DAYS, -retention-metrics-%s-days) must be from 0 (keep forever) to %d days, got %d",
			d.name, d.tier, maxRetentionDays, d.days)
	}
	// The queue goes into visibility queries (envflow's upgrade).
	check(!strings.ContainsAny(c.TaskQueue, `'"\`), "task queue (WINDFLOW_TASK_QUEUE) cannot hold quotes or backslashes, got %q", c.TaskQueue)
	check(c.StatsParallelism >= 1, "stats parallelism (WINDFLOW_STATS_PARALLELISM) must be at least 1, got %d", c.StatsParallelism)
	check(c.MaxStreams >= 0 && c.MaxActivities >= 0 && c.MaxChecks >= 0,
		"worker slots (WINDFLOW_MAX_STREAMS, WINDFLOW_MAX_ACTIVITIES, WINDFLOW_MAX_CHECKS) cannot be negative")
	check(c.StreamBacklog >= 0, "stream backlog (WINDFLOW_STREAM_BACKLOG) cannot be negative, got %d", c.StreamBacklog)
	check(c.HTTPReadTimeout > 0 && c.HTTPWriteTimeout > 0 && c.HTTPIdleTimeout > 0,
		"HTTP timeouts (WINDFLOW_HTTP_READ_TIMEOUT, WINDFLOW_HTTP_WRITE_TIMEOUT, WINDFLOW_HTTP_IDLE_TIMEOUT) must be positive, got %s, %s, %s",
		c.HTTPReadTimeout, c.HTTPWriteTimeout, c.HTTPIdleTimeout)
	check(c.StreamWriteTimeout >= 0, "stream write timeout (WINDFLOW_STREAM_WRITE_TIMEOUT) cannot be negative, got %s", c.StreamWriteTimeout)
	var level slog.Level
	check(level.UnmarshalText([]byte(c.LogLevel)) == nil, "log level (WINDFLOW_LOG_LEVEL) must be debug, info, warn or error, got %q", c.LogLevel)
	_, _, err := net.SplitHostPort(c.HTTPAddr)
	check(err == nil, "HTTP address (WINDFLOW_HTTP_ADDR) must be host:port, got %q", c.HTTPAddr)
	errs = append(errs, c.checkOutbound(), c.AlertCaps.Validate())
	return errors.Join(errs...)
}

// metricsAddr is the separate /metrics listener: $WINDFLOW_METRICS_ADDR
// when set (empty: none), else def.
func (c config) metricsAddr(def string) string {
	if c.MetricsAddrSet {
		return c.MetricsAddr
	}
	return def
}

// httpTimeouts are the configured timeouts of the HTTP servers.
func (c config) httpTimeouts() httpTimeouts {
	return httpTimeouts{Read: c.HTTPReadTimeout, Write: c.HTTPWriteTimeout, Idle: c.HTTPIdleTimeout}
}

// checkTokenLength refuses an API token shorter than api.MinTokenLength
// unless AllowShortToken says so (api, worker and dev check it before
// anything starts). The error never holds the token.
func (c config) checkTokenLength() error {
	n := len(strings.TrimSpace(c.APIToken))
	if n == 0 || n >= api.MinTokenLength || c.AllowShortToken {
		return nil
	}
	return fmt.Errorf("the API token (WINDFLOW_API_TOKEN) has %d characters, under the %d required: a short token can be guessed; "+
		"set a random one (e.g. `openssl rand -hex 32`), or set WINDFLOW_ALLOW_SHORT_TOKEN=true (-allow-short-token) to use it anyway",
		n, api.MinTokenLength)
}

// loadTemporal resolves the Temporal connection from Temporal's environment
// configuration (temporalconn: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
// TEMPORAL_API_KEY, TEMPORAL_TLS_*, profiles), the flags winning, and
// fills TemporalAddress and TemporalNamespace with what it resolved.
func (c *config) loadTemporal(lookup envconfig.EnvLookup) error {
	opts, err := temporalconn.Load(lookup, temporalconn.Overrides{Address: c.TemporalAddress, Namespace: c.TemporalNamespace})
	if err != nil {
		return err
	}
	c.temporal = opts
	c.TemporalAddress, c.TemporalNamespace = opts.HostPort, opts.Namespace
	return nil
}

package main

import (
	"flag"
	"os"
	"strconv"
	"strings"

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
	TaskQueue         string
	HTTPAddr          string
	TemporalUIURL     string
	DockerHost        string
	StatsParallelism  int
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
	// MetricsAddr is the separate /metrics listener ($WINDFLOW_METRICS_ADDR;
	// set but empty: none). Unset: the worker listens on 127.0.0.1:9090, api
	// and dev serve /metrics on their HTTP address only.
	MetricsAddr    string
	MetricsAddrSet bool
	// API security (see api.Server). The token comes from the environment
	// only, never a flag.
	APIToken             string
	PublicReads          bool
	AllowUnauthenticated bool
	MutationRateLimit    int
	TrustProxyHeaders    bool
	CORSOrigins          []string
	// Retention in days of old data (0: keep forever), pruned hourly by a
	// Temporal Schedule.
	Retention workflows.PruneInput
}

func envBool(name string) bool {
	b, _ := strconv.ParseBool(os.Getenv(name))
	return b
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func loadConfig(fs *flag.FlagSet) config {
	var c config
	fs.StringVar(&c.DatabaseURL, "database-url",
		env("DATABASE_URL", "postgres://postgres@127.0.0.1:55432/windflow?sslmode=disable"), "PostgreSQL URL ($DATABASE_URL)")
	fs.StringVar(&c.TemporalAddress, "temporal-address", env("TEMPORAL_ADDRESS", "127.0.0.1:7233"), "Temporal frontend host:port ($TEMPORAL_ADDRESS)")
	fs.StringVar(&c.TemporalNamespace, "temporal-namespace", env("TEMPORAL_NAMESPACE", "default"), "Temporal namespace ($TEMPORAL_NAMESPACE)")
	fs.StringVar(&c.TaskQueue, "task-queue", env("WINDFLOW_TASK_QUEUE", workflows.DefaultTaskQueue), "Temporal task queue ($WINDFLOW_TASK_QUEUE)")
	fs.StringVar(&c.HTTPAddr, "http-addr", env("WINDFLOW_HTTP_ADDR", "127.0.0.1:8080"), "HTTP listen address of the API ($WINDFLOW_HTTP_ADDR)")
	fs.StringVar(&c.TemporalUIURL, "temporal-ui-url", env("TEMPORAL_UI_URL", "http://127.0.0.1:8233"), "Temporal Web UI base URL, for links ($TEMPORAL_UI_URL)")
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
	fs.BoolVar(&c.PublicReads, "public-reads", envBool("WINDFLOW_PUBLIC_READS"), "GET requests need no token ($WINDFLOW_PUBLIC_READS)")
	fs.BoolVar(&c.AllowUnauthenticated, "allow-unauthenticated", envBool("WINDFLOW_ALLOW_UNAUTHENTICATED"),
		"serve beyond loopback without WINDFLOW_API_TOKEN ($WINDFLOW_ALLOW_UNAUTHENTICATED)")
	fs.IntVar(&c.MutationRateLimit, "mutation-rate-limit", envInt("WINDFLOW_MUTATION_RATE_LIMIT", 0),
		"mutating requests per minute per client IP; 0: 60, negative: off ($WINDFLOW_MUTATION_RATE_LIMIT)")
	fs.BoolVar(&c.TrustProxyHeaders, "trust-proxy-headers", envBool("WINDFLOW_TRUST_PROXY_HEADERS"),
		"take the client IP from X-Forwarded-For, behind one trusted proxy ($WINDFLOW_TRUST_PROXY_HEADERS)")
	def := workflows.DefaultPruneInput()
	fs.IntVar(&c.Retention.MetricsDays, "retention-metrics-days", envInt("WINDFLOW_RETENTION_METRICS_DAYS", def.MetricsDays),
		"days host and container metrics are kept, 0: forever ($WINDFLOW_RETENTION_METRICS_DAYS)")
	fs.IntVar(&c.Retention.EventsDays, "retention-events-days", envInt("WINDFLOW_RETENTION_EVENTS_DAYS", def.EventsDays),
		"days container events and gaps are kept, 0: forever ($WINDFLOW_RETENTION_EVENTS_DAYS)")
	fs.IntVar(&c.Retention.DiskDays, "retention-disk-days", envInt("WINDFLOW_RETENTION_DISK_DAYS", def.DiskDays),
		"days disk samples are kept, 0: forever ($WINDFLOW_RETENTION_DISK_DAYS)")
	fs.IntVar(&c.Retention.NotificationsDays, "retention-notifications-days", envInt("WINDFLOW_RETENTION_NOTIFICATIONS_DAYS", def.NotificationsDays),
		"days delivered or failed notifications are kept, 0: forever ($WINDFLOW_RETENTION_NOTIFICATIONS_DAYS)")
	for _, o := range strings.Split(os.Getenv("WINDFLOW_CORS_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
	}
	return c
}

// metricsAddr is the separate /metrics listener: $WINDFLOW_METRICS_ADDR
// when set (empty: none), else def.
func (c config) metricsAddr(def string) string {
	if c.MetricsAddrSet {
		return c.MetricsAddr
	}
	return def
}

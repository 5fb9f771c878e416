// Package api is Windflow's HTTP API (chi, JSON, under /api/v1): environments
// and their settings, collected metrics and status. Creating an environment
// starts its Temporal workflow; settings changes go to the workflow as a
// validated Update and are answered synchronously. Its parts (Deps) are
// wired once by New; Temporal is reached only through Flows
// (internal/envflow).
package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/windflow/monitor/workflows"
)

// Config is the API's configuration: links, logging, security and the
// bounds of the live stream. Its zero value is a working configuration
// (loopback only, no token).
type Config struct {
	// Namespace and UIURL build links to workflows in the Temporal Web UI.
	Namespace string
	UIURL     string
	// Logger logs requests and failures; nil means slog.Default().
	Logger *slog.Logger
	// StreamHeartbeat is the interval of the ": keepalive" comment of
	// /api/v1/stream; zero means DefaultStreamHeartbeat (15s).
	StreamHeartbeat time.Duration

	// Security (security.go); Routes reads these once.
	//
	// APIToken, when set, is required as "Authorization: Bearer <token>"
	// on every /api/v1 request (also ?access_token= on GET /api/v1/stream);
	// /healthz and /readyz stay open. Empty means no authentication (see
	// SecurityWarnings and CheckListenAddr).
	APIToken string
	// PublicReads lets GET and HEAD through without the token.
	PublicReads bool
	// AllowUnauthenticated lets CheckListenAddr accept a non-loopback
	// address without a token (something in front authenticates).
	AllowUnauthenticated bool
	// MutationRateLimit is how many mutating requests one client IP may send
	// per minute: 0 means DefaultMutationRateLimit (60), negative means no
	// limit.
	MutationRateLimit int
	// AuthFailureLimit is how many wrong tokens one client IP may present
	// per minute, whatever the method: 0 means DefaultAuthFailureLimit (30),
	// negative means no limit. Past it the client's requests that need the
	// token are answered 429.
	AuthFailureLimit int
	// TrustProxyHeaders takes the client IP (for rate limiting) from the
	// last X-Forwarded-For entry; set it only behind a reverse proxy that
	// appends it and is the only way to reach the API.
	TrustProxyHeaders bool
	// CORSOrigins are the origins (scheme://host[:port]) whose pages may
	// call the API; empty means CORS off.
	CORSOrigins []string
	// ListenAddr is the address the API listens on (host:port); its host is
	// an allowed Host header when no token is set (see AllowedHosts).
	ListenAddr string
	// AllowedHosts are further host names (port ignored) that requests may
	// name in their Host header when no token is set. Without a token,
	// loopback names (localhost, *.localhost), IP literals and the host of
	// ListenAddr are always allowed and any other name is refused with 421:
	// this defeats DNS rebinding, where a web page reaches the API through
	// a name of its own that resolves to 127.0.0.1.
	AllowedHosts []string
	// MaxStreamClients bounds the open GET /api/v1/stream connections of
	// this Server: 0 means DefaultMaxStreamClients, negative no bound. Over
	// it the answer is 503 with Retry-After.
	MaxStreamClients int
	// StreamBacklog bounds the rows one stream connection reads to catch
	// up (a resume from an old Last-Event-ID, or a client that fell
	// behind): 0 means DefaultStreamBacklog. Past it the connection gets a
	// backlog_truncated message and continues from the present.
	StreamBacklog int
	// StreamWriteTimeout bounds each write to a stream client: 0 means
	// DefaultStreamWriteTimeout. A client that does not read is dropped.
	StreamWriteTimeout time.Duration
	// AlertCaps bound the alert rules (zero fields: the defaults).
	AlertCaps workflows.AlertCaps
	// PublicURL is the URL agents dial (the printed agent command); empty
	// means the URL of the request that made the token.
	PublicURL string
}

// Deps are the parts the API serves from. Store, Flows and Sender are
// required; Secrets is optional.
type Deps struct {
	// Store is PostgreSQL (*store.Store).
	Store Store
	// Flows changes environments together with their workflows and reads
	// the workflows' state (*envflow.Controller).
	Flows Flows
	// Sender sends the test notification of POST
	// /notification-channels/{id}/test (notify.Sender).
	Sender Sender
	// Secrets seals the TLS material of environments at rest (a
	// *secretbox.Box from WINDFLOW_SECRET_KEY; environments_tls.go). Nil,
	// or a nil Box, refuses TLS material; environments without it still
	// work.
	Secrets Sealer
	// AuthFailures counts refused tokens (a *telemetry.AuthFailures);
	// optional.
	AuthFailures AuthFailureCounter
	// Agents serves agent connections and the workers' relay (an
	// *agenthub.Hub); optional: without it no agent can connect.
	Agents AgentHub
}

// Server serves the API.
type Server struct {
	cfg     Config
	store   Store
	flows   Flows
	sender  Sender
	secrets Sealer
	// authFailures counts refused tokens (security.go); may be nil.
	authFailures AuthFailureCounter
	// agents serves agent connections (agents.go); may be nil.
	agents AgentHub
	// stream is the shared LISTEN connection of /api/v1/stream (stream.go).
	stream streamHub
}

// New builds the API server; it refuses deps without a Store, Flows or
// Sender.
func New(cfg Config, deps Deps) (*Server, error) {
	var missing []string
	if deps.Store == nil {
		missing = append(missing, "Store")
	}
	if deps.Flows == nil {
		missing = append(missing, "Flows")
	}
	if deps.Sender == nil {
		missing = append(missing, "Sender")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("api: missing %s", strings.Join(missing, ", "))
	}
	return &Server{cfg: cfg, store: deps.Store, flows: deps.Flows, sender: deps.Sender, secrets: deps.Secrets,
		authFailures: deps.AuthFailures, agents: deps.Agents}, nil
}

// maxBodyBytes bounds every request body.
const maxBodyBytes = 1 << 20

// Routes returns the whole HTTP handler.
func (s *Server) Routes() http.Handler {
	sec := s.security()
	r := chi.NewRouter()
	r.Use(middleware.RequestID, sec.clientIP, s.logRequests, middleware.Recoverer,
		securityHeaders, sec.checkHost, sec.cors, limitBody)
	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Get("/api/v1/openapi.json", serveOpenAPI) // open like /healthz (openapi.go)
	s.mountDashboard(r)                         // the browser dashboard at / (dashboard.go)
	s.mountAgents(r, sec)                       // agents and the workers' relay (agents.go)
	r.Route("/api/v1", func(r chi.Router) {
		// Mutations are counted before authentication: token guesses too.
		r.Use(sec.limitMutations, sec.authenticate, sec.refuseBrowserForgery)
		r.Mount("/environments", s.environmentRoutes())
		// Notification channels and the notification history (channels.go,
		// notifications.go).
		r.Mount("/notification-channels", s.channelRoutes())
		r.Get("/notifications", handle(s.listNotifications))
		r.Mount("/alert-rules", s.alertRuleRoutes()) // alert rules (alertrules.go)
		r.Get("/alerts", handle(s.listAlerts))       // firing and recent alerts (alerts.go)
		r.Get("/overview", handle(s.getOverview))    // every environment at a glance (overview.go)
		r.Mount("/events", s.eventRoutes())
		r.Get("/stream", s.streamEvents)
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, errorf(http.StatusNotFound, "not_found", "no route %s %s", r.Method, r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, errorf(http.StatusMethodNotAllowed, "method_not_allowed", "method %s not allowed on %s", r.Method, r.URL.Path))
	})
	return r
}

func (s *Server) logger() *slog.Logger {
	if s.cfg.Logger == nil {
		return slog.Default()
	}
	return s.cfg.Logger
}

// logRequests logs one line per request, without bodies or query strings.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		start := time.Now()
		next.ServeHTTP(ww, r)
		s.logger().Debug("http request", "method", r.Method, "path", r.URL.Path,
			"status", ww.Status(), "duration", time.Since(start), "request_id", middleware.GetReqID(r.Context()))
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when Postgres and Temporal both answer. It is open to
// anyone, so a failure is answered as "unavailable" and its detail (which
// names hosts, users and internal states) only logged.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{"postgres": "ok", "temporal": "ok"}
	status := http.StatusOK
	if err := s.store.Ping(ctx); err != nil {
		s.logger().Warn("readyz: postgres does not answer", "err", err)
		checks["postgres"] = "unavailable"
		status = http.StatusServiceUnavailable
	}
	if err := s.flows.CheckHealth(ctx); err != nil {
		s.logger().Warn("readyz: temporal does not answer", "err", err)
		checks["temporal"] = "unavailable"
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, checks)
}

package api

// Security of the HTTP API: bearer-token authentication, rate limiting of
// mutations and of wrong tokens, request body limits, CORS and security
// headers. Every setting is a Server field read once by Routes; the command
// wiring sets them from the environment (WINDFLOW_API_TOKEN,
// WINDFLOW_PUBLIC_READS, …).

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/httprate"

	"github.com/windflow/monitor/internal/agentproto"
	"github.com/windflow/monitor/internal/telemetry"
)

// DefaultMutationRateLimit is how many mutating requests (POST, PUT, PATCH,
// DELETE, …) one client IP may send per minute when
// Server.MutationRateLimit is zero.
const DefaultMutationRateLimit = 60

// mutationRateWindow is the window of Server.MutationRateLimit.
const mutationRateWindow = time.Minute

// DefaultAuthFailureLimit is how many wrong tokens one client IP may
// present per minute when Server.AuthFailureLimit is zero.
const DefaultAuthFailureLimit = 30

// authFailureWindow is the window of Server.AuthFailureLimit.
const authFailureWindow = time.Minute

// MinTokenLength is the shortest API token accepted without a warning (the
// command refuses a shorter one unless told to accept it).
const MinTokenLength = 16

// streamPath is the one route that also accepts the token as ?access_token=.
const streamPath = "/api/v1/stream"

// accessTokenParam is the query parameter of the stream's token.
const accessTokenParam = "access_token"

// CORS answers: what a browser on an allowed origin may send and read.
const (
	corsAllowMethods  = "GET, HEAD, POST, PUT, PATCH, DELETE"
	corsAllowHeaders  = "Authorization, Content-Type, Last-Event-ID"
	corsExposeHeaders = "Location, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"
	corsMaxAge        = "600"
)

// security is the security configuration of a Server, resolved once by
// Routes from its fields.
type security struct {
	// tokenDigest is the SHA-256 of the API token; tokenSet is false when
	// no token is configured (the API is then open).
	tokenDigest [sha256.Size]byte
	tokenSet    bool
	publicReads bool
	trustProxy  bool
	// rateLimit is the mutations per window per client IP; 0 means off.
	rateLimit int
	// guesses limits the wrong tokens per client IP (nil: no limit), and
	// failures counts every refused token.
	guesses  *guessLimiter
	failures AuthFailureCounter
	// origins are the allowed CORS origins, normalized; empty means CORS off.
	origins map[string]struct{}
	// allowedHosts are the host names a Host header may name when no token
	// is set (besides loopback names and IP literals); lower case, no port.
	allowedHosts map[string]struct{}
	warnings     []string
}

// security resolves the Server's security fields and the warnings about them.
func (s *Server) security() *security {
	sec := &security{publicReads: s.cfg.PublicReads, trustProxy: s.cfg.TrustProxyHeaders, failures: s.authFailures}
	warn := func(format string, args ...any) { sec.warnings = append(sec.warnings, fmt.Sprintf(format, args...)) }

	token := strings.TrimSpace(s.cfg.APIToken)
	switch token {
	case "":
		warn("no API token is set (WINDFLOW_API_TOKEN): anyone who can reach the API can read everything " +
			"and create, change or delete environments, which point at Docker engines; set a random token " +
			"of at least 32 characters (e.g. `openssl rand -hex 32`)")
		if s.cfg.PublicReads {
			warn("WINDFLOW_PUBLIC_READS has no effect without WINDFLOW_API_TOKEN: the whole API is open")
		}
	default:
		sec.tokenSet = true
		sec.tokenDigest = sha256.Sum256([]byte(token))
		if len(token) < MinTokenLength {
			warn("the API token (WINDFLOW_API_TOKEN) is shorter than %d characters; use a random token "+
				"of at least 32 characters (e.g. `openssl rand -hex 32`)", MinTokenLength)
		}
		if s.cfg.PublicReads {
			warn("reads are public (WINDFLOW_PUBLIC_READS=true): every GET, including environment endpoints " +
				"and the live event stream, is answered without a token; only changes need it")
		}
	}

	switch {
	case s.cfg.MutationRateLimit == 0:
		sec.rateLimit = DefaultMutationRateLimit
	case s.cfg.MutationRateLimit > 0:
		sec.rateLimit = s.cfg.MutationRateLimit
	default:
		warn("rate limiting of mutating requests is off (MutationRateLimit < 0)")
	}
	switch {
	case s.cfg.AuthFailureLimit == 0:
		sec.guesses = newGuessLimiter(DefaultAuthFailureLimit)
	case s.cfg.AuthFailureLimit > 0:
		sec.guesses = newGuessLimiter(s.cfg.AuthFailureLimit)
	case sec.tokenSet:
		warn("wrong API tokens are not rate limited (AuthFailureLimit < 0): token guesses are unbounded")
	}

	if s.cfg.TrustProxyHeaders {
		warn("client IPs are read from X-Forwarded-For (TrustProxyHeaders): its last entry must be " +
			"written by a reverse proxy, and only that proxy may reach the API, or clients can choose " +
			"their rate-limit address")
	}

	sec.allowedHosts = make(map[string]struct{})
	for _, raw := range append([]string{s.cfg.ListenAddr}, s.cfg.AllowedHosts...) {
		if host := hostName(raw); host != "" {
			sec.allowedHosts[host] = struct{}{}
		}
	}

	for _, raw := range s.cfg.CORSOrigins {
		origin, err := normalizeOrigin(raw)
		if err != nil {
			warn("CORS origin %q ignored: %v", raw, err)
			continue
		}
		if sec.origins == nil {
			sec.origins = make(map[string]struct{})
		}
		sec.origins[origin] = struct{}{}
	}
	return sec
}

// SecurityWarnings returns what is weak in the Server's security settings
// (no API token, public reads, no rate limit, ignored CORS origins, …), one
// message each, for the command to log at startup. It never contains the
// token.
func (s *Server) SecurityWarnings() []string {
	return s.security().warnings
}

// CheckListenAddr refuses to serve an unauthenticated API beyond this host:
// it returns an error when no API token is set, AllowUnauthenticated is
// false and addr (host:port, as given to net.Listen) is not a loopback
// address. An empty host, 0.0.0.0, [::] and host names other than localhost
// count as non-loopback.
func (s *Server) CheckListenAddr(addr string) error {
	if strings.TrimSpace(s.cfg.APIToken) != "" || s.cfg.AllowUnauthenticated || isLoopbackAddr(addr) {
		return nil
	}
	return fmt.Errorf("refusing to serve the API on %s without a token: set WINDFLOW_API_TOKEN "+
		"(or listen on 127.0.0.1, or set WINDFLOW_ALLOW_UNAUTHENTICATED=true if something in front "+
		"of the API authenticates every request)", addr)
}

// isLoopbackAddr tells whether host:port only listens on this host.
func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	return agentproto.LoopbackHost(strings.Trim(host, "[]"))
}

// normalizeOrigin checks a configured CORS origin (scheme://host[:port])
// and returns it in the form browsers send.
func normalizeOrigin(raw string) (string, error) {
	raw = strings.TrimSuffix(strings.TrimSpace(raw), "/")
	if raw == "*" || raw == "null" {
		return "", fmt.Errorf("only explicit origins are allowed")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.Contains(u.Host, "*") {
		return "", fmt.Errorf("an origin is scheme://host[:port], http or https, without a path")
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// tokenEqual compares a presented token with the digest of the configured
// one in constant time: both sides are SHA-256 digests, so neither the
// content nor the length of the token leaks through timing.
func tokenEqual(presented string, want [sha256.Size]byte) bool {
	got := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// isRead tells whether a method only reads; these may be public.
func isRead(method string) bool {
	return method == http.MethodGet || method == http.MethodHead
}

// isMutation tells whether a method may change something: everything but
// GET, HEAD and OPTIONS. These are rate limited.
func isMutation(method string) bool {
	return !isRead(method) && method != http.MethodOptions
}

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header, and whether the header was there at all.
func bearerToken(r *http.Request) (token string, present bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}
	return strings.TrimSpace(rest), true
}

// authenticate requires the API token on every request under it when one
// is set, except reads (GET, HEAD) when reads are public. The token comes
// from "Authorization: Bearer <token>" or, on GET /api/v1/stream only, from
// ?access_token=<token>.
//
// Why the query parameter, and only there: browsers' EventSource cannot set
// headers, so a web page cannot stream otherwise. The price is that the
// token is part of the URL, which reverse proxies may write to their access
// logs; the API itself logs no query strings and removes the parameter
// before the stream handler sees the request. Clients that can set headers
// (curl, fetch-based SSE libraries) should use the header; deployments that
// cannot keep proxy logs clean can make reads public and keep the token for
// changes. Anywhere else a query token is ignored, so a URL copied from a
// browser can never carry the power to change something.
//
// Wrong tokens are limited per client IP whatever the method (guessLimiter):
// past AuthFailureLimit a minute, every request of that client that needs
// the token is answered 429, the right token included, so that a guess
// cannot be confirmed. A request without a token guesses nothing and does
// not count against the limit. Every refusal is counted (Deps.AuthFailures).
func (sec *security) authenticate(next http.Handler) http.Handler {
	if !sec.tokenSet {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sec.publicReads && isRead(r.Method) {
			next.ServeHTTP(w, r)
			return
		}
		token, present := bearerToken(r)
		if !present && r.Method == http.MethodGet && r.URL.Path == streamPath {
			if q := r.URL.Query(); q.Has(accessTokenParam) {
				token, present = q.Get(accessTokenParam), true
				q.Del(accessTokenParam)
				r.URL.RawQuery = q.Encode()
				r.RequestURI = r.URL.RequestURI()
			}
		}
		client, _ := rateLimitKey(r)
		if sec.guesses.over(client) {
			sec.refuseGuesser(w, r)
			return
		}
		if !present || token == "" {
			sec.countFailure(telemetry.AuthMissing)
			w.Header().Set("WWW-Authenticate", `Bearer realm="windflow"`)
			writeError(w, r, errorf(http.StatusUnauthorized, "unauthorized",
				"this request needs the API token: Authorization: Bearer <token>"))
			return
		}
		if !tokenEqual(token, sec.tokenDigest) {
			sec.guesses.add(client)
			sec.countFailure(telemetry.AuthInvalid)
			w.Header().Set("WWW-Authenticate", `Bearer realm="windflow", error="invalid_token"`)
			writeError(w, r, errorf(http.StatusUnauthorized, "unauthorized", "the API token is not valid"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// refuseGuesser answers 429 to a client over the wrong-token limit.
func (sec *security) refuseGuesser(w http.ResponseWriter, r *http.Request) {
	sec.countFailure(telemetry.AuthLimited)
	retry := strconv.Itoa(int(authFailureWindow / time.Second))
	w.Header().Set("Retry-After", retry)
	writeError(w, r, errorf(http.StatusTooManyRequests, "rate_limited",
		"too many wrong tokens from this address: at most %d per minute; retry in %s seconds", sec.guesses.limit, retry))
}

// limitTokenGuesses applies the wrong-token limit to routes that check
// tokens of their own (agents' enrolment tokens, the relay secret): each
// 401 they answer counts as a wrong token of the client, and a client over
// the limit is answered 429 before its token is looked up.
func (sec *security) limitTokenGuesses(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client, _ := rateLimitKey(r)
		if sec.guesses.over(client) {
			sec.refuseGuesser(w, r)
			return
		}
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		if ww.Status() == http.StatusUnauthorized {
			sec.guesses.add(client)
			sec.countFailure(telemetry.AuthInvalid)
		}
	})
}

// AuthFailureCounter counts refused authentications by reason
// (telemetry.AuthMissing, AuthInvalid, AuthLimited); *telemetry.AuthFailures.
type AuthFailureCounter interface {
	AuthFailure(reason string)
}

func (sec *security) countFailure(reason string) {
	if sec.failures != nil {
		sec.failures.AuthFailure(reason)
	}
}

// guessLimiter counts the wrong tokens of each client over a sliding
// minute (httprate's counter: the current window plus the weighted
// previous one). Per process, like the mutation limit. A nil
// *guessLimiter limits nothing.
type guessLimiter struct {
	limit   int
	counter httprate.LimitCounter
}

func newGuessLimiter(limit int) *guessLimiter {
	return &guessLimiter{limit: limit, counter: httprate.NewLocalLimitCounter(authFailureWindow)}
}

// over tells whether client has presented limit wrong tokens in the last
// minute.
func (g *guessLimiter) over(client string) bool {
	if g == nil {
		return false
	}
	now := time.Now().UTC()
	window := now.Truncate(authFailureWindow)
	cur, prev, err := g.counter.Get(client, window, window.Add(-authFailureWindow))
	if err != nil { // the local counter never fails
		return false
	}
	weight := float64(authFailureWindow-now.Sub(window)) / float64(authFailureWindow)
	return float64(prev)*weight+float64(cur) >= float64(g.limit)
}

// add counts one wrong token of client.
func (g *guessLimiter) add(client string) {
	if g == nil {
		return
	}
	_ = g.counter.Increment(client, time.Now().UTC().Truncate(authFailureWindow))
}

// clientIP resolves the client IP of every request for the rate limiter
// (middleware.GetClientIP). It never trusts a header unless
// TrustProxyHeaders is set: the client IP is then the last entry of
// X-Forwarded-For, the one the reverse proxy in front of the API appended
// (earlier entries are whatever the client sent), and the TCP peer when
// there is no such header. r.RemoteAddr is never changed.
func (sec *security) clientIP(next http.Handler) http.Handler {
	if sec.trustProxy {
		next = middleware.ClientIPFromXFFTrustedProxies(1)(next)
	}
	return middleware.ClientIPFromRemoteAddr(next)
}

// rateLimitKey is the client IP, IPv6 addresses grouped by /64.
func rateLimitKey(r *http.Request) (string, error) {
	ip := middleware.GetClientIP(r.Context())
	if ip == "" {
		ip = r.RemoteAddr
	}
	return httprate.CanonicalizeIP(ip), nil
}

// limitMutations allows each client IP rateLimit mutating requests per
// minute (reads are not counted), before authentication, so that guessing
// the token is limited too. It is per process: N API replicas allow N times
// as much. Over the limit the answer is 429 with Retry-After.
func (sec *security) limitMutations(next http.Handler) http.Handler {
	if sec.rateLimit <= 0 {
		return next
	}
	limit := sec.rateLimit
	limited := httprate.LimitBy(limit, mutationRateWindow, rateLimitKey,
		httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
			retry := w.Header().Get("Retry-After")
			if _, err := strconv.Atoi(retry); err != nil {
				retry = strconv.Itoa(int(mutationRateWindow / time.Second))
				w.Header().Set("Retry-After", retry)
			}
			writeError(w, r, errorf(http.StatusTooManyRequests, "rate_limited",
				"too many changes: at most %d per minute from one address; retry in %s seconds", limit, retry))
		}),
		httprate.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			writeError(w, r, fmt.Errorf("rate limiter: %w", err))
		}),
	)(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isMutation(r.Method) {
			limited.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody bounds every request body to maxBodyBytes, whatever the route
// does with it: a declared length over the limit is answered 413 at once,
// and reading past the limit fails (decodeJSON answers 413 then).
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxBodyBytes {
			writeError(w, r, errorf(http.StatusRequestEntityTooLarge, "body_too_large",
				"request body over %d bytes", maxBodyBytes))
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets the headers every answer carries: no MIME sniffing,
// no framing, no active content, and no caching. The stream sets its own
// Cache-Control (no-cache), which replaces this one.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

// cors lets pages of the configured origins call the API: off (no
// Access-Control-* header at all, preflights left to the router) unless
// Server.CORSOrigins is set. Origins match exactly; the allowed origin is
// echoed, never "*", and no credentials (cookies) are allowed: the API
// authenticates with the Authorization header, which is allowed. A
// preflight from an allowed origin is answered 204 here, before
// authentication, since browsers send it without the token.
func (sec *security) cors(next http.Handler) http.Handler {
	if len(sec.origins) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		if _, ok := sec.origins[strings.ToLower(origin)]; origin == "" || !ok {
			next.ServeHTTP(w, r)
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", corsAllowMethods)
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostName is the lower-case host of a Host header or host[:port], without
// port, brackets or trailing dot.
func hostName(hostport string) string {
	host := strings.TrimSpace(hostport)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
}

// hostAllowed tells whether a request naming host (a Host header) may be
// served without a token: loopback names, IP literals (DNS rebinding needs
// a name), the listen address's host and the configured ones.
func (sec *security) hostAllowed(hostport string) bool {
	host := hostName(hostport)
	if host == "" || host == "localhost" || strings.HasSuffix(host, ".localhost") || net.ParseIP(host) != nil {
		return true
	}
	_, ok := sec.allowedHosts[host]
	return ok
}

// checkHost refuses, when no token is set, a request whose Host header
// names a host the API does not answer to (421). Without it, a web page on
// a name of its own that resolves to 127.0.0.1 (DNS rebinding) could read
// and change everything through the visitor's browser. With a token the
// page would still need the token, so every host is served.
func (sec *security) checkHost(next http.Handler) http.Handler {
	if sec.tokenSet {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !sec.hostAllowed(r.Host) {
			writeError(w, r, errorf(http.StatusMisdirectedRequest, "host_not_allowed",
				"this API does not answer to the host %q; add it to WINDFLOW_ALLOWED_HOSTS, or set WINDFLOW_API_TOKEN",
				shorten(hostName(r.Host))))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// refuseBrowserForgery refuses, when no token is set, the changes a web page
// could make through a visitor's browser without a CORS preflight: a body
// that is not declared as application/json (415; browsers send text/plain
// or form bodies without asking), and any change coming from a page of
// another origin, which browsers name in Origin (403). Clients that are not
// browsers send no Origin header. With a token, a page would need the
// token, which browsers never add by themselves.
func (sec *security) refuseBrowserForgery(next http.Handler) http.Handler {
	if sec.tokenSet {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isMutation(r.Method) {
			next.ServeHTTP(w, r)
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && !sec.originAllowed(origin, r.Host) {
			writeError(w, r, errorf(http.StatusForbidden, "cross_origin",
				"changes from a web page of another origin are refused; set WINDFLOW_API_TOKEN or WINDFLOW_CORS_ORIGINS"))
			return
		}
		if hasBody(r) && !isJSONContentType(r.Header.Get("Content-Type")) {
			writeError(w, r, errorf(http.StatusUnsupportedMediaType, "unsupported_media_type",
				"a request body needs Content-Type: application/json"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// originAllowed tells whether a page of origin may change something: one
// of the CORS origins, or the API's own origin (same host).
func (sec *security) originAllowed(origin, host string) bool {
	if _, ok := sec.origins[strings.ToLower(origin)]; ok {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}

// hasBody tells whether a request carries a body (declared, or chunked).
func hasBody(r *http.Request) bool {
	return r.ContentLength > 0 || (r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody)
}

// isJSONContentType tells whether a Content-Type is application/json
// (parameters such as charset allowed).
func isJSONContentType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

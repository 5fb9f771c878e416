package api

// Tests of the API's security middleware (security.go). Most need neither
// Temporal nor Postgres: the Server has a stub store, and a route answering
// anything but 401 (400 for bad JSON, 500 from the stub store) proves the
// request got past authentication. TestSecurity_WithStore uses a real store and skips
// without DATABASE_URL.

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
)

const secToken = "s3cret-token-0123456789abcdef"

// secCall is one request to h from remote (host:port), with extra headers.
type secCall struct {
	method, path, body string
	remote             string
	header             map[string]string
}

type secAnswer struct {
	code   int
	header http.Header
	body   string
}

func (a secAnswer) errorCode(t *testing.T) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(a.body), &e); err != nil {
		t.Fatalf("answer %d is not the error shape: %q", a.code, a.body)
	}
	return e.Error.Code
}

func secDo(t *testing.T, h http.Handler, c secCall) secAnswer {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req := httptest.NewRequest(c.method, c.path, body)
	req.Host = "127.0.0.1:8080" // httptest's example.com is refused without a token
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.remote != "" {
		req.RemoteAddr = c.remote
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return secAnswer{code: rec.Code, header: rec.Header(), body: rec.Body.String()}
}

func secBearer(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok}
}

// Routes that need no store or Temporal, and what they answer once
// authentication let them through.
var (
	// A mutation: bad JSON → 400 before any store or Temporal call.
	secMutation = secCall{method: http.MethodPost, path: "/api/v1/environments", body: `{"name":`}
	// A read: the stub store fails → 500.
	secRead = secCall{method: http.MethodGet, path: "/api/v1/events"}
	// The stream: the stub store fails → 500.
	secStream = secCall{method: http.MethodGet, path: "/api/v1/stream"}
)

// secPassed is the answer of secRead and secStream past authentication:
// the stub store fails.
const secPassed = http.StatusInternalServerError

func secWith(c secCall, header map[string]string) secCall { c.header = header; return c }

func TestAuth_NoTokenConfiguredIsOpen(t *testing.T) {
	srv := NewTestServer(t, Config{}, Deps{})
	h := srv.Routes()
	if a := secDo(t, h, secMutation); a.code != http.StatusBadRequest {
		t.Fatalf("mutation without token, none configured: %d %s; want 400 (auth not required)", a.code, a.body)
	}
	if a := secDo(t, h, secRead); a.code != secPassed {
		t.Fatalf("read: %d %s; want 500", a.code, a.body)
	}
	if a := secDo(t, h, secStream); a.code != secPassed {
		t.Fatalf("stream: %d %s; want 500", a.code, a.body)
	}
	w := srv.SecurityWarnings()
	if len(w) == 0 || !strings.Contains(w[0], "WINDFLOW_API_TOKEN") {
		t.Fatalf("SecurityWarnings() = %q; want a warning about the missing token", w)
	}
}

func TestAuth_MutationsNeedTheToken(t *testing.T) {
	h := NewTestServer(t, Config{APIToken: secToken}, Deps{}).Routes()
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"no header", nil, http.StatusUnauthorized},
		{"wrong token", secBearer("wrong"), http.StatusUnauthorized},
		{"token prefix", secBearer(secToken[:10]), http.StatusUnauthorized},
		{"token plus suffix", secBearer(secToken + "x"), http.StatusUnauthorized},
		{"basic scheme", map[string]string{"Authorization": "Basic " + secToken}, http.StatusUnauthorized},
		{"empty bearer", map[string]string{"Authorization": "Bearer "}, http.StatusUnauthorized},
		{"right token", secBearer(secToken), http.StatusBadRequest},
		{"scheme case-insensitive", map[string]string{"Authorization": "bearer " + secToken}, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := secDo(t, h, secWith(secMutation, tc.header))
			if a.code != tc.want {
				t.Fatalf("%d %s; want %d", a.code, a.body, tc.want)
			}
			if tc.want != http.StatusUnauthorized {
				return
			}
			if code := a.errorCode(t); code != "unauthorized" {
				t.Fatalf("error code %q; want unauthorized", code)
			}
			if wa := a.header.Get("WWW-Authenticate"); !strings.HasPrefix(wa, "Bearer") {
				t.Fatalf("WWW-Authenticate = %q; want Bearer", wa)
			}
			if strings.Contains(a.body, secToken[:10]) || strings.Contains(a.body, "wrong") {
				t.Fatalf("401 echoes the token: %s", a.body)
			}
		})
	}
	// Every mutating method, not only POST.
	id := uuid.New()
	for _, c := range []secCall{
		{method: http.MethodPut, path: "/api/v1/environments/" + id.String() + "/settings", body: "{}"},
		{method: http.MethodPatch, path: "/api/v1/environments/" + id.String(), body: "{}"},
		{method: http.MethodDelete, path: "/api/v1/environments/" + id.String()},
		{method: http.MethodPost, path: "/api/v1/notification-channels/" + id.String() + "/test"},
	} {
		if a := secDo(t, h, c); a.code != http.StatusUnauthorized {
			t.Fatalf("%s %s without token: %d %s; want 401", c.method, c.path, a.code, a.body)
		}
	}
}

func TestAuth_ReadsPublicOrNot(t *testing.T) {
	private := NewTestServer(t, Config{APIToken: secToken}, Deps{}).Routes()
	if a := secDo(t, private, secRead); a.code != http.StatusUnauthorized {
		t.Fatalf("private read without token: %d; want 401", a.code)
	}
	if a := secDo(t, private, secWith(secRead, secBearer(secToken))); a.code != secPassed {
		t.Fatalf("private read with token: %d %s; want 500 (auth passed)", a.code, a.body)
	}
	if a := secDo(t, private, secStream); a.code != http.StatusUnauthorized {
		t.Fatalf("private stream without token: %d; want 401", a.code)
	}
	// Unknown API paths do not reveal themselves to strangers either.
	if a := secDo(t, private, secCall{method: http.MethodGet, path: "/api/v1/nope"}); a.code != http.StatusUnauthorized {
		t.Fatalf("unknown API path without token: %d; want 401", a.code)
	}

	srv := NewTestServer(t, Config{APIToken: secToken, PublicReads: true}, Deps{})
	public := srv.Routes()
	if a := secDo(t, public, secRead); a.code != secPassed {
		t.Fatalf("public read without token: %d %s; want 500", a.code, a.body)
	}
	if a := secDo(t, public, secStream); a.code != secPassed {
		t.Fatalf("public stream without token: %d %s; want 500", a.code, a.body)
	}
	if a := secDo(t, public, secMutation); a.code != http.StatusUnauthorized {
		t.Fatalf("mutation with public reads, no token: %d; want 401", a.code)
	}
	if a := secDo(t, public, secWith(secMutation, secBearer(secToken))); a.code != http.StatusBadRequest {
		t.Fatalf("mutation with public reads and token: %d; want 400", a.code)
	}
	if w := strings.Join(srv.SecurityWarnings(), "\n"); !strings.Contains(w, "public") || strings.Contains(w, secToken) {
		t.Fatalf("SecurityWarnings() = %q; want a note on public reads, without the token", w)
	}
}

func TestAuth_HealthStaysOpen(t *testing.T) {
	h := NewTestServer(t, Config{APIToken: secToken}, Deps{}).Routes()
	if a := secDo(t, h, secCall{method: http.MethodGet, path: "/healthz"}); a.code != http.StatusOK {
		t.Fatalf("/healthz with a token configured: %d %s; want 200", a.code, a.body)
	}
	// /readyz answers for itself (503 here: nothing is up), not 401.
	srv := NewTestServer(t, Config{APIToken: secToken}, Deps{}) // stub store and flows: both down
	if a := secDo(t, srv.Routes(), secCall{method: http.MethodGet, path: "/readyz"}); a.code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with a token configured: %d %s; want 503", a.code, a.body)
	}
}

func TestAuth_AccessTokenQueryOnlyOnStream(t *testing.T) {
	h := NewTestServer(t, Config{APIToken: secToken}, Deps{}).Routes()
	q := "?access_token=" + secToken
	if a := secDo(t, h, secCall{method: http.MethodGet, path: "/api/v1/stream" + q}); a.code != secPassed {
		t.Fatalf("stream with ?access_token: %d %s; want 500 (auth passed)", a.code, a.body)
	}
	if a := secDo(t, h, secCall{method: http.MethodGet, path: "/api/v1/stream?access_token=wrong"}); a.code != http.StatusUnauthorized {
		t.Fatalf("stream with a wrong ?access_token: %d; want 401", a.code)
	}
	if a := secDo(t, h, secCall{method: http.MethodGet, path: "/api/v1/events" + q}); a.code != http.StatusUnauthorized {
		t.Fatalf("events with ?access_token: %d; want 401 (query token only on the stream)", a.code)
	}
	c := secMutation
	c.path += q
	if a := secDo(t, h, c); a.code != http.StatusUnauthorized {
		t.Fatalf("mutation with ?access_token: %d; want 401", a.code)
	}
	// A header, when sent, is what counts.
	if a := secDo(t, h, secCall{method: http.MethodGet, path: "/api/v1/stream" + q, header: secBearer("wrong")}); a.code != http.StatusUnauthorized {
		t.Fatalf("stream with a wrong header and a right query token: %d; want 401", a.code)
	}

	// The handler does not see the token (it is removed from the URL).
	sec := NewTestServer(t, Config{APIToken: secToken}, Deps{}).security()
	var seen string
	inner := sec.authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.URL.RawQuery + " " + r.RequestURI
	}))
	req := httptest.NewRequest(http.MethodGet, "/api/v1/stream?environment=x&access_token="+secToken, nil)
	inner.ServeHTTP(httptest.NewRecorder(), req)
	if strings.Contains(seen, secToken) || !strings.Contains(seen, "environment=x") {
		t.Fatalf("stream handler saw %q; want the other parameters without the token", seen)
	}
}

func TestAuth_ConstantTimeTokenEqual(t *testing.T) {
	want := sha256.Sum256([]byte(secToken))
	for _, tc := range []struct {
		got string
		ok  bool
	}{
		{secToken, true},
		{"", false},
		{secToken[:len(secToken)-1], false},
		{secToken + "0", false},
		{strings.ToUpper(secToken), false},
		{strings.Repeat("x", len(secToken)), false},
		{strings.Repeat("x", 1<<16), false},
	} {
		if got := tokenEqual(tc.got, want); got != tc.ok {
			t.Errorf("tokenEqual(%.20q…) = %v; want %v", tc.got, got, tc.ok)
		}
	}
	// A token whose digest shares its first two bytes with the right one's
	// (found by brute force) is still wrong: the whole digest is compared.
	for i := 0; ; i++ {
		cand := fmt.Sprintf("near-%d", i)
		if d := sha256.Sum256([]byte(cand)); d[0] == want[0] && d[1] == want[1] {
			if tokenEqual(cand, want) {
				t.Fatalf("tokenEqual(%q) = true: only a prefix of the digest is compared", cand)
			}
			break
		}
	}
	// Surrounding spaces in the configured value (a token read from a file)
	// do not count.
	h := NewTestServer(t, Config{APIToken: " " + secToken + "\n"}, Deps{}).Routes()
	if a := secDo(t, h, secWith(secMutation, secBearer(secToken))); a.code != http.StatusBadRequest {
		t.Fatalf("token configured with spaces: %d; want 400", a.code)
	}
}

func TestSecurity_CheckListenAddr(t *testing.T) {
	for _, tc := range []struct {
		srv  *Server
		addr string
		ok   bool
	}{
		{NewTestServer(t, Config{}, Deps{}), "127.0.0.1:8080", true},
		{NewTestServer(t, Config{}, Deps{}), "localhost:8080", true},
		{NewTestServer(t, Config{}, Deps{}), "[::1]:8080", true},
		{NewTestServer(t, Config{}, Deps{}), ":8080", false},
		{NewTestServer(t, Config{}, Deps{}), "0.0.0.0:8080", false},
		{NewTestServer(t, Config{}, Deps{}), "[::]:8080", false},
		{NewTestServer(t, Config{}, Deps{}), "10.1.2.3:8080", false},
		{NewTestServer(t, Config{}, Deps{}), "api.example.com:8080", false},
		{NewTestServer(t, Config{}, Deps{}), "garbage", false},
		{NewTestServer(t, Config{APIToken: secToken}, Deps{}), "0.0.0.0:8080", true},
		{NewTestServer(t, Config{AllowUnauthenticated: true}, Deps{}), "0.0.0.0:8080", true},
		{NewTestServer(t, Config{APIToken: "   "}, Deps{}), "0.0.0.0:8080", false},
	} {
		err := tc.srv.CheckListenAddr(tc.addr)
		if (err == nil) != tc.ok {
			t.Errorf("CheckListenAddr(%q) with token=%v allow=%v: %v; want ok=%v",
				tc.addr, tc.srv.cfg.APIToken != "", tc.srv.cfg.AllowUnauthenticated, err, tc.ok)
		}
	}
}

func TestRate_MutationsLimitedPerIP(t *testing.T) {
	const n = 3
	h := NewTestServer(t, Config{MutationRateLimit: n}, Deps{}).Routes()
	from := func(c secCall, remote string, header map[string]string) secCall {
		c.remote, c.header = remote, header
		return c
	}
	for i := range n {
		if a := secDo(t, h, from(secMutation, "192.0.2.1:1000", nil)); a.code != http.StatusBadRequest {
			t.Fatalf("mutation %d: %d %s; want 400", i+1, a.code, a.body)
		}
	}
	a := secDo(t, h, from(secMutation, "192.0.2.1:1001", nil))
	if a.code != http.StatusTooManyRequests || a.errorCode(t) != "rate_limited" {
		t.Fatalf("mutation %d: %d %s; want 429 rate_limited", n+1, a.code, a.body)
	}
	if ra := a.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("429 without Retry-After (%q)", ra)
	}
	// Spoofed forwarding headers change nothing without TrustProxyHeaders.
	for _, hdr := range []map[string]string{
		{"X-Forwarded-For": "198.51.100.1"}, {"X-Real-IP": "198.51.100.2"}, {"True-Client-IP": "198.51.100.3"},
	} {
		if a := secDo(t, h, from(secMutation, "192.0.2.1:1002", hdr)); a.code != http.StatusTooManyRequests {
			t.Fatalf("with %v: %d; want 429 (headers not trusted)", hdr, a.code)
		}
	}
	// Another IP has its own budget; reads are not limited.
	if a := secDo(t, h, from(secMutation, "192.0.2.2:1000", nil)); a.code != http.StatusBadRequest {
		t.Fatalf("other IP: %d %s; want 400", a.code, a.body)
	}
	for range 2 * n {
		if a := secDo(t, h, from(secRead, "192.0.2.1:1000", nil)); a.code != secPassed {
			t.Fatalf("read from the limited IP: %d; want 500", a.code)
		}
	}
	// IPv6 clients are grouped by /64.
	for range n {
		secDo(t, h, from(secMutation, "[2001:db8:1:2::a]:1000", nil))
	}
	if a := secDo(t, h, from(secMutation, "[2001:db8:1:2::b]:1000", nil)); a.code != http.StatusTooManyRequests {
		t.Fatalf("same /64: %d; want 429", a.code)
	}
}

func TestRate_CountsRequestsWithoutTheToken(t *testing.T) {
	h := NewTestServer(t, Config{APIToken: secToken, MutationRateLimit: 2}, Deps{}).Routes()
	for range 2 {
		if a := secDo(t, h, secMutation); a.code != http.StatusUnauthorized {
			t.Fatalf("%d; want 401", a.code)
		}
	}
	if a := secDo(t, h, secWith(secMutation, secBearer(secToken))); a.code != http.StatusTooManyRequests {
		t.Fatalf("after 2 guesses: %d; want 429", a.code)
	}
}

// authCounts counts refused tokens by reason (a Deps.AuthFailures).
type authCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *authCounts) AuthFailure(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[reason]++
}

func (c *authCounts) get(reason string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[reason]
}

// TestRate_WrongTokensLimitedWhateverTheMethod: wrong tokens on reads, the
// stream and changes count against one budget per client IP; past it every
// request of that client that needs the token gets 429, the right token
// included (a guess cannot be confirmed), while requests without a token
// never count, other clients and the open routes are unaffected, and every
// refusal is counted by reason.
func TestRate_WrongTokensLimitedWhateverTheMethod(t *testing.T) {
	const limit = 4
	counts := &authCounts{n: map[string]int{}}
	h := NewTestServer(t, Config{APIToken: secToken, AuthFailureLimit: limit, MutationRateLimit: -1},
		Deps{AuthFailures: counts}).Routes()
	from := func(c secCall, remote string, header map[string]string) secCall {
		c.remote, c.header = remote, header
		return c
	}
	const guesser, other = "192.0.2.10:4000", "192.0.2.11:4000"
	for range 3 * limit {
		if a := secDo(t, h, from(secRead, guesser, nil)); a.code != http.StatusUnauthorized {
			t.Fatalf("without a token: %d; want 401 (no token guesses nothing)", a.code)
		}
	}
	wrong := secBearer("wrong-guess")
	for i, c := range []secCall{
		from(secRead, guesser, wrong),
		from(secStream, guesser, wrong),
		from(secCall{method: http.MethodGet, path: streamPath + "?" + accessTokenParam + "=wrong-guess"}, guesser, nil),
		from(secCall{method: http.MethodHead, path: "/api/v1/environments"}, guesser, wrong),
	} {
		if a := secDo(t, h, c); a.code != http.StatusUnauthorized {
			t.Fatalf("guess %d (%s %s): %d; want 401", i+1, c.method, c.path, a.code)
		}
	}
	for _, c := range []secCall{
		from(secRead, guesser, secBearer(secToken)),
		from(secStream, guesser, secBearer(secToken)),
		from(secMutation, guesser, secBearer(secToken)),
		from(secRead, guesser, wrong),
		from(secRead, guesser, nil),
	} {
		a := secDo(t, h, c)
		if a.code != http.StatusTooManyRequests || a.errorCode(t) != "rate_limited" {
			t.Fatalf("%s %s after %d wrong tokens: %d %s; want 429 rate_limited", c.method, c.path, limit, a.code, a.body)
		}
		if ra := a.header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Fatalf("429 without Retry-After (%q)", ra)
		}
		if strings.Contains(a.body, "wrong-guess") || strings.Contains(a.body, secToken[:10]) {
			t.Fatalf("429 echoes a token: %s", a.body)
		}
	}
	if a := secDo(t, h, from(secRead, other, secBearer(secToken))); a.code != secPassed {
		t.Fatalf("another client with the token: %d; want past authentication", a.code)
	}
	if a := secDo(t, h, from(secCall{method: http.MethodGet, path: "/healthz"}, guesser, nil)); a.code != http.StatusOK {
		t.Fatalf("/healthz from the limited client: %d; want 200", a.code)
	}
	for reason, want := range map[string]int{"missing": 3 * limit, "invalid": limit, "limited": 5} {
		if got := counts.get(reason); got != want {
			t.Errorf("counted %d refusals for %q; want %d", got, reason, want)
		}
	}

	// The default budget is DefaultAuthFailureLimit; negative turns it off.
	h = NewTestServer(t, Config{APIToken: secToken}, Deps{}).Routes()
	for i := range DefaultAuthFailureLimit {
		if a := secDo(t, h, from(secRead, guesser, wrong)); a.code != http.StatusUnauthorized {
			t.Fatalf("default limit, guess %d: %d; want 401", i+1, a.code)
		}
	}
	if a := secDo(t, h, from(secRead, guesser, wrong)); a.code != http.StatusTooManyRequests {
		t.Fatalf("default limit, guess %d: %d; want 429", DefaultAuthFailureLimit+1, a.code)
	}
	h = NewTestServer(t, Config{APIToken: secToken, AuthFailureLimit: -1}, Deps{}).Routes()
	for i := range DefaultAuthFailureLimit + 5 {
		if a := secDo(t, h, from(secRead, guesser, wrong)); a.code != http.StatusUnauthorized {
			t.Fatalf("limit off, guess %d: %d; want 401", i+1, a.code)
		}
	}
}

func TestRate_TrustProxyHeaders(t *testing.T) {
	const n = 2
	h := NewTestServer(t, Config{MutationRateLimit: n, TrustProxyHeaders: true}, Deps{}).Routes()
	proxied := func(xff string) secCall {
		c := secMutation
		c.remote = "10.0.0.1:5000" // the reverse proxy
		if xff != "" {
			c.header = map[string]string{"X-Forwarded-For": xff}
		}
		return c
	}
	for range n {
		if a := secDo(t, h, proxied("198.51.100.7")); a.code != http.StatusBadRequest {
			t.Fatalf("%d; want 400", a.code)
		}
	}
	if a := secDo(t, h, proxied("198.51.100.7")); a.code != http.StatusTooManyRequests {
		t.Fatalf("client over its limit: %d; want 429", a.code)
	}
	// A client cannot escape by prepending entries: the proxy's (last) one counts.
	if a := secDo(t, h, proxied("203.0.113.9, 198.51.100.7")); a.code != http.StatusTooManyRequests {
		t.Fatalf("client with a forged first entry: %d; want 429", a.code)
	}
	// Another client behind the same proxy is unaffected, and so is the
	// proxy's own address (no header).
	if a := secDo(t, h, proxied("198.51.100.8")); a.code != http.StatusBadRequest {
		t.Fatalf("other client: %d; want 400", a.code)
	}
	if a := secDo(t, h, proxied("")); a.code != http.StatusBadRequest {
		t.Fatalf("no X-Forwarded-For: %d; want 400", a.code)
	}
}

func TestRate_Off(t *testing.T) {
	h := NewTestServer(t, Config{MutationRateLimit: -1}, Deps{}).Routes()
	for i := range DefaultMutationRateLimit + 5 {
		if a := secDo(t, h, secMutation); a.code != http.StatusBadRequest {
			t.Fatalf("mutation %d with the limit off: %d", i+1, a.code)
		}
	}
	// The default is DefaultMutationRateLimit.
	h = NewTestServer(t, Config{}, Deps{}).Routes()
	for range DefaultMutationRateLimit {
		secDo(t, h, secMutation)
	}
	if a := secDo(t, h, secMutation); a.code != http.StatusTooManyRequests {
		t.Fatalf("mutation %d with the default limit: %d; want 429", DefaultMutationRateLimit+1, a.code)
	}
}

func TestCORS_OffByDefault(t *testing.T) {
	h := NewTestServer(t, Config{}, Deps{}).Routes()
	hdr := map[string]string{"Origin": "https://evil.example"}
	for _, c := range []secCall{
		secWith(secRead, hdr),
		secWith(secMutation, hdr),
		{method: http.MethodOptions, path: "/api/v1/environments", header: map[string]string{
			"Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
			"Access-Control-Request-Headers": "authorization"}},
	} {
		a := secDo(t, h, c)
		for k := range a.header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Fatalf("%s %s: CORS header %s: %v", c.method, c.path, k, a.header[k])
			}
		}
		if c.method == http.MethodOptions && a.code != http.StatusMethodNotAllowed {
			t.Fatalf("preflight without CORS: %d; want 405", a.code)
		}
	}
}

func TestCORS_AllowedOrigins(t *testing.T) {
	srv := NewTestServer(t, Config{APIToken: secToken, CORSOrigins: []string{"https://ops.example.com/", "http://localhost:3000", "*", "not an origin"}}, Deps{})
	h := srv.Routes()
	preflight := func(origin string) secCall {
		return secCall{method: http.MethodOptions, path: "/api/v1/environments", header: map[string]string{
			"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}}
	}

	a := secDo(t, h, preflight("https://ops.example.com"))
	if a.code != http.StatusNoContent || a.header.Get("Access-Control-Allow-Origin") != "https://ops.example.com" ||
		!strings.Contains(a.header.Get("Access-Control-Allow-Headers"), "Authorization") ||
		!strings.Contains(a.header.Get("Access-Control-Allow-Methods"), "DELETE") {
		t.Fatalf("preflight from an allowed origin: %d %v", a.code, a.header)
	}
	if a.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("credentials allowed: %v", a.header)
	}
	// The real request, and its 401, carry the CORS headers too, so that the
	// page can read them.
	a = secDo(t, h, secWith(secRead, map[string]string{"Origin": "http://localhost:3000"}))
	if a.code != http.StatusUnauthorized || a.header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" ||
		!strings.Contains(strings.Join(a.header.Values("Vary"), ","), "Origin") {
		t.Fatalf("request from an allowed origin: %d %v", a.code, a.header)
	}

	for _, origin := range []string{"https://evil.example", "https://ops.example.com.evil.example", "http://ops.example.com", "null"} {
		a := secDo(t, h, preflight(origin))
		if v := a.header.Get("Access-Control-Allow-Origin"); v != "" || a.code == http.StatusNoContent {
			t.Fatalf("preflight from %s: %d, Allow-Origin %q; want none", origin, a.code, v)
		}
		a = secDo(t, h, secWith(secRead, map[string]string{"Origin": origin}))
		if v := a.header.Get("Access-Control-Allow-Origin"); v != "" {
			t.Fatalf("request from %s: Allow-Origin %q; want none", origin, v)
		}
	}
	w := strings.Join(srv.SecurityWarnings(), "\n")
	if !strings.Contains(w, `"*"`) || !strings.Contains(w, `"not an origin"`) {
		t.Fatalf("SecurityWarnings() = %q; want the ignored origins", w)
	}
}

func TestSecurity_BodyLimit(t *testing.T) {
	h := NewTestServer(t, Config{}, Deps{}).Routes()
	big := strings.Repeat("x", maxBodyBytes+1)
	// POST …/test reads no body (and, on the stub store, answers 500).
	path := "/api/v1/notification-channels/" + uuid.NewString() + "/test"
	if a := secDo(t, h, secCall{method: http.MethodPost, path: path, body: "{}"}); a.code != secPassed {
		t.Fatalf("small body: %d %s; want 500", a.code, a.body)
	}
	a := secDo(t, h, secCall{method: http.MethodPost, path: path, body: big})
	if a.code != http.StatusRequestEntityTooLarge || a.errorCode(t) != "body_too_large" {
		t.Fatalf("body over the limit on a route that does not read it: %d %s; want 413", a.code, a.body)
	}
	// Same without a declared length: reading stops at the limit.
	req := httptest.NewRequest(http.MethodPost, "/api/v1/environments", io.MultiReader(strings.NewReader(`{"name":"`), strings.NewReader(big)))
	req.Host = "localhost:8080"
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = -1
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked body over the limit: %d %s; want 413", rec.Code, rec.Body)
	}
	var seen int64
	inner := limitBody(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = io.Copy(io.Discard, r.Body)
	}))
	req = httptest.NewRequest(http.MethodPut, "/x", strings.NewReader(big))
	req.ContentLength = -1
	inner.ServeHTTP(httptest.NewRecorder(), req)
	if seen > maxBodyBytes {
		t.Fatalf("a handler read %d bytes; want at most %d", seen, maxBodyBytes)
	}
}

func TestSecurity_NameLimits(t *testing.T) {
	h := NewTestServer(t, Config{}, Deps{}).Routes()
	long := strings.Repeat("a", 101)
	a := secDo(t, h, secCall{method: http.MethodPost, path: "/api/v1/environments",
		body: fmt.Sprintf(`{"name":%q,"endpoint":"unix:///var/run/docker.sock"}`, long)})
	if a.code != http.StatusBadRequest || a.errorCode(t) != "invalid_name" {
		t.Fatalf("environment name of 101 characters: %d %s; want 400 invalid_name", a.code, a.body)
	}
	for _, name := range []string{long, "", "  ", "bad\nname", "-x", "a b"} {
		if validateName(name) == nil {
			t.Errorf("validateName(%q) accepted it", name)
		}
	}
	if err := validateName(strings.Repeat("a", 100)); err != nil {
		t.Errorf("validateName(100 characters): %v", err)
	}
	for _, name := range []string{strings.Repeat("é", maxChannelName+1), "", "   ", "a\x00b"} {
		if validateChannelName(name) == nil {
			t.Errorf("validateChannelName(%q) accepted it", name)
		}
	}
	if err := validateChannelName(strings.Repeat("é", maxChannelName)); err != nil {
		t.Errorf("validateChannelName(%d characters): %v", maxChannelName, err)
	}
}

func TestSecurity_Headers(t *testing.T) {
	h := NewTestServer(t, Config{APIToken: secToken}, Deps{}).Routes()
	for _, c := range []secCall{
		secRead,                               // 401
		secWith(secRead, secBearer(secToken)), // 500
		secWith(secMutation, secBearer(secToken)), // 400
		{method: http.MethodGet, path: "/healthz"},
		{method: http.MethodGet, path: "/nope"},
	} {
		a := secDo(t, h, c)
		if a.header.Get("X-Content-Type-Options") != "nosniff" || a.header.Get("Cache-Control") != "no-store" ||
			a.header.Get("X-Frame-Options") != "DENY" || a.header.Get("Content-Security-Policy") == "" {
			t.Fatalf("%s %s (%d): security headers missing: %v", c.method, c.path, a.code, a.header)
		}
		if !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s %s: Content-Type %q", c.method, c.path, a.header.Get("Content-Type"))
		}
	}
}

// TestSecurity_WithStore runs reads and the stream on a real store through a
// real HTTP server: the middleware keeps SSE working (flushing, its own
// Cache-Control) and the stream accepts ?access_token=.
func TestSecurity_WithStore(t *testing.T) {
	st, err := store.Open(t.Context(), storetest.NewSchema(t))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(st.Close)
	srv := NewTestServer(t, Config{APIToken: secToken, StreamHeartbeat: 50 * time.Millisecond}, Deps{Store: st})
	t.Cleanup(srv.StopStream)
	hs := httptest.NewServer(srv.Routes())
	t.Cleanup(hs.Close)

	get := func(path string, header map[string]string) *http.Response {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		t.Cleanup(cancel)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, hs.URL+path, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	if resp := get("/api/v1/events", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("events without token: %d", resp.StatusCode)
	}
	resp := get("/api/v1/events", secBearer(secToken))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("events with token: %d %v", resp.StatusCode, resp.Header)
	}

	if resp := get("/api/v1/stream", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("stream without token: %d", resp.StatusCode)
	}
	for _, resp := range []*http.Response{
		get("/api/v1/stream?access_token="+secToken, nil),
		get("/api/v1/stream", secBearer(secToken)),
	} {
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" ||
			resp.Header.Get("Cache-Control") != "no-cache" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("stream with token: %d %v", resp.StatusCode, resp.Header)
		}
		// The keepalive arrives: the stream is flushed through the middleware.
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if err != nil || line != ": keepalive\n" {
			t.Fatalf("first stream line %q, %v; want the keepalive", line, err)
		}
	}
}

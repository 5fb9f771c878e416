package api_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/windflow/monitor/api"
)

// paramRE matches a path parameter, {id} in OpenAPI, {id} or {id:regexp} in chi.
var paramRE = regexp.MustCompile(`\{[^}]*\}`)

// normalizeRoute is "METHOD /path" with every parameter written {} and no
// trailing slash, so that chi's and the document's spellings compare.
func normalizeRoute(method, path string) string {
	path = paramRE.ReplaceAllString(path, "{}")
	if strings.HasSuffix(path, "/*") { // chi's catch-all: a {path} of the document
		path = strings.TrimSuffix(path, "*") + "{}"
	}
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	return strings.ToUpper(method) + " " + path
}

// routerRoutes walks the router of a Server.
func routerRoutes(t *testing.T, srv *api.Server) []string {
	t.Helper()
	routes, ok := srv.Routes().(chi.Routes)
	if !ok {
		t.Fatalf("Routes() is a %T, not a chi router", srv.Routes())
	}
	var out []string
	err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		out = append(out, normalizeRoute(method, route))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// documentRoutes lists the operations of the document.
func documentRoutes(t *testing.T) []string {
	t.Helper()
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for path, item := range c.doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, normalizeRoute(method, path))
		}
	}
	slices.Sort(out)
	return out
}

// TestOpenAPIDocumentValid: api/openapi.json is a valid OpenAPI 3.1
// document (kin-openapi's validation, schemas included).
func TestOpenAPIDocumentValid(t *testing.T) {
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	if c.doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q, want 3.1.0", c.doc.OpenAPI)
	}
	if !c.doc.IsOpenAPI31OrLater() {
		t.Fatal("not read as OpenAPI 3.1")
	}
}

// TestOpenAPICoversEveryRoute: every route of the router is in the
// document, and every operation of the document is routed.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	routed := routerRoutes(t, api.NewTestServer(t, api.Config{}, api.Deps{}))
	documented := documentRoutes(t)
	if len(routed) < 25 {
		t.Fatalf("walked only %d routes: %v", len(routed), routed)
	}
	for _, r := range routed {
		if !slices.Contains(documented, r) {
			t.Errorf("routed but not in api/openapi.json: %s", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routed, d) {
			t.Errorf("in api/openapi.json but not routed: %s", d)
		}
	}
	// The same routes whatever the security settings.
	secured := routerRoutes(t, api.NewTestServer(t, api.Config{APIToken: "secret", PublicReads: true, CORSOrigins: []string{"https://example.com"}}, api.Deps{}))
	if !slices.Equal(secured, routed) {
		t.Errorf("routes with a token %v differ from %v", secured, routed)
	}
}

// TestOpenAPIServed: GET /api/v1/openapi.json answers the document, without
// the token even when one is set (like /healthz), while the rest of
// /api/v1 still needs it; the answer matches the document itself.
func TestOpenAPIServed(t *testing.T) {
	hs := httptest.NewServer(api.NewTestServer(t, api.Config{APIToken: "secret"}, api.Deps{}).Routes())
	t.Cleanup(hs.Close)
	get := func(path string) (*http.Request, int, http.Header, []byte) {
		req, err := http.NewRequest(http.MethodGet, hs.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return req, resp.StatusCode, resp.Header, body
	}
	req, status, header, body := get("/api/v1/openapi.json")
	if status != http.StatusOK || header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/v1/openapi.json: %d %q", status, header.Get("Content-Type"))
	}
	if !bytes.Equal(body, api.OpenAPIDocument()) {
		t.Fatal("the served document is not api/openapi.json")
	}
	if header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("security headers missing: %v", header)
	}
	if err := checkContract(req, nil, status, header, body); err != nil {
		t.Fatal(err)
	}
	req, status, header, body = get("/api/v1/environments")
	if status != http.StatusUnauthorized {
		t.Fatalf("GET /api/v1/environments without the token: %d, want 401", status)
	}
	if err := checkContract(req, nil, status, header, body); err != nil {
		t.Fatal(err)
	}
}

// TestOpenAPIContractCatchesMismatches: the check of the end-to-end tests
// fails on answers and requests that disagree with the document.
func TestOpenAPIContractCatchesMismatches(t *testing.T) {
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	envID := "0b6f8a4e-3d0c-4a57-9d6e-2f1a7c9b5e10"
	validEnv := `{"id":"` + envID + `","name":"a","endpoint":"unix:///var/run/docker.sock",` +
		`"settings":{"metricsIntervalSeconds":30,"collectMetrics":true,"paused":false,"offlineAfter":2,` +
		`"eventsEnabled":true,"eventMode":"stream","pollIntervalSeconds":60,"diskIntervalSeconds":300,` +
		`"diskTimeoutSeconds":20,"diskThresholdMode":"percent","diskThresholdPercent":80,` +
		`"diskThresholdBytes":50000000000,"diskCapacityBytes":0,"diskCooldownSeconds":3600},` +
		`"tls":null,"workflowId":"environment/` + envID + `","version":1,"settingsApplied":true,` +
		`"createdAt":"2026-01-02T03:04:05Z","updatedAt":"2026-01-02T03:04:05.123456Z"}`
	etag := http.Header{"Content-Type": {"application/json"}, "Etag": {`"1"`}}
	req := func(method, path string) *http.Request {
		r, err := http.NewRequest(method, "http://127.0.0.1"+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	withJSON := func(r *http.Request) *http.Request { r.Header.Set("Content-Type", "application/json"); return r }
	cases := []struct {
		name    string
		req     *http.Request
		reqBody string
		status  int
		header  http.Header
		body    string
		ok      bool
	}{
		{"valid environment", req("GET", "/api/v1/environments/"+envID), "", 200, etag, validEnv, true},
		{"valid error", req("GET", "/api/v1/environments/"+envID), "", 404, jsonHeader, `{"error":{"code":"not_found","message":"x"}}`, true},
		{"valid 202", withJSON(req("PUT", "/api/v1/environments/"+envID+"/settings")), `{"paused":true}`, 202, etag,
			`{"environment":` + validEnv + `,"state":null,"message":"stored"}`, true},
		{"unknown route 404", req("GET", "/api/v1/nowhere"), "", 404, jsonHeader, `{"error":{"code":"not_found","message":"x"}}`, true},
		{"method 405", req("PUT", "/api/v1/events"), "", 405, jsonHeader, `{"error":{"code":"method_not_allowed","message":"x"}}`, true},
		{"rejected request refused", req("GET", "/api/v1/events?limit=501"), "", 400, jsonHeader, `{"error":{"code":"invalid_query","message":"x"}}`, true},

		{"field of the wrong type", req("GET", "/api/v1/environments/"+envID), "", 200, etag,
			strings.Replace(validEnv, `"version":1`, `"version":"1"`, 1), false},
		{"undocumented field", req("GET", "/api/v1/environments/"+envID), "", 200, etag,
			strings.Replace(validEnv, `"version":1`, `"version":1,"extra":true`, 1), false},
		{"setting out of its range", req("GET", "/api/v1/environments/"+envID), "", 200, etag,
			strings.Replace(validEnv, `"offlineAfter":2`, `"offlineAfter":21`, 1), false},
		{"ETag missing its quotes", req("GET", "/api/v1/environments/"+envID), "", 200,
			http.Header{"Content-Type": {"application/json"}, "Etag": {"1"}}, validEnv, false},
		{"ETag missing", req("GET", "/api/v1/environments/"+envID), "", 200, jsonHeader, validEnv, false},
		{"undocumented status", req("GET", "/api/v1/environments"), "", 418, jsonHeader, `{"error":{"code":"teapot","message":"x"}}`, false},
		{"error in another shape", req("GET", "/api/v1/environments/"+envID), "", 404, jsonHeader, `{"message":"x"}`, false},
		{"undocumented route answered", req("GET", "/api/v1/nowhere"), "", 200, jsonHeader, `{}`, false},
		{"invalid query accepted", req("GET", "/api/v1/events?limit=501"), "", 200, jsonHeader, `{"events":[],"nextCursor":null}`, false},
		{"invalid body accepted", withJSON(req("PUT", "/api/v1/environments/"+envID+"/settings")), `{"offlineAfter":0}`, 202, etag,
			`{"environment":` + validEnv + `,"state":null,"message":"stored"}`, false},
	}
	for _, tc := range cases {
		err := checkContract(tc.req, []byte(tc.reqBody), tc.status, tc.header, []byte(tc.body))
		if tc.ok && err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if !tc.ok && err == nil {
			t.Errorf("%s: no mismatch found", tc.name)
		}
	}
}

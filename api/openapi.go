package api

import (
	_ "embed"
	"net/http"
)

// openAPIDocument is the OpenAPI 3.1 document of every route of Routes,
// maintained by hand in openapi.json. openapi_test.go checks that it names
// exactly the routes the router serves, and the end-to-end tests validate
// every request they send and every answer they get against it.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns the OpenAPI 3.1 document of the API (JSON).
func OpenAPIDocument() []byte { return append([]byte(nil), openAPIDocument...) }

// serveOpenAPI answers GET /api/v1/openapi.json. It is open like /healthz:
// the document describes the API, not a deployment or its data.
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPIDocument)
}

package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/windflow/monitor/api"
)

// The API's contract: api/openapi.json loaded with kin-openapi (which
// validates OpenAPI 3.1 schemas as JSON Schema 2020-12). checkContract holds
// one request and its answer against it; the end-to-end helper (raw in
// e2e_test.go) calls it for every request the tests send.

type openAPIContract struct {
	doc    *openapi3.T
	router routers.Router
}

var loadContract = sync.OnceValues(func() (*openAPIContract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPIDocument())
	if err != nil {
		return nil, fmt.Errorf("load api/openapi.json: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("api/openapi.json is not a valid OpenAPI document: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route api/openapi.json: %w", err)
	}
	return &openAPIContract{doc: doc, router: router}, nil
})

// checkContract checks one exchange against the document:
//   - a path the document does not have must be answered 404, a method it
//     does not have on a path 405, both in the error shape;
//   - a request the document rejects (a bad parameter or body) must be
//     answered with a 4xx: the API must not accept what its contract says is
//     invalid (it may refuse more: unknown IDs, names taken, …);
//   - every answer must be documented for its operation and status, with
//     its headers and body matching the schemas.
//
// req is the request as sent (its body already consumed: reqBody is it).
// Streams (text/event-stream) are checked for status and headers only.
func checkContract(req *http.Request, reqBody []byte, status int, header http.Header, body []byte) error {
	c, err := loadContract()
	if err != nil {
		return err
	}
	route, pathParams, err := c.router.FindRoute(req)
	switch {
	case errors.Is(err, routers.ErrPathNotFound):
		if status != http.StatusNotFound {
			return fmt.Errorf("the document has no path %s, but the API answered %d (undocumented route?)", req.URL.Path, status)
		}
		return c.checkErrorShape(status, header, body)
	case errors.Is(err, routers.ErrMethodNotAllowed):
		if status != http.StatusMethodNotAllowed {
			return fmt.Errorf("the document has no %s on %s, but the API answered %d (undocumented route?)", req.Method, req.URL.Path, status)
		}
		return c.checkErrorShape(status, header, body)
	case err != nil:
		return fmt.Errorf("find the route of %s %s: %w", req.Method, req.URL.Path, err)
	}
	r := req.Clone(context.Background())
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	opts := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true,
		MultiError:            true,
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: pathParams, Route: route, Options: opts}
	if reqErr := openapi3filter.ValidateRequest(context.Background(), in); reqErr != nil && (status < 400 || status > 499) {
		return fmt.Errorf("the document rejects the request (%v), but the API answered %d", reqErr, status)
	}
	if strings.HasPrefix(header.Get("Content-Type"), "text/event-stream") {
		opts.ExcludeResponseBody = true
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: header, Options: opts,
		Body: io.NopCloser(bytes.NewReader(body)),
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Errorf("the answer %d %s does not match the document: %w", status, shortBody(body), err)
	}
	return nil
}

// checkErrorShape checks an answer against the Error schema.
func (c *openAPIContract) checkErrorShape(status int, header http.Header, body []byte) error {
	if ct := header.Get("Content-Type"); ct != "application/json" {
		return fmt.Errorf("error answer %d with Content-Type %q", status, ct)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("error answer %d is not JSON: %w", status, err)
	}
	if err := c.doc.Components.Schemas["Error"].Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("error answer %d %s is not in the error shape: %w", status, shortBody(body), err)
	}
	return nil
}

func shortBody(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

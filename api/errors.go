package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"unicode/utf8"

	"github.com/go-chi/chi/v5/middleware"
)

// Error is the one error shape of the API:
// {"error":{"code":"…","message":"…"}}.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// own marks a 503 whose message this API wrote entirely (no text of a
	// dependency): writeError keeps it.
	own bool
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// busyf is a 503 of the API's own making (a limit reached, not a
// dependency down): its message is answered as is.
func busyf(code, format string, args ...any) *Error {
	e := errorf(http.StatusServiceUnavailable, code, format, args...)
	e.own = true
	return e
}

// unavailableMessage is the message of every 503: what Postgres or Temporal
// said stays in the log, never in the answer (it names hosts, ports, users
// and internal states).
const unavailableMessage = "a service this API depends on (PostgreSQL or Temporal) is unavailable " +
	"or did not answer in time; retry later"

// writeError answers with err as an *Error; anything else is logged and
// answered as an opaque 500. A 503's message is logged and replaced by
// unavailableMessage, whoever built it.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var apiErr *Error
	if !errors.As(err, &apiErr) {
		slog.Default().Error("internal error", "path", r.URL.Path, "err", err,
			"request_id", middleware.GetReqID(r.Context()))
		apiErr = errorf(http.StatusInternalServerError, "internal", "internal error")
	}
	if apiErr.Status == http.StatusServiceUnavailable && !apiErr.own && apiErr.Message != unavailableMessage {
		slog.Default().Warn("dependency unavailable", "path", r.URL.Path, "code", apiErr.Code,
			"err", apiErr.Message, "request_id", middleware.GetReqID(r.Context()))
		apiErr = &Error{Status: apiErr.Status, Code: apiErr.Code, Message: unavailableMessage}
	}
	writeJSON(w, apiErr.Status, map[string]*Error{"error": apiErr})
}

// writeJSON encodes v before writing anything, so that a value that cannot
// be encoded (a time past year 9999, say) is answered as a 500 in the error
// shape rather than as a 200 with an empty body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		slog.Default().Error("encode answer", "status", status, "err", err)
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// decodeJSON decodes exactly one JSON object from the body into v, rejecting
// unknown fields, trailing data and bodies over maxBodyBytes.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSONContentType(ct) {
		return errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type must be application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return errorf(http.StatusRequestEntityTooLarge, "body_too_large", "request body over %d bytes", maxBodyBytes)
		case errors.Is(err, io.EOF):
			return errorf(http.StatusBadRequest, "invalid_json", "request body is empty")
		default:
			return errorf(http.StatusBadRequest, "invalid_json", "malformed JSON: %s", err.Error())
		}
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "invalid_json", "trailing data after the JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errorf(http.StatusBadRequest, "invalid_json", "trailing data after the JSON object")
	}
	return nil
}

// maxShown bounds, in characters, a piece of the request quoted in an error.
const maxShown = 60

// shorten cuts s to maxShown characters for an error message (quote it
// with %q, which escapes control characters and invalid UTF-8).
func shorten(s string) string {
	if utf8.RuneCountInString(s) <= maxShown {
		return s
	}
	return string([]rune(s)[:maxShown]) + "…"
}

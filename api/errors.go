package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5/middleware"
)

// Error is the one error shape of the API:
// {"error":{"code":"…","message":"…"}}.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// writeError answers with err as an *Error; anything else is logged and
// answered as an opaque 500.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var apiErr *Error
	if !errors.As(err, &apiErr) {
		slog.Default().Error("internal error", "path", r.URL.Path, "err", err,
			"request_id", middleware.GetReqID(r.Context()))
		apiErr = errorf(http.StatusInternalServerError, "internal", "internal error")
	}
	writeJSON(w, apiErr.Status, map[string]*Error{"error": apiErr})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeJSON decodes exactly one JSON object from the body into v, rejecting
// unknown fields, trailing data and bodies over maxBodyBytes.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
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

package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/windflow/monitor/internal/envflow"
	"github.com/windflow/monitor/internal/store"
)

// Environment requests: bodies that are JSON objects without nulls,
// If-Match / ETag, and what the workflow controller's errors answer.

// decodeObject decodes a body that must be one JSON object into v (unknown
// fields refused, like decodeJSON). A null anywhere in it is refused too
// (a null would otherwise read as "leave unchanged"), except as the value
// of the top-level members named in nullable ("tls": null removes TLS).
func decodeObject(w http.ResponseWriter, r *http.Request, v any, nullable ...string) error {
	var raw json.RawMessage
	if err := decodeJSON(w, r, &raw); err != nil {
		return err
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil || members == nil {
		return errorf(http.StatusBadRequest, "invalid_json", "the body must be a JSON object")
	}
	for name, value := range members {
		if isNull(value) && !containsFold(nullable, name) {
			return errorf(http.StatusBadRequest, "invalid_json", "%q: null is not a value (leave the field out to keep it)", shorten(name))
		}
		if path, ok := nullInside(value); ok {
			return errorf(http.StatusBadRequest, "invalid_json", "%q: null is not a value (leave the field out to keep it)", shorten(name+"."+path))
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(http.StatusBadRequest, "invalid_json", "malformed JSON: %s", err.Error())
	}
	return nil
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// nullInside returns the path of a null member inside an object value.
func nullInside(raw json.RawMessage) (string, bool) {
	var members map[string]json.RawMessage
	if json.Unmarshal(raw, &members) != nil {
		return "", false // not an object: the typed decode judges it
	}
	for name, value := range members {
		if isNull(value) {
			return name, true
		}
		if path, ok := nullInside(value); ok {
			return name + "." + path, true
		}
	}
	return "", false
}

func containsFold(names []string, name string) bool {
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// setETag sets the ETag of an environment's answer: its version, quoted.
func setETag(w http.ResponseWriter, env store.Environment) {
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(env.Version, 10)))
}

// ifMatchVersions reads If-Match: the versions the request may change (none
// when absent or "*": any). A weak tag (W/"3") counts as its version.
func ifMatchVersions(r *http.Request) ([]int64, error) {
	header := strings.TrimSpace(r.Header.Get("If-Match"))
	if header == "" || header == "*" {
		return nil, nil
	}
	var versions []int64
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		unquoted, err := strconv.Unquote(tag)
		if err != nil || !strings.HasPrefix(tag, `"`) {
			return nil, errorf(http.StatusBadRequest, "invalid_header", `If-Match must be "*" or ETags such as "3"`)
		}
		v, err := strconv.ParseInt(unquoted, 10, 64)
		if err != nil || v < 1 {
			// No environment is at that version: no match.
			v = -1
		}
		versions = append(versions, v)
	}
	return versions, nil
}

// changeRequest reads what a change of an environment sends: If-Match and
// the body, decoded into a new T (decodeObject's nullable).
func changeRequest[T any](w http.ResponseWriter, r *http.Request, nullable ...string) ([]int64, T, error) {
	var body T
	ifMatch, err := ifMatchVersions(r)
	if err != nil {
		return nil, body, err
	}
	body, err = decodeBody[T](w, r, nullable...)
	return ifMatch, body, err
}

// flowError turns an error of the controller into the API's answer; name is
// the environment name the request asked for ("" if none).
func flowError(err error, name string) error {
	var apiErr *Error
	var invalid *envflow.SettingsError
	switch {
	case errors.As(err, &apiErr):
		return apiErr
	case errors.As(err, &invalid):
		return errorf(http.StatusBadRequest, "invalid_settings", "%s", invalid.Reason)
	case errors.Is(err, envflow.ErrVersionMismatch):
		return errorf(http.StatusPreconditionFailed, "precondition_failed",
			"%s; GET it again and retry with its ETag in If-Match", err.Error())
	case errors.Is(err, store.ErrNotFound):
		return errorf(http.StatusNotFound, "not_found", "the environment does not exist")
	case errors.Is(err, store.ErrNameTaken):
		return errorf(http.StatusConflict, "name_taken", "an environment named %q already exists", name)
	case errors.Is(err, store.ErrInvalid):
		return errorf(http.StatusBadRequest, "invalid_settings", "a value is out of range")
	case errors.Is(err, envflow.ErrWorkflowUnavailable):
		return errorf(http.StatusServiceUnavailable, "temporal_unavailable", "%s", err.Error())
	case store.IsUnavailable(err):
		return errorf(http.StatusServiceUnavailable, "postgres_unavailable", "%s", err.Error())
	default:
		return err
	}
}

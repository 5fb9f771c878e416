package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/store"
)

// TestItemCtx: the {id} middleware answers 400 for a malformed id and 404
// for an unknown one without calling the handler, and hands a known item to
// it through the request context.
func TestItemCtx(t *testing.T) {
	known := store.Channel{ID: uuid.New(), Name: "known"}
	get := func(_ context.Context, id uuid.UUID) (store.Channel, error) {
		if id == known.ID {
			return known, nil
		}
		return store.Channel{}, store.ErrNotFound
	}
	r := chi.NewRouter()
	r.With(itemCtx("channel", get)).Get("/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"name": itemFrom[store.Channel](r).Name})
	})
	for _, c := range []struct {
		path, want string
		status     int
	}{
		{"/not-a-uuid", `"code":"invalid_id"`, http.StatusBadRequest},
		{"/" + uuid.NewString(), `"code":"not_found","message":"channel `, http.StatusNotFound},
		{"/" + known.ID.String(), `{"name":"known"}`, http.StatusOK},
	} {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.want) {
			t.Errorf("GET %s: %d %s; want %d with %s", c.path, rec.Code, rec.Body, c.status, c.want)
		}
	}
}

package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/store"
)

// Shared shapes of the handlers: a handler returns its error (handle
// answers it), an item named by {id} is loaded once by itemCtx and read with
// itemFrom, and lists, reads, creations and deletions answer alike.

// handle adapts a handler that returns its error: the error is answered
// with writeError.
func handle(fn func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			writeError(w, r, err)
		}
	}
}

// itemKey is the request-context key of the item of type T that itemCtx
// loaded.
type itemKey[T any] struct{}

// itemCtx is the middleware of the routes below /{id}: it parses the {id}
// URL parameter, loads that item with get and stores it in the request
// context (itemFrom). A malformed id is a 400 invalid_id, an unknown one a
// 404 naming what (e.g. "channel").
func itemCtx[T any](what string, get func(ctx context.Context, id uuid.UUID) (T, error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return handle(func(w http.ResponseWriter, r *http.Request) error {
			raw := chi.URLParam(r, "id")
			id, err := uuid.Parse(raw)
			if err != nil {
				return errorf(http.StatusBadRequest, "invalid_id", "%q is not a UUID", shorten(raw))
			}
			item, err := get(r.Context(), id)
			if errors.Is(err, store.ErrNotFound) {
				return errorf(http.StatusNotFound, "not_found", "%s %s does not exist", what, id)
			}
			if err != nil {
				return err
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), itemKey[T]{}, item)))
			return nil
		})
	}
}

// itemFrom returns the item itemCtx loaded for this request.
func itemFrom[T any](r *http.Request) T {
	item, _ := r.Context().Value(itemKey[T]{}).(T)
	return item
}

// environmentFrom returns the environment of an /environments/{id} route.
func environmentFrom(r *http.Request) store.Environment { return itemFrom[store.Environment](r) }

// decodeBody decodes the request body, one JSON object, into a new T (see
// decodeObject for nullable).
func decodeBody[T any](w http.ResponseWriter, r *http.Request, nullable ...string) (T, error) {
	var v T
	err := decodeObject(w, r, &v, nullable...)
	return v, err
}

// views shows every item with view (an empty list, never nil).
func views[T, V any](items []T, view func(T) V) []V {
	out := make([]V, 0, len(items))
	for _, item := range items {
		out = append(out, view(item))
	}
	return out
}

// writeList answers {"<key>": [view(item), …]}.
func writeList[T, V any](w http.ResponseWriter, key string, items []T, view func(T) V) {
	writeJSON(w, http.StatusOK, map[string]any{key: views(items, view)})
}

// writeCreated answers 201 with v and the Location of the new item.
func writeCreated(w http.ResponseWriter, collection string, id uuid.UUID, v any) {
	w.Header().Set("Location", "/api/v1/"+collection+"/"+id.String())
	writeJSON(w, http.StatusCreated, v)
}

// getItem answers the item of an /{id} route as view shows it.
func getItem[T, V any](view func(T) V) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, view(itemFrom[T](r)))
	}
}

// deleteItem deletes the item of an /{id} route with del and answers 204;
// an item deleted meanwhile counts as deleted.
func deleteItem[T any](idOf func(T) uuid.UUID, del func(ctx context.Context, id uuid.UUID) error) http.HandlerFunc {
	return handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := del(r.Context(), idOf(itemFrom[T](r))); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// writeItemError maps the errors every write of an item may get from the
// store: its name taken (409), the item gone (404), a value the database
// refused (400 invalidCode). what names the kind with its article ("a
// channel"). Other errors are returned as they are.
func writeItemError(err error, what, name string, id uuid.UUID, invalidCode string) error {
	kind := what[strings.IndexByte(what, ' ')+1:]
	switch {
	case errors.Is(err, store.ErrNameTaken):
		return errorf(http.StatusConflict, "name_taken", "%s named %q already exists", what, shorten(name))
	case errors.Is(err, store.ErrNotFound):
		return errorf(http.StatusNotFound, "not_found", "%s %s does not exist", kind, id)
	case errors.Is(err, store.ErrInvalid):
		return errorf(http.StatusBadRequest, invalidCode, "the %s was rejected by the database", kind)
	}
	return err
}

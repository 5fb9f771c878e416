package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/store"
)

// ContainerSeriesStore serves the per-container history.
type ContainerSeriesStore interface {
	ResolveContainer(ctx context.Context, envID uuid.UUID, ref string) (store.ContainerSelector, error)
	ContainerSeries(ctx context.Context, envID uuid.UUID, sel store.ContainerSelector, from, to time.Time, step time.Duration) (store.ContainerSeries, error)
}

// maxContainerRef bounds the {container} of a path (Docker names and IDs
// are far shorter).
const maxContainerRef = 256

// getContainerSeries answers GET
// /environments/{id}/containers/{container}/metrics?from=&to=&step=: one
// container's series, with the same query, bounds and rollup tiers as the
// host series. {container} is a full ID or a short ID (12 hex digits or
// more: that container only, under every name it had) or a name (every
// container that had that name in the range — a recreated container's
// history continues). The answer lists the containers (ID, name, first and
// last time) the points cover.
func (s *Server) getContainerSeries(w http.ResponseWriter, r *http.Request) {
	env := environmentFrom(r)
	ref := chi.URLParam(r, "container")
	if ref == "" || len(ref) > maxContainerRef {
		writeError(w, r, errorf(http.StatusBadRequest, "invalid_container", "a container is an ID, a short ID or a name of at most %d bytes", maxContainerRef))
		return
	}
	from, to, step, err := metricsSeriesRange(r.URL.Query())
	if err != nil {
		writeError(w, r, err)
		return
	}
	sel, err := s.store.ResolveContainer(r.Context(), env.ID, ref)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, r, errorf(http.StatusNotFound, "not_found", "environment %s has no container %q", env.ID, shorten(ref)))
		return
	case errors.Is(err, store.ErrInvalid):
		writeError(w, r, errorf(http.StatusBadRequest, "invalid_container", "%q is the prefix of several container IDs: give more of it", shorten(ref)))
		return
	case err != nil:
		writeError(w, r, err)
		return
	}
	series, err := s.store.ContainerSeries(r.Context(), env.ID, sel, from, to, step)
	if err != nil {
		writeError(w, r, err)
		return
	}
	type pointJSON struct {
		Time          time.Time `json:"time"`
		CPUPercent    float64   `json:"cpuPercent"`
		CPUPercentMax float64   `json:"cpuPercentMax"`
		MemoryUsed    int64     `json:"memoryUsed"`
		MemoryUsedMax int64     `json:"memoryUsedMax"`
		MemoryLimit   int64     `json:"memoryLimit"`
		NetRx         int64     `json:"netRx"`
		NetTx         int64     `json:"netTx"`
		BlockRead     int64     `json:"blockRead"`
		BlockWrite    int64     `json:"blockWrite"`
		Samples       int       `json:"samples"`
	}
	type containerJSON struct {
		ID    string    `json:"id"`
		Name  string    `json:"name"`
		First time.Time `json:"first"`
		Last  time.Time `json:"last"`
	}
	points := make([]pointJSON, 0, len(series.Points))
	for _, p := range series.Points {
		points = append(points, pointJSON(p))
	}
	containers := make([]containerJSON, 0, len(series.Containers))
	for _, c := range series.Containers {
		containers = append(containers, containerJSON(c))
	}
	selector := map[string]string{"by": "id", "id": sel.ID}
	if sel.ID == "" {
		selector = map[string]string{"by": "name", "name": sel.Name}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"environmentId": env.ID,
		"container":     ref,
		"selected":      selector,
		"from":          from,
		"to":            to,
		"stepSeconds":   step.Seconds(),
		"resolution":    series.Tier.Name,
		"containers":    containers,
		"points":        points,
	})
}

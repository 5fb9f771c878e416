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
func (s *Server) getContainerSeries(w http.ResponseWriter, r *http.Request) error {
	env := environmentFrom(r)
	ref := chi.URLParam(r, "container")
	if ref == "" || len(ref) > maxContainerRef {
		return errorf(http.StatusBadRequest, "invalid_container", "a container is an ID, a short ID or a name of at most %d bytes", maxContainerRef)
	}
	from, to, step, err := metricsSeriesRange(r.URL.Query())
	if err != nil {
		return err
	}
	sel, err := s.store.ResolveContainer(r.Context(), env.ID, ref)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errorf(http.StatusNotFound, "not_found", "environment %s has no container %q", env.ID, shorten(ref))
	case errors.Is(err, store.ErrInvalid):
		return errorf(http.StatusBadRequest, "invalid_container", "%q is the prefix of several container IDs: give more of it", shorten(ref))
	case err != nil:
		return err
	}
	series, err := s.store.ContainerSeries(r.Context(), env.ID, sel, from, to, step)
	if err != nil {
		return err
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
	points := views(series.Points, func(p store.ContainerPoint) pointJSON { return pointJSON(p) })
	containers := views(series.Containers, func(c store.SeriesContainer) containerJSON { return containerJSON(c) })
	selector := map[string]string{"by": "id", "id": sel.ID}
	if sel.ID == "" {
		selector = map[string]string{"by": "name", "name": sel.Name}
	}
	writeSeries(w, env.ID, from, to, step, points, map[string]any{
		"container":  ref,
		"selected":   selector,
		"resolution": series.Tier.Name,
		"containers": containers,
	})
	return nil
}

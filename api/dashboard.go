package api

import (
	"net/http"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/windflow/monitor/internal/dashboard"
)

// dashboardHandler is the embedded dashboard, loaded once per process.
var dashboardHandler = sync.OnceValue(func() *dashboard.Handler {
	h, err := dashboard.New()
	if err != nil {
		// The files are embedded in the binary: this cannot fail at run time.
		panic("dashboard: " + err.Error())
	}
	return h
})

// mountDashboard serves the browser dashboard at / (the page) and /assets/…
// (its scripts, styles and the pinned uPlot), open like /healthz: every
// datum it shows comes from /api/v1, with the token when one is set. Its
// answers carry their own Content-Security-Policy (dashboard.ContentSecurityPolicy).
// A path it does not hold is the API's 404.
func (s *Server) mountDashboard(r chi.Router) {
	serve := func(w http.ResponseWriter, r *http.Request) {
		h := dashboardHandler()
		if !h.Has(r.URL.Path) {
			writeError(w, r, errorf(http.StatusNotFound, "not_found", "no dashboard file %s", r.URL.Path))
			return
		}
		h.ServeHTTP(w, r)
	}
	r.Get("/", serve)
	r.Get("/assets/*", serve)
}

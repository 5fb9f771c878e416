// Package dashboard serves Windflow's browser dashboard: one page (static
// HTML, CSS and JavaScript modules embedded in the binary, no build step)
// that reads everything from the API of the same origin. Pages are routed
// in the browser (#/, #/env/<id>, #/alerts, #/notifications), so the
// server answers only GET / and GET /assets/….
//
// The charts use uPlot (static/vendor/uplot, pinned, MIT): ~50 KB, canvas
// drawing, fast with tens of thousands of points, no dependencies.
package dashboard

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var embedded embed.FS

// ContentSecurityPolicy is the policy of the dashboard's answers: scripts,
// styles, data and images from the same origin only, no inline script or
// style, no frames, no plugins.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// asset is one embedded file with its validator.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the dashboard: GET / (the page) and GET /assets/<file>.
type Handler struct {
	assets map[string]asset // by URL path
}

// New loads the embedded files.
func New() (*Handler, error) {
	h := &Handler{assets: make(map[string]asset)}
	err := fs.WalkDir(embedded, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := embedded.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = "text/plain; charset=utf-8"
		}
		rel := strings.TrimPrefix(name, "static/")
		urlPath := "/assets/" + rel
		if rel == "index.html" {
			urlPath = "/"
		}
		h.assets[urlPath] = asset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// ServeHTTP answers GET and HEAD of the page and its assets; anything else
// under /assets/ is a 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a, ok := h.assets[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	// Revalidated on every load (cheap: 304), so a new binary's page is
	// never mixed with an old one's cached modules.
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", a.etag)
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(a.body)
}

// Has reports whether the handler serves the URL path p.
func (h *Handler) Has(p string) bool {
	_, ok := h.assets[p]
	return ok
}

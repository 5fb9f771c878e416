package api

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/netpolicy"
	"github.com/windflow/monitor/internal/settings"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/workflows"
)

// nameRE bounds environment names: short, printable, URL- and log-friendly.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

func (s *Server) environmentRoutes() chi.Router {
	r := chi.NewRouter()
	r.Post("/", s.createEnvironment)
	r.Get("/", s.listEnvironments)
	r.Route("/{id}", func(r chi.Router) {
		r.Get("/", s.getEnvironment)
		r.Patch("/", s.patchEnvironment)
		r.Delete("/", s.deleteEnvironment)
		r.Put("/settings", s.putSettings)
		r.Get("/metrics", s.getHostMetrics)
		r.Get("/containers/metrics", s.getContainerMetrics)
		r.Get("/status", s.getStatus)
		r.Get("/status/history", s.getStatusHistory)
	})
	return r
}

type environmentJSON struct {
	ID       uuid.UUID         `json:"id"`
	Name     string            `json:"name"`
	Endpoint string            `json:"endpoint"`
	Settings settings.Settings `json:"settings"`
	// TLS says what TLS material the environment has (null: none), never
	// the material itself (see tlsView below).
	TLS         *tlsView `json:"tls"`
	WorkflowID  string   `json:"workflowId"`
	WorkflowURL string   `json:"workflowUrl,omitempty"`
	// Version counts the changes of the environment; it is also the ETag.
	Version int64 `json:"version"`
	// SettingsApplied is false while the workflow may not yet run with the
	// stored settings (the reconciler applies them once Temporal answers).
	SettingsApplied bool      `json:"settingsApplied"`
	CreatedAt       time.Time `json:"createdAt"`
	UpdatedAt       time.Time `json:"updatedAt"`
}

func (s *Server) environmentJSON(e store.Environment) environmentJSON {
	return environmentJSON{
		ID: e.ID, Name: e.Name, Endpoint: e.Endpoint,
		Settings:    e.Settings.InEffect(),
		TLS:         tlsViewOf(e.TLS),
		WorkflowID:  workflows.WorkflowID(e.ID.String()),
		WorkflowURL: s.workflowURL(e.ID),
		Version:     e.Version, SettingsApplied: !e.SettingsPending,
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
	}
}

func validateName(name string) error {
	if !nameRE.MatchString(name) {
		return errorf(http.StatusBadRequest, "invalid_name",
			"name must be 1-100 characters of letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	return nil
}

func validateEndpoint(endpoint string) error {
	if err := engine.ValidateEndpoint(endpoint); err != nil {
		return errorf(http.StatusBadRequest, "invalid_endpoint", "%s", err.Error())
	}
	// A literal address or socket the outbound policy refuses (names are
	// judged when dialed, after DNS resolution).
	if err := netpolicy.Default().CheckEndpoint(endpoint); err != nil {
		return errorf(http.StatusBadRequest, "endpoint_refused", "%s", err.Error())
	}
	return nil
}

type createEnvironmentRequest struct {
	Name     string                  `json:"name"`
	Endpoint string                  `json:"endpoint"`
	Settings workflows.SettingsPatch `json:"settings"`
	// TLS is the optional TLS material of a tcp:// endpoint.
	TLS *tlsRequest `json:"tls"`
}

func (s *Server) createEnvironment(w http.ResponseWriter, r *http.Request) {
	var req createEnvironmentRequest
	if err := decodeObject(w, r, &req, "tls"); err != nil {
		writeError(w, r, err)
		return
	}
	env, err := s.CreateEnvironmentTLS(r.Context(), req.Name, req.Endpoint, req.Settings, req.TLS.material())
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/environments/"+env.ID.String())
	setETag(w, env)
	writeJSON(w, http.StatusCreated, s.environmentJSON(env))
}

// CreateEnvironment validates and stores a new environment and starts its
// workflow. If the workflow cannot be started the row is removed again, so
// nothing is half-created. Errors are *Error values for bad input.
func (s *Server) CreateEnvironment(ctx context.Context, name, endpoint string, patch workflows.SettingsPatch) (store.Environment, error) {
	return s.CreateEnvironmentTLS(ctx, name, endpoint, patch, nil)
}

// CreateEnvironmentTLS is CreateEnvironment with TLS material for a tcp://
// endpoint (nil: none). The material is checked, then sealed with Secrets
// for the new environment's ID before it is stored; it needs Secrets.
func (s *Server) CreateEnvironmentTLS(ctx context.Context, name, endpoint string, patch workflows.SettingsPatch, m *engine.TLSMaterial) (store.Environment, error) {
	if err := validateName(name); err != nil {
		return store.Environment{}, err
	}
	if err := validateEndpoint(endpoint); err != nil {
		return store.Environment{}, err
	}
	set, err := patch.Apply(workflows.DefaultSettings())
	if err != nil {
		return store.Environment{}, errorf(http.StatusBadRequest, "invalid_settings", "%s", err.Error())
	}
	// The ID is chosen here so that the sealed material is bound to it.
	env := store.Environment{ID: uuid.New(), Name: name, Endpoint: endpoint, Settings: set}
	if env.TLS, err = s.sealTLS(env.ID, endpoint, m); err != nil {
		return store.Environment{}, err
	}
	flows, err := s.flows()
	if err != nil {
		return store.Environment{}, err
	}
	created, err := flows.Create(ctx, env)
	if errors.Is(err, store.ErrNotFound) {
		return store.Environment{}, errorf(http.StatusConflict, "deleted", "environment %s was deleted while it was being created", env.ID)
	}
	if err != nil {
		return store.Environment{}, flowError(err, name)
	}
	return created, nil
}

// followEvery is how often Reconcile's follower looks for environments
// whose workflow may not run with the stored settings.
const followEvery = 30 * time.Second

// Reconcile brings every stored environment's workflow to its stored
// settings (starting those that do not run; idempotent), then keeps doing so
// in the background until ctx ends, every 30 s, for the environments whose
// settings change was stored but not confirmed by their workflow
// (envflow.Controller.Follow). It runs when an API or dev process starts.
func (s *Server) Reconcile(ctx context.Context) error {
	flows, err := s.flows()
	if err != nil {
		return err
	}
	go flows.Follow(ctx, followEvery)
	return flows.Reconcile(ctx)
}

func (s *Server) listEnvironments(w http.ResponseWriter, r *http.Request) {
	envs, err := s.Store.ListEnvironments(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]environmentJSON, 0, len(envs))
	for _, e := range envs {
		out = append(out, s.environmentJSON(e))
	}
	writeJSON(w, http.StatusOK, map[string]any{"environments": out})
}

// environmentID parses the {id} URL parameter.
func environmentID(r *http.Request) (uuid.UUID, error) {
	raw := chi.URLParam(r, "id")
	id, err := uuid.Parse(raw)
	if err != nil {
		return uuid.Nil, errorf(http.StatusBadRequest, "invalid_id", "%q is not a UUID", shorten(raw))
	}
	return id, nil
}

// environment loads the environment named by the {id} URL parameter.
func (s *Server) environment(r *http.Request) (store.Environment, error) {
	id, err := environmentID(r)
	if err != nil {
		return store.Environment{}, err
	}
	env, err := s.Store.GetEnvironment(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Environment{}, errorf(http.StatusNotFound, "not_found", "environment %s does not exist", id)
	}
	return env, err
}

func (s *Server) getEnvironment(w http.ResponseWriter, r *http.Request) {
	env, err := s.environment(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	setETag(w, env)
	writeJSON(w, http.StatusOK, s.environmentJSON(env))
}

type patchEnvironmentRequest struct {
	Name     *string `json:"name"`
	Endpoint *string `json:"endpoint"`
	// TLS replaces the TLS material; "tls": null removes it.
	TLS optionalTLS `json:"tls"`
}

// patchEnvironment renames an environment or changes its endpoint or TLS
// material, under the row lock and from the row as it is then: a concurrent
// settings change is kept. The next cycle uses them (activities load them
// by ID). If-Match, when sent, must name the current version.
func (s *Server) patchEnvironment(w http.ResponseWriter, r *http.Request) {
	id, err := environmentID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ifMatch, err := ifMatchVersions(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req patchEnvironmentRequest
	if err := decodeObject(w, r, &req, "tls"); err != nil {
		writeError(w, r, err)
		return
	}
	if req.Name != nil {
		if err := validateName(*req.Name); err != nil {
			writeError(w, r, err)
			return
		}
	}
	if req.Endpoint != nil {
		if err := validateEndpoint(*req.Endpoint); err != nil {
			writeError(w, r, err)
			return
		}
	}
	flows, err := s.flows()
	if err != nil {
		writeError(w, r, err)
		return
	}
	env, err := flows.Modify(r.Context(), id, ifMatch, func(env *store.Environment) error {
		if req.Name != nil {
			env.Name = *req.Name
		}
		if req.Endpoint != nil {
			env.Endpoint = *req.Endpoint
		}
		var err error
		env.TLS, err = s.patchTLS(*env, req.TLS)
		return err
	})
	name := ""
	if req.Name != nil {
		name = *req.Name
	}
	if err != nil {
		writeError(w, r, flowError(err, name))
		return
	}
	setETag(w, env)
	writeJSON(w, http.StatusOK, s.environmentJSON(env))
}

// deleteEnvironment stops the workflow, waits for it to end so that no late
// cycle writes after the delete, then removes the environment and its data;
// under the row lock, so no settings change can restart the workflow of a
// deleted environment. If-Match, when sent, must name the current version.
func (s *Server) deleteEnvironment(w http.ResponseWriter, r *http.Request) {
	id, err := environmentID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ifMatch, err := ifMatchVersions(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	flows, err := s.flows()
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := flows.Delete(r.Context(), id, ifMatch); err != nil {
		writeError(w, r, flowError(err, ""))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

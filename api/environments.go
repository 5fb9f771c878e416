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
	r.Post("/", handle(s.createEnvironment))
	r.Get("/", handle(s.listEnvironments))
	r.Route("/{id}", func(r chi.Router) {
		r = r.With(s.environmentCtx)
		r.Get("/", s.getEnvironment)
		r.Patch("/", handle(s.patchEnvironment))
		r.Delete("/", handle(s.deleteEnvironment))
		r.Put("/settings", handle(s.putSettings))
		r.Get("/metrics", handle(s.getHostMetrics))
		r.Get("/containers/metrics", handle(s.getContainerMetrics))
		r.Get("/containers/{container}/metrics", handle(s.getContainerSeries)) // one container's history (containers.go)
		r.Get("/status", handle(s.getStatus))
		r.Get("/status/history", handle(s.getStatusHistory))
		r.Get("/events", ofEnvironment(s.listEnvironmentEvents)) // events and gaps (events.go)
		r.Get("/events/gaps", ofEnvironment(s.gaps))
		r.Get("/disk", handle(s.getDisk)) // disk usage series (disk.go)
		s.agentRoutes(r)                  // agent state and enrolment tokens (agents.go)
	})
	return r
}

// environmentCtx loads the environment of the /environments/{id} routes
// once (itemCtx); handlers read it with environmentFrom.
func (s *Server) environmentCtx(next http.Handler) http.Handler {
	return itemCtx("environment", s.store.GetEnvironment)(next)
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

func (s *Server) createEnvironment(w http.ResponseWriter, r *http.Request) error {
	req, err := decodeBody[createEnvironmentRequest](w, r, "tls")
	if err != nil {
		return err
	}
	env, err := s.CreateEnvironmentTLS(r.Context(), req.Name, req.Endpoint, req.Settings, req.TLS.material())
	if err != nil {
		return err
	}
	setETag(w, env)
	if !engine.IsAgentEndpoint(env.Endpoint) {
		writeCreated(w, "environments", env.ID, s.environmentJSON(env))
		return nil
	}
	// An agent-placed environment answers its first enrolment token, once.
	enrolment, err := s.mintAgentToken(r, env.ID)
	if err != nil {
		return err
	}
	writeCreated(w, "environments", env.ID, struct {
		environmentJSON
		AgentEnrolment agentEnrolmentJSON `json:"agentEnrolment"`
	}{s.environmentJSON(env), enrolment})
	return nil
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
	created, err := s.flows.Create(ctx, env)
	if errors.Is(err, store.ErrNotFound) {
		return store.Environment{}, errorf(http.StatusConflict, "deleted", "environment %s was deleted while it was being created", env.ID)
	}
	if err != nil {
		return store.Environment{}, flowError(err, name)
	}
	return created, nil
}

func (s *Server) listEnvironments(w http.ResponseWriter, r *http.Request) error {
	envs, err := s.store.ListEnvironments(r.Context())
	if err != nil {
		return err
	}
	writeList(w, "environments", envs, s.environmentJSON)
	return nil
}

func (s *Server) getEnvironment(w http.ResponseWriter, r *http.Request) {
	env := environmentFrom(r)
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
func (s *Server) patchEnvironment(w http.ResponseWriter, r *http.Request) error {
	ifMatch, req, err := changeRequest[patchEnvironmentRequest](w, r, "tls")
	if err != nil {
		return err
	}
	if req.Name != nil {
		if err := validateName(*req.Name); err != nil {
			return err
		}
	}
	if req.Endpoint != nil {
		if err := validateEndpoint(*req.Endpoint); err != nil {
			return err
		}
	}
	env, err := s.flows.Modify(r.Context(), environmentFrom(r).ID, ifMatch, func(env *store.Environment) error {
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
		return flowError(err, name)
	}
	setETag(w, env)
	writeJSON(w, http.StatusOK, s.environmentJSON(env))
	return nil
}

// deleteEnvironment stops the workflow, waits for it to end so that no late
// cycle writes after the delete, then removes the environment and its data;
// under the row lock, so no settings change can restart the workflow of a
// deleted environment. If-Match, when sent, must name the current version.
func (s *Server) deleteEnvironment(w http.ResponseWriter, r *http.Request) error {
	ifMatch, err := ifMatchVersions(r)
	if err != nil {
		return err
	}
	if err := s.flows.Delete(r.Context(), environmentFrom(r).ID, ifMatch); err != nil {
		return flowError(err, "")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/secretbox"
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
	})
	return r
}

// settingsJSON is the settings block of an environment in requests and answers.
type settingsJSON struct {
	MetricsIntervalSeconds int  `json:"metricsIntervalSeconds"`
	CollectMetrics         bool `json:"collectMetrics"`
	Paused                 bool `json:"paused"`
	OfflineAfter           int  `json:"offlineAfter"`
	// Container events: on/off, "stream" or "poll", and the poll interval.
	EventsEnabled       bool   `json:"eventsEnabled"`
	EventMode           string `json:"eventMode"`
	PollIntervalSeconds int    `json:"pollIntervalSeconds"`
	// Disk checks: interval and timeout, warning threshold ("percent",
	// "bytes" or "off" with its percent and bytes values), capacity (0 =
	// auto, -1 = unknown) and the least time between two warnings.
	DiskIntervalSeconds  int     `json:"diskIntervalSeconds"`
	DiskTimeoutSeconds   int     `json:"diskTimeoutSeconds"`
	DiskThresholdMode    string  `json:"diskThresholdMode"`
	DiskThresholdPercent float64 `json:"diskThresholdPercent"`
	DiskThresholdBytes   int64   `json:"diskThresholdBytes"`
	DiskCapacityBytes    int64   `json:"diskCapacityBytes"`
	DiskCooldownSeconds  int     `json:"diskCooldownSeconds"`
}

type environmentJSON struct {
	ID       uuid.UUID    `json:"id"`
	Name     string       `json:"name"`
	Endpoint string       `json:"endpoint"`
	Settings settingsJSON `json:"settings"`
	// TLS says what TLS material the environment has (null: none), never
	// the material itself (see tlsView below).
	TLS         *tlsView  `json:"tls"`
	WorkflowID  string    `json:"workflowId"`
	WorkflowURL string    `json:"workflowUrl,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

func (s *Server) environmentJSON(e store.Environment) environmentJSON {
	return environmentJSON{
		ID: e.ID, Name: e.Name, Endpoint: e.Endpoint,
		Settings:    settingsView(settingsOf(e)),
		TLS:         tlsViewOf(e.TLS),
		WorkflowID:  workflows.WorkflowID(e.ID.String()),
		WorkflowURL: s.workflowURL(e.ID),
		CreatedAt:   e.CreatedAt, UpdatedAt: e.UpdatedAt,
	}
}

// settingsView shows the settings in effect: unset event and disk fields
// (state of a run that predates them) with their defaults.
func settingsView(s workflows.Settings) settingsJSON {
	s = s.WithEventDefaults().WithDiskDefaults()
	return settingsJSON{
		MetricsIntervalSeconds: int(s.MetricsInterval / time.Second),
		CollectMetrics:         s.CollectMetrics,
		Paused:                 s.Paused,
		OfflineAfter:           s.OfflineAfter,
		EventsEnabled:          s.EventsEnabled,
		EventMode:              string(s.EventMode),
		PollIntervalSeconds:    int(s.PollInterval / time.Second),
		DiskIntervalSeconds:    int(s.DiskInterval / time.Second),
		DiskTimeoutSeconds:     int(s.DiskTimeout / time.Second),
		DiskThresholdMode:      s.DiskThresholdMode,
		DiskThresholdPercent:   s.DiskThresholdPercent,
		DiskThresholdBytes:     s.DiskThresholdBytes,
		DiskCapacityBytes:      s.DiskCapacityBytes,
		DiskCooldownSeconds:    int(s.DiskCooldown / time.Second),
	}
}

// settingsOf reads the workflow settings stored with an environment.
func settingsOf(e store.Environment) workflows.Settings {
	return workflows.Settings{
		MetricsInterval: e.MetricsInterval,
		CollectMetrics:  e.CollectMetrics,
		Paused:          e.Paused,
		OfflineAfter:    e.OfflineAfter,
		EventsEnabled:   e.EventsEnabled,
		EventMode:       workflows.EventMode(e.EventMode),
		PollInterval:    e.PollInterval,

		DiskInterval:         e.DiskInterval,
		DiskTimeout:          e.DiskTimeout,
		DiskThresholdMode:    e.DiskThresholdMode,
		DiskThresholdPercent: e.DiskThresholdPercent,
		DiskThresholdBytes:   e.DiskThresholdBytes,
		DiskCapacityBytes:    e.DiskCapacityBytes,
		DiskCooldown:         e.DiskCooldown,
	}.WithEventDefaults().WithDiskDefaults()
}

// withSettings returns e carrying set.
func withSettings(e store.Environment, set workflows.Settings) store.Environment {
	e.MetricsInterval = set.MetricsInterval
	e.CollectMetrics = set.CollectMetrics
	e.Paused = set.Paused
	e.OfflineAfter = set.OfflineAfter
	set = set.WithEventDefaults()
	e.EventsEnabled = set.EventsEnabled
	e.EventMode = string(set.EventMode)
	e.PollInterval = set.PollInterval
	set = set.WithDiskDefaults()
	e.DiskInterval = set.DiskInterval
	e.DiskTimeout = set.DiskTimeout
	e.DiskThresholdMode = set.DiskThresholdMode
	e.DiskThresholdPercent = set.DiskThresholdPercent
	e.DiskThresholdBytes = set.DiskThresholdBytes
	e.DiskCapacityBytes = set.DiskCapacityBytes
	e.DiskCooldown = set.DiskCooldown
	return e
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
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	env, err := s.CreateEnvironmentTLS(r.Context(), req.Name, req.Endpoint, req.Settings, req.TLS.material())
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/environments/"+env.ID.String())
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
	env := withSettings(store.Environment{ID: uuid.New(), Name: name, Endpoint: endpoint}, set)
	if env.TLS, err = s.sealTLS(env.ID, endpoint, m); err != nil {
		return store.Environment{}, err
	}
	env, err = s.Store.CreateEnvironment(ctx, env)
	if errors.Is(err, store.ErrNameTaken) {
		return store.Environment{}, errorf(http.StatusConflict, "name_taken", "an environment named %q already exists", name)
	}
	if err != nil {
		return store.Environment{}, fmt.Errorf("create environment: %w", err)
	}
	if err := s.StartWorkflow(ctx, env); err != nil {
		// Best effort on a fresh context: the request's may be what failed.
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if derr := s.Store.DeleteEnvironment(cleanup, env.ID); derr != nil {
			s.logger().Error("undo environment creation", "environment_id", env.ID, "err", derr)
		}
		return store.Environment{}, errorf(http.StatusServiceUnavailable, "temporal_unavailable",
			"could not start the environment workflow: %s", err.Error())
	}
	return env, nil
}

// StartWorkflow starts the environment's workflow, or keeps the running one:
// the ID conflict policy is use-existing, so there is never a second collector
// for an environment.
func (s *Server) StartWorkflow(ctx context.Context, env store.Environment) error {
	set := settingsOf(env)
	_, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.WorkflowID(env.ID.String()),
		TaskQueue:                s.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		StaticSummary:            fmt.Sprintf("Environment **%s** — Docker engine %s", env.Name, redactEndpoint(env.Endpoint)),
	}, workflows.WorkflowName, workflows.Input{
		EnvironmentID: env.ID.String(),
		Name:          env.Name,
		Settings:      set,
	})
	if err != nil {
		return fmt.Errorf("start workflow of %s: %w", env.Name, err)
	}
	return nil
}

// Reconcile makes sure every stored environment has its workflow running; it
// is idempotent (use-existing) and runs when an API or dev process starts.
func (s *Server) Reconcile(ctx context.Context) error {
	envs, err := s.Store.ListEnvironments(ctx)
	if err != nil {
		return fmt.Errorf("list environments: %w", err)
	}
	var errs []error
	for _, env := range envs {
		errs = append(errs, s.StartWorkflow(ctx, env))
	}
	return errors.Join(errs...)
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

// environment loads the environment named by the {id} URL parameter.
func (s *Server) environment(r *http.Request) (store.Environment, error) {
	raw := chi.URLParam(r, "id")
	id, err := uuid.Parse(raw)
	if err != nil {
		return store.Environment{}, errorf(http.StatusBadRequest, "invalid_id", "%q is not a UUID", raw)
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
	writeJSON(w, http.StatusOK, s.environmentJSON(env))
}

type patchEnvironmentRequest struct {
	Name     *string `json:"name"`
	Endpoint *string `json:"endpoint"`
	// TLS replaces the TLS material; "tls": null removes it.
	TLS optionalTLS `json:"tls"`
}

// patchEnvironment renames an environment or changes its endpoint or TLS
// material; the next cycle uses them (activities load them by ID).
func (s *Server) patchEnvironment(w http.ResponseWriter, r *http.Request) {
	env, err := s.environment(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req patchEnvironmentRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	if req.Name != nil {
		if err := validateName(*req.Name); err != nil {
			writeError(w, r, err)
			return
		}
		env.Name = *req.Name
	}
	if req.Endpoint != nil {
		if err := validateEndpoint(*req.Endpoint); err != nil {
			writeError(w, r, err)
			return
		}
		env.Endpoint = *req.Endpoint
	}
	if env.TLS, err = s.patchTLS(env, req.TLS); err != nil {
		writeError(w, r, err)
		return
	}
	env, err = s.Store.UpdateEnvironment(r.Context(), env)
	switch {
	case errors.Is(err, store.ErrNameTaken):
		writeError(w, r, errorf(http.StatusConflict, "name_taken", "an environment named %q already exists", env.Name))
	case errors.Is(err, store.ErrNotFound):
		writeError(w, r, errorf(http.StatusNotFound, "not_found", "environment %s does not exist", env.ID))
	case err != nil:
		writeError(w, r, err)
	default:
		writeJSON(w, http.StatusOK, s.environmentJSON(env))
	}
}

// deleteEnvironment cancels the workflow, waits for it to stop so that no
// late cycle writes after the delete, then removes the environment and its data.
func (s *Server) deleteEnvironment(w http.ResponseWriter, r *http.Request) {
	env, err := s.environment(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.stopWorkflow(r.Context(), env.ID); err != nil {
		writeError(w, r, errorf(http.StatusServiceUnavailable, "temporal_unavailable", "could not stop the workflow: %s", err.Error()))
		return
	}
	if err := s.Store.DeleteEnvironment(r.Context(), env.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// stopWorkflow requests cancellation and waits (bounded) for the workflow to end.
func (s *Server) stopWorkflow(ctx context.Context, id uuid.UUID) error {
	wid := workflows.WorkflowID(id.String())
	err := s.Temporal.CancelWorkflow(ctx, wid, "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return nil
	}
	if err != nil {
		return err
	}
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = s.Temporal.GetWorkflow(wait, wid, "").Get(wait, nil)
	var canceled *temporal.CanceledError
	if err == nil || errors.As(err, &canceled) || errors.As(err, &notFound) {
		return nil
	}
	if wait.Err() != nil {
		return fmt.Errorf("workflow %s did not stop within 30s", wid)
	}
	// Any other end (failed, terminated) also means it is no longer running.
	return nil
}

// redactEndpoint drops user info and query parameters from an endpoint URL
// before it is shown in the Temporal Web UI.
func redactEndpoint(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "(unparsable endpoint)"
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}

// TLS material of tcp:// environments. Requests carry it in PEM
// ("tls": {"ca": …, "cert": …, "key": …}); it is checked (engine.CheckTLS),
// sealed with Server.Secrets for the environment's ID (engine.SealTLS) and
// stored sealed. Answers only say what there is (tlsView); errors name the
// field at fault, never its content.

// Sealer seals and opens secrets at rest; *secretbox.Box implements it.
type Sealer = engine.Sealer

// tlsRequest is the TLS material of a request, in PEM. Every field is
// optional, but cert and key go together; {} means TLS verified against
// the system roots without a client certificate.
type tlsRequest struct {
	CA   string `json:"ca"`
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

func (t *tlsRequest) material() *engine.TLSMaterial {
	if t == nil {
		return nil
	}
	return &engine.TLSMaterial{CA: []byte(t.CA), Cert: []byte(t.Cert), Key: []byte(t.Key)}
}

// optionalTLS tells an absent "tls" (keep) from "tls": null (remove) in a PATCH.
type optionalTLS struct {
	set   bool
	value *tlsRequest
}

func (o *optionalTLS) UnmarshalJSON(b []byte) error {
	o.set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.value = nil
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var v tlsRequest
	if err := dec.Decode(&v); err != nil {
		// json's messages name fields and types, never string values.
		return fmt.Errorf("tls: %w", err)
	}
	o.value = &v
	return nil
}

// tlsView is what answers show of an environment's TLS material.
type tlsView struct {
	// CA: the material has its own CA (else the system roots are used).
	CA bool `json:"ca"`
	// ClientCert: it has a client certificate, with this subject and expiry.
	ClientCert         bool       `json:"clientCert"`
	ClientCertSubject  string     `json:"clientCertSubject,omitempty"`
	ClientCertNotAfter *time.Time `json:"clientCertNotAfter,omitempty"`
}

func tlsViewOf(t *store.EnvironmentTLS) *tlsView {
	if t == nil {
		return nil
	}
	v := &tlsView{CA: t.CA, ClientCert: t.ClientCert, ClientCertSubject: t.ClientCertSubject}
	if t.ClientCert {
		notAfter := t.ClientCertNotAfter
		v.ClientCertNotAfter = &notAfter
	}
	return v
}

// sealTLS checks m for endpoint and seals it for the environment id; nil m
// gives nil. Bad material is a 400 naming the field at fault; a server
// without a secret key answers 400 tls_unavailable.
func (s *Server) sealTLS(id uuid.UUID, endpoint string, m *engine.TLSMaterial) (*store.EnvironmentTLS, error) {
	if m == nil {
		return nil, nil
	}
	info, err := engine.CheckTLS(endpoint, *m)
	switch {
	case errors.Is(err, engine.ErrBadEndpoint):
		return nil, errorf(http.StatusBadRequest, "invalid_endpoint", "%s", err.Error())
	case err != nil:
		// CheckTLS's errors never include the material.
		return nil, errorf(http.StatusBadRequest, "invalid_tls", "%s", err.Error())
	}
	noKey := errorf(http.StatusBadRequest, "tls_unavailable",
		"TLS material needs WINDFLOW_SECRET_KEY: this server has no key to encrypt it at rest")
	if s.Secrets == nil {
		return nil, noKey
	}
	sealed, err := engine.SealTLS(s.Secrets, id.String(), *m)
	if errors.Is(err, secretbox.ErrNoKey) {
		return nil, noKey
	}
	if err != nil {
		return nil, fmt.Errorf("environment %s: %w", id, err)
	}
	return &store.EnvironmentTLS{
		Sealed: sealed, CA: info.CA,
		ClientCert: info.ClientCert, ClientCertSubject: info.ClientCertSubject, ClientCertNotAfter: info.ClientCertNotAfter,
	}, nil
}

// patchTLS returns the TLS material env has after a PATCH that may set or
// remove it (env carries the patched endpoint).
func (s *Server) patchTLS(env store.Environment, o optionalTLS) (*store.EnvironmentTLS, error) {
	t := env.TLS
	if o.set {
		var err error
		if t, err = s.sealTLS(env.ID, env.Endpoint, o.value.material()); err != nil {
			return nil, err
		}
	}
	if t != nil && !strings.HasPrefix(strings.ToLower(env.Endpoint), "tcp://") {
		return nil, errorf(http.StatusBadRequest, "invalid_endpoint",
			`the environment has TLS material, which needs a tcp:// endpoint (send "tls": null to remove it)`)
	}
	return t, nil
}

package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/windflow/monitor/internal/engine"
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
	ID          uuid.UUID    `json:"id"`
	Name        string       `json:"name"`
	Endpoint    string       `json:"endpoint"`
	Settings    settingsJSON `json:"settings"`
	WorkflowID  string       `json:"workflowId"`
	WorkflowURL string       `json:"workflowUrl,omitempty"`
	CreatedAt   time.Time    `json:"createdAt"`
	UpdatedAt   time.Time    `json:"updatedAt"`
}

func (s *Server) environmentJSON(e store.Environment) environmentJSON {
	return environmentJSON{
		ID: e.ID, Name: e.Name, Endpoint: e.Endpoint,
		Settings:    settingsView(settingsOf(e)),
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
}

func (s *Server) createEnvironment(w http.ResponseWriter, r *http.Request) {
	var req createEnvironmentRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	env, err := s.CreateEnvironment(r.Context(), req.Name, req.Endpoint, req.Settings)
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
	env, err := s.Store.CreateEnvironment(ctx, withSettings(store.Environment{Name: name, Endpoint: endpoint}, set))
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
}

// patchEnvironment renames an environment or changes its endpoint; the next
// cycle uses the new endpoint (activities load it by ID).
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

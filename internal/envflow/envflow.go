// Package envflow keeps every environment's workflow in step with its row
// in Postgres, which is the one source of truth of an environment's
// settings: it creates environments and starts their workflows, changes
// settings (stored first, then applied by the configure Update), deletes
// environments after stopping their workflows, and reconciles workflows with
// the stored settings after a failure.
//
// Every change of one environment runs under its row lock
// (store.LockEnvironment), so DELETE, PATCH and PUT take turns, and a
// workflow is only ever started or updated while its row exists: no
// workflow outlives its environment. A settings change marks the row
// pending (durably, before the workflow hears of it) and clears the mark
// only once the workflow has applied exactly the stored settings; Follow
// sweeps the marks left by failures, so the workflow always ends up with
// the stored settings.
//
// It also starts the installation's long-lived work when an API or dev
// process starts (background.go): the reconciler, the notification
// dispatcher and the retention schedule.
package envflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/workflows"
)

// Store is what the controller needs from Postgres (*store.Store).
type Store interface {
	CreateEnvironment(ctx context.Context, e store.Environment) (store.Environment, error)
	ListEnvironments(ctx context.Context) ([]store.Environment, error)
	LockEnvironment(ctx context.Context, id uuid.UUID, fn func(ctx context.Context, tx *store.EnvironmentTx) error) error
	PendingEnvironments(ctx context.Context, limit int) ([]uuid.UUID, error)
}

// Temporal is the part of the Temporal client the controller uses.
type Temporal interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow interface{}, args ...interface{}) (client.WorkflowRun, error)
	UpdateWorkflow(ctx context.Context, options client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error)
	CancelWorkflow(ctx context.Context, workflowID, runID string) error
	GetWorkflow(ctx context.Context, workflowID, runID string) client.WorkflowRun
	TerminateWorkflow(ctx context.Context, workflowID, runID, reason string, details ...interface{}) error
	QueryWorkflow(ctx context.Context, workflowID, runID, queryType string, args ...interface{}) (converter.EncodedValue, error)
	CheckHealth(ctx context.Context, request *client.CheckHealthRequest) (*client.CheckHealthResponse, error)
	ListWorkflow(ctx context.Context, request *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error)
}

// Controller starts, configures, queries, stops and reconciles environment
// workflows, and starts the installation's long-lived workflows
// (background.go).
type Controller struct {
	Store     Store
	Temporal  Temporal
	TaskQueue string
	Logger    *slog.Logger
}

// ErrVersionMismatch means the environment is not at the version the caller
// expected (If-Match); nothing changed.
var ErrVersionMismatch = errors.New("the environment changed since that version")

// ErrWorkflowUnavailable means the workflow could not be reached (Temporal down,
// timeout); what was asked is not done, and the reconciler brings the
// workflow to the stored settings once Temporal answers.
var ErrWorkflowUnavailable = errors.New("the environment's workflow could not be reached")

// SettingsError is a rejected settings change; it wraps
// workflows.ErrInvalidSettings and Reason says why.
type SettingsError struct{ Reason string }

func (e *SettingsError) Error() string { return e.Reason }
func (e *SettingsError) Unwrap() error { return workflows.ErrInvalidSettings }

// settingsError turns a validation error of workflows into a *SettingsError.
func settingsError(err error) error { return &SettingsError{Reason: err.Error()} }

// checkVersion returns ErrVersionMismatch unless env is at one of the
// versions the caller accepts (none given: any).
func checkVersion(env store.Environment, ifMatch []int64) error {
	if len(ifMatch) == 0 || slices.Contains(ifMatch, env.Version) {
		return nil
	}
	return fmt.Errorf("%w: environment %s is at version %d", ErrVersionMismatch, env.ID, env.Version)
}

func (c *Controller) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.Default()
	}
	return c.Logger
}

// Create stores a new environment and starts its workflow with the stored
// settings. When the workflow cannot be started the row is deleted again
// (nothing is half-created) and the error wraps ErrWorkflowUnavailable.
func (c *Controller) Create(ctx context.Context, env store.Environment) (store.Environment, error) {
	env.SettingsPending = true // until the workflow runs
	created, err := c.Store.CreateEnvironment(ctx, env)
	if err != nil {
		return store.Environment{}, err
	}
	// The start and its undo must happen even if the caller gives up now:
	// a row without workflow would otherwise wait for the reconciler.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), startTimeout)
	defer cancel()
	var startErr error
	err = c.Store.LockEnvironment(ctx, created.ID, func(ctx context.Context, tx *store.EnvironmentTx) error {
		if startErr = c.start(ctx, tx.Environment()); startErr != nil {
			return tx.Delete(ctx)
		}
		return tx.SetSettingsPending(ctx, false)
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Environment{}, fmt.Errorf("environment %s was deleted while it was created: %w", created.ID, err)
	case err != nil:
		return store.Environment{}, errors.Join(startErr, err)
	case startErr != nil:
		return store.Environment{}, startErr
	}
	created.SettingsPending = false
	return created, nil
}

// startTimeout bounds the start of a new environment's workflow.
const startTimeout = 15 * time.Second

// Modify changes the environment id with change, under its row lock, and
// returns it as stored; change sees the row as it is now and returns an
// error to change nothing. It is for the name, endpoint and TLS material
// (activities load the last two by ID); settings change through Configure.
// A new name is stored marked pending, as a settings change is, then
// brought to the workflow (apply: the rename Update keeps its search
// attribute current) and the mark cleared; when the workflow cannot be
// reached within renameTimeout the change stands, still marked, and the
// reconciler (Follow) renames the workflow later.
func (c *Controller) Modify(ctx context.Context, id uuid.UUID, ifMatch []int64, change func(env *store.Environment) error) (store.Environment, error) {
	var saved store.Environment
	renamed := false
	err := c.Store.LockEnvironment(ctx, id, func(ctx context.Context, tx *store.EnvironmentTx) error {
		env := tx.Environment()
		if err := checkVersion(env, ifMatch); err != nil {
			return err
		}
		settings, name := env.Settings, env.Name
		if err := change(&env); err != nil {
			return err
		}
		env.Settings = settings // the settings are Configure's
		if renamed = env.Name != name; renamed {
			env.SettingsPending = true
		}
		var err error
		saved, err = tx.Save(ctx, env)
		return err
	})
	if err != nil || !renamed {
		return saved, err
	}
	applyCtx, cancel := context.WithTimeout(ctx, renameTimeout)
	defer cancel()
	err = c.Store.LockEnvironment(applyCtx, id, func(ctx context.Context, tx *store.EnvironmentTx) error {
		if _, err := c.apply(ctx, tx.Environment()); err != nil {
			return err
		}
		if err := tx.SetSettingsPending(ctx, false); err != nil {
			return err
		}
		saved = tx.Environment()
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		c.logger().Warn("the environment's workflow did not take its new name yet; the reconciler retries",
			"environment_id", id, "err", err)
	}
	return saved, nil
}

// Configure applies patch to the stored settings of environment id. The
// result is committed to Postgres first, marked pending; then, under the
// row lock again, the workflow is brought to the stored settings (the
// configure Update with every field) and the mark is cleared. Errors:
// *SettingsError (nothing changed), ErrVersionMismatch, store.ErrNotFound,
// or ErrWorkflowUnavailable, which comes with the environment as stored: the
// change is kept and the reconciler (Follow) applies it once Temporal
// answers.
func (c *Controller) Configure(ctx context.Context, id uuid.UUID, ifMatch []int64, patch workflows.SettingsPatch) (store.Environment, workflows.State, error) {
	var before, saved store.Environment
	err := c.Store.LockEnvironment(ctx, id, func(ctx context.Context, tx *store.EnvironmentTx) error {
		before = tx.Environment()
		if err := checkVersion(before, ifMatch); err != nil {
			return err
		}
		set, err := patch.Apply(before.Settings)
		if err != nil {
			return settingsError(err)
		}
		next := before
		next.Settings = set
		next.SettingsPending = true
		saved, err = tx.Save(ctx, next)
		return err
	})
	if err != nil {
		return store.Environment{}, workflows.State{}, err
	}
	var state workflows.State
	err = c.Store.LockEnvironment(ctx, id, func(ctx context.Context, tx *store.EnvironmentTx) error {
		// The stored settings, which may already be a later change's.
		var err error
		if state, err = c.apply(ctx, tx.Environment()); err != nil {
			return err
		}
		if err := tx.SetSettingsPending(ctx, false); err != nil {
			return err
		}
		saved = tx.Environment()
		return nil
	})
	if err != nil {
		saved.SettingsPending = true // the mark of the first step stays
	}
	var invalid *SettingsError
	switch {
	case err == nil:
	case errors.As(err, &invalid):
		// The workflow refused what this process accepted (a worker of
		// another version): put the settings back unless changed since.
		c.restore(ctx, before, saved.Version)
		return saved, workflows.State{}, err
	case errors.Is(err, store.ErrNotFound), errors.Is(err, ErrWorkflowUnavailable):
		return saved, workflows.State{}, err
	default:
		// The change is stored and marked: whatever stopped us here (the
		// database, the deadline), the reconciler finishes the job.
		return saved, workflows.State{}, fmt.Errorf("%w: %w", ErrWorkflowUnavailable, err)
	}
	return saved, state, nil
}

// restore writes before's settings back over the environment if it is still
// at version, marked pending so that the reconciler applies them again.
func (c *Controller) restore(ctx context.Context, before store.Environment, version int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), startTimeout)
	defer cancel()
	err := c.Store.LockEnvironment(ctx, before.ID, func(ctx context.Context, tx *store.EnvironmentTx) error {
		env := tx.Environment()
		if env.Version != version {
			return nil
		}
		env.Settings = before.Settings
		env.SettingsPending = true
		_, err := tx.Save(ctx, env)
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		c.logger().Error("restore settings refused by the workflow", "environment_id", before.ID, "err", err)
	}
}

// Delete stops the environment's workflow, waits until it has ended so that
// no late cycle writes after the delete, then deletes the environment and
// its data, all under the row lock: a concurrent Configure either finished
// before (and its workflow is stopped here) or finds no environment.
func (c *Controller) Delete(ctx context.Context, id uuid.UUID, ifMatch []int64) error {
	return c.Store.LockEnvironment(ctx, id, func(ctx context.Context, tx *store.EnvironmentTx) error {
		if err := checkVersion(tx.Environment(), ifMatch); err != nil {
			return err
		}
		if err := c.stop(ctx, id); err != nil {
			return fmt.Errorf("%w: stop: %w", ErrWorkflowUnavailable, err)
		}
		return tx.Delete(ctx)
	})
}

package activities

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"

	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/workflows"
)

// RecordSettings stores the settings change of an accepted configure signal:
// under the environment's row lock, like a PUT, it applies the patch to the
// stored settings, counts one more version and marks the row pending, so
// that the reconciler brings the workflow to exactly the stored settings
// (a no-op unless another change came in between). A patch that changes
// nothing stores nothing. An environment deleted meanwhile, or a patch the
// stored settings reject, fails without retry.
func (a *Activities) RecordSettings(ctx context.Context, in workflows.RecordSettingsInput) error {
	id, err := uuid.Parse(in.EnvironmentID)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("bad environment id %q", in.EnvironmentID), errNotFound, err)
	}
	sctx, cancel := storeContext(ctx)
	defer cancel()
	err = a.Store.LockEnvironment(sctx, id, func(ctx context.Context, tx *store.EnvironmentTx) error {
		env := tx.Environment()
		next, err := in.Patch.Apply(env.Settings)
		if err != nil {
			return temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeInvalidSettings, err)
		}
		if next == env.Settings {
			return nil
		}
		env.Settings, env.SettingsPending = next, true
		_, err = tx.Save(ctx, env)
		return err
	})
	var appErr *temporal.ApplicationError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &appErr):
		return err
	case errors.Is(err, store.ErrNotFound):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("environment %s does not exist", id), errNotFound, err)
	default:
		return storeError(ctx, "record settings", in.EnvironmentID, err)
	}
}

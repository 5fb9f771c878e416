package workflows

import (
	"errors"

	"go.temporal.io/sdk/workflow"
)

// errEmptyName rejects a rename to "".
var errEmptyName = errors.New("the environment name is empty")

// registerRename sets up UpdateRename.
func (w *environmentWorkflow) registerRename(ctx workflow.Context) error {
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateRename,
		func(ctx workflow.Context, name string) (State, error) {
			if err := w.rename(ctx, name); err != nil {
				return State{}, err
			}
			return w.snapshot(), nil
		},
		workflow.UpdateHandlerOptions{
			Validator: func(name string) error {
				if name == "" {
					return invalidSettingsError(errEmptyName)
				}
				return nil
			},
			Description: "Rename the environment (its name); returns the new state",
		})
}

// rename takes the environment's new name. The search attribute is upserted
// only when it differs from the workflow's, so a repeated rename (or one
// that only brings an older workflow its attribute) adds no needless command.
func (w *environmentWorkflow) rename(ctx workflow.Context, name string) error {
	w.state.Name = name
	current, _ := workflow.GetTypedSearchAttributes(ctx).GetKeyword(EnvironmentSearchAttribute)
	if current != name {
		if err := workflow.UpsertTypedSearchAttributes(ctx, EnvironmentSearchAttribute.ValueSet(name)); err != nil {
			return err
		}
	}
	w.publishDetails(ctx)
	return nil
}

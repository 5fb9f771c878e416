package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
)

// renameAt sends a rename update at the given workflow time.
func renameAt(env *testsuite.TestWorkflowEnvironment, d time.Duration, name string) *updateOutcome {
	out := &updateOutcome{}
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateRename, "rename-"+d.String(), &testsuite.TestUpdateCallback{
			OnAccept: func() { out.accepted = true },
			OnReject: func(err error) { out.rejected = err },
			OnComplete: func(v any, err error) {
				out.err = err
				if s, ok := v.(State); ok {
					out.result = s
				}
			},
		}, name)
	}, d)
	return out
}

// TestRename: a rename changes the name in the State and upserts the
// search attribute once; the same name again, and an empty one, do not;
// continue-as-new carries the new name.
func TestRename(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	require.NoError(t, env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(EnvironmentSearchAttribute.ValueSet("local"))))
	env.OnUpsertTypedSearchAttributes(mock.Anything).Return(nil).Once()
	first := renameAt(env, 10*time.Second, "prod")
	again := renameAt(env, 20*time.Second, "prod")
	empty := renameAt(env, 25*time.Second, "")
	env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, 40*time.Second)
	env.ExecuteWorkflow(WorkflowName, input(settings(30*time.Second)))

	require.True(t, env.IsWorkflowCompleted())
	in := decodeContinueAsNew(t, env.GetWorkflowError())
	for _, out := range []*updateOutcome{first, again} {
		require.True(t, out.accepted)
		require.NoError(t, out.err)
		require.Equal(t, "prod", out.result.Name)
	}
	require.False(t, empty.accepted)
	require.Error(t, empty.rejected)
	env.AssertExpectations(t) // one upsert, for the first rename
	require.Equal(t, "prod", in.Name)
	require.Equal(t, "prod", in.State.Name)
}

// TestRenameSetsMissingAttribute: a workflow started without the search
// attribute gets it from a rename to the name it already has.
func TestRenameSetsMissingAttribute(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	env.OnUpsertTypedSearchAttributes(temporal.NewSearchAttributes(EnvironmentSearchAttribute.ValueSet("local"))).Return(nil).Once()
	out := renameAt(env, 10*time.Second, "local")
	cancelAt(env, time.Minute)
	env.ExecuteWorkflow(WorkflowName, input(settings(30*time.Second)))
	requireCanceled(t, env)

	require.True(t, out.accepted)
	require.NoError(t, out.err)
	env.AssertExpectations(t)
}

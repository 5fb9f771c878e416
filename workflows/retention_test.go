package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

type fakePruner struct {
	mu       sync.Mutex
	inputs   []PruneInput
	attempts []int32
	infos    []activity.Info
	result   func(attempt int32) (PruneResult, error)
}

func (f *fakePruner) prune(ctx context.Context, in PruneInput) (PruneResult, error) {
	info := activity.GetInfo(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, in)
	f.attempts = append(f.attempts, info.Attempt)
	f.infos = append(f.infos, info)
	return f.result(info.Attempt)
}

func newRetentionEnv(f *fakePruner) *testsuite.TestWorkflowEnvironment {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(RetentionWorkflow, workflow.RegisterOptions{Name: RetentionWorkflowName})
	env.RegisterActivityWithOptions(f.prune, activity.RegisterOptions{Name: ActivityPruneOldData})
	return env
}

func TestRetentionWorkflowRunsPrune(t *testing.T) {
	want := PruneResult{HostMetrics: 3, ContainerMetrics: 30, ContainerEvents: 2, EventGaps: 1, DiskUsage: 4, Notifications: 5}
	f := &fakePruner{result: func(int32) (PruneResult, error) { return want, nil }}
	env := newRetentionEnv(f)
	in := PruneInput{MetricsDays: 7, EventsDays: 0, DiskDays: 90, NotificationsDays: 30}
	env.ExecuteWorkflow(RetentionWorkflowName, in)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var got PruneResult
	require.NoError(t, env.GetWorkflowResult(&got))
	require.Equal(t, want, got)
	require.Equal(t, int64(45), got.Total())
	require.Equal(t, []PruneInput{in}, f.inputs)
	require.Equal(t, PruneTimeout, f.infos[0].StartToCloseTimeout)
	require.Equal(t, PruneHeartbeatTimeout, f.infos[0].HeartbeatTimeout)
}

func TestRetentionWorkflowRetriesThenFails(t *testing.T) {
	f := &fakePruner{result: func(int32) (PruneResult, error) { return PruneResult{}, errors.New("database down") }}
	env := newRetentionEnv(f)
	env.ExecuteWorkflow(RetentionWorkflowName, DefaultPruneInput())
	require.True(t, env.IsWorkflowCompleted())
	err := env.GetWorkflowError()
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr))
	require.Contains(t, appErr.Error(), "database down")
	require.Equal(t, []int32{1, 2, 3}, f.attempts)
}

func TestRetentionWorkflowRetrySucceeds(t *testing.T) {
	f := &fakePruner{result: func(attempt int32) (PruneResult, error) {
		if attempt < 2 {
			return PruneResult{}, errors.New("transient")
		}
		return PruneResult{DiskUsage: 1}, nil
	}}
	env := newRetentionEnv(f)
	env.ExecuteWorkflow(RetentionWorkflowName, DefaultPruneInput())
	require.NoError(t, env.GetWorkflowError())
	var got PruneResult
	require.NoError(t, env.GetWorkflowResult(&got))
	require.Equal(t, PruneResult{DiskUsage: 1}, got)
	require.Equal(t, []int32{1, 2}, f.attempts)
}

func TestRetentionWorkflowNonRetryable(t *testing.T) {
	f := &fakePruner{result: func(int32) (PruneResult, error) {
		return PruneResult{}, temporal.NewNonRetryableApplicationError("no prune", "PruneUnsupported", nil)
	}}
	env := newRetentionEnv(f)
	env.ExecuteWorkflow(RetentionWorkflowName, DefaultPruneInput())
	require.Error(t, env.GetWorkflowError())
	require.Equal(t, []int32{1}, f.attempts)
}

func TestRetentionIDs(t *testing.T) {
	require.Equal(t, "retention/abc", RetentionScheduleID("abc"))
	require.Equal(t, "retention-run/abc", RetentionWorkflowID("abc"))
	minute, hour := DefaultMetricsMinuteDays, DefaultMetricsHourDays
	require.Equal(t, PruneInput{MetricsDays: 30, EventsDays: 90, DiskDays: 90, NotificationsDays: 90,
		MetricsMinuteDays: &minute, MetricsHourDays: &hour}, DefaultPruneInput())
	// An input of before the rollup tiers decodes with them unset: the
	// defaults apply.
	var old PruneInput
	require.NoError(t, json.Unmarshal([]byte(`{"MetricsDays":7,"EventsDays":90,"DiskDays":90,"NotificationsDays":90}`), &old))
	gotMinute, gotHour := old.RollupDays()
	require.Equal(t, [2]int{30, 365}, [2]int{gotMinute, gotHour})
}

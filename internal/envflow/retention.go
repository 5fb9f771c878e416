package envflow

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/windflow/monitor/workflows"
)

// DefaultRetentionEvery is the interval of the retention schedule when none
// is given.
const DefaultRetentionEvery = time.Hour

// StartRetentionSchedule creates the Temporal Schedule (ID
// workflows.RetentionScheduleID(instance)) that starts RetentionWorkflow with
// in on taskQueue every `every` (DefaultRetentionEvery when <= 0), skipping a
// run while the previous one is still going. When the schedule already
// exists, its interval, action and overlap policy are updated to these
// values (the configured retention may have changed) and that is not an
// error; its paused state and history are kept.
func StartRetentionSchedule(ctx context.Context, sc client.ScheduleClient, instance, taskQueue string, in workflows.PruneInput, every time.Duration) error {
	if every <= 0 {
		every = DefaultRetentionEvery
	}
	id := workflows.RetentionScheduleID(instance)
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}}
	action := &client.ScheduleWorkflowAction{
		ID:            workflows.RetentionWorkflowID(instance),
		Workflow:      workflows.RetentionWorkflowName,
		Args:          []any{in},
		TaskQueue:     taskQueue,
		StaticSummary: "Prunes old metrics, events, disk samples and notifications",
	}
	const overlap = enumspb.SCHEDULE_OVERLAP_POLICY_SKIP
	_, err := sc.Create(ctx, client.ScheduleOptions{
		ID:      id,
		Spec:    spec,
		Action:  action,
		Overlap: overlap,
		Note:    "Windflow retention",
	})
	if err == nil {
		return nil
	}
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("start the retention schedule: %w", err)
	}
	err = sc.GetHandle(ctx, id).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(u client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := u.Description.Schedule
			s.Spec = &spec
			s.Action = action
			if s.Policy == nil {
				s.Policy = &client.SchedulePolicies{}
			}
			s.Policy.Overlap = overlap
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("update the retention schedule: %w", err)
	}
	return nil
}

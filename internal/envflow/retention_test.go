package envflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/windflow/monitor/internal/envflow"
	"github.com/windflow/monitor/internal/temporaltest"
	"github.com/windflow/monitor/workflows"
)

// TestStartRetentionSchedule creates the retention schedule on the real
// Temporal server, then starts it again with other settings: no error, and
// the schedule takes the new interval and input.
func TestStartRetentionSchedule(t *testing.T) {
	tc, err := client.Dial(client.Options{HostPort: temporaltest.Address(t), Identity: "retention-test"})
	if err != nil {
		t.Fatalf("dial temporal: %v", err)
	}
	t.Cleanup(tc.Close)
	sc := tc.ScheduleClient()
	instance := "test-" + uuid.NewString()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.Cleanup(func() {
		_ = sc.GetHandle(context.Background(), workflows.RetentionScheduleID(instance)).Delete(context.Background())
	})

	first := workflows.PruneInput{MetricsDays: 30, EventsDays: 90, DiskDays: 90, NotificationsDays: 90}
	if err := envflow.StartRetentionSchedule(ctx, sc, instance, "retention-test", first, time.Hour); err != nil {
		t.Fatalf("create: %v", err)
	}
	second := workflows.PruneInput{MetricsDays: 7}
	if err := envflow.StartRetentionSchedule(ctx, sc, instance, "retention-test", second, 2*time.Hour); err != nil {
		t.Fatalf("start again: %v", err)
	}
	desc, err := sc.GetHandle(ctx, workflows.RetentionScheduleID(instance)).Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	spec := desc.Schedule.Spec
	if len(spec.Intervals) != 1 || spec.Intervals[0].Every != 2*time.Hour {
		t.Fatalf("intervals = %+v, want one of 2h", spec.Intervals)
	}
	if desc.Schedule.Policy.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_SKIP {
		t.Fatalf("overlap = %v, want skip", desc.Schedule.Policy.Overlap)
	}
	action, ok := desc.Schedule.Action.(*client.ScheduleWorkflowAction)
	if !ok || action.ID != workflows.RetentionWorkflowID(instance) {
		t.Fatalf("action = %#v", desc.Schedule.Action)
	}
	if len(action.Args) != 1 {
		t.Fatalf("action args = %#v", action.Args)
	}
}

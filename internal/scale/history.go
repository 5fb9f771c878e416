package scale

import (
	"context"
	"fmt"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
)

// Billable Temporal actions, counted from a workflow's history the way
// Temporal Cloud bills them (docs.temporal.io/cloud/actions), one per:
//
//   - WorkflowExecutionStarted: a start, and every continue-as-new run;
//   - StartChildWorkflowExecutionInitiated: a child workflow's start (the
//     child's own history is not sampled);
//   - TimerStarted;
//   - activity attempt: ActivityTaskScheduled counts the first attempt, and
//     an ActivityTaskStarted with attempt a counts the a−1 retries before it
//     (the history keeps only the last attempt's Started event);
//   - local activities: all LocalActivity markers of one workflow task
//     together count one (grouped by their WorkflowTaskCompletedEventId);
//   - SideEffect and MutableSideEffect markers (Version markers are free);
//   - UpsertWorkflowSearchAttributes, unless it only sets
//     TemporalChangeVersion (versioning is exempt);
//   - WorkflowExecutionSignaled and SignalExternalWorkflowExecutionInitiated;
//   - WorkflowExecutionUpdateAccepted (rejected Updates also bill, but leave
//     no event; the harness sends only valid ones).
//
// Not in a history, and added elsewhere or not at all: heartbeats (one per
// RecordActivityTaskHeartbeat RPC, counted from the worker's /metrics),
// queries (the harness sends none), schedules' own actions.

// Actions is the billable actions of some history events, by kind.
type Actions struct {
	Total  int            `json:"total"`
	ByKind map[string]int `json:"byKind"`
}

func (a *Actions) add(kind string, n int) {
	if n <= 0 {
		return
	}
	if a.ByKind == nil {
		a.ByKind = map[string]int{}
	}
	a.ByKind[kind] += n
	a.Total += n
}

// inWindow says whether t is in [from, to); a zero from or to leaves that
// side open.
func inWindow(t, from, to time.Time) bool {
	return (from.IsZero() || !t.Before(from)) && (to.IsZero() || t.Before(to))
}

// CountActions counts the billable actions of the events whose time is in
// [from, to) (zero bounds: open), by the rules above.
func CountActions(events []*historypb.HistoryEvent, from, to time.Time) Actions {
	var a Actions
	localTasks := map[int64]bool{}
	for _, e := range events {
		if !inWindow(e.GetEventTime().AsTime(), from, to) {
			continue
		}
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
			a.add("workflow started", 1)
		case enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
			a.add("child workflow started", 1)
		case enumspb.EVENT_TYPE_TIMER_STARTED:
			a.add("timer", 1)
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			a.add("activity", 1)
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			a.add("activity retry", int(e.GetActivityTaskStartedEventAttributes().GetAttempt())-1)
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			m := e.GetMarkerRecordedEventAttributes()
			switch m.GetMarkerName() {
			case "LocalActivity":
				if id := m.GetWorkflowTaskCompletedEventId(); !localTasks[id] {
					localTasks[id] = true
					a.add("local activities (per workflow task)", 1)
				}
			case "SideEffect", "MutableSideEffect":
				a.add("side effect", 1)
			}
		case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
			fields := e.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()
			if _, v := fields["TemporalChangeVersion"]; !v || len(fields) > 1 {
				a.add("search attributes", 1)
			}
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, enumspb.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
			a.add("signal", 1)
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			a.add("update", 1)
		}
	}
	return a
}

// CountEvents returns how many events have a time in [from, to).
func CountEvents(events []*historypb.HistoryEvent, from, to time.Time) int {
	n := 0
	for _, e := range events {
		if inWindow(e.GetEventTime().AsTime(), from, to) {
			n++
		}
	}
	return n
}

// EventsPerCycle splits a history at the stored cycle times of its
// environment (cycle_at, the workflow time of the workflow task that starts
// a cycle) and returns the number of events in each [cycle_at[i],
// cycle_at[i+1]) for consecutive cycles both in [from, to). Each count is
// one whole cycle whatever the workflow's shape: its workflow tasks,
// activities or markers, timer, and the timer's firing (which falls just
// before the next cycle_at).
func EventsPerCycle(events []*historypb.HistoryEvent, cycles []time.Time, from, to time.Time) []int {
	cs := slices.Clone(cycles)
	slices.SortFunc(cs, time.Time.Compare)
	var out []int
	for i := 1; i < len(cs); i++ {
		if !inWindow(cs[i-1], from, to) || !inWindow(cs[i], from, to) {
			continue
		}
		out = append(out, CountEvents(events, cs[i-1], cs[i]))
	}
	return out
}

// fetchHistory returns the events of a workflow's current run and of the
// runs it continued from, as far back as needed to cover from, oldest first.
func fetchHistory(ctx context.Context, c client.Client, workflowID string, from time.Time) ([]*historypb.HistoryEvent, error) {
	var runs [][]*historypb.HistoryEvent
	runID := ""
	for range 20 { // a run lasts many cycles: 20 runs back is far more than any window
		it := c.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		var run []*historypb.HistoryEvent
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				return nil, fmt.Errorf("history of %s: %w", workflowID, err)
			}
			run = append(run, e)
		}
		runs = append(runs, run)
		if len(run) == 0 || !run[0].GetEventTime().AsTime().After(from) {
			break
		}
		runID = run[0].GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
		if runID == "" {
			break
		}
	}
	var all []*historypb.HistoryEvent
	for i := len(runs) - 1; i >= 0; i-- {
		all = append(all, runs[i]...)
	}
	return all, nil
}

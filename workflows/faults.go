package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// The monitor's own faults, told apart from the engine's.
//
// A check is a question to the engine, but its activity also needs
// PostgreSQL: it loads the environment's endpoint, the previous CPU
// counters, and stores the cycle. When PostgreSQL cannot be reached the
// activity fails with an application error of type ErrTypeMonitorUnavailable,
// and the workflow takes the check as unknown: neither a success nor a
// failure of the engine. It counts no failure toward OfflineAfter, resets
// none, makes no transition (so nothing is recorded and nobody is notified),
// and counts the cycle in State.UnstoredCycles and in the
// MetricCyclesUnstored metric; State.MonitorUnavailableSince and
// MonitorError show the outage until a check reaches the store again. A
// Temporal outage needs nothing of the sort: no workflow code runs while the
// server is away, and the missed cycles are skipped when it is back.
//
// An environment deleted under a running workflow (an orphan: e.g. a delete
// that raced a settings change) makes its checks fail with
// ErrTypeEnvironmentNotFound, non-retryable. The workflow then ends: it
// stops its event collection, drops what it had not recorded yet, never
// continues as new, and completes.
//
// Runs whose history already holds such a failure handled the old way keep
// that way (change ID "monitor-faults", asked only when such a failure
// arrives, so that histories without one replay unchanged).

// Error types of the activities' application errors that the workflow acts on.
const (
	// ErrTypeMonitorUnavailable: the monitor itself (PostgreSQL) was
	// unavailable; the check says nothing about the engine. Retryable.
	ErrTypeMonitorUnavailable = "MonitorUnavailable"
	// ErrTypeEnvironmentNotFound: the environment does not exist (any
	// more). Non-retryable.
	ErrTypeEnvironmentNotFound = "EnvironmentNotFound"
)

// MetricCyclesUnstored is the counter (workflow metrics handler, tag
// "environment") of checks whose outcome is unknown because the monitor was
// unavailable; Prometheus shows it as windflow_cycles_unstored_total.
const MetricCyclesUnstored = "windflow_cycles_unstored"

// EndTimeout bounds how long a workflow whose environment is gone waits for
// its event stream to acknowledge its cancellation and for its update
// handlers to finish before it completes. A stream that has not stopped by
// then stops at its next heartbeat, which finds the workflow closed.
const EndTimeout = 10 * time.Second

const (
	faultsChangeID = "monitor-faults"
	faultsVersion  = workflow.Version(1)
)

// hasErrorType reports whether err is, or wraps, an application error of
// type errType (also the plain error of a local activity, which arrives
// inside the activity-error wrapper).
func hasErrorType(err error, errType string) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == errType
}

// handlesFaults reports whether this run tells the monitor's faults apart
// and ends when its environment is gone. It is asked only when such a
// failure arrives: the version marker appears at the first of them.
func (w *environmentWorkflow) handlesFaults(ctx workflow.Context) bool {
	return workflow.GetVersion(ctx, faultsChangeID, workflow.DefaultVersion, faultsVersion) >= faultsVersion
}

// checkUnknown records a check that could not be judged because the monitor
// itself was unavailable: no failure counted, no transition.
func (w *environmentWorkflow) checkUnknown(ctx workflow.Context, err error) {
	now := workflow.Now(ctx)
	if w.state.MonitorUnavailableSince.IsZero() {
		w.state.MonitorUnavailableSince = now
	}
	w.state.MonitorError = errorText(err)
	w.state.UnstoredCycles++
	w.logger.Warn("Check skipped: the monitor itself is unavailable; the engine's status is left as it was",
		"Since", w.state.MonitorUnavailableSince, "UnstoredCycles", w.state.UnstoredCycles, "Error", w.state.MonitorError)
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"environment": w.state.Name}).
		Counter(MetricCyclesUnstored).Inc(1)
}

// monitorAvailable ends the outage shown in the state, if any: a check got
// past the store.
func (w *environmentWorkflow) monitorAvailable() {
	if w.state.MonitorUnavailableSince.IsZero() {
		return
	}
	w.logger.Info("The monitor is available again", "UnavailableSince", w.state.MonitorUnavailableSince,
		"UnstoredCycles", w.state.UnstoredCycles)
	w.state.MonitorUnavailableSince = time.Time{}
	w.state.MonitorError = ""
}

// end completes the workflow of an environment that no longer exists: the
// event collection stops (a stream is cancelled), nothing pending is
// recorded, and there is no continue-as-new.
func (w *environmentWorkflow) end(ctx workflow.Context) error {
	w.logger.Warn("The environment no longer exists: ending its workflow", "Error", w.state.LastError)
	w.stopTimer()
	w.eventsStopping = w.eventsSupported
	w.diskStopping = w.diskSupported
	w.pendingStatus = nil
	w.state.PendingStatus, w.state.PendingDiskWarning, w.state.PendingAlerts = nil, nil, nil
	w.publishDetails(ctx)
	eventsStopped := func() bool { return !w.eventsRunning }
	if w.events.active {
		eventsStopped = w.stopEventsForEnd()
	}
	ok, err := workflow.AwaitWithTimeout(ctx, EndTimeout, func() bool {
		return eventsStopped() && workflow.AllHandlersFinished(ctx)
	})
	if err != nil {
		return err // cancelled meanwhile
	}
	if !ok {
		w.logger.Warn("Ending without waiting any longer for the event collection or handlers to finish")
	}
	return nil
}

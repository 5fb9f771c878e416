package workflows

import (
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// MaxCyclesPerRun bounds the history of one run: after this many checks the
// workflow continues as new even if the server has not suggested it.
const MaxCyclesPerRun = 500

// maxCyclesPerRun is MaxCyclesPerRun; tests lower it.
var maxCyclesPerRun = MaxCyclesPerRun

// EnvironmentWorkflow watches one environment for its whole life; it is
// registered under WorkflowName and runs with the ID WorkflowID(id).
//
// One loop: every MetricsInterval a check (CollectMetrics, or CheckEngine when
// collection is off; none while paused), the event stream or polls, and a
// disk check riding on the cycles. Status, disk, alert and settings records run in
// goroutines while they have work and travel in the State across
// continue-as-new. Settings change through UpdateConfigure or SignalConfigure;
// QueryState returns the State. Cancelling the workflow stops it at once.
func EnvironmentWorkflow(ctx workflow.Context, in Input) error {
	w := newEnvironmentWorkflow(ctx, in)
	if err := w.registerHandlers(ctx); err != nil {
		return err
	}
	// Records the previous run decided but could not store yet.
	w.startStatusRecorder(ctx)
	w.startDiskWarningRecorder(ctx)
	w.startAlertRecorder(ctx)
	w.startSettingsRecorder(ctx)
	return w.run(ctx)
}

// environmentWorkflow is the state of one run of EnvironmentWorkflow.
type environmentWorkflow struct {
	state  State
	logger log.Logger

	// signals receives SignalConfigure; wake interrupts the main loop's wait
	// when a handler or a recorder changed something it must look at.
	signals workflow.ReceiveChannel
	wake    workflow.Channel

	// timer is the armed metrics timer (nil if none), due at timerAt;
	// timerFired is set when it fired and the check has not run yet.
	timer       workflow.Future
	timerAt     time.Time
	cancelTimer workflow.CancelFunc
	timerFired  bool

	// runCycles counts the checks of this run; settingsChanges the accepted
	// settings changes (a failed stream restarts at the next one).
	runCycles       int
	settingsChanges int

	// pendingStatus holds the transitions not yet recorded, oldest first.
	pendingStatus []RecordStatusInput
	// Goroutines that run while they have work.
	statusRecorderRunning   bool
	alertRecorderRunning    bool
	settingsRecorderRunning bool
	diskInFlight            bool

	// events drives the event collection from the main loop.
	events eventsDriver

	// environmentGone is set when a check found that the environment no
	// longer exists: the main loop ends the workflow.
	environmentGone bool
}

func newEnvironmentWorkflow(ctx workflow.Context, in Input) *environmentWorkflow {
	logger := workflow.GetLogger(ctx)
	now := workflow.Now(ctx)
	var state State
	if in.State != nil {
		state = *in.State
		if state.EnvironmentID == "" {
			state.EnvironmentID = in.EnvironmentID
		}
		if state.Name == "" {
			state.Name = in.Name
		}
		if state.Status == "" {
			state.Status = StatusUnknown
		}
		state.Settings = initialSettings(logger, state.Settings)
		if !state.Settings.Paused && state.NextCycleAt.IsZero() {
			state.NextCycleAt = now
		}
	} else {
		state = State{
			EnvironmentID: in.EnvironmentID,
			Name:          in.Name,
			Settings:      initialSettings(logger, in.Settings),
			Status:        StatusUnknown,
			AdoptAlerts:   true, // alerts a lost State left firing
		}
		if !state.Settings.Paused {
			state.NextCycleAt = now // the first check runs at once
		}
	}
	w := &environmentWorkflow{
		state:   state,
		logger:  logger,
		signals: workflow.GetSignalChannel(ctx, SignalConfigure),
		wake:    workflow.NewBufferedChannel(ctx, 1),
	}
	w.pendingStatus, w.state.PendingStatus = w.state.PendingStatus, nil
	return w
}

// initialSettings returns s, or the defaults when s is unset or invalid.
// Unset event and disk fields get their defaults; invalid event or disk
// fields alone are reset to their defaults, keeping the rest.
func initialSettings(logger log.Logger, s Settings) Settings {
	if s == (Settings{}) {
		return DefaultSettings()
	}
	s = s.WithEventDefaults().WithDiskDefaults()
	err := s.Validate()
	if err == nil {
		return s
	}
	resetEvents := func(s Settings) Settings {
		s.EventMode, s.PollInterval = "", 0
		return s.WithEventDefaults()
	}
	resetDisk := func(s Settings) Settings {
		s.DiskInterval, s.DiskTimeout, s.DiskThresholdMode, s.DiskThresholdPercent = 0, 0, "", 0
		s.DiskThresholdBytes, s.DiskCapacityBytes, s.DiskCooldown = 0, 0, 0
		return s.WithDiskDefaults()
	}
	for _, reset := range []struct {
		what string
		fn   func(Settings) Settings
	}{
		{"event", resetEvents},
		{"disk", resetDisk},
		{"event and disk", func(s Settings) Settings { return resetDisk(resetEvents(s)) }},
	} {
		if r := reset.fn(s); r.Validate() == nil {
			logger.Warn("Invalid "+reset.what+" settings in the workflow input, using their defaults", "Error", err)
			return r
		}
	}
	logger.Warn("Invalid settings in the workflow input, using the defaults", "Error", err)
	return DefaultSettings()
}

// run is the main loop: checks on the timer, the event collection, configure
// signals, and the decision to end or continue as new.
func (w *environmentWorkflow) run(ctx workflow.Context) error {
	w.publishDetails(ctx)
	for {
		if err := ctx.Err(); err != nil {
			w.logger.Info("Environment workflow cancelled, stopping")
			return err
		}
		if w.environmentGone {
			return w.end(ctx)
		}
		if w.continueAsNewDue(ctx) {
			return w.continueAsNew(ctx)
		}
		w.driveEvents(ctx)
		if w.cycleDue(ctx) {
			w.runCycle(ctx)
			continue
		}
		w.waitForEvent(ctx)
	}
}

func (w *environmentWorkflow) cycleDue(ctx workflow.Context) bool {
	if w.state.Settings.Paused {
		return false
	}
	return w.timerFired || !workflow.Now(ctx).Before(w.state.NextCycleAt)
}

// waitForEvent blocks until the metrics timer fires, a signal arrives, a
// handler or recorder wakes the loop, the event activity or its timer ends,
// or the workflow is cancelled.
func (w *environmentWorkflow) waitForEvent(ctx workflow.Context) {
	// A pending wake-up is stale: the loop has just looked at everything.
	for w.wake.ReceiveAsync(nil) {
	}
	selector := workflow.NewSelector(ctx)
	if w.state.Settings.Paused {
		w.stopTimer()
	} else {
		w.armTimer(ctx)
		selector.AddFuture(w.timer, func(f workflow.Future) {
			// Releases the fired timer's context, which the workflow's
			// context would otherwise keep for the rest of the run.
			w.stopTimer()
			if f.Get(ctx, nil) == nil {
				w.timerFired = true
			}
		})
	}
	selector.AddReceive(w.signals, func(c workflow.ReceiveChannel, _ bool) {
		w.receiveSignal(ctx, c)
	})
	selector.AddReceive(w.wake, func(c workflow.ReceiveChannel, _ bool) {
		c.ReceiveAsync(nil)
	})
	selector.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
	w.addEvents(ctx, selector)
	selector.Select(ctx)
}

// armTimer makes sure a timer is armed for NextCycleAt, replacing (and
// cancelling) a timer armed for another time.
func (w *environmentWorkflow) armTimer(ctx workflow.Context) {
	if w.timer != nil && w.timerAt.Equal(w.state.NextCycleAt) {
		return
	}
	w.stopTimer()
	timerCtx, cancel := workflow.WithCancel(ctx)
	d := w.state.NextCycleAt.Sub(workflow.Now(ctx))
	w.timer = workflow.NewTimerWithOptions(timerCtx, d, workflow.TimerOptions{
		Summary: timerSummary(w.state.Settings),
	})
	w.timerAt = w.state.NextCycleAt
	w.cancelTimer = cancel
}

func (w *environmentWorkflow) stopTimer() {
	if w.cancelTimer != nil {
		w.cancelTimer()
	}
	w.timer, w.cancelTimer = nil, nil
}

func (w *environmentWorkflow) continueAsNewDue(ctx workflow.Context) bool {
	return w.runCycles >= maxCyclesPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested()
}

// continueAsNew waits for the handlers only, never for I/O: records not yet
// stored travel in the State, and a running stream, poll or disk check is
// abandoned (the event readers resume from the cursor stored with the
// events; the disk check runs again in the next run's first cycle).
func (w *environmentWorkflow) continueAsNew(ctx workflow.Context) error {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	w.drainSignals(ctx)
	w.stopTimer()
	state := w.snapshot()
	state.PendingStatus = append([]RecordStatusInput(nil), w.pendingStatus...)
	if w.diskInFlight && state.PendingDiskWarning == nil {
		state.NextDiskAt = time.Time{}
	}
	// The alert rules come again with the next run's first collection.
	state.AlertRules, state.AlertRulesDigest = nil, ""
	w.logger.Info("Continuing as new", "Cycles", state.Cycles, "RunCycles", w.runCycles,
		"PendingStatus", len(state.PendingStatus), "PendingDiskWarning", state.PendingDiskWarning != nil)
	return workflow.NewContinueAsNewError(ctx, WorkflowName, Input{
		EnvironmentID: state.EnvironmentID,
		Name:          state.Name,
		Settings:      state.Settings,
		State:         &state,
	})
}

// EndTimeout bounds how long a workflow whose environment is gone waits for
// its event stream to stop and its update handlers to finish.
const EndTimeout = 10 * time.Second

// end completes the workflow of an environment that no longer exists: the
// event collection stops, nothing pending is recorded, no continue-as-new.
func (w *environmentWorkflow) end(ctx workflow.Context) error {
	w.logger.Warn("The environment no longer exists: ending its workflow", "Error", w.state.LastError)
	w.stopTimer()
	w.pendingStatus = nil
	w.state.PendingStatus, w.state.PendingDiskWarning, w.state.PendingAlerts, w.state.PendingSettings = nil, nil, nil, nil
	w.publishDetails(ctx)
	eventsStopped := w.stopEventsForEnd()
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

// snapshot returns a copy of the state that shares nothing with it.
func (w *environmentWorkflow) snapshot() State {
	s := w.state
	if s.LastCycle != nil {
		c := *s.LastCycle
		s.LastCycle = &c
	}
	if s.LastDisk != nil {
		d := *s.LastDisk
		s.LastDisk = &d
	}
	s.EventCursorAt = cursorTime(s.EventCursor)
	return s
}

// invalidSettingsError is the error a rejected configure update returns: an
// application error of type ErrTypeInvalidSettings whose message is the reason.
func invalidSettingsError(err error) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidSettings, nil)
}

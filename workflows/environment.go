package workflows

import (
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Tuning of the environment workflow.
const (
	// MaxCyclesPerRun bounds the history of one run: after this many checks
	// the workflow continues as new even if the server has not suggested it.
	MaxCyclesPerRun = 500
	// CycleTimeout is the StartToClose timeout of one attempt of
	// CollectMetrics or CheckEngine (the seed's per-environment timeout).
	CycleTimeout = 15 * time.Second
	// RecordStatusTimeout is the StartToClose timeout of one attempt of
	// RecordStatus.
	RecordStatusTimeout = 10 * time.Second
)

// maxCyclesPerRun is MaxCyclesPerRun, as a variable so that a test against a
// real server can make a run continue as new after a few checks.
var maxCyclesPerRun = MaxCyclesPerRun

// eventsInLoop is true in production; a benchmark sets it to false to
// measure new runs with the event collection in a goroutine of its own.
var eventsInLoop = true

// Versioning of the workflow code (workflow.GetVersion change IDs).
const (
	// eventsChangeID marks the introduction of event collection. Runs that
	// started before it (no marker in their history) never collect events:
	// they accept event settings and apply them after their next
	// continue-as-new.
	eventsChangeID = "events"
	eventsVersion  = workflow.Version(1)
)

// EnvironmentWorkflow watches one environment for its whole life; it is
// registered under WorkflowName and runs with the ID WorkflowID(id).
//
// Every MetricsInterval it runs one check: CollectMetrics, or CheckEngine when
// collection is off, nothing while paused (no timer is armed then). The first
// check of a new environment runs at once. Checks are paced at a fixed rate
// from the start of the previous check; a settings change that touches the
// cadence (interval, paused, collection) re-arms the timer counted from the
// moment of the change.
//
// Reachability: a successful check makes the environment online, OfflineAfter
// consecutive failed checks make it offline. Only transitions are recorded
// (RecordStatus), once each, in order, by a separate workflow goroutine so
// that a slow database never delays the checks. The check activities retry
// only once: the next cycle is the real retry.
//
// Configuration arrives through the UpdateConfigure update (validated; a
// rejected update changes nothing and leaves no trace in the history) or the
// SignalConfigure signal (an invalid value is logged and ignored). QueryState
// returns the State.
//
// Cancelling the workflow (deleting the environment) stops it at once: the
// running check is cancelled, transitions not yet recorded are dropped, and
// the workflow returns the canceled error so that it closes as Canceled.
//
// Container events (EventsEnabled, not paused) are collected by a workflow
// goroutine of their own, so that events and checks never wait for each
// other: in stream mode a long-running StreamEvents activity, in poll mode a
// PollEvents activity every PollInterval; see collectEvents. The cursor
// (State.EventCursor) is handed from one mode to the other and to the next
// run.
//
// Disk usage (runs with the "disk" version) is checked by another workflow
// goroutine, on a timer of its own: CheckDisk every DiskInterval (the first
// DiskFirstCheckDelay after the start), none while paused; when
// DiskWarningDue says so, RecordDiskWarning, after which the cooldown counts
// from the check (State.LastDiskWarningAt); see checkDisks.
//
// The workflow continues as new when the server suggests it or after
// MaxCyclesPerRun checks, once every status transition has been recorded,
// the event stream has stopped (its cursor captured) or the running poll has
// finished, the running disk check (and its warning) has finished, and every
// handler has finished; pending configure signals are applied first and the
// State travels in Input.State.
func EnvironmentWorkflow(ctx workflow.Context, in Input) error {
	// Runs that started before event collection or disk checks existed keep
	// behaving as they did (the replay of their histories depends on it).
	version := workflow.GetVersion(ctx, eventsChangeID, workflow.DefaultVersion, eventsVersion)
	disk := workflow.GetVersion(ctx, diskChangeID, workflow.DefaultVersion, diskVersion)
	lean := workflow.GetVersion(ctx, leanChangeID, workflow.DefaultVersion, leanVersion)
	w := newEnvironmentWorkflow(ctx, in)
	w.eventsSupported = version >= eventsVersion
	w.diskSupported = disk >= diskVersion
	w.lean = lean >= leanVersion
	if w.lean {
		// Records the previous run decided but could not store yet.
		w.pendingStatus, w.state.PendingStatus = w.state.PendingStatus, nil
	}
	if err := w.registerHandlers(ctx); err != nil {
		return err
	}
	if w.lean {
		// Goroutines on demand: a workflow in the worker's cache costs one
		// goroutine stack per goroutine, so the lean shape keeps only the
		// main loop and the event collection running between cycles.
		w.startStatusRecorder(ctx)
		w.startDiskWork(ctx)
		w.startAlertRecorder(ctx)
	} else {
		workflow.Go(ctx, w.recordStatusChanges)
	}
	if w.eventsSupported {
		// Lean runs drive the event collection from the main loop (one
		// goroutine less per cached workflow); the version is asked here,
		// at the run's start, once.
		if w.lean && eventsInLoop && workflow.GetVersion(ctx, eventsLoopChangeID, workflow.DefaultVersion, eventsLoopVersion) >= eventsLoopVersion {
			w.events.active = true
		} else {
			w.eventsRunning = true
			workflow.Go(ctx, w.collectEvents)
		}
	}
	if w.diskSupported && !w.lean {
		w.diskRunning = true
		workflow.Go(ctx, w.checkDisks)
	}
	return w.run(ctx)
}

// environmentWorkflow is the state of one run of EnvironmentWorkflow.
type environmentWorkflow struct {
	state  State
	logger log.Logger

	// signals receives SignalConfigure.
	signals workflow.ReceiveChannel
	// wake interrupts the main loop's wait when a handler or the status
	// recorder changed something it must look at. Buffered (1): one pending
	// wake-up is enough.
	wake workflow.Channel

	// timer is the armed metrics timer (nil if none), due at timerAt.
	timer       workflow.Future
	timerAt     time.Time
	cancelTimer workflow.CancelFunc
	// timerFired is set when the timer fired and the check has not run yet.
	timerFired bool

	// runCycles counts the checks of this run.
	runCycles int

	// pendingStatus holds the transitions not yet recorded, oldest first; the
	// first one is being recorded.
	pendingStatus []RecordStatusInput

	// eventsSupported is false in runs that started before event collection
	// existed: they never collect events.
	eventsSupported bool
	// eventsRunning is true while the collectEvents goroutine runs.
	eventsRunning bool
	// eventsStopping asks collectEvents to stop (before continue-as-new):
	// stop the stream, let a running poll finish, return.
	eventsStopping bool
	// settingsChanges counts the accepted settings changes; a failed stream
	// restarts at the next one.
	settingsChanges int

	// diskSupported is false in runs that started before disk checks
	// existed: they never check the disk.
	diskSupported bool
	// diskRunning is true while the checkDisks goroutine runs.
	diskRunning bool
	// diskStopping asks checkDisks to stop (before continue-as-new): let a
	// running check finish, return.
	diskStopping bool

	// lean is true in runs with the lean shape (see lean.go): checks as
	// local activities, disk checks on the metrics cycles, streams on their
	// own task queue, continue-as-new that waits for no activity.
	lean bool
	// diskInFlight is true while a disk check (and the recording of its
	// warning) runs (lean shape).
	diskInFlight bool
	// alertRecorderRunning is true while the goroutine recording alert
	// transitions runs; alertsVersion caches the "alert-rules" version once
	// asked (nil before).
	alertRecorderRunning bool
	alertsVersion        *workflow.Version
	// recorderRunning is true while the goroutine recording status
	// transitions runs (lean shape).
	recorderRunning bool

	// events drives the event collection from the main loop (runs with the
	// "events-in-loop" version; see eventsloop.go).
	events eventsDriver

	// environmentGone is set when a check found that the environment no
	// longer exists: the main loop ends the workflow (see faults.go).
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
		}
		if !state.Settings.Paused {
			state.NextCycleAt = now // the first check runs at once
		}
	}
	return &environmentWorkflow{
		state:   state,
		logger:  logger,
		signals: workflow.GetSignalChannel(ctx, SignalConfigure),
		wake:    workflow.NewBufferedChannel(ctx, 1),
	}
}

// initialSettings returns s, or the defaults when s is unset or invalid.
//
// Event and disk fields missing from inputs recorded before events or disk
// checks existed get their defaults (WithEventDefaults, WithDiskDefaults) and
// EventsEnabled stays false: such an input is valid as it is and never falls
// back to DefaultSettings, which would change its metrics settings. Invalid
// event or disk fields alone are reset to their defaults, keeping the rest.
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

func (w *environmentWorkflow) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandlerWithOptions(ctx, QueryState, func() (State, error) {
		return w.snapshot(), nil
	}, workflow.QueryHandlerOptions{Description: "The live state: settings, status, last check"}); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateConfigure,
		func(ctx workflow.Context, patch SettingsPatch) (State, error) {
			if err := w.configure(ctx, patch); err != nil {
				return State{}, invalidSettingsError(err)
			}
			return w.snapshot(), nil
		},
		workflow.UpdateHandlerOptions{
			Validator: func(patch SettingsPatch) error {
				if _, err := patch.Apply(w.state.Settings); err != nil {
					return invalidSettingsError(err)
				}
				return nil
			},
			Description: "Change the settings (SettingsPatch); returns the new state",
		})
}

// invalidSettingsError is the error a rejected configure update returns: an
// application error of type ErrTypeInvalidSettings whose message is the reason.
func invalidSettingsError(err error) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidSettings, nil)
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

// configure applies a settings patch. A change of the cadence re-arms the
// timer counted from now; so does a change of the poll interval for the poll
// timer and of the disk interval for the disk timer. Event mode, events
// on/off and pause are picked up by collectEvents and checkDisks; the other
// disk settings apply at the next disk check. A settings change never
// records a status transition (nothing is re-sent).
func (w *environmentWorkflow) configure(ctx workflow.Context, patch SettingsPatch) error {
	next, err := patch.Apply(w.state.Settings)
	if err != nil {
		return err
	}
	prev := w.state.Settings
	w.state.Settings = next
	w.settingsChanges++
	if next.PollInterval != prev.PollInterval && !w.state.NextPollAt.IsZero() {
		w.state.NextPollAt = workflow.Now(ctx).Add(next.PollInterval)
	}
	if w.diskSupported {
		switch {
		case next.Paused:
			w.state.NextDiskAt = time.Time{}
		case prev.Paused:
			// Resumed: the first check soon, as after a start.
			w.state.NextDiskAt = workflow.Now(ctx).Add(DiskFirstCheckDelay)
		case next.DiskInterval != prev.DiskInterval && !w.state.NextDiskAt.IsZero():
			w.state.NextDiskAt = workflow.Now(ctx).Add(next.WithDiskDefaults().DiskInterval)
		}
	}
	if next.MetricsInterval != prev.MetricsInterval || next.Paused != prev.Paused ||
		next.CollectMetrics != prev.CollectMetrics {
		w.timerFired = false
		if next.Paused {
			w.state.NextCycleAt = time.Time{}
		} else {
			w.state.NextCycleAt = workflow.Now(ctx).Add(next.MetricsInterval)
		}
		w.wake.SendAsync(struct{}{})
	} else if w.events.active {
		// The main loop drives the event collection: it must see the
		// change (mode, on/off, poll interval) now.
		w.wake.SendAsync(struct{}{})
	}
	w.logger.Info("Settings changed", "Settings", next)
	w.publishDetails(ctx)
	return nil
}

// run is the main loop: checks on the timer, configure signals, and the
// decision to stop or continue as new.
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
		// The lean shape carries unrecorded transitions to the next run; the
		// older one waits until they are recorded.
		if w.continueAsNewDue(ctx) && (w.lean || len(w.pendingStatus) == 0) {
			return w.continueAsNew(ctx)
		}
		if w.events.active {
			w.driveEvents(ctx)
		}
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

// waitForEvent blocks until the timer fires, a signal arrives, a handler or
// the status recorder wakes the loop, or the workflow is cancelled.
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
			// The fired timer's cancel records nothing; it releases the
			// timer's context, which the workflow's context would otherwise
			// keep among its children for the rest of the run (one per
			// cycle, up to MaxCyclesPerRun).
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
	if w.events.active {
		w.addEvents(ctx, selector)
	}
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

// receiveSignal applies one configure signal; an invalid one is logged and
// ignored.
func (w *environmentWorkflow) receiveSignal(ctx workflow.Context, c workflow.ReceiveChannel) {
	var patch SettingsPatch
	// ReceiveAsync, not Receive: Receive drops an undecodable payload and
	// then blocks until the next signal.
	if !c.ReceiveAsync(&patch) {
		w.logger.Warn("Configure signal ignored: undecodable payload")
		return
	}
	if err := w.configure(ctx, patch); err != nil {
		w.logger.Warn("Configure signal ignored", "Error", err)
	}
}

// drainSignals applies the configure signals that have arrived but not been
// read; they would be lost by continue-as-new otherwise.
func (w *environmentWorkflow) drainSignals(ctx workflow.Context) {
	for {
		var patch SettingsPatch
		// ReceiveAsync skips undecodable payloads by itself.
		if !w.signals.ReceiveAsync(&patch) {
			return
		}
		if err := w.configure(ctx, patch); err != nil {
			w.logger.Warn("Configure signal ignored", "Error", err)
		}
	}
}

func (w *environmentWorkflow) continueAsNewDue(ctx workflow.Context) bool {
	return w.runCycles >= maxCyclesPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested()
}

func (w *environmentWorkflow) continueAsNew(ctx workflow.Context) error {
	if !w.lean {
		// Stop the event collection and the disk checks first: the stream
		// hands its cursor back when it has really stopped, a running poll
		// finishes, a running disk check finishes and records its warning.
		// The lean shape waits for none of them (see carryPending).
		w.eventsStopping = w.eventsSupported
		w.diskStopping = w.diskSupported
		if err := workflow.Await(ctx, func() bool { return !w.eventsRunning && !w.diskRunning }); err != nil {
			return err
		}
	}
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	w.drainSignals(ctx)
	w.stopTimer()
	state := w.snapshot()
	if w.lean {
		w.carryPending(&state)
	}
	w.logger.Info("Continuing as new", "Cycles", state.Cycles, "RunCycles", w.runCycles,
		"PendingStatus", len(state.PendingStatus), "PendingDiskWarning", state.PendingDiskWarning != nil)
	return workflow.NewContinueAsNewError(ctx, WorkflowName, Input{
		EnvironmentID: state.EnvironmentID,
		Name:          state.Name,
		Settings:      state.Settings,
		State:         &state,
	})
}

package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

// registerHandlers sets up QueryState, UpdateConfigure and UpdateRename;
// SignalConfigure is read by the main loop (receiveSignal).
func (w *environmentWorkflow) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandlerWithOptions(ctx, QueryState, func() (State, error) {
		return w.snapshot(), nil
	}, workflow.QueryHandlerOptions{Description: "The live state: settings, status, last check"}); err != nil {
		return err
	}
	if err := w.registerRename(ctx); err != nil {
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
			// A rejected update changes nothing and leaves no trace in the history.
			Validator: func(patch SettingsPatch) error {
				if _, err := patch.Apply(w.state.Settings); err != nil {
					return invalidSettingsError(err)
				}
				return nil
			},
			Description: "Change the settings (SettingsPatch); returns the new state",
		})
}

// configure applies a settings patch. A change of the cadence re-arms the
// metrics timer counted from now; so does a new poll interval for the poll
// timer and a new disk interval for the next disk check. A settings change
// never records a status transition.
func (w *environmentWorkflow) configure(ctx workflow.Context, patch SettingsPatch) error {
	next, err := patch.Apply(w.state.Settings)
	if err != nil {
		return err
	}
	prev := w.state.Settings
	w.state.Settings = next
	w.settingsChanges++
	now := workflow.Now(ctx)
	if next.PollInterval != prev.PollInterval && !w.state.NextPollAt.IsZero() {
		w.state.NextPollAt = now.Add(next.PollInterval)
	}
	switch {
	case next.Paused:
		w.state.NextDiskAt = time.Time{}
	case prev.Paused:
		// Resumed: the first disk check soon, as after a start.
		w.state.NextDiskAt = now.Add(DiskFirstCheckDelay)
	case next.DiskInterval != prev.DiskInterval && !w.state.NextDiskAt.IsZero():
		w.state.NextDiskAt = now.Add(next.WithDiskDefaults().DiskInterval)
	}
	if next.MetricsInterval != prev.MetricsInterval || next.Paused != prev.Paused ||
		next.CollectMetrics != prev.CollectMetrics {
		w.timerFired = false
		if next.Paused {
			w.state.NextCycleAt = time.Time{}
		} else {
			w.state.NextCycleAt = now.Add(next.MetricsInterval)
		}
	}
	// The main loop must see the change (cadence, event mode, pause) now.
	w.wake.SendAsync(struct{}{})
	w.logger.Info("Settings changed", "Settings", next)
	w.publishDetails(ctx)
	return nil
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
	w.applySignal(ctx, patch)
}

// applySignal applies the patch of a configure signal and, when accepted,
// queues it for recording in Postgres: a signal does not pass through the
// API, which stores every other change first.
func (w *environmentWorkflow) applySignal(ctx workflow.Context, patch SettingsPatch) {
	if err := w.configure(ctx, patch); err != nil {
		w.logger.Warn("Configure signal ignored", "Error", err)
		return
	}
	w.state.PendingSettings = append(w.state.PendingSettings, patch)
	w.startSettingsRecorder(ctx)
}

// drainSignals applies the configure signals that have arrived but not been
// read; continue-as-new would lose them otherwise.
func (w *environmentWorkflow) drainSignals(ctx workflow.Context) {
	for {
		var patch SettingsPatch
		// ReceiveAsync skips undecodable payloads by itself.
		if !w.signals.ReceiveAsync(&patch) {
			return
		}
		w.applySignal(ctx, patch)
	}
}

// startSettingsRecorder starts the goroutine that stores the pending
// settings changes, unless it runs or nothing is pending.
func (w *environmentWorkflow) startSettingsRecorder(ctx workflow.Context) {
	if w.settingsRecorderRunning || len(w.state.PendingSettings) == 0 {
		return
	}
	w.settingsRecorderRunning = true
	workflow.Go(ctx, w.recordSettings)
}

// recordSettings stores the pending settings changes one at a time, in
// order, and returns when none is left.
func (w *environmentWorkflow) recordSettings(ctx workflow.Context) {
	defer func() { w.settingsRecorderRunning = false }()
	recordInOrder(ctx, w.logger, "Settings change", &w.state.PendingSettings, 1,
		func(ctx workflow.Context, patches []SettingsPatch) error {
			actx := workflow.WithActivityOptions(ctx, recordStatusActivityOptions("record settings"))
			return workflow.ExecuteActivity(actx, ActivityRecordSettings, RecordSettingsInput{
				EnvironmentID: w.state.EnvironmentID,
				Patch:         patches[0],
			}).Get(actx, nil)
		})
}

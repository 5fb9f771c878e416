package workflows

import (
	"fmt"
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Disk checks: one workflow goroutine (checkDisks) owns the disk timer and
// the CheckDisk and RecordDiskWarning activities, so that a slow /system/df
// (it walks every layer and can take minutes) never delays a metrics check or
// an event read, and neither of those ever delays a disk check. It shares
// the State with the rest of the workflow: handlers change the settings (a
// new DiskInterval moves NextDiskAt, which re-arms the timer at once), and
// the main loop asks it to stop before continue-as-new (diskStopping) and
// waits until it has (diskRunning): a running check, and the warning it
// raises, finish first.
//
// The warning decision is the pure function DiskWarningDue; its cooldown
// counts from State.LastDiskWarningAt, which travels with the State across
// continue-as-new.

// Tuning of the disk checks.
const (
	// DiskFirstCheckDelay is the delay of the first disk check after a start
	// without a carried NextDiskAt, or after a resume: soon, but not in the
	// same instant as the first metrics check.
	DiskFirstCheckDelay = 10 * time.Second
	// DiskActivityMargin is added to Settings.DiskTimeout (the activity's own
	// bound on /system/df) to get the StartToClose timeout of CheckDisk, so
	// that the activity can report its own timeout and store its sample.
	DiskActivityMargin = 10 * time.Second
	// DiskCheckMaxAttempts bounds the attempts of one disk check: the next
	// check is the real retry.
	DiskCheckMaxAttempts = 2
	// DiskWarningTimeout is the StartToClose timeout of RecordDiskWarning.
	DiskWarningTimeout = 10 * time.Second
)

// Versioning: the "disk" change introduces the disk checks. Runs that
// started before it (no marker in their history) never check the disk; they
// accept disk settings and apply them after their next continue-as-new.
const (
	diskChangeID = "disk"
	diskVersion  = workflow.Version(1)
)

// DiskWarningDue decides whether a disk check raises a warning: the usage is
// above the environment's threshold and the cooldown since the last warning
// (lastWarningAt, zero for never) has passed at now. Unset disk settings mean
// their defaults.
//
// The reason says why in words: the threshold crossed when due (it goes into
// the warning, e.g. "92.0 % of 100.0 GB > 80 %" or "61.2 GB > 50.0 GB"), or
// why not (threshold off, below the threshold, capacity unknown in percent
// mode, cooldown).
func DiskWarningDue(s Settings, d DiskSummary, lastWarningAt, now time.Time) (due bool, reason string) {
	s = s.WithDiskDefaults()
	switch s.DiskThresholdMode {
	case DiskThresholdOff:
		return false, "threshold off"
	case DiskThresholdBytes:
		if d.TotalBytes <= s.DiskThresholdBytes {
			return false, fmt.Sprintf("below the threshold: %s ≤ %s", formatBytes(d.TotalBytes), formatBytes(s.DiskThresholdBytes))
		}
		reason = fmt.Sprintf("%s > %s", formatBytes(d.TotalBytes), formatBytes(s.DiskThresholdBytes))
	case DiskThresholdPercent:
		if d.CapacityBytes <= 0 {
			return false, "capacity unknown: the percent threshold cannot be checked " +
				"(configure the disk capacity, or use a bytes threshold)"
		}
		if !(d.Percent > s.DiskThresholdPercent) {
			return false, fmt.Sprintf("below the threshold: %.1f %% of %s ≤ %s %%",
				d.Percent, formatBytes(d.CapacityBytes), formatPercent(s.DiskThresholdPercent))
		}
		reason = fmt.Sprintf("%.1f %% of %s > %s %%", d.Percent, formatBytes(d.CapacityBytes), formatPercent(s.DiskThresholdPercent))
	default:
		return false, fmt.Sprintf("unknown threshold mode %q", s.DiskThresholdMode)
	}
	if !lastWarningAt.IsZero() && now.Sub(lastWarningAt) < s.DiskCooldown {
		return false, reason + "; warned at " + formatTime(lastWarningAt) +
			", cooldown until " + formatTime(lastWarningAt.Add(s.DiskCooldown))
	}
	return true, reason
}

// formatBytes writes a size in decimal units with one decimal, as disk
// vendors and `docker system df` count: 512 B, 1.5 kB, 92.0 GB.
func formatBytes(n int64) string {
	const unit = 1000
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	for _, u := range []string{"kB", "MB", "GB", "TB"} {
		v /= unit
		if v < unit && v > -unit {
			return fmt.Sprintf("%.1f %s", v, u)
		}
	}
	return fmt.Sprintf("%.1f PB", v/unit)
}

// formatPercent writes a threshold without trailing zeros: 80, 85.5.
func formatPercent(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) }

// checkDiskActivityOptions are the options of CheckDisk: its own timeout
// plus a margin, one retry.
func checkDiskActivityOptions(s Settings) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: s.WithDiskDefaults().DiskTimeout + DiskActivityMargin,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    5 * time.Second,
			BackoffCoefficient: 2,
			MaximumAttempts:    DiskCheckMaxAttempts,
		},
		Summary: "disk check",
	}
}

// recordDiskWarningActivityOptions are the options of RecordDiskWarning: a
// warning must land, so it retries without limit, backing off to a minute.
func recordDiskWarningActivityOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: DiskWarningTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    0, // unlimited
		},
		Summary: "record disk warning",
	}
}

// checkDisks runs as a workflow goroutine for the whole run (only in runs
// that support disk checks): a check every DiskInterval, none while paused,
// until the run continues as new or is cancelled.
func (w *environmentWorkflow) checkDisks(ctx workflow.Context) {
	defer func() { w.diskRunning = false }()
	for ctx.Err() == nil && !w.diskStopping {
		if w.state.Settings.Paused {
			w.state.NextDiskAt = time.Time{}
			_ = workflow.Await(ctx, func() bool { return w.diskStopping || !w.state.Settings.Paused })
			continue
		}
		now := workflow.Now(ctx)
		if w.state.NextDiskAt.IsZero() {
			// A new environment, a run that started before disk checks
			// existed, or a resume: the first check soon.
			w.state.NextDiskAt = now.Add(DiskFirstCheckDelay)
		}
		if now.Before(w.state.NextDiskAt) {
			w.waitForDiskCheck(ctx)
			continue
		}
		w.checkDisk(ctx)
	}
}

// waitForDiskCheck waits until NextDiskAt, or until the environment is
// paused, the run is about to continue as new, or NextDiskAt moves (a new
// DiskInterval re-arms the timer at once).
func (w *environmentWorkflow) waitForDiskCheck(ctx workflow.Context) {
	due := w.state.NextDiskAt
	timerCtx, cancel := workflow.WithCancel(ctx)
	timer := workflow.NewTimerWithOptions(timerCtx, due.Sub(workflow.Now(ctx)), workflow.TimerOptions{
		Summary: diskTimerSummary(w.state.Settings),
	})
	w.publishDetails(ctx)
	if err := workflow.Await(ctx, func() bool {
		return timer.IsReady() || w.diskStopping || w.state.Settings.Paused || !w.state.NextDiskAt.Equal(due)
	}); err != nil {
		return
	}
	// A pending timer is cancelled (one history event); for a fired one
	// this records nothing and releases its context, which the workflow's
	// context would otherwise keep among its children until the run ends.
	cancel()
}

// checkDisk runs one CheckDisk and, when DiskWarningDue says so,
// RecordDiskWarning. Checks are paced at a fixed rate from the start of the
// previous check. A failed check sets DiskError and nothing else: it says
// nothing about the reachability that the metrics checks track.
func (w *environmentWorkflow) checkDisk(ctx workflow.Context) {
	now := workflow.Now(ctx)
	w.state.NextDiskAt = now.Add(w.state.Settings.WithDiskDefaults().DiskInterval)
	w.state.LastDiskCheckAt = now
	o := checkDiskActivityOptions(w.state.Settings)
	if w.lean {
		o.ScheduleToStartTimeout = DiskScheduleToStartTimeout
	}
	actx := workflow.WithActivityOptions(ctx, o)
	var summary DiskSummary
	err := workflow.ExecuteActivity(actx, ActivityCheckDisk, CheckDiskInput{
		EnvironmentID: w.state.EnvironmentID,
		CheckAt:       now,
	}).Get(actx, &summary)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		w.state.DiskError = errorText(err)
		w.logger.Warn("Disk check failed", "Error", w.state.DiskError)
		w.publishDetails(ctx)
		return
	}
	w.state.DiskError = ""
	w.state.LastDisk = &summary
	// The settings at the time of the decision: a cooldown or threshold
	// changed during the check applies to it.
	due, reason := DiskWarningDue(w.state.Settings, summary, w.state.LastDiskWarningAt, now)
	w.state.DiskVerdict = reason
	switch {
	case due && w.lean:
		w.queueDiskWarning(now, summary, reason)
	case due:
		w.recordDiskWarning(ctx, now, summary, reason)
	}
	w.publishDetails(ctx)
}

// recordDiskWarning records the warning of the check at checkAt; the cooldown
// then counts from checkAt. A warning that could not be recorded (only a
// non-retryable error gets here) does not start the cooldown: the next check
// over the threshold tries again.
func (w *environmentWorkflow) recordDiskWarning(ctx workflow.Context, checkAt time.Time, summary DiskSummary, reason string) {
	w.logger.Info("Disk warning", "Reason", reason)
	actx := workflow.WithActivityOptions(ctx, recordDiskWarningActivityOptions())
	err := workflow.ExecuteActivity(actx, ActivityRecordDiskWarning, RecordDiskWarningInput{
		EnvironmentID: w.state.EnvironmentID,
		CheckAt:       checkAt,
		Summary:       summary,
		Reason:        reason,
	}).Get(actx, nil)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		w.state.DiskError = "disk warning not recorded: " + errorText(err)
		w.logger.Error("Disk warning not recorded", "Error", err)
		return
	}
	w.state.LastDiskWarningAt = checkAt
}

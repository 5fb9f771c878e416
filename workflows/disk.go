package workflows

import (
	"fmt"
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Disk checks ride on the metrics cycles: when a cycle finds the disk check
// due, a goroutine runs CheckDisk (a regular activity: /system/df can take
// minutes) and, when DiskWarningDue says so, RecordDiskWarning. The effective
// interval is rounded up to the next cycle; there are none while paused. The
// cooldown counts from State.LastDiskWarningAt, which travels with the State.

// Tuning of the disk checks.
const (
	// DiskFirstCheckDelay is the delay of the first disk check after a
	// resume: soon, but not in the same instant as the first metrics check.
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
	// DiskScheduleToStartTimeout bounds how long a disk check may wait for
	// a worker slot; past it the check fails (DiskError).
	DiskScheduleToStartTimeout = time.Minute
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
		ScheduleToStartTimeout: DiskScheduleToStartTimeout,
		StartToCloseTimeout:    s.WithDiskDefaults().DiskTimeout + DiskActivityMargin,
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

// requestDiskCheck is called after each check, that of the cycle slot
// starting at now: when the disk check is due and none is running, it
// starts one, which schedules CheckDisk in the same workflow task.
func (w *environmentWorkflow) requestDiskCheck(ctx workflow.Context, now, slot time.Time) {
	if w.diskInFlight || w.state.Settings.Paused {
		return
	}
	if w.state.NextDiskAt.IsZero() || !now.Before(w.state.NextDiskAt) {
		w.diskInFlight = true
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer func() { w.diskInFlight = false }()
			w.checkDisk(ctx, slot)
			if w.state.PendingDiskWarning != nil && ctx.Err() == nil {
				w.recordPendingDiskWarning(ctx)
			}
		})
	}
}

// startDiskWarningRecorder records, at the start of a run, a disk warning
// the previous run decided but could not record.
func (w *environmentWorkflow) startDiskWarningRecorder(ctx workflow.Context) {
	if w.state.PendingDiskWarning == nil {
		return
	}
	w.diskInFlight = true
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { w.diskInFlight = false }()
		w.recordPendingDiskWarning(ctx)
	})
}

// checkDisk runs one CheckDisk and decides the warning. Checks are paced at a
// fixed rate from the cycle slot of the previous one, so that a 60 s disk
// interval on 30 s cycles checks every second cycle, however late each
// workflow task starts. A failed check sets DiskError and nothing else: it
// says nothing about reachability.
func (w *environmentWorkflow) checkDisk(ctx workflow.Context, slot time.Time) {
	now := workflow.Now(ctx)
	w.state.NextDiskAt = slot.Add(w.state.Settings.WithDiskDefaults().DiskInterval)
	w.state.LastDiskCheckAt = now
	actx := workflow.WithActivityOptions(ctx, checkDiskActivityOptions(w.state.Settings))
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
	if due {
		// The cooldown starts now; the warning is recorded next (or by the
		// next run, if this one continues as new first).
		w.logger.Info("Disk warning", "Reason", reason)
		w.state.LastDiskWarningAt = now
		w.state.PendingDiskWarning = &RecordDiskWarningInput{
			EnvironmentID: w.state.EnvironmentID,
			CheckAt:       now,
			Summary:       summary,
			Reason:        reason,
		}
	}
	w.publishDetails(ctx)
}

// recordPendingDiskWarning records PendingDiskWarning (retrying without
// limit) and clears it. Only a non-retryable error (environment deleted)
// leaves it unrecorded; the cooldown is kept then.
func (w *environmentWorkflow) recordPendingDiskWarning(ctx workflow.Context) {
	in := *w.state.PendingDiskWarning
	actx := workflow.WithActivityOptions(ctx, recordDiskWarningActivityOptions())
	err := workflow.ExecuteActivity(actx, ActivityRecordDiskWarning, in).Get(actx, nil)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		w.state.DiskError = "disk warning not recorded: " + errorText(err)
		w.logger.Error("Disk warning not recorded", "Error", err)
	}
	w.state.PendingDiskWarning = nil
	w.publishDetails(ctx)
}

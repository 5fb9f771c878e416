package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"
)

// What the Temporal Web UI shows: timer and activity summaries, and the
// current details of the workflow (markdown).

// timerSummary names the metrics timer, e.g. "metrics every 30s".
func timerSummary(s Settings) string {
	if s.CollectMetrics {
		return "metrics every " + formatInterval(s.MetricsInterval)
	}
	return "engine check every " + formatInterval(s.MetricsInterval)
}

// pollTimerSummary names the poll timer, e.g. "poll events every 1m".
func pollTimerSummary(s Settings) string {
	return "poll events every " + formatInterval(s.PollInterval)
}

// statusSummary names a RecordStatus activity, e.g. "record status: offline".
func statusSummary(change RecordStatusInput) string {
	if change.Online {
		return "record status: " + string(StatusOnline)
	}
	return "record status: " + string(StatusOffline)
}

// formatInterval writes 30s, 1m30s, 5m or 1h.
func formatInterval(d time.Duration) string {
	if d >= time.Hour && d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	if d >= time.Minute && d%time.Minute == 0 {
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// formatCursor writes an event cursor as an engine time to the millisecond.
func formatCursor(cursor int64) string {
	return cursorTime(cursor).Format("2006-01-02 15:04:05.000 UTC")
}

// DetailsMarkdown is the short markdown shown as the workflow's current
// details in the Web UI: settings, status, last check, events and disk.
func (s State) DetailsMarkdown() string { return s.detailsMarkdown() }

// detailsMarkdown is DetailsMarkdown on a pointer, as are its parts: the
// workflow's coroutine runs it every cycle, and a State (656 bytes) copied
// for each call would double that coroutine's stack for the rest of the
// run (16 KB instead of 8 KB per cached workflow).
func (s *State) detailsMarkdown() string {
	var b strings.Builder
	if s.Name != "" {
		fmt.Fprintf(&b, "**Environment** %s (`%s`)\n\n", s.Name, s.EnvironmentID)
	} else {
		fmt.Fprintf(&b, "**Environment** `%s`\n\n", s.EnvironmentID)
	}

	if s.StatusSince.IsZero() {
		fmt.Fprintf(&b, "**Status** %s\n\n", s.Status)
	} else {
		fmt.Fprintf(&b, "**Status** %s since %s\n\n", s.Status, formatTime(s.StatusSince))
	}

	var settings []string
	switch {
	case s.Settings.Paused:
		settings = append(settings, "paused")
	case s.Settings.CollectMetrics:
		settings = append(settings, "metrics every "+formatInterval(s.Settings.MetricsInterval))
	default:
		settings = append(settings, "collection off, engine check every "+formatInterval(s.Settings.MetricsInterval))
	}
	settings = append(settings, fmt.Sprintf("offline after %d failed checks", s.Settings.OfflineAfter))
	fmt.Fprintf(&b, "**Settings** %s\n\n", strings.Join(settings, " · "))

	switch {
	case s.LastCycleAt.IsZero():
		b.WriteString("**Last check** none yet\n")
	case !s.MonitorUnavailableSince.IsZero():
		fmt.Fprintf(&b, "**Last check** %s, unknown: the monitor itself is unavailable since %s (%d cycles not stored in all): %s\n",
			formatTime(s.LastCycleAt), formatTime(s.MonitorUnavailableSince), s.UnstoredCycles, s.MonitorError)
	case s.ConsecutiveFailures > 0:
		fmt.Fprintf(&b, "**Last check** %s, failed (%d in a row): %s\n", formatTime(s.LastCycleAt), s.ConsecutiveFailures, s.LastError)
	default:
		fmt.Fprintf(&b, "**Last check** %s, ok\n", formatTime(s.LastCycleAt))
	}
	if c := s.LastCycle; c != nil {
		fmt.Fprintf(&b, "\n**Last metrics** %d containers running · CPU %.1f %% · memory %.1f %%\n",
			c.ContainersRunning, c.CPUPercent, c.MemoryPercent)
	}
	if !s.Settings.Paused && !s.NextCycleAt.IsZero() {
		fmt.Fprintf(&b, "\n**Next check** %s\n", formatTime(s.NextCycleAt))
	}
	b.WriteString("\n" + s.eventsMarkdown())
	b.WriteString("\n" + s.diskMarkdown())
	b.WriteString(s.alertsMarkdown())
	return b.String()
}

// alertsMarkdown is the alerts part of DetailsMarkdown ("" when no rule
// is pending or firing and nothing waits to be recorded): the firing
// alerts (at most five named), how many are pending.
func (s *State) alertsMarkdown() string {
	if len(s.Alerts) == 0 && len(s.PendingAlerts) == 0 {
		return ""
	}
	var firing []string
	pending, named := 0, 0
	for _, a := range s.Alerts {
		if a.Phase != AlertFiring {
			pending++
			continue
		}
		if named++; named <= 5 {
			target := a.Target
			if target == "" {
				target = "host"
			}
			firing = append(firing, fmt.Sprintf("%s on %s since %s", shortID(a.RuleID), target, formatTime(a.Since)))
		}
	}
	parts := []string{fmt.Sprintf("%d firing", named)}
	if named > 5 {
		firing = append(firing, fmt.Sprintf("%d more", named-5))
	}
	if len(firing) > 0 {
		parts[0] += " (" + strings.Join(firing, "; ") + ")"
	}
	parts = append(parts, fmt.Sprintf("%d pending", pending))
	if len(s.PendingAlerts) > 0 {
		parts = append(parts, fmt.Sprintf("%d transitions not recorded yet", len(s.PendingAlerts)))
	}
	return fmt.Sprintf("\n**Alerts** %s\n", strings.Join(parts, " · "))
}

// diskMarkdown is the disk part of DetailsMarkdown: the settings, the last
// usage, the decision, the cooldown and the next check.
func (s *State) diskMarkdown() string {
	var b strings.Builder
	settings := s.Settings.WithDiskDefaults()
	parts := []string{"check every " + formatInterval(settings.DiskInterval)}
	switch settings.DiskThresholdMode {
	case DiskThresholdOff:
		parts = append(parts, "threshold off")
	case DiskThresholdBytes:
		parts = append(parts, "threshold "+formatBytes(settings.DiskThresholdBytes))
	default:
		parts = append(parts, "threshold "+formatPercent(settings.DiskThresholdPercent)+" %")
	}
	switch {
	case settings.DiskCapacityBytes > 0:
		parts = append(parts, "capacity "+formatBytes(settings.DiskCapacityBytes)+" (configured)")
	case settings.DiskCapacityBytes < 0:
		parts = append(parts, "capacity unknown (configured)")
	}
	parts = append(parts, "cooldown "+formatInterval(settings.DiskCooldown))
	if settings.Paused {
		parts = append(parts, "paused")
	}
	fmt.Fprintf(&b, "**Disk** %s\n", strings.Join(parts, " · "))

	if d := s.LastDisk; d != nil {
		usage := formatBytes(d.TotalBytes) + " used"
		if d.CapacityBytes > 0 {
			usage += fmt.Sprintf(" · %.1f %% of %s", d.Percent, formatBytes(d.CapacityBytes))
			if d.CapacitySource != "" {
				usage += " (" + d.CapacitySource + ")"
			}
		} else {
			usage += " · capacity unknown"
		}
		fmt.Fprintf(&b, "\n**Last disk usage** %s (images %s · containers %s · volumes %s · build cache %s)\n",
			usage, formatBytes(d.ImagesBytes), formatBytes(d.ContainersBytes), formatBytes(d.VolumesBytes), formatBytes(d.BuildCacheBytes))
	}
	if !s.LastDiskCheckAt.IsZero() {
		fmt.Fprintf(&b, "\n**Last disk check** %s\n", formatTime(s.LastDiskCheckAt))
	}
	if s.DiskVerdict != "" {
		fmt.Fprintf(&b, "\n**Disk warning** %s\n", s.DiskVerdict)
	}
	if !s.LastDiskWarningAt.IsZero() {
		until := s.LastDiskWarningAt.Add(settings.DiskCooldown)
		fmt.Fprintf(&b, "\n**Last disk warning** %s · cooldown until %s\n", formatTime(s.LastDiskWarningAt), formatTime(until))
	}
	if s.DiskError != "" {
		fmt.Fprintf(&b, "\n**Disk error** %s\n", s.DiskError)
	}
	if !settings.Paused && !s.NextDiskAt.IsZero() {
		fmt.Fprintf(&b, "\n**Next disk check** %s\n", formatTime(s.NextDiskAt))
	}
	return b.String()
}

// eventsMarkdown is the events part of DetailsMarkdown: mode, cursor, error.
func (s *State) eventsMarkdown() string {
	var b strings.Builder
	settings := s.Settings.WithEventDefaults()
	var parts []string
	switch {
	case !settings.EventsEnabled:
		parts = append(parts, "off")
	case settings.EventMode == EventModePoll:
		parts = append(parts, "poll every "+formatInterval(settings.PollInterval))
	default:
		parts = append(parts, "stream")
	}
	if settings.EventsEnabled && settings.Paused {
		parts = append(parts, "paused")
	}
	if s.EventCursor == 0 {
		parts = append(parts, "nothing read yet")
	} else {
		parts = append(parts, "read up to "+formatCursor(s.EventCursor))
	}
	if !s.NextPollAt.IsZero() {
		parts = append(parts, "next poll "+formatTime(s.NextPollAt))
	}
	fmt.Fprintf(&b, "**Events** %s\n", strings.Join(parts, " · "))
	if s.EventsError != "" {
		fmt.Fprintf(&b, "\n**Events error** %s\n", s.EventsError)
	}
	if !s.EventsRestartAt.IsZero() {
		fmt.Fprintf(&b, "\n**Event stream restarts** %s (or at the next settings change)\n", formatTime(s.EventsRestartAt))
	}
	return b.String()
}

// publishDetails refreshes the current details shown in the Web UI.
func (w *environmentWorkflow) publishDetails(ctx workflow.Context) {
	workflow.SetCurrentDetails(ctx, w.state.detailsMarkdown())
}

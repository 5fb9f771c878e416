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

// statusSummary names a RecordStatus activity, e.g. "record status: offline".
func statusSummary(change RecordStatusInput) string {
	if change.Online {
		return "record status: " + string(StatusOnline)
	}
	return "record status: " + string(StatusOffline)
}

// formatInterval writes 30s, 1m30s or 5m.
func formatInterval(d time.Duration) string {
	if d >= time.Minute && d%time.Minute == 0 {
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// DetailsMarkdown is the short markdown shown as the workflow's current
// details in the Web UI: settings, status and last check.
func (s State) DetailsMarkdown() string {
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
	return b.String()
}

// publishDetails refreshes the current details shown in the Web UI.
func (w *environmentWorkflow) publishDetails(ctx workflow.Context) {
	workflow.SetCurrentDetails(ctx, w.state.DetailsMarkdown())
}

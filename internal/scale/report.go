package scale

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// ReportConfig is what was run.
type ReportConfig struct {
	Envs              int     `json:"envs"`
	Registered        int     `json:"registered"`
	Containers        int     `json:"containers"`
	AlertRules        int     `json:"alertRules,omitempty"`
	Agents            bool    `json:"agents,omitempty"`
	IntervalSeconds   float64 `json:"intervalSeconds"`
	WarmupSeconds     float64 `json:"warmupSeconds"`
	WindowSeconds     float64 `json:"windowSeconds"`
	EventEverySeconds float64 `json:"eventEverySeconds"`
	TaskQueue         string  `json:"taskQueue"`
	Database          string  `json:"database"`
}

// UpdateStats is the PUT /settings calls of the window; Latency covers every
// answer (2xx or not), Errors the calls with no answer, Skipped the ticks
// whose environment had not answered its previous Update yet.
type UpdateStats struct {
	Targets   int    `json:"targets"`
	Latency   Dist   `json:"latency"`
	Non2xx    int    `json:"non2xx"`
	Errors    int    `json:"errors"`
	Skipped   int    `json:"skipped"`
	LastError string `json:"lastError,omitempty"`
}

// HeartbeatStats is the worker's RecordActivityTaskHeartbeat RPCs in the
// window (temporal_request_total on its /metrics); Found is false when the
// counter was not exposed at all (then no heartbeat was ever sent, or the
// metric changed name).
type HeartbeatStats struct {
	Found           bool    `json:"found"`
	Count           float64 `json:"count"`
	PerSecond       float64 `json:"perSecond"`
	PerEnvPerMinute float64 `json:"perEnvPerMinute"`
}

// HistoryStats is what the sampled workflows' histories say about the window.
type HistoryStats struct {
	Workflows int `json:"workflows"`
	// PerCycle is the events between consecutive cycle_at of one workflow
	// (see EventsPerCycle), over Intervals such intervals.
	PerCycle  Dist `json:"perCycle"`
	Intervals int  `json:"intervals"`
	// EventsInWindow / CyclesInWindow is the mean cost of a cycle with
	// everything else that happened in the window (disk checks, streams).
	EventsInWindow int     `json:"eventsInWindow"`
	CyclesInWindow int     `json:"cyclesInWindow"`
	Actions        Actions `json:"actions"`
}

// Report is the harness's result.
type Report struct {
	Config     ReportConfig   `json:"config"`
	Cycles     CycleStats     `json:"cycles"`
	Updates    UpdateStats    `json:"updates"`
	Heartbeats HeartbeatStats `json:"heartbeats"`
	History    HistoryStats   `json:"history"`
	Processes  []ProcUsage    `json:"processes"`
	// Agents is set in an -agents run.
	Agents *AgentStats `json:"agents,omitempty"`
	// MachineCPU is the busy CPU of the whole machine in % of one core.
	MachineCPU float64 `json:"machineCpuPercent"`
	// WorkerBaseRSS is the worker's RSS before any environment was registered.
	WorkerBaseRSS uint64 `json:"workerBaseRssBytes"`
	// WorkerRSSPerEnv is (worker RSS max − base) / environments.
	WorkerRSSPerEnv float64 `json:"workerRssPerEnvBytes"`
	// ActionsPerEnvPerDay is the estimated Temporal actions per environment
	// per day: (history actions of the sample / sampled workflows +
	// heartbeats / environments) × 86,400 s / window.
	ActionsPerEnvPerDay        float64 `json:"actionsPerEnvPerDay"`
	HistoryActionsPerEnvPerDay float64 `json:"historyActionsPerEnvPerDay"`
	HeartbeatsPerEnvPerDay     float64 `json:"heartbeatsPerEnvPerDay"`
	// EventsPerCycleMean is EventsInWindow / CyclesInWindow of the sample.
	EventsPerCycleMean float64  `json:"eventsPerCycleMean"`
	Targets            []Target `json:"targets"`
	Notes              []string `json:"notes,omitempty"`
}

// Target is one of the capacity targets next to the measured figure.
type Target struct {
	Name     string  `json:"name"`
	Want     string  `json:"want"`
	Measured float64 `json:"measured"`
	Met      bool    `json:"met"`
}

const mb = 1 << 20

// finish computes the derived figures and the targets.
func (r *Report) finish() {
	w := r.Config.WindowSeconds
	if w > 0 {
		if r.History.Workflows > 0 {
			r.HistoryActionsPerEnvPerDay = float64(r.History.Actions.Total) / float64(r.History.Workflows) * 86400 / w
		}
		if r.Config.Registered > 0 {
			r.HeartbeatsPerEnvPerDay = r.Heartbeats.Count / float64(r.Config.Registered) * 86400 / w
		}
		r.ActionsPerEnvPerDay = r.HistoryActionsPerEnvPerDay + r.HeartbeatsPerEnvPerDay
	}
	if r.History.CyclesInWindow > 0 {
		r.EventsPerCycleMean = float64(r.History.EventsInWindow) / float64(r.History.CyclesInWindow)
	}
	var workerMax uint64
	for _, p := range r.Processes {
		if p.Name == "worker" {
			workerMax = p.RSSMax
		}
	}
	if r.Config.Registered > 0 && workerMax > r.WorkerBaseRSS {
		r.WorkerRSSPerEnv = float64(workerMax-r.WorkerBaseRSS) / float64(r.Config.Registered)
	}
	if r.Config.Registered < 100 {
		r.Notes = append(r.Notes, "worker RSS growth per environment is noise below ~100 environments (heap growth steps, GC timing)")
	}
	r.Targets = []Target{
		{Name: "due cycles stored", Want: "≥ 99.5 %", Measured: r.Cycles.Percent, Met: r.Cycles.Percent >= 99.5},
		{Name: "lateness p99", Want: "≤ 2 s", Measured: r.Cycles.Lateness.P99, Met: r.Cycles.Lateness.N > 0 && r.Cycles.Lateness.P99 <= 2},
		{Name: "Update p99", Want: "≤ 1 s", Measured: r.Updates.Latency.P99,
			Met: r.Updates.Latency.N > 0 && r.Updates.Latency.P99 <= 1 && r.Updates.Non2xx == 0 && r.Updates.Errors == 0},
		{Name: "history events per steady cycle (median)", Want: "≤ 8", Measured: r.History.PerCycle.P50,
			Met: r.History.PerCycle.N > 0 && r.History.PerCycle.P50 <= 8},
		{Name: "Temporal actions per environment per day", Want: "≤ 7,800", Measured: r.ActionsPerEnvPerDay,
			Met: r.ActionsPerEnvPerDay > 0 && r.ActionsPerEnvPerDay <= 7800},
		{Name: "worker RSS max (MB)", Want: "≤ 150 MB", Measured: float64(workerMax) / mb, Met: workerMax > 0 && workerMax <= 150*mb},
		{Name: "worker RSS growth per environment (KB)", Want: "< 150 KB", Measured: r.WorkerRSSPerEnv / 1024,
			Met: r.WorkerRSSPerEnv < 150*1024},
	}
	if a := r.Agents; a != nil {
		r.Targets = append(r.Targets, Target{Name: "agents connected at the window's end (one API process)", Want: "all",
			Measured: float64(a.ConnectedAtEnd), Met: a.Started > 0 && a.ConnectedAtEnd == a.Started})
	}
}

// Print writes the report as tables.
func (r *Report) Print(out io.Writer) {
	c := r.Config
	fmt.Fprintf(out, "Windflow scale harness: %d environments (%d registered) × %d containers, interval %gs, warm-up %gs, window %.1fs",
		c.Envs, c.Registered, c.Containers, c.IntervalSeconds, c.WarmupSeconds, c.WindowSeconds)
	if c.EventEverySeconds > 0 {
		fmt.Fprintf(out, ", one restart (5 events) per engine every %gs", c.EventEverySeconds)
	}
	if c.AlertRules > 0 {
		fmt.Fprintf(out, ", %d alert rules per environment", c.AlertRules)
	}
	if c.Agents {
		fmt.Fprint(out, ", every environment behind a fake agent (agent://, through the api's relay)")
	}
	fmt.Fprintf(out, "\ntask queue %s, database %s\n\n", c.TaskQueue, c.Database)

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	cy := r.Cycles
	fmt.Fprintf(tw, "cycles stored / due\t%d / %.0f\t%.2f %% of the schedule's slots got a cycle (%.0f missed); %d environments without a cycle\n",
		cy.Stored, cy.Due, cy.Percent, cy.MissedSlots, cy.WithoutCycle)
	fmt.Fprintf(tw, "lateness between cycles\tp50 %.3f s  p99 %.3f s  max %.3f s\t(cycle_at[i] − cycle_at[i−1]) − interval, n=%d\n",
		cy.Lateness.P50, cy.Lateness.P99, cy.Lateness.Max, cy.Lateness.N)
	fmt.Fprintf(tw, "collection time\tp50 %.3f s  p99 %.3f s  max %.3f s\tcollected_at − cycle_at, n=%d\n",
		cy.Collect.P50, cy.Collect.P99, cy.Collect.Max, cy.Collect.N)
	u := r.Updates
	fmt.Fprintf(tw, "Update latency (PUT /settings)\tp50 %.3f s  p99 %.3f s  max %.3f s\tn=%d over %d environments, non-2xx %d, no answer %d, skipped %d\n",
		u.Latency.P50, u.Latency.P99, u.Latency.Max, u.Latency.N, u.Targets, u.Non2xx, u.Errors, u.Skipped)
	hb := r.Heartbeats
	hbNote := "temporal_request_total{operation=RecordActivityTaskHeartbeat*} on the worker's /metrics"
	if !hb.Found {
		hbNote = "counter not exposed: no heartbeat sent yet (" + hbNote + ")"
	}
	fmt.Fprintf(tw, "heartbeat RPCs\t%.2f /s  (%.2f per environment per minute)\t%s\n", hb.PerSecond, hb.PerEnvPerMinute, hbNote)
	h := r.History
	fmt.Fprintf(tw, "history events per cycle\tmedian %.0f  p99 %.0f  max %.0f\tevents in [cycle_at[i], cycle_at[i+1]) of %d sampled workflows, n=%d intervals\n",
		h.PerCycle.P50, h.PerCycle.P99, h.PerCycle.Max, h.Workflows, h.Intervals)
	fmt.Fprintf(tw, "history events per cycle, mean\t%.2f\tall events in the window / cycles in the window (%d / %d): includes disk checks, streams, anything\n",
		r.EventsPerCycleMean, h.EventsInWindow, h.CyclesInWindow)
	fmt.Fprintf(tw, "Temporal actions per env per day\t%.0f\thistory %.0f + heartbeats %.0f; (sample's history actions / %d + heartbeats / %d) × 86,400 s / window\n",
		r.ActionsPerEnvPerDay, r.HistoryActionsPerEnvPerDay, r.HeartbeatsPerEnvPerDay, h.Workflows, c.Registered)
	var kinds []string
	for _, k := range slices.Sorted(maps.Keys(h.Actions.ByKind)) {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, h.Actions.ByKind[k]))
	}
	fmt.Fprintf(tw, "  history actions in the window\t%d\t%s\n", h.Actions.Total, strings.Join(kinds, ", "))
	fmt.Fprintf(tw, "worker RSS per environment\t%.1f KB\t(worker RSS max − %.1f MB before registering) / %d\n",
		r.WorkerRSSPerEnv/1024, float64(r.WorkerBaseRSS)/mb, c.Registered)
	tw.Flush()

	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "process\tCPU % of one core\tRSS mean MB\tRSS max MB\tprocesses\t")
	for _, p := range r.Processes {
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%d\t\n", p.Name, p.CPUPercent, float64(p.RSSMean)/mb, float64(p.RSSMax)/mb, p.Processes)
	}
	fmt.Fprintf(tw, "machine (all CPUs, everyone's)\t%.1f\t\t\t\t\n", r.MachineCPU)
	tw.Flush()
	r.Agents.print(out)

	fmt.Fprintln(out, "\ntargets (1,000 environments at 30 s on a 2-core machine)")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, t := range r.Targets {
		verdict := "met"
		if !t.Met {
			verdict = "MISSED"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%.2f\t%s\n", t.Name, t.Want, t.Measured, verdict)
	}
	tw.Flush()
	for _, n := range r.Notes {
		fmt.Fprintln(out, "note:", n)
	}
	fmt.Fprintln(out, "\ncounting: actions per docs.temporal.io/cloud/actions: workflow starts (incl. continue-as-new), timers, activity attempts, one per workflow task with local activities, side effects, search-attribute upserts (not TemporalChangeVersion), signals, accepted Updates, child starts; plus every heartbeat RPC")
}

// print writes the agents' figures (nothing for a run without agents).
func (a *AgentStats) print(out io.Writer) {
	if a == nil {
		return
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "agents connected\t%d at the window's start, %d at its end, of %d\tGET /api/v1/overview agent.connected\n",
		a.ConnectedAtStart, a.ConnectedAtEnd, a.Started)
	fmt.Fprintf(tw, "agent sessions\t%d opened, %d ended, %d refused\tover the whole run; opened − agents = reconnections\n",
		a.Connects, a.Disconnects, a.Refused)
	fmt.Fprintf(tw, "agent ping round trip\tp50 %.1f ms  p99 %.1f ms  max %.1f ms\tthe api's last ping of each connected agent, n=%d\n",
		a.RTT.P50*1000, a.RTT.P99*1000, a.RTT.Max*1000, a.RTT.N)
	for _, name := range slices.Sorted(maps.Keys(a.OpenFiles)) {
		fmt.Fprintf(tw, "open files: %s\t%d\tsoft limit %d\n", name, a.OpenFiles[name], a.FileLimit[name])
	}
	if a.LastWarning != "" {
		fmt.Fprintf(tw, "agents' last warning\t%s\t\n", a.LastWarning)
	}
	tw.Flush()
}

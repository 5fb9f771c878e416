package api

import (
	"math"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/workflows"
)

// The sparkline of the overview: the last hour of 1-minute buckets.
const (
	sparklineRange = time.Hour
	sparklineStep  = time.Minute
)

type overviewJSON struct {
	GeneratedAt  time.Time                 `json:"generatedAt"`
	Environments []overviewEnvironmentJSON `json:"environments"`
}

// overviewEnvironmentJSON is one environment of the overview: a few of
// its stored settings and the latest of its stored data.
type overviewEnvironmentJSON struct {
	ID       uuid.UUID `json:"id"`
	Name     string    `json:"name"`
	Endpoint string    `json:"endpoint"`
	// Settings in effect, as in settings.Settings.
	Paused                 bool   `json:"paused"`
	CollectMetrics         bool   `json:"collectMetrics"`
	EventsEnabled          bool   `json:"eventsEnabled"`
	EventMode              string `json:"eventMode"`
	MetricsIntervalSeconds int    `json:"metricsIntervalSeconds"`
	WorkflowID             string `json:"workflowId"`
	WorkflowURL            string `json:"workflowUrl,omitempty"`
	// Status, LastCycleAt, Latest and Disk are null before the first
	// transition, cycle or disk check.
	Status      *overviewStatusJSON `json:"status"`
	LastCycleAt *time.Time          `json:"lastCycleAt"`
	Latest      *overviewLatestJSON `json:"latest"`
	Disk        *overviewDiskJSON   `json:"disk"`
	// Agent is the agent connection of an agent-placed environment
	// (endpoint agent://); absent for the others.
	Agent     *agentJSON    `json:"agent,omitempty"`
	Sparkline sparklineJSON `json:"sparkline"`
}

// overviewStatusJSON is the latest stored transition.
type overviewStatusJSON struct {
	Online bool      `json:"online"`
	Since  time.Time `json:"since"`
	Error  string    `json:"error,omitempty"`
}

// overviewLatestJSON is the host row of the latest cycle, named like the
// points of the host series.
type overviewLatestJSON struct {
	CollectedAt       time.Time `json:"collectedAt"`
	CPUPercent        float64   `json:"cpuPercent"`
	MemoryPercent     float64   `json:"memoryPercent"`
	MemoryUsed        int64     `json:"memoryUsed"`
	MemoryTotal       int64     `json:"memoryTotal"`
	ContainersRunning int       `json:"containersRunning"`
}

// overviewDiskJSON is the latest disk sample, named like the points of the
// disk series.
type overviewDiskJSON struct {
	Percent       float64   `json:"percent"`
	TotalBytes    int64     `json:"totalBytes"`
	CapacityBytes int64     `json:"capacityBytes"`
	Warned        bool      `json:"warned"`
	CheckedAt     time.Time `json:"checkedAt"`
}

type sparklineJSON struct {
	StepSeconds int              `json:"stepSeconds"`
	Points      []sparkPointJSON `json:"points"`
}

type sparkPointJSON struct {
	Time          time.Time `json:"t"`
	CPUPercent    float64   `json:"cpuPercent"`
	MemoryPercent float64   `json:"memoryPercent"`
}

// roundHundredth rounds v to two decimals.
func roundHundredth(v float64) float64 { return math.Round(v*100) / 100 }

// getOverview answers every environment, ordered by name, with what the
// dashboard's overview shows of it: settings, stored status, latest cycle,
// latest disk sample and the last hour of 1-minute host averages. One
// store call of a fixed number of statements, whatever the number of
// environments; no Temporal (the status is the stored one). Like the other
// list routes it takes no parameters and ignores any query. PostgreSQL out
// of reach is a 503.
func (s *Server) getOverview(w http.ResponseWriter, r *http.Request) error {
	now := time.Now().UTC()
	since := store.AlignSeriesStart(now.Add(-sparklineRange), sparklineStep)
	envs, err := s.store.Overview(r.Context(), since)
	if store.IsUnavailable(err) {
		// A dashboard polls this route: tell it to retry (the detail is
		// logged, not answered).
		err = errorf(http.StatusServiceUnavailable, "postgres_unavailable", "overview: %s", err.Error())
	}
	if err != nil {
		return err
	}
	out := overviewJSON{GeneratedAt: now, Environments: make([]overviewEnvironmentJSON, 0, len(envs))}
	for _, e := range envs {
		out.Environments = append(out.Environments, s.overviewEnvironmentJSON(e))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) overviewEnvironmentJSON(e store.OverviewEnvironment) overviewEnvironmentJSON {
	set := e.Settings.InEffect()
	out := overviewEnvironmentJSON{
		ID: e.ID, Name: e.Name, Endpoint: e.Endpoint,
		Paused: set.Paused, CollectMetrics: set.CollectMetrics,
		EventsEnabled: set.EventsEnabled, EventMode: string(set.EventMode),
		MetricsIntervalSeconds: int(set.MetricsInterval / time.Second),
		WorkflowID:             workflows.WorkflowID(e.ID.String()),
		WorkflowURL:            s.workflowURL(e.ID),
		Sparkline: sparklineJSON{
			StepSeconds: int(sparklineStep / time.Second),
			Points:      make([]sparkPointJSON, 0, len(e.Sparkline)),
		},
	}
	if st := e.Status; st != nil {
		out.Status = &overviewStatusJSON{Online: st.Online, Since: st.ChangedAt, Error: st.Error}
	}
	if h := e.Latest; h != nil {
		out.LastCycleAt = &h.CycleAt
		out.Latest = &overviewLatestJSON{
			CollectedAt: h.CollectedAt, CPUPercent: h.CPUPercent, MemoryPercent: h.MemoryPercent,
			MemoryUsed: h.MemoryUsed, MemoryTotal: h.MemoryTotal, ContainersRunning: h.ContainersRunning,
		}
	}
	if d := e.Disk; d != nil {
		out.Disk = &overviewDiskJSON{Percent: d.Percent, TotalBytes: d.TotalBytes,
			CapacityBytes: d.CapacityBytes, Warned: d.Warned, CheckedAt: d.CheckedAt}
	}
	if engine.IsAgentEndpoint(e.Endpoint) {
		view := agentView(e.Agent)
		out.Agent = &view
	}
	for _, p := range e.Sparkline {
		// Hundredths of a percent: a sparkline shows no more, and full
		// float64 digits tripled the answer (~600 KB for 100 environments).
		p.CPUPercent, p.MemoryPercent = roundHundredth(p.CPUPercent), roundHundredth(p.MemoryPercent)
		out.Sparkline.Points = append(out.Sparkline.Points, sparkPointJSON(p))
	}
	return out
}

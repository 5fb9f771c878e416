package api

import (
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/store"
)

// Bounds of a series query (metrics, disk).
const (
	maxRange   = 90 * 24 * time.Hour
	maxBuckets = 5000
	minStep    = time.Second
)

// getHostMetrics answers the host series of an environment over [from, to),
// averaged in SQL into step buckets. from/to: RFC 3339 or Unix seconds
// (default: the last hour); step: a Go duration ("30s", "5m") or seconds
// (default: about 200 points; whole minutes from a minute on, whole hours
// from half an hour on).
// A step that is a whole number of minutes (hours) reads the 1-minute
// (1-hour) rollups, and from is rounded down to that unit; the answer's
// from and resolution say so.
func (s *Server) getHostMetrics(w http.ResponseWriter, r *http.Request) error {
	env := environmentFrom(r)
	from, to, step, err := metricsSeriesRange(r.URL.Query())
	if err != nil {
		return err
	}
	points, err := s.store.HostSeries(r.Context(), env.ID, from, to, step)
	if err != nil {
		return err
	}
	type pointJSON struct {
		Time              time.Time `json:"time"`
		CPUPercent        float64   `json:"cpuPercent"`
		MemoryPercent     float64   `json:"memoryPercent"`
		CPUPercentMax     float64   `json:"cpuPercentMax"`
		MemoryPercentMax  float64   `json:"memoryPercentMax"`
		MemoryUsed        int64     `json:"memoryUsed"`
		MemoryTotal       int64     `json:"memoryTotal"`
		ContainersRunning float64   `json:"containersRunning"`
		Samples           int       `json:"samples"`
	}
	out := views(points, func(p store.HostPoint) pointJSON { return pointJSON(p) })
	writeSeries(w, env.ID, from, to, step, out, map[string]any{"resolution": store.SeriesTier(from, step).Name})
	return nil
}

// writeSeries answers a series of environment envID over [from, to) in
// step buckets: its points and the fields of the route's own.
func writeSeries(w http.ResponseWriter, envID uuid.UUID, from, to time.Time, step time.Duration, points any, fields map[string]any) {
	answer := map[string]any{"environmentId": envID, "from": from, "to": to, "stepSeconds": step.Seconds(), "points": points}
	maps.Copy(answer, fields)
	writeJSON(w, http.StatusOK, answer)
}

// metricsSeriesRange is seriesRange for the metrics series (host and
// container): a default step of a minute or more is rounded down to whole
// minutes, from 30 minutes on to the nearest whole hours, and from is rounded down to the unit of the rollup tier
// the step selects (store.AlignSeriesStart), so that the tier is read.
func metricsSeriesRange(q url.Values) (from, to time.Time, step time.Duration, err error) {
	from, to, step, err = seriesRange(q, time.Hour, 10*time.Second)
	if err != nil {
		return from, to, step, err
	}
	if q.Get("step") == "" {
		switch {
		case step >= 30*time.Minute: // whole hours: the hour tier
			step = max(step.Round(time.Hour), time.Hour)
		case step >= time.Minute:
			step = step.Truncate(time.Minute)
		}
	}
	return store.AlignSeriesStart(from, step), to, step, nil
}

// Bounds of a time in a query: the Unix epoch up to the last second of year
// 9999 (a later time cannot be written in RFC 3339, so no answer could
// carry it).
var (
	earliestQueryTime = time.Unix(0, 0).UTC()
	latestQueryTime   = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// parseTime reads a time of a query: RFC 3339 or Unix seconds, between
// earliestQueryTime and latestQueryTime; "" is def.
func parseTime(raw string, def time.Time) (time.Time, error) {
	if raw == "" {
		return def, nil
	}
	var t time.Time
	if secs, err := strconv.ParseInt(raw, 10, 64); err == nil {
		if secs < 0 || secs > latestQueryTime.Unix() {
			return time.Time{}, errorf(http.StatusBadRequest, "invalid_query",
				"%d out of range: Unix seconds from 0 to %d", secs, latestQueryTime.Unix())
		}
		t = time.Unix(secs, 0)
	} else if t, err = time.Parse(time.RFC3339Nano, raw); err != nil {
		return time.Time{}, errorf(http.StatusBadRequest, "invalid_query", "%q is neither RFC 3339 nor Unix seconds", shorten(raw))
	}
	t = t.UTC()
	if t.Before(earliestQueryTime) || t.After(latestQueryTime) {
		return time.Time{}, errorf(http.StatusBadRequest, "invalid_query", "%s out of range: from %s to %s",
			t.Format(time.RFC3339), earliestQueryTime.Format(time.RFC3339), latestQueryTime.Format(time.RFC3339))
	}
	return t, nil
}

// parseStep reads the step of a series: a Go duration or whole seconds,
// from minStep to maxRange.
func parseStep(raw string) (time.Duration, error) {
	d, err := time.ParseDuration(raw)
	if err != nil {
		secs, ierr := strconv.ParseInt(raw, 10, 64)
		if ierr != nil {
			return 0, errorf(http.StatusBadRequest, "invalid_query", "%q is neither a duration nor seconds", shorten(raw))
		}
		if secs < 0 || secs > int64(maxRange/time.Second) {
			return 0, errorf(http.StatusBadRequest, "invalid_query", "step must be from %s to %s", minStep, maxRange)
		}
		d = time.Duration(secs) * time.Second
	}
	if d < minStep || d > maxRange {
		return 0, errorf(http.StatusBadRequest, "invalid_query", "step must be from %s to %s", minStep, maxRange)
	}
	return d, nil
}

// getContainerMetrics answers the container rows of the latest cycle.
func (s *Server) getContainerMetrics(w http.ResponseWriter, r *http.Request) error {
	env := environmentFrom(r)
	rows, err := s.store.LatestContainerMetrics(r.Context(), env.ID)
	if err != nil {
		return err
	}
	type containerJSON struct {
		ContainerID   string    `json:"containerId"`
		ContainerName string    `json:"containerName"`
		CollectedAt   time.Time `json:"collectedAt"`
		CPUPercent    float64   `json:"cpuPercent"`
		MemoryUsed    int64     `json:"memoryUsed"`
		MemoryLimit   int64     `json:"memoryLimit"`
		NetRx         int64     `json:"netRx"`
		NetTx         int64     `json:"netTx"`
		BlockRead     int64     `json:"blockRead"`
		BlockWrite    int64     `json:"blockWrite"`
	}
	out := views(rows, func(c store.ContainerMetric) containerJSON {
		return containerJSON{
			ContainerID: c.ContainerID, ContainerName: c.ContainerName, CollectedAt: c.CollectedAt,
			CPUPercent: c.CPUPercent, MemoryUsed: c.MemoryUsed, MemoryLimit: c.MemoryLimit,
			NetRx: c.NetRx, NetTx: c.NetTx, BlockRead: c.BlockRead, BlockWrite: c.BlockWrite,
		}
	})
	writeJSON(w, http.StatusOK, map[string]any{"environmentId": env.ID, "containers": out})
	return nil
}

// seriesRange reads the from, to and step of a series query. from/to: RFC
// 3339 or Unix seconds; to defaults to now, from to defaultRange before to —
// or, when only step is given, to at most maxBuckets steps before to (so
// step=1s alone is a valid query). step: a Go duration or seconds, default
// about 200 points and at least minDefaultStep. The range must be positive,
// at most maxRange, and hold at most maxBuckets steps.
func seriesRange(q url.Values, defaultRange, minDefaultStep time.Duration) (from, to time.Time, step time.Duration, err error) {
	to, err = parseTime(q.Get("to"), time.Now().UTC())
	if err != nil {
		return from, to, 0, invalidQuery("to", err)
	}
	if raw := q.Get("step"); raw != "" && q.Get("from") == "" {
		if st, err := parseStep(raw); err == nil && st < defaultRange/maxBuckets {
			defaultRange = st * maxBuckets
		}
	}
	from, err = parseTime(q.Get("from"), to.Add(-defaultRange))
	if err != nil {
		return from, to, 0, invalidQuery("from", err)
	}
	if !from.Before(to) {
		return from, to, 0, errorf(http.StatusBadRequest, "invalid_query", "from must be before to")
	}
	if to.Sub(from) > maxRange {
		return from, to, 0, errorf(http.StatusBadRequest, "invalid_query", "range over %s", maxRange)
	}
	step = max(to.Sub(from)/200, minDefaultStep).Truncate(time.Second)
	if raw := q.Get("step"); raw != "" {
		if step, err = parseStep(raw); err != nil {
			return from, to, 0, invalidQuery("step", err)
		}
	}
	if to.Sub(from)/step > maxBuckets {
		return from, to, 0, errorf(http.StatusBadRequest, "invalid_query", "more than %d buckets: widen step", maxBuckets)
	}
	return from, to, step, nil
}

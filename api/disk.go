package api

import (
	"net/http"
	"time"

	"github.com/windflow/monitor/workflows"
)

// Defaults of a disk query: disk checks run every few minutes, so the
// default range is a day and buckets are at least a minute.
const (
	defaultDiskRange   = 24 * time.Hour
	minDefaultDiskStep = time.Minute
)

// getDisk answers the disk usage series of an environment over [from, to),
// averaged in SQL into step buckets (by the time of the check), with the
// threshold in effect. from/to: RFC 3339 or Unix seconds (default: the last
// 24 hours); step: a Go duration or seconds (default: about 200 points, at
// least a minute). Same bounds as the metrics series; with a step and no
// from, the range is at most maxBuckets steps.
func (s *Server) getDisk(w http.ResponseWriter, r *http.Request) {
	env, err := s.environment(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ns, err := s.notificationStore()
	if err != nil {
		writeError(w, r, err)
		return
	}
	from, to, step, err := seriesRange(r.URL.Query(), defaultDiskRange, minDefaultDiskStep)
	if err != nil {
		writeError(w, r, err)
		return
	}
	points, err := ns.DiskSeries(r.Context(), env.ID, from, to, step)
	if err != nil {
		writeError(w, r, err)
		return
	}
	type pointJSON struct {
		Time            time.Time `json:"time"`
		TotalBytes      float64   `json:"totalBytes"`
		CapacityBytes   float64   `json:"capacityBytes"`
		Percent         float64   `json:"percent"`
		ImagesBytes     float64   `json:"imagesBytes"`
		ContainersBytes float64   `json:"containersBytes"`
		VolumesBytes    float64   `json:"volumesBytes"`
		BuildCacheBytes float64   `json:"buildCacheBytes"`
		Samples         int       `json:"samples"`
		Warned          bool      `json:"warned"`
	}
	out := make([]pointJSON, 0, len(points))
	for _, p := range points {
		out = append(out, pointJSON(p))
	}
	set := env.Settings.InEffect()
	threshold := map[string]any{"mode": set.DiskThresholdMode}
	switch set.DiskThresholdMode {
	case workflows.DiskThresholdPercent:
		threshold["percent"] = set.DiskThresholdPercent
	case workflows.DiskThresholdBytes:
		threshold["bytes"] = set.DiskThresholdBytes
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"environmentId": env.ID,
		"from":          from,
		"to":            to,
		"stepSeconds":   step.Seconds(),
		"threshold":     threshold,
		"capacityBytes": set.DiskCapacityBytes,
		"points":        out,
	})
}

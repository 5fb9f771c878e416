package engine

import (
	"time"

	"github.com/moby/moby/api/types/container"
)

// CPUCounters is the part of a stats record that CPU % is computed from. The
// caller keeps the last counters of each container between cycles so that
// the next read can be a fast one-shot read (see Collector).
type CPUCounters struct {
	// TotalUsage is the container's cumulated CPU time, in nanoseconds.
	TotalUsage uint64
	// SystemUsage is the host's cumulated CPU time, in nanoseconds.
	SystemUsage uint64
	// OnlineCPUs is the number of CPUs the engine reported; 0 when absent.
	OnlineCPUs uint32
	// PercpuLen is the length of percpu_usage (cgroup v1 only; 0 on v2).
	PercpuLen int
	// ReadAt is when the engine took the sample.
	ReadAt time.Time
}

// countersOf extracts the CPU counters of one cpu_stats/precpu_stats block.
func countersOf(s container.CPUStats, readAt time.Time) CPUCounters {
	return CPUCounters{
		TotalUsage:  s.CPUUsage.TotalUsage,
		SystemUsage: s.SystemUsage,
		OnlineCPUs:  s.OnlineCPUs,
		PercpuLen:   len(s.CPUUsage.PercpuUsage),
		ReadAt:      readAt,
	}
}

// CPUPercent returns the container's CPU % between prev and cur with the
// docker CLI formula (docker/cli stats_helpers.go): container delta over
// system delta, times the number of online CPUs, times 100. So 100 % is one
// full CPU and the maximum is online×100 %. Online CPUs come from cur:
// OnlineCPUs, else PercpuLen, else 1. When either delta is not positive (no
// time passed, or the counters went backwards as after a container restart)
// the result is 0. It never returns NaN, Inf or a negative value.
func CPUPercent(cur, prev CPUCounters) float64 {
	if cur.TotalUsage <= prev.TotalUsage || cur.SystemUsage <= prev.SystemUsage {
		return 0
	}
	cpuDelta := float64(cur.TotalUsage - prev.TotalUsage)
	sysDelta := float64(cur.SystemUsage - prev.SystemUsage)
	return cpuDelta / sysDelta * float64(onlineCPUs(cur)) * 100
}

// onlineCPUs is the CPU count used by CPUPercent: OnlineCPUs, else the
// length of percpu_usage, else 1.
func onlineCPUs(c CPUCounters) int {
	switch {
	case c.OnlineCPUs > 0:
		return int(c.OnlineCPUs)
	case c.PercpuLen > 0:
		return c.PercpuLen
	default:
		return 1
	}
}

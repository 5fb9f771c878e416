package engine

import "math"

// HostSample is one environment's totals for one collection cycle.
type HostSample struct {
	// CPUPercent is the containers' CPU use as a share of the whole host,
	// 0–100 %.
	CPUPercent float64
	// MemoryPercent is MemoryUsed as a share of MemoryTotal, in %.
	MemoryPercent float64
	// MemoryUsed is the sum of the containers' used memory, in bytes.
	MemoryUsed uint64
	// MemoryTotal is the engine host's memory (/info MemTotal), in bytes.
	MemoryTotal uint64
	// NCPU is the engine host's CPU count (/info NCPU).
	NCPU int
	// ContainersRunning is the number of containers sampled this cycle.
	ContainersRunning int
}

// HostTotals sums the container samples into the environment's totals. CPU
// is the sum of the containers' CPU % divided by the host CPU count (ncpu <= 0
// counts as 1), so 0–100 % of the host; it is capped
// at 100 % because each container is measured over its own window and the sum
// can overshoot slightly. Memory % is the summed used memory over memTotal
// (0 when memTotal is 0). Non-finite or negative container values are
// ignored, so the result is never NaN or Inf.
func HostTotals(samples []ContainerSample, ncpu int, memTotal uint64) HostSample {
	out := HostSample{MemoryTotal: memTotal, NCPU: ncpu, ContainersRunning: len(samples)}
	var cpuSum float64
	for _, s := range samples {
		if !math.IsNaN(s.CPUPercent) && !math.IsInf(s.CPUPercent, 0) && s.CPUPercent > 0 {
			cpuSum += s.CPUPercent
		}
		out.MemoryUsed += s.MemoryUsed
	}
	out.CPUPercent = min(cpuSum/float64(max(ncpu, 1)), 100)
	if memTotal > 0 {
		out.MemoryPercent = float64(out.MemoryUsed) / float64(memTotal) * 100
	}
	return out
}

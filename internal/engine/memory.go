package engine

import "github.com/moby/moby/api/types/container"

// MemoryUsed returns the memory a container really uses, as `docker stats`
// shows it (docker/cli calculateMemUsageUnixNoCache): usage minus the
// inactive page cache, which the kernel can drop at any time. On cgroup v1
// the cache is stats["total_inactive_file"], on cgroup v2
// stats["inactive_file"]; it is subtracted only when it is below usage,
// otherwise usage is returned as it is.
func MemoryUsed(m container.MemoryStats) uint64 {
	if v, ok := m.Stats["total_inactive_file"]; ok && v < m.Usage {
		return m.Usage - v
	}
	if v, ok := m.Stats["inactive_file"]; ok && v < m.Usage {
		return m.Usage - v
	}
	return m.Usage
}

package engine

import (
	"strings"

	"github.com/moby/moby/api/types/container"
)

// ContainerSample is one container's figures for one collection cycle.
type ContainerSample struct {
	// ID is the full container ID.
	ID string
	// Name is the container name without its leading slash.
	Name string
	// Labels are the container's labels, from the list (alert rules select
	// containers by them); not stored with the metrics.
	Labels map[string]string
	// CPUPercent is the docker CLI CPU % (100 % = one CPU); 0 when !CPUKnown.
	CPUPercent float64
	// MemoryUsed is usage minus inactive page cache, in bytes (see MemoryUsed).
	MemoryUsed uint64
	// MemoryLimit is the container's memory limit in bytes (the host's
	// memory when the container has none).
	MemoryLimit uint64
	// NetRx and NetTx are bytes received and sent, summed over interfaces,
	// since the container started.
	NetRx, NetTx uint64
	// BlockRead and BlockWrite are bytes read from and written to block
	// devices since the container started.
	BlockRead, BlockWrite uint64
	// Counters are this sample's CPU counters, to be kept by the caller and
	// passed back as the previous counters of the next cycle.
	Counters CPUCounters
	// CPUKnown is false when no usable previous sample existed (none, or the
	// counters went backwards, as after a container restart): CPUPercent is
	// 0 then and means "unknown", not "idle".
	CPUKnown bool
}

// SampleFromStats builds a sample from one decoded stats record. If prev is
// not nil, the CPU % is computed against *prev (one-shot mode, where the
// record's precpu_stats is empty); otherwise against the record's own
// precpu_stats (stream=false mode). Network bytes are summed over all
// interfaces; block bytes over the io_service_bytes_recursive entries whose
// op is read or write (any case).
func SampleFromStats(s container.StatsResponse, prev *CPUCounters) ContainerSample {
	cur := countersOf(s.CPUStats, s.Read)
	var base CPUCounters
	known := false
	if prev != nil {
		base, known = *prev, true
	} else if s.PreCPUStats.SystemUsage != 0 {
		base, known = countersOf(s.PreCPUStats, s.PreRead), true
	}
	if cur.TotalUsage < base.TotalUsage || cur.SystemUsage < base.SystemUsage {
		known = false
	}
	out := ContainerSample{
		ID:          s.ID,
		Name:        strings.TrimPrefix(s.Name, "/"),
		MemoryUsed:  MemoryUsed(s.MemoryStats),
		MemoryLimit: s.MemoryStats.Limit,
		Counters:    cur,
		CPUKnown:    known,
	}
	if known {
		out.CPUPercent = CPUPercent(cur, base)
	}
	for _, n := range s.Networks {
		out.NetRx += n.RxBytes
		out.NetTx += n.TxBytes
	}
	for _, e := range s.BlkioStats.IoServiceBytesRecursive {
		switch strings.ToLower(e.Op) {
		case "read":
			out.BlockRead += e.Value
		case "write":
			out.BlockWrite += e.Value
		}
	}
	return out
}

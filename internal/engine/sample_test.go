package engine

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
)

// loadRecord decodes testdata/name, a stats record as the engine sends it.
func loadRecord(t *testing.T, name string) container.StatsResponse {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var s container.StatsResponse
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return s
}

func TestSampleFromStats(t *testing.T) {
	// Counters of the cpu_stats of v1_real_busy_stream.json, kept as the
	// previous sample of the one-shot read v1_real_busy_oneshot.json that the
	// engine answered one second later.
	streamCounters := CPUCounters{
		TotalUsage: 1752726778, SystemUsage: 970390000000, OnlineCPUs: 2, PercpuLen: 2,
		ReadAt: time.Date(2026, 11, 26, 13, 25, 1, 485640184, time.UTC),
	}
	tests := []struct {
		file     string
		prev     *CPUCounters
		name     string
		cpu      float64
		cpuKnown bool
		memUsed  uint64
		memLimit uint64
		netRx    uint64
		netTx    uint64
		blkRead  uint64
		blkWrite uint64
		counters CPUCounters
	}{
		{
			file: "v1_real_busy_stream.json", name: "wf-rec-busy",
			cpu: 63.096175215311, cpuKnown: true, memUsed: 540672, memLimit: 25325268992,
			counters: streamCounters,
		},
		{
			file: "v1_real_busy_oneshot.json", name: "wf-rec-busy", // one-shot without prev: CPU unknown
			memUsed: 540672, memLimit: 25325268992,
			counters: CPUCounters{TotalUsage: 2241379130, SystemUsage: 972380000000, OnlineCPUs: 2, PercpuLen: 2, ReadAt: time.Date(2026, 11, 26, 13, 25, 2, 488185131, time.UTC)},
		},
		{
			file: "v1_real_busy_oneshot.json", prev: &streamCounters, name: "wf-rec-busy",
			cpu: 49.110789145728646, cpuKnown: true, memUsed: 540672, memLimit: 25325268992,
			counters: CPUCounters{TotalUsage: 2241379130, SystemUsage: 972380000000, OnlineCPUs: 2, PercpuLen: 2, ReadAt: time.Date(2026, 11, 26, 13, 25, 2, 488185131, time.UTC)},
		},
		{
			file: "v1_real_idle_stream.json", name: "wf-rec-idle", // 64 MiB limit, 8 MiB of inactive page cache
			cpu: 0, cpuKnown: true, memUsed: 9302016 - 8388608, memLimit: 67108864,
			counters: CPUCounters{TotalUsage: 26201790, SystemUsage: 976410000000, OnlineCPUs: 2, PercpuLen: 2, ReadAt: time.Date(2026, 11, 26, 13, 25, 4, 500599098, time.UTC)},
		},
		{
			file: "v1_real_stopped.json", name: "wf-rec-idle", // what a stopped container answers
		},
		{
			file: "v1_hand_online0.json", name: "web-v1", // online_cpus absent: 4 from percpu_usage
			cpu: 100, cpuKnown: true, memUsed: 70000000, memLimit: 2000000000,
			netRx: 1300, netTx: 2400, blkRead: 4196, blkWrite: 8392,
			counters: CPUCounters{TotalUsage: 4e9, SystemUsage: 104e9, PercpuLen: 4, ReadAt: time.Date(2026, 11, 26, 12, 0, 1, 0, time.UTC)},
		},
		{
			file: "v2_hand.json", name: "api-v2",
			cpu: 200, cpuKnown: true, memUsed: 30000000, memLimit: 8000000000,
			netRx: 5000, netTx: 7000, blkRead: 1048576, blkWrite: 2097152,
			counters: CPUCounters{TotalUsage: 2.5e9, SystemUsage: 201e9, OnlineCPUs: 4, ReadAt: time.Date(2026, 11, 26, 12, 0, 1, 0, time.UTC)},
		},
		{
			file: "v2_hand_online0.json", name: "no-online-cpus", // no online_cpus, no percpu: 1 CPU
			cpu: 50, cpuKnown: true, memUsed: 1000, memLimit: 8000000000,
			counters: CPUCounters{TotalUsage: 2.5e9, SystemUsage: 201e9, ReadAt: time.Date(2026, 11, 26, 12, 0, 1, 0, time.UTC)},
		},
		{
			file: "zero_delta.json", name: "same-sample",
			cpu: 0, cpuKnown: true, memUsed: 4096, memLimit: 8000000000,
			counters: CPUCounters{TotalUsage: 2e9, SystemUsage: 200e9, OnlineCPUs: 2, ReadAt: time.Date(2026, 11, 26, 12, 0, 1, 0, time.UTC)},
		},
		{
			file: "backwards.json", name: "restarted", // container counter went back: unknown, not negative
			cpu: 0, cpuKnown: false, memUsed: 4096, memLimit: 8000000000,
			counters: CPUCounters{TotalUsage: 1e6, SystemUsage: 201e9, OnlineCPUs: 2, ReadAt: time.Date(2026, 11, 26, 12, 0, 1, 0, time.UTC)},
		},
		{
			file: "backwards.json", name: "restarted", // same against kept counters of the old run
			prev: &CPUCounters{TotalUsage: 5e9, SystemUsage: 100e9},
			cpu:  0, cpuKnown: false, memUsed: 4096, memLimit: 8000000000,
			counters: CPUCounters{TotalUsage: 1e6, SystemUsage: 201e9, OnlineCPUs: 2, ReadAt: time.Date(2026, 11, 26, 12, 0, 1, 0, time.UTC)},
		},
		{
			file: "empty.json", // {}: nothing known, nothing invented
		},
		{
			file: "empty.json", prev: &streamCounters, // {} against kept counters: backwards, unknown
		},
		{
			file: "no_memory.json", name: "no-memory",
			cpu: 50, cpuKnown: true,
			counters: CPUCounters{TotalUsage: 1.5e9, SystemUsage: 102e9, OnlineCPUs: 2, ReadAt: time.Date(2026, 11, 26, 12, 0, 1, 0, time.UTC)},
		},
	}
	for _, tc := range tests {
		label := tc.file
		if tc.prev != nil {
			label += " with prev"
		}
		t.Run(label, func(t *testing.T) {
			rec := loadRecord(t, tc.file)
			got := SampleFromStats(rec, tc.prev)
			if math.IsNaN(got.CPUPercent) || math.IsInf(got.CPUPercent, 0) {
				t.Fatalf("CPUPercent = %v", got.CPUPercent)
			}
			if got.ID != rec.ID || got.Name != tc.name {
				t.Errorf("identity = %q %q, want %q %q", got.ID, got.Name, rec.ID, tc.name)
			}
			if !approx(got.CPUPercent, tc.cpu) || got.CPUKnown != tc.cpuKnown {
				t.Errorf("CPU = %v known %v, want %v known %v", got.CPUPercent, got.CPUKnown, tc.cpu, tc.cpuKnown)
			}
			if got.MemoryUsed != tc.memUsed || got.MemoryLimit != tc.memLimit {
				t.Errorf("memory = %d/%d, want %d/%d", got.MemoryUsed, got.MemoryLimit, tc.memUsed, tc.memLimit)
			}
			if got.NetRx != tc.netRx || got.NetTx != tc.netTx {
				t.Errorf("net = %d/%d, want %d/%d", got.NetRx, got.NetTx, tc.netRx, tc.netTx)
			}
			if got.BlockRead != tc.blkRead || got.BlockWrite != tc.blkWrite {
				t.Errorf("block = %d/%d, want %d/%d", got.BlockRead, got.BlockWrite, tc.blkRead, tc.blkWrite)
			}
			if !got.Counters.ReadAt.Equal(tc.counters.ReadAt) {
				t.Errorf("ReadAt = %v, want %v", got.Counters.ReadAt, tc.counters.ReadAt)
			}
			got.Counters.ReadAt, tc.counters.ReadAt = time.Time{}, time.Time{}
			if got.Counters != tc.counters {
				t.Errorf("Counters = %+v, want %+v", got.Counters, tc.counters)
			}
		})
	}
}

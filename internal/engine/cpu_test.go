package engine

import (
	"math"
	"testing"
)

func TestCPUPercent(t *testing.T) {
	const maxU64 = math.MaxUint64
	tests := []struct {
		name      string
		cur, prev CPUCounters
		want      float64
	}{
		{"one CPU busy of two", CPUCounters{TotalUsage: 2e9, SystemUsage: 4e9, OnlineCPUs: 2}, CPUCounters{TotalUsage: 1e9, SystemUsage: 2e9}, 100},
		{"quarter of one CPU", CPUCounters{TotalUsage: 1.25e9, SystemUsage: 4e9, OnlineCPUs: 4}, CPUCounters{TotalUsage: 1e9, SystemUsage: 0}, 25},
		{"online from cur, not prev", CPUCounters{TotalUsage: 2e9, SystemUsage: 4e9, OnlineCPUs: 2}, CPUCounters{TotalUsage: 1e9, SystemUsage: 2e9, OnlineCPUs: 64}, 100},
		{"online 0 falls back to percpu length (cgroup v1)", CPUCounters{TotalUsage: 2e9, SystemUsage: 4e9, PercpuLen: 4}, CPUCounters{TotalUsage: 1e9, SystemUsage: 2e9}, 200},
		{"online 0 and no percpu (cgroup v2) counts 1", CPUCounters{TotalUsage: 2e9, SystemUsage: 4e9}, CPUCounters{TotalUsage: 1e9, SystemUsage: 2e9}, 50},
		{"online wins over percpu length", CPUCounters{TotalUsage: 2e9, SystemUsage: 4e9, OnlineCPUs: 2, PercpuLen: 8}, CPUCounters{TotalUsage: 1e9, SystemUsage: 2e9}, 100},
		{"zero CPU delta", CPUCounters{TotalUsage: 1e9, SystemUsage: 4e9, OnlineCPUs: 2}, CPUCounters{TotalUsage: 1e9, SystemUsage: 2e9}, 0},
		{"zero system delta", CPUCounters{TotalUsage: 2e9, SystemUsage: 2e9, OnlineCPUs: 2}, CPUCounters{TotalUsage: 1e9, SystemUsage: 2e9}, 0},
		{"both deltas zero", CPUCounters{TotalUsage: 1e9, SystemUsage: 2e9, OnlineCPUs: 2}, CPUCounters{TotalUsage: 1e9, SystemUsage: 2e9}, 0},
		{"container counter reset (restart)", CPUCounters{TotalUsage: 1e6, SystemUsage: 4e9, OnlineCPUs: 2}, CPUCounters{TotalUsage: 9e9, SystemUsage: 2e9}, 0},
		{"system counter backwards", CPUCounters{TotalUsage: 2e9, SystemUsage: 1e9, OnlineCPUs: 2}, CPUCounters{TotalUsage: 1e9, SystemUsage: 2e9}, 0},
		{"cur all zero (empty record)", CPUCounters{}, CPUCounters{TotalUsage: 1e9, SystemUsage: 2e9}, 0},
		{"both all zero", CPUCounters{}, CPUCounters{}, 0},
		{"extreme counters stay finite", CPUCounters{TotalUsage: maxU64, SystemUsage: maxU64, OnlineCPUs: math.MaxUint32}, CPUCounters{TotalUsage: 0, SystemUsage: maxU64 - 1}, float64(maxU64) * float64(math.MaxUint32) * 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := CPUPercent(tc.cur, tc.prev)
			if math.IsNaN(got) || math.IsInf(got, 0) || got < 0 {
				t.Fatalf("CPUPercent = %v, want a finite value >= 0", got)
			}
			if !approx(got, tc.want) {
				t.Errorf("CPUPercent = %v, want %v", got, tc.want)
			}
		})
	}
}

// approx reports whether got and want agree to 1e-9, relatively.
func approx(got, want float64) bool {
	return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want))
}

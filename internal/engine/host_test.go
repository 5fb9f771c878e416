package engine

import (
	"math"
	"testing"
)

func TestHostTotals(t *testing.T) {
	tests := []struct {
		name     string
		samples  []ContainerSample
		ncpu     int
		memTotal uint64
		want     HostSample
	}{
		{
			name: "no containers", ncpu: 4, memTotal: 1000,
			want: HostSample{NCPU: 4, MemoryTotal: 1000},
		},
		{
			name:    "sum divided by host CPUs",
			samples: []ContainerSample{{CPUPercent: 150, MemoryUsed: 100}, {CPUPercent: 50, MemoryUsed: 150}},
			ncpu:    4, memTotal: 1000,
			want: HostSample{CPUPercent: 50, MemoryPercent: 25, MemoryUsed: 250, MemoryTotal: 1000, NCPU: 4, ContainersRunning: 2},
		},
		{
			name:     "ncpu 0 counts as 1",
			samples:  []ContainerSample{{CPUPercent: 30}},
			memTotal: 1000,
			want:     HostSample{CPUPercent: 30, MemoryTotal: 1000, ContainersRunning: 1},
		},
		{
			name:    "negative ncpu counts as 1",
			samples: []ContainerSample{{CPUPercent: 30}},
			ncpu:    -2, memTotal: 1000,
			want: HostSample{CPUPercent: 30, MemoryTotal: 1000, NCPU: -2, ContainersRunning: 1},
		},
		{
			name:    "memTotal 0 gives memory 0 %",
			samples: []ContainerSample{{MemoryUsed: 500}},
			ncpu:    2,
			want:    HostSample{MemoryUsed: 500, NCPU: 2, ContainersRunning: 1},
		},
		{
			name:    "overshoot from separate windows is capped at 100",
			samples: []ContainerSample{{CPUPercent: 101}, {CPUPercent: 100}},
			ncpu:    2, memTotal: 1000,
			want: HostSample{CPUPercent: 100, MemoryTotal: 1000, NCPU: 2, ContainersRunning: 2},
		},
		{
			name:    "NaN, Inf and negative container values are ignored",
			samples: []ContainerSample{{CPUPercent: math.NaN()}, {CPUPercent: math.Inf(1)}, {CPUPercent: -5}, {CPUPercent: 20}},
			ncpu:    2, memTotal: 1000,
			want: HostSample{CPUPercent: 10, MemoryTotal: 1000, NCPU: 2, ContainersRunning: 4},
		},
		{
			name:    "huge values stay finite",
			samples: []ContainerSample{{CPUPercent: math.MaxFloat64}, {CPUPercent: math.MaxFloat64, MemoryUsed: math.MaxUint64}},
			ncpu:    1, memTotal: 1,
			want: HostSample{CPUPercent: 100, MemoryPercent: float64(uint64(math.MaxUint64)) * 100, MemoryUsed: math.MaxUint64, MemoryTotal: 1, NCPU: 1, ContainersRunning: 2},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := HostTotals(tc.samples, tc.ncpu, tc.memTotal)
			for _, v := range []float64{got.CPUPercent, got.MemoryPercent} {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("HostTotals = %+v: not finite", got)
				}
			}
			if !approx(got.CPUPercent, tc.want.CPUPercent) || !approx(got.MemoryPercent, tc.want.MemoryPercent) {
				t.Errorf("percents = %v/%v, want %v/%v", got.CPUPercent, got.MemoryPercent, tc.want.CPUPercent, tc.want.MemoryPercent)
			}
			got.CPUPercent, got.MemoryPercent = tc.want.CPUPercent, tc.want.MemoryPercent
			if got != tc.want {
				t.Errorf("HostTotals = %+v, want %+v", got, tc.want)
			}
		})
	}
}

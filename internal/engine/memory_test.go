package engine

import (
	"testing"

	"github.com/moby/moby/api/types/container"
)

func TestMemoryUsed(t *testing.T) {
	tests := []struct {
		name string
		in   container.MemoryStats
		want uint64
	}{
		{"cgroup v1 total_inactive_file", container.MemoryStats{Usage: 1000, Stats: map[string]uint64{"total_inactive_file": 300, "inactive_file": 100}}, 700},
		{"cgroup v2 inactive_file", container.MemoryStats{Usage: 1000, Stats: map[string]uint64{"inactive_file": 400}}, 600},
		{"cache larger than usage", container.MemoryStats{Usage: 1000, Stats: map[string]uint64{"inactive_file": 5000}}, 1000},
		{"cache equal to usage", container.MemoryStats{Usage: 1000, Stats: map[string]uint64{"total_inactive_file": 1000}}, 1000},
		{"v1 cache too large falls back to inactive_file, as docker CLI", container.MemoryStats{Usage: 1000, Stats: map[string]uint64{"total_inactive_file": 2000, "inactive_file": 100}}, 900},
		{"cache zero", container.MemoryStats{Usage: 1000, Stats: map[string]uint64{"inactive_file": 0}}, 1000},
		{"no stats map", container.MemoryStats{Usage: 1000}, 1000},
		{"no memory stats at all", container.MemoryStats{}, 0},
		{"usage zero with cache", container.MemoryStats{Stats: map[string]uint64{"inactive_file": 10}}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MemoryUsed(tc.in); got != tc.want {
				t.Errorf("MemoryUsed = %d, want %d", got, tc.want)
			}
		})
	}
}

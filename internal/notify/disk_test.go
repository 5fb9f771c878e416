package notify

import (
	"strings"
	"testing"
)

func TestDiskMessage(t *testing.T) {
	tests := []struct {
		name      string
		d         DiskFacts
		wantTitle string
		want      []string
		not       []string
	}{
		{"percent, statfs", DiskFacts{TotalBytes: 43_210_000_000, CapacityBytes: 50_000_000_000, Percent: 86.42, CapacitySource: "statfs",
			Reason: "usage 86.4 % is above the 80 % threshold"},
			"prod: Docker disk usage at 86.4 %", []string{"43.2 GB of 50.0 GB", "(86.4 %", "root directory", "Reason: usage 86.4 %"}, nil},
		{"percent computed when zero", DiskFacts{TotalBytes: 45_000_000_000, CapacityBytes: 50_000_000_000, CapacitySource: "configured"},
			"prod: Docker disk usage at 90.0 %", []string{"45.0 GB of 50.0 GB", "configured"}, []string{"Reason"}},
		{"capacity unknown", DiskFacts{TotalBytes: 60_100_000_000, Percent: 12, Reason: "usage 60.1 GB is above 50.0 GB"},
			"prod: Docker disk usage at 60.1 GB", []string{"capacity unknown", "Reason: usage 60.1 GB"}, []string{"%"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			title, msg := DiskMessage("prod", tt.d)
			if title != tt.wantTitle {
				t.Errorf("title = %q, want %q", title, tt.wantTitle)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(msg, w) {
					t.Errorf("message %q has %q", msg, w)
				}
			}
		})
	}
}

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{999, "999 B"},
		{1000, "1.0 kB"},
		{1536, "1.5 kB"},
		{999_949, "999.9 kB"},
		{999_950, "1.0 MB"},
		{43_210_000_000, "43.2 GB"},
		{50_000_000_000, "50.0 GB"},
		{1_500_000_000_000, "1.5 TB"},
		{-2_000_000, "-2.0 MB"},
		{9_223_372_036_854_775_807, "9.2 EB"},
	}
	for _, tt := range tests {
		if got := HumanBytes(tt.n); got != tt.want {
			t.Errorf("HumanBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

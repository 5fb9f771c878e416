package notify

import (
	"fmt"
	"strings"
)

// DiskFacts are the figures a disk-space warning shows.
type DiskFacts struct {
	// TotalBytes is Docker's usage: images, containers' writable layers,
	// volumes and build cache.
	TotalBytes int64
	// CapacityBytes is the capacity the percentage is based on; 0 unknown.
	CapacityBytes int64
	// Percent is TotalBytes/CapacityBytes×100; computed when 0 and the
	// capacity is known.
	Percent float64
	// Reason is the threshold decision's explanation, e.g.
	// "usage 86.4 % is above the 80 % threshold".
	Reason string
	// CapacitySource is "configured", "statfs" or "".
	CapacitySource string
}

// DiskMessage renders a disk-space warning with human sizes ("43.2 GB")
// and, when the capacity is known, the percentage with one decimal.
func DiskMessage(envName string, d DiskFacts) (title, message string) {
	env := envLabel(envName)
	used := HumanBytes(d.TotalBytes)
	var b strings.Builder
	if d.CapacityBytes > 0 {
		pct := d.Percent
		if pct == 0 {
			pct = float64(d.TotalBytes) / float64(d.CapacityBytes) * 100
		}
		title = fmt.Sprintf("%s: Docker disk usage at %.1f %%", env, pct)
		fmt.Fprintf(&b, "Docker on environment %s uses %s of %s (%.1f %%%s).",
			env, used, HumanBytes(d.CapacityBytes), pct, capacityNote(d.CapacitySource))
	} else {
		title = fmt.Sprintf("%s: Docker disk usage at %s", env, used)
		fmt.Fprintf(&b, "Docker on environment %s uses %s (capacity unknown).", env, used)
	}
	b.WriteString(" Usage counts images, containers' writable layers, volumes and build cache.")
	if reason := cleanText(d.Reason, 300); reason != "" {
		b.WriteString("\nReason: " + reason)
	}
	return title, b.String()
}

// capacityNote explains where the capacity came from.
func capacityNote(source string) string {
	switch source {
	case "configured":
		return "; capacity configured for the environment"
	case "statfs":
		return "; capacity of the filesystem holding Docker's root directory"
	}
	return ""
}

// HumanBytes formats n with decimal (SI) units and one decimal:
// 512 → "512 B", 43_210_000_000 → "43.2 GB".
func HumanBytes(n int64) string {
	sign := ""
	v := float64(n)
	if n < 0 {
		sign, v = "-", -v
	}
	if v < 1000 {
		return fmt.Sprintf("%s%d B", sign, int64(v))
	}
	for _, unit := range []string{"kB", "MB", "GB", "TB", "PB"} {
		v /= 1000
		if v < 999.95 {
			return fmt.Sprintf("%s%.1f %s", sign, v, unit)
		}
	}
	return fmt.Sprintf("%s%.1f EB", sign, v/1000)
}

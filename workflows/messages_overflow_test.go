package workflows

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// Seconds that wrap around once multiplied into a time.Duration are
// rejected by name, never read as a small valid interval (18446744084 s
// used to become 10.29 s).
func TestSettingsPatchSecondsOverflow(t *testing.T) {
	fields := []struct {
		name string
		set  func(p *SettingsPatch, v int)
	}{
		{"metricsInterval", func(p *SettingsPatch, v int) { p.MetricsIntervalSeconds = &v }},
		{"pollInterval", func(p *SettingsPatch, v int) { p.PollIntervalSeconds = &v }},
		{"diskInterval", func(p *SettingsPatch, v int) { p.DiskIntervalSeconds = &v }},
		{"diskTimeout", func(p *SettingsPatch, v int) { p.DiskTimeoutSeconds = &v }},
		{"diskCooldown", func(p *SettingsPatch, v int) { p.DiskCooldownSeconds = &v }},
	}
	for _, f := range fields {
		for _, v := range []int{18446744084, 18446744073 + 30, math.MaxInt64/int(1e9) + 1, math.MaxInt64, math.MinInt64, -1} {
			var p SettingsPatch
			f.set(&p, v)
			_, err := p.Apply(DefaultSettings())
			if !errors.Is(err, ErrInvalidSettings) || !strings.Contains(err.Error(), f.name+" must be between") {
				t.Errorf("%s = %d: error %v, want an invalid-settings error naming the field and its range", f.name, v, err)
			}
		}
	}
	// The bounds themselves still pass.
	lo, hi := 10, 300
	for _, v := range []int{lo, hi} {
		if _, err := (SettingsPatch{MetricsIntervalSeconds: &v}).Apply(DefaultSettings()); err != nil {
			t.Errorf("metricsIntervalSeconds = %d: %v", v, err)
		}
	}
}

package envflow

import (
	"time"

	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/workflows"
)

// SettingsOf reads the workflow settings stored with an environment.
func SettingsOf(e store.Environment) workflows.Settings {
	return workflows.Settings{
		MetricsInterval: e.MetricsInterval,
		CollectMetrics:  e.CollectMetrics,
		Paused:          e.Paused,
		OfflineAfter:    e.OfflineAfter,
		EventsEnabled:   e.EventsEnabled,
		EventMode:       workflows.EventMode(e.EventMode),
		PollInterval:    e.PollInterval,

		DiskInterval:         e.DiskInterval,
		DiskTimeout:          e.DiskTimeout,
		DiskThresholdMode:    e.DiskThresholdMode,
		DiskThresholdPercent: e.DiskThresholdPercent,
		DiskThresholdBytes:   e.DiskThresholdBytes,
		DiskCapacityBytes:    e.DiskCapacityBytes,
		DiskCooldown:         e.DiskCooldown,
	}.WithEventDefaults().WithDiskDefaults()
}

// WithSettings returns e carrying set.
func WithSettings(e store.Environment, set workflows.Settings) store.Environment {
	e.MetricsInterval = set.MetricsInterval
	e.CollectMetrics = set.CollectMetrics
	e.Paused = set.Paused
	e.OfflineAfter = set.OfflineAfter
	set = set.WithEventDefaults()
	e.EventsEnabled = set.EventsEnabled
	e.EventMode = string(set.EventMode)
	e.PollInterval = set.PollInterval
	set = set.WithDiskDefaults()
	e.DiskInterval = set.DiskInterval
	e.DiskTimeout = set.DiskTimeout
	e.DiskThresholdMode = set.DiskThresholdMode
	e.DiskThresholdPercent = set.DiskThresholdPercent
	e.DiskThresholdBytes = set.DiskThresholdBytes
	e.DiskCapacityBytes = set.DiskCapacityBytes
	e.DiskCooldown = set.DiskCooldown
	return e
}

// FullPatch is the configure patch that sets every field to set's value:
// applied to any settings, it gives set. The workflow ignores the fields
// that do not change (no timer is re-armed for them).
func FullPatch(set workflows.Settings) workflows.SettingsPatch {
	set = set.WithEventDefaults().WithDiskDefaults()
	seconds := func(d time.Duration) *int { s := int(d / time.Second); return &s }
	mode := set.EventMode
	return workflows.SettingsPatch{
		MetricsIntervalSeconds: seconds(set.MetricsInterval),
		CollectMetrics:         &set.CollectMetrics,
		Paused:                 &set.Paused,
		OfflineAfter:           &set.OfflineAfter,
		EventsEnabled:          &set.EventsEnabled,
		EventMode:              &mode,
		PollIntervalSeconds:    seconds(set.PollInterval),
		DiskIntervalSeconds:    seconds(set.DiskInterval),
		DiskTimeoutSeconds:     seconds(set.DiskTimeout),
		DiskThresholdMode:      &set.DiskThresholdMode,
		DiskThresholdPercent:   &set.DiskThresholdPercent,
		DiskThresholdBytes:     &set.DiskThresholdBytes,
		DiskCapacityBytes:      &set.DiskCapacityBytes,
		DiskCooldownSeconds:    seconds(set.DiskCooldown),
	}
}

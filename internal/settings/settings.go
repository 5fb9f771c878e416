// Package settings holds the one type of an environment's settings: its
// defaults, its validation and its JSON, which is the API's settings object
// (durations in whole seconds). The store, the workflow and the API all use
// it, so a new setting is added here and nowhere else but where it is used.
package settings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// Settings is an environment's configuration. Zero event and disk fields
// mean their defaults (see WithEventDefaults, WithDiskDefaults). Its JSON is
// the Patch that sets every field (see MarshalJSON).
type Settings struct {
	// MetricsInterval is the time between two collection cycles.
	MetricsInterval time.Duration
	// CollectMetrics turns metric collection on or off; when off the engine
	// is still pinged on the same cadence to keep its status known.
	CollectMetrics bool
	// Paused stops all activity for the environment until resumed.
	Paused bool
	// OfflineAfter is the number of consecutive failed checks before the
	// environment is declared offline.
	OfflineAfter int
	// EventsEnabled turns container-event collection on or off.
	EventsEnabled bool
	// EventMode is how events are collected: a long-running stream or polls.
	EventMode EventMode
	// PollInterval is the time between two polls in poll mode.
	PollInterval time.Duration

	// DiskInterval is the time between two disk checks.
	DiskInterval time.Duration
	// DiskTimeout bounds one /system/df call (it walks every layer).
	DiskTimeout time.Duration
	// DiskThresholdMode is DiskThresholdPercent, DiskThresholdBytes or DiskThresholdOff.
	DiskThresholdMode string
	// DiskThresholdPercent warns above this share of the capacity (percent mode).
	DiskThresholdPercent float64
	// DiskThresholdBytes warns above this many bytes used by Docker (bytes mode).
	DiskThresholdBytes int64
	// DiskCapacityBytes is the capacity percentages are computed against; 0
	// means statfs of the engine's DockerRootDir when the engine is local,
	// -1 "unknown" explicitly (no statfs).
	DiskCapacityBytes int64
	// DiskCooldown is the least time between two disk warnings.
	DiskCooldown time.Duration
}

// EventMode is how container events are collected.
type EventMode string

// Event modes.
const (
	// EventModeStream follows the engine's /events stream with a
	// long-running, heartbeating activity: events arrive within a second.
	EventModeStream EventMode = "stream"
	// EventModePoll reads the events since the cursor on a timer: no
	// long-lived connection, events arrive within one poll interval.
	EventModePoll EventMode = "poll"
)

// Disk threshold modes.
const (
	DiskThresholdPercent = "percent"
	DiskThresholdBytes   = "bytes"
	DiskThresholdOff     = "off"
)

// Limits and defaults.
const (
	DefaultMetricsInterval = 30 * time.Second
	MinMetricsInterval     = 10 * time.Second
	MaxMetricsInterval     = 5 * time.Minute
	// DefaultOfflineAfter is how many consecutive failed checks turn an
	// environment offline, so that one blip does not page anyone.
	DefaultOfflineAfter = 2
	MaxOfflineAfter     = 20

	DefaultPollInterval = 60 * time.Second
	MinPollInterval     = 30 * time.Second
	MaxPollInterval     = 5 * time.Minute

	DefaultDiskInterval         = 5 * time.Minute
	MinDiskInterval             = time.Minute
	MaxDiskInterval             = time.Hour
	DefaultDiskTimeout          = 20 * time.Second
	MinDiskTimeout              = 5 * time.Second
	MaxDiskTimeout              = 2 * time.Minute
	DefaultDiskThresholdPercent = 80.0
	DefaultDiskThresholdBytes   = int64(50_000_000_000)
	DefaultDiskCooldown         = time.Hour
	MinDiskCooldown             = time.Minute
	MaxDiskCooldown             = 24 * time.Hour
)

// ErrInvalid marks settings out of range; the message says which and why.
var ErrInvalid = errors.New("invalid settings")

// Default returns the settings of a new environment.
func Default() Settings {
	return Settings{
		MetricsInterval: DefaultMetricsInterval,
		CollectMetrics:  true,
		OfflineAfter:    DefaultOfflineAfter,
		EventsEnabled:   true,
		EventMode:       EventModeStream,
		PollInterval:    DefaultPollInterval,
	}.WithDiskDefaults()
}

// WithEventDefaults returns s with unset event fields filled with their
// defaults; EventsEnabled is left alone.
func (s Settings) WithEventDefaults() Settings {
	if s.EventMode == "" {
		s.EventMode = EventModeStream
	}
	if s.PollInterval == 0 {
		s.PollInterval = DefaultPollInterval
	}
	return s
}

// WithDiskDefaults returns s with unset disk fields filled with their defaults.
func (s Settings) WithDiskDefaults() Settings {
	if s.DiskInterval == 0 {
		s.DiskInterval = DefaultDiskInterval
	}
	if s.DiskTimeout == 0 {
		s.DiskTimeout = DefaultDiskTimeout
	}
	if s.DiskThresholdMode == "" {
		s.DiskThresholdMode = DiskThresholdPercent
	}
	if s.DiskThresholdPercent == 0 {
		s.DiskThresholdPercent = DefaultDiskThresholdPercent
	}
	if s.DiskThresholdBytes == 0 {
		s.DiskThresholdBytes = DefaultDiskThresholdBytes
	}
	if s.DiskCooldown == 0 {
		s.DiskCooldown = DefaultDiskCooldown
	}
	return s
}

// InEffect returns s with every unset field filled with its default: the
// settings as the workflow applies them.
func (s Settings) InEffect() Settings { return s.WithEventDefaults().WithDiskDefaults() }

// metricsIntervalFloor is MinMetricsInterval, lowered only by
// LowerMetricsIntervalFloor.
var metricsIntervalFloor = MinMetricsInterval

// LowerMetricsIntervalFloor lets Validate accept metrics intervals down to
// floor until restore is called. It is for benchmarks that must run many
// cycles quickly, never for production code.
func LowerMetricsIntervalFloor(floor time.Duration) (restore func()) {
	saved := metricsIntervalFloor
	metricsIntervalFloor = floor
	return func() { metricsIntervalFloor = saved }
}

// Validate reports the first setting that is out of range, wrapping ErrInvalid.
func (s Settings) Validate() error {
	if s.MetricsInterval < metricsIntervalFloor || s.MetricsInterval > MaxMetricsInterval {
		return fmt.Errorf("%w: metricsInterval must be between %s and %s, got %s",
			ErrInvalid, metricsIntervalFloor, MaxMetricsInterval, s.MetricsInterval)
	}
	if s.OfflineAfter < 1 || s.OfflineAfter > MaxOfflineAfter {
		return fmt.Errorf("%w: offlineAfter must be between 1 and %d, got %d",
			ErrInvalid, MaxOfflineAfter, s.OfflineAfter)
	}
	s = s.InEffect()
	if s.EventMode != EventModeStream && s.EventMode != EventModePoll {
		return fmt.Errorf("%w: eventMode must be %q or %q, got %q",
			ErrInvalid, EventModeStream, EventModePoll, s.EventMode)
	}
	if s.PollInterval < MinPollInterval || s.PollInterval > MaxPollInterval {
		return fmt.Errorf("%w: pollInterval must be between %s and %s, got %s",
			ErrInvalid, MinPollInterval, MaxPollInterval, s.PollInterval)
	}
	return s.validateDisk()
}

func (s Settings) validateDisk() error {
	switch {
	case s.DiskInterval < MinDiskInterval || s.DiskInterval > MaxDiskInterval:
		return fmt.Errorf("%w: diskInterval must be between %s and %s, got %s",
			ErrInvalid, MinDiskInterval, MaxDiskInterval, s.DiskInterval)
	case s.DiskTimeout < MinDiskTimeout || s.DiskTimeout > MaxDiskTimeout:
		return fmt.Errorf("%w: diskTimeout must be between %s and %s, got %s",
			ErrInvalid, MinDiskTimeout, MaxDiskTimeout, s.DiskTimeout)
	case s.DiskThresholdMode != DiskThresholdPercent && s.DiskThresholdMode != DiskThresholdBytes && s.DiskThresholdMode != DiskThresholdOff:
		return fmt.Errorf("%w: diskThresholdMode must be %q, %q or %q, got %q",
			ErrInvalid, DiskThresholdPercent, DiskThresholdBytes, DiskThresholdOff, s.DiskThresholdMode)
	case !(s.DiskThresholdPercent >= 1 && s.DiskThresholdPercent <= 100): // also rejects NaN
		return fmt.Errorf("%w: diskThresholdPercent must be between 1 and 100, got %v",
			ErrInvalid, s.DiskThresholdPercent)
	case s.DiskThresholdBytes < 1:
		return fmt.Errorf("%w: diskThresholdBytes must be at least 1, got %d", ErrInvalid, s.DiskThresholdBytes)
	case s.DiskCapacityBytes < -1:
		return fmt.Errorf("%w: diskCapacityBytes must be -1 (unknown), 0 (auto) or a size, got %d",
			ErrInvalid, s.DiskCapacityBytes)
	case s.DiskCooldown < MinDiskCooldown || s.DiskCooldown > MaxDiskCooldown:
		return fmt.Errorf("%w: diskCooldown must be between %s and %s, got %s",
			ErrInvalid, MinDiskCooldown, MaxDiskCooldown, s.DiskCooldown)
	}
	return nil
}

// Patch is a partial change of Settings, and their JSON: only the fields
// that are set change. Durations are whole seconds. It is the body of the
// API's PUT .../settings and the payload of the configure Update and Signal.
type Patch struct {
	MetricsIntervalSeconds *int  `json:"metricsIntervalSeconds,omitempty"`
	CollectMetrics         *bool `json:"collectMetrics,omitempty"`
	Paused                 *bool `json:"paused,omitempty"`
	OfflineAfter           *int  `json:"offlineAfter,omitempty"`
	// Container events: on/off, "stream" or "poll", and the poll interval.
	EventsEnabled       *bool      `json:"eventsEnabled,omitempty"`
	EventMode           *EventMode `json:"eventMode,omitempty"`
	PollIntervalSeconds *int       `json:"pollIntervalSeconds,omitempty"`
	// Disk checks: interval and timeout, warning threshold ("percent",
	// "bytes" or "off" with its percent and bytes values), capacity (0 =
	// auto, -1 = unknown) and the least time between two warnings.
	DiskIntervalSeconds  *int     `json:"diskIntervalSeconds,omitempty"`
	DiskTimeoutSeconds   *int     `json:"diskTimeoutSeconds,omitempty"`
	DiskThresholdMode    *string  `json:"diskThresholdMode,omitempty"`
	DiskThresholdPercent *float64 `json:"diskThresholdPercent,omitempty"`
	DiskThresholdBytes   *int64   `json:"diskThresholdBytes,omitempty"`
	DiskCapacityBytes    *int64   `json:"diskCapacityBytes,omitempty"`
	DiskCooldownSeconds  *int     `json:"diskCooldownSeconds,omitempty"`
}

// patchOf returns the patch that sets every field to s's value.
func patchOf(s Settings) Patch {
	seconds := func(d time.Duration) *int { v := int(d / time.Second); return &v }
	return Patch{
		MetricsIntervalSeconds: seconds(s.MetricsInterval),
		CollectMetrics:         &s.CollectMetrics,
		Paused:                 &s.Paused,
		OfflineAfter:           &s.OfflineAfter,
		EventsEnabled:          &s.EventsEnabled,
		EventMode:              &s.EventMode,
		PollIntervalSeconds:    seconds(s.PollInterval),
		DiskIntervalSeconds:    seconds(s.DiskInterval),
		DiskTimeoutSeconds:     seconds(s.DiskTimeout),
		DiskThresholdMode:      &s.DiskThresholdMode,
		DiskThresholdPercent:   &s.DiskThresholdPercent,
		DiskThresholdBytes:     &s.DiskThresholdBytes,
		DiskCapacityBytes:      &s.DiskCapacityBytes,
		DiskCooldownSeconds:    seconds(s.DiskCooldown),
	}
}

// secondsFunc converts the seconds of the duration field named field, whose
// range is [lo, hi] (0 also accepted when zeroIsDefault), into a duration.
type secondsFunc func(field string, seconds int, lo, hi time.Duration, zeroIsDefault bool) (time.Duration, error)

// set returns s with the fields of p that are set, converting seconds with
// toDuration.
func (p Patch) set(s Settings, toDuration secondsFunc) (Settings, error) {
	durations := []struct {
		field         string
		seconds       *int
		to            *time.Duration
		lo, hi        time.Duration
		zeroIsDefault bool
	}{
		{"metricsInterval", p.MetricsIntervalSeconds, &s.MetricsInterval, MinMetricsInterval, MaxMetricsInterval, false},
		{"pollInterval", p.PollIntervalSeconds, &s.PollInterval, MinPollInterval, MaxPollInterval, true},
		{"diskInterval", p.DiskIntervalSeconds, &s.DiskInterval, MinDiskInterval, MaxDiskInterval, true},
		{"diskTimeout", p.DiskTimeoutSeconds, &s.DiskTimeout, MinDiskTimeout, MaxDiskTimeout, true},
		{"diskCooldown", p.DiskCooldownSeconds, &s.DiskCooldown, MinDiskCooldown, MaxDiskCooldown, true},
	}
	for _, d := range durations {
		if d.seconds == nil {
			continue
		}
		v, err := toDuration(d.field, *d.seconds, d.lo, d.hi, d.zeroIsDefault)
		if err != nil {
			return Settings{}, err
		}
		*d.to = v
	}
	setTo(&s.CollectMetrics, p.CollectMetrics)
	setTo(&s.Paused, p.Paused)
	setTo(&s.OfflineAfter, p.OfflineAfter)
	setTo(&s.EventsEnabled, p.EventsEnabled)
	setTo(&s.EventMode, p.EventMode)
	setTo(&s.DiskThresholdMode, p.DiskThresholdMode)
	setTo(&s.DiskThresholdPercent, p.DiskThresholdPercent)
	setTo(&s.DiskThresholdBytes, p.DiskThresholdBytes)
	setTo(&s.DiskCapacityBytes, p.DiskCapacityBytes)
	return s, nil
}

func setTo[T any](to *T, from *T) {
	if from != nil {
		*to = *from
	}
}

// Apply returns s with the patch applied, or an error wrapping ErrInvalid
// if the result is out of range; s itself is never modified.
func (p Patch) Apply(s Settings) (Settings, error) {
	s, err := p.set(s, secondsIn)
	if err != nil {
		return Settings{}, err
	}
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// PatchTo is the patch that sets every field to s's value (unset fields to
// their defaults): applied to any settings, it gives s.InEffect().
func PatchTo(s Settings) Patch { return patchOf(s.InEffect()) }

// UnmarshalJSON decodes a patch, refusing unknown fields: a misspelt
// setting is an error, never a silent no-op.
func (p *Patch) UnmarshalJSON(data []byte) error {
	type plain Patch
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var decoded plain
	if err := dec.Decode(&decoded); err != nil {
		return err
	}
	*p = Patch(decoded)
	return nil
}

// MarshalJSON encodes s as the patch that sets every field: the API's
// settings object, durations in seconds (so the Temporal Web UI shows them
// as people set them).
func (s Settings) MarshalJSON() ([]byte, error) { return json.Marshal(patchOf(s)) }

// UnmarshalJSON decodes settings encoded by MarshalJSON onto s: absent
// fields keep their value. Values out of range are kept for Validate to
// judge, unless their seconds do not fit a time.Duration.
func (s *Settings) UnmarshalJSON(data []byte) error {
	type plain Patch // no strict decoding: a field added later is ignored
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	decoded, err := Patch(p).set(*s, secondsFit)
	if err != nil {
		return err
	}
	*s = decoded
	return nil
}

// secondsIn converts the seconds of the setting named field into a
// duration after checking them against [lo, hi], so that no value wraps
// around in the multiplication (18446744084 s would be 10.29 s once
// multiplied into a time.Duration). zeroIsDefault accepts 0, which
// Settings reads as the default of the field.
func secondsIn(field string, seconds int, lo, hi time.Duration, zeroIsDefault bool) (time.Duration, error) {
	if zeroIsDefault && seconds == 0 {
		return 0, nil
	}
	if seconds < int(lo/time.Second) || seconds > int(hi/time.Second) {
		// The message of Validate, with the value as given.
		return 0, fmt.Errorf("%w: %s must be between %s and %s, got %ds",
			ErrInvalid, field, lo, hi, seconds)
	}
	return time.Duration(seconds) * time.Second, nil
}

// secondsFit converts seconds into a duration, refusing only those that do
// not fit one.
func secondsFit(field string, seconds int, _, _ time.Duration, _ bool) (time.Duration, error) {
	const most = math.MaxInt64 / int64(time.Second)
	if int64(seconds) > most || int64(seconds) < -most {
		return 0, fmt.Errorf("%w: %s: %d s is out of range", ErrInvalid, field, seconds)
	}
	return time.Duration(seconds) * time.Second, nil
}

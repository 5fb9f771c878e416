package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func TestDefault(t *testing.T) {
	d := Default()
	want := Settings{
		MetricsInterval: 30 * time.Second, CollectMetrics: true, OfflineAfter: 2,
		EventsEnabled: true, EventMode: EventModeStream, PollInterval: time.Minute,
		DiskInterval: 5 * time.Minute, DiskTimeout: 20 * time.Second, DiskThresholdMode: DiskThresholdPercent,
		DiskThresholdPercent: 80, DiskThresholdBytes: 50_000_000_000, DiskCooldown: time.Hour,
	}
	if d != want {
		t.Fatalf("Default() = %+v, want %+v", d, want)
	}
	if err := d.Validate(); err != nil {
		t.Fatalf("Default() is invalid: %v", err)
	}
	// Unset event and disk fields read as their defaults.
	old := Settings{MetricsInterval: 30 * time.Second, CollectMetrics: true, OfflineAfter: 2, EventsEnabled: true}
	if got := old.InEffect(); got != d {
		t.Fatalf("InEffect() = %+v, want %+v", got, d)
	}
}

// Every range, at its bounds and just outside, with the message naming it.
func TestValidateRanges(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Settings)
		message string // "" when valid
	}{
		{"metrics interval low bound", func(s *Settings) { s.MetricsInterval = 10 * time.Second }, ""},
		{"metrics interval high bound", func(s *Settings) { s.MetricsInterval = 5 * time.Minute }, ""},
		{"metrics interval too short", func(s *Settings) { s.MetricsInterval = 9 * time.Second },
			"invalid settings: metricsInterval must be between 10s and 5m0s, got 9s"},
		{"metrics interval too long", func(s *Settings) { s.MetricsInterval = 301 * time.Second },
			"invalid settings: metricsInterval must be between 10s and 5m0s, got 5m1s"},
		{"offline after 0", func(s *Settings) { s.OfflineAfter = 0 }, "invalid settings: offlineAfter must be between 1 and 20, got 0"},
		{"offline after 20", func(s *Settings) { s.OfflineAfter = 20 }, ""},
		{"offline after 21", func(s *Settings) { s.OfflineAfter = 21 }, "invalid settings: offlineAfter must be between 1 and 20, got 21"},
		{"event mode poll", func(s *Settings) { s.EventMode = EventModePoll }, ""},
		{"event mode unknown", func(s *Settings) { s.EventMode = "push" }, `invalid settings: eventMode must be "stream" or "poll", got "push"`},
		{"poll interval too short", func(s *Settings) { s.PollInterval = 29 * time.Second },
			"invalid settings: pollInterval must be between 30s and 5m0s, got 29s"},
		{"poll interval too long", func(s *Settings) { s.PollInterval = 301 * time.Second },
			"invalid settings: pollInterval must be between 30s and 5m0s, got 5m1s"},
		{"poll interval unset", func(s *Settings) { s.PollInterval = 0 }, ""},
		{"disk interval too short", func(s *Settings) { s.DiskInterval = 59 * time.Second },
			"invalid settings: diskInterval must be between 1m0s and 1h0m0s, got 59s"},
		{"disk interval too long", func(s *Settings) { s.DiskInterval = time.Hour + time.Second },
			"invalid settings: diskInterval must be between 1m0s and 1h0m0s, got 1h0m1s"},
		{"disk timeout too short", func(s *Settings) { s.DiskTimeout = 4 * time.Second },
			"invalid settings: diskTimeout must be between 5s and 2m0s, got 4s"},
		{"disk timeout too long", func(s *Settings) { s.DiskTimeout = 121 * time.Second },
			"invalid settings: diskTimeout must be between 5s and 2m0s, got 2m1s"},
		{"disk threshold mode off", func(s *Settings) { s.DiskThresholdMode = DiskThresholdOff }, ""},
		{"disk threshold mode unknown", func(s *Settings) { s.DiskThresholdMode = "sometimes" },
			`invalid settings: diskThresholdMode must be "percent", "bytes" or "off", got "sometimes"`},
		{"disk percent 1", func(s *Settings) { s.DiskThresholdPercent = 1 }, ""},
		{"disk percent 100", func(s *Settings) { s.DiskThresholdPercent = 100 }, ""},
		{"disk percent too high", func(s *Settings) { s.DiskThresholdPercent = 100.5 },
			"invalid settings: diskThresholdPercent must be between 1 and 100, got 100.5"},
		{"disk percent too low", func(s *Settings) { s.DiskThresholdPercent = 0.5 },
			"invalid settings: diskThresholdPercent must be between 1 and 100, got 0.5"},
		{"disk percent NaN", func(s *Settings) { s.DiskThresholdPercent = math.NaN() },
			"invalid settings: diskThresholdPercent must be between 1 and 100, got NaN"},
		{"disk bytes negative", func(s *Settings) { s.DiskThresholdBytes = -5 },
			"invalid settings: diskThresholdBytes must be at least 1, got -5"},
		{"disk capacity unknown", func(s *Settings) { s.DiskCapacityBytes = -1 }, ""},
		{"disk capacity below -1", func(s *Settings) { s.DiskCapacityBytes = -2 },
			"invalid settings: diskCapacityBytes must be -1 (unknown), 0 (auto) or a size, got -2"},
		{"disk cooldown too short", func(s *Settings) { s.DiskCooldown = 59 * time.Second },
			"invalid settings: diskCooldown must be between 1m0s and 24h0m0s, got 59s"},
		{"disk cooldown too long", func(s *Settings) { s.DiskCooldown = 25 * time.Hour },
			"invalid settings: diskCooldown must be between 1m0s and 24h0m0s, got 25h0m0s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Default()
			tc.change(&s)
			err := s.Validate()
			switch {
			case tc.message == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tc.message != "" && (!errors.Is(err, ErrInvalid) || err.Error() != tc.message):
				t.Fatalf("Validate() = %v, want %q wrapping ErrInvalid", err, tc.message)
			}
		})
	}
}

func TestLowerMetricsIntervalFloor(t *testing.T) {
	s := Default()
	s.MetricsInterval = time.Second
	restore := LowerMetricsIntervalFloor(time.Second)
	if err := s.Validate(); err != nil {
		restore()
		t.Fatalf("with the floor lowered: %v", err)
	}
	restore()
	if err := s.Validate(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("after restore: %v, want ErrInvalid", err)
	}
}

// Seconds that wrap around once multiplied into a time.Duration are
// rejected by name, never read as a small valid interval (18446744084 s
// would be 10.29 s).
func TestPatchSecondsOverflow(t *testing.T) {
	fields := []string{"metricsInterval", "pollInterval", "diskInterval", "diskTimeout", "diskCooldown"}
	for _, field := range fields {
		for _, v := range []int{18446744084, 18446744073 + 30, math.MaxInt64/int(time.Second) + 1, math.MaxInt64, math.MinInt64, -1} {
			var p Patch
			if err := json.Unmarshal(fmt.Appendf(nil, `{%q: %d}`, field+"Seconds", v), &p); err != nil {
				t.Fatalf("decode: %v", err)
			}
			_, err := p.Apply(Default())
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), field+" must be between") {
				t.Errorf("%s = %d: error %v, want an invalid-settings error naming the field and its range", field, v, err)
			}
		}
	}
	// Decoding settings refuses them too, rather than wrapping.
	var s Settings
	if err := json.Unmarshal([]byte(`{"metricsIntervalSeconds": 18446744084}`), &s); !errors.Is(err, ErrInvalid) {
		t.Fatalf("decoding 18446744084 s: %v, want ErrInvalid", err)
	}
}

func TestPatchApply(t *testing.T) {
	tests := []struct {
		name  string
		patch string
		want  func(*Settings)
		err   string
	}{
		{"empty", `{}`, func(*Settings) {}, ""},
		{"interval", `{"metricsIntervalSeconds": 45}`, func(s *Settings) { s.MetricsInterval = 45 * time.Second }, ""},
		{"several", `{"paused": true, "offlineAfter": 5, "eventMode": "poll", "pollIntervalSeconds": 90}`, func(s *Settings) {
			s.Paused, s.OfflineAfter, s.EventMode, s.PollInterval = true, 5, EventModePoll, 90*time.Second
		}, ""},
		{"disk", `{"diskIntervalSeconds": 600, "diskThresholdMode": "bytes", "diskThresholdBytes": 1024, "diskCapacityBytes": -1, "diskCooldownSeconds": 7200}`, func(s *Settings) {
			s.DiskInterval, s.DiskThresholdMode, s.DiskThresholdBytes, s.DiskCapacityBytes, s.DiskCooldown = 10*time.Minute, DiskThresholdBytes, 1024, -1, 2*time.Hour
		}, ""},
		{"zero poll interval means the default", `{"pollIntervalSeconds": 0}`, func(s *Settings) { s.PollInterval = 0 }, ""},
		{"interval out of range, as given", `{"metricsIntervalSeconds": 301}`, nil,
			"invalid settings: metricsInterval must be between 10s and 5m0s, got 301s"},
		{"zero metrics interval", `{"metricsIntervalSeconds": 0}`, nil,
			"invalid settings: metricsInterval must be between 10s and 5m0s, got 0s"},
		{"offline after", `{"offlineAfter": 0}`, nil, "invalid settings: offlineAfter must be between 1 and 20, got 0"},
		{"event mode", `{"eventMode": "push"}`, nil, `invalid settings: eventMode must be "stream" or "poll", got "push"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p Patch
			if err := json.Unmarshal([]byte(tc.patch), &p); err != nil {
				t.Fatalf("decode %s: %v", tc.patch, err)
			}
			from := Default()
			got, err := p.Apply(from)
			if tc.err != "" {
				if !errors.Is(err, ErrInvalid) || err.Error() != tc.err {
					t.Fatalf("Apply = %+v, %v; want %q", got, err, tc.err)
				}
				return
			}
			want := Default()
			tc.want(&want)
			if err != nil || got != want {
				t.Fatalf("Apply = %+v, %v; want %+v", got, err, want)
			}
			if from != Default() {
				t.Fatalf("Apply changed its argument: %+v", from)
			}
		})
	}
}

func TestPatchRefusesUnknownFields(t *testing.T) {
	for _, body := range []string{`{"interval": 10}`, `{"paused": true, "metricsInterval": 30000000000}`} {
		var p Patch
		if err := json.Unmarshal([]byte(body), &p); err == nil || !strings.Contains(err.Error(), "unknown field") {
			t.Errorf("decode %s: %v, want an unknown-field error", body, err)
		}
	}
}

// PatchTo(target) applied to any settings gives the target with its
// defaults: what the reconciler sends to bring a workflow in step.
func TestPatchToGivesTheTarget(t *testing.T) {
	target := Default()
	target.MetricsInterval = 45 * time.Second
	target.Paused, target.CollectMetrics, target.EventsEnabled = true, false, false
	target.EventMode, target.PollInterval = EventModePoll, 90*time.Second
	target.DiskThresholdMode, target.DiskCapacityBytes, target.DiskCooldown = DiskThresholdBytes, -1, 2*time.Hour
	for _, from := range []Settings{Default(), {MetricsInterval: 5 * time.Minute, OfflineAfter: 20}} {
		got, err := PatchTo(target).Apply(from)
		if err != nil || got != target {
			t.Fatalf("PatchTo(target).Apply(%+v) = %+v, %v; want %+v", from, got, err, target)
		}
	}
	unset := Settings{MetricsInterval: time.Minute, OfflineAfter: 4}
	if got, err := PatchTo(unset).Apply(Default()); err != nil || got != unset.InEffect() {
		t.Fatalf("PatchTo(unset).Apply = %+v, %v; want %+v", got, err, unset.InEffect())
	}
}

// The JSON is the API's settings object: durations in seconds, every field
// present, and it decodes back to the same settings.
func TestJSONRoundTrip(t *testing.T) {
	s := Default()
	s.DiskThresholdMode, s.DiskThresholdPercent, s.DiskThresholdBytes, s.DiskCapacityBytes = DiskThresholdBytes, 90.5, 1<<40, 1<<41
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"metricsIntervalSeconds":30,"collectMetrics":true,"paused":false,"offlineAfter":2,` +
		`"eventsEnabled":true,"eventMode":"stream","pollIntervalSeconds":60,` +
		`"diskIntervalSeconds":300,"diskTimeoutSeconds":20,"diskThresholdMode":"bytes","diskThresholdPercent":90.5,` +
		`"diskThresholdBytes":1099511627776,"diskCapacityBytes":2199023255552,"diskCooldownSeconds":3600}`
	if string(raw) != want {
		t.Fatalf("JSON\n%s\nwant\n%s", raw, want)
	}
	var back Settings
	if err := json.Unmarshal(raw, &back); err != nil || back != s {
		t.Fatalf("decoded %+v, %v; want %+v", back, err, s)
	}
	// Zero fields stay zero (they mean the defaults), and invalid values
	// decode as they are, for Validate to judge.
	for _, in := range []Settings{{}, {MetricsInterval: time.Second, OfflineAfter: 2}} {
		raw, _ := json.Marshal(in)
		var got Settings
		if err := json.Unmarshal(raw, &got); err != nil || got != in {
			t.Fatalf("round trip of %+v: %+v, %v", in, got, err)
		}
	}
	// Absent keys keep the value decoded onto.
	got := Default()
	if err := json.Unmarshal([]byte(`{"paused": true}`), &got); err != nil || !got.Paused || got.MetricsInterval != DefaultMetricsInterval {
		t.Fatalf("decoding onto the defaults: %+v, %v", got, err)
	}
}

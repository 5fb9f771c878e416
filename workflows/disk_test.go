package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
)

const gb = int64(1_000_000_000)

// diskCall is one CheckDisk attempt as the fake saw it.
type diskCall struct {
	In      CheckDiskInput
	Attempt int32
	// At is the workflow time of the attempt, since t0.
	At time.Duration
}

// diskFakes are the fake disk activities of fakeEngine (under its mutex).
type diskFakes struct {
	// diskResult decides the outcome of a CheckDisk attempt; nil means 10 GB
	// of 100 GB, below every default threshold.
	diskResult func(in CheckDiskInput) (DiskSummary, error)
	diskCalls  []diskCall
	warnings   []RecordDiskWarningInput
}

func (f *fakeEngine) checkDisk(ctx context.Context, in CheckDiskInput) (DiskSummary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.diskCalls = append(f.diskCalls, diskCall{In: in, Attempt: activity.GetInfo(ctx).Attempt, At: f.now().Sub(t0)})
	if f.diskResult != nil {
		return f.diskResult(in)
	}
	return diskUsage(in.CheckAt, 10*gb, 100*gb), nil
}

func (f *fakeEngine) recordDiskWarning(_ context.Context, in RecordDiskWarningInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.warnings = append(f.warnings, in)
	return nil
}

// diskCheckTimes returns the CheckAt of every CheckDisk attempt, since t0.
func (f *fakeEngine) diskCheckTimes() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]time.Duration, len(f.diskCalls))
	for i, c := range f.diskCalls {
		out[i] = c.In.CheckAt.Sub(t0)
	}
	return out
}

func (f *fakeEngine) diskWarnings() []RecordDiskWarningInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]RecordDiskWarningInput(nil), f.warnings...)
}

// warningTimes returns the CheckAt of every recorded warning, since t0.
func (f *fakeEngine) warningTimes() []time.Duration {
	var ts []time.Time
	for _, w := range f.diskWarnings() {
		ts = append(ts, w.CheckAt)
	}
	return offsets(ts)
}

// diskUsage is a summary of total bytes out of capacity (0: unknown).
func diskUsage(at time.Time, total, capacity int64) DiskSummary {
	d := DiskSummary{
		CheckedAt:       at,
		ImagesBytes:     total / 2,
		ContainersBytes: total / 4,
		VolumesBytes:    total / 8,
		BuildCacheBytes: total - total/2 - total/4 - total/8,
		TotalBytes:      total,
		CapacityBytes:   capacity,
	}
	if capacity > 0 {
		d.CapacitySource = "configured"
		d.Percent = float64(total) / float64(capacity) * 100
	}
	return d
}

// alwaysFull makes every disk check report 92 GB of 100 GB.
func alwaysFull(in CheckDiskInput) (DiskSummary, error) {
	return diskUsage(in.CheckAt, 92*gb, 100*gb), nil
}

// diskSettings are the test settings with disk checks every interval, a
// cooldown, and metrics every 5 minutes (few cycles in long tests).
func diskSettings(interval, cooldown time.Duration) Settings {
	s := settings(5 * time.Minute)
	s.DiskInterval = interval
	s.DiskCooldown = cooldown
	return s
}

func minutes(d ...time.Duration) []time.Duration {
	out := make([]time.Duration, len(d))
	for i, m := range d {
		out[i] = m * time.Minute
	}
	return out
}

func TestDiskWarningDue(t *testing.T) {
	now := t0.Add(10 * time.Hour)
	percent := DefaultSettings() // percent mode, 80 %, cooldown 1 h
	bytes := DefaultSettings()
	bytes.DiskThresholdMode = DiskThresholdBytes
	bytes.DiskThresholdBytes = 50 * gb
	off := DefaultSettings()
	off.DiskThresholdMode = DiskThresholdOff
	legacy := Settings{MetricsInterval: time.Minute, OfflineAfter: 2} // no disk fields: the defaults
	cooldown := DefaultSettings()
	cooldown.DiskCooldown = 10 * time.Minute

	for name, tc := range map[string]struct {
		s      Settings
		d      DiskSummary
		last   time.Time
		due    bool
		reason string
	}{
		"percent above, never warned": {
			s: percent, d: diskUsage(now, 92*gb, 100*gb), due: true, reason: "92.0 % of 100.0 GB > 80 %",
		},
		"percent at the threshold is not above": {
			s: percent, d: diskUsage(now, 80*gb, 100*gb), reason: "below the threshold: 80.0 % of 100.0 GB ≤ 80 %",
		},
		"percent below": {
			s: percent, d: diskUsage(now, 10*gb, 100*gb), reason: "below the threshold: 10.0 % of 100.0 GB ≤ 80 %",
		},
		"percent, capacity unknown": {
			s: percent, d: diskUsage(now, 900*gb, 0),
			reason: "capacity unknown: the percent threshold cannot be checked (configure the disk capacity, or use a bytes threshold)",
		},
		"percent, fractional threshold": {
			s: func() Settings { s := percent; s.DiskThresholdPercent = 85.5; return s }(),
			d: diskUsage(now, 86*gb, 100*gb), due: true, reason: "86.0 % of 100.0 GB > 85.5 %",
		},
		"legacy settings use the defaults": {
			s: legacy, d: diskUsage(now, 81*gb, 100*gb), due: true, reason: "81.0 % of 100.0 GB > 80 %",
		},
		"bytes above, capacity unknown": {
			s: bytes, d: diskUsage(now, 61_200_000_000, 0), due: true, reason: "61.2 GB > 50.0 GB",
		},
		"bytes at the threshold": {
			s: bytes, d: diskUsage(now, 50*gb, 0), reason: "below the threshold: 50.0 GB ≤ 50.0 GB",
		},
		"bytes mode ignores the percentage": {
			s: bytes, d: diskUsage(now, 40*gb, 41*gb), reason: "below the threshold: 40.0 GB ≤ 50.0 GB",
		},
		"off": {
			s: off, d: diskUsage(now, 100*gb, 100*gb), reason: "threshold off",
		},
		"above, within the cooldown": {
			s: percent, d: diskUsage(now, 92*gb, 100*gb), last: now.Add(-59 * time.Minute),
			reason: "92.0 % of 100.0 GB > 80 %; warned at 2036-01-05 18:01:00 UTC, cooldown until 2036-01-05 19:01:00 UTC",
		},
		"above, cooldown just over": {
			s: percent, d: diskUsage(now, 92*gb, 100*gb), last: now.Add(-time.Hour), due: true, reason: "92.0 % of 100.0 GB > 80 %",
		},
		"above, a shorter cooldown over": {
			s: cooldown, d: diskUsage(now, 92*gb, 100*gb), last: now.Add(-10 * time.Minute), due: true, reason: "92.0 % of 100.0 GB > 80 %",
		},
		"below, within the cooldown": {
			s: percent, d: diskUsage(now, 10*gb, 100*gb), last: now.Add(-time.Minute),
			reason: "below the threshold: 10.0 % of 100.0 GB ≤ 80 %",
		},
		"unknown mode": {
			s: func() Settings { s := percent; s.DiskThresholdMode = "gigs"; return s }(),
			d: diskUsage(now, 92*gb, 100*gb), reason: `unknown threshold mode "gigs"`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			due, reason := DiskWarningDue(tc.s, tc.d, tc.last, now)
			require.Equal(t, tc.due, due)
			require.Equal(t, tc.reason, reason)
		})
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 999: "999 B", 1000: "1.0 kB", 1500: "1.5 kB", 92 * gb: "92.0 GB",
		1_000_000_000_000: "1.0 TB", 2_500_000_000_000_000: "2.5 PB",
	} {
		require.Equal(t, want, formatBytes(n), "%d", n)
	}
}

func TestOneDiskWarningPerCooldown(t *testing.T) {
	f := &fakeEngine{}
	f.diskResult = alwaysFull
	env := newEnv(t, f)
	cancelAt(env, 3*time.Hour-time.Second)
	env.ExecuteWorkflow(WorkflowName, input(diskSettings(5*time.Minute, time.Hour)))
	requireCanceled(t, env)

	// Checks with the first cycle, then every 5 min: 36 in 3 h, all over
	// the threshold.
	checks := f.diskCheckTimes()
	require.Len(t, checks, 36)
	for i, at := range checks {
		require.Equal(t, time.Duration(i)*5*time.Minute, at)
	}
	// One warning per cooldown: at the first check and exactly one hour
	// after each warning.
	require.Equal(t, []time.Duration{0, time.Hour, 2 * time.Hour}, f.warningTimes())
	w := f.diskWarnings()[0]
	require.Equal(t, "0b7f6c1e-env", w.EnvironmentID)
	require.Equal(t, "92.0 % of 100.0 GB > 80 %", w.Reason)
	require.Equal(t, int64(92*gb), w.Summary.TotalBytes)
	require.Equal(t, w.CheckAt, w.Summary.CheckedAt)

	s := queryState(t, env)
	require.Equal(t, t0.Add(2*time.Hour), s.LastDiskWarningAt)
	require.Equal(t, t0.Add(2*time.Hour+55*time.Minute), s.LastDiskCheckAt)
	require.Equal(t, t0.Add(3*time.Hour), s.NextDiskAt)
	require.NotNil(t, s.LastDisk)
	require.InDelta(t, 92.0, s.LastDisk.Percent, 1e-9)
	require.Equal(t, "92.0 % of 100.0 GB > 80 %; warned at 2036-01-05 11:00:00 UTC, cooldown until 2036-01-05 12:00:00 UTC", s.DiskVerdict)
	require.Empty(t, s.DiskError)
	require.Len(t, f.statusRecords(), 1, "disk warnings are not status changes")
}

func TestDiskWarningCooldownAcrossContinueAsNew(t *testing.T) {
	// First run: a warning at 0, then continue-as-new at 30 min.
	f := &fakeEngine{}
	f.diskResult = alwaysFull
	env := newEnv(t, f)
	env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, 29*time.Minute)
	env.ExecuteWorkflow(WorkflowName, input(diskSettings(5*time.Minute, time.Hour)))

	in := decodeContinueAsNew(t, env.GetWorkflowError())
	require.Equal(t, []time.Duration{0}, f.warningTimes())
	require.Len(t, f.diskCheckTimes(), 6, "0, 5 min, … 25 min")
	st := *in.State
	require.Equal(t, t0, st.LastDiskWarningAt, "the cooldown travels with the state")
	require.Equal(t, t0.Add(30*time.Minute), st.NextDiskAt, "the disk cadence too")
	require.NotNil(t, st.LastDisk)
	require.Equal(t, time.Hour, st.Settings.DiskCooldown)

	// Second run, from the carried state, starting when the first stopped:
	// no warning until the hour since the last one is over.
	f2 := &fakeEngine{}
	f2.diskResult = alwaysFull
	env2 := newEnv(t, f2)
	env2.SetStartTime(t0.Add(30 * time.Minute))
	cancelAt(env2, 40*time.Minute) // until t0 + 70 min
	env2.ExecuteWorkflow(WorkflowName, in)
	requireCanceled(t, env2)

	checks := f2.diskCheckTimes()
	require.Equal(t, 30*time.Minute, checks[0], "the carried cadence, no extra check at start")
	require.Len(t, checks, 8, "30 min … 65 min")
	require.Equal(t, []time.Duration{time.Hour}, f2.warningTimes(),
		"the next warning exactly when the cooldown is over, not at the start of the run")
	require.Empty(t, f2.statusRecords(), "online already recorded by the first run")
}

func TestDiskCheckAtFirstCycleWithoutCarriedTime(t *testing.T) {
	// A carried state without disk fields: the first check rides on the
	// first cycle.
	f := &fakeEngine{}
	env := newEnv(t, f)
	prev := State{
		EnvironmentID: "0b7f6c1e-env", Name: "local", Settings: settings(time.Minute),
		Status: StatusOnline, NextCycleAt: t0.Add(20 * time.Second),
	}
	cancelAt(env, 6*time.Minute)
	env.ExecuteWorkflow(WorkflowName, Input{EnvironmentID: prev.EnvironmentID, Settings: prev.Settings, State: &prev})
	requireCanceled(t, env)
	require.Equal(t, []time.Duration{20 * time.Second, 5*time.Minute + 20*time.Second}, f.diskCheckTimes())
}

func TestDiskNoWarning(t *testing.T) {
	for name, tc := range map[string]struct {
		mutate   func(*Settings)
		summary  func(at time.Time) DiskSummary
		warnings int
		verdict  string
		details  string
	}{
		"below the threshold": {
			summary: func(at time.Time) DiskSummary { return diskUsage(at, 79*gb, 100*gb) },
			verdict: "below the threshold: 79.0 % of 100.0 GB ≤ 80 %",
			details: "**Last disk usage** 79.0 GB used · 79.0 % of 100.0 GB (configured)",
		},
		"capacity unknown in percent mode": {
			summary: func(at time.Time) DiskSummary { return diskUsage(at, 900*gb, 0) },
			verdict: "capacity unknown: the percent threshold cannot be checked (configure the disk capacity, or use a bytes threshold)",
			details: "**Disk warning** capacity unknown: the percent threshold cannot be checked",
		},
		"threshold off": {
			mutate:  func(s *Settings) { s.DiskThresholdMode = DiskThresholdOff },
			summary: func(at time.Time) DiskSummary { return diskUsage(at, 100*gb, 100*gb) },
			verdict: "threshold off",
			details: "**Disk** check every 5m · threshold off · cooldown 1h",
		},
		"bytes mode, below": {
			mutate:  func(s *Settings) { s.DiskThresholdMode, s.DiskThresholdBytes = DiskThresholdBytes, 200*gb },
			summary: func(at time.Time) DiskSummary { return diskUsage(at, 150*gb, 0) },
			verdict: "below the threshold: 150.0 GB ≤ 200.0 GB",
			details: "**Last disk usage** 150.0 GB used · capacity unknown",
		},
		"bytes mode, above, capacity unknown": {
			mutate:   func(s *Settings) { s.DiskThresholdMode, s.DiskThresholdBytes = DiskThresholdBytes, 100*gb },
			summary:  func(at time.Time) DiskSummary { return diskUsage(at, 150*gb, 0) },
			warnings: 1,
			verdict:  "150.0 GB > 100.0 GB; warned at 2036-01-05 09:00:00 UTC, cooldown until 2036-01-05 10:00:00 UTC",
			details:  "**Last disk warning** 2036-01-05 09:00:00 UTC · cooldown until 2036-01-05 10:00:00 UTC",
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := &fakeEngine{}
			f.diskResult = func(in CheckDiskInput) (DiskSummary, error) { return tc.summary(in.CheckAt), nil }
			env := newEnv(t, f)
			s := diskSettings(5*time.Minute, time.Hour)
			if tc.mutate != nil {
				tc.mutate(&s)
			}
			var details string
			env.RegisterDelayedCallback(func() { details = queryState(t, env).DetailsMarkdown() }, 11*time.Minute)
			cancelAt(env, 12*time.Minute)
			env.ExecuteWorkflow(WorkflowName, input(s))
			requireCanceled(t, env)

			require.Len(t, f.diskCheckTimes(), 3)
			require.Len(t, f.diskWarnings(), tc.warnings)
			st := queryState(t, env)
			require.Equal(t, tc.verdict, st.DiskVerdict)
			require.Contains(t, details, tc.details)
		})
	}
}

func TestDiskIntervalChangeRearmsAtOnce(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	out := updateAt(t, env, time.Minute, SettingsPatch{DiskIntervalSeconds: intp(60)})
	var during State
	env.RegisterDelayedCallback(func() { during = queryState(t, env) }, time.Minute+time.Second)
	cancelAt(env, 4*time.Minute+30*time.Second)
	s := diskSettings(time.Hour, time.Hour)
	s.MetricsInterval = time.Minute
	env.ExecuteWorkflow(WorkflowName, input(s))
	requireCanceled(t, env)

	require.True(t, out.accepted)
	require.Equal(t, t0.Add(2*time.Minute), out.result.NextDiskAt, "the update returns the re-armed time")
	require.Equal(t, t0.Add(2*time.Minute), during.NextDiskAt)
	// 0, then one minute after the update (not an hour after 0).
	require.Equal(t, minutes(0, 2, 3, 4), f.diskCheckTimes())
}

func TestDiskCooldownChangeAppliesAtNextDecision(t *testing.T) {
	f := &fakeEngine{}
	f.diskResult = alwaysFull
	env := newEnv(t, f)
	// A warning at 0; the cooldown shortened to 10 min at 12 min: the next
	// check (15 min) is past it and warns, with no re-arm; the one 10 min
	// later warns again.
	out := updateAt(t, env, 12*time.Minute, SettingsPatch{DiskCooldownSeconds: intp(600)})
	cancelAt(env, 26*time.Minute)
	env.ExecuteWorkflow(WorkflowName, input(diskSettings(5*time.Minute, time.Hour)))
	requireCanceled(t, env)

	require.True(t, out.accepted)
	require.Equal(t, minutes(0, 5, 10, 15, 20, 25), f.diskCheckTimes(), "the disk check was not moved")
	require.Equal(t, minutes(0, 15, 25), f.warningTimes())
}

func TestDiskCheckFailure(t *testing.T) {
	f := &fakeEngine{}
	f.diskResult = func(in CheckDiskInput) (DiskSummary, error) {
		if in.CheckAt.Sub(t0) < 5*time.Minute {
			return DiskSummary{}, errors.New("system df: context deadline exceeded")
		}
		return diskUsage(in.CheckAt, 10*gb, 100*gb), nil
	}
	env := newEnv(t, f)
	var failed State
	env.RegisterDelayedCallback(func() { failed = queryState(t, env) }, time.Minute)
	cancelAt(env, 6*time.Minute)
	env.ExecuteWorkflow(WorkflowName, input(diskSettings(5*time.Minute, time.Hour)))
	requireCanceled(t, env)

	// The failed check retried once, 5 s later; the next one succeeded.
	var attempts []int32
	var at []time.Duration
	f.mu.Lock()
	for _, c := range f.diskCalls {
		attempts = append(attempts, c.Attempt)
		at = append(at, c.At)
	}
	f.mu.Unlock()
	require.Equal(t, []int32{1, 2, 1}, attempts)
	require.Equal(t, []time.Duration{0, 5 * time.Second, 5 * time.Minute}, at)

	require.Equal(t, "system df: context deadline exceeded", failed.DiskError)
	require.Nil(t, failed.LastDisk)
	require.Equal(t, StatusOnline, failed.Status, "a failed disk check says nothing about reachability")
	require.Zero(t, failed.ConsecutiveFailures)
	require.Empty(t, failed.LastError)
	require.Contains(t, failed.DetailsMarkdown(), "**Disk error** system df: context deadline exceeded")

	s := queryState(t, env)
	require.Empty(t, s.DiskError, "cleared by the next successful check")
	require.NotNil(t, s.LastDisk)
	require.Len(t, f.statusRecords(), 1)
	require.Equal(t, minutes(0, 5), f.collectTimes())
}

func TestSlowDiskCheckDoesNotDelayMetrics(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	// /system/df takes 25 s (within DiskTimeout + margin).
	env.OnActivity(ActivityCheckDisk, mock.Anything, mock.Anything).After(25 * time.Second).Return(f.checkDisk)
	cancelAt(env, 45*time.Second)
	s := diskSettings(5*time.Minute, time.Hour)
	s.MetricsInterval = 10 * time.Second
	env.ExecuteWorkflow(WorkflowName, input(s))
	requireCanceled(t, env)

	require.Equal(t, seconds(0, 10, 20, 30, 40), f.collectTimes(), "metrics on time while the disk check runs (0–25 s)")
	require.Equal(t, seconds(0), f.diskCheckTimes())
	require.NotNil(t, queryState(t, env).LastDisk)
}

func TestDiskPaused(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	updateAt(t, env, time.Minute, SettingsPatch{Paused: boolp(true)})
	var paused State
	env.RegisterDelayedCallback(func() { paused = queryState(t, env) }, 2*time.Minute)
	out := updateAt(t, env, 20*time.Minute, SettingsPatch{Paused: boolp(false)})
	cancelAt(env, 26*time.Minute)
	env.ExecuteWorkflow(WorkflowName, input(diskSettings(5*time.Minute, time.Hour)))
	requireCanceled(t, env)

	require.True(t, paused.NextDiskAt.IsZero())
	require.Equal(t, t0.Add(20*time.Minute+10*time.Second), out.result.NextDiskAt, "resumed: the first check soon")
	// 0; nothing while paused (1–20 min); with the first cycle after the
	// resume (25 min: the metrics timer re-armed by the resume).
	require.Equal(t, minutes(0, 25), f.diskCheckTimes())
}

func TestNoStatusRecordOnSettingsChange(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	updateAt(t, env, 10*time.Second, SettingsPatch{DiskThresholdPercent: floatp(50), DiskCooldownSeconds: intp(120)})
	updateAt(t, env, 20*time.Second, SettingsPatch{OfflineAfter: intp(1)})
	updateAt(t, env, 30*time.Second, SettingsPatch{Paused: boolp(true)})
	updateAt(t, env, 60*time.Second, SettingsPatch{Paused: boolp(false)})
	updateAt(t, env, 90*time.Second, SettingsPatch{MetricsIntervalSeconds: intp(20), DiskIntervalSeconds: intp(60)})
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalConfigure, SettingsPatch{OfflineAfter: intp(4)})
	}, 100*time.Second)
	cancelAt(env, 3*time.Minute)
	env.ExecuteWorkflow(WorkflowName, input(diskSettings(5*time.Minute, time.Hour)))
	requireCanceled(t, env)

	require.Equal(t, []RecordStatusInput{{EnvironmentID: "0b7f6c1e-env", Online: true, ChangedAt: t0, Previous: StatusUnknown}},
		f.statusRecords(), "only the first transition, whatever the settings changes")
	// Resumed at 60 s (next check at 6 min), then re-armed to 20 s at 90 s.
	require.Equal(t, seconds(0, 110, 130, 150, 170), f.collectTimes())
	// 0; resumed at 60 s (due at 70 s), moved to 150 s by the new interval.
	require.Equal(t, seconds(0, 150), f.diskCheckTimes())
	s := queryState(t, env)
	require.Equal(t, 4, s.Settings.OfflineAfter)
	require.Equal(t, 50.0, s.Settings.DiskThresholdPercent)
}

func floatp(v float64) *float64 { return &v }

func TestDiskSettingsRejected(t *testing.T) {
	f := &fakeEngine{}
	env := newEnv(t, f)
	out := updateAt(t, env, time.Minute, SettingsPatch{DiskIntervalSeconds: intp(10)})
	cancelAt(env, 6*time.Minute)
	env.ExecuteWorkflow(WorkflowName, input(diskSettings(5*time.Minute, time.Hour)))
	requireCanceled(t, env)

	require.False(t, out.accepted)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(out.rejected, &appErr), "got %v", out.rejected)
	require.Equal(t, ErrTypeInvalidSettings, appErr.Type())
	require.Equal(t, "invalid settings: diskInterval must be between 1m0s and 1h0m0s, got 10s", appErr.Message())
	require.Equal(t, minutes(0, 5), f.diskCheckTimes(), "the disk cadence was not touched")
}

func TestDiskDetailsMarkdown(t *testing.T) {
	last := diskUsage(t0, 92*gb, 100*gb)
	last.CapacitySource = "statfs"
	s := State{
		EnvironmentID:     "0b7f6c1e-env",
		Settings:          diskSettings(5*time.Minute, time.Hour),
		Status:            StatusOnline,
		LastDisk:          &last,
		LastDiskCheckAt:   t0,
		LastDiskWarningAt: t0.Add(-10 * time.Minute),
		DiskVerdict:       "92.0 % of 100.0 GB > 80 %; warned at 2036-01-05 08:50:00 UTC, cooldown until 2036-01-05 09:50:00 UTC",
		NextDiskAt:        t0.Add(5 * time.Minute),
	}
	md := s.DetailsMarkdown()
	for _, want := range []string{
		"**Disk** check every 5m · threshold 80 % · cooldown 1h\n",
		"**Last disk usage** 92.0 GB used · 92.0 % of 100.0 GB (statfs) (images 46.0 GB · containers 23.0 GB · volumes 11.5 GB · build cache 11.5 GB)\n",
		"**Last disk check** 2036-01-05 09:00:00 UTC\n",
		"**Disk warning** 92.0 % of 100.0 GB > 80 %; warned at",
		"**Last disk warning** 2036-01-05 08:50:00 UTC · cooldown until 2036-01-05 09:50:00 UTC\n",
		"**Next disk check** 2036-01-05 09:05:00 UTC\n",
	} {
		require.Contains(t, md, want)
	}
	require.NotContains(t, md, "Disk error")

	s.Settings.DiskThresholdMode, s.Settings.DiskThresholdBytes, s.Settings.DiskCapacityBytes = DiskThresholdBytes, 50*gb, 200*gb
	s.DiskError = "engine unreachable"
	md = s.DetailsMarkdown()
	require.Contains(t, md, "**Disk** check every 5m · threshold 50.0 GB · capacity 200.0 GB (configured) · cooldown 1h\n")
	require.Contains(t, md, "**Disk error** engine unreachable\n")

	// Unset disk settings show the defaults.
	require.Contains(t, State{Settings: Settings{MetricsInterval: time.Minute}}.DetailsMarkdown(),
		"**Disk** check every 5m · threshold 80 % · cooldown 1h\n")
}

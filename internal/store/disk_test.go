package store_test

import (
	"errors"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/store"
)

func TestEnvironmentDiskSettings(t *testing.T) {
	t.Parallel()
	b := setup(t)

	// Zero disk settings are stored as their defaults.
	env := b.createEnv(t, "defaults")
	if env.Settings.DiskInterval != 5*time.Minute || env.Settings.DiskTimeout != 20*time.Second || env.Settings.DiskCooldown != time.Hour ||
		env.Settings.DiskThresholdMode != "percent" || env.Settings.DiskThresholdPercent != 80 ||
		env.Settings.DiskThresholdBytes != 50_000_000_000 || env.Settings.DiskCapacityBytes != 0 {
		t.Fatalf("created with zero disk settings: %+v", env)
	}

	// Rows whose settings lack the disk keys get the same defaults.
	id := uuid.New()
	if _, err := b.store.Pool().Exec(b.ctx, `
		INSERT INTO environments (id, name, endpoint, settings)
		VALUES ($1, 'old', 'unix:///var/run/docker.sock', '{"metricsIntervalSeconds": 30, "offlineAfter": 2}')`, id); err != nil {
		t.Fatal(err)
	}
	old, err := b.store.GetEnvironment(b.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	old.ID, old.Name, old.CreatedAt, old.UpdatedAt = env.ID, env.Name, env.CreatedAt, env.UpdatedAt
	old.Settings.EventsEnabled = env.Settings.EventsEnabled // the default is true, validEnvironment's false
	if old != env {
		t.Fatalf("old row = %+v, want the defaults %+v", old, env)
	}

	// Out of range values are rejected.
	tests := []struct {
		name string
		set  func(e *store.Environment)
	}{
		{"interval too short", func(e *store.Environment) { e.Settings.DiskInterval = 59 * time.Second }},
		{"interval too long", func(e *store.Environment) { e.Settings.DiskInterval = time.Hour + time.Second }},
		{"interval fraction", func(e *store.Environment) { e.Settings.DiskInterval = 90*time.Second + time.Millisecond }},
		{"timeout", func(e *store.Environment) { e.Settings.DiskTimeout = 4 * time.Second }},
		{"cooldown", func(e *store.Environment) { e.Settings.DiskCooldown = 25 * time.Hour }},
		{"mode", func(e *store.Environment) { e.Settings.DiskThresholdMode = "sometimes" }},
		{"percent", func(e *store.Environment) { e.Settings.DiskThresholdPercent = 100.5 }},
		{"percent NaN", func(e *store.Environment) { e.Settings.DiskThresholdPercent = math.NaN() }},
		{"bytes", func(e *store.Environment) { e.Settings.DiskThresholdBytes = -5 }},
		{"capacity", func(e *store.Environment) { e.Settings.DiskCapacityBytes = -2 }},
	}
	for _, tt := range tests {
		e := validEnvironment("bad-" + tt.name)
		tt.set(&e)
		if _, err := b.store.CreateEnvironment(b.ctx, e); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: CreateEnvironment error = %v, want ErrInvalid", tt.name, err)
		}
		u := env
		tt.set(&u)
		if _, err := b.store.UpdateEnvironment(b.ctx, u); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: UpdateEnvironment error = %v, want ErrInvalid", tt.name, err)
		}
	}
}

func TestDiskSampleAndWarning(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	ch := b.createChannel(t, "ch", true, nil, nil)
	b.createChannel(t, "no-disk", true, nil, []string{"container_oom"})

	sample := store.DiskSample{
		EnvironmentID: env.ID, CheckAt: baseTime, CheckedAt: baseTime.Add(time.Second),
		ImagesBytes: 1000, ContainersBytes: 200, VolumesBytes: 30, BuildCacheBytes: 4, TotalBytes: 1234,
		CapacityBytes: 2000, CapacitySource: "configured", Percent: 61.7,
	}
	if inserted, err := b.store.InsertDiskSample(b.ctx, sample); err != nil || !inserted {
		t.Fatalf("InsertDiskSample = %v, %v; want true", inserted, err)
	}
	retry := sample
	retry.TotalBytes = 99
	if inserted, err := b.store.InsertDiskSample(b.ctx, retry); err != nil || inserted {
		t.Fatalf("InsertDiskSample again = %v, %v; want false", inserted, err)
	}
	got, err := b.store.GetDiskSample(b.ctx, env.ID, baseTime)
	if err != nil || got != sample {
		t.Fatalf("GetDiskSample = %+v, %v; want %+v", got, err, sample)
	}

	for name, d := range map[string]store.DiskSample{
		"NaN":          {EnvironmentID: env.ID, CheckAt: baseTime.Add(time.Hour), Percent: math.NaN()},
		"Inf":          {EnvironmentID: env.ID, CheckAt: baseTime.Add(time.Hour), Percent: math.Inf(1)},
		"no env":       {CheckAt: baseTime},
		"no check":     {EnvironmentID: env.ID},
		"unknown env*": {EnvironmentID: unknownID, CheckAt: baseTime},
	} {
		want := store.ErrInvalid
		if name == "unknown env*" {
			want = store.ErrNotFound
		}
		if _, err := b.store.InsertDiskSample(b.ctx, d); !errors.Is(err, want) {
			t.Errorf("InsertDiskSample(%s) error = %v, want %v", name, err, want)
		}
	}

	draft := store.NotificationDraft{Kind: "disk_space_warning", Title: "disk", Message: "61.7 % > 50 %"}
	ids, err := b.store.RecordDiskWarning(b.ctx, env.ID, baseTime, draft)
	if err != nil || len(ids) != 1 {
		t.Fatalf("RecordDiskWarning = %v, %v; want one notification", ids, err)
	}
	n, _, err := b.store.GetNotification(b.ctx, ids[0])
	wantKey := "disk:" + env.ID.String() + ":" + strconv.FormatInt(baseTime.UnixNano(), 10) + "/" + ch.ID.String()
	if err != nil || n.DedupKey != wantKey || n.Kind != "disk_space_warning" || n.Message != draft.Message {
		t.Fatalf("notification = %+v, %v; want dedup key %q", n, err, wantKey)
	}
	if ids, err := b.store.RecordDiskWarning(b.ctx, env.ID, baseTime, draft); err != nil || len(ids) != 0 {
		t.Fatalf("RecordDiskWarning again = %v, %v; want no new notification", ids, err)
	}
	if got, _ := b.store.GetDiskSample(b.ctx, env.ID, baseTime); !got.Warned {
		t.Fatal("sample not marked warned")
	}
	if _, err := b.store.RecordDiskWarning(b.ctx, env.ID, baseTime.Add(time.Minute), draft); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RecordDiskWarning(no sample) error = %v, want ErrNotFound", err)
	}
	if _, err := b.store.RecordDiskWarning(b.ctx, env.ID, baseTime, store.NotificationDraft{}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("RecordDiskWarning(no kind) error = %v, want ErrInvalid", err)
	}
	if n := b.count(t, "notifications"); n != 1 {
		t.Fatalf("notifications = %d, want 1", n)
	}
}

func TestDiskSeriesBuckets(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	other := b.createEnv(t, "other")
	from := baseTime

	rows := []struct {
		env    uuid.UUID
		offset time.Duration
		total  int64
		pct    float64
		warned bool
	}{
		{env.ID, -time.Second, 999, 99, false},                    // before from
		{env.ID, 0, 100, 10, false},                               // bucket 0
		{env.ID, 2 * time.Minute, 300, 30, true},                  // bucket 0
		{env.ID, 6 * time.Minute, 500, 50, false},                 // bucket 5m
		{env.ID, 15 * time.Minute, 999, 99, false},                // at to
		{other.ID, time.Minute, 999, 99, true},                    // another environment
		{env.ID, 11 * time.Minute, 700, 70.5, false},              // bucket 10m
		{env.ID, 14*time.Minute + 59*time.Second, 900, 90, false}, // bucket 10m
	}
	for i, r := range rows {
		d := store.DiskSample{
			EnvironmentID: r.env, CheckAt: from.Add(r.offset), CheckedAt: from.Add(r.offset),
			TotalBytes: r.total, ImagesBytes: r.total / 2, CapacityBytes: 1000, Percent: r.pct, Warned: r.warned,
		}
		if _, err := b.store.InsertDiskSample(b.ctx, d); err != nil {
			t.Fatalf("InsertDiskSample row %d: %v", i, err)
		}
	}
	got, err := b.store.DiskSeries(b.ctx, env.ID, from, from.Add(15*time.Minute), 5*time.Minute)
	if err != nil {
		t.Fatalf("DiskSeries: %v", err)
	}
	want := []store.DiskPoint{
		{Time: from, TotalBytes: 200, CapacityBytes: 1000, Percent: 20, ImagesBytes: 100, Samples: 2, Warned: true},
		{Time: from.Add(5 * time.Minute), TotalBytes: 500, CapacityBytes: 1000, Percent: 50, ImagesBytes: 250, Samples: 1},
		{Time: from.Add(10 * time.Minute), TotalBytes: 800, CapacityBytes: 1000, Percent: 80.25, ImagesBytes: 400, Samples: 2},
	}
	if len(got) != len(want) {
		t.Fatalf("DiskSeries = %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.Time.Equal(w.Time) || g.TotalBytes != w.TotalBytes || g.CapacityBytes != w.CapacityBytes ||
			math.Abs(g.Percent-w.Percent) > 1e-9 || g.ImagesBytes != w.ImagesBytes || g.Samples != w.Samples || g.Warned != w.Warned {
			t.Fatalf("point %d = %+v, want %+v", i, g, w)
		}
	}
	if _, err := b.store.DiskSeries(b.ctx, env.ID, from, from.Add(time.Hour), 0); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("DiskSeries(step 0) error = %v, want ErrInvalid", err)
	}
	if got, err := b.store.DiskSeries(b.ctx, unknownID, from, from.Add(time.Hour), time.Minute); err != nil || len(got) != 0 {
		t.Fatalf("DiskSeries(unknown) = %v, %v", got, err)
	}
}

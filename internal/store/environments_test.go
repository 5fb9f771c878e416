package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/settings"
	"github.com/windflow/monitor/internal/store"
)

func TestEnvironmentCRUD(t *testing.T) {
	t.Parallel()
	b := setup(t)

	want := store.Environment{
		Name:     "prod",
		Endpoint: "tcp://docker.internal:2376",
		Settings: settings.Settings{
			MetricsInterval: 45 * time.Second,
			CollectMetrics:  true,
			Paused:          false,
			OfflineAfter:    3,
			EventsEnabled:   true,
			EventMode:       "poll",
			PollInterval:    90 * time.Second,

			DiskInterval:         10 * time.Minute,
			DiskTimeout:          30 * time.Second,
			DiskCooldown:         2 * time.Hour,
			DiskThresholdMode:    "bytes",
			DiskThresholdPercent: 91.5,
			DiskThresholdBytes:   1 << 40,
			DiskCapacityBytes:    -1,
		},
	}
	created, err := b.store.CreateEnvironment(b.ctx, want)
	if err != nil {
		t.Fatalf("CreateEnvironment: %v", err)
	}
	if created.ID == uuid.Nil {
		t.Fatal("CreateEnvironment left the ID zero")
	}
	if created.CreatedAt.IsZero() || !created.UpdatedAt.Equal(created.CreatedAt) {
		t.Fatalf("timestamps: created %v, updated %v", created.CreatedAt, created.UpdatedAt)
	}
	want.ID, want.CreatedAt, want.UpdatedAt = created.ID, created.CreatedAt, created.UpdatedAt
	want.Version = 1
	if created != want {
		t.Fatalf("CreateEnvironment returned %+v, want %+v", created, want)
	}

	got, err := b.store.GetEnvironment(b.ctx, created.ID)
	if err != nil {
		t.Fatalf("GetEnvironment: %v", err)
	}
	if got != created {
		t.Fatalf("GetEnvironment = %+v, want %+v", got, created)
	}
	got, err = b.store.GetEnvironmentByName(b.ctx, "prod")
	if err != nil {
		t.Fatalf("GetEnvironmentByName: %v", err)
	}
	if got != created {
		t.Fatalf("GetEnvironmentByName = %+v, want %+v", got, created)
	}

	update := created
	update.Name = "production"
	update.Endpoint = "unix:///var/run/docker.sock"
	update.Settings.MetricsInterval = 5 * time.Minute
	update.Settings.CollectMetrics = false
	update.Settings.Paused = true
	update.Settings.OfflineAfter = 20
	update.Settings.EventsEnabled = false
	update.Settings.EventMode = "stream"
	update.Settings.PollInterval = 5 * time.Minute
	update.Settings.DiskInterval, update.Settings.DiskTimeout, update.Settings.DiskCooldown = time.Hour, 2*time.Minute, 24*time.Hour
	update.Settings.DiskThresholdMode, update.Settings.DiskThresholdPercent = "off", 1
	update.Settings.DiskThresholdBytes, update.Settings.DiskCapacityBytes = 1, 1<<50
	updated, err := b.store.UpdateEnvironment(b.ctx, update)
	if err != nil {
		t.Fatalf("UpdateEnvironment: %v", err)
	}
	if updated.UpdatedAt.Before(created.UpdatedAt) || !updated.CreatedAt.Equal(created.CreatedAt) {
		t.Fatalf("timestamps after update: created %v, updated %v", updated.CreatedAt, updated.UpdatedAt)
	}
	update.UpdatedAt = updated.UpdatedAt
	update.Version = 2
	if updated != update {
		t.Fatalf("UpdateEnvironment returned %+v, want %+v", updated, update)
	}
	if _, err := b.store.GetEnvironmentByName(b.ctx, "prod"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetEnvironmentByName(old name) error = %v, want ErrNotFound", err)
	}

	if err := b.store.DeleteEnvironment(b.ctx, created.ID); err != nil {
		t.Fatalf("DeleteEnvironment: %v", err)
	}
	if _, err := b.store.GetEnvironment(b.ctx, created.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetEnvironment after delete error = %v, want ErrNotFound", err)
	}
	if n := b.count(t, "environments"); n != 0 {
		t.Fatalf("%d environments left after delete", n)
	}
}

func TestCreateEnvironmentKeepsGivenID(t *testing.T) {
	t.Parallel()
	b := setup(t)

	e := validEnvironment("given-id")
	e.ID = uuid.New()
	created, err := b.store.CreateEnvironment(b.ctx, e)
	if err != nil {
		t.Fatalf("CreateEnvironment: %v", err)
	}
	if created.ID != e.ID {
		t.Fatalf("ID = %s, want %s", created.ID, e.ID)
	}
}

func TestListEnvironmentsOrderedByName(t *testing.T) {
	t.Parallel()
	b := setup(t)

	envs, err := b.store.ListEnvironments(b.ctx)
	if err != nil {
		t.Fatalf("ListEnvironments (empty): %v", err)
	}
	if envs == nil || len(envs) != 0 {
		t.Fatalf("ListEnvironments (empty) = %#v, want an empty non-nil slice", envs)
	}

	for _, name := range []string{"charlie", "alpha", "bravo"} {
		b.createEnv(t, name)
	}
	envs, err = b.store.ListEnvironments(b.ctx)
	if err != nil {
		t.Fatalf("ListEnvironments: %v", err)
	}
	var names []string
	for _, e := range envs {
		names = append(names, e.Name)
	}
	if got := strings.Join(names, ","); got != "alpha,bravo,charlie" {
		t.Fatalf("ListEnvironments names = %s, want alpha,bravo,charlie", got)
	}
}

func TestEnvironmentErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := b.createEnv(t, "first")
	second := b.createEnv(t, "second")

	renamed := second
	renamed.Name = "first"
	missing := validEnvironment("missing")
	missing.ID = unknownID

	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"create with a taken name", func() error {
			_, err := b.store.CreateEnvironment(b.ctx, validEnvironment("first"))
			return err
		}, store.ErrNameTaken},
		{"update to a taken name", func() error {
			_, err := b.store.UpdateEnvironment(b.ctx, renamed)
			return err
		}, store.ErrNameTaken},
		{"update a missing environment", func() error {
			_, err := b.store.UpdateEnvironment(b.ctx, missing)
			return err
		}, store.ErrNotFound},
		{"get a missing environment", func() error {
			_, err := b.store.GetEnvironment(b.ctx, unknownID)
			return err
		}, store.ErrNotFound},
		{"get a missing name", func() error {
			_, err := b.store.GetEnvironmentByName(b.ctx, "nope")
			return err
		}, store.ErrNotFound},
		{"delete a missing environment", func() error {
			return b.store.DeleteEnvironment(b.ctx, unknownID)
		}, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
		})
	}

	// The failed writes changed nothing.
	if got, err := b.store.GetEnvironment(b.ctx, second.ID); err != nil || got != second {
		t.Fatalf("second after failed rename = %+v, %v; want %+v", got, err, second)
	}
	if got, err := b.store.GetEnvironment(b.ctx, first.ID); err != nil || got != first {
		t.Fatalf("first = %+v, %v; want %+v", got, err, first)
	}
}

func TestEnvironmentInvalidSettings(t *testing.T) {
	t.Parallel()
	b := setup(t)

	tests := []struct {
		name   string
		modify func(*store.Environment)
	}{
		{"empty name", func(e *store.Environment) { e.Name = "" }},
		{"name over 100 characters", func(e *store.Environment) { e.Name = strings.Repeat("é", 101) }},
		{"empty endpoint", func(e *store.Environment) { e.Endpoint = "" }},
		{"interval below 10s", func(e *store.Environment) { e.Settings.MetricsInterval = 9 * time.Second }},
		{"interval above 300s", func(e *store.Environment) { e.Settings.MetricsInterval = 301 * time.Second }},
		{"interval not whole seconds", func(e *store.Environment) { e.Settings.MetricsInterval = 30500 * time.Millisecond }},
		{"interval beyond int32 seconds", func(e *store.Environment) { e.Settings.MetricsInterval = 1 << 62 }},
		{"offline after 0", func(e *store.Environment) { e.Settings.OfflineAfter = 0 }},
		{"offline after 21", func(e *store.Environment) { e.Settings.OfflineAfter = 21 }},
		{"unknown event mode", func(e *store.Environment) { e.Settings.EventMode = "push" }},
		{"poll interval below 30s", func(e *store.Environment) { e.Settings.PollInterval = 29 * time.Second }},
		{"poll interval above 300s", func(e *store.Environment) { e.Settings.PollInterval = 301 * time.Second }},
		{"poll interval not whole seconds", func(e *store.Environment) { e.Settings.PollInterval = 30500 * time.Millisecond }},
	}
	existing := b.createEnv(t, "existing")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := validEnvironment("new")
			tt.modify(&e)
			if _, err := b.store.CreateEnvironment(b.ctx, e); !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("CreateEnvironment error = %v, want ErrInvalid", err)
			}
			u := existing
			tt.modify(&u)
			if _, err := b.store.UpdateEnvironment(b.ctx, u); !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("UpdateEnvironment error = %v, want ErrInvalid", err)
			}
		})
	}
	if n := b.count(t, "environments"); n != 1 {
		t.Fatalf("%d environments stored, want only the existing one", n)
	}

	// The bounds themselves are valid.
	e := validEnvironment(strings.Repeat("é", 100))
	e.Settings.MetricsInterval, e.Settings.OfflineAfter = 10*time.Second, 1
	if _, err := b.store.CreateEnvironment(b.ctx, e); err != nil {
		t.Fatalf("CreateEnvironment at the lower bounds: %v", err)
	}
}

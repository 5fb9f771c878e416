package store_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/windflow/monitor/internal/settings"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
)

// TestNotificationsMigrationDown rolls 00004 back and applies it again, on a
// schema holding data of every table it touches.
func TestNotificationsMigrationDown(t *testing.T) {
	t.Parallel()
	databaseURL := storetest.NewSchema(t)
	ctx := t.Context()
	s, err := store.Open(ctx, databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	env, err := s.CreateEnvironment(ctx, store.Environment{Name: "env", Endpoint: "unix:///var/run/docker.sock",
		Settings: settings.Settings{MetricsInterval: 30e9, OfflineAfter: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateChannel(ctx, store.Channel{Name: "ch", URL: "ntfy://ntfy.sh/x", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.RecordStatus(ctx, store.StatusChange{EnvironmentID: env.ID, ChangedAt: env.CreatedAt},
		&store.NotificationDraft{Kind: "environment_offline"}); err != nil {
		t.Fatal(err)
	}

	provider := migrationProvider(t, databaseURL)
	if _, err := provider.DownTo(context.WithoutCancel(ctx), 3); err != nil {
		t.Fatalf("down to 3: %v", err)
	}
	if got, err := s.GetEnvironment(ctx, env.ID); err == nil {
		t.Fatalf("GetEnvironment after down = %+v: the disk columns should be gone", got)
	}
	if _, err := provider.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if got, err := s.GetEnvironment(ctx, env.ID); err != nil || got.Settings.DiskInterval != settings.DefaultDiskInterval {
		t.Fatalf("GetEnvironment after up = %+v, %v", got, err)
	}
}

// migrationProvider is a goose provider of the store's migrations (the
// files embedded by the store, read from the package directory) on the
// database at databaseURL, for tests that go down and up again; it is
// closed when the test ends.
func migrationProvider(t *testing.T, databaseURL string) *goose.Provider {
	t.Helper()
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { _ = db.Close() })
	provider, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS("migrations"), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	return provider
}

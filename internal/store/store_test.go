package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/settings"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
)

// testBundle holds what a test of the store works with: a store on a fresh,
// migrated schema of its own.
type testBundle struct {
	ctx   context.Context
	url   string // database URL whose search_path is the test's schema
	store *store.Store
}

// setup creates an isolated migrated schema and opens a Store on it. Both are
// closed and dropped when the test ends.
func setup(t testing.TB) *testBundle {
	t.Helper()
	databaseURL := storetest.NewSchema(t)
	ctx := t.Context()
	s, err := store.Open(ctx, databaseURL)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close) // runs before the schema is dropped
	return &testBundle{ctx: ctx, url: databaseURL, store: s}
}

// createEnv stores a valid environment with the given name.
func (b *testBundle) createEnv(t *testing.T, name string) store.Environment {
	t.Helper()
	e, err := b.store.CreateEnvironment(b.ctx, validEnvironment(name))
	if err != nil {
		t.Fatalf("CreateEnvironment(%q): %v", name, err)
	}
	return e
}

// count returns the number of rows of a table of the test's schema.
func (b *testBundle) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := b.store.Pool().QueryRow(b.ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// validEnvironment returns an environment that passes every check.
func validEnvironment(name string) store.Environment {
	return store.Environment{
		Name:     name,
		Endpoint: "unix:///var/run/docker.sock",
		Settings: settings.Settings{MetricsInterval: 30 * time.Second, CollectMetrics: true, OfflineAfter: 2},
	}
}

func TestOpenAndPing(t *testing.T) {
	t.Parallel()
	b := setup(t)

	if err := b.store.Ping(b.ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if b.store.Pool() == nil {
		t.Fatal("Pool() is nil")
	}
	var schema string
	if err := b.store.Pool().QueryRow(b.ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatalf("current_schema: %v", err)
	}
	if len(schema) < len("test_") || schema[:5] != "test_" {
		t.Fatalf("pool runs in schema %q, want the test's schema", schema)
	}
}

func TestOpenBadURL(t *testing.T) {
	t.Parallel()
	if _, err := store.Open(t.Context(), "postgres://%zz"); err == nil {
		t.Fatal("Open with an unparsable URL: want an error")
	}
}

// unknownID is an environment ID that no test creates.
var unknownID = uuid.MustParse("00000000-0000-4000-8000-000000000001")

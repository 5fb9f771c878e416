package store_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
)

// storeTables are the tables the migrations create, goose's included.
var storeTables = []string{"goose_db_version", "environments", "host_metrics", "container_metrics", "environment_status",
	"container_events", "event_cursors", "event_gaps",
	"disk_usage", "notification_channels", "notifications", "notification_attempts", "windflow_instance",
	"host_metrics_1m", "host_metrics_1h", "container_metrics_1m", "container_metrics_1h",
	"alert_rules", "alerts"}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t) // migrated once already

	before := b.count(t, "goose_db_version")
	for range 2 {
		if err := store.Migrate(b.ctx, b.url); err != nil {
			t.Fatalf("Migrate again: %v", err)
		}
	}
	if after := b.count(t, "goose_db_version"); after != before {
		t.Fatalf("goose_db_version rows: %d after re-running, want %d", after, before)
	}
	for _, table := range storeTables {
		_ = b.count(t, table) // fails the test when the table is missing
	}
}

func TestMigrateHonoursOptionsSearchPath(t *testing.T) {
	t.Parallel()
	baseURL, schema, conn := emptySchema(t)
	withOptions := optionsSearchPath(t, baseURL, schema)
	// public may hold a migrated database of its own (make dev): it must not change.
	publicBefore := tablesIn(t, conn, "public")
	if err := store.Migrate(t.Context(), withOptions); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if n := tablesIn(t, conn, schema); n != len(storeTables) {
		t.Fatalf("schema %s has %d of the %d tables", schema, n, len(storeTables))
	}
	if n := tablesIn(t, conn, "public"); n != publicBefore {
		t.Fatalf("public has %d of the store's tables after migrating %s, had %d", n, schema, publicBefore)
	}
}

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	baseURL, schema, conn := emptySchema(t)
	databaseURL, err := storetest.WithSearchPath(baseURL, schema)
	if err != nil {
		t.Fatal(err)
	}

	// Processes starting together (API and worker) take turns.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { errs[i] = store.Migrate(t.Context(), databaseURL) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Migrate %d: %v", i, err)
		}
	}
	if n := tablesIn(t, conn, schema); n != len(storeTables) {
		t.Fatalf("schema %s has %d of the %d tables", schema, n, len(storeTables))
	}
}

func TestMigrateMissingSchema(t *testing.T) {
	t.Parallel()
	databaseURL, err := storetest.WithSearchPath(storetest.DatabaseURL(t), "test_does_not_exist")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Migrate(t.Context(), databaseURL); err == nil {
		t.Fatal("Migrate into a missing schema: want an error")
	}
}

// emptySchema creates an unmigrated schema dropped when the test ends, and
// returns DATABASE_URL, the schema's name and a connection to the database.
func emptySchema(t *testing.T) (baseURL, schema string, conn *pgx.Conn) {
	t.Helper()
	baseURL = storetest.DatabaseURL(t)
	schema = "test_empty_" + strings.ToLower(rand.Text()[:12])
	ctx := context.Background() // also used by cleanups, after the test's context ends

	conn, err := pgx.Connect(ctx, baseURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(ctx) })
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() { // runs before conn is closed
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	return baseURL, schema, conn
}

// tablesIn counts the store's tables in a schema.
func tablesIn(t *testing.T, conn *pgx.Conn, schema string) int {
	t.Helper()
	var n int
	err := conn.QueryRow(t.Context(), `
		SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = ANY($2)`,
		schema, storeTables).Scan(&n)
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	return n
}

// optionsSearchPath returns databaseURL with the libpq options parameter
// setting search_path to schema, in the form databaseURL is written in: a
// postgres:// URL or a key=value string.
func optionsSearchPath(t *testing.T, databaseURL, schema string) string {
	t.Helper()
	if !strings.HasPrefix(databaseURL, "postgres://") && !strings.HasPrefix(databaseURL, "postgresql://") {
		return databaseURL + " options='-csearch_path=" + schema + "'"
	}
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("options", "-csearch_path="+schema)
	u.RawQuery = q.Encode() // options=-csearch_path%3D...
	return u.String()
}

// The options form works on both ways of writing DATABASE_URL.
func TestMigrateHonoursOptionsSearchPathKeyValue(t *testing.T) {
	t.Parallel()
	baseURL, schema, conn := emptySchema(t)
	cfg, err := pgx.ParseConfig(baseURL)
	if err != nil {
		t.Fatal(err)
	}
	kv := fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", cfg.Host, cfg.Port, cfg.User, cfg.Database)
	if cfg.Password != "" {
		kv += " password='" + cfg.Password + "'"
	}
	if err := store.Migrate(t.Context(), optionsSearchPath(t, kv, schema)); err != nil {
		t.Fatalf("Migrate with a key=value DATABASE_URL: %v", err)
	}
	if n := tablesIn(t, conn, schema); n != len(storeTables) {
		t.Fatalf("schema %s has %d of the %d tables", schema, n, len(storeTables))
	}
}

// Package storetest gives tests an isolated, migrated PostgreSQL schema.
//
// Tests find the server through DATABASE_URL. When it is unset they are
// skipped, unless WINDFLOW_REQUIRE_STACK=1, in which case they fail.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/windflow/monitor/internal/store"
)

// setupTimeout bounds the creation, migration and removal of a schema.
const setupTimeout = 2 * time.Minute

// DatabaseURL returns DATABASE_URL. When it is unset the test is skipped, or
// fails if WINDFLOW_REQUIRE_STACK=1.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping a test that needs PostgreSQL")
	}
	databaseURL := os.Getenv("DATABASE_URL")
	if databaseURL == "" {
		if os.Getenv("WINDFLOW_REQUIRE_STACK") == "1" {
			t.Fatal("DATABASE_URL is not set and WINDFLOW_REQUIRE_STACK=1")
		}
		t.Skip("DATABASE_URL is not set: skipping a test that needs PostgreSQL")
	}
	return databaseURL
}

// NewSchema creates a schema named test_<random> in the DATABASE_URL
// database, migrates it and returns a database URL whose search_path is that
// schema. The schema and everything in it are dropped when the test ends.
func NewSchema(t testing.TB) (databaseURL string) {
	t.Helper()
	baseURL := DatabaseURL(t)
	schema := "test_" + randomHex(t, 8)

	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	exec(ctx, t, baseURL, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	t.Cleanup(func() {
		// The test's context is already canceled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		exec(ctx, t, baseURL, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})

	databaseURL, err := WithSearchPath(baseURL, schema)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	if err := store.Migrate(ctx, databaseURL); err != nil {
		t.Fatalf("storetest: migrate schema %s: %v", schema, err)
	}
	return databaseURL
}

// WithSearchPath returns databaseURL with its search_path set to schema. It
// accepts both URLs (postgres://...) and key=value connection strings.
func WithSearchPath(databaseURL, schema string) (string, error) {
	if !strings.HasPrefix(databaseURL, "postgres://") && !strings.HasPrefix(databaseURL, "postgresql://") {
		return databaseURL + " search_path=" + schema, nil
	}
	u, err := url.Parse(databaseURL)
	if err != nil {
		return "", fmt.Errorf("parse database URL: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// exec runs one statement on a connection of its own.
func exec(ctx context.Context, t testing.TB, databaseURL, sql string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		t.Fatalf("storetest: connect: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("storetest: %s: %v", sql, err)
	}
}

// randomHex returns n random bytes as hex.
func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("storetest: random schema name: %v", err)
	}
	return hex.EncodeToString(b)
}

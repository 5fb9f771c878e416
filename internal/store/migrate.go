package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrate applies the embedded migrations that the database at databaseURL
// does not have yet. It is idempotent and safe to run from several processes
// at once: they take turns through an advisory lock.
//
// Everything, goose's version table included, goes into the current schema,
// the first existing schema of the search_path. A search_path given in the
// URL (search_path=NAME or options=-csearch_path=NAME) is honoured, so tests
// can migrate an isolated schema; that schema must already exist.
func Migrate(ctx context.Context, databaseURL string) error {
	connCfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return fmt.Errorf("store: migrate: parse database URL: %w", err)
	}
	db := stdlib.OpenDB(*connCfg)
	defer db.Close()

	schema, err := currentSchema(ctx, db)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	// One lock per schema, so isolated test schemas migrate side by side
	// while two processes migrating the same schema take turns.
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(migrationLockID(schema)),
		lock.WithLockTimeout(1, 300),
	)
	if err != nil {
		return fmt.Errorf("store: migrate: create locker: %w", err)
	}
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("store: migrate: open embedded migrations: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, migrations,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return fmt.Errorf("store: migrate: create provider: %w", err)
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate schema %q: %w", schema, err)
	}
	return nil
}

// currentSchema returns the schema new tables go into. It fails when no
// schema of the search_path exists.
func currentSchema(ctx context.Context, db *sql.DB) (string, error) {
	var schema sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return "", fmt.Errorf("read current schema: %w", err)
	}
	if !schema.Valid || schema.String == "" {
		return "", errors.New("no schema of the search_path exists")
	}
	return schema.String, nil
}

// migrationLockID derives the advisory lock key of a schema's migrations.
func migrationLockID(schema string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("windflow-monitor/migrate/" + schema))
	return int64(h.Sum64() >> 1) // positive, so it reads well in pg_locks
}

// Package store keeps the monitor's data in PostgreSQL: the watched
// environments, the metrics collected from them and their online/offline
// history. Its schema is created by Migrate from embedded SQL migrations.
package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotFound is returned when the requested row does not exist, or when a
// row refers to an environment that does not exist.
var ErrNotFound = errors.New("not found")

// ErrNameTaken is returned when an environment name is already used by
// another environment.
var ErrNameTaken = errors.New("name already taken")

// ErrInvalid is returned when a value is rejected before or by the database:
// a NaN or infinite float, a missing key, or a setting out of range.
var ErrInvalid = errors.New("invalid value")

// PostgreSQL error codes mapped to this package's errors.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeCheckViolation      = "23514"
)

// Store reads and writes the monitor's data through a connection pool. It is
// safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	// schema is the schema holding the store's tables; it names the NOTIFY
	// channels and keys the advisory locks, so that schemas sharing a
	// database (parallel tests) stay apart.
	schema string
}

// Open connects a pool to the database at databaseURL and pings it. A
// search_path given in the URL applies to every connection of the pool.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("store: parse database URL: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: create pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: ping database: %w", err)
	}
	schema, err := tablesSchema(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	return &Store{pool: pool, schema: schema}, nil
}

// tablesSchema returns the schema of the store's tables: the schema of
// container_events as the search_path resolves it, or, before the migrations
// ran, the schema they will create it in (the current schema).
func tablesSchema(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	var schema *string
	err := pool.QueryRow(ctx, `
		SELECT coalesce(
			(SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			 WHERE c.oid = to_regclass('container_events')),
			current_schema())`).Scan(&schema)
	if err != nil {
		return "", fmt.Errorf("read the current schema: %w", err)
	}
	if schema == nil || *schema == "" {
		return "", errors.New("no schema of the search_path exists")
	}
	return *schema, nil
}

// Close closes every connection of the pool. It waits for connections in use
// to be released.
func (s *Store) Close() {
	s.pool.Close()
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("store: ping database: %w", err)
	}
	return nil
}

// Pool returns the underlying connection pool, for callers that need to run
// their own queries (health checks, tests).
func (s *Store) Pool() *pgxpool.Pool {
	return s.pool
}

// Tables whose rows are appended in id order: see inAppendTx.
const (
	appendContainerEvents   = "container_events"
	appendEnvironmentStatus = "environment_status"
)

// inAppendTx runs fn in a transaction that holds, until it ends, the
// advisory lock of appends to table (per schema). Writers of a table whose
// rows are read in id order by followers (the live stream resumes "after id
// N") take it around their inserts, so that ids become visible in the order
// they were assigned: without it a transaction could commit id 11 while id 10
// is still in flight, and a follower that moved past 11 would never see 10.
// The lock is held for one short insert; readers never take it.
func (s *Store) inAppendTx(ctx context.Context, table string, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, s.appendLockID(table)); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// appendLockID derives the advisory lock key of the appends to a table of
// the store's schema.
func (s *Store) appendLockID(table string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("windflow-monitor/append/" + s.schema + "." + table))
	return int64(h.Sum64() >> 1)
}

// pgErrorCode returns the SQLSTATE of err when it is a PostgreSQL error, and
// its constraint name.
func pgErrorCode(err error) (code, constraint string) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code, pgErr.ConstraintName
	}
	return "", ""
}

// wrapWriteError wraps an error of a write as ErrNotFound (unknown
// environment), ErrInvalid (check violation) or plainly, keeping the original
// error in the chain.
func wrapWriteError(op string, err error) error {
	code, constraint := pgErrorCode(err)
	switch code {
	case codeForeignKeyViolation:
		return fmt.Errorf("store: %s: environment %w: %w", op, ErrNotFound, err)
	case codeCheckViolation:
		return fmt.Errorf("store: %s: %w (%s): %w", op, ErrInvalid, constraint, err)
	default:
		return fmt.Errorf("store: %s: %w", op, err)
	}
}

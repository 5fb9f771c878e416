// Package store keeps the monitor's data in PostgreSQL: the watched
// environments, the metrics collected from them and their online/offline
// history. Its schema is created by Migrate from embedded SQL migrations.
package store

import (
	"context"
	"errors"
	"fmt"

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
	return &Store{pool: pool}, nil
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

// Package store keeps the monitor's data in PostgreSQL: the watched
// environments, the metrics collected from them and their online/offline
// history. Its schema is created by Migrate from embedded SQL migrations.
package store

import (
	"context"
	"errors"
	"fmt"

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

// ErrUnknownChannel is returned when an alert rule names a notification
// channel that does not exist.
var ErrUnknownChannel = errors.New("unknown notification channel")

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
	// channels, so that schemas sharing a database (parallel tests) stay
	// apart.
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

// Following container_events and environment_status.
//
// Followers (the live stream) read these tables "after a position" and must
// never skip a row. An id alone cannot be a position: ids are taken at
// insert, not at commit, so id 11 may be visible while id 10 is in flight.
// Every row therefore records the transaction that wrote it (tx_id, default
// pg_current_xact_id()), and a follower reads in (tx_id, id) order only the
// rows whose tx_id is below its statement's horizon
// pg_snapshot_xmin(pg_current_snapshot()): every transaction below it has
// ended, and every one still running has a tx_id at or above it. Writers take
// no lock. The price: a long transaction anywhere in the cluster delays live
// delivery until it ends (nothing is lost or reordered). Rows stored before
// migration 00007 have tx_id 0 and come first, in id order.

// StreamPosition is a place in the follow order (TxID, ID) of
// container_events or of environment_status: a follower has seen every row
// at or before it. The zero position is before every row.
type StreamPosition struct {
	// TxID is the writing transaction of the row (xid8, epoch included).
	TxID uint64
	// ID is the row's ID.
	ID int64
}

// Less tells whether p comes before q in follow order.
func (p StreamPosition) Less(q StreamPosition) bool {
	return p.TxID < q.TxID || (p.TxID == q.TxID && p.ID < q.ID)
}

// StreamHead is where a follower starts when it wants only the rows stored
// from now on (see Store.StreamHead).
type StreamHead struct {
	// Position is (horizon, 0): every row of a transaction below the
	// horizon is already visible, and so counts as "before now".
	Position StreamPosition
	// Snapshot, when not empty, is the text of the snapshot taken with
	// Position (a pg_snapshot): rows of transactions at or above the horizon
	// that were already committed then are in it, and are skipped by a
	// FollowQuery that carries it. Empty when no transaction was running.
	Snapshot string
}

// FollowQuery is a follower's read of what is new after its position.
type FollowQuery struct {
	// After is the position of the last row seen.
	After StreamPosition
	// Skip, when not empty, is a StreamHead's Snapshot: rows already visible
	// in it are skipped (they were stored before the follower started).
	Skip string
	// Limit is clamped to 1..500; 0 means 100.
	Limit int
	// Horizon, when not 0, is the horizon to read below instead of the
	// statement's own: a StreamHead's Position.TxID taken earlier (an older
	// horizon is safe: every transaction below it had ended then). A
	// follower of both tables reads them below one horizon, so that a row
	// of one table is never delivered before a row of the other that was
	// committed before it (the horizon may move between two statements).
	Horizon uint64
}

// StreamHead returns where a follower of container_events and
// environment_status that wants only the rows stored from now on starts.
// It holds for both tables.
func (s *Store) StreamHead(ctx context.Context) (StreamHead, error) {
	var (
		xmin, xmax uint64
		snapshot   string
	)
	err := s.pool.QueryRow(ctx, `
		SELECT pg_snapshot_xmin(snap), pg_snapshot_xmax(snap), snap::text
		FROM pg_current_snapshot() AS snap`).Scan(&xmin, &xmax, &snapshot)
	if err != nil {
		return StreamHead{}, fmt.Errorf("store: stream head: %w", err)
	}
	head := StreamHead{Position: StreamPosition{TxID: xmin}}
	if xmin != xmax {
		// Transactions at or above the horizon may have committed already:
		// remember which, so that their rows are not replayed.
		head.Snapshot = snapshot
	}
	return head, nil
}

// followHorizon is the horizon of a follower's read, as a scalar subquery
// that PostgreSQL evaluates once per statement (an index bound).
const followHorizon = `(SELECT pg_snapshot_xmin(pg_current_snapshot()))`

// follow reads up to q.Limit rows of table after q.After in follow order,
// below the horizon; scan reads tx_id, then columns, and pos gives a row's
// position. When it returns fewer rows than the limit, held tells whether
// committed rows after the last one returned are visible now all the same:
// rows held back by the horizon (a transaction older than theirs still
// runs) or rows whose older transactions ended between the two reads. The
// follower should read again soon: the end of that older transaction may
// wake nobody.
func follow[T any](ctx context.Context, s *Store, table, columns string, q FollowQuery,
	scan pgx.RowToFunc[T], pos func(T) StreamPosition) (got []T, held bool, err error) {
	var skip *string
	if q.Skip != "" {
		skip = &q.Skip
	}
	var horizon *uint64
	if q.Horizon != 0 {
		horizon = &q.Horizon
	}
	limit := clampLimit(q.Limit)
	rows, _ := s.pool.Query(ctx, `
		SELECT tx_id, `+columns+`
		FROM `+table+`
		WHERE (tx_id, id) > ($1::xid8, $2::bigint) AND tx_id < COALESCE($5::xid8, `+followHorizon+`)
			AND ($3::text IS NULL OR NOT pg_visible_in_snapshot(tx_id, $3::text::pg_snapshot))
		ORDER BY tx_id, id
		LIMIT $4`,
		q.After.TxID, q.After.ID, skip, limit, horizon)
	got, err = pgx.CollectRows(rows, scan)
	if err != nil {
		return nil, false, err
	}
	if len(got) < limit {
		// Not "tx_id >= horizon": the horizon of this second statement may
		// have moved past rows that the first one held back.
		last := q.After
		if len(got) > 0 {
			last = pos(got[len(got)-1])
		}
		err = s.pool.QueryRow(ctx, `
			SELECT EXISTS (
				SELECT 1 FROM `+table+`
				WHERE (tx_id, id) > ($1::xid8, $2::bigint)
					AND ($3::text IS NULL OR NOT pg_visible_in_snapshot(tx_id, $3::text::pg_snapshot)))`,
			last.TxID, last.ID, skip).Scan(&held)
		if err != nil {
			return nil, false, err
		}
	}
	return got, held, nil
}

// positionAfterID translates "every row of table with an id greater than id"
// (the live stream's former cursor) into a position that skips none of
// them: just before the first such row in follow order, or the horizon when
// no such row is visible yet (every row not visible yet will have a tx_id at
// or above it). Rows with a smaller id that come later in follow order are
// delivered again; for the rows stored before migration 00007 (tx_id 0, id
// order) the translation is exact. Id 0 gives the start of the table.
func (s *Store) positionAfterID(ctx context.Context, table string, id int64) (StreamPosition, error) {
	var p StreamPosition
	err := s.pool.QueryRow(ctx, `
		WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS horizon)
		SELECT tx_id, id - 1 FROM (
			(SELECT tx_id, id FROM `+table+`, h
			 WHERE id > $1 AND tx_id < h.horizon
			 ORDER BY tx_id, id LIMIT 1)
			UNION ALL
			SELECT horizon, 1 FROM h
		) AS first
		ORDER BY tx_id, id
		LIMIT 1`, id).Scan(&p.TxID, &p.ID)
	if err != nil {
		return StreamPosition{}, err
	}
	return p, nil
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

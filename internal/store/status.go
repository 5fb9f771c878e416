package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// StatusChange is one online/offline transition of an environment.
type StatusChange struct {
	// ID is set by the database; it grows in the order transitions are
	// inserted, which is not the order their transactions commit in.
	ID int64
	// TxID is the transaction that stored the transition: (TxID, ID) is its
	// place in follow order (StreamPosition). Only StatusChangesAfter sets
	// it.
	TxID uint64
	// EnvironmentID and ChangedAt identify the transition: recording the same
	// pair twice (a retried activity) stores it once.
	EnvironmentID uuid.UUID
	// Online tells whether the engine became reachable or unreachable.
	Online bool
	// Error is the failure that made the engine offline, empty when online.
	Error string
	// ChangedAt is the workflow time of the transition.
	ChangedAt time.Time
}

// RecordStatus stores one transition and, when the transition is new and
// draft is not nil, the notifications of draft for every matching channel,
// in the same transaction (see NotificationDraft; the default cause key is
// "status:<env>:<ChangedAt Unix ns>"). When the transition of
// (EnvironmentID, ChangedAt) is already stored nothing is written, inserted
// is false and no notification is created. notificationIDs are the IDs of
// the notifications created, for the caller to start their delivery after
// the commit. An unknown environment gives ErrNotFound.
func (s *Store) RecordStatus(ctx context.Context, c StatusChange, draft *NotificationDraft) (inserted bool, notificationIDs []int64, err error) {
	if c.EnvironmentID == uuid.Nil || c.ChangedAt.IsZero() {
		return false, nil, fmt.Errorf("store: record status: %w: EnvironmentID and ChangedAt are required", ErrInvalid)
	}
	var drafts []draftRow
	if draft != nil {
		env := c.EnvironmentID
		row, err := newDraftRow(&env, *draft, fmt.Sprintf("status:%s:%d", env, c.ChangedAt.UnixNano()))
		if err != nil {
			return false, nil, fmt.Errorf("store: record status: %w", err)
		}
		drafts = append(drafts, row)
	}
	// No lock: followers read in (tx_id, id) order below the horizon (see
	// StreamPosition).
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			INSERT INTO environment_status (environment_id, online, error, changed_at)
			VALUES ($1, $2, $3, $4)
			ON CONFLICT (environment_id, changed_at) DO NOTHING`,
			c.EnvironmentID, c.Online, c.Error, c.ChangedAt)
		if err != nil {
			return err
		}
		inserted = tag.RowsAffected() == 1
		if !inserted {
			return nil
		}
		notificationIDs, err = insertNotifications(ctx, tx, drafts)
		return err
	})
	if err != nil {
		return false, nil, wrapWriteError("record status", err)
	}
	return inserted, notificationIDs, nil
}

// LatestStatus returns the environment's most recent transition, or
// ErrNotFound when none was recorded.
func (s *Store) LatestStatus(ctx context.Context, envID uuid.UUID) (StatusChange, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT id, environment_id, online, error, changed_at
		FROM environment_status
		WHERE environment_id = $1
		ORDER BY changed_at DESC, id DESC
		LIMIT 1`,
		envID)
	c, err := pgx.CollectExactlyOneRow(rows, scanStatusChange)
	if errors.Is(err, pgx.ErrNoRows) {
		return StatusChange{}, fmt.Errorf("store: latest status of %s: %w", envID, ErrNotFound)
	}
	if err != nil {
		return StatusChange{}, fmt.Errorf("store: latest status: %w", err)
	}
	return c, nil
}

// StatusHistory returns up to limit transitions of the environment, newest
// first. A limit of zero or less returns them all.
func (s *Store) StatusHistory(ctx context.Context, envID uuid.UUID, limit int) ([]StatusChange, error) {
	var maxRows *int
	if limit > 0 {
		maxRows = &limit
	}
	rows, _ := s.pool.Query(ctx, `
		SELECT id, environment_id, online, error, changed_at
		FROM environment_status
		WHERE environment_id = $1
		ORDER BY changed_at DESC, id DESC
		LIMIT $2`,
		envID, maxRows)
	history, err := pgx.CollectRows(rows, scanStatusChange)
	if err != nil {
		return nil, fmt.Errorf("store: status history: %w", err)
	}
	return history, nil
}

// scanStatusChange reads one environment_status row.
func scanStatusChange(row pgx.CollectableRow) (StatusChange, error) {
	var c StatusChange
	err := row.Scan(&c.ID, &c.EnvironmentID, &c.Online, &c.Error, &c.ChangedAt)
	c.ChangedAt = c.ChangedAt.UTC()
	return c, err
}

// StatusChangesAfter returns up to q.Limit transitions of every environment
// after q.After in follow order (TxID, ID), each with its TxID set: what a
// follower of the live stream has not seen yet. It follows the rules of
// EventsAfter (no transition can later appear before the last one returned;
// held tells that committed transitions are held back by a long
// transaction).
func (s *Store) StatusChangesAfter(ctx context.Context, q FollowQuery) (changes []StatusChange, held bool, err error) {
	changes, held, err = follow(ctx, s, "environment_status", statusColumns, q, func(row pgx.CollectableRow) (StatusChange, error) {
		var c StatusChange
		err := row.Scan(&c.TxID, &c.ID, &c.EnvironmentID, &c.Online, &c.Error, &c.ChangedAt)
		c.ChangedAt = c.ChangedAt.UTC()
		return c, err
	}, func(c StatusChange) StreamPosition { return StreamPosition{TxID: c.TxID, ID: c.ID} })
	if err != nil {
		return nil, false, fmt.Errorf("store: status changes after %+v: %w", q.After, err)
	}
	return changes, held, nil
}

// statusColumns are the columns read by scanStatusChange.
const statusColumns = `id, environment_id, online, error, changed_at`

// StatusPositionAfterID is EventPositionAfterID for transitions: a position
// for StatusChangesAfter that skips no transition whose ID is greater than
// id.
func (s *Store) StatusPositionAfterID(ctx context.Context, id int64) (StreamPosition, error) {
	p, err := s.positionAfterID(ctx, "environment_status", id)
	if err != nil {
		return StreamPosition{}, fmt.Errorf("store: status position after %d: %w", id, err)
	}
	return p, nil
}

// StatusChangesAfterID returns up to limit transitions of every environment
// whose ID is greater than afterID, in ascending ID order. IDs do not
// become visible in order, so this is for reading back, not for following:
// a follower uses StatusChangesAfter. limit is clamped to 1..500 (0 means
// 100).
func (s *Store) StatusChangesAfterID(ctx context.Context, afterID int64, limit int) ([]StatusChange, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT id, environment_id, online, error, changed_at
		FROM environment_status
		WHERE id > $1
		ORDER BY id
		LIMIT $2`,
		afterID, clampLimit(limit))
	changes, err := pgx.CollectRows(rows, scanStatusChange)
	if err != nil {
		return nil, fmt.Errorf("store: status changes after %d: %w", afterID, err)
	}
	return changes, nil
}

// MaxStatusID returns the greatest stored transition ID, 0 when there is
// none. A follower that wants only new transitions starts at StreamHead.
func (s *Store) MaxStatusID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM environment_status`).Scan(&id); err != nil {
		return 0, fmt.Errorf("store: max status id: %w", err)
	}
	return id, nil
}

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

// RecordStatus stores one transition. When the transition of
// (EnvironmentID, ChangedAt) is already stored nothing is written and inserted
// is false. An unknown environment gives ErrNotFound.
func (s *Store) RecordStatus(ctx context.Context, c StatusChange) (inserted bool, err error) {
	if c.EnvironmentID == uuid.Nil || c.ChangedAt.IsZero() {
		return false, fmt.Errorf("store: record status: %w: EnvironmentID and ChangedAt are required", ErrInvalid)
	}
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO environment_status (environment_id, online, error, changed_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (environment_id, changed_at) DO NOTHING`,
		c.EnvironmentID, c.Online, c.Error, c.ChangedAt)
	if err != nil {
		return false, wrapWriteError("record status", err)
	}
	return tag.RowsAffected() == 1, nil
}

// LatestStatus returns the environment's most recent transition, or
// ErrNotFound when none was recorded.
func (s *Store) LatestStatus(ctx context.Context, envID uuid.UUID) (StatusChange, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT environment_id, online, error, changed_at
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
		SELECT environment_id, online, error, changed_at
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
	err := row.Scan(&c.EnvironmentID, &c.Online, &c.Error, &c.ChangedAt)
	c.ChangedAt = c.ChangedAt.UTC()
	return c, err
}

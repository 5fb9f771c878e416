package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// RingSeen reports whether the environment's engine was last seen with
// events in its replay buffer (false when never looked at).
func (s *Store) RingSeen(ctx context.Context, envID uuid.UUID) (bool, error) {
	var seen bool
	err := s.pool.QueryRow(ctx, `SELECT ring_seen FROM event_cursors WHERE environment_id = $1`, envID).Scan(&seen)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: ring seen of %s: %w", envID, err)
	}
	return seen, nil
}

// SetRingSeen records whether the engine's replay buffer holds events now.
// It never moves the cursor. An unknown environment gives ErrNotFound.
func (s *Store) SetRingSeen(ctx context.Context, envID uuid.UUID, seen bool) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO event_cursors (environment_id, cursor_nano, ring_seen) VALUES ($1, 0, $2)
		ON CONFLICT (environment_id) DO UPDATE SET ring_seen = EXCLUDED.ring_seen`, envID, seen)
	if err != nil {
		return wrapWriteError("set ring seen", err)
	}
	return nil
}

package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Stream failover: worker leases and the holders of the event streams
// (migration 00014). Times are the database's, so that workers with skewed
// clocks agree on which lease expired.

// OrphanedStream is an event stream whose worker's lease expired: its
// activity attempt is still running for the server, but nobody follows it.
type OrphanedStream struct {
	EnvironmentID uuid.UUID
	WorkerID      string
	TaskToken     []byte
}

// RenewWorkerLease extends the lease of workerID to ttl from now.
func (s *Store) RenewWorkerLease(ctx context.Context, workerID string, ttl time.Duration) error {
	if workerID == "" || ttl <= 0 {
		return fmt.Errorf("store: renew worker lease: %w: a worker ID and a positive ttl are required", ErrInvalid)
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO worker_leases (worker_id, expires_at) VALUES ($1, now() + $2 * interval '1 microsecond')
		ON CONFLICT (worker_id) DO UPDATE SET expires_at = EXCLUDED.expires_at`,
		workerID, ttl.Microseconds())
	if err != nil {
		return fmt.Errorf("store: renew worker lease: %w", err)
	}
	return nil
}

// DropWorkerLease ends the lease of a stopping worker: the streams it
// still holds are orphaned at once.
func (s *Store) DropWorkerLease(ctx context.Context, workerID string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM worker_leases WHERE worker_id = $1`, workerID); err != nil {
		return fmt.Errorf("store: drop worker lease: %w", err)
	}
	return nil
}

// HoldStream records that workerID follows the event stream of envID,
// whose activity attempt has taskToken (one stream per environment: a
// newer attempt replaces an older one).
func (s *Store) HoldStream(ctx context.Context, envID uuid.UUID, workerID string, taskToken []byte) error {
	if envID == uuid.Nil || workerID == "" || len(taskToken) == 0 {
		return fmt.Errorf("store: hold stream: %w: environment, worker and task token are required", ErrInvalid)
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO event_stream_holders (environment_id, worker_id, task_token) VALUES ($1, $2, $3)
		ON CONFLICT (environment_id) DO UPDATE
		SET worker_id = EXCLUDED.worker_id, task_token = EXCLUDED.task_token, held_since = now()`,
		envID, workerID, taskToken)
	if err != nil {
		return fmt.Errorf("store: hold stream: %w", err)
	}
	return nil
}

// ReleaseStream forgets the stream of envID if its attempt is still the
// one of taskToken.
func (s *Store) ReleaseStream(ctx context.Context, envID uuid.UUID, taskToken []byte) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM event_stream_holders WHERE environment_id = $1 AND task_token = $2`,
		envID, taskToken)
	if err != nil {
		return fmt.Errorf("store: release stream: %w", err)
	}
	return nil
}

// TakeOrphanedStreams removes and returns up to limit streams held by
// workers other than self whose lease expired (or is gone). Concurrent
// callers each get different streams.
func (s *Store) TakeOrphanedStreams(ctx context.Context, self string, limit int) ([]OrphanedStream, error) {
	rows, err := s.pool.Query(ctx, `
		WITH orphaned AS (
			SELECT h.environment_id FROM event_stream_holders h
			LEFT JOIN worker_leases l ON l.worker_id = h.worker_id
			WHERE h.worker_id <> $1 AND (l.expires_at IS NULL OR l.expires_at < now())
			LIMIT $2
			FOR UPDATE OF h SKIP LOCKED)
		DELETE FROM event_stream_holders h USING orphaned o
		WHERE h.environment_id = o.environment_id
		RETURNING h.environment_id, h.worker_id, h.task_token`, self, limit)
	if err != nil {
		return nil, fmt.Errorf("store: take orphaned streams: %w", err)
	}
	defer rows.Close()
	var out []OrphanedStream
	for rows.Next() {
		var o OrphanedStream
		if err := rows.Scan(&o.EnvironmentID, &o.WorkerID, &o.TaskToken); err != nil {
			return nil, fmt.Errorf("store: take orphaned streams: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: take orphaned streams: %w", err)
	}
	return out, nil
}

// ForgetOldWorkerLeases deletes the leases expired for over an hour that
// hold no stream: the rows of workers that died.
func (s *Store) ForgetOldWorkerLeases(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `
		DELETE FROM worker_leases l WHERE l.expires_at < now() - interval '1 hour'
		AND NOT EXISTS (SELECT 1 FROM event_stream_holders h WHERE h.worker_id = l.worker_id)`)
	if err != nil {
		return fmt.Errorf("store: forget old worker leases: %w", err)
	}
	return nil
}

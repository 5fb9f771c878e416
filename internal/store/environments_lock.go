package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// EnvironmentTx is one environment's row, locked in a transaction by
// LockEnvironment: every change made through it is written from the row as
// read under the lock, so no concurrent change is lost.
type EnvironmentTx struct {
	tx  pgx.Tx
	env Environment
}

// Environment returns the row as read under the lock, or as last saved.
func (t *EnvironmentTx) Environment() Environment { return t.env }

// LockEnvironment runs fn in a transaction that holds the environment's row
// lock (SELECT … FOR NO KEY UPDATE): writers of one environment take turns,
// readers and the inserts of its metrics and events are not held up. The
// transaction commits when fn returns nil and rolls back otherwise. It
// returns fn's error unchanged, ErrNotFound when there is no such environment (any more: a
// deleted row is not found by whoever waited for its lock).
func (s *Store) LockEnvironment(ctx context.Context, id uuid.UUID, fn func(ctx context.Context, tx *EnvironmentTx) error) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT `+environmentColumns+` FROM environments WHERE id = $1 FOR NO KEY UPDATE`, id)
		env, err := pgx.CollectExactlyOneRow(rows, scanEnvironment)
		if err != nil {
			return wrapEnvironmentError(fmt.Sprintf("lock environment %s", id), err)
		}
		return fn(ctx, &EnvironmentTx{tx: tx, env: env})
	})
	// fn's errors come back as they are; the lock's, begin's and commit's
	// are wrapped.
	return err
}

// Save writes e (name, endpoint, settings, TLS material and SettingsPending)
// over the locked row, counts one more Version and returns the row as
// stored. It returns ErrNameTaken or ErrInvalid; the transaction is then
// aborted and fn should return the error.
func (t *EnvironmentTx) Save(ctx context.Context, e Environment) (Environment, error) {
	if e.ID != t.env.ID {
		return Environment{}, fmt.Errorf("store: save environment %s in the transaction of %s", e.ID, t.env.ID)
	}
	values, err := environmentValues(e)
	if err != nil {
		return Environment{}, fmt.Errorf("store: save environment: %w", err)
	}
	rows, _ := t.tx.Query(ctx, `
		UPDATE environments SET
			name = $2, endpoint = $3,
			settings = $4,
			tls_sealed = $5, tls_ca = $6, tls_client_subject = $7, tls_client_not_after = $8,
			settings_pending = $9,
			version = version + 1,
			updated_at = now()
		WHERE id = $1
		RETURNING `+environmentColumns,
		append(values, e.SettingsPending)...)
	saved, err := pgx.CollectExactlyOneRow(rows, scanEnvironment)
	if err != nil {
		return Environment{}, wrapEnvironmentError(fmt.Sprintf("save environment %s", e.ID), err)
	}
	t.env = saved
	return saved, nil
}

// SetSettingsPending records whether the workflow may not run with the
// stored settings. It is no change of the environment: Version stays.
func (t *EnvironmentTx) SetSettingsPending(ctx context.Context, pending bool) error {
	if _, err := t.tx.Exec(ctx, `UPDATE environments SET settings_pending = $2 WHERE id = $1`, t.env.ID, pending); err != nil {
		return fmt.Errorf("store: mark environment %s settings_pending=%t: %w", t.env.ID, pending, err)
	}
	t.env.SettingsPending = pending
	return nil
}

// Delete deletes the locked environment and, by cascade, its data.
func (t *EnvironmentTx) Delete(ctx context.Context) error {
	tag, err := t.tx.Exec(ctx, `DELETE FROM environments WHERE id = $1`, t.env.ID)
	if err != nil {
		return fmt.Errorf("store: delete environment %s: %w", t.env.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: delete environment %s: %w", t.env.ID, ErrNotFound)
	}
	return nil
}

// PendingEnvironments returns the IDs of the environments whose workflow
// may not run with the stored settings (SettingsPending), at most limit.
func (s *Store) PendingEnvironments(ctx context.Context, limit int) ([]uuid.UUID, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id FROM environments WHERE settings_pending ORDER BY id LIMIT $1`, limit)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("store: environments with pending settings: %w", err)
	}
	return ids, nil
}

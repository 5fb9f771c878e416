package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Agents (migration 00015): enrolment tokens, the sessions API instances
// hold, and the secret that lets workers through an instance's relay.

// HashAgentToken is the stored form of an enrolment token.
func HashAgentToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// AgentToken is an enrolment token of an agent-placed environment. Only its
// SHA-256 is stored; Hint is the start of the token, for people to tell
// tokens apart.
type AgentToken struct {
	ID            uuid.UUID
	EnvironmentID uuid.UUID
	Hash          []byte
	Hint          string
	CreatedAt     time.Time
	LastUsedAt    *time.Time
	RevokedAt     *time.Time
}

// AgentSession is the connection of an environment's agent to one API
// instance: workers reach the engine through RelayURL.
type AgentSession struct {
	EnvironmentID uuid.UUID
	SessionID     uuid.UUID
	TokenID       uuid.UUID
	RelayURL      string
	AgentVersion  string
	RemoteAddr    string
	ConnectedAt   time.Time
	SeenAt        time.Time
	// RTT is the last measured round trip to the agent; zero when none yet.
	RTT time.Duration
}

// CreateAgentToken stores a new token of t.EnvironmentID (t.ID generated
// when zero). An unknown environment gives ErrNotFound.
func (s *Store) CreateAgentToken(ctx context.Context, t AgentToken) (AgentToken, error) {
	if len(t.Hash) != 32 || t.Hint == "" {
		return AgentToken{}, fmt.Errorf("store: create agent token: %w: a 32-byte hash and a hint are required", ErrInvalid)
	}
	if t.ID == uuid.Nil {
		t.ID = uuid.New()
	}
	err := s.pool.QueryRow(ctx, `
		INSERT INTO agent_tokens (id, environment_id, token_hash, hint) VALUES ($1, $2, $3, $4)
		RETURNING created_at`, t.ID, t.EnvironmentID, t.Hash, t.Hint).Scan(&t.CreatedAt)
	if err != nil {
		return AgentToken{}, wrapWriteError("create agent token", err)
	}
	return t, nil
}

const agentTokenColumns = `id, environment_id, token_hash, hint, created_at, last_used_at, revoked_at`

func scanAgentToken(row pgx.Row) (AgentToken, error) {
	var t AgentToken
	err := row.Scan(&t.ID, &t.EnvironmentID, &t.Hash, &t.Hint, &t.CreatedAt, &t.LastUsedAt, &t.RevokedAt)
	return t, err
}

// UseAgentToken returns the unrevoked token with hash and marks it used;
// an unknown or revoked token gives ErrNotFound.
func (s *Store) UseAgentToken(ctx context.Context, hash []byte) (AgentToken, error) {
	t, err := scanAgentToken(s.pool.QueryRow(ctx, `
		UPDATE agent_tokens SET last_used_at = now()
		WHERE token_hash = $1 AND revoked_at IS NULL
		RETURNING `+agentTokenColumns, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return AgentToken{}, fmt.Errorf("store: agent token: %w", ErrNotFound)
	}
	if err != nil {
		return AgentToken{}, fmt.Errorf("store: agent token: %w", err)
	}
	return t, nil
}

// ListAgentTokens returns the tokens of envID, newest first.
func (s *Store) ListAgentTokens(ctx context.Context, envID uuid.UUID) ([]AgentToken, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+agentTokenColumns+` FROM agent_tokens
		WHERE environment_id = $1 ORDER BY created_at DESC, id`, envID)
	if err != nil {
		return nil, fmt.Errorf("store: list agent tokens: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AgentToken, error) { return scanAgentToken(r) })
	if err != nil {
		return nil, fmt.Errorf("store: list agent tokens: %w", err)
	}
	return out, nil
}

// RevokeAgentToken revokes a token of envID and ends the sessions opened
// with it (their API instance closes them at its next check). Revoking a
// revoked token changes nothing; an unknown one gives ErrNotFound.
func (s *Store) RevokeAgentToken(ctx context.Context, envID, tokenID uuid.UUID) (AgentToken, error) {
	var t AgentToken
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		t, err = scanAgentToken(tx.QueryRow(ctx, `
			UPDATE agent_tokens SET revoked_at = coalesce(revoked_at, now())
			WHERE id = $1 AND environment_id = $2
			RETURNING `+agentTokenColumns, tokenID, envID))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM agent_sessions WHERE token_id = $1`, tokenID)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return AgentToken{}, fmt.Errorf("store: revoke agent token: %w", ErrNotFound)
	}
	if err != nil {
		return AgentToken{}, fmt.Errorf("store: revoke agent token: %w", err)
	}
	return t, nil
}

// OpenAgentSession records sess as the environment's agent connection,
// replacing an older one (an agent that reconnected, maybe to another
// instance).
func (s *Store) OpenAgentSession(ctx context.Context, sess AgentSession) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO agent_sessions (environment_id, session_id, token_id, relay_url, agent_version, remote_addr)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (environment_id) DO UPDATE SET session_id = EXCLUDED.session_id,
			token_id = EXCLUDED.token_id, relay_url = EXCLUDED.relay_url,
			agent_version = EXCLUDED.agent_version, remote_addr = EXCLUDED.remote_addr,
			connected_at = now(), seen_at = now(), rtt_us = NULL`,
		sess.EnvironmentID, sess.SessionID, sess.TokenID, sess.RelayURL, sess.AgentVersion, sess.RemoteAddr)
	if err != nil {
		return wrapWriteError("open agent session", err)
	}
	return nil
}

// TouchAgentSession records that the session is alive, with its last
// round trip. It returns false when the session is no longer the
// environment's (replaced, or its token revoked): its holder closes it.
func (s *Store) TouchAgentSession(ctx context.Context, envID, sessionID uuid.UUID, rtt time.Duration) (bool, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE agent_sessions SET seen_at = now(), rtt_us = $3
		WHERE environment_id = $1 AND session_id = $2`, envID, sessionID, rtt.Microseconds())
	if err != nil {
		return false, fmt.Errorf("store: touch agent session: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// CloseAgentSession forgets the session if it is still the environment's.
func (s *Store) CloseAgentSession(ctx context.Context, envID, sessionID uuid.UUID) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM agent_sessions WHERE environment_id = $1 AND session_id = $2`,
		envID, sessionID); err != nil {
		return fmt.Errorf("store: close agent session: %w", err)
	}
	return nil
}

const agentSessionColumns = `environment_id, session_id, token_id, relay_url, agent_version, remote_addr,
	connected_at, seen_at, rtt_us`

func scanAgentSession(row pgx.Row) (AgentSession, error) {
	var (
		sess AgentSession
		rtt  *int64
	)
	err := row.Scan(&sess.EnvironmentID, &sess.SessionID, &sess.TokenID, &sess.RelayURL, &sess.AgentVersion,
		&sess.RemoteAddr, &sess.ConnectedAt, &sess.SeenAt, &rtt)
	if rtt != nil {
		sess.RTT = time.Duration(*rtt) * time.Microsecond
	}
	return sess, err
}

// AgentSession returns the environment's agent connection; ErrNotFound
// when its agent is not connected.
func (s *Store) AgentSession(ctx context.Context, envID uuid.UUID) (AgentSession, error) {
	sess, err := scanAgentSession(s.pool.QueryRow(ctx,
		`SELECT `+agentSessionColumns+` FROM agent_sessions WHERE environment_id = $1`, envID))
	if errors.Is(err, pgx.ErrNoRows) {
		return AgentSession{}, fmt.Errorf("store: agent session: %w", ErrNotFound)
	}
	if err != nil {
		return AgentSession{}, fmt.Errorf("store: agent session: %w", err)
	}
	return sess, nil
}

// RelaySecret returns the secret workers present to an API instance's
// relay (32 random bytes made by the migration).
func (s *Store) RelaySecret(ctx context.Context) ([]byte, error) {
	var secret []byte
	if err := s.pool.QueryRow(ctx, `SELECT secret FROM agent_relay_secret`).Scan(&secret); err != nil {
		return nil, fmt.Errorf("store: relay secret: %w", err)
	}
	return secret, nil
}

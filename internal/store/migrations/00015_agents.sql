-- +goose Up
-- Agents: engines placed behind a windflow-agent, which dials the API
-- outbound. Enrolment tokens are stored as their SHA-256 (a token is 256
-- random bits, so a plain hash is enough), scoped to one environment and
-- revocable. A session is the agent connection an API instance holds now:
-- workers reach the engine by dialling relay_url, the instance that holds it.
-- The relay secret authenticates workers to that relay.
CREATE TABLE agent_tokens (
    id             uuid        PRIMARY KEY,
    environment_id uuid        NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    token_hash     bytea       NOT NULL UNIQUE,
    hint           text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_used_at   timestamptz,
    revoked_at     timestamptz,
    CONSTRAINT agent_tokens_hash_length CHECK (length(token_hash) = 32)
);
CREATE INDEX agent_tokens_environment ON agent_tokens (environment_id);

CREATE TABLE agent_sessions (
    environment_id uuid        PRIMARY KEY REFERENCES environments (id) ON DELETE CASCADE,
    session_id     uuid        NOT NULL,
    token_id       uuid        NOT NULL REFERENCES agent_tokens (id) ON DELETE CASCADE,
    relay_url      text        NOT NULL,
    agent_version  text        NOT NULL,
    remote_addr    text        NOT NULL,
    connected_at   timestamptz NOT NULL DEFAULT now(),
    seen_at        timestamptz NOT NULL DEFAULT now(),
    rtt_us         bigint
);
CREATE INDEX agent_sessions_token ON agent_sessions (token_id);

CREATE TABLE agent_relay_secret (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    secret    bytea   NOT NULL
);
INSERT INTO agent_relay_secret (secret)
VALUES (decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'));

-- +goose Down
DROP TABLE agent_relay_secret;
DROP TABLE agent_sessions;
DROP TABLE agent_tokens;

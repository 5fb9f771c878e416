-- +goose Up
-- Stream failover. Each worker process renews a lease every few seconds;
-- each detached event stream records the worker that follows it and its
-- activity's task token. A live worker fails, through the token, the
-- streams of a worker whose lease expired, so that their retry starts at
-- once instead of after the stream's heartbeat timeout.
CREATE TABLE worker_leases (
    worker_id  text        PRIMARY KEY,
    expires_at timestamptz NOT NULL
);

CREATE TABLE event_stream_holders (
    environment_id uuid        PRIMARY KEY REFERENCES environments (id) ON DELETE CASCADE,
    worker_id      text        NOT NULL,
    task_token     bytea       NOT NULL,
    held_since     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX event_stream_holders_worker ON event_stream_holders (worker_id);

-- +goose Down
DROP TABLE event_stream_holders;
DROP TABLE worker_leases;

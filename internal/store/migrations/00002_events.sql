-- +goose Up

-- Event collection settings of an environment. Existing environments get
-- events on, in stream mode, with the default poll interval.
ALTER TABLE environments
    ADD COLUMN events_enabled        boolean NOT NULL DEFAULT true,
    ADD COLUMN event_mode            text    NOT NULL DEFAULT 'stream',
    ADD COLUMN poll_interval_seconds integer NOT NULL DEFAULT 60,
    ADD CONSTRAINT environments_event_mode_valid CHECK (event_mode IN ('stream', 'poll')),
    ADD CONSTRAINT environments_poll_interval_range CHECK (poll_interval_seconds BETWEEN 30 AND 300);

-- container_events holds every kept container event once: the identity of an
-- event is (environment_id, time_nano, container_id, action), so the overlap
-- of a resumed read is dropped by ON CONFLICT DO NOTHING. time_nano is the
-- engine's clock; event_time is the same instant as a timestamp.
CREATE TABLE container_events (
    id             bigserial   PRIMARY KEY,
    environment_id uuid        NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    time_nano      bigint      NOT NULL,
    event_time     timestamptz NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    container_id   text        NOT NULL,
    container_name text        NOT NULL DEFAULT '',
    image          text        NOT NULL DEFAULT '',
    action         text        NOT NULL,
    attributes     jsonb       NOT NULL DEFAULT '{}',
    exit_code      integer,
    CONSTRAINT container_events_identity_key UNIQUE (environment_id, time_nano, container_id, action),
    CONSTRAINT container_events_time_nano_positive CHECK (time_nano > 0),
    CONSTRAINT container_events_container_id_not_empty CHECK (container_id <> ''),
    CONSTRAINT container_events_action_not_empty CHECK (action <> '')
);

-- Newest first, per environment and across environments (keyset pages on
-- (time_nano, id)), and the history of one container.
CREATE INDEX container_events_environment_newest_idx
    ON container_events (environment_id, time_nano DESC, id DESC);
CREATE INDEX container_events_newest_idx
    ON container_events (time_nano DESC, id DESC);
CREATE INDEX container_events_environment_container_idx
    ON container_events (environment_id, container_id, time_nano DESC);
CREATE INDEX container_events_environment_container_name_idx
    ON container_events (environment_id, container_name, time_nano DESC);

-- event_cursors holds, per environment, the engine time up to which every
-- event has been read and stored. It moves in the same transaction as the
-- events and never backwards.
CREATE TABLE event_cursors (
    environment_id uuid        PRIMARY KEY REFERENCES environments (id) ON DELETE CASCADE,
    cursor_nano    bigint      NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT event_cursors_cursor_not_negative CHECK (cursor_nano >= 0)
);

-- event_gaps records the spans of engine time whose events could not be
-- read any more (the engine's replay buffer no longer reached back to the
-- cursor, or the engine restarted).
CREATE TABLE event_gaps (
    id             bigserial   PRIMARY KEY,
    environment_id uuid        NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    from_nano      bigint      NOT NULL,
    to_nano        bigint      NOT NULL,
    reason         text        NOT NULL DEFAULT '',
    detected_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT event_gaps_span_key UNIQUE (environment_id, from_nano, to_nano)
);

CREATE INDEX event_gaps_newest_idx ON event_gaps (from_nano DESC, id DESC);

-- New rows are announced with NOTIFY so that every API instance can push
-- them to its live clients. The payload is only the row id: listeners read
-- the rows themselves. The channel carries the table's schema, so databases
-- holding several schemas (parallel tests) do not wake each other; names are
-- cut to PostgreSQL's 63-byte identifier limit (Store.EventsChannel and
-- Store.StatusChannel compute the same names). A NOTIFY is delivered at
-- commit, and only for rows actually inserted (ON CONFLICT DO NOTHING fires
-- no AFTER INSERT trigger).

-- +goose StatementBegin
CREATE FUNCTION windflow_notify_container_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(left('windflow_events:' || TG_TABLE_SCHEMA, 63), NEW.id::text);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION windflow_notify_environment_status() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(left('windflow_status:' || TG_TABLE_SCHEMA, 63), NEW.id::text);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER container_events_notify
    AFTER INSERT ON container_events
    FOR EACH ROW EXECUTE FUNCTION windflow_notify_container_event();

CREATE TRIGGER environment_status_notify
    AFTER INSERT ON environment_status
    FOR EACH ROW EXECUTE FUNCTION windflow_notify_environment_status();

-- +goose Down

DROP TRIGGER environment_status_notify ON environment_status;
DROP TRIGGER container_events_notify ON container_events;
DROP FUNCTION windflow_notify_environment_status();
DROP FUNCTION windflow_notify_container_event();
DROP TABLE event_gaps;
DROP TABLE event_cursors;
DROP TABLE container_events;
ALTER TABLE environments
    DROP CONSTRAINT environments_poll_interval_range,
    DROP CONSTRAINT environments_event_mode_valid,
    DROP COLUMN poll_interval_seconds,
    DROP COLUMN event_mode,
    DROP COLUMN events_enabled;

-- +goose Up

-- Disk check settings of an environment. Existing environments get the
-- defaults: a check every 5 minutes with a 20 s timeout, a warning above
-- 80 % of the capacity, at most one warning an hour. A capacity of 0 means
-- "find it out" (statfs of a local engine), -1 "unknown".
ALTER TABLE environments
    ADD COLUMN disk_interval_seconds  integer          NOT NULL DEFAULT 300,
    ADD COLUMN disk_timeout_seconds   integer          NOT NULL DEFAULT 20,
    ADD COLUMN disk_threshold_mode    text             NOT NULL DEFAULT 'percent',
    ADD COLUMN disk_threshold_percent double precision NOT NULL DEFAULT 80,
    ADD COLUMN disk_threshold_bytes   bigint           NOT NULL DEFAULT 50000000000,
    ADD COLUMN disk_capacity_bytes    bigint           NOT NULL DEFAULT 0,
    ADD COLUMN disk_cooldown_seconds  integer          NOT NULL DEFAULT 3600,
    ADD CONSTRAINT environments_disk_interval_range CHECK (disk_interval_seconds BETWEEN 60 AND 3600),
    ADD CONSTRAINT environments_disk_timeout_range CHECK (disk_timeout_seconds BETWEEN 5 AND 120),
    ADD CONSTRAINT environments_disk_threshold_mode_valid CHECK (disk_threshold_mode IN ('percent', 'bytes', 'off')),
    -- NaN is greater than every number in PostgreSQL: BETWEEN rejects it.
    ADD CONSTRAINT environments_disk_threshold_percent_range CHECK (disk_threshold_percent BETWEEN 1 AND 100),
    ADD CONSTRAINT environments_disk_threshold_bytes_positive CHECK (disk_threshold_bytes >= 1),
    ADD CONSTRAINT environments_disk_capacity_valid CHECK (disk_capacity_bytes >= -1),
    ADD CONSTRAINT environments_disk_cooldown_range CHECK (disk_cooldown_seconds BETWEEN 60 AND 86400);

-- disk_usage holds one sample of Docker's disk usage per disk check.
-- (environment_id, check_at) makes a retried activity store its check once.
CREATE TABLE disk_usage (
    id                bigserial        PRIMARY KEY,
    environment_id    uuid             NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    check_at          timestamptz      NOT NULL,
    checked_at        timestamptz      NOT NULL,
    images_bytes      bigint           NOT NULL DEFAULT 0,
    containers_bytes  bigint           NOT NULL DEFAULT 0,
    volumes_bytes     bigint           NOT NULL DEFAULT 0,
    build_cache_bytes bigint           NOT NULL DEFAULT 0,
    total_bytes       bigint           NOT NULL DEFAULT 0,
    capacity_bytes    bigint           NOT NULL DEFAULT 0,
    capacity_source   text             NOT NULL DEFAULT '',
    percent           double precision NOT NULL DEFAULT 0,
    warned            boolean          NOT NULL DEFAULT false,
    CONSTRAINT disk_usage_check_key UNIQUE (environment_id, check_at),
    CONSTRAINT disk_usage_percent_finite CHECK (
        percent <> 'NaN'::float8 AND percent <> 'Infinity'::float8 AND percent <> '-Infinity'::float8)
);

CREATE INDEX disk_usage_environment_checked_at_idx ON disk_usage (environment_id, checked_at);

-- notification_channels are where notifications go: a shoutrrr URL (a
-- secret, never returned in full by the API) and the subscription. An empty
-- environments list means every environment, an empty kinds list the
-- default kinds.
CREATE TABLE notification_channels (
    id           uuid        PRIMARY KEY,
    name         text        NOT NULL,
    url          text        NOT NULL,
    enabled      boolean     NOT NULL DEFAULT true,
    environments uuid[]      NOT NULL DEFAULT '{}',
    kinds        text[]      NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT notification_channels_name_key UNIQUE (name),
    CONSTRAINT notification_channels_name_length CHECK (char_length(name) BETWEEN 1 AND 100),
    CONSTRAINT notification_channels_url_not_empty CHECK (url <> ''),
    CONSTRAINT notification_channels_environments_no_null CHECK (array_position(environments, NULL) IS NULL),
    CONSTRAINT notification_channels_kinds_no_null CHECK (array_position(kinds, NULL) IS NULL)
);

-- notifications is the outbox: one row per notification and channel,
-- written in the transaction of its cause. dedup_key ("<cause key>/<channel
-- id>") makes a retried writer create it once. dispatched_at is when a
-- delivery workflow was last started for it.
CREATE TABLE notifications (
    id             bigserial   PRIMARY KEY,
    channel_id     uuid        NOT NULL REFERENCES notification_channels (id) ON DELETE CASCADE,
    environment_id uuid        REFERENCES environments (id) ON DELETE CASCADE,
    kind           text        NOT NULL,
    title          text        NOT NULL DEFAULT '',
    message        text        NOT NULL DEFAULT '',
    dedup_key      text        NOT NULL,
    status         text        NOT NULL DEFAULT 'pending',
    attempts       integer     NOT NULL DEFAULT 0,
    last_error     text        NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    dispatched_at  timestamptz,
    delivered_at   timestamptz,
    CONSTRAINT notifications_dedup_key UNIQUE (dedup_key),
    CONSTRAINT notifications_kind_not_empty CHECK (kind <> ''),
    CONSTRAINT notifications_status_valid CHECK (status IN ('pending', 'delivered', 'failed'))
);

-- History newest first (keyset on id), overall, per channel, per environment.
CREATE INDEX notifications_channel_newest_idx ON notifications (channel_id, id DESC);
CREATE INDEX notifications_environment_newest_idx ON notifications (environment_id, id DESC);
-- The dispatcher's sweep: pending rows never or long ago dispatched.
CREATE INDEX notifications_status_dispatched_idx ON notifications (status, dispatched_at, id);

-- notification_attempts records every delivery attempt: when, whether it
-- worked, and the (redacted) error.
CREATE TABLE notification_attempts (
    id              bigserial   PRIMARY KEY,
    notification_id bigint      NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    attempt         integer     NOT NULL,
    at              timestamptz NOT NULL DEFAULT now(),
    ok              boolean     NOT NULL,
    error           text        NOT NULL DEFAULT ''
);

CREATE INDEX notification_attempts_notification_idx ON notification_attempts (notification_id, id);

-- +goose Down

DROP TABLE notification_attempts;
DROP TABLE notifications;
DROP TABLE notification_channels;
DROP TABLE disk_usage;
ALTER TABLE environments
    DROP CONSTRAINT environments_disk_cooldown_range,
    DROP CONSTRAINT environments_disk_capacity_valid,
    DROP CONSTRAINT environments_disk_threshold_bytes_positive,
    DROP CONSTRAINT environments_disk_threshold_percent_range,
    DROP CONSTRAINT environments_disk_threshold_mode_valid,
    DROP CONSTRAINT environments_disk_timeout_range,
    DROP CONSTRAINT environments_disk_interval_range,
    DROP COLUMN disk_cooldown_seconds,
    DROP COLUMN disk_capacity_bytes,
    DROP COLUMN disk_threshold_bytes,
    DROP COLUMN disk_threshold_percent,
    DROP COLUMN disk_threshold_mode,
    DROP COLUMN disk_timeout_seconds,
    DROP COLUMN disk_interval_seconds;

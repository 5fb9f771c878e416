-- +goose Up
-- An environment's settings live in one JSON object, the API's settings
-- object (package settings: durations in whole seconds). The store
-- validates it before writing; a key it lacks reads as its default, so a
-- new setting needs no migration.
ALTER TABLE environments
    ADD COLUMN settings jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT environments_settings_object CHECK (jsonb_typeof(settings) = 'object');
UPDATE environments SET settings = jsonb_build_object(
    'metricsIntervalSeconds', metrics_interval_seconds,
    'collectMetrics', collect_metrics,
    'paused', paused,
    'offlineAfter', offline_after,
    'eventsEnabled', events_enabled,
    'eventMode', event_mode,
    'pollIntervalSeconds', poll_interval_seconds,
    'diskIntervalSeconds', disk_interval_seconds,
    'diskTimeoutSeconds', disk_timeout_seconds,
    'diskThresholdMode', disk_threshold_mode,
    'diskThresholdPercent', disk_threshold_percent,
    'diskThresholdBytes', disk_threshold_bytes,
    'diskCapacityBytes', disk_capacity_bytes,
    'diskCooldownSeconds', disk_cooldown_seconds);
-- Dropping a column drops its range constraint with it.
ALTER TABLE environments
    DROP COLUMN metrics_interval_seconds,
    DROP COLUMN collect_metrics,
    DROP COLUMN paused,
    DROP COLUMN offline_after,
    DROP COLUMN events_enabled,
    DROP COLUMN event_mode,
    DROP COLUMN poll_interval_seconds,
    DROP COLUMN disk_interval_seconds,
    DROP COLUMN disk_timeout_seconds,
    DROP COLUMN disk_threshold_mode,
    DROP COLUMN disk_threshold_percent,
    DROP COLUMN disk_threshold_bytes,
    DROP COLUMN disk_capacity_bytes,
    DROP COLUMN disk_cooldown_seconds;

-- +goose Down
ALTER TABLE environments
    ADD COLUMN metrics_interval_seconds integer          NOT NULL DEFAULT 30,
    ADD COLUMN collect_metrics          boolean          NOT NULL DEFAULT true,
    ADD COLUMN paused                   boolean          NOT NULL DEFAULT false,
    ADD COLUMN offline_after            integer          NOT NULL DEFAULT 2,
    ADD COLUMN events_enabled           boolean          NOT NULL DEFAULT true,
    ADD COLUMN event_mode               text             NOT NULL DEFAULT 'stream',
    ADD COLUMN poll_interval_seconds    integer          NOT NULL DEFAULT 60,
    ADD COLUMN disk_interval_seconds    integer          NOT NULL DEFAULT 300,
    ADD COLUMN disk_timeout_seconds     integer          NOT NULL DEFAULT 20,
    ADD COLUMN disk_threshold_mode      text             NOT NULL DEFAULT 'percent',
    ADD COLUMN disk_threshold_percent   double precision NOT NULL DEFAULT 80,
    ADD COLUMN disk_threshold_bytes     bigint           NOT NULL DEFAULT 50000000000,
    ADD COLUMN disk_capacity_bytes      bigint           NOT NULL DEFAULT 0,
    ADD COLUMN disk_cooldown_seconds    integer          NOT NULL DEFAULT 3600;
UPDATE environments SET
    metrics_interval_seconds = COALESCE((settings->>'metricsIntervalSeconds')::integer, 30),
    collect_metrics = COALESCE((settings->>'collectMetrics')::boolean, true),
    paused = COALESCE((settings->>'paused')::boolean, false),
    offline_after = COALESCE((settings->>'offlineAfter')::integer, 2),
    events_enabled = COALESCE((settings->>'eventsEnabled')::boolean, true),
    event_mode = COALESCE(settings->>'eventMode', 'stream'),
    poll_interval_seconds = COALESCE(NULLIF((settings->>'pollIntervalSeconds')::integer, 0), 60),
    disk_interval_seconds = COALESCE(NULLIF((settings->>'diskIntervalSeconds')::integer, 0), 300),
    disk_timeout_seconds = COALESCE(NULLIF((settings->>'diskTimeoutSeconds')::integer, 0), 20),
    disk_threshold_mode = COALESCE(NULLIF(settings->>'diskThresholdMode', ''), 'percent'),
    disk_threshold_percent = COALESCE(NULLIF((settings->>'diskThresholdPercent')::double precision, 0), 80),
    disk_threshold_bytes = COALESCE(NULLIF((settings->>'diskThresholdBytes')::bigint, 0), 50000000000),
    disk_capacity_bytes = COALESCE((settings->>'diskCapacityBytes')::bigint, 0),
    disk_cooldown_seconds = COALESCE(NULLIF((settings->>'diskCooldownSeconds')::integer, 0), 3600);
ALTER TABLE environments
    ALTER COLUMN metrics_interval_seconds DROP DEFAULT,
    ALTER COLUMN offline_after DROP DEFAULT,
    ADD CONSTRAINT environments_metrics_interval_range CHECK (metrics_interval_seconds BETWEEN 10 AND 300),
    ADD CONSTRAINT environments_offline_after_range CHECK (offline_after BETWEEN 1 AND 20),
    ADD CONSTRAINT environments_event_mode_valid CHECK (event_mode IN ('stream', 'poll')),
    ADD CONSTRAINT environments_poll_interval_range CHECK (poll_interval_seconds BETWEEN 30 AND 300),
    ADD CONSTRAINT environments_disk_interval_range CHECK (disk_interval_seconds BETWEEN 60 AND 3600),
    ADD CONSTRAINT environments_disk_timeout_range CHECK (disk_timeout_seconds BETWEEN 5 AND 120),
    ADD CONSTRAINT environments_disk_threshold_mode_valid CHECK (disk_threshold_mode IN ('percent', 'bytes', 'off')),
    ADD CONSTRAINT environments_disk_threshold_percent_range CHECK (disk_threshold_percent BETWEEN 1 AND 100),
    ADD CONSTRAINT environments_disk_threshold_bytes_positive CHECK (disk_threshold_bytes >= 1),
    ADD CONSTRAINT environments_disk_capacity_valid CHECK (disk_capacity_bytes >= -1),
    ADD CONSTRAINT environments_disk_cooldown_range CHECK (disk_cooldown_seconds BETWEEN 60 AND 86400),
    DROP COLUMN settings;

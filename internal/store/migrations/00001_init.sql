-- +goose Up

-- environments are the Docker engines the monitor watches. Durations are
-- stored as whole seconds.
CREATE TABLE environments (
    id                       uuid        PRIMARY KEY,
    name                     text        NOT NULL,
    endpoint                 text        NOT NULL,
    metrics_interval_seconds integer     NOT NULL,
    collect_metrics          boolean     NOT NULL DEFAULT true,
    paused                   boolean     NOT NULL DEFAULT false,
    offline_after            integer     NOT NULL,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT environments_name_key UNIQUE (name),
    CONSTRAINT environments_name_length CHECK (char_length(name) BETWEEN 1 AND 100),
    CONSTRAINT environments_endpoint_not_empty CHECK (endpoint <> ''),
    CONSTRAINT environments_metrics_interval_range CHECK (metrics_interval_seconds BETWEEN 10 AND 300),
    CONSTRAINT environments_offline_after_range CHECK (offline_after BETWEEN 1 AND 20)
);

-- host_metrics holds one row per collection cycle of an environment.
-- (environment_id, cycle_at) makes a retried activity write its cycle once.
CREATE TABLE host_metrics (
    id                 bigserial        PRIMARY KEY,
    environment_id     uuid             NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    cycle_at           timestamptz      NOT NULL,
    collected_at       timestamptz      NOT NULL,
    cpu_percent        double precision NOT NULL,
    memory_percent     double precision NOT NULL,
    memory_used        bigint           NOT NULL,
    memory_total       bigint           NOT NULL,
    containers_running integer          NOT NULL,
    CONSTRAINT host_metrics_cycle_key UNIQUE (environment_id, cycle_at),
    -- NaN = NaN is true in Postgres, so compare against the special values.
    CONSTRAINT host_metrics_cpu_percent_finite CHECK (
        cpu_percent <> 'NaN'::float8 AND cpu_percent <> 'Infinity'::float8 AND cpu_percent <> '-Infinity'::float8),
    CONSTRAINT host_metrics_memory_percent_finite CHECK (
        memory_percent <> 'NaN'::float8 AND memory_percent <> 'Infinity'::float8 AND memory_percent <> '-Infinity'::float8)
);

CREATE INDEX host_metrics_environment_collected_at_idx
    ON host_metrics (environment_id, collected_at);

-- container_metrics holds one row per container and cycle. The raw CPU
-- counters let the next cycle compute CPU % from a one-shot stats read.
CREATE TABLE container_metrics (
    id               bigserial        PRIMARY KEY,
    environment_id   uuid             NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    cycle_at         timestamptz      NOT NULL,
    collected_at     timestamptz      NOT NULL,
    container_id     text             NOT NULL,
    container_name   text             NOT NULL,
    cpu_percent      double precision NOT NULL,
    memory_used      bigint           NOT NULL,
    memory_limit     bigint           NOT NULL,
    net_rx           bigint           NOT NULL,
    net_tx           bigint           NOT NULL,
    block_read       bigint           NOT NULL,
    block_write      bigint           NOT NULL,
    cpu_total_usage  bigint           NOT NULL,
    system_cpu_usage bigint           NOT NULL,
    online_cpus      integer          NOT NULL,
    CONSTRAINT container_metrics_cycle_container_key UNIQUE (environment_id, cycle_at, container_id),
    CONSTRAINT container_metrics_container_id_not_empty CHECK (container_id <> ''),
    CONSTRAINT container_metrics_cpu_percent_finite CHECK (
        cpu_percent <> 'NaN'::float8 AND cpu_percent <> 'Infinity'::float8 AND cpu_percent <> '-Infinity'::float8)
);

CREATE INDEX container_metrics_environment_collected_at_idx
    ON container_metrics (environment_id, collected_at);
CREATE INDEX container_metrics_environment_container_collected_at_idx
    ON container_metrics (environment_id, container_id, collected_at DESC);

-- environment_status records online/offline transitions. (environment_id,
-- changed_at) makes a retried activity record a transition once.
CREATE TABLE environment_status (
    id             bigserial   PRIMARY KEY,
    environment_id uuid        NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    online         boolean     NOT NULL,
    error          text        NOT NULL DEFAULT '',
    changed_at     timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT environment_status_changed_at_key UNIQUE (environment_id, changed_at)
);

-- +goose Down

DROP TABLE environment_status;
DROP TABLE container_metrics;
DROP TABLE host_metrics;
DROP TABLE environments;

-- +goose Up
-- Rollup tiers of the metrics: one row per environment (and container) and
-- 1-minute or 1-hour bucket, bucket = date_bin(unit, collected_at, epoch).
-- InsertMetrics adds a cycle to its buckets in the transaction that stores
-- the raw rows, and only when it stored them, so a retried cycle is counted
-- once. Running sums and sample counts make averages over any whole number
-- of buckets exact; min/max keep the peaks a chart would otherwise lose.
-- Counters of containers (network, block IO) only grow, so their max is
-- the bucket's latest reading.
CREATE TABLE host_metrics_1m (
    environment_id         uuid             NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    bucket                 timestamptz      NOT NULL,
    samples                integer          NOT NULL,
    cpu_sum                double precision NOT NULL,
    cpu_min                double precision NOT NULL,
    cpu_max                double precision NOT NULL,
    memory_percent_sum     double precision NOT NULL,
    memory_percent_max     double precision NOT NULL,
    memory_used_sum        bigint           NOT NULL,
    memory_total_sum       bigint           NOT NULL,
    containers_running_sum bigint           NOT NULL,
    PRIMARY KEY (environment_id, bucket)
);
CREATE TABLE host_metrics_1h (LIKE host_metrics_1m INCLUDING ALL);
ALTER TABLE host_metrics_1h ADD FOREIGN KEY (environment_id) REFERENCES environments (id) ON DELETE CASCADE;

CREATE TABLE container_metrics_1m (
    environment_id  uuid             NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    container_id    text             NOT NULL,
    bucket          timestamptz      NOT NULL,
    -- container_name is the name of the bucket's latest reading.
    container_name  text             NOT NULL,
    samples         integer          NOT NULL,
    cpu_sum         double precision NOT NULL,
    cpu_max         double precision NOT NULL,
    memory_used_sum bigint           NOT NULL,
    memory_used_max bigint           NOT NULL,
    memory_limit_max bigint          NOT NULL,
    net_rx_max      bigint           NOT NULL,
    net_tx_max      bigint           NOT NULL,
    block_read_max  bigint           NOT NULL,
    block_write_max bigint           NOT NULL,
    PRIMARY KEY (environment_id, container_id, bucket)
);
CREATE INDEX container_metrics_1m_name_idx ON container_metrics_1m (environment_id, container_name, bucket);
CREATE TABLE container_metrics_1h (LIKE container_metrics_1m INCLUDING ALL);
ALTER TABLE container_metrics_1h ADD FOREIGN KEY (environment_id) REFERENCES environments (id) ON DELETE CASCADE;

-- The per-container series selects raw rows by name too.
CREATE INDEX container_metrics_environment_name_collected_at_idx
    ON container_metrics (environment_id, container_name, collected_at);

-- Backfill: the raw rows stored before this migration.
INSERT INTO host_metrics_1m
SELECT environment_id, date_bin('1 minute', collected_at, '1970-01-01T00:00:00Z'), count(*),
    sum(cpu_percent), min(cpu_percent), max(cpu_percent), sum(memory_percent), max(memory_percent),
    sum(memory_used), sum(memory_total), sum(containers_running)
FROM host_metrics GROUP BY 1, 2;
INSERT INTO host_metrics_1h
SELECT environment_id, date_bin('1 hour', collected_at, '1970-01-01T00:00:00Z'), count(*),
    sum(cpu_percent), min(cpu_percent), max(cpu_percent), sum(memory_percent), max(memory_percent),
    sum(memory_used), sum(memory_total), sum(containers_running)
FROM host_metrics GROUP BY 1, 2;
INSERT INTO container_metrics_1m
SELECT environment_id, container_id, date_bin('1 minute', collected_at, '1970-01-01T00:00:00Z'),
    (array_agg(container_name ORDER BY collected_at DESC))[1], count(*),
    sum(cpu_percent), max(cpu_percent), sum(memory_used), max(memory_used), max(memory_limit),
    max(net_rx), max(net_tx), max(block_read), max(block_write)
FROM container_metrics GROUP BY 1, 2, 3;
INSERT INTO container_metrics_1h
SELECT environment_id, container_id, date_bin('1 hour', collected_at, '1970-01-01T00:00:00Z'),
    (array_agg(container_name ORDER BY collected_at DESC))[1], count(*),
    sum(cpu_percent), max(cpu_percent), sum(memory_used), max(memory_used), max(memory_limit),
    max(net_rx), max(net_tx), max(block_read), max(block_write)
FROM container_metrics GROUP BY 1, 2, 3;

-- +goose Down
DROP INDEX container_metrics_environment_name_collected_at_idx;
DROP TABLE container_metrics_1h;
DROP TABLE container_metrics_1m;
DROP TABLE host_metrics_1h;
DROP TABLE host_metrics_1m;

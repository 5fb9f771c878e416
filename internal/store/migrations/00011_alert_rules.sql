-- +goose Up
-- Alert rules: "a figure above (below) a threshold for N
-- seconds", for every environment (environment_id NULL) or one, evaluated
-- by each environment's workflow on its cycles. labels: the container
-- label selector (every pair equal); container_pattern: a glob on the
-- container name ('' = every container).
CREATE TABLE alert_rules (
    id                uuid             PRIMARY KEY,
    name              text             NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    environment_id    uuid             REFERENCES environments (id) ON DELETE CASCADE,
    metric            text             NOT NULL,
    op                text             NOT NULL CHECK (op IN ('above', 'below')),
    threshold         double precision NOT NULL,
    for_seconds       integer          NOT NULL CHECK (for_seconds BETWEEN 0 AND 86400),
    recovery          double precision,
    container_pattern text             NOT NULL DEFAULT '',
    labels            jsonb            NOT NULL DEFAULT '{}',
    severity          text             NOT NULL DEFAULT 'warning' CHECK (severity IN ('info', 'warning', 'critical')),
    enabled           boolean          NOT NULL DEFAULT true,
    created_at        timestamptz      NOT NULL DEFAULT now(),
    updated_at        timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX alert_rules_environment_id_idx ON alert_rules (environment_id);

-- +goose Down
DROP TABLE alert_rules;

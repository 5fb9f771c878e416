-- +goose Up
-- Which channels receive a rule's notifications: empty = the
-- channels' subscriptions decide (kinds alert_firing / alert_resolved and
-- environments, like every other kind); non-empty = exactly these enabled
-- channels. Deleting a channel removes it from every rule (the store does,
-- in the transaction of the delete).
ALTER TABLE alert_rules
    ADD COLUMN channel_ids uuid[] NOT NULL DEFAULT '{}',
    ADD CONSTRAINT alert_rules_channel_ids_no_null CHECK (array_position(channel_ids, NULL) IS NULL);

-- alerts is the alert history: one row per transition (firing or
-- resolved) of a rule on a target ('' = the host, else a container name)
-- of an environment, as the environment's workflow decided it. rule_id has
-- no foreign key: the history outlives its rule, and rule_name, severity
-- and the rule as evaluated (metric, op, threshold, for_seconds) are kept
-- with each row. since: when the breach began (firing) or the alert fired
-- (resolved); reason: why it resolved without its figure recovering.
-- The unique key makes a retried record store a transition once.
CREATE TABLE alerts (
    id             bigserial        PRIMARY KEY,
    environment_id uuid             NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    rule_id        uuid             NOT NULL,
    rule_name      text             NOT NULL DEFAULT '',
    severity       text             NOT NULL DEFAULT 'warning',
    target         text             NOT NULL DEFAULT '',
    phase          text             NOT NULL CHECK (phase IN ('firing', 'resolved')),
    at             timestamptz      NOT NULL,
    since          timestamptz      NOT NULL,
    value          double precision NOT NULL,
    metric         text             NOT NULL DEFAULT '',
    op             text             NOT NULL DEFAULT '',
    threshold      double precision NOT NULL DEFAULT 0,
    for_seconds    integer          NOT NULL DEFAULT 0,
    reason         text             NOT NULL DEFAULT '',
    CONSTRAINT alerts_transition_key UNIQUE (environment_id, rule_id, target, phase, at),
    CONSTRAINT alerts_value_finite CHECK (
        value <> 'NaN'::float8 AND value <> 'Infinity'::float8 AND value <> '-Infinity'::float8)
);

-- The latest transition of each rule × target (what fires now), and the
-- recent transitions, of one environment or of all.
CREATE INDEX alerts_target_latest_idx ON alerts (environment_id, rule_id, target, at DESC, id DESC);
CREATE INDEX alerts_environment_newest_idx ON alerts (environment_id, at DESC, id DESC);
CREATE INDEX alerts_newest_idx ON alerts (at DESC, id DESC);

-- +goose Down
DROP TABLE alerts;
ALTER TABLE alert_rules
    DROP CONSTRAINT alert_rules_channel_ids_no_null,
    DROP COLUMN channel_ids;

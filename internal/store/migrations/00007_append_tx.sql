-- +goose Up

-- Followers of container_events and environment_status (the live stream)
-- used to read "id > N" and relied on one advisory lock per table, taken by
-- every writer of every environment, to make ids visible in the order they
-- were assigned. That serialized all event writes. Instead each row now
-- records the transaction that wrote it, and followers read in (tx_id, id)
-- order only the rows whose tx_id is below pg_snapshot_xmin of their
-- snapshot: every transaction below that horizon has ended, so no row can
-- still appear before a follower's position (see Store.EventsAfter).
--
-- Rows stored before this migration get tx_id 0: they come first, in id
-- order, exactly as followers read them so far. The constant default makes
-- the new column a catalog-only change (no table rewrite); new rows then
-- take the writing transaction's id.
ALTER TABLE container_events
    ADD COLUMN tx_id xid8 NOT NULL DEFAULT '0';
ALTER TABLE container_events
    ALTER COLUMN tx_id SET DEFAULT pg_current_xact_id();
ALTER TABLE environment_status
    ADD COLUMN tx_id xid8 NOT NULL DEFAULT '0';
ALTER TABLE environment_status
    ALTER COLUMN tx_id SET DEFAULT pg_current_xact_id();

-- The follower's read: (tx_id, id) > position AND tx_id < horizon, in
-- (tx_id, id) order.
CREATE INDEX container_events_append_idx ON container_events (tx_id, id);
CREATE INDEX environment_status_append_idx ON environment_status (tx_id, id);

-- +goose Down

DROP INDEX environment_status_append_idx;
DROP INDEX container_events_append_idx;
ALTER TABLE environment_status DROP COLUMN tx_id;
ALTER TABLE container_events DROP COLUMN tx_id;

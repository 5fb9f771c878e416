-- +goose Up
-- version counts the changes of an environment's row (the API's ETag, checked
-- against If-Match). settings_pending is true from the moment a change of the
-- settings is stored until the environment's workflow has applied exactly
-- the stored settings (and for a new row until its workflow runs): a crash
-- or an unreachable Temporal in between leaves a durable mark, which the
-- reconciler (internal/envflow) sweeps. Rows that exist before this
-- migration were written after their workflow applied them.
ALTER TABLE environments
    ADD COLUMN version bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    ADD COLUMN settings_pending boolean NOT NULL DEFAULT false;
CREATE INDEX environments_settings_pending_idx ON environments (id) WHERE settings_pending;

-- +goose Down
DROP INDEX environments_settings_pending_idx;
ALTER TABLE environments
    DROP COLUMN settings_pending,
    DROP COLUMN version;

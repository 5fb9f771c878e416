-- +goose Up
-- ring_seen records whether the engine's event replay buffer held any event
-- at the last look: an empty buffer means "restarted" only if it was not
-- empty before (an idle engine keeps an empty buffer).
ALTER TABLE event_cursors ADD COLUMN ring_seen boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE event_cursors DROP COLUMN ring_seen;

-- +goose Up
-- due_at is the schedule slot a cycle was due at, when the workflow knows it
-- (lean shape). A check is a local activity: when its workflow task fails
-- after the rows were stored (a worker dies mid-check), the retried task
-- runs the check again with a later cycle_at but the same slot, and this
-- key keeps it from being stored twice.
ALTER TABLE host_metrics ADD COLUMN due_at timestamptz;
CREATE UNIQUE INDEX host_metrics_due_key ON host_metrics (environment_id, due_at) WHERE due_at IS NOT NULL;

-- +goose Down
DROP INDEX host_metrics_due_key;
ALTER TABLE host_metrics DROP COLUMN due_at;

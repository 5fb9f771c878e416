-- +goose Up
-- windflow_instance names this database with a random ID. Temporal IDs of
-- things numbered by this database (notification deliveries) include it, so
-- a reset database or a second installation on the same Temporal namespace
-- never collides with workflows of the old numbering.
CREATE TABLE windflow_instance (
    id        uuid    PRIMARY KEY DEFAULT gen_random_uuid(),
    singleton boolean NOT NULL DEFAULT true UNIQUE CHECK (singleton)
);
INSERT INTO windflow_instance DEFAULT VALUES;

-- +goose Down
DROP TABLE windflow_instance;

-- Schedules: a trigger and the job each fire submits. Each fire's job is named after the
-- schedule and the fire time, so the unique job name is what makes a fire happen once, on one
-- server or several; `last_fire` and `next_fire` say where the schedule stands.
CREATE TABLE schedules (
    workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    display_name TEXT,
    description TEXT,
    tags TEXT NOT NULL,
    yaml TEXT NOT NULL,
    submission TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    last_fire BIGINT,
    next_fire BIGINT,
    created_by TEXT NOT NULL,
    creation_time BIGINT NOT NULL,
    PRIMARY KEY (workspace, name)
);
CREATE INDEX schedules_due ON schedules (enabled, next_fire);

-- Schedules: a trigger and the job each fire submits. A server takes a fire by a lease on the
-- schedule (`lease_holder` until `lease_until`), and each fire's job is named after the
-- schedule and the fire time, so a fire happens once on one server or several; `last_fire`,
-- `next_fire` and `last_error` say where the schedule stands.
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
    last_error TEXT,
    lease_holder TEXT,
    lease_until BIGINT,
    created_by TEXT NOT NULL,
    creation_time BIGINT NOT NULL,
    PRIMARY KEY (workspace, name)
);
CREATE INDEX schedules_due ON schedules (enabled, next_fire);

-- What a schedule's submission holds on to (its code snapshots and uploaded inputs), for
-- garbage collection, as job_references does for jobs.
CREATE TABLE schedule_references (
    workspace TEXT NOT NULL,
    schedule TEXT NOT NULL,
    location TEXT NOT NULL,
    PRIMARY KEY (workspace, schedule, location),
    FOREIGN KEY (workspace, schedule) REFERENCES schedules(workspace, name) ON DELETE CASCADE
);

-- What a job's client uploaded for it (code snapshots, uploaded inputs, inline environments,
-- a pipeline's component files), so that a schedule can submit the job again (`azureml:<job>`).
ALTER TABLE jobs ADD COLUMN submission TEXT;

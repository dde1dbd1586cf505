-- Compute instances: a JupyterLab for one person, with its state and the process that runs it.
CREATE TABLE compute_instances (
    workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    owner TEXT NOT NULL,
    shared_with TEXT NOT NULL,
    size TEXT,
    description TEXT NOT NULL,
    tags TEXT NOT NULL,
    yaml TEXT NOT NULL,
    definition TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    state_since BIGINT NOT NULL,
    token_hash TEXT,
    runtime_pid BIGINT,
    runtime_start BIGINT,
    last_activity BIGINT,
    schedules_checked_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace, name)
);
CREATE UNIQUE INDEX compute_instances_by_token ON compute_instances (token_hash);

-- Jobs: a command run on a compute. A job's name is unique on the server and is also the id of
-- its run (runs.run_uuid), which is created with it. `seq` orders submissions; `plan` is the
-- resolved spec (JSON) the job runtime executes; `token_hash` is the SHA-256 of the job's own
-- token, valid while the job has not ended.
CREATE TABLE jobs (
    name TEXT PRIMARY KEY REFERENCES runs(run_uuid) ON DELETE CASCADE,
    workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    experiment_id BIGINT NOT NULL,
    display_name TEXT,
    description TEXT,
    compute TEXT NOT NULL,
    status TEXT NOT NULL,
    priority BIGINT NOT NULL,
    cpus DOUBLE PRECISION NOT NULL,
    memory_mb BIGINT NOT NULL,
    gpus BIGINT NOT NULL,
    tags TEXT NOT NULL,
    spec_yaml TEXT NOT NULL,
    plan TEXT NOT NULL,
    snapshot TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    exit_code BIGINT,
    error TEXT,
    warnings TEXT NOT NULL,
    archived BIGINT NOT NULL,
    runtime_pid BIGINT,
    runtime_start BIGINT,
    assigned_gpus TEXT,
    heartbeat_at BIGINT
);
CREATE INDEX jobs_by_workspace ON jobs (workspace, seq);
CREATE INDEX jobs_by_status ON jobs (status, priority, seq);

-- Every status a job reached, with its time and, where there is one, the reason.
CREATE TABLE job_events (
    job TEXT NOT NULL REFERENCES jobs(name) ON DELETE CASCADE,
    status TEXT NOT NULL,
    at BIGINT NOT NULL,
    message TEXT,
    PRIMARY KEY (job, status)
);

-- Job logs as the runtime sends them: pieces of text at byte offsets of one file
-- (user_logs/std_log.txt, …), so a piece sent twice is stored once and a reader can follow.
CREATE TABLE job_logs (
    job TEXT NOT NULL REFERENCES jobs(name) ON DELETE CASCADE,
    file TEXT NOT NULL,
    start_offset BIGINT NOT NULL,
    size BIGINT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (job, file, start_offset)
);

-- What a job holds on to (its code snapshot, uploaded inputs, its named outputs), for garbage
-- collection.
CREATE TABLE job_references (
    job TEXT NOT NULL REFERENCES jobs(name) ON DELETE CASCADE,
    workspace TEXT NOT NULL,
    location TEXT NOT NULL,
    PRIMARY KEY (job, location)
);

-- Computes a workspace defined besides the built-in `local`: Azure's compute YAML, run on this
-- machine (`max_instances` jobs at once, each with the CPUs and memory of `size`).
CREATE TABLE computes (
    workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    size TEXT NOT NULL,
    min_instances BIGINT NOT NULL,
    max_instances BIGINT NOT NULL,
    description TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace, name)
);

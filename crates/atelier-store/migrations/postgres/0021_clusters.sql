-- Several servers on one database: a lease names the one server that runs the periodic work
-- (the scheduler, schedules, garbage collection, the audit log's retention) until it expires;
-- the holder renews it, and another server takes it only once it has expired.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- A compute on a cluster (type slurm) keeps its cluster's settings as JSON: partition,
-- account, QOS, limits, the folder its nodes share.
ALTER TABLE computes ADD COLUMN settings TEXT;

-- What the cluster last said of a job it holds: its state and reason (PENDING (Resources)).
-- A job on a cluster keeps the cluster's job id in runtime_pid.
ALTER TABLE jobs ADD COLUMN cluster_state TEXT;

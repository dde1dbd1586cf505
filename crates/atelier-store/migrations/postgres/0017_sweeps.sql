-- Sweep jobs: a job is a command (run by a job runtime) or a sweep, whose trials are command
-- jobs that name it as their parent, each with its index in the sweep. A trial index is given
-- once per sweep, so a restarted server never samples a trial twice.
ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'command';
ALTER TABLE jobs ADD COLUMN parent_job TEXT;
ALTER TABLE jobs ADD COLUMN trial_index BIGINT;
CREATE UNIQUE INDEX jobs_trials ON jobs (parent_job, trial_index);

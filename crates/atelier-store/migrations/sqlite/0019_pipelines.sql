-- Pipeline jobs: a pipeline is a parent job whose steps are command jobs that name it as their
-- parent, each with its step's name, given once per pipeline so that a restarted server never
-- runs a step twice. A step reused from an earlier run names the job whose outputs it has.
ALTER TABLE jobs ADD COLUMN step TEXT;
ALTER TABLE jobs ADD COLUMN reused_from TEXT;
ALTER TABLE jobs ADD COLUMN reuse_key TEXT;
CREATE UNIQUE INDEX jobs_steps ON jobs (parent_job, step);
CREATE INDEX jobs_reuse ON jobs (workspace, reuse_key);
CREATE INDEX job_references_location ON job_references (workspace, location);

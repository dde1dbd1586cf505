-- Latest metrics also carry their run's workspace and experiment (which never change), so that a
-- search ordered by a metric walks latest_metrics_by_value in the order asked for and stops
-- after a page, instead of reading and sorting every run of the experiment.
ALTER TABLE latest_metrics ADD COLUMN workspace TEXT;
ALTER TABLE latest_metrics ADD COLUMN experiment_id BIGINT;
UPDATE latest_metrics SET workspace = r.workspace, experiment_id = r.experiment_id
    FROM runs r WHERE r.run_uuid = latest_metrics.run_uuid;
ALTER TABLE latest_metrics ALTER COLUMN workspace SET NOT NULL;
ALTER TABLE latest_metrics ALTER COLUMN experiment_id SET NOT NULL;
CREATE INDEX latest_metrics_by_value ON latest_metrics (workspace, experiment_id, key, is_nan, value);

-- A run search's default order is newest start first, then by id: with both in the index, a
-- page of the newest runs is read in index order and stops after its runs, even among runs that
-- share a start time.
DROP INDEX runs_by_experiment;
CREATE INDEX runs_by_experiment ON runs (workspace, experiment_id, start_time DESC, run_uuid);

-- A run's params, tags and latest metrics are read by (run_uuid, key): by every run search, once
-- per filter term, order term and page row. As rowid tables they were found through their
-- primary-key index and then read from the table, two B-tree descents a row; keyed on their
-- primary key (WITHOUT ROWID) the index entry is the row, one descent. A filtered, ordered search
-- over 2,000 runs took 2.4 ms in SQLite before and 1.6 ms after.

CREATE TABLE params_keyed (
    run_uuid TEXT NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_uuid, key)
) WITHOUT ROWID;
INSERT INTO params_keyed (run_uuid, key, value) SELECT run_uuid, key, value FROM params;
DROP TABLE params;
ALTER TABLE params_keyed RENAME TO params;

CREATE TABLE tags_keyed (
    run_uuid TEXT NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_uuid, key)
) WITHOUT ROWID;
INSERT INTO tags_keyed (run_uuid, key, value) SELECT run_uuid, key, value FROM tags;
DROP TABLE tags;
ALTER TABLE tags_keyed RENAME TO tags;

-- Latest metrics also carry their run's workspace and experiment (which never change), so that a
-- search ordered by a metric walks latest_metrics_by_value in the order asked for and stops
-- after a page, instead of reading and sorting every run of the experiment: 292 ms for a
-- filtered page of 100 over 100,000 runs before, under 3 ms after.
CREATE TABLE latest_metrics_keyed (
    run_uuid TEXT NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,
    key TEXT NOT NULL,
    workspace TEXT NOT NULL,
    experiment_id BIGINT NOT NULL,
    step BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    is_nan BIGINT NOT NULL,
    value_bits BIGINT NOT NULL,
    points BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (run_uuid, key)
) WITHOUT ROWID;
INSERT INTO latest_metrics_keyed
    (run_uuid, key, workspace, experiment_id, step, timestamp, value, is_nan, value_bits, points)
    SELECT m.run_uuid, m.key, r.workspace, r.experiment_id, m.step, m.timestamp, m.value, m.is_nan, m.value_bits, m.points
    FROM latest_metrics m JOIN runs r ON r.run_uuid = m.run_uuid;
DROP TABLE latest_metrics;
ALTER TABLE latest_metrics_keyed RENAME TO latest_metrics;
CREATE INDEX latest_metrics_by_value ON latest_metrics (workspace, experiment_id, key, is_nan, value);

-- A run search's default order is newest start first, then by id: with both in the index, a
-- page of the newest runs is read in index order and stops after its runs, even among runs that
-- share a start time (the whole tie was sorted before).
DROP INDEX runs_by_experiment;
CREATE INDEX runs_by_experiment ON runs (workspace, experiment_id, start_time DESC, run_uuid);

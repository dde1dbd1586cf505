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

CREATE TABLE latest_metrics_keyed (
    run_uuid TEXT NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,
    key TEXT NOT NULL,
    step BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    is_nan BIGINT NOT NULL,
    value_bits BIGINT NOT NULL,
    points BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (run_uuid, key)
) WITHOUT ROWID;
INSERT INTO latest_metrics_keyed (run_uuid, key, step, timestamp, value, is_nan, value_bits, points)
    SELECT run_uuid, key, step, timestamp, value, is_nan, value_bits, points FROM latest_metrics;
DROP TABLE latest_metrics;
ALTER TABLE latest_metrics_keyed RENAME TO latest_metrics;

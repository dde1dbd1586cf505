-- Metric points in a narrow row keyed by an integer series. Each (run, key) is a row of
-- `metric_series`; a point carries only its series' number, step, timestamp and value bits,
-- where it carried the run's 32-character id and the key twice (row and index) and the value
-- three times. A point is about a fifth of the bytes to write, log and read back, and its binds
-- are four integers. The id (the insertion mark kept summaries count from) is kept as it was.
CREATE TABLE metric_series (
    series_id INTEGER PRIMARY KEY,
    run_uuid TEXT NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,
    key TEXT NOT NULL,
    UNIQUE (run_uuid, key)
);

CREATE TABLE metric_points (
    id INTEGER PRIMARY KEY,
    series_id INTEGER NOT NULL,
    step BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    -- The exact IEEE 754 bits of the value (NaN included).
    value_bits BIGINT NOT NULL
);

INSERT INTO metric_series (run_uuid, key) SELECT DISTINCT run_uuid, key FROM metrics ORDER BY run_uuid, key;
INSERT INTO metric_points (id, series_id, step, timestamp, value_bits)
    SELECT m.id, s.series_id, m.step, m.timestamp, m.value_bits
    FROM metrics m JOIN metric_series s ON s.run_uuid = m.run_uuid AND s.key = m.key
    ORDER BY m.id;
DROP TABLE metrics;

-- A series' points in the order every reader asks for: step, timestamp, then insertion (the id
-- every index entry ends with).
CREATE INDEX metric_points_by_series ON metric_points (series_id, step, timestamp);

-- A point names its series without a foreign key: checking one costs a lookup a point (on
-- PostgreSQL a trigger that locks the series row, 4 µs a point here). A series' points go with
-- it instead, whatever deletes it (a run's purge cascades to its series).
CREATE TRIGGER metric_series_deleted AFTER DELETE ON metric_series BEGIN
    DELETE FROM metric_points WHERE series_id = OLD.series_id;
END;

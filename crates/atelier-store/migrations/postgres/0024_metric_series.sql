-- Metric points in a narrow row keyed by an integer series (see the SQLite migration of the
-- same number). The table keeps its id sequence, so insertion marks carry on from where they
-- were.
CREATE TABLE metric_series (
    series_id BIGSERIAL PRIMARY KEY,
    run_uuid TEXT NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,
    key TEXT NOT NULL,
    UNIQUE (run_uuid, key)
);

INSERT INTO metric_series (run_uuid, key) SELECT DISTINCT run_uuid, key FROM metrics ORDER BY run_uuid, key;

CREATE TABLE metric_points (
    -- Unique by its sequence; no index of its own (each costs every insert), as nothing
    -- looks a point up by it.
    id BIGINT NOT NULL,
    series_id BIGINT NOT NULL,
    step BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    -- The exact IEEE 754 bits of the value (NaN included).
    value_bits BIGINT NOT NULL
);

INSERT INTO metric_points (id, series_id, step, timestamp, value_bits)
    SELECT m.id, s.series_id, m.step, m.timestamp, m.value_bits
    FROM metrics m JOIN metric_series s ON s.run_uuid = m.run_uuid AND s.key = m.key;

-- The id sequence moves to the new table before the old one (its owner) is dropped.
ALTER SEQUENCE metrics_id_seq OWNED BY metric_points.id;
ALTER TABLE metric_points ALTER COLUMN id SET DEFAULT nextval('metrics_id_seq');
DROP TABLE metrics;
ALTER SEQUENCE metrics_id_seq RENAME TO metric_points_id_seq;

CREATE INDEX metric_points_by_series ON metric_points (series_id, step, timestamp, id);

-- A point names its series without a foreign key: checking one is a trigger that locks the
-- series row, about 4 µs a point here, more than the insert itself. A series' points go with it
-- instead, whatever deletes it (a run's purge cascades to its series).
CREATE FUNCTION delete_series_points() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM metric_points WHERE series_id = OLD.series_id;
    RETURN OLD;
END $$;
CREATE TRIGGER metric_series_deleted AFTER DELETE ON metric_series
    FOR EACH ROW EXECUTE FUNCTION delete_series_points();

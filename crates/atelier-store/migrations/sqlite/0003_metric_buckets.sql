-- Per-metric summaries of fixed step buckets (128 steps each): the points with the smallest and
-- the largest value in each bucket, and how many points it holds. Charts of long series read
-- these instead of every point; NaN points are not summarised.
CREATE TABLE metric_buckets (
    run_uuid TEXT NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,
    key TEXT NOT NULL,
    bucket BIGINT NOT NULL,
    points BIGINT NOT NULL,
    min_step BIGINT NOT NULL,
    min_timestamp BIGINT NOT NULL,
    min_value DOUBLE PRECISION NOT NULL,
    min_bits BIGINT NOT NULL,
    max_step BIGINT NOT NULL,
    max_timestamp BIGINT NOT NULL,
    max_value DOUBLE PRECISION NOT NULL,
    max_bits BIGINT NOT NULL,
    PRIMARY KEY (run_uuid, key, bucket)
);

-- Summaries of what was logged before this table existed. SQLite takes the other columns of a
-- MIN() or MAX() aggregate from the row that has the extreme value.
INSERT INTO metric_buckets (run_uuid, key, bucket, points, min_step, min_timestamp, min_value, min_bits,
                            max_step, max_timestamp, max_value, max_bits)
SELECT low.run_uuid, low.key, low.bucket, low.points, low.step, low.timestamp, low.value, low.value_bits,
       high.step, high.timestamp, high.value, high.value_bits
FROM (SELECT run_uuid, key, step >> 7 AS bucket, COUNT(*) AS points, MIN(value) AS value, step, timestamp, value_bits
      FROM metrics WHERE is_nan = 0 GROUP BY run_uuid, key, step >> 7) AS low
JOIN (SELECT run_uuid, key, step >> 7 AS bucket, MAX(value) AS value, step, timestamp, value_bits
      FROM metrics WHERE is_nan = 0 GROUP BY run_uuid, key, step >> 7) AS high
  ON high.run_uuid = low.run_uuid AND high.key = low.key AND high.bucket = low.bucket;

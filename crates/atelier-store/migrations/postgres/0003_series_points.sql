-- How many points each metric series has, kept beside its latest value and updated in the same
-- write, so that a reader can tell whether a long series grew without reading it (the studio
-- keeps summaries of long series and extends them only when this count moves).
ALTER TABLE latest_metrics ADD COLUMN points BIGINT NOT NULL DEFAULT 0;
UPDATE latest_metrics SET points = (
    SELECT count(*) FROM metrics m WHERE m.run_uuid = latest_metrics.run_uuid AND m.key = latest_metrics.key
);

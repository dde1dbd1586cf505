-- Summaries of long metric series (atelier_core::series::SeriesSummary, as its bytes), kept so
-- that a chart's first view after a restart reads one row and the points written since
-- `last_mark` (the highest metrics.id the summary has seen) instead of the whole series.
CREATE TABLE series_summaries (
    run_uuid TEXT NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,
    key TEXT NOT NULL,
    last_mark BIGINT NOT NULL,
    summary BYTEA NOT NULL,
    PRIMARY KEY (run_uuid, key)
);

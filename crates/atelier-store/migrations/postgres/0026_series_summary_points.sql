-- How many points a kept series summary covers. A series only ever gains points, so of two
-- summaries the one that covers more is the newer; the insertion mark cannot tell, since SQLite
-- reuses the highest ids after a run's purge and a PostgreSQL sequence's order is not the order
-- in which transactions commit. Rows kept before have 0 and give way to the next summary.
ALTER TABLE series_summaries ADD COLUMN points BIGINT NOT NULL DEFAULT 0;

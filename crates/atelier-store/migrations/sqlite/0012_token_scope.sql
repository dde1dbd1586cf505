-- What a token may do: 'all' (everything its user may) or 'metrics' (only read /metrics, for
-- Prometheus). Tokens made before this migration keep every power.
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'all';

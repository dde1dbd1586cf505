-- A disabled user keeps their records and roles but cannot sign in: their tokens, sessions and
-- jobs' tokens are refused. NULL: enabled.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
-- When a token last authenticated a request, to within a minute (NULL: never since this column).
ALTER TABLE api_tokens ADD COLUMN last_used_at BIGINT;

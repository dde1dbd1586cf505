-- The audit log: one row per audited call, appended and never changed (the trigger refuses
-- updates); only the retention sweep deletes rows, by age. Times are epoch milliseconds.
-- No secondary index: every audited change writes a row in its own transaction, and each index
-- would be one more page written per commit. Reads go newest first by id (the rowid, so the ids
-- grow as rows are appended and the oldest rows go first) and filter as they scan.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at BIGINT NOT NULL,
    user_name TEXT,
    token_id TEXT,
    job TEXT,
    address TEXT,
    workspace TEXT,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    error TEXT,
    request_id TEXT NOT NULL
);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

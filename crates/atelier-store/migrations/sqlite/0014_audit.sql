-- The audit log: one row per audited call, appended and never changed (the trigger refuses
-- updates); only the retention sweep deletes rows, by age. Times are epoch milliseconds.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
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
CREATE INDEX audit_log_by_time ON audit_log (at);
CREATE INDEX audit_log_by_workspace ON audit_log (workspace, id);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

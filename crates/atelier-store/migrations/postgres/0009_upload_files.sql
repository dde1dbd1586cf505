-- Uploaded files are stored once per content (by BLAKE3 hash, under the workspace's cas/ folder);
-- this index names them: the path a client uploaded to ('models' paths are relative to the
-- workspace's artifact root, 'data' paths to its default datastore), and the content it holds.
CREATE TABLE upload_files (
    workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
    area TEXT NOT NULL,
    path TEXT NOT NULL,
    hash TEXT NOT NULL,
    size BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace, area, path)
);
CREATE INDEX upload_files_by_hash ON upload_files (workspace, hash);

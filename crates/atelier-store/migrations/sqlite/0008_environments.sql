-- Environments: named, versioned build specs (a Python version, pip requirements, an optional
-- container image), kept as JSON text.
CREATE TABLE environments (
    workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    spec TEXT NOT NULL,
    description TEXT NOT NULL,
    tags TEXT NOT NULL,
    archived BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    creation_time BIGINT NOT NULL,
    PRIMARY KEY (workspace, name, version)
);

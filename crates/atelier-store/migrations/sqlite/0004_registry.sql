-- The model registry: registered models, their numbered versions, tags and aliases. Children
-- follow a rename (ON UPDATE CASCADE) and go with their model or version (ON DELETE CASCADE).
CREATE TABLE registered_models (
    workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    creation_time BIGINT NOT NULL,
    last_updated_time BIGINT NOT NULL,
    -- Version numbers are never reused, even after a version is deleted.
    next_version BIGINT NOT NULL,
    PRIMARY KEY (workspace, name)
);

CREATE TABLE registered_model_tags (
    workspace TEXT NOT NULL,
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (workspace, name, key),
    FOREIGN KEY (workspace, name) REFERENCES registered_models (workspace, name) ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE TABLE model_versions (
    workspace TEXT NOT NULL,
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    creation_time BIGINT NOT NULL,
    last_updated_time BIGINT NOT NULL,
    description TEXT NOT NULL,
    user_id TEXT NOT NULL,
    current_stage TEXT NOT NULL,
    source TEXT NOT NULL,
    run_id TEXT,
    run_link TEXT NOT NULL,
    status TEXT NOT NULL,
    status_message TEXT NOT NULL,
    model_id TEXT,
    PRIMARY KEY (workspace, name, version),
    FOREIGN KEY (workspace, name) REFERENCES registered_models (workspace, name) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX model_versions_by_run ON model_versions (run_id);

CREATE TABLE model_version_tags (
    workspace TEXT NOT NULL,
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (workspace, name, version, key),
    FOREIGN KEY (workspace, name, version) REFERENCES model_versions (workspace, name, version)
        ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE TABLE registered_model_aliases (
    workspace TEXT NOT NULL,
    name TEXT NOT NULL,
    alias TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (workspace, name, alias),
    FOREIGN KEY (workspace, name, version) REFERENCES model_versions (workspace, name, version)
        ON DELETE CASCADE ON UPDATE CASCADE
);

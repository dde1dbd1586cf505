-- Data assets: named, versioned pointers to data (uri_file, uri_folder, mltable). Versions are
-- text, as in Azure ML; tags, properties and an mltable's paths are JSON text.
CREATE TABLE data_assets (
    workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    data_type TEXT NOT NULL,
    path TEXT NOT NULL,
    description TEXT NOT NULL,
    tags TEXT NOT NULL,
    properties TEXT NOT NULL,
    mltable_paths TEXT NOT NULL,
    archived BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    creation_time BIGINT NOT NULL,
    last_updated_time BIGINT NOT NULL,
    PRIMARY KEY (workspace, name, version)
);

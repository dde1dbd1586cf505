-- Components: named, versioned, reusable steps. A version keeps its definition (JSON: the
-- command, its typed interface, resources and resolved environment) and its code snapshot,
-- with the hashes that make a registration of the same content the same version.
CREATE TABLE components (
    workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT NOT NULL,
    tags TEXT NOT NULL,
    is_deterministic BIGINT NOT NULL,
    definition TEXT NOT NULL,
    snapshot TEXT,
    code_hash TEXT,
    content_hash TEXT NOT NULL,
    archived BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    creation_time BIGINT NOT NULL,
    PRIMARY KEY (workspace, name, version)
);
CREATE INDEX components_snapshot ON components (workspace, snapshot);

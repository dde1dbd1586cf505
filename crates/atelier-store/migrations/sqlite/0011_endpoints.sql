-- Online endpoints: a scoring URL with credentials and a traffic split. A name is unique on the
-- server (the scoring URL has no workspace in it). `sealed_keys` holds the primary and secondary
-- keys, sealed with the server's master key; `traffic` and `mirror_traffic` are JSON maps.
CREATE TABLE endpoints (
    name TEXT PRIMARY KEY,
    workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
    description TEXT,
    tags TEXT NOT NULL,
    auth_mode TEXT NOT NULL,
    traffic TEXT NOT NULL,
    mirror_traffic TEXT NOT NULL,
    sealed_keys TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX endpoints_by_workspace ON endpoints (workspace, name);

-- Deployments of an endpoint. `plan` is the resolved deployment (JSON) the serving layer runs;
-- `generation` counts its changes, each a rollout; `state` is Azure's provisioning state.
CREATE TABLE deployments (
    endpoint TEXT NOT NULL REFERENCES endpoints(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    workspace TEXT NOT NULL,
    description TEXT,
    tags TEXT NOT NULL,
    state TEXT NOT NULL,
    error TEXT,
    spec_yaml TEXT NOT NULL,
    plan TEXT NOT NULL,
    model_name TEXT,
    model_version TEXT,
    instance_count BIGINT NOT NULL,
    generation BIGINT NOT NULL,
    snapshot TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (endpoint, name)
);
CREATE INDEX deployments_by_model ON deployments (workspace, model_name, model_version);

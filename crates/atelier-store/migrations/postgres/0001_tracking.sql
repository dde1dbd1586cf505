-- Workspaces, users, tokens, roles and MLflow-style tracking.
-- Times are epoch milliseconds (BIGINT); flags are 0/1 integers; JSON is TEXT.

CREATE TABLE workspaces (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '{}',
    next_experiment_id BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE users (
    name TEXT PRIMARY KEY,
    password_hash TEXT,
    is_admin BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    expires_at BIGINT
);

CREATE TABLE role_assignments (
    workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
    user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    role TEXT NOT NULL,
    PRIMARY KEY (workspace, user_name)
);

CREATE TABLE experiments (
    workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
    experiment_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    artifact_location TEXT NOT NULL,
    lifecycle_stage TEXT NOT NULL,
    creation_time BIGINT NOT NULL,
    last_update_time BIGINT NOT NULL,
    PRIMARY KEY (workspace, experiment_id),
    UNIQUE (workspace, name)
);

CREATE TABLE experiment_tags (
    workspace TEXT NOT NULL,
    experiment_id BIGINT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (workspace, experiment_id, key),
    FOREIGN KEY (workspace, experiment_id) REFERENCES experiments(workspace, experiment_id) ON DELETE CASCADE
);

CREATE TABLE runs (
    run_uuid TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    experiment_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    start_time BIGINT,
    end_time BIGINT,
    lifecycle_stage TEXT NOT NULL,
    artifact_uri TEXT NOT NULL,
    deleted_time BIGINT,
    FOREIGN KEY (workspace, experiment_id) REFERENCES experiments(workspace, experiment_id) ON DELETE CASCADE
);
CREATE INDEX runs_by_experiment ON runs (workspace, experiment_id, start_time);

CREATE TABLE params (
    run_uuid TEXT NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_uuid, key)
);

CREATE TABLE tags (
    run_uuid TEXT NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_uuid, key)
);

CREATE TABLE metrics (
    id BIGSERIAL PRIMARY KEY,
    run_uuid TEXT NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,
    key TEXT NOT NULL,
    step BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    is_nan BIGINT NOT NULL,
    -- The exact IEEE 754 bits of the value (NaN included), read back without a lossy float-to-text step.
    value_bits BIGINT NOT NULL
);
CREATE INDEX metrics_by_run_key ON metrics (run_uuid, key, step, timestamp, id);

CREATE TABLE latest_metrics (
    run_uuid TEXT NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,
    key TEXT NOT NULL,
    step BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    is_nan BIGINT NOT NULL,
    value_bits BIGINT NOT NULL,
    PRIMARY KEY (run_uuid, key)
);

CREATE TABLE datasets (
    dataset_uuid TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    experiment_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    digest TEXT NOT NULL,
    source_type TEXT NOT NULL,
    source TEXT NOT NULL,
    dataset_schema TEXT,
    profile TEXT,
    UNIQUE (workspace, experiment_id, name, digest),
    FOREIGN KEY (workspace, experiment_id) REFERENCES experiments(workspace, experiment_id) ON DELETE CASCADE
);

CREATE TABLE run_inputs (
    input_uuid TEXT PRIMARY KEY,
    dataset_uuid TEXT NOT NULL REFERENCES datasets(dataset_uuid) ON DELETE CASCADE,
    run_uuid TEXT NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,
    UNIQUE (dataset_uuid, run_uuid)
);
CREATE INDEX run_inputs_by_run ON run_inputs (run_uuid);

CREATE TABLE input_tags (
    input_uuid TEXT NOT NULL REFERENCES run_inputs(input_uuid) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (input_uuid, key)
);

CREATE TABLE logged_models (
    model_id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    experiment_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    artifact_location TEXT NOT NULL,
    creation_time BIGINT NOT NULL,
    last_updated_time BIGINT NOT NULL,
    status TEXT NOT NULL,
    status_message TEXT NOT NULL DEFAULT '',
    lifecycle_stage TEXT NOT NULL,
    model_type TEXT NOT NULL DEFAULT '',
    creator TEXT NOT NULL DEFAULT '',
    source_run_id TEXT,
    FOREIGN KEY (workspace, experiment_id) REFERENCES experiments(workspace, experiment_id) ON DELETE CASCADE
);
CREATE INDEX logged_models_by_experiment ON logged_models (workspace, experiment_id, creation_time);

CREATE TABLE logged_model_tags (
    model_id TEXT NOT NULL REFERENCES logged_models(model_id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);

CREATE TABLE logged_model_params (
    model_id TEXT NOT NULL REFERENCES logged_models(model_id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);

CREATE TABLE run_model_outputs (
    run_uuid TEXT NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,
    model_id TEXT NOT NULL REFERENCES logged_models(model_id) ON DELETE CASCADE,
    step BIGINT NOT NULL,
    PRIMARY KEY (run_uuid, model_id)
);

-- Custom roles, in Azure's form: the patterns are JSON arrays of action strings, the scopes a
-- JSON array of '/' or '/workspaces/<name>'. name_key is the name in lower case: names are
-- unique without regard to case, as Azure's are.
CREATE TABLE role_definitions (
    name_key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    actions TEXT NOT NULL,
    not_actions TEXT NOT NULL,
    assignable_scopes TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A user may hold several roles on a workspace (Azure's AzureML Data Scientist and Compute
-- Operator together, say): the role joins the key.
ALTER TABLE role_assignments DROP CONSTRAINT role_assignments_pkey;
ALTER TABLE role_assignments ADD PRIMARY KEY (workspace, user_name, role);
CREATE INDEX role_assignments_by_role ON role_assignments (role);

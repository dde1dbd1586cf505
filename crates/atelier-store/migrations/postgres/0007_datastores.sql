-- Named datastores of a workspace. Credentials are kept only encrypted with the server's master
-- key (nonce and ciphertext, base64), bound to the datastore's workspace and name.
CREATE TABLE datastores (
    workspace TEXT NOT NULL REFERENCES workspaces(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    description TEXT NOT NULL,
    tags TEXT NOT NULL,
    settings TEXT NOT NULL,
    credential_kind TEXT,
    credentials TEXT,
    created_by TEXT NOT NULL,
    creation_time BIGINT NOT NULL,
    PRIMARY KEY (workspace, name)
);

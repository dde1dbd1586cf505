//! Roles and actions. Every service operation names the [`Action`] it performs; whether a role
//! permits an action is decided here, by [`role_permits`], and nowhere else. The service layer's
//! `authorize` combines this with who the principal is.

/// A built-in role, assigned to a user on one workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Reader,
    Contributor,
    Owner,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Owner, Role::Contributor, Role::Reader];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::Contributor => "Contributor",
            Role::Reader => "Reader",
        }
    }

    /// Parses a role name, ignoring case, as `az role assignment` does.
    pub fn parse(text: &str) -> crate::Result<Self> {
        Role::ALL.into_iter().find(|role| role.as_str().eq_ignore_ascii_case(text)).ok_or_else(|| {
            crate::Error::invalid(format!("unknown role '{text}': expected one of Owner, Contributor, Reader"))
        })
    }
}

/// What an operation does, at the granularity roles are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// See a workspace's description, experiments, runs and artifacts.
    WorkspaceRead,
    /// Create or change experiments, runs, metrics, params, tags and artifacts.
    TrackingWrite,
    /// Create or change versioned assets: registered models and their versions.
    AssetWrite,
    /// Create, change and delete online endpoints and deployments.
    EndpointWrite,
    /// Read an endpoint's keys, regenerate them, or get a scoring token.
    EndpointKeys,
    /// Change the workspace's own description and tags.
    WorkspaceUpdate,
    /// Assign and remove roles on the workspace, and delete it.
    WorkspaceManage,
    /// Server-wide administration: create workspaces, manage users and other users' tokens.
    ServerAdmin,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::WorkspaceRead => "workspace/read",
            Action::TrackingWrite => "tracking/write",
            Action::AssetWrite => "assets/write",
            Action::EndpointWrite => "onlineEndpoints/write",
            Action::EndpointKeys => "onlineEndpoints/listKeys",
            Action::WorkspaceUpdate => "workspace/update",
            Action::WorkspaceManage => "workspace/manage",
            Action::ServerAdmin => "server/admin",
        }
    }
}

/// Whether `role` on a workspace permits `action` on that workspace.
pub fn role_permits(role: Role, action: Action) -> bool {
    match action {
        Action::WorkspaceRead => true,
        Action::TrackingWrite | Action::AssetWrite | Action::EndpointWrite | Action::EndpointKeys => {
            matches!(role, Role::Contributor | Role::Owner)
        }
        Action::WorkspaceUpdate | Action::WorkspaceManage => role == Role::Owner,
        Action::ServerAdmin => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole matrix, so that a change to one cell is a visible change to this table.
    #[test]
    fn role_matrix() {
        let expected = [
            (Role::Reader, [true, false, false, false, false, false, false, false]),
            (Role::Contributor, [true, true, true, true, true, false, false, false]),
            (Role::Owner, [true, true, true, true, true, true, true, false]),
        ];
        let actions = [
            Action::WorkspaceRead,
            Action::TrackingWrite,
            Action::AssetWrite,
            Action::EndpointWrite,
            Action::EndpointKeys,
            Action::WorkspaceUpdate,
            Action::WorkspaceManage,
            Action::ServerAdmin,
        ];
        for (role, row) in expected {
            for (action, permitted) in actions.iter().zip(row) {
                assert_eq!(role_permits(role, *action), permitted, "{role:?} {action:?}");
            }
        }
    }

    #[test]
    fn role_names_parse_case_insensitively() {
        assert_eq!(Role::parse("reader").unwrap(), Role::Reader);
        assert_eq!(Role::parse("OWNER").unwrap(), Role::Owner);
        assert!(Role::parse("admin").unwrap_err().message.contains("expected one of"));
    }
}

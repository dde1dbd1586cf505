//! Roles and actions, as Azure ML writes them. Every service operation names the [`Action`] it
//! performs; [`ACTIONS`] maps each to Azure's action string; a role ([`RoleDefinition`],
//! built-in or custom) is a set of action patterns, and whether it permits an action is decided
//! by [`RoleDefinition::permits`] and nowhere else. The service layer's `authorize` combines
//! this with who the principal is and which roles they hold on the workspace.

mod actions;
mod roles;

pub use actions::{ACTIONS, Action, ActionInfo};
pub use roles::{
    ROLE_NAME_MAX, RoleDefinition, RoleScope, built_in_role, built_in_roles, check_pattern, pattern_matches,
};

/// The role a workspace's creator gets on it.
pub const OWNER: &str = "Owner";

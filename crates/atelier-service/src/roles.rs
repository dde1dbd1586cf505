//! Roles: the catalogue (Azure's built-in roles and the custom roles server administrators
//! define) and their assignment on workspaces, which a workspace's Owners decide. What a role
//! permits is the core's ([`RoleDefinition::permits`]); which roles a user holds is read here,
//! for [`Service::authorize_on`].

use crate::{Principal, Service, Target, now_millis};
use atelier_core::authz::{Action, RoleDefinition, built_in_role, built_in_roles};
use atelier_core::names::{UserName, WorkspaceName, did_you_mean};
use atelier_core::{Error, Result};
use atelier_store::StoredRole;
use std::borrow::Cow;

/// A role as the catalogue shows it: built-in ones have no author.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleView {
    pub definition: RoleDefinition,
    pub created_by: Option<String>,
    pub updated_at: Option<i64>,
}

impl From<StoredRole> for RoleView {
    fn from(stored: StoredRole) -> Self {
        RoleView {
            definition: stored.definition,
            created_by: Some(stored.created_by),
            updated_at: Some(stored.updated_at),
        }
    }
}

impl Service {
    /// The role called `name` (built-in or custom, without regard to case), if there is one.
    /// Built-in roles are borrowed, not copied: every authorization of a user reads them. Custom
    /// roles are cached briefly, like the other answers `authorize` needs.
    pub(crate) async fn role_definition(&self, name: &str) -> Result<Option<Cow<'static, RoleDefinition>>> {
        if let Some(role) = built_in_role(name) {
            return Ok(Some(Cow::Borrowed(role)));
        }
        let key = name.trim().to_lowercase();
        if let Some(role) = self.auth_cache.definitions.get(&key) {
            return Ok(role.map(Cow::Owned));
        }
        let role = self.store.get_role_definition(name).await?.map(|stored| stored.definition);
        self.auth_cache.definitions.insert(key, role.clone());
        Ok(role.map(Cow::Owned))
    }

    /// The roles `user` holds on `workspace`, their definitions resolved.
    pub(crate) async fn roles_held(
        &self,
        workspace: &WorkspaceName,
        user: &UserName,
    ) -> Result<Vec<Cow<'static, RoleDefinition>>> {
        let cache_key = (workspace.to_string(), user.to_string());
        let names = match self.auth_cache.roles.get(&cache_key) {
            Some(names) => names,
            None => {
                let names = self.store.roles_of(workspace, user).await?;
                self.auth_cache.roles.insert(cache_key, names.clone());
                names
            }
        };
        let mut held = Vec::with_capacity(names.len());
        for name in names {
            match self.role_definition(&name).await? {
                Some(role) => held.push(role),
                None => {
                    tracing::warn!(role = %name, %workspace, %user, "an assigned role has no definition; it grants nothing")
                }
            }
        }
        Ok(held)
    }

    /// The role called `name`, or an error that names the nearest ones.
    pub(crate) async fn existing_role(&self, name: &str) -> Result<RoleDefinition> {
        match self.role_definition(name).await? {
            Some(role) => Ok(role.into_owned()),
            None => Err(self.missing_role(name).await),
        }
    }

    /// "role 'x' does not exist", with the nearest names.
    async fn missing_role(&self, name: &str) -> Error {
        let mut known: Vec<String> = built_in_roles().iter().map(|role| role.name.clone()).collect();
        if let Ok(custom) = self.store.list_role_definitions().await {
            known.extend(custom.into_iter().map(|stored| stored.definition.name));
        }
        Error::not_found(format!(
            "role '{name}' does not exist{}: 'atelier role list' shows the roles",
            did_you_mean(name, &known)
        ))
    }

    // The catalogue.

    /// Every role: the built-in ones, then the custom ones by name. Any user may read it (to
    /// assign roles, or to see what theirs permit); no job's token may.
    pub async fn list_role_definitions(&self, principal: &Principal) -> Result<Vec<RoleView>> {
        // The catalogue is each user's to read, as their own account is.
        self.authorize_account(principal, Some(principal.user()))?;
        let mut roles: Vec<RoleView> = built_in_roles()
            .iter()
            .map(|definition| RoleView { definition: definition.clone(), created_by: None, updated_at: None })
            .collect();
        roles.extend(self.store.list_role_definitions().await?.into_iter().map(RoleView::from));
        Ok(roles)
    }

    pub async fn get_role_definition(&self, principal: &Principal, name: &str) -> Result<RoleView> {
        self.authorize_account(principal, Some(principal.user()))?;
        if let Some(definition) = built_in_role(name) {
            return Ok(RoleView { definition: definition.clone(), created_by: None, updated_at: None });
        }
        match self.store.get_role_definition(name).await? {
            Some(stored) => Ok(stored.into()),
            None => Err(self.missing_role(name).await),
        }
    }

    /// Defines a custom role (server administrators only).
    pub async fn create_role_definition(&self, principal: &Principal, role: RoleDefinition) -> Result<RoleView> {
        self.authorize_server_on(principal, Action::ServerAdmin, Target::Account)?;
        let role = checked(role)?;
        self.store.create_role_definition(&role, principal.user(), now_millis()).await?;
        self.forget_access();
        self.get_role_definition(principal, &role.name).await
    }

    /// Defines a custom role from Azure's JSON role definition, read with the CLI's own
    /// `atelier_spec::role::parse_role_definition`: a bad file names the field and its line.
    pub async fn create_role_definition_from_json(&self, principal: &Principal, text: &str) -> Result<RoleView> {
        // Who may not define roles learns nothing about their file.
        self.authorize_server_on(principal, Action::ServerAdmin, Target::Account)?;
        let role = atelier_spec::role::parse_role_definition(text).map_err(crate::jobs::spec_error)?;
        self.create_role_definition(principal, role).await
    }

    /// Replaces the custom role `name` with the definition in `text` (Azure's JSON), whose
    /// `Name` must be the same, without regard to case.
    pub async fn update_role_definition_from_json(
        &self,
        principal: &Principal,
        name: &str,
        text: &str,
    ) -> Result<RoleView> {
        self.authorize_server_on(principal, Action::ServerAdmin, Target::Account)?;
        let role = atelier_spec::role::parse_role_definition(text).map_err(crate::jobs::spec_error)?;
        if !role.name.eq_ignore_ascii_case(name.trim()) {
            return Err(Error::invalid(format!(
                "Name: the file defines role '{}', not '{name}': a role cannot be renamed (create the new one, \
                 move its assignments, delete the old one)",
                role.name
            )));
        }
        self.update_role_definition(principal, role).await
    }

    /// Replaces a custom role's description, actions and scopes; a built-in role cannot be
    /// changed, and a role cannot be narrowed away from a workspace where it is assigned.
    pub async fn update_role_definition(&self, principal: &Principal, role: RoleDefinition) -> Result<RoleView> {
        self.authorize_server_on(principal, Action::ServerAdmin, Target::Account)?;
        if let Some(built_in) = built_in_role(&role.name) {
            return Err(Error::invalid(format!("role '{}' is built in and cannot be changed", built_in.name)));
        }
        let role = checked(role)?;
        self.store.update_role_definition(&role, now_millis()).await?;
        self.forget_access();
        self.get_role_definition(principal, &role.name).await
    }

    /// Deletes a custom role; refused while it is assigned anywhere.
    pub async fn delete_role_definition(&self, principal: &Principal, name: &str) -> Result<()> {
        self.authorize_server_on(principal, Action::ServerAdmin, Target::Account)?;
        if let Some(role) = built_in_role(name) {
            return Err(Error::invalid(format!("role '{}' is built in and cannot be deleted", role.name)));
        }
        self.store.delete_role_definition(name).await?;
        self.forget_access();
        Ok(())
    }

    // Assignments.

    /// Gives `user` the role `role` (built-in or custom) on `workspace`, in addition to any they
    /// hold; the role must be assignable there.
    pub async fn assign_role(&self, principal: &Principal, workspace: &str, user: &str, role: &str) -> Result<()> {
        let workspace = WorkspaceName::parse(workspace)?;
        self.authorize_on(principal, &workspace, Action::RoleAssignmentsWrite, Target::Account).await?;
        let user = UserName::parse(user)?;
        let role = self.existing_role(role).await?;
        if !role.assignable_on(&workspace) {
            let scopes: Vec<String> = role.assignable_scopes.iter().map(ToString::to_string).collect();
            return Err(Error::invalid(format!(
                "role '{}' cannot be assigned in workspace '{workspace}': its AssignableScopes are {}",
                role.name,
                scopes.join(", ")
            )));
        }
        self.store.get_user(&user).await?;
        self.store.assign_role(&workspace, &user, &role.name, role.built_in).await?;
        self.forget_access();
        Ok(())
    }

    /// Takes `role` from `user` on `workspace`, or every role of theirs there when `None`.
    pub async fn remove_role(
        &self,
        principal: &Principal,
        workspace: &str,
        user: &str,
        role: Option<&str>,
    ) -> Result<()> {
        let workspace = WorkspaceName::parse(workspace)?;
        self.authorize_on(principal, &workspace, Action::RoleAssignmentsDelete, Target::Account).await?;
        let user = UserName::parse(user)?;
        let role = match role {
            Some(role) => Some(self.existing_role(role).await?.name),
            None => None,
        };
        self.store.remove_role(&workspace, &user, role.as_deref()).await?;
        self.forget_access();
        Ok(())
    }

    /// The names of the roles that may be assigned on `workspace` (built-in first), for whoever
    /// may assign them there.
    pub async fn assignable_roles(&self, principal: &Principal, workspace: &str) -> Result<Vec<String>> {
        let workspace = WorkspaceName::parse(workspace)?;
        self.authorize_on(principal, &workspace, Action::RoleAssignmentsWrite, Target::Account).await?;
        let mut names: Vec<String> = built_in_roles().iter().map(|role| role.name.clone()).collect();
        let custom = self.store.list_role_definitions().await?.into_iter().map(|stored| stored.definition);
        names.extend(custom.filter(|role| role.assignable_on(&workspace)).map(|role| role.name));
        Ok(names)
    }

    /// A workspace's role assignments, by user and role.
    pub async fn list_roles(&self, principal: &Principal, workspace: &str) -> Result<Vec<(UserName, String)>> {
        let workspace = WorkspaceName::parse(workspace)?;
        self.authorize_on(principal, &workspace, Action::RoleAssignmentsRead, Target::Account).await?;
        self.store.list_roles(&workspace).await
    }
}

/// A custom role as the caller gave it, checked again (a definition may be built in code as
/// well as parsed from a file).
fn checked(role: RoleDefinition) -> Result<RoleDefinition> {
    RoleDefinition::custom(&role.name, &role.description, role.actions, role.not_actions, role.assignable_scopes)
}

//! [`RoleStore`] for [`SqlStore`]: custom role definitions (names unique without regard to
//! case) and role assignments, several roles per user and workspace. A custom role cannot be
//! deleted while assigned, nor narrowed away from a workspace where it is: both are decided in
//! the transaction that would change it.

use crate::dialect::{db_error, found};
use crate::rows::{from_json, json_text};
use crate::sql::SqlStore;
use crate::{RoleStore, StoredRole};
use async_trait::async_trait;
use atelier_core::authz::{RoleDefinition, RoleScope};
use atelier_core::model::Millis;
use atelier_core::names::{UserName, WorkspaceName};
use atelier_core::{Error, ErrorCode, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

fn row_to_role(row: &AnyRow) -> Result<StoredRole> {
    let scopes: Vec<String> = from_json(row, "assignable_scopes")?;
    let assignable_scopes = scopes
        .iter()
        .map(|scope| {
            RoleScope::parse(scope).map_err(|_| Error::internal(format!("stored role scope '{scope}' is invalid")))
        })
        .collect::<Result<Vec<_>>>()?;
    let created_by: String = row.try_get("created_by").map_err(db_error)?;
    Ok(StoredRole {
        definition: RoleDefinition {
            name: row.try_get("name").map_err(db_error)?,
            description: row.try_get("description").map_err(db_error)?,
            actions: from_json(row, "actions")?,
            not_actions: from_json(row, "not_actions")?,
            assignable_scopes,
            built_in: false,
        },
        created_by,
        created_at: row.try_get("created_at").map_err(db_error)?,
        updated_at: row.try_get("updated_at").map_err(db_error)?,
    })
}

fn scope_texts(role: &RoleDefinition) -> Vec<String> {
    role.assignable_scopes.iter().map(ToString::to_string).collect()
}

/// The workspaces where a role is assigned.
async fn assigned_in(connection: &mut sqlx::AnyConnection, name: &str) -> Result<Vec<String>> {
    let rows = sqlx::query("SELECT DISTINCT workspace FROM role_assignments WHERE role = $1 ORDER BY workspace")
        .bind(name)
        .fetch_all(&mut *connection)
        .await
        .map_err(db_error)?;
    rows.iter().map(|row| row.try_get::<String, _>("workspace").map_err(db_error)).collect()
}

#[async_trait]
impl RoleStore for SqlStore {
    async fn create_role_definition(&self, role: &RoleDefinition, created_by: &UserName, now: Millis) -> Result<()> {
        self.execute_write(
            sqlx::query(
                "INSERT INTO role_definitions (name_key, name, description, actions, not_actions, assignable_scopes, \
             created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
            )
            .bind(role.name.to_lowercase())
            .bind(role.name.as_str())
            .bind(role.description.as_str())
            .bind(json_text(&role.actions)?)
            .bind(json_text(&role.not_actions)?)
            .bind(json_text(&scope_texts(role))?)
            .bind(created_by.as_str())
            .bind(now),
        )
        .await
        .map_err(|error| match error {
            error if error.code == ErrorCode::ResourceAlreadyExists => Error::already_exists(format!(
                "role '{}' already exists: update it with 'atelier role update', or choose another name",
                role.name
            )),
            error => error,
        })?;
        Ok(())
    }

    async fn update_role_definition(&self, role: &RoleDefinition, now: Millis) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        let stored: Option<String> = sqlx::query("SELECT name FROM role_definitions WHERE name_key = $1")
            .bind(role.name.to_lowercase())
            .fetch_optional(&mut *transaction)
            .await
            .map_err(db_error)?
            .map(|row| row.try_get("name"))
            .transpose()
            .map_err(db_error)?;
        let Some(stored) = stored else {
            return Err(Error::not_found(format!("role '{}' does not exist", role.name)));
        };
        let left_out: Vec<String> = assigned_in(&mut transaction, &stored)
            .await?
            .into_iter()
            .filter(|workspace| WorkspaceName::parse(workspace).map(|name| !role.assignable_on(&name)).unwrap_or(true))
            .collect();
        if !left_out.is_empty() {
            return Err(Error::invalid(format!(
                "role '{stored}' is assigned in workspace(s) {}, which the new AssignableScopes leave out: remove \
                 those assignments first, or keep the scopes",
                left_out.iter().map(|name| format!("'{name}'")).collect::<Vec<_>>().join(", ")
            )));
        }
        sqlx::query(
            "UPDATE role_definitions SET description = $2, actions = $3, not_actions = $4, assignable_scopes = $5, \
             updated_at = $6 WHERE name_key = $1",
        )
        .bind(role.name.to_lowercase())
        .bind(role.description.as_str())
        .bind(json_text(&role.actions)?)
        .bind(json_text(&role.not_actions)?)
        .bind(json_text(&scope_texts(role))?)
        .bind(now)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        transaction.commit().await
    }

    async fn delete_role_definition(&self, name: &str) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        let stored: Option<String> = sqlx::query("SELECT name FROM role_definitions WHERE name_key = $1")
            .bind(name.to_lowercase())
            .fetch_optional(&mut *transaction)
            .await
            .map_err(db_error)?
            .map(|row| row.try_get("name"))
            .transpose()
            .map_err(db_error)?;
        let Some(stored) = stored else {
            return Err(Error::not_found(format!("role '{name}' does not exist")));
        };
        let workspaces = assigned_in(&mut transaction, &stored).await?;
        if !workspaces.is_empty() {
            return Err(Error::invalid(format!(
                "role '{stored}' is assigned in workspace(s) {}: remove its assignments first",
                workspaces.iter().map(|name| format!("'{name}'")).collect::<Vec<_>>().join(", ")
            )));
        }
        sqlx::query("DELETE FROM role_definitions WHERE name_key = $1")
            .bind(name.to_lowercase())
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
        transaction.commit().await
    }

    async fn get_role_definition(&self, name: &str) -> Result<Option<StoredRole>> {
        let row = sqlx::query("SELECT * FROM role_definitions WHERE name_key = $1")
            .bind(name.trim().to_lowercase())
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?;
        row.as_ref().map(row_to_role).transpose()
    }

    async fn list_role_definitions(&self) -> Result<Vec<StoredRole>> {
        let rows = sqlx::query("SELECT * FROM role_definitions ORDER BY name_key")
            .fetch_all(&self.read)
            .await
            .map_err(db_error)?;
        rows.iter().map(row_to_role).collect()
    }

    async fn assign_role(&self, workspace: &WorkspaceName, user: &UserName, role: &str, built_in: bool) -> Result<()> {
        // A custom role is assigned only while it exists, in the same statement.
        let inserted = self
            .execute_write(
                sqlx::query(
                    "INSERT INTO role_assignments (workspace, user_name, role) SELECT $1, $2, $3 \
             WHERE $4 = 1 OR EXISTS (SELECT 1 FROM role_definitions WHERE name = $3) \
             ON CONFLICT (workspace, user_name, role) DO NOTHING",
                )
                .bind(workspace.as_str())
                .bind(user.as_str())
                .bind(role)
                .bind(i64::from(built_in)),
            )
            .await?;
        if inserted.rows_affected() == 0 && !built_in && self.get_role_definition(role).await?.is_none() {
            return Err(Error::not_found(format!("role '{role}' does not exist")));
        }
        Ok(())
    }

    async fn remove_role(&self, workspace: &WorkspaceName, user: &UserName, role: Option<&str>) -> Result<()> {
        let result = self
            .execute_write(
                sqlx::query(
                    "DELETE FROM role_assignments WHERE workspace = $1 AND user_name = $2 AND (role = $3 OR $4 = 1)",
                )
                .bind(workspace.as_str())
                .bind(user.as_str())
                .bind(role.unwrap_or_default())
                .bind(i64::from(role.is_none())),
            )
            .await?;
        found(result.rows_affected(), || match role {
            Some(role) => format!("user '{user}' does not have role '{role}' on workspace '{workspace}'"),
            None => format!("user '{user}' has no role on workspace '{workspace}'"),
        })
    }

    async fn roles_of(&self, workspace: &WorkspaceName, user: &UserName) -> Result<Vec<String>> {
        let rows =
            sqlx::query("SELECT role FROM role_assignments WHERE workspace = $1 AND user_name = $2 ORDER BY role")
                .bind(workspace.as_str())
                .bind(user.as_str())
                .fetch_all(&self.read)
                .await
                .map_err(db_error)?;
        rows.iter().map(|row| row.try_get::<String, _>("role").map_err(db_error)).collect()
    }

    async fn list_roles(&self, workspace: &WorkspaceName) -> Result<Vec<(UserName, String)>> {
        let rows =
            sqlx::query("SELECT user_name, role FROM role_assignments WHERE workspace = $1 ORDER BY user_name, role")
                .bind(workspace.as_str())
                .fetch_all(&self.read)
                .await
                .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                let user: String = row.try_get("user_name").map_err(db_error)?;
                let role: String = row.try_get("role").map_err(db_error)?;
                Ok((UserName::parse(&user).map_err(|_| Error::internal("stored user name is invalid"))?, role))
            })
            .collect()
    }
}

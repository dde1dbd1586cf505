//! [`ComponentStore`] for [`SqlStore`]: component versions, their definitions kept as JSON text
//! with the hashes that make registering the same content twice one version; archived rather
//! than deleted.

use crate::ComponentStore;
use crate::dialect::{db_error, found};
use crate::rows::{from_json, json_text};
use crate::sql::SqlStore;
use crate::versioned::next_numeric_version;
use async_trait::async_trait;
use atelier_core::component::Component;
use atelier_core::names::WorkspaceName;
use atelier_core::{Error, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

fn row_to_component(row: &AnyRow, workspace: &WorkspaceName) -> Result<Component> {
    Ok(Component {
        workspace: workspace.clone(),
        name: row.try_get("name").map_err(db_error)?,
        version: row.try_get("version").map_err(db_error)?,
        display_name: row.try_get("display_name").map_err(db_error)?,
        description: row.try_get("description").map_err(db_error)?,
        tags: from_json(row, "tags")?,
        is_deterministic: row.try_get::<i64, _>("is_deterministic").map_err(db_error)? != 0,
        definition: row.try_get("definition").map_err(db_error)?,
        snapshot: row.try_get("snapshot").map_err(db_error)?,
        code_hash: row.try_get("code_hash").map_err(db_error)?,
        content_hash: row.try_get("content_hash").map_err(db_error)?,
        archived: row.try_get::<i64, _>("archived").map_err(db_error)? != 0,
        created_by: row.try_get("created_by").map_err(db_error)?,
        creation_time: row.try_get("creation_time").map_err(db_error)?,
    })
}

#[async_trait]
impl ComponentStore for SqlStore {
    async fn create_component(&self, component: &Component) -> Result<Component> {
        let workspace = &component.workspace;
        let mut transaction = self.begin_write().await?;
        let rows = sqlx::query(
            "SELECT * FROM components WHERE workspace = $1 AND name = $2 ORDER BY creation_time DESC, version DESC",
        )
        .bind(workspace.as_str())
        .bind(component.name.as_str())
        .fetch_all(&mut *transaction)
        .await
        .map_err(db_error)?;
        let existing: Vec<Component> =
            rows.iter().map(|row| row_to_component(row, workspace)).collect::<Result<_>>()?;
        let version = if component.version.is_empty() {
            if let Some(newest) = existing.first()
                && newest.content_hash == component.content_hash
            {
                return Ok(newest.clone());
            }
            next_numeric_version(existing.iter().map(|taken| taken.version.clone()))
        } else {
            if let Some(taken) = existing.iter().find(|taken| taken.version == component.version) {
                if taken.content_hash == component.content_hash {
                    return Ok(taken.clone());
                }
                return Err(Error::already_exists(format!(
                    "component {} version {} already exists with other content; versions cannot be changed, \
                     register a new one (or leave the version out)",
                    component.name, component.version
                )));
            }
            component.version.clone()
        };
        sqlx::query(
            "INSERT INTO components (workspace, name, version, display_name, description, tags, is_deterministic, \
             definition, snapshot, code_hash, content_hash, archived, created_by, creation_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(workspace.as_str())
        .bind(component.name.as_str())
        .bind(version.as_str())
        .bind(component.display_name.as_str())
        .bind(component.description.as_str())
        .bind(json_text(&component.tags)?)
        .bind(i64::from(component.is_deterministic))
        .bind(component.definition.as_str())
        .bind(component.snapshot.as_deref())
        .bind(component.code_hash.as_deref())
        .bind(component.content_hash.as_str())
        .bind(i64::from(component.archived))
        .bind(component.created_by.as_str())
        .bind(component.creation_time)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        transaction.commit().await?;
        Ok(Component { version, ..component.clone() })
    }

    async fn get_component(&self, workspace: &WorkspaceName, name: &str, version: &str) -> Result<Component> {
        let row = sqlx::query("SELECT * FROM components WHERE workspace = $1 AND name = $2 AND version = $3")
            .bind(workspace.as_str())
            .bind(name)
            .bind(version)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(format!("component '{name}' version '{version}' not found")))?;
        row_to_component(&row, workspace)
    }

    async fn list_components(
        &self,
        workspace: &WorkspaceName,
        name: Option<&str>,
        include_archived: bool,
    ) -> Result<Vec<Component>> {
        self.list_versions("components", workspace, name, include_archived, row_to_component, |component| {
            &component.name
        })
        .await
    }

    async fn set_component_archived(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        version: &str,
        archived: bool,
    ) -> Result<()> {
        let done = self
            .execute_write(
                sqlx::query("UPDATE components SET archived = $4 WHERE workspace = $1 AND name = $2 AND version = $3")
                    .bind(workspace.as_str())
                    .bind(name)
                    .bind(version)
                    .bind(i64::from(archived)),
            )
            .await?;
        found(done.rows_affected(), || format!("component '{name}' version '{version}' not found"))
    }
}

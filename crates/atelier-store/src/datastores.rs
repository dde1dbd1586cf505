//! [`DatastoreStore`] for [`SqlStore`]: a workspace's named datastores. Their credentials arrive
//! sealed by the service (encrypted with the server's master key) and are stored and returned
//! as that text; the store never sees them in the clear.

use crate::DatastoreStore;
use crate::dialect::{db_error, found};
use crate::rows::{from_json, json_text};
use crate::sql::SqlStore;
use async_trait::async_trait;
use atelier_core::data::Datastore;
use atelier_core::names::WorkspaceName;
use atelier_core::{Error, ErrorCode, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

fn row_to_datastore(row: &AnyRow, workspace: &WorkspaceName) -> Result<Datastore> {
    Ok(Datastore {
        workspace: workspace.clone(),
        name: row.try_get("name").map_err(db_error)?,
        kind: row.try_get("kind").map_err(db_error)?,
        description: row.try_get("description").map_err(db_error)?,
        tags: from_json(row, "tags")?,
        settings: from_json(row, "settings")?,
        credential_kind: row.try_get("credential_kind").map_err(db_error)?,
        created_by: row.try_get("created_by").map_err(db_error)?,
        creation_time: row.try_get("creation_time").map_err(db_error)?,
    })
}

#[async_trait]
impl DatastoreStore for SqlStore {
    async fn create_datastore(&self, datastore: &Datastore, sealed_credentials: Option<&str>) -> Result<()> {
        self.execute_write(sqlx::query(
            "INSERT INTO datastores (workspace, name, kind, description, tags, settings, credential_kind, credentials, \
             created_by, creation_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(datastore.workspace.as_str())
        .bind(datastore.name.as_str())
        .bind(datastore.kind.as_str())
        .bind(datastore.description.as_str())
        .bind(json_text(&datastore.tags)?)
        .bind(json_text(&datastore.settings)?)
        .bind(datastore.credential_kind.as_deref())
        .bind(sealed_credentials)
        .bind(datastore.created_by.as_str())
        .bind(datastore.creation_time)
        ).await.map_err(|error| match error {
            error if error.code == ErrorCode::ResourceAlreadyExists => Error::already_exists(format!(
                "datastore '{}' already exists in this workspace: delete it first, or choose another name",
                datastore.name
            )),
            error => error,
        })?;
        Ok(())
    }

    async fn get_datastore(&self, workspace: &WorkspaceName, name: &str) -> Result<(Datastore, Option<String>)> {
        let row = sqlx::query("SELECT * FROM datastores WHERE workspace = $1 AND name = $2")
            .bind(workspace.as_str())
            .bind(name)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(format!("datastore '{name}' not found")))?;
        Ok((row_to_datastore(&row, workspace)?, row.try_get("credentials").map_err(db_error)?))
    }

    async fn list_datastores(&self, workspace: &WorkspaceName) -> Result<Vec<Datastore>> {
        let rows = sqlx::query("SELECT * FROM datastores WHERE workspace = $1 ORDER BY name")
            .bind(workspace.as_str())
            .fetch_all(&self.read)
            .await
            .map_err(db_error)?;
        rows.iter().map(|row| row_to_datastore(row, workspace)).collect()
    }

    async fn delete_datastore(&self, workspace: &WorkspaceName, name: &str) -> Result<()> {
        let done = self
            .execute_write(
                sqlx::query("DELETE FROM datastores WHERE workspace = $1 AND name = $2")
                    .bind(workspace.as_str())
                    .bind(name),
            )
            .await?;
        found(done.rows_affected(), || format!("datastore '{name}' not found"))
    }
}

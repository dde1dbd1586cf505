//! [`AssetStore`] for [`SqlStore`]: data assets (Azure ML's `uri_file`, `uri_folder` and
//! `mltable`), versioned by text, archived rather than deleted.

use crate::AssetStore;
use crate::dialect::{db_error, found};
use crate::rows::{from_json, json_text};
use crate::sql::SqlStore;
use crate::versioned::next_numeric_version;
use async_trait::async_trait;
use atelier_core::data::DataAsset;
use atelier_core::model::Millis;
use atelier_core::names::WorkspaceName;
use atelier_core::{Error, ErrorCode, Result};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::BTreeMap;

fn missing(name: &str, version: &str) -> String {
    format!("data asset '{name}' version '{version}' not found")
}

fn row_to_asset(row: &AnyRow, workspace: &WorkspaceName) -> Result<DataAsset> {
    let paths: Vec<(String, String)> = from_json(row, "mltable_paths")?;
    Ok(DataAsset {
        workspace: workspace.clone(),
        name: row.try_get("name").map_err(db_error)?,
        version: row.try_get("version").map_err(db_error)?,
        data_type: row.try_get("data_type").map_err(db_error)?,
        path: row.try_get("path").map_err(db_error)?,
        description: row.try_get("description").map_err(db_error)?,
        tags: from_json::<BTreeMap<String, String>>(row, "tags")?,
        properties: from_json::<BTreeMap<String, String>>(row, "properties")?,
        mltable_paths: paths,
        archived: row.try_get::<i64, _>("archived").map_err(db_error)? != 0,
        created_by: row.try_get("created_by").map_err(db_error)?,
        creation_time: row.try_get("creation_time").map_err(db_error)?,
        last_updated_time: row.try_get("last_updated_time").map_err(db_error)?,
    })
}

#[async_trait]
impl AssetStore for SqlStore {
    async fn create_data_asset(&self, asset: &DataAsset) -> Result<DataAsset> {
        let mut transaction = self.begin_write().await?;
        let mut version = asset.version.clone();
        if version.is_empty() {
            let rows = sqlx::query("SELECT version FROM data_assets WHERE workspace = $1 AND name = $2")
                .bind(asset.workspace.as_str())
                .bind(asset.name.as_str())
                .fetch_all(&mut *transaction)
                .await
                .map_err(db_error)?;
            let taken =
                rows.iter().map(|row| row.try_get::<String, _>("version")).collect::<std::result::Result<Vec<_>, _>>();
            version = next_numeric_version(taken.map_err(db_error)?);
        }
        sqlx::query(
            "INSERT INTO data_assets (workspace, name, version, data_type, path, description, tags, properties, \
             mltable_paths, archived, created_by, creation_time, last_updated_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(asset.workspace.as_str())
        .bind(asset.name.as_str())
        .bind(version.as_str())
        .bind(asset.data_type.as_str())
        .bind(asset.path.as_str())
        .bind(asset.description.as_str())
        .bind(json_text(&asset.tags)?)
        .bind(json_text(&asset.properties)?)
        .bind(json_text(&asset.mltable_paths)?)
        .bind(i64::from(asset.archived))
        .bind(asset.created_by.as_str())
        .bind(asset.creation_time)
        .bind(asset.last_updated_time)
        .execute(&mut *transaction)
        .await
        .map_err(|error| match db_error(error) {
            error if error.code == ErrorCode::ResourceAlreadyExists => Error::already_exists(format!(
                "data asset {} version {version} already exists; versions cannot be changed, register a new one",
                asset.name
            )),
            error => error,
        })?;
        transaction.commit().await?;
        Ok(DataAsset { version, ..asset.clone() })
    }

    async fn get_data_asset(&self, workspace: &WorkspaceName, name: &str, version: &str) -> Result<DataAsset> {
        let row = sqlx::query("SELECT * FROM data_assets WHERE workspace = $1 AND name = $2 AND version = $3")
            .bind(workspace.as_str())
            .bind(name)
            .bind(version)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(missing(name, version)))?;
        row_to_asset(&row, workspace)
    }

    async fn list_data_assets(
        &self,
        workspace: &WorkspaceName,
        name: Option<&str>,
        include_archived: bool,
    ) -> Result<Vec<DataAsset>> {
        self.list_versions("data_assets", workspace, name, include_archived, row_to_asset, |asset| &asset.name).await
    }

    async fn update_data_asset(&self, asset: &DataAsset, now: Millis) -> Result<()> {
        let done = self
            .execute_write(
                sqlx::query(
                    "UPDATE data_assets SET description = $4, tags = $5, properties = $6, last_updated_time = $7 \
             WHERE workspace = $1 AND name = $2 AND version = $3",
                )
                .bind(asset.workspace.as_str())
                .bind(asset.name.as_str())
                .bind(asset.version.as_str())
                .bind(asset.description.as_str())
                .bind(json_text(&asset.tags)?)
                .bind(json_text(&asset.properties)?)
                .bind(now),
            )
            .await?;
        found(done.rows_affected(), || missing(&asset.name, &asset.version))
    }

    async fn set_data_asset_archived(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        version: &str,
        archived: bool,
        now: Millis,
    ) -> Result<()> {
        let done = self.execute_write(sqlx::query(
            "UPDATE data_assets SET archived = $4, last_updated_time = $5 WHERE workspace = $1 AND name = $2 AND version = $3",
        )
        .bind(workspace.as_str())
        .bind(name)
        .bind(version)
        .bind(i64::from(archived))
        .bind(now)
        ).await?;
        found(done.rows_affected(), || missing(name, version))
    }
}

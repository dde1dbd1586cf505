//! Data assets' table.

use crate::sql::{SqlStore, db_error, found};
use crate::{AssetStore, UploadFile};
use async_trait::async_trait;
use atelier_core::data::{DataAsset, Datastore};
use atelier_core::environment::{Environment, EnvironmentSpec};
use atelier_core::model::{Millis, RunId, RunInfo};
use atelier_core::names::WorkspaceName;
use atelier_core::{Error, ErrorCode, Result};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::BTreeMap;

fn missing(name: &str, version: &str) -> String {
    format!("data asset {name} version {version} not found")
}

fn json_text<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|error| Error::internal(format!("encoding a data asset failed: {error}")))
}

fn from_json<T: serde::de::DeserializeOwned>(row: &AnyRow, column: &str) -> Result<T> {
    let text: String = row.try_get(column).map_err(db_error)?;
    serde_json::from_str(&text)
        .map_err(|error| Error::internal(format!("data asset column {column} is not JSON: {error}")))
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

/// An environment spec as stored (JSON).
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredSpec {
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    python: Option<String>,
    #[serde(default)]
    requirements: Vec<String>,
    #[serde(default)]
    channels: Vec<String>,
}

fn row_to_environment(row: &AnyRow, workspace: &WorkspaceName) -> Result<Environment> {
    let spec: StoredSpec = from_json(row, "spec")?;
    Ok(Environment {
        workspace: workspace.clone(),
        name: row.try_get("name").map_err(db_error)?,
        version: row.try_get("version").map_err(db_error)?,
        spec: EnvironmentSpec {
            image: spec.image,
            python: spec.python,
            requirements: spec.requirements,
            channels: spec.channels,
        },
        description: row.try_get("description").map_err(db_error)?,
        tags: from_json(row, "tags")?,
        archived: row.try_get::<i64, _>("archived").map_err(db_error)? != 0,
        created_by: row.try_get("created_by").map_err(db_error)?,
        creation_time: row.try_get("creation_time").map_err(db_error)?,
    })
}

/// One past the highest numeric version among `taken`.
fn next_numeric_version(taken: impl IntoIterator<Item = String>) -> String {
    (taken.into_iter().filter_map(|version| version.parse::<u64>().ok()).max().unwrap_or(0) + 1).to_string()
}

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

impl SqlStore {
    /// The versions of one name of a versioned table (newest first), or the newest version of
    /// every name; `table` is one of this module's constants, never user input.
    async fn list_versions<T>(
        &self,
        table: &'static str,
        workspace: &WorkspaceName,
        name: Option<&str>,
        include_archived: bool,
        read: fn(&AnyRow, &WorkspaceName) -> Result<T>,
        name_of: fn(&T) -> &str,
    ) -> Result<Vec<T>> {
        let archived = if include_archived { "" } else { " AND archived = 0" };
        let by_name = if name.is_some() { " AND name = $2" } else { "" };
        let sql = format!(
            "SELECT * FROM {table} WHERE workspace = $1{by_name}{archived} ORDER BY name, creation_time DESC, version DESC"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(workspace.as_str());
        if let Some(name) = name {
            query = query.bind(name);
        }
        let rows = query.fetch_all(&self.read).await.map_err(db_error)?;
        let mut items: Vec<T> = Vec::new();
        for row in &rows {
            let item = read(row, workspace)?;
            // Without a name, only the newest version of each name (rows come newest first).
            if name.is_none() && items.last().is_some_and(|last| name_of(last) == name_of(&item)) {
                continue;
            }
            items.push(item);
        }
        Ok(items)
    }
}

#[async_trait]
impl AssetStore for SqlStore {
    async fn create_data_asset(&self, asset: &DataAsset) -> Result<DataAsset> {
        let mut transaction = self.write.begin().await.map_err(db_error)?;
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
        transaction.commit().await.map_err(db_error)?;
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
        let done = sqlx::query(
            "UPDATE data_assets SET description = $4, tags = $5, properties = $6, last_updated_time = $7 \
             WHERE workspace = $1 AND name = $2 AND version = $3",
        )
        .bind(asset.workspace.as_str())
        .bind(asset.name.as_str())
        .bind(asset.version.as_str())
        .bind(asset.description.as_str())
        .bind(json_text(&asset.tags)?)
        .bind(json_text(&asset.properties)?)
        .bind(now)
        .execute(&self.write)
        .await
        .map_err(db_error)?;
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
        let done = sqlx::query(
            "UPDATE data_assets SET archived = $4, last_updated_time = $5 WHERE workspace = $1 AND name = $2 AND version = $3",
        )
        .bind(workspace.as_str())
        .bind(name)
        .bind(version)
        .bind(i64::from(archived))
        .bind(now)
        .execute(&self.write)
        .await
        .map_err(db_error)?;
        found(done.rows_affected(), || missing(name, version))
    }

    async fn create_datastore(&self, datastore: &Datastore, sealed_credentials: Option<&str>) -> Result<()> {
        sqlx::query(
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
        .execute(&self.write)
        .await
        .map_err(|error| match db_error(error) {
            error if error.code == ErrorCode::ResourceAlreadyExists => {
                Error::already_exists(format!("datastore {} already exists", datastore.name))
            }
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
        let done = sqlx::query("DELETE FROM datastores WHERE workspace = $1 AND name = $2")
            .bind(workspace.as_str())
            .bind(name)
            .execute(&self.write)
            .await
            .map_err(db_error)?;
        found(done.rows_affected(), || format!("datastore '{name}' not found"))
    }

    async fn create_environment(&self, environment: &Environment) -> Result<Environment> {
        let mut transaction = self.write.begin().await.map_err(db_error)?;
        let mut version = environment.version.clone();
        if version.is_empty() {
            let rows = sqlx::query("SELECT version FROM environments WHERE workspace = $1 AND name = $2")
                .bind(environment.workspace.as_str())
                .bind(environment.name.as_str())
                .fetch_all(&mut *transaction)
                .await
                .map_err(db_error)?;
            let taken =
                rows.iter().map(|row| row.try_get::<String, _>("version")).collect::<std::result::Result<Vec<_>, _>>();
            version = next_numeric_version(taken.map_err(db_error)?);
        }
        let spec = StoredSpec {
            image: environment.spec.image.clone(),
            python: environment.spec.python.clone(),
            requirements: environment.spec.requirements.clone(),
            channels: environment.spec.channels.clone(),
        };
        sqlx::query(
            "INSERT INTO environments (workspace, name, version, spec, description, tags, archived, created_by, creation_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(environment.workspace.as_str())
        .bind(environment.name.as_str())
        .bind(version.as_str())
        .bind(json_text(&spec)?)
        .bind(environment.description.as_str())
        .bind(json_text(&environment.tags)?)
        .bind(i64::from(environment.archived))
        .bind(environment.created_by.as_str())
        .bind(environment.creation_time)
        .execute(&mut *transaction)
        .await
        .map_err(|error| match db_error(error) {
            error if error.code == ErrorCode::ResourceAlreadyExists => Error::already_exists(format!(
                "environment {} version {version} already exists; versions cannot be changed, register a new one",
                environment.name
            )),
            error => error,
        })?;
        transaction.commit().await.map_err(db_error)?;
        Ok(Environment { version, ..environment.clone() })
    }

    async fn get_environment(&self, workspace: &WorkspaceName, name: &str, version: &str) -> Result<Environment> {
        let row = sqlx::query("SELECT * FROM environments WHERE workspace = $1 AND name = $2 AND version = $3")
            .bind(workspace.as_str())
            .bind(name)
            .bind(version)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(format!("environment {name} version {version} not found")))?;
        row_to_environment(&row, workspace)
    }

    async fn list_environments(
        &self,
        workspace: &WorkspaceName,
        name: Option<&str>,
        include_archived: bool,
    ) -> Result<Vec<Environment>> {
        self.list_versions("environments", workspace, name, include_archived, row_to_environment, |environment| {
            &environment.name
        })
        .await
    }

    async fn set_environment_archived(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        version: &str,
        archived: bool,
    ) -> Result<()> {
        let done =
            sqlx::query("UPDATE environments SET archived = $4 WHERE workspace = $1 AND name = $2 AND version = $3")
                .bind(workspace.as_str())
                .bind(name)
                .bind(version)
                .bind(i64::from(archived))
                .execute(&self.write)
                .await
                .map_err(db_error)?;
        found(done.rows_affected(), || format!("environment {name} version {version} not found"))
    }

    async fn purgeable_runs(&self, workspace: &WorkspaceName) -> Result<Vec<RunInfo>> {
        let rows = sqlx::query(
            "SELECT r.* FROM runs r WHERE r.workspace = $1 AND r.lifecycle_stage = 'deleted' AND NOT EXISTS \
             (SELECT 1 FROM model_versions mv WHERE mv.workspace = r.workspace AND (mv.run_id = r.run_uuid \
              OR mv.source = 'runs:/' || r.run_uuid OR mv.source LIKE 'runs:/' || r.run_uuid || '/%'))",
        )
        .bind(workspace.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        rows.iter().map(crate::sql::row_to_run_info).collect()
    }

    async fn purge_run(&self, run_id: &RunId) -> Result<()> {
        sqlx::query("DELETE FROM runs WHERE run_uuid = $1 AND lifecycle_stage = 'deleted'")
            .bind(run_id.as_str())
            .execute(&self.write)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn referenced_locations(&self, workspace: &WorkspaceName) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT source AS location FROM model_versions WHERE workspace = $1 \
             UNION SELECT path AS location FROM data_assets WHERE workspace = $1 \
             UNION SELECT location FROM job_references WHERE workspace = $1 \
             UNION SELECT 'code:' || snapshot || '/' AS location FROM deployments \
             WHERE workspace = $1 AND snapshot IS NOT NULL",
        )
        .bind(workspace.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        rows.iter().map(|row| row.try_get::<String, _>("location").map_err(db_error)).collect()
    }

    async fn record_upload_file(
        &self,
        workspace: &WorkspaceName,
        area: &str,
        path: &str,
        hash: &str,
        size: i64,
        now: Millis,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO upload_files (workspace, area, path, hash, size, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (workspace, area, path) DO UPDATE SET hash = excluded.hash, size = excluded.size, \
             created_at = excluded.created_at",
        )
        .bind(workspace.as_str())
        .bind(area)
        .bind(path)
        .bind(hash)
        .bind(size)
        .bind(now)
        .execute(&self.write)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn upload_files_under(&self, workspace: &WorkspaceName, area: &str, prefix: &str) -> Result<Vec<UploadFile>> {
        // A prefix test without LIKE, whose wildcards names may contain.
        let rows = sqlx::query(
            "SELECT area, path, hash, size, created_at FROM upload_files WHERE workspace = $1 AND area = $2 \
             AND (path = $3 OR substr(path, 1, length($3) + 1) = $3 || '/') ORDER BY path",
        )
        .bind(workspace.as_str())
        .bind(area)
        .bind(prefix)
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        rows.iter().map(row_to_upload).collect()
    }

    async fn all_upload_files(&self, workspace: &WorkspaceName) -> Result<Vec<UploadFile>> {
        let rows = sqlx::query(
            "SELECT area, path, hash, size, created_at FROM upload_files WHERE workspace = $1 ORDER BY area, path",
        )
        .bind(workspace.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        rows.iter().map(row_to_upload).collect()
    }

    async fn delete_upload_files_under(&self, workspace: &WorkspaceName, area: &str, prefix: &str) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM upload_files WHERE workspace = $1 AND area = $2 \
             AND (path = $3 OR substr(path, 1, length($3) + 1) = $3 || '/')",
        )
        .bind(workspace.as_str())
        .bind(area)
        .bind(prefix)
        .execute(&self.write)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected())
    }
}

fn row_to_upload(row: &AnyRow) -> Result<UploadFile> {
    Ok(UploadFile {
        area: row.try_get("area").map_err(db_error)?,
        path: row.try_get("path").map_err(db_error)?,
        hash: row.try_get("hash").map_err(db_error)?,
        size: row.try_get("size").map_err(db_error)?,
        created_at: row.try_get("created_at").map_err(db_error)?,
    })
}

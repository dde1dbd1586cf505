//! The model registry's tables: registered models, versions, their tags and aliases.

use crate::dialect::{Bind, bound, db_error, found};
use crate::search;
use crate::sql::SqlStore;
use crate::{RegistryQuery, RegistryStore};
use async_trait::async_trait;
use atelier_core::model::{Millis, Tag};
use atelier_core::names::WorkspaceName;
use atelier_core::registry::{ModelAlias, ModelVersion, RegisteredModel};
use atelier_core::{Error, ErrorCode, Result};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, HashMap};

fn model_missing(name: &str) -> String {
    format!("Registered Model with name={name} not found")
}

fn version_missing(name: &str, version: i64) -> String {
    format!("Model Version (name={name}, version={version}) not found")
}

fn row_to_version(row: &AnyRow, workspace: &WorkspaceName) -> Result<ModelVersion> {
    Ok(ModelVersion {
        workspace: workspace.clone(),
        name: row.try_get("name").map_err(db_error)?,
        version: row.try_get("version").map_err(db_error)?,
        creation_time: row.try_get("creation_time").map_err(db_error)?,
        last_updated_time: row.try_get("last_updated_time").map_err(db_error)?,
        description: row.try_get("description").map_err(db_error)?,
        user_id: row.try_get("user_id").map_err(db_error)?,
        current_stage: row.try_get("current_stage").map_err(db_error)?,
        source: row.try_get("source").map_err(db_error)?,
        run_id: row.try_get("run_id").map_err(db_error)?,
        run_link: row.try_get("run_link").map_err(db_error)?,
        status: row.try_get("status").map_err(db_error)?,
        status_message: row.try_get("status_message").map_err(db_error)?,
        model_id: row.try_get("model_id").map_err(db_error)?,
        tags: Vec::new(),
        aliases: Vec::new(),
        model_type: row.try_get("model_type").map_err(db_error)?,
        properties: serde_json::from_str(&row.try_get::<String, _>("properties").map_err(db_error)?)
            .map_err(|error| Error::internal(format!("model version properties are not a JSON object: {error}")))?,
        archived: row.try_get::<i64, _>("archived").map_err(db_error)? != 0,
    })
}

fn row_to_model(row: &AnyRow, workspace: &WorkspaceName) -> Result<RegisteredModel> {
    Ok(RegisteredModel {
        workspace: workspace.clone(),
        name: row.try_get("name").map_err(db_error)?,
        description: row.try_get("description").map_err(db_error)?,
        creation_time: row.try_get("creation_time").map_err(db_error)?,
        last_updated_time: row.try_get("last_updated_time").map_err(db_error)?,
        tags: Vec::new(),
        aliases: Vec::new(),
        latest_versions: Vec::new(),
    })
}

/// Bumps a model's `last_updated_time`; fails with not found when there is no such model.
async fn touch_model(connection: &mut AnyConnection, workspace: &WorkspaceName, name: &str, now: Millis) -> Result<()> {
    let done = sqlx::query("UPDATE registered_models SET last_updated_time = $3 WHERE workspace = $1 AND name = $2")
        .bind(workspace.as_str())
        .bind(name)
        .bind(now)
        .execute(&mut *connection)
        .await
        .map_err(db_error)?;
    found(done.rows_affected(), || model_missing(name))
}

async fn require_model(connection: &mut AnyConnection, workspace: &WorkspaceName, name: &str) -> Result<()> {
    let row = sqlx::query("SELECT 1 FROM registered_models WHERE workspace = $1 AND name = $2")
        .bind(workspace.as_str())
        .bind(name)
        .fetch_optional(&mut *connection)
        .await
        .map_err(db_error)?;
    match row {
        Some(_) => Ok(()),
        None => Err(Error::not_found(model_missing(name))),
    }
}

async fn require_version(
    connection: &mut AnyConnection,
    workspace: &WorkspaceName,
    name: &str,
    version: i64,
) -> Result<()> {
    let row = sqlx::query("SELECT 1 FROM model_versions WHERE workspace = $1 AND name = $2 AND version = $3")
        .bind(workspace.as_str())
        .bind(name)
        .bind(version)
        .fetch_optional(&mut *connection)
        .await
        .map_err(db_error)?;
    match row {
        Some(_) => Ok(()),
        None => Err(Error::not_found(version_missing(name, version))),
    }
}

impl SqlStore {
    /// Fills in the tags and aliases of versions of one workspace.
    async fn hydrate_versions(&self, workspace: &WorkspaceName, versions: &mut [ModelVersion]) -> Result<()> {
        if versions.is_empty() {
            return Ok(());
        }
        let mut names: Vec<&str> = versions.iter().map(|version| version.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let list = (0..names.len()).map(|index| format!("${}", index + 2)).collect::<Vec<_>>().join(", ");
        let mut binds = vec![Bind::text(workspace.as_str().to_owned())];
        binds.extend(names.iter().map(|name| Bind::text(name.to_string())));
        let tags_sql = format!(
            "SELECT name, version, key, value FROM model_version_tags WHERE workspace = $1 AND name IN ({list}) ORDER BY key"
        );
        let aliases_sql = format!(
            "SELECT name, version, alias FROM registered_model_aliases WHERE workspace = $1 AND name IN ({list}) ORDER BY alias"
        );
        let mut tags: HashMap<(String, i64), Vec<Tag>> = HashMap::new();
        for row in bound(tags_sql, &binds).fetch_all(&self.read).await.map_err(db_error)? {
            let key = (row.try_get("name").map_err(db_error)?, row.try_get("version").map_err(db_error)?);
            tags.entry(key).or_default().push(Tag::new(
                row.try_get::<String, _>("key").map_err(db_error)?,
                row.try_get::<String, _>("value").map_err(db_error)?,
            ));
        }
        let mut aliases: HashMap<(String, i64), Vec<String>> = HashMap::new();
        for row in bound(aliases_sql, &binds).fetch_all(&self.read).await.map_err(db_error)? {
            let key = (row.try_get("name").map_err(db_error)?, row.try_get("version").map_err(db_error)?);
            aliases.entry(key).or_default().push(row.try_get("alias").map_err(db_error)?);
        }
        for version in versions.iter_mut() {
            let key = (version.name.clone(), version.version);
            version.tags = tags.remove(&key).unwrap_or_default();
            version.aliases = aliases.remove(&key).unwrap_or_default();
        }
        Ok(())
    }

    /// Fills in a model's tags, aliases and the newest version of each stage.
    async fn hydrate_model(&self, model: &mut RegisteredModel) -> Result<()> {
        let workspace = model.workspace.clone();
        let rows =
            sqlx::query("SELECT key, value FROM registered_model_tags WHERE workspace = $1 AND name = $2 ORDER BY key")
                .bind(workspace.as_str())
                .bind(model.name.as_str())
                .fetch_all(&self.read)
                .await
                .map_err(db_error)?;
        model.tags = rows
            .iter()
            .map(|row| Ok(Tag::new(row.try_get::<String, _>("key")?, row.try_get::<String, _>("value")?)))
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(db_error)?;
        let rows = sqlx::query(
            "SELECT alias, version FROM registered_model_aliases WHERE workspace = $1 AND name = $2 ORDER BY alias",
        )
        .bind(workspace.as_str())
        .bind(model.name.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        model.aliases = rows
            .iter()
            .map(|row| Ok(ModelAlias { alias: row.try_get("alias")?, version: row.try_get("version")? }))
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(db_error)?;
        let rows = sqlx::query(
            "SELECT mv.* FROM model_versions mv WHERE mv.workspace = $1 AND mv.name = $2 AND mv.version = \
             (SELECT max(x.version) FROM model_versions x WHERE x.workspace = mv.workspace AND x.name = mv.name \
              AND x.current_stage = mv.current_stage) ORDER BY mv.version",
        )
        .bind(workspace.as_str())
        .bind(model.name.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        let mut latest = rows.iter().map(|row| row_to_version(row, &workspace)).collect::<Result<Vec<_>>>()?;
        self.hydrate_versions(&workspace, &mut latest).await?;
        model.latest_versions = latest;
        Ok(())
    }
}

#[async_trait]
impl RegistryStore for SqlStore {
    async fn create_registered_model(&self, model: &RegisteredModel) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        let created = sqlx::query(
            "INSERT INTO registered_models (workspace, name, description, creation_time, last_updated_time, next_version) \
             VALUES ($1, $2, $3, $4, $5, 1)",
        )
        .bind(model.workspace.as_str())
        .bind(model.name.as_str())
        .bind(model.description.as_str())
        .bind(model.creation_time)
        .bind(model.last_updated_time)
        .execute(&mut *transaction)
        .await
        .map_err(db_error);
        if let Err(error) = created {
            return Err(match error.code {
                ErrorCode::ResourceAlreadyExists => {
                    Error::already_exists(format!("Registered Model (name={}) already exists.", model.name))
                }
                _ => error,
            });
        }
        for tag in &model.tags {
            sqlx::query("INSERT INTO registered_model_tags (workspace, name, key, value) VALUES ($1, $2, $3, $4)")
                .bind(model.workspace.as_str())
                .bind(model.name.as_str())
                .bind(tag.key.as_str())
                .bind(tag.value.as_str())
                .execute(&mut *transaction)
                .await
                .map_err(db_error)?;
        }
        transaction.commit().await
    }

    async fn get_registered_model(&self, workspace: &WorkspaceName, name: &str) -> Result<RegisteredModel> {
        let row = sqlx::query("SELECT * FROM registered_models WHERE workspace = $1 AND name = $2")
            .bind(workspace.as_str())
            .bind(name)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(model_missing(name)))?;
        let mut model = row_to_model(&row, workspace)?;
        self.hydrate_model(&mut model).await?;
        Ok(model)
    }

    async fn rename_registered_model(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        new_name: &str,
        now: Millis,
    ) -> Result<()> {
        let renamed = self
            .execute_write(
                sqlx::query(
                    "UPDATE registered_models SET name = $3, last_updated_time = $4 WHERE workspace = $1 AND name = $2",
                )
                .bind(workspace.as_str())
                .bind(name)
                .bind(new_name)
                .bind(now),
            )
            .await
            .map_err(|error| match error {
                error if error.code == ErrorCode::ResourceAlreadyExists => {
                    Error::already_exists(format!("Registered Model (name={new_name}) already exists."))
                }
                error => error,
            })?;
        found(renamed.rows_affected(), || model_missing(name))
    }

    async fn update_registered_model(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        description: &str,
        now: Millis,
    ) -> Result<()> {
        let done = self.execute_write(sqlx::query(
            "UPDATE registered_models SET description = $3, last_updated_time = $4 WHERE workspace = $1 AND name = $2",
        )
        .bind(workspace.as_str())
        .bind(name)
        .bind(description)
        .bind(now)
        ).await?;
        found(done.rows_affected(), || model_missing(name))
    }

    async fn delete_registered_model(&self, workspace: &WorkspaceName, name: &str) -> Result<()> {
        let done = self
            .execute_write(
                sqlx::query("DELETE FROM registered_models WHERE workspace = $1 AND name = $2")
                    .bind(workspace.as_str())
                    .bind(name),
            )
            .await?;
        found(done.rows_affected(), || model_missing(name))
    }

    async fn search_registered_models(&self, query: &RegistryQuery<'_>) -> Result<Vec<RegisteredModel>> {
        let (sql, binds) = search::registered_model_search_sql(query)?;
        let rows = bound(sql, &binds).fetch_all(&self.read).await.map_err(db_error)?;
        let mut models = rows.iter().map(|row| row_to_model(row, query.workspace)).collect::<Result<Vec<_>>>()?;
        for model in &mut models {
            self.hydrate_model(model).await?;
        }
        Ok(models)
    }

    async fn set_registered_model_tag(&self, workspace: &WorkspaceName, name: &str, tag: &Tag) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        require_model(&mut transaction, workspace, name).await?;
        sqlx::query(
            "INSERT INTO registered_model_tags (workspace, name, key, value) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (workspace, name, key) DO UPDATE SET value = excluded.value",
        )
        .bind(workspace.as_str())
        .bind(name)
        .bind(tag.key.as_str())
        .bind(tag.value.as_str())
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        transaction.commit().await
    }

    async fn delete_registered_model_tag(&self, workspace: &WorkspaceName, name: &str, key: &str) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        require_model(&mut transaction, workspace, name).await?;
        let done = sqlx::query("DELETE FROM registered_model_tags WHERE workspace = $1 AND name = $2 AND key = $3")
            .bind(workspace.as_str())
            .bind(name)
            .bind(key)
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
        found(done.rows_affected(), || format!("No tag with name: {key} in registered model {name}"))?;
        transaction.commit().await
    }

    async fn set_model_alias(&self, workspace: &WorkspaceName, name: &str, alias: &str, version: i64) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        require_version(&mut transaction, workspace, name, version).await?;
        sqlx::query(
            "INSERT INTO registered_model_aliases (workspace, name, alias, version) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (workspace, name, alias) DO UPDATE SET version = excluded.version",
        )
        .bind(workspace.as_str())
        .bind(name)
        .bind(alias)
        .bind(version)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        transaction.commit().await
    }

    async fn delete_model_alias(&self, workspace: &WorkspaceName, name: &str, alias: &str) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        require_model(&mut transaction, workspace, name).await?;
        // Deleting an alias that is not set is not an error, as in MLflow.
        sqlx::query("DELETE FROM registered_model_aliases WHERE workspace = $1 AND name = $2 AND alias = $3")
            .bind(workspace.as_str())
            .bind(name)
            .bind(alias)
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
        transaction.commit().await
    }

    async fn create_model_version(&self, version: &ModelVersion) -> Result<ModelVersion> {
        let workspace = &version.workspace;
        let mut transaction = self.begin_write().await?;
        // An explicit number (Azure ML's `version: "3"`) must be free; the counter moves past it
        // so that a later automatic number never collides.
        let row = sqlx::query(
            "UPDATE registered_models SET last_updated_time = $3, next_version = CASE \
             WHEN $4 = 0 THEN next_version + 1 WHEN next_version > $4 THEN next_version ELSE $4 + 1 END \
             WHERE workspace = $1 AND name = $2 RETURNING next_version",
        )
        .bind(workspace.as_str())
        .bind(version.name.as_str())
        .bind(version.creation_time)
        .bind(version.version.max(0))
        .fetch_optional(&mut *transaction)
        .await
        .map_err(db_error)?
        .ok_or_else(|| Error::not_found(model_missing(&version.name)))?;
        let number: i64 = if version.version > 0 {
            version.version
        } else {
            row.try_get::<i64, _>("next_version").map_err(db_error)? - 1
        };
        let properties = serde_json::to_string(&version.properties)
            .map_err(|error| Error::internal(format!("encoding properties failed: {error}")))?;
        sqlx::query(
            "INSERT INTO model_versions (workspace, name, version, creation_time, last_updated_time, description, \
             user_id, current_stage, source, run_id, run_link, status, status_message, model_id, model_type, \
             properties, archived) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        )
        .bind(workspace.as_str())
        .bind(version.name.as_str())
        .bind(number)
        .bind(version.creation_time)
        .bind(version.last_updated_time)
        .bind(version.description.as_str())
        .bind(version.user_id.as_str())
        .bind(version.current_stage.as_str())
        .bind(version.source.as_str())
        .bind(version.run_id.as_deref())
        .bind(version.run_link.as_str())
        .bind(version.status.as_str())
        .bind(version.status_message.as_str())
        .bind(version.model_id.as_deref())
        .bind(version.model_type.as_str())
        .bind(properties)
        .bind(i64::from(version.archived))
        .execute(&mut *transaction)
        .await
        .map_err(|error| match db_error(error) {
            error if error.code == ErrorCode::ResourceAlreadyExists => Error::already_exists(format!(
                "Model Version (name={}, version={number}) already exists.",
                version.name
            )),
            error => error,
        })?;
        for tag in &version.tags {
            sqlx::query(
                "INSERT INTO model_version_tags (workspace, name, version, key, value) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (workspace, name, version, key) DO UPDATE SET value = excluded.value",
            )
            .bind(workspace.as_str())
            .bind(version.name.as_str())
            .bind(number)
            .bind(tag.key.as_str())
            .bind(tag.value.as_str())
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
        }
        transaction.commit().await?;
        Ok(ModelVersion { version: number, aliases: Vec::new(), ..version.clone() })
    }

    async fn get_model_version(&self, workspace: &WorkspaceName, name: &str, version: i64) -> Result<ModelVersion> {
        let row = sqlx::query("SELECT * FROM model_versions WHERE workspace = $1 AND name = $2 AND version = $3")
            .bind(workspace.as_str())
            .bind(name)
            .bind(version)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(version_missing(name, version)))?;
        let mut versions = [row_to_version(&row, workspace)?];
        self.hydrate_versions(workspace, &mut versions).await?;
        let [version] = versions;
        Ok(version)
    }

    async fn update_model_version(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        version: i64,
        description: &str,
        now: Millis,
    ) -> Result<()> {
        let done = self
            .execute_write(
                sqlx::query(
                    "UPDATE model_versions SET description = $4, last_updated_time = $5 \
             WHERE workspace = $1 AND name = $2 AND version = $3",
                )
                .bind(workspace.as_str())
                .bind(name)
                .bind(version)
                .bind(description)
                .bind(now),
            )
            .await?;
        found(done.rows_affected(), || version_missing(name, version))
    }

    async fn set_model_version_properties(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        version: i64,
        properties: &BTreeMap<String, String>,
        now: Millis,
    ) -> Result<()> {
        let properties = serde_json::to_string(properties)
            .map_err(|error| Error::internal(format!("encoding properties failed: {error}")))?;
        let done = self
            .execute_write(
                sqlx::query(
                    "UPDATE model_versions SET properties = $4, last_updated_time = $5 \
             WHERE workspace = $1 AND name = $2 AND version = $3",
                )
                .bind(workspace.as_str())
                .bind(name)
                .bind(version)
                .bind(properties)
                .bind(now),
            )
            .await?;
        found(done.rows_affected(), || version_missing(name, version))
    }

    async fn set_model_version_archived(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        version: i64,
        archived: bool,
        now: Millis,
    ) -> Result<()> {
        let done = self
            .execute_write(
                sqlx::query(
                    "UPDATE model_versions SET archived = $4, last_updated_time = $5 \
             WHERE workspace = $1 AND name = $2 AND version = $3",
                )
                .bind(workspace.as_str())
                .bind(name)
                .bind(version)
                .bind(i64::from(archived))
                .bind(now),
            )
            .await?;
        found(done.rows_affected(), || version_missing(name, version))
    }

    async fn set_model_version_stage(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        version: i64,
        stage: &str,
        archive_existing: bool,
        now: Millis,
    ) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        require_version(&mut transaction, workspace, name, version).await?;
        if archive_existing {
            sqlx::query(
                "UPDATE model_versions SET current_stage = 'Archived', last_updated_time = $5 \
                 WHERE workspace = $1 AND name = $2 AND current_stage = $3 AND version <> $4",
            )
            .bind(workspace.as_str())
            .bind(name)
            .bind(stage)
            .bind(version)
            .bind(now)
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
        }
        sqlx::query(
            "UPDATE model_versions SET current_stage = $4, last_updated_time = $5 \
             WHERE workspace = $1 AND name = $2 AND version = $3",
        )
        .bind(workspace.as_str())
        .bind(name)
        .bind(version)
        .bind(stage)
        .bind(now)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        touch_model(&mut transaction, workspace, name, now).await?;
        transaction.commit().await
    }

    async fn delete_model_version(&self, workspace: &WorkspaceName, name: &str, version: i64) -> Result<()> {
        let done = self
            .execute_write(
                sqlx::query("DELETE FROM model_versions WHERE workspace = $1 AND name = $2 AND version = $3")
                    .bind(workspace.as_str())
                    .bind(name)
                    .bind(version),
            )
            .await?;
        found(done.rows_affected(), || version_missing(name, version))
    }

    async fn search_model_versions(&self, query: &RegistryQuery<'_>) -> Result<Vec<ModelVersion>> {
        let (sql, binds) = search::model_version_search_sql(query)?;
        let rows = bound(sql, &binds).fetch_all(&self.read).await.map_err(db_error)?;
        let mut versions = rows.iter().map(|row| row_to_version(row, query.workspace)).collect::<Result<Vec<_>>>()?;
        self.hydrate_versions(query.workspace, &mut versions).await?;
        Ok(versions)
    }

    async fn set_model_version_tag(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        version: i64,
        tag: &Tag,
    ) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        require_version(&mut transaction, workspace, name, version).await?;
        sqlx::query(
            "INSERT INTO model_version_tags (workspace, name, version, key, value) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (workspace, name, version, key) DO UPDATE SET value = excluded.value",
        )
        .bind(workspace.as_str())
        .bind(name)
        .bind(version)
        .bind(tag.key.as_str())
        .bind(tag.value.as_str())
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        transaction.commit().await
    }

    async fn delete_model_version_tag(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        version: i64,
        key: &str,
    ) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        require_version(&mut transaction, workspace, name, version).await?;
        let done = sqlx::query(
            "DELETE FROM model_version_tags WHERE workspace = $1 AND name = $2 AND version = $3 AND key = $4",
        )
        .bind(workspace.as_str())
        .bind(name)
        .bind(version)
        .bind(key)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        found(done.rows_affected(), || format!("No tag with name: {key} in model version {name} {version}"))?;
        transaction.commit().await
    }
}

//! [`InstanceStore`] for [`SqlStore`]: compute instances, their state and the process that
//! runs each.

use crate::InstanceStore;
use crate::dialect::{Dialect, db_error, found};
use crate::rows::{from_json, json_text};
use crate::sql::SqlStore;
use async_trait::async_trait;
use atelier_core::instance::{ComputeInstance, InstanceState};
use atelier_core::model::Millis;
use atelier_core::names::WorkspaceName;
use atelier_core::{Error, ErrorCode, Result};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

fn row_to_instance(row: &AnyRow) -> Result<ComputeInstance> {
    let workspace: String = row.try_get("workspace").map_err(db_error)?;
    let state: String = row.try_get("state").map_err(db_error)?;
    Ok(ComputeInstance {
        workspace: WorkspaceName::parse(&workspace)?,
        name: row.try_get("name").map_err(db_error)?,
        owner: row.try_get("owner").map_err(db_error)?,
        shared_with: from_json(row, "shared_with")?,
        size: row.try_get("size").map_err(db_error)?,
        description: row.try_get("description").map_err(db_error)?,
        tags: from_json(row, "tags")?,
        yaml: row.try_get("yaml").map_err(db_error)?,
        definition: row.try_get("definition").map_err(db_error)?,
        state: InstanceState::parse(&state)?,
        reason: row.try_get("reason").map_err(db_error)?,
        state_since: row.try_get("state_since").map_err(db_error)?,
        token_hash: row.try_get("token_hash").map_err(db_error)?,
        runtime_pid: row.try_get("runtime_pid").map_err(db_error)?,
        runtime_start: row.try_get("runtime_start").map_err(db_error)?,
        last_activity: row.try_get("last_activity").map_err(db_error)?,
        schedules_checked_at: row.try_get("schedules_checked_at").map_err(db_error)?,
        created_by: row.try_get("created_by").map_err(db_error)?,
        created_at: row.try_get("created_at").map_err(db_error)?,
    })
}

fn missing(workspace: &WorkspaceName, name: &str) -> String {
    format!("compute instance '{name}' not found in workspace '{workspace}'")
}

#[async_trait]
impl InstanceStore for SqlStore {
    async fn create_instance(&self, instance: &ComputeInstance) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        // Computes and instances share their names, as in Azure.
        let taken = sqlx::query("SELECT 1 FROM computes WHERE workspace = $1 AND name = $2")
            .bind(instance.workspace.as_str())
            .bind(instance.name.as_str())
            .fetch_optional(&mut *transaction)
            .await
            .map_err(db_error)?;
        let taken_message =
            || format!("a compute named '{}' already exists in workspace '{}'", instance.name, instance.workspace);
        if taken.is_some() {
            return Err(Error::already_exists(taken_message()));
        }
        sqlx::query(
            "INSERT INTO compute_instances (workspace, name, owner, shared_with, size, description, tags, yaml, \
             definition, state, reason, state_since, token_hash, runtime_pid, runtime_start, last_activity, \
             schedules_checked_at, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
        )
        .bind(instance.workspace.as_str())
        .bind(instance.name.as_str())
        .bind(instance.owner.as_str())
        .bind(json_text(&instance.shared_with)?)
        .bind(instance.size.as_deref())
        .bind(instance.description.as_str())
        .bind(json_text(&instance.tags)?)
        .bind(instance.yaml.as_str())
        .bind(instance.definition.as_str())
        .bind(instance.state.as_str())
        .bind(instance.reason.as_deref())
        .bind(instance.state_since)
        .bind(instance.token_hash.as_deref())
        .bind(instance.runtime_pid)
        .bind(instance.runtime_start)
        .bind(instance.last_activity)
        .bind(instance.schedules_checked_at)
        .bind(instance.created_by.as_str())
        .bind(instance.created_at)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)
        .map_err(|error| match error.code {
            ErrorCode::ResourceAlreadyExists => Error::already_exists(taken_message()),
            _ => error,
        })?;
        transaction.commit().await
    }

    async fn get_instance(&self, workspace: &WorkspaceName, name: &str) -> Result<ComputeInstance> {
        let row = sqlx::query("SELECT * FROM compute_instances WHERE workspace = $1 AND name = $2")
            .bind(workspace.as_str())
            .bind(name)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(missing(workspace, name)))?;
        row_to_instance(&row)
    }

    async fn list_instances(&self, workspace: Option<&WorkspaceName>) -> Result<Vec<ComputeInstance>> {
        let rows = match workspace {
            Some(workspace) => {
                sqlx::query("SELECT * FROM compute_instances WHERE workspace = $1 ORDER BY name")
                    .bind(workspace.as_str())
                    .fetch_all(&self.read)
                    .await
            }
            None => sqlx::query("SELECT * FROM compute_instances ORDER BY workspace, name").fetch_all(&self.read).await,
        }
        .map_err(db_error)?;
        rows.iter().map(row_to_instance).collect()
    }

    async fn find_instance_by_token(&self, token_hash: &str) -> Result<Option<ComputeInstance>> {
        let row = sqlx::query("SELECT * FROM compute_instances WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?;
        row.as_ref().map(row_to_instance).transpose()
    }

    async fn set_instance_state(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        from: &[InstanceState],
        to: InstanceState,
        reason: Option<&str>,
        at: Millis,
    ) -> Result<Option<ComputeInstance>> {
        let mut transaction = self.begin_write().await?;
        // Read under the row's lock on PostgreSQL: two moves from one state take turns.
        let lock = match self.dialect() {
            Dialect::Postgres => " FOR UPDATE",
            Dialect::Sqlite => "",
        };
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT state FROM compute_instances WHERE workspace = $1 AND name = $2{lock}"
        )))
        .bind(workspace.as_str())
        .bind(name)
        .fetch_optional(&mut *transaction)
        .await
        .map_err(db_error)?
        .ok_or_else(|| Error::not_found(missing(workspace, name)))?;
        let current = InstanceState::parse(&row.try_get::<String, _>("state").map_err(db_error)?)?;
        if !from.contains(&current) {
            return Ok(None);
        }
        sqlx::query(
            "UPDATE compute_instances SET state = $3, reason = $4, state_since = $5 WHERE workspace = $1 AND name = $2",
        )
        .bind(workspace.as_str())
        .bind(name)
        .bind(to.as_str())
        .bind(reason)
        .bind(at)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        transaction.commit().await?;
        self.get_instance(workspace, name).await.map(Some)
    }

    async fn set_instance_runtime(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        token_hash: Option<&str>,
        process: Option<(i64, i64)>,
    ) -> Result<()> {
        let result = self
            .execute_write(
                sqlx::query(
                    "UPDATE compute_instances SET token_hash = $3, runtime_pid = $4, runtime_start = $5 \
                     WHERE workspace = $1 AND name = $2",
                )
                .bind(workspace.as_str())
                .bind(name)
                .bind(token_hash)
                .bind(process.map(|(pid, _)| pid))
                .bind(process.map(|(_, start)| start)),
            )
            .await?;
        found(result.rows_affected(), || missing(workspace, name))
    }

    async fn clear_instance_runtime(&self, workspace: &WorkspaceName, name: &str, pid: i64) -> Result<bool> {
        let result = self
            .execute_write(
                sqlx::query(
                    "UPDATE compute_instances SET token_hash = NULL, runtime_pid = NULL, runtime_start = NULL \
                     WHERE workspace = $1 AND name = $2 AND runtime_pid = $3",
                )
                .bind(workspace.as_str())
                .bind(name)
                .bind(pid),
            )
            .await?;
        Ok(result.rows_affected() > 0)
    }

    async fn set_instance_activity(&self, workspace: &WorkspaceName, name: &str, last_activity: Millis) -> Result<()> {
        let result = self
            .execute_write(
                sqlx::query("UPDATE compute_instances SET last_activity = $3 WHERE workspace = $1 AND name = $2")
                    .bind(workspace.as_str())
                    .bind(name)
                    .bind(last_activity),
            )
            .await?;
        found(result.rows_affected(), || missing(workspace, name))
    }

    async fn set_instance_schedules_checked(&self, workspace: &WorkspaceName, name: &str, at: Millis) -> Result<()> {
        let result = self
            .execute_write(
                sqlx::query(
                    "UPDATE compute_instances SET schedules_checked_at = $3 WHERE workspace = $1 AND name = $2",
                )
                .bind(workspace.as_str())
                .bind(name)
                .bind(at),
            )
            .await?;
        found(result.rows_affected(), || missing(workspace, name))
    }

    async fn set_instance_sharing(&self, workspace: &WorkspaceName, name: &str, shared_with: &[String]) -> Result<()> {
        let result = self
            .execute_write(
                sqlx::query("UPDATE compute_instances SET shared_with = $3 WHERE workspace = $1 AND name = $2")
                    .bind(workspace.as_str())
                    .bind(name)
                    .bind(json_text(&shared_with)?),
            )
            .await?;
        found(result.rows_affected(), || missing(workspace, name))
    }

    async fn delete_instance(&self, workspace: &WorkspaceName, name: &str) -> Result<()> {
        let result = self
            .execute_write(
                sqlx::query("DELETE FROM compute_instances WHERE workspace = $1 AND name = $2")
                    .bind(workspace.as_str())
                    .bind(name),
            )
            .await?;
        found(result.rows_affected(), || missing(workspace, name))
    }
}

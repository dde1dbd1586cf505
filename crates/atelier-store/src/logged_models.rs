//! [`LoggedModelStore`] for [`SqlStore`]: MLflow 3's logged models with their tags and params.
//! A deleted logged model is only marked so; searches leave it out.

use crate::dialect::{bound, db_error, found};
use crate::rows::row_to_logged_model;
use crate::sql::SqlStore;
use crate::tracking::require_active_experiment;
use crate::{LoggedModelQuery, LoggedModelStore, search};
use async_trait::async_trait;
use atelier_core::model::{LoggedModel, Millis, Param, Tag};
use atelier_core::{Error, Result};
use sqlx::AssertSqlSafe;

#[async_trait]
impl LoggedModelStore for SqlStore {
    async fn create_logged_model(&self, model: &LoggedModel) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        require_active_experiment(&mut transaction, &model.workspace, model.experiment_id).await?;
        sqlx::query(
            "INSERT INTO logged_models (model_id, workspace, experiment_id, name, artifact_location, creation_time, \
             last_updated_time, status, status_message, lifecycle_stage, model_type, creator, source_run_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(model.model_id.as_str())
        .bind(model.workspace.as_str())
        .bind(model.experiment_id)
        .bind(model.name.as_str())
        .bind(model.artifact_location.as_str())
        .bind(model.creation_time)
        .bind(model.last_updated_time)
        .bind(model.status.as_str())
        .bind(model.status_message.as_str())
        .bind(model.lifecycle_stage.as_str())
        .bind(model.model_type.as_str())
        .bind(model.creator.as_str())
        .bind(model.source_run_id.as_deref())
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        for tag in &model.tags {
            upsert_model_child(&mut transaction, "logged_model_tags", &model.model_id, &tag.key, &tag.value).await?;
        }
        for param in &model.params {
            upsert_model_child(&mut transaction, "logged_model_params", &model.model_id, &param.key, &param.value)
                .await?;
        }
        transaction.commit().await
    }

    async fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel> {
        let row = sqlx::query("SELECT * FROM logged_models WHERE model_id = $1")
            .bind(model_id)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(format!("logged model with id '{model_id}' not found")))?;
        let mut models = self.hydrate_logged_models(vec![row_to_logged_model(&row)?]).await?;
        models.pop().ok_or_else(|| Error::internal("logged model disappeared while loading"))
    }

    async fn set_logged_model_status(&self, model_id: &str, status: &str, now: Millis) -> Result<()> {
        let result = self
            .execute_write(
                sqlx::query("UPDATE logged_models SET status = $2, last_updated_time = $3 WHERE model_id = $1")
                    .bind(model_id)
                    .bind(status)
                    .bind(now),
            )
            .await?;
        found(result.rows_affected(), || format!("logged model with id '{model_id}' not found"))
    }

    async fn set_logged_model_tags(&self, model_id: &str, tags: &[Tag], now: Millis) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        let result = sqlx::query("UPDATE logged_models SET last_updated_time = $2 WHERE model_id = $1")
            .bind(model_id)
            .bind(now)
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
        if result.rows_affected() == 0 {
            return Err(Error::not_found(format!("logged model with id '{model_id}' not found")));
        }
        for tag in tags {
            upsert_model_child(&mut transaction, "logged_model_tags", model_id, &tag.key, &tag.value).await?;
        }
        transaction.commit().await
    }

    async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()> {
        let result = self
            .execute_write(
                sqlx::query("DELETE FROM logged_model_tags WHERE model_id = $1 AND key = $2").bind(model_id).bind(key),
            )
            .await?;
        found(result.rows_affected(), || format!("no tag with key '{key}' on logged model '{model_id}'"))
    }

    async fn log_logged_model_params(&self, model_id: &str, params: &[Param]) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        let exists = sqlx::query("SELECT 1 FROM logged_models WHERE model_id = $1")
            .bind(model_id)
            .fetch_optional(&mut *transaction)
            .await
            .map_err(db_error)?;
        if exists.is_none() {
            return Err(Error::not_found(format!("logged model with id '{model_id}' not found")));
        }
        for param in params {
            upsert_model_child(&mut transaction, "logged_model_params", model_id, &param.key, &param.value).await?;
        }
        transaction.commit().await
    }

    async fn delete_logged_model(&self, model_id: &str, now: Millis) -> Result<()> {
        let result = self
            .execute_write(
                sqlx::query(
                    "UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_time = $2 WHERE model_id = $1",
                )
                .bind(model_id)
                .bind(now),
            )
            .await?;
        found(result.rows_affected(), || format!("logged model with id '{model_id}' not found"))
    }

    async fn search_logged_models(&self, query: &LoggedModelQuery<'_>) -> Result<Vec<LoggedModel>> {
        let (sql, binds) = search::logged_model_search_sql(query)?;
        let rows = bound(sql, &binds).fetch_all(&self.read).await.map_err(db_error)?;
        let models = rows.iter().map(row_to_logged_model).collect::<Result<Vec<_>>>()?;
        self.hydrate_logged_models(models).await
    }
}

/// Inserts or replaces a key/value row of a logged model's `table` (tags or params). The table
/// name comes from the two callers' constants, never from a request.
async fn upsert_model_child(
    connection: &mut sqlx::AnyConnection,
    table: &'static str,
    model_id: &str,
    key: &str,
    value: &str,
) -> Result<()> {
    let sql = format!(
        "INSERT INTO {table} (model_id, key, value) VALUES ($1, $2, $3) ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value"
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(model_id)
        .bind(key)
        .bind(value)
        .execute(&mut *connection)
        .await
        .map_err(db_error)?;
    Ok(())
}

//! [`ScheduleStore`] for [`SqlStore`]: schedules with their file, what each fire submits, and
//! their last and next fire times.

use crate::ScheduleStore;
use crate::dialect::{db_error, found};
use crate::rows::{from_json, json_text};
use crate::sql::{SqlStore, WriteTx};
use async_trait::async_trait;
use atelier_core::model::Millis;
use atelier_core::names::WorkspaceName;
use atelier_core::schedule::Schedule;
use atelier_core::{Error, ErrorCode, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

fn row_to_schedule(row: &AnyRow) -> Result<Schedule> {
    let workspace: String = row.try_get("workspace").map_err(db_error)?;
    Ok(Schedule {
        workspace: WorkspaceName::parse(&workspace)?,
        name: row.try_get("name").map_err(db_error)?,
        display_name: row.try_get("display_name").map_err(db_error)?,
        description: row.try_get("description").map_err(db_error)?,
        tags: from_json(row, "tags")?,
        yaml: row.try_get("yaml").map_err(db_error)?,
        submission: row.try_get("submission").map_err(db_error)?,
        enabled: row.try_get::<i64, _>("enabled").map_err(db_error)? != 0,
        last_fire: row.try_get("last_fire").map_err(db_error)?,
        next_fire: row.try_get("next_fire").map_err(db_error)?,
        last_error: row.try_get("last_error").map_err(db_error)?,
        created_by: row.try_get("created_by").map_err(db_error)?,
        creation_time: row.try_get("creation_time").map_err(db_error)?,
    })
}

fn missing(name: &str) -> String {
    format!("schedule '{name}' not found")
}

#[async_trait]
impl ScheduleStore for SqlStore {
    async fn create_schedule(&self, schedule: &Schedule, references: &[String]) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO schedules (workspace, name, display_name, description, tags, yaml, submission, enabled, \
             last_fire, next_fire, last_error, created_by, creation_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(schedule.workspace.as_str())
        .bind(schedule.name.as_str())
        .bind(schedule.display_name.as_deref())
        .bind(schedule.description.as_deref())
        .bind(json_text(&schedule.tags)?)
        .bind(schedule.yaml.as_str())
        .bind(schedule.submission.as_str())
        .bind(i64::from(schedule.enabled))
        .bind(schedule.last_fire)
        .bind(schedule.next_fire)
        .bind(schedule.last_error.as_deref())
        .bind(schedule.created_by.as_str())
        .bind(schedule.creation_time)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)
        .map_err(|error| match error {
            error if error.code == ErrorCode::ResourceAlreadyExists => Error::already_exists(format!(
                "a schedule named '{}' already exists in workspace '{}'",
                schedule.name, schedule.workspace
            )),
            error => error,
        })?;
        insert_references(&mut transaction, schedule, references).await?;
        transaction.commit().await
    }

    async fn update_schedule(&self, schedule: &Schedule, references: &[String]) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE schedules SET display_name = $3, description = $4, tags = $5, yaml = $6, submission = $7, \
             enabled = $8, next_fire = $9 WHERE workspace = $1 AND name = $2",
        )
        .bind(schedule.workspace.as_str())
        .bind(schedule.name.as_str())
        .bind(schedule.display_name.as_deref())
        .bind(schedule.description.as_deref())
        .bind(json_text(&schedule.tags)?)
        .bind(schedule.yaml.as_str())
        .bind(schedule.submission.as_str())
        .bind(i64::from(schedule.enabled))
        .bind(schedule.next_fire)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        found(done.rows_affected(), || missing(&schedule.name))?;
        sqlx::query("DELETE FROM schedule_references WHERE workspace = $1 AND schedule = $2")
            .bind(schedule.workspace.as_str())
            .bind(schedule.name.as_str())
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
        insert_references(&mut transaction, schedule, references).await?;
        transaction.commit().await
    }

    async fn get_schedule(&self, workspace: &WorkspaceName, name: &str) -> Result<Schedule> {
        let row = sqlx::query("SELECT * FROM schedules WHERE workspace = $1 AND name = $2")
            .bind(workspace.as_str())
            .bind(name)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(missing(name)))?;
        row_to_schedule(&row)
    }

    async fn list_schedules(&self, workspace: &WorkspaceName) -> Result<Vec<Schedule>> {
        let rows = sqlx::query("SELECT * FROM schedules WHERE workspace = $1 ORDER BY name")
            .bind(workspace.as_str())
            .fetch_all(&self.read)
            .await
            .map_err(db_error)?;
        rows.iter().map(row_to_schedule).collect()
    }

    async fn delete_schedule(&self, workspace: &WorkspaceName, name: &str) -> Result<()> {
        let mut transaction = self.begin_write().await?;
        sqlx::query("DELETE FROM schedule_references WHERE workspace = $1 AND schedule = $2")
            .bind(workspace.as_str())
            .bind(name)
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
        let done = sqlx::query("DELETE FROM schedules WHERE workspace = $1 AND name = $2")
            .bind(workspace.as_str())
            .bind(name)
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
        found(done.rows_affected(), || missing(name))?;
        transaction.commit().await
    }

    async fn set_schedule_enabled(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        enabled: bool,
        next_fire: Option<Millis>,
    ) -> Result<()> {
        let done = self
            .execute_write(
                sqlx::query("UPDATE schedules SET enabled = $3, next_fire = $4 WHERE workspace = $1 AND name = $2")
                    .bind(workspace.as_str())
                    .bind(name)
                    .bind(i64::from(enabled))
                    .bind(next_fire),
            )
            .await?;
        found(done.rows_affected(), || missing(name))
    }

    async fn due_schedules(&self, now: Millis) -> Result<Vec<Schedule>> {
        let rows = sqlx::query(
            "SELECT * FROM schedules WHERE enabled = 1 AND next_fire IS NOT NULL AND next_fire <= $1 \
             ORDER BY next_fire, workspace, name",
        )
        .bind(now)
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        rows.iter().map(row_to_schedule).collect()
    }

    async fn claim_schedule_fire(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        fire: Millis,
        holder: &str,
        now: Millis,
        until: Millis,
    ) -> Result<bool> {
        let done = self
            .execute_write(
                sqlx::query(
                    "UPDATE schedules SET lease_holder = $4, lease_until = $6 \
                     WHERE workspace = $1 AND name = $2 AND enabled = 1 AND next_fire = $3 \
                     AND (lease_until IS NULL OR lease_until < $5 OR lease_holder = $4)",
                )
                .bind(workspace.as_str())
                .bind(name)
                .bind(fire)
                .bind(holder)
                .bind(now)
                .bind(until),
            )
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_schedule_fire(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        fire: Millis,
        next_fire: Option<Millis>,
        error: Option<&str>,
    ) -> Result<()> {
        let done = self
            .execute_write(
                sqlx::query(
                    "UPDATE schedules SET last_fire = $3, next_fire = $4, last_error = $5, lease_holder = NULL, \
                     lease_until = NULL WHERE workspace = $1 AND name = $2 AND (last_fire IS NULL OR last_fire < $3)",
                )
                .bind(workspace.as_str())
                .bind(name)
                .bind(fire)
                .bind(next_fire)
                .bind(error),
            )
            .await?;
        if done.rows_affected() == 0 {
            // An older fire, or a schedule that is gone: it is the newer record's to say.
            self.get_schedule(workspace, name).await?;
        }
        Ok(())
    }
}

async fn insert_references(transaction: &mut WriteTx, schedule: &Schedule, references: &[String]) -> Result<()> {
    for location in references {
        sqlx::query(
            "INSERT INTO schedule_references (workspace, schedule, location) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(schedule.workspace.as_str())
        .bind(schedule.name.as_str())
        .bind(location.as_str())
        .execute(&mut **transaction)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

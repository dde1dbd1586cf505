//! [`GcStore`] for [`SqlStore`]: what garbage collection asks of the metadata: the deleted runs
//! it may purge, the purge itself, and every location something still refers to (model
//! versions, data assets, jobs, deployments' and components' code snapshots), whose files it must keep.

use crate::GcStore;
use crate::dialect::db_error;
use crate::rows::row_to_run_info;
use crate::sql::SqlStore;
use async_trait::async_trait;
use atelier_core::Result;
use atelier_core::model::{RunId, RunInfo};
use atelier_core::names::WorkspaceName;
use sqlx::Row;

#[async_trait]
impl GcStore for SqlStore {
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
        rows.iter().map(row_to_run_info).collect()
    }

    async fn purge_run(&self, run_id: &RunId) -> Result<()> {
        self.execute_write(
            sqlx::query("DELETE FROM runs WHERE run_uuid = $1 AND lifecycle_stage = 'deleted'").bind(run_id.as_str()),
        )
        .await?;
        Ok(())
    }

    async fn referenced_locations(&self, workspace: &WorkspaceName) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT source AS location FROM model_versions WHERE workspace = $1 \
             UNION SELECT path AS location FROM data_assets WHERE workspace = $1 \
             UNION SELECT location FROM job_references WHERE workspace = $1 \
             UNION SELECT location FROM schedule_references WHERE workspace = $1 \
             UNION SELECT 'code:' || snapshot || '/' AS location FROM deployments \
             WHERE workspace = $1 AND snapshot IS NOT NULL \
             UNION SELECT 'code:' || snapshot || '/' AS location FROM components \
             WHERE workspace = $1 AND snapshot IS NOT NULL",
        )
        .bind(workspace.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        rows.iter().map(|row| row.try_get::<String, _>("location").map_err(db_error)).collect()
    }
}

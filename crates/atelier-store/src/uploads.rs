//! [`UploadStore`] for [`SqlStore`]: the index of files uploaded to a workspace (model files
//! under the artifact root, data files on the default datastore), each path with the hash and
//! size of its content, so that an upload of the same content is not stored twice.

use crate::dialect::db_error;
use crate::sql::SqlStore;
use crate::{UploadFile, UploadStore};
use async_trait::async_trait;
use atelier_core::Result;
use atelier_core::model::Millis;
use atelier_core::names::WorkspaceName;
use sqlx::Row;
use sqlx::any::AnyRow;

#[async_trait]
impl UploadStore for SqlStore {
    async fn record_upload_file(
        &self,
        workspace: &WorkspaceName,
        area: &str,
        path: &str,
        hash: &str,
        size: i64,
        now: Millis,
    ) -> Result<()> {
        self.execute_write(sqlx::query(
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
        ).await?;
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
        let done = self
            .execute_write(
                sqlx::query(
                    "DELETE FROM upload_files WHERE workspace = $1 AND area = $2 \
             AND (path = $3 OR substr(path, 1, length($3) + 1) = $3 || '/')",
                )
                .bind(workspace.as_str())
                .bind(area)
                .bind(prefix),
            )
            .await?;
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

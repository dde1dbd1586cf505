//! [`LeaseStore`] for [`SqlStore`]: named leases, each held by one server until it expires.

use crate::LeaseStore;
use crate::dialect::db_error;
use crate::sql::SqlStore;
use async_trait::async_trait;
use atelier_core::Result;
use atelier_core::model::Millis;
use sqlx::Row;

#[async_trait]
impl LeaseStore for SqlStore {
    async fn take_lease(&self, name: &str, holder: &str, now: Millis, until: Millis) -> Result<bool> {
        // One statement: the row is inserted, or updated only where this holder holds it or the
        // lease has expired, so two servers racing for it cannot both succeed.
        let done = self
            .execute_write(
                sqlx::query(
                    "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $4) \
                     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
                     WHERE leases.holder = excluded.holder OR leases.expires_at < $3",
                )
                .bind(name)
                .bind(holder)
                .bind(now)
                .bind(until),
            )
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        self.execute_write(sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2").bind(name).bind(holder))
            .await?;
        Ok(())
    }

    async fn lease_holder(&self, name: &str, now: Millis) -> Result<Option<String>> {
        let row = sqlx::query("SELECT holder FROM leases WHERE name = $1 AND expires_at >= $2")
            .bind(name)
            .bind(now)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?;
        row.map(|row| row.try_get("holder").map_err(db_error)).transpose()
    }
}

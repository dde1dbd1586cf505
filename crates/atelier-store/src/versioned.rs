//! What the versioned assets (data assets, environments and components) share: a version is text (Azure
//! ML's), the next numeric one is given when none is, and a listing shows either every version
//! of one name, newest first, or the newest version of every name.

use crate::dialect::db_error;
use crate::sql::SqlStore;
use atelier_core::Result;
use atelier_core::names::WorkspaceName;
use sqlx::any::AnyRow;

/// One past the highest numeric version among `taken`.
pub(crate) fn next_numeric_version(taken: impl IntoIterator<Item = String>) -> String {
    (taken.into_iter().filter_map(|version| version.parse::<u64>().ok()).max().unwrap_or(0) + 1).to_string()
}

impl SqlStore {
    /// The versions of one name of a versioned table (newest first), or the newest version of
    /// every name; `table` is a constant of its caller, never user input.
    pub(crate) async fn list_versions<T>(
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

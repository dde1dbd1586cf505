//! A group's transaction, on PostgreSQL's pool or SQLite's batch connection, begun with its
//! first statement and ended by hand; and the values the writer reads back.

use super::Database;
use crate::dialect::{Bind, Dialect, bound, db_error};
use atelier_core::{Error, Result};
use sqlx::pool::PoolConnection;
use sqlx::{Any, Row};

/// A value the writer reads: the columns it asks for are integers or texts, or NULL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Column {
    Int,
    Text,
}

#[derive(Debug)]
pub(super) enum Cell {
    Null,
    Int(i64),
    Text(String),
}

impl Cell {
    pub(super) fn into_text(self) -> Result<String> {
        match self {
            Cell::Text(text) => Ok(text),
            other => Err(Error::internal(format!("the writer expected a text and read {other:?}"))),
        }
    }

    pub(super) fn into_int(self) -> Result<i64> {
        match self {
            Cell::Int(number) => Ok(number),
            other => Err(Error::internal(format!("the writer expected an integer and read {other:?}"))),
        }
    }
}

/// The connection a group's transaction runs on.
enum Link<'c> {
    /// PostgreSQL's; `None` once closed after a failed rollback.
    Pool(Option<PoolConnection<Any>>),
    Sqlite(&'c mut rusqlite::Connection),
}

/// A group's transaction, begun with its first statement and ended by hand. Whoever gets an
/// error from a method calls [`GroupTransaction::rollback`], which also drops a pool's
/// connection if it cannot say whether a transaction is still open on it.
pub(super) struct GroupTransaction<'c> {
    link: Link<'c>,
    pub(super) dialect: Dialect,
    begun: bool,
    /// Whether PostgreSQL ended the transaction for a deadlock or a serialization failure.
    pub(super) contended: bool,
}

fn sqlite_error(error: rusqlite::Error) -> Error {
    if let rusqlite::Error::SqliteFailure(failure, _) = &error
        && failure.code == rusqlite::ErrorCode::ConstraintViolation
        && matches!(
            failure.extended_code,
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        )
    {
        return Error::already_exists(format!("already exists: {error}"));
    }
    tracing::error!(%error, "database error");
    Error::internal(format!("database error: {error}"))
}

impl<'c> GroupTransaction<'c> {
    pub(super) async fn begin(database: &'c mut Database<'_>) -> Result<Self> {
        let (link, dialect) = match database {
            Database::Pool(pool) => (Link::Pool(Some(pool.acquire().await.map_err(db_error)?)), Dialect::Postgres),
            Database::Sqlite(connection) => {
                // A group that stopped midway (a panic) may have left its transaction open.
                if !connection.is_autocommit() {
                    connection.execute_batch("ROLLBACK").map_err(sqlite_error)?;
                }
                (Link::Sqlite(connection), Dialect::Sqlite)
            }
        };
        Ok(GroupTransaction { link, dialect, begun: false, contended: false })
    }

    /// The database's error as the core's, noting a lost lock conflict, which the group retries
    /// (and so is not logged as an error here).
    fn failed(&mut self, error: sqlx::Error) -> Error {
        if let sqlx::Error::Database(database_error) = &error
            && matches!(database_error.code().as_deref(), Some("40P01" | "40001"))
        {
            self.contended = true;
            return Error::internal(format!("database error: {error}"));
        }
        db_error(error)
    }

    fn pooled(&mut self) -> Result<&mut PoolConnection<Any>> {
        match &mut self.link {
            Link::Pool(Some(connection)) => Ok(connection),
            _ => Err(Error::internal("the writer's connection was closed")),
        }
    }

    /// Opens the transaction before its first statement.
    async fn open(&mut self) -> Result<()> {
        if self.begun {
            return Ok(());
        }
        self.begun = true;
        self.execute_plain(match self.dialect {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        })
        .await
    }

    /// Runs a statement without arguments.
    async fn execute_plain(&mut self, sql: &'static str) -> Result<()> {
        match &mut self.link {
            Link::Sqlite(connection) => connection.execute_batch(sql).map_err(sqlite_error),
            Link::Pool(_) => {
                let outcome = sqlx::query(sql).execute(&mut **self.pooled()?).await;
                outcome.map(|_| ()).map_err(|error| self.failed(error))
            }
        }
    }

    /// The rows of `sql`, each as the `columns` it asks for.
    pub(super) async fn fetch(
        &mut self,
        sql: String,
        binds: Vec<Bind<'_>>,
        columns: &[Column],
    ) -> Result<Vec<Vec<Cell>>> {
        self.open().await?;
        match &mut self.link {
            Link::Sqlite(connection) => {
                let read = || -> rusqlite::Result<Vec<Vec<Cell>>> {
                    let mut statement = connection.prepare_cached(&sql)?;
                    let mut rows = statement.query(rusqlite::params_from_iter(binds.iter()))?;
                    let mut read = Vec::new();
                    while let Some(row) = rows.next()? {
                        let mut cells = Vec::with_capacity(columns.len());
                        for (index, column) in columns.iter().enumerate() {
                            cells.push(match column {
                                Column::Int => row.get::<_, Option<i64>>(index)?.map_or(Cell::Null, Cell::Int),
                                Column::Text => row.get::<_, Option<String>>(index)?.map_or(Cell::Null, Cell::Text),
                            });
                        }
                        read.push(cells);
                    }
                    Ok(read)
                };
                read().map_err(sqlite_error)
            }
            Link::Pool(_) => {
                let outcome = bound(sql, &binds).fetch_all(&mut **self.pooled()?).await;
                let rows = outcome.map_err(|error| self.failed(error))?;
                rows.iter()
                    .map(|row| {
                        columns
                            .iter()
                            .enumerate()
                            .map(|(index, column)| {
                                Ok(match column {
                                    Column::Int => row.try_get::<Option<i64>, _>(index)?.map_or(Cell::Null, Cell::Int),
                                    Column::Text => {
                                        row.try_get::<Option<String>, _>(index)?.map_or(Cell::Null, Cell::Text)
                                    }
                                })
                            })
                            .collect::<std::result::Result<Vec<Cell>, sqlx::Error>>()
                            .map_err(db_error)
                    })
                    .collect()
            }
        }
    }

    pub(super) async fn write(&mut self, sql: String, binds: Vec<Bind<'_>>) -> Result<()> {
        self.open().await?;
        match &mut self.link {
            Link::Sqlite(connection) => {
                let write = || -> rusqlite::Result<()> {
                    let mut statement = connection.prepare_cached(&sql)?;
                    statement.execute(rusqlite::params_from_iter(binds.iter()))?;
                    Ok(())
                };
                write().map_err(sqlite_error)
            }
            Link::Pool(_) => {
                let outcome = bound(sql, &binds).execute(&mut **self.pooled()?).await;
                outcome.map(|_| ()).map_err(|error| self.failed(error))
            }
        }
    }

    pub(super) async fn commit(&mut self) -> Result<()> {
        if !self.begun {
            return Ok(());
        }
        self.execute_plain("COMMIT").await?;
        self.begun = false;
        Ok(())
    }

    /// Rolls back what was begun; a pool's connection on which that fails is closed rather than
    /// handed back with a transaction perhaps still open.
    pub(super) async fn rollback(&mut self) {
        if !self.begun {
            return;
        }
        self.begun = false;
        match &mut self.link {
            Link::Sqlite(connection) => {
                // SQLite may have rolled back already (a full disk, a lost lock).
                if !connection.is_autocommit()
                    && let Err(error) = connection.execute_batch("ROLLBACK")
                {
                    tracing::error!(%error, "rolling back a grouped write failed");
                }
            }
            Link::Pool(slot) => {
                let Some(mut connection) = slot.take() else { return };
                match sqlx::query("ROLLBACK").execute(&mut *connection).await {
                    Ok(_) => *slot = Some(connection),
                    Err(error) => {
                        tracing::warn!(%error, "rolling back a grouped write failed; closing the writer's connection");
                        let _ = connection.close().await;
                    }
                }
            }
        }
    }
}

//! A group's transaction, on PostgreSQL's pool or SQLite's batch connection, ended by hand; and
//! the values the writer reads back.
//!
//! On SQLite every statement runs when it is given, in a transaction begun (`IMMEDIATE`) with
//! the first. On PostgreSQL a statement is a round trip to another process, each costing both
//! sides more than a small statement's own work, so writes are queued and sent together as one
//! statement (data-modifying `WITH` clauses, placed to run in the order given: see
//! [`one_statement`]; they see one snapshot, so none may read what another writes, and the
//! writer sends [`GroupTransaction::settle`] between two that must).
//! The transaction is begun only when something must follow a write or hold a lock: a group
//! whose writes go as one statement after plain reads sends the reads and that statement, each
//! atomic on its own, and no `BEGIN` or `COMMIT` (at PostgreSQL's default isolation, read
//! committed, each statement of a transaction reads its own snapshot anyway). A lone
//! `log_metric` took six round trips, and takes two.

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

/// PostgreSQL's most parameters a statement.
pub(super) const MAX_POSTGRES_BINDS: usize = 65_535;

/// A group's transaction, ended by hand. Whoever gets an error from a method calls
/// [`GroupTransaction::rollback`], which also drops a pool's connection if it cannot say whether
/// a transaction is still open on it. Dropped while its transaction is open (a panic, or a future
/// cut short), it closes a pool's connection rather than hand it back inside the transaction,
/// where the next borrower's statements would run.
pub(super) struct GroupTransaction<'c, 'q> {
    link: Link<'c>,
    pub(super) dialect: Dialect,
    begun: bool,
    /// Whether PostgreSQL ended the transaction for a deadlock or a serialization failure.
    pub(super) contended: bool,
    /// Whether the writes may have been committed although they failed here: a statement sent
    /// outside a transaction, or the `COMMIT`, whose answer never came or could not be read.
    pub(super) may_have_committed: bool,
    /// Whether the last statement that failed failed for want of PostgreSQL's answer (the
    /// connection), not with an error of PostgreSQL's.
    answer_lost: bool,
    /// PostgreSQL's writes not sent yet, with how many parameters they take together.
    queued: Vec<(String, Vec<Bind<'q>>)>,
    queued_binds: usize,
}

impl Drop for GroupTransaction<'_, '_> {
    fn drop(&mut self) {
        if self.begun
            && let Link::Pool(Some(connection)) = &mut self.link
        {
            connection.close_on_drop();
        }
    }
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

impl<'c, 'q> GroupTransaction<'c, 'q> {
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
        Ok(GroupTransaction {
            link,
            dialect,
            begun: false,
            contended: false,
            may_have_committed: false,
            answer_lost: false,
            queued: Vec::new(),
            queued_binds: 0,
        })
    }

    /// The database's error as the core's, noting a lost lock conflict, which the group retries
    /// (and so is not logged as an error here).
    fn failed(&mut self, error: sqlx::Error) -> Error {
        self.answer_lost = !matches!(error, sqlx::Error::Database(_));
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

    /// The rows of `sql`, each as the `columns` it asks for: after the writes given before it.
    pub(super) async fn fetch(
        &mut self,
        sql: String,
        binds: Vec<Bind<'_>>,
        columns: &[Column],
    ) -> Result<Vec<Vec<Cell>>> {
        match self.dialect {
            Dialect::Sqlite => self.open().await?,
            // A plain read before any write needs no transaction on PostgreSQL.
            Dialect::Postgres => self.settle().await?,
        }
        self.read(sql, binds, columns).await
    }

    /// As [`Self::fetch`], for a statement that locks rows until the transaction ends.
    pub(super) async fn fetch_locking(
        &mut self,
        sql: String,
        binds: Vec<Bind<'_>>,
        columns: &[Column],
    ) -> Result<Vec<Vec<Cell>>> {
        self.open().await?;
        self.settle().await?;
        self.read(sql, binds, columns).await
    }

    /// PostgreSQL: a statement that writes and answers rows, sent as the group's only write,
    /// outside a transaction (atomic by itself, as [`Self::commit`] sends a lone statement).
    pub(super) async fn write_and_read(
        &mut self,
        sql: String,
        binds: Vec<Bind<'_>>,
        columns: &[Column],
    ) -> Result<Vec<Vec<Cell>>> {
        if self.begun || !self.queued.is_empty() || self.dialect != Dialect::Postgres {
            return Err(Error::internal("a statement that writes and reads must be a group's first, on PostgreSQL"));
        }
        // Only PostgreSQL's own error (which `failed` notes) says that the statement failed, and
        // with it what it wrote; any other, reading the answer included, leaves it unknown.
        self.answer_lost = true;
        let rows = self.read(sql, binds, columns).await;
        self.may_have_committed = rows.is_err() && self.answer_lost;
        rows
    }

    async fn read(&mut self, sql: String, binds: Vec<Bind<'_>>, columns: &[Column]) -> Result<Vec<Vec<Cell>>> {
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

    /// A write: run now on SQLite; on PostgreSQL queued, to go with the writes around it.
    pub(super) async fn write(&mut self, sql: String, binds: Vec<Bind<'q>>) -> Result<()> {
        match &mut self.link {
            Link::Sqlite(_) => {
                self.open().await?;
                let Link::Sqlite(connection) = &mut self.link else {
                    return Err(Error::internal("the writer's connection changed"));
                };
                let write = || -> rusqlite::Result<()> {
                    let mut statement = connection.prepare_cached(&sql)?;
                    statement.execute(rusqlite::params_from_iter(binds.iter()))?;
                    Ok(())
                };
                write().map_err(sqlite_error)
            }
            Link::Pool(_) => {
                if self.queued_binds + binds.len() > MAX_POSTGRES_BINDS {
                    self.settle().await?;
                }
                self.queued_binds += binds.len();
                self.queued.push((sql, binds));
                Ok(())
            }
        }
    }

    /// Sends PostgreSQL the writes queued so far, so that what follows reads what they wrote;
    /// nothing on SQLite, where each ran when it was given. A write that follows another's
    /// statement needs the transaction, which is begun first.
    pub(super) async fn settle(&mut self) -> Result<()> {
        if self.queued.is_empty() {
            return Ok(());
        }
        self.open().await?;
        self.send_queued().await
    }

    /// Sends the queued writes as one statement.
    async fn send_queued(&mut self) -> Result<()> {
        let queued = std::mem::take(&mut self.queued);
        self.queued_binds = 0;
        let sql = one_statement(&queued);
        let binds: Vec<Bind<'q>> = queued.into_iter().flat_map(|(_, binds)| binds).collect();
        let outcome = bound(sql, &binds).execute(&mut **self.pooled()?).await;
        outcome.map(|_| ()).map_err(|error| {
            let error = self.failed(error);
            // PostgreSQL's own error means the statement failed, and with it what it wrote.
            if !self.begun && self.answer_lost {
                self.may_have_committed = true;
            }
            error
        })
    }

    pub(super) async fn commit(&mut self) -> Result<()> {
        if !self.begun {
            // On PostgreSQL, writes that are the transaction's only statement go alone: one
            // statement is atomic by itself.
            if !self.queued.is_empty() {
                self.send_queued().await?;
            }
            return Ok(());
        }
        self.settle().await?;
        if let Err(error) = self.execute_plain("COMMIT").await {
            // A `COMMIT` whose answer was lost may have committed.
            self.may_have_committed = self.answer_lost;
            return Err(error);
        }
        self.begun = false;
        Ok(())
    }

    /// Rolls back what was begun; a pool's connection on which that fails is closed rather than
    /// handed back with a transaction perhaps still open.
    pub(super) async fn rollback(&mut self) {
        self.queued.clear();
        self.queued_binds = 0;
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

/// PostgreSQL statements (each numbering its parameters from `$1`) as one, run in the order
/// given, parameters numbered on through them all in that order.
///
/// PostgreSQL runs a statement's own part first and then its data-modifying `WITH` clauses from
/// the last to the first (`ExecPostprocessPlan` runs them in the reverse of the order they were
/// set up in; its documentation calls the order unpredictable). So the first statement is the
/// main one and the rest are the `WITH` clauses in reverse: the statements then take their row
/// locks in the order they were given, as when each was sent alone, which keeps the writer's
/// lock order (tables in one order, each table's rows in key order) between concurrent groups.
/// The conformance suite checks the order through the points' insertion marks. Were it ever
/// different, concurrent groups could deadlock, which PostgreSQL detects and the writer retries.
fn one_statement(statements: &[(String, Vec<Bind<'_>>)]) -> String {
    let [(first, _), rest @ ..] = statements else { return String::new() };
    if rest.is_empty() {
        return first.clone();
    }
    let mut offsets = Vec::with_capacity(statements.len());
    let mut offset = 0;
    for (_, binds) in statements {
        offsets.push(offset);
        offset += binds.len();
    }
    let mut sql = String::with_capacity(statements.iter().map(|(text, _)| text.len() + 12).sum());
    sql.push_str("WITH ");
    for (clause, index) in (1..statements.len()).rev().enumerate() {
        if clause > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("w{clause} AS ("));
        renumbered(&mut sql, &statements[index].0, offsets[index]);
        sql.push(')');
    }
    sql.push(' ');
    renumbered(&mut sql, first, 0);
    sql
}

/// Appends `sql` with each `$N` placeholder moved on by `offset`. The writer's statements are
/// its own texts, with no `$` but in placeholders.
fn renumbered(out: &mut String, sql: &str, offset: usize) {
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(number) => out.push_str(&(number + offset).to_string()),
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_go_as_one_with_their_parameters_numbered_on() {
        let statements = vec![
            ("INSERT INTO a (x, y) VALUES ($1, $2)".to_owned(), vec![Bind::Int(1), Bind::Int(2)]),
            ("INSERT INTO b (x) SELECT * FROM unnest(CAST($1 AS TEXT)::BIGINT[])".to_owned(), vec![Bind::Int(3)]),
            ("INSERT INTO c (x, y) VALUES ($1, $2), ($3, $10)".to_owned(), vec![Bind::Int(4); 10]),
        ];
        // The first runs first, then the WITH clauses from the last: b, then c.
        assert_eq!(
            one_statement(&statements),
            "WITH w0 AS (INSERT INTO c (x, y) VALUES ($4, $5), ($6, $13)), \
             w1 AS (INSERT INTO b (x) SELECT * FROM unnest(CAST($3 AS TEXT)::BIGINT[])) \
             INSERT INTO a (x, y) VALUES ($1, $2)"
        );
        assert_eq!(one_statement(&statements[..1]), statements[0].0);
        assert_eq!(one_statement(&[]), "");
    }
}

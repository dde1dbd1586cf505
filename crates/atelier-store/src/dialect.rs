//! What every SQL module of the store shares, and nothing of the store itself: the [`Dialect`],
//! placeholders and bind parameters for statements built at run time, and the mapping of
//! database errors to the core's errors.
//!
//! A leaf module: it imports nothing from the rest of the crate, so the store (`sql.rs`), the
//! batch writer (`writer.rs`) and the search renderer (`search.rs`) can all build on it without
//! importing one another.

use atelier_core::{Error, Result};
use sqlx::any::AnyArguments;
use sqlx::{Arguments, AssertSqlSafe};

/// Which SQL dialect a store speaks; chosen once, from the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A bind parameter of a dynamically built statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bind<'a> {
    /// Borrowed where the value outlives the statement (the hot batch inserts), owned otherwise.
    Text(std::borrow::Cow<'a, str>),
    Int(i64),
    Float(f64),
    /// SQL's NULL, as text.
    Null,
}

impl<'a> Bind<'a> {
    pub(crate) fn text(value: impl Into<std::borrow::Cow<'a, str>>) -> Self {
        Bind::Text(value.into())
    }
}

/// On SQLite's own connection (the batch writer's), a text is bound as the borrowed string it is.
impl rusqlite::ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value, ValueRef};
        Ok(match self {
            Bind::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Bind::Int(number) => ToSqlOutput::Owned(Value::Integer(*number)),
            Bind::Float(number) => ToSqlOutput::Owned(Value::Real(*number)),
            Bind::Null => ToSqlOutput::Owned(Value::Null),
        })
    }
}

/// The statement `sql` with `binds` bound, in order. The arguments are gathered first, with
/// room for all of them, rather than by `Query::bind` one at a time: the batch writer binds
/// thousands of values a second, and each `bind` moves the query and may grow its buffer.
pub(crate) fn bound<'q>(sql: String, binds: &[Bind<'_>]) -> sqlx::query::Query<'q, sqlx::Any, AnyArguments> {
    let mut arguments = AnyArguments::default();
    arguments.reserve(binds.len(), 0);
    let added = binds.iter().try_for_each(|bind| match bind {
        Bind::Text(text) => arguments.add(text.as_ref()),
        Bind::Int(number) => arguments.add(*number),
        Bind::Float(number) => arguments.add(*number),
        Bind::Null => arguments.add(None::<&str>),
    });
    match added {
        Ok(()) => sqlx::query_with(AssertSqlSafe(sql), arguments),
        // Text and numbers always encode; were one ever refused, binding them one by one keeps
        // the error for the statement's execution to report.
        Err(_) => binds.iter().fold(sqlx::query(AssertSqlSafe(sql)), |query, bind| match bind {
            Bind::Text(text) => query.bind(text.to_string()),
            Bind::Int(number) => query.bind(*number),
            Bind::Float(number) => query.bind(*number),
            Bind::Null => query.bind(None::<&str>),
        }),
    }
}

/// The placeholder of the `index`-th (1-based) parameter of a statement whose parameters appear
/// in its text in bind order. SQLite gets anonymous `?`: sqlx resolves each named `$N` through
/// `sqlite3_bind_parameter_name`, which scans every named parameter, so a 6,000-parameter insert
/// spent most of its time there. PostgreSQL needs `$N`.
pub(crate) fn placeholder(dialect: Dialect, index: usize) -> String {
    let mut text = String::new();
    push_placeholder(&mut text, dialect, index);
    text
}

fn push_placeholder(text: &mut String, dialect: Dialect, index: usize) {
    match dialect {
        Dialect::Sqlite => text.push('?'),
        Dialect::Postgres => {
            use std::fmt::Write;
            let _ = write!(text, "${index}");
        }
    }
}

/// `count` placeholders, comma-separated, numbered from `first`.
pub(crate) fn placeholder_list(dialect: Dialect, first: usize, count: usize) -> String {
    let mut text = String::with_capacity(count * 4);
    push_placeholder_list(&mut text, dialect, first, count);
    text
}

fn push_placeholder_list(text: &mut String, dialect: Dialect, first: usize, count: usize) {
    for index in first..first + count {
        if index > first {
            text.push_str(", ");
        }
        push_placeholder(text, dialect, index);
    }
}

/// `rows` parenthesised tuples of `columns` placeholders each, numbered from 1, for multi-row
/// `VALUES`.
pub(crate) fn values_rows(dialect: Dialect, rows: usize, columns: usize) -> String {
    let mut text = String::with_capacity(rows * (columns * 4 + 4));
    for row in 0..rows {
        if row > 0 {
            text.push_str(", ");
        }
        text.push('(');
        push_placeholder_list(&mut text, dialect, row * columns + 1, columns);
        text.push(')');
    }
    text
}

/// Turns "no row was affected" into a not-found error with the message `missing` makes.
pub(crate) fn found(rows_affected: u64, missing: impl FnOnce() -> String) -> Result<()> {
    if rows_affected == 0 {
        return Err(Error::not_found(missing()));
    }
    Ok(())
}

/// A database error as the core's error: a unique violation is `RESOURCE_ALREADY_EXISTS`,
/// anything else an internal error (and logged).
pub(crate) fn db_error(error: sqlx::Error) -> Error {
    if let sqlx::Error::Database(database_error) = &error
        && database_error.is_unique_violation()
    {
        return Error::already_exists(format!("already exists: {}", database_error.message()));
    }
    tracing::error!(error = %error, "database error");
    Error::internal(format!("database error: {error}"))
}

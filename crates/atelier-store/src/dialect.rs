//! What every SQL module of the store shares, and nothing of the store itself: the [`Dialect`],
//! placeholders and bind parameters for statements built at run time, and the mapping of
//! database errors to the core's errors.
//!
//! A leaf module: it imports nothing from the rest of the crate, so the store (`sql.rs`), the
//! batch writer (`writer.rs`) and the search renderer (`search.rs`) can all build on it without
//! importing one another.

use atelier_core::{Error, Result};

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
}

impl<'a> Bind<'a> {
    pub(crate) fn text(value: impl Into<std::borrow::Cow<'a, str>>) -> Self {
        Bind::Text(value.into())
    }
}

/// Binds `binds` to `query`, in order.
pub(crate) fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    binds: &'q [Bind<'q>],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for bind in binds {
        query = match bind {
            Bind::Text(text) => query.bind(text.as_ref()),
            Bind::Int(number) => query.bind(*number),
            Bind::Float(number) => query.bind(*number),
        };
    }
    query
}

/// The placeholder of the `index`-th (1-based) parameter of a statement whose parameters appear
/// in its text in bind order. SQLite gets anonymous `?`: sqlx resolves each named `$N` through
/// `sqlite3_bind_parameter_name`, which scans every named parameter, so a 6,000-parameter insert
/// spent most of its time there. PostgreSQL needs `$N`.
pub(crate) fn placeholder(dialect: Dialect, index: usize) -> String {
    match dialect {
        Dialect::Sqlite => "?".to_owned(),
        Dialect::Postgres => format!("${index}"),
    }
}

/// `count` placeholders, comma-separated, numbered from `first`.
pub(crate) fn placeholder_list(dialect: Dialect, first: usize, count: usize) -> String {
    (first..first + count).map(|index| placeholder(dialect, index)).collect::<Vec<_>>().join(", ")
}

/// `rows` parenthesised tuples of `columns` placeholders each, numbered from 1, for multi-row
/// `VALUES`.
pub(crate) fn values_rows(dialect: Dialect, rows: usize, columns: usize) -> String {
    let mut text = String::with_capacity(rows * columns * 4);
    for row in 0..rows {
        if row > 0 {
            text.push_str(", ");
        }
        text.push('(');
        text.push_str(&placeholder_list(dialect, row * columns + 1, columns));
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

//! Long reads of integer rows (metric points) packed into one value, so that thousands of rows
//! cross from the database as one.
//!
//! sqlx hands SQLite's rows from its database thread to the async side one message at a time,
//! and turns each PostgreSQL row into a row of its `Any` driver, both of which cost more than
//! the scan. So the rows are aggregated in the statement: on SQLite into one JSON text; on
//! PostgreSQL into one `bytea` of each value's eight big-endian bytes (`int8send`), which
//! PostgreSQL builds in about half the time of the JSON text it built before (25,000 points:
//! 15 ms against 30 ms here) and which reads back without parsing.

use crate::dialect::{Bind, Dialect, bound, db_error};
use crate::sql::SqlStore;
use atelier_core::{Error, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A row of integers that [`packed_rows`] packs: a tuple of `i64`s.
pub(crate) trait PackedRow: serde::de::DeserializeOwned + Sized {
    /// How many integers make a row.
    const WIDTH: usize;
    /// The row from its `WIDTH` integers.
    fn from_integers(values: &[i64]) -> Self;
}

impl PackedRow for (i64, i64, i64) {
    const WIDTH: usize = 3;
    fn from_integers(values: &[i64]) -> Self {
        (values[0], values[1], values[2])
    }
}

impl PackedRow for (i64, i64, i64, i64) {
    const WIDTH: usize = 4;
    fn from_integers(values: &[i64]) -> Self {
        (values[0], values[1], values[2], values[3])
    }
}

/// A `SELECT` of one value, named `packed`, that packs the rows of `inner` (a `SELECT` whose
/// output has the integer `columns`, ending in `ORDER BY <order>`) in that order; NULL when
/// there are none. Read it back with [`unpack_rows`]. The columns must not be NULL: on
/// PostgreSQL a row with a NULL would be left out of the aggregate without a word.
pub(crate) fn packed_rows(dialect: Dialect, inner: &str, columns: &[&str], order: &str) -> String {
    match dialect {
        // SQLite aggregates the rows of an ordered subquery in its order (the ordering test of
        // the conformance suite holds it to that); an ORDER BY inside the aggregate would sort
        // them a second time.
        Dialect::Sqlite => {
            let array = columns.join(", ");
            format!("SELECT json_group_array(json_array({array})) AS packed FROM ({inner}) AS packed_rows")
        }
        // PostgreSQL promises an aggregate's order only with its own ORDER BY; rows that come
        // in that order already (the index's) sort in a fraction of the aggregate's time.
        Dialect::Postgres => {
            let bytes = columns.iter().map(|column| format!("int8send({column})")).collect::<Vec<_>>().join(" || ");
            format!("SELECT string_agg({bytes}, ''::bytea ORDER BY {order}) AS packed FROM ({inner}) AS packed_rows")
        }
    }
}

/// The rows packed in `row`'s `column` by [`packed_rows`], in their order.
pub(crate) fn unpack_rows<T: PackedRow>(dialect: Dialect, row: &AnyRow, column: &str) -> Result<Vec<T>> {
    let failed = |what: String| Error::internal(format!("unpacking rows failed: {what}"));
    match dialect {
        Dialect::Sqlite => match row.try_get::<Option<String>, _>(column).map_err(db_error)? {
            None => Ok(Vec::new()),
            Some(text) => serde_json::from_str(&text).map_err(|error| failed(error.to_string())),
        },
        Dialect::Postgres => {
            let Some(bytes) = row.try_get::<Option<Vec<u8>>, _>(column).map_err(db_error)? else {
                return Ok(Vec::new());
            };
            let width = T::WIDTH * 8;
            if bytes.len() % width != 0 {
                return Err(failed(format!("{} bytes are not rows of {width}", bytes.len())));
            }
            let mut values = vec![0_i64; T::WIDTH];
            Ok(bytes
                .chunks_exact(width)
                .map(|packed| {
                    for (value, eight) in values.iter_mut().zip(packed.chunks_exact(8)) {
                        let mut array = [0_u8; 8];
                        array.copy_from_slice(eight);
                        *value = i64::from_be_bytes(array);
                    }
                    T::from_integers(&values)
                })
                .collect())
        }
    }
}

impl SqlStore {
    /// The rows of `inner` (as [`packed_rows`] takes it), read through one packed value.
    pub(crate) async fn fetch_packed<T: PackedRow>(
        &self,
        inner: &str,
        columns: &[&str],
        order: &str,
        binds: &[Bind<'_>],
    ) -> Result<Vec<T>> {
        let dialect = self.dialect();
        let row =
            bound(packed_rows(dialect, inner, columns, order), binds).fetch_one(&self.read).await.map_err(db_error)?;
        unpack_rows(dialect, &row, "packed")
    }
}

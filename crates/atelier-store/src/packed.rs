//! Long reads of metric points packed into one value, so that thousands of rows cross from the
//! database as one.
//!
//! sqlx hands SQLite's rows from its database thread to the async side one message at a time,
//! and turns each PostgreSQL row into a row of its `Any` driver, both of which cost more than
//! the scan. So the rows are aggregated in the statement: on SQLite into one JSON text; on
//! PostgreSQL into one `bytea` of each value's eight big-endian bytes (`int8send`),
//! which PostgreSQL builds in about half the time of the JSON text it built before and which
//! reads back without parsing.
//!
//! The aggregates take no `ORDER BY`: on PostgreSQL one sorts every page again, which took
//! 40 % of a 25,000-point page's statement (13 ms of 32 here) for rows the index already gives
//! in order. Neither database promises to aggregate a subquery's rows in the subquery's order,
//! so the points carry their insertion mark and are put in series order (step, time, mark)
//! after unpacking: a sort that finds them in order costs one pass.

use crate::dialect::{Bind, Dialect, bound, db_error};
use crate::sql::SqlStore;
use atelier_core::{Error, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A metric point as read: `(mark, step, timestamp, value bits)`, the mark being its `id`.
pub(crate) type PointRow = (i64, i64, i64, i64);

/// The columns a points subquery selects, in [`PointRow`]'s order.
const COLUMNS: [&str; 4] = ["id", "step", "timestamp", "value_bits"];

/// A `SELECT` of one value, named `packed`, that packs the points of `inner` (a `SELECT` of
/// `id, step, timestamp, value_bits`, none NULL, that may end in `ORDER BY` and `LIMIT`); NULL
/// when there are none. Read it back with [`unpack_points`].
pub(crate) fn packed_points(dialect: Dialect, inner: &str) -> String {
    match dialect {
        Dialect::Sqlite => {
            let array = COLUMNS.join(", ");
            format!("SELECT json_group_array(json_array({array})) AS packed FROM ({inner}) AS packed_rows")
        }
        Dialect::Postgres => {
            let bytes = COLUMNS.iter().map(|column| format!("int8send({column})")).collect::<Vec<_>>().join(" || ");
            format!("SELECT string_agg({bytes}, ''::bytea) AS packed FROM ({inner}) AS packed_rows")
        }
    }
}

/// The points packed in `row`'s `column` by [`packed_points`], in series order: step, then
/// time, then mark.
pub(crate) fn unpack_points(dialect: Dialect, row: &AnyRow, column: &str) -> Result<Vec<PointRow>> {
    let packed = match dialect {
        Dialect::Sqlite => row.try_get::<Option<String>, _>(column).map_err(db_error)?.map(Packed::Json),
        Dialect::Postgres => row.try_get::<Option<Vec<u8>>, _>(column).map_err(db_error)?.map(Packed::Bytes),
    };
    packed.map_or(Ok(Vec::new()), points_of)
}

/// A packed value as read: SQLite's JSON text or PostgreSQL's bytes.
enum Packed {
    Json(String),
    Bytes(Vec<u8>),
}

/// The points of a packed value, in series order.
fn points_of(packed: Packed) -> Result<Vec<PointRow>> {
    let failed = |what: String| Error::internal(format!("unpacking metric points failed: {what}"));
    let mut points: Vec<PointRow> = match packed {
        Packed::Json(text) => serde_json::from_str(&text).map_err(|error| failed(error.to_string()))?,
        Packed::Bytes(bytes) => {
            let width = COLUMNS.len() * 8;
            if bytes.len() % width != 0 {
                return Err(failed(format!("{} bytes are not points of {width}", bytes.len())));
            }
            let mut values = [0_i64; COLUMNS.len()];
            bytes
                .chunks_exact(width)
                .map(|packed| {
                    for (value, eight) in values.iter_mut().zip(packed.chunks_exact(8)) {
                        let mut array = [0_u8; 8];
                        array.copy_from_slice(eight);
                        *value = i64::from_be_bytes(array);
                    }
                    (values[0], values[1], values[2], values[3])
                })
                .collect()
        }
    };
    points.sort_by_key(|&(mark, step, timestamp, _)| (step, timestamp, mark));
    Ok(points)
}

impl SqlStore {
    /// The points of `inner` (as [`packed_points`] takes it), read through one packed value.
    pub(crate) async fn fetch_points(&self, inner: &str, binds: &[Bind<'_>]) -> Result<Vec<PointRow>> {
        let dialect = self.dialect();
        let row = bound(packed_points(dialect, inner), binds).fetch_one(&self.read).await.map_err(db_error)?;
        unpack_points(dialect, &row, "packed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points as a database may aggregate them: not in series order (a later mark at an
    /// earlier step, equal steps and times told apart by the mark).
    const AGGREGATED: [PointRow; 5] = [(9, 2, 10, 7), (3, 1, 20, 5), (4, 1, 10, -1), (2, 1, 10, 0), (8, -5, 0, 1)];
    const IN_ORDER: [PointRow; 5] = [(8, -5, 0, 1), (2, 1, 10, 0), (4, 1, 10, -1), (3, 1, 20, 5), (9, 2, 10, 7)];

    #[test]
    fn bytes_are_read_back_in_series_order() {
        let bytes: Vec<u8> = AGGREGATED
            .iter()
            .flat_map(|&(mark, step, timestamp, bits)| [mark, step, timestamp, bits])
            .flat_map(i64::to_be_bytes)
            .collect();
        assert_eq!(points_of(Packed::Bytes(bytes.clone())).unwrap(), IN_ORDER);
        let error = points_of(Packed::Bytes(bytes[..bytes.len() - 8].to_vec())).unwrap_err();
        assert!(error.to_string().contains("are not points of 32"), "{error}");
    }

    #[test]
    fn json_is_read_back_in_series_order() {
        let json = serde_json::to_string(&AGGREGATED).unwrap();
        assert_eq!(points_of(Packed::Json(json)).unwrap(), IN_ORDER);
    }
}

//! Long reads of metric points on SQLite: a metric's history and the pages the series
//! summaries are built from. sqlx hands each row from its database thread to the async side
//! as a message, and packing the rows into one JSON text instead (`fetch_points`) costs more
//! than the scan itself: turning 100,000 points into text and back took about twice the
//! scan's time. These reads run on connections of their own, opened read-only on a blocking
//! thread, with each column read as the integer it is.
//!
//! A connection sees the database as the pool's readers do (WAL: every commit before the
//! read's start), and each read is one snapshot.

use crate::SeriesCursor;
use crate::SeriesRead;
use atelier_core::series::Sample;
use atelier_core::{Error, Result};
use rusqlite::{Connection, OpenFlags, params};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Connections kept open between reads; more are opened while more reads run at once.
const KEPT: usize = 2;

/// Opens, keeps and lends the read-only connections.
#[derive(Debug, Clone)]
pub(crate) struct PointReader {
    path: PathBuf,
    idle: Arc<Mutex<Vec<Connection>>>,
}

fn read_error(error: rusqlite::Error) -> Error {
    Error::internal(format!("reading metric points failed: {error}"))
}

impl PointReader {
    /// For the database file at `path` (which the writer has already created).
    pub(crate) fn new(path: PathBuf) -> Self {
        PointReader { path, idle: Arc::new(Mutex::new(Vec::new())) }
    }

    /// Runs `read` on a connection, on a blocking thread.
    async fn with_connection<T: Send + 'static>(
        &self,
        read: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T> {
        let reader = self.clone();
        let done = tokio::task::spawn_blocking(move || {
            let kept = reader.idle.lock().ok().and_then(|mut idle| idle.pop());
            let mut connection = match kept {
                Some(connection) => connection,
                None => reader.open()?,
            };
            let answer = read(&mut connection);
            if answer.is_ok()
                && let Ok(mut idle) = reader.idle.lock()
                && idle.len() < KEPT
            {
                idle.push(connection);
            }
            answer
        })
        .await
        .map_err(|error| Error::internal(format!("reading metric points failed: {error}")))?;
        done.map_err(read_error)
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(&self.path, flags)?;
        // As the pool's connections: a bounded page cache, no memory map, and a wait (never a
        // failure) while a checkpoint holds the file.
        connection.execute_batch("PRAGMA busy_timeout = 30000; PRAGMA cache_size = -8192; PRAGMA mmap_size = 0;")?;
        Ok(connection)
    }

    /// Points `offset..offset + limit` of the series, as `(step, timestamp, value bits)`, in
    /// step order, then time, then insertion.
    pub(crate) async fn history(
        &self,
        run_id: String,
        key: String,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<(i64, i64, i64)>> {
        self.with_connection(move |connection| {
            let mut statement = connection.prepare(
                "SELECT step, timestamp, value_bits FROM metric_points WHERE series_id = (SELECT series_id \
                 FROM metric_series WHERE run_uuid = ?1 AND key = ?2) ORDER BY step, timestamp, id LIMIT ?3 OFFSET ?4",
            )?;
            let rows = statement.query_map(params![run_id, key, limit, offset], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
            })?;
            rows.collect()
        })
        .await
    }

    /// As `TrackingStore::metric_points_after`: the series' count and up to `limit` points
    /// written after mark `after`, from after `from` in the series' order, in one snapshot.
    pub(crate) async fn points_after(
        &self,
        run_id: String,
        key: String,
        after: i64,
        from: Option<SeriesCursor>,
        limit: i64,
    ) -> Result<SeriesRead> {
        let (step, timestamp, id) = from.unwrap_or((i64::MIN, i64::MIN, i64::MIN));
        self.with_connection(move |connection| {
            let snapshot = connection.transaction()?;
            let total: Option<i64> = snapshot
                .query_row(
                    "SELECT points FROM latest_metrics WHERE run_uuid = ?1 AND key = ?2",
                    params![run_id, key],
                    |row| row.get(0),
                )
                .map(Some)
                .or_else(|error| match error {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    other => Err(other),
                })?;
            // A condition that holds for every row is left out: checking it on each row of a
            // long series costs a third of the scan.
            let mut sql = "SELECT id, step, timestamp, value_bits FROM metric_points \
                           WHERE series_id = (SELECT series_id FROM metric_series WHERE run_uuid = ?1 AND key = ?2)"
                .to_owned();
            if after > 0 {
                sql.push_str(" AND id > ?3");
            }
            if from.is_some() {
                sql.push_str(" AND (step, timestamp, id) > (?4, ?5, ?6)");
            }
            sql.push_str(" ORDER BY step, timestamp, id LIMIT ?7");
            let rows: Vec<(i64, i64, i64, i64)> = {
                let mut statement = snapshot.prepare(&sql)?;
                // Numbered parameters: the statement has seven slots whichever of them it uses.
                statement.raw_bind_parameter(1, &run_id)?;
                statement.raw_bind_parameter(2, &key)?;
                for (index, value) in [(3, after), (4, step), (5, timestamp), (6, id), (7, limit)] {
                    statement.raw_bind_parameter(index, value)?;
                }
                let mut rows = statement.raw_query();
                let mut read = Vec::new();
                while let Some(row) = rows.next()? {
                    read.push((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?));
                }
                read
            };
            snapshot.finish()?;
            Ok(series_read(total.unwrap_or(0), rows, limit))
        })
        .await
    }
}

/// A page of `(mark, step, timestamp, value bits)` rows of at most `limit`, as a [`SeriesRead`].
pub(crate) fn series_read(total: i64, rows: Vec<(i64, i64, i64, i64)>, limit: i64) -> SeriesRead {
    let next =
        rows.last().filter(|_| rows.len() as i64 >= limit).map(|(id, step, timestamp, _)| (*step, *timestamp, *id));
    SeriesRead {
        total,
        last_mark: rows.iter().map(|row| row.0).max().unwrap_or(0),
        samples: rows
            .into_iter()
            .map(|(_, step, timestamp, bits)| Sample { step, timestamp, value: f64::from_bits(bits as u64) })
            .collect(),
        next,
    }
}

//! PostgreSQL's one round trip for the common group: metrics and tags logged to active runs,
//! to series that exist.
//!
//! The writer's usual way reads the runs and series first, checks every request and then sends
//! the writes: two round trips at least, each costing both processes more than a small
//! statement's own work. Most groups pass every check, though: the runs are active and in the
//! workspaces asked for, and the series were created by an earlier log. For a group that logs
//! no params and renames no run, the writer first sends one statement that does the checks
//! itself and writes only if every request passes them: the writes' `WITH` clauses all hold
//! `WHERE (SELECT ok FROM ok)`, where `ok` says that every (run, workspace) the group names is
//! an active run there and every (run, key) it logs to has its series. The statement answers
//! `ok`. When it is false nothing was written, and the writer goes the usual way, which refuses
//! the requests that fail and creates new series (so a run's first log of a key costs one more
//! round trip).
//!
//! The checks read the statement's snapshot, as the usual way's read does; the writes lock in
//! the usual order (tags, then points, then latest values, then the audit log: PostgreSQL runs
//! the unread data-modifying clauses from the last to the first, see
//! `transaction::one_statement`), each table's rows in key order.

use super::transaction::{Cell, Column, GroupTransaction, MAX_POSTGRES_BINDS};
use super::{Job, LATEST_COLUMNS, LATEST_UPSERT, latest_candidates, point_arrays, push_metric_binds, tags_to_write};
use crate::audit::{COLUMNS as AUDIT_COLUMNS, record_binds};
use crate::dialect::Bind;
use atelier_core::model::{Metric, RunId};
use atelier_core::{Error, Result};
use std::collections::HashMap;
use std::fmt::Write;

/// Whether a group may try [`write`]: on PostgreSQL, no params (whose check compares values
/// with the stored ones, request by request) and no rename.
pub(super) fn fits(jobs: &[Job]) -> bool {
    jobs.iter().all(|job| job.batch.params.is_empty() && job.batch.new_run_name.is_none())
}

/// A statement's text and its parameters, numbered as they are added.
struct Statement<'q> {
    sql: String,
    binds: Vec<Bind<'q>>,
}

impl<'q> Statement<'q> {
    /// Appends a parenthesised row of placeholders for `values`.
    fn row(&mut self, values: impl IntoIterator<Item = Bind<'q>>) {
        self.sql.push('(');
        for (index, value) in values.into_iter().enumerate() {
            if index > 0 {
                self.sql.push_str(", ");
            }
            self.binds.push(value);
            let _ = write!(self.sql, "${}", self.binds.len());
        }
        self.sql.push(')');
    }

    /// Appends `VALUES` and the rows.
    fn values<I: IntoIterator<Item = Bind<'q>>>(&mut self, rows: impl IntoIterator<Item = I>) {
        self.sql.push_str("VALUES ");
        for (index, row) in rows.into_iter().enumerate() {
            if index > 0 {
                self.sql.push_str(", ");
            }
            self.row(row);
        }
    }

    fn push(&mut self, text: &str) {
        self.sql.push_str(text);
    }
}

/// Writes the group in one statement if every request passes its checks and every series
/// exists; returns whether it did (when not, nothing was written). Also `false` for a group
/// too large for one statement's parameters.
pub(super) async fn write<'a>(transaction: &mut GroupTransaction<'_, 'a>, jobs: &'a [Job]) -> Result<bool> {
    let mut claims: Vec<(&str, &str)> = jobs.iter().map(|job| (job.run_id.as_str(), job.workspace.as_str())).collect();
    claims.sort_unstable();
    claims.dedup();
    let all: Vec<&Job> = jobs.iter().collect();
    let tags = tags_to_write(&all);
    let metrics: Vec<(&RunId, &Metric)> =
        jobs.iter().flat_map(|job| job.batch.metrics.iter().map(move |metric| (&job.run_id, metric))).collect();
    let latest = latest_candidates(&metrics);
    let records: Vec<_> = jobs.iter().filter_map(|job| job.audit.as_ref().map(|(_, record)| &**record)).collect();
    let binds = 2 * claims.len() + 9 * latest.len() + 4 + 3 * tags.len() + crate::audit::COLUMN_COUNT * records.len();
    if binds > MAX_POSTGRES_BINDS {
        return Ok(false);
    }

    let mut statement = Statement { sql: String::with_capacity(2_048 + binds * 6), binds: Vec::with_capacity(binds) };
    statement.push("WITH j (run_uuid, workspace) AS (");
    statement.values(claims.iter().map(|(run, workspace)| [Bind::text(*run), Bind::text(*workspace)]));
    if !latest.is_empty() {
        // The series logged to, numbered in key order; a point names its series by number.
        statement.push("), k (i, run_uuid, key, step, timestamp, value, is_nan, value_bits, points) AS (");
        statement.values(latest.iter().enumerate().map(|(index, (run_id, metric, points))| {
            let mut row = Vec::with_capacity(9);
            row.push(Bind::Int(index as i64));
            push_metric_binds(&mut row, run_id, metric);
            row.push(Bind::Int(*points));
            row
        }));
        statement.push(
            "), s AS (SELECT k.i, m.series_id FROM k JOIN metric_series m \
             ON m.run_uuid = k.run_uuid AND m.key = k.key",
        );
    }
    let _ = write!(
        statement.sql,
        "), ok AS (SELECT (SELECT count(*) FROM j JOIN runs r ON r.run_uuid = j.run_uuid \
         AND r.workspace = j.workspace AND r.lifecycle_stage = 'active') = {}",
        claims.len()
    );
    if !latest.is_empty() {
        let _ = write!(statement.sql, " AND (SELECT count(*) FROM s) = {}", latest.len());
    }
    statement.push(" AS ok)");
    if !records.is_empty() {
        let _ = write!(statement.sql, ", w_audit AS (INSERT INTO audit_log ({AUDIT_COLUMNS}) SELECT * FROM (");
        statement.values(records.iter().map(|record| record_binds(record)));
        statement.push(") AS v WHERE (SELECT ok FROM ok))");
    }
    if !latest.is_empty() {
        let _ = write!(
            statement.sql,
            ", w_latest AS (INSERT INTO latest_metrics ({LATEST_COLUMNS}) \
             SELECT k.run_uuid, k.key, k.step, k.timestamp, k.value, k.is_nan, k.value_bits, k.points, \
             r.workspace, r.experiment_id FROM k JOIN runs r ON r.run_uuid = k.run_uuid \
             WHERE (SELECT ok FROM ok){} {LATEST_UPSERT})",
            in_order(latest.len(), "k.i")
        );
        // The points as four arrays (as the usual way's known series), in the order they came.
        let numbers: HashMap<(&str, &str), usize> = latest
            .iter()
            .enumerate()
            .map(|(index, (run_id, metric, _))| ((run_id.as_str(), metric.key.as_str()), index))
            .collect();
        let mut points = Vec::with_capacity(metrics.len());
        for (run_id, metric) in &metrics {
            let series = numbers
                .get(&(run_id.as_str(), metric.key.as_str()))
                .ok_or_else(|| Error::internal("a point's series has no number"))?;
            points.push((*series as i64, *metric));
        }
        let columns = point_arrays(points.into_iter());
        statement.push(
            ", w_points AS (INSERT INTO metric_points (series_id, step, timestamp, value_bits) \
             SELECT s.series_id, p.step, p.timestamp, p.value_bits FROM unnest(",
        );
        for (index, column) in columns.into_iter().enumerate() {
            statement.binds.push(Bind::text(column));
            let _ = write!(
                statement.sql,
                "{}CAST(${} AS TEXT)::BIGINT[]",
                if index > 0 { ", " } else { "" },
                statement.binds.len()
            );
        }
        let _ = write!(
            statement.sql,
            ") WITH ORDINALITY AS p (i, step, timestamp, value_bits, n) JOIN s ON s.i = p.i \
             WHERE (SELECT ok FROM ok){})",
            in_order(metrics.len(), "p.n")
        );
    }
    if !tags.is_empty() {
        // In byte order, as the usual way's sorted rows (the database's collation may differ).
        statement.push(", w_tags AS (INSERT INTO tags (run_uuid, key, value) SELECT * FROM (");
        statement.values(tags.iter().map(|(run, key, value)| [*run, *key, *value].map(Bind::text)));
        let _ = write!(
            statement.sql,
            ") AS v (run_uuid, key, value) WHERE (SELECT ok FROM ok){} \
             ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value)",
            in_order(tags.len(), "v.run_uuid COLLATE \"C\", v.key COLLATE \"C\"")
        );
    }
    statement.push(" SELECT CASE WHEN ok THEN 1 ELSE 0 END FROM ok");
    let rows = transaction.write_and_read(statement.sql, statement.binds, &[Column::Int]).await?;
    match rows.first().map(|row| row.first()) {
        Some(Some(Cell::Int(written))) => Ok(*written == 1),
        _ => Err(Error::internal("the writer's checked write answered no row")),
    }
}

/// The `ORDER BY` that makes an insert of `rows` rows take its locks in one order, or nothing for
/// one row: a sort is a plan node PostgreSQL sets up at every execution, about 6 % of its CPU for
/// a lone `log_metric`.
fn in_order(rows: usize, order: &str) -> String {
    if rows > 1 { format!(" ORDER BY {order}") } else { String::new() }
}

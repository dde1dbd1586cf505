//! The batch writer: one task takes every `log_batch` and writes the requests that arrived
//! together in one transaction.
//!
//! Logging is the hot path of a tracking server: many clients each send small batches. Writing
//! each request in its own transaction costs a handful of statement round trips per request on
//! SQLite's single writer connection. The writer drains what is waiting, checks every request
//! against the state (its run exists in its workspace and is active; its params do not change a
//! value, counting the requests before it in the group), and writes the accepted ones with one
//! multi-row insert per table. A request that fails its checks gets its own error and writes
//! nothing; the others in the group are unaffected. If the group's transaction fails as a whole
//! (a database error), every request is retried alone, so one request cannot fail another.

use crate::Batch;
use crate::audit::AuditContext;
use crate::dialect::{Bind, Dialect, bound, db_error, placeholder_list, values_rows};
use atelier_core::audit::AuditRecord;
use atelier_core::model::{LifecycleStage, Metric, RunId};
use atelier_core::names::WorkspaceName;
use atelier_core::{Error, Result};
use sqlx::{AnyPool, Row};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The most requests written in one transaction.
const MAX_GROUP_REQUESTS: usize = 64;
/// A group stops growing once it holds this many metrics.
const MAX_GROUP_METRICS: usize = 20_000;
/// Rows per multi-row insert of metrics: 7 parameters a row stays under SQLite's 32,766.
const MAX_ROWS_PER_INSERT: usize = 4_000;
/// Rows per upsert of latest metrics, which take 10 parameters a row.
const MAX_LATEST_PER_UPSERT: usize = 3_000;
/// Requests waiting for the writer; senders wait when it is full.
const QUEUE_CAPACITY: usize = 1_024;

struct Job {
    workspace: WorkspaceName,
    run_id: RunId,
    batch: Batch,
    /// The request's audit record, written with its batch (see [`crate::audit`]).
    audit: Option<(Arc<AuditContext>, Arc<AuditRecord>)>,
    reply: oneshot::Sender<Result<()>>,
}

#[derive(Clone)]
pub(crate) struct BatchWriter {
    sender: mpsc::Sender<Job>,
}

impl BatchWriter {
    /// Starts the writer task on the current tokio runtime.
    pub(crate) fn start(pool: AnyPool, dialect: Dialect) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(run(pool, dialect, receiver));
        BatchWriter { sender }
    }

    /// Writes one request's batch; returns when it is committed (or refused).
    pub(crate) async fn submit(&self, workspace: &WorkspaceName, run_id: &RunId, batch: Batch) -> Result<()> {
        let (reply, outcome) = oneshot::channel();
        let audit = crate::audit::take_for_commit();
        let context = audit.as_ref().map(|(context, _)| context.clone());
        let job = Job { workspace: workspace.clone(), run_id: run_id.clone(), batch, audit, reply };
        let result = match self.sender.send(job).await {
            Ok(()) => outcome.await.unwrap_or_else(|_| Err(Error::internal("the metadata store's writer stopped"))),
            Err(_) => Err(Error::internal("the metadata store is shutting down")),
        };
        // A batch that was not written leaves its record to be written after the answer.
        if result.is_err()
            && let Some(context) = context
        {
            crate::audit::give_back(&context);
        }
        result
    }
}

async fn run(pool: AnyPool, dialect: Dialect, mut receiver: mpsc::Receiver<Job>) {
    while let Some(first) = receiver.recv().await {
        let mut metrics = first.batch.metrics.len();
        let mut group = vec![first];
        while group.len() < MAX_GROUP_REQUESTS && metrics < MAX_GROUP_METRICS {
            match receiver.try_recv() {
                Ok(job) => {
                    metrics += job.batch.metrics.len();
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        match write_group(&pool, dialect, &group).await {
            Ok(outcomes) => {
                for (job, outcome) in group.into_iter().zip(outcomes) {
                    let _ = job.reply.send(outcome);
                }
            }
            Err(error) if group.len() == 1 => {
                for job in group {
                    let _ = job.reply.send(Err(error.clone()));
                }
            }
            Err(error) => {
                tracing::warn!(requests = group.len(), %error, "a grouped write failed; writing its requests one by one");
                for job in group {
                    let outcome = match write_group(&pool, dialect, std::slice::from_ref(&job)).await {
                        Ok(mut outcomes) => outcomes.pop().unwrap_or(Ok(())),
                        Err(error) => Err(error),
                    };
                    let _ = job.reply.send(outcome);
                }
            }
        }
    }
}

/// A run as the checks need it.
struct RunState {
    workspace: String,
    experiment_id: i64,
    stage: String,
}

/// Checks every request of the group and writes the accepted ones in one transaction. Returns
/// each request's outcome; an `Err` of the whole means nothing was written.
async fn write_group(pool: &AnyPool, dialect: Dialect, jobs: &[Job]) -> Result<Vec<Result<()>>> {
    let mut transaction = pool.begin().await.map_err(db_error)?;

    let mut run_ids: Vec<&str> = jobs.iter().map(|job| job.run_id.as_str()).collect();
    run_ids.sort_unstable();
    run_ids.dedup();
    let sql = format!(
        "SELECT run_uuid, workspace, experiment_id, lifecycle_stage FROM runs WHERE run_uuid IN ({})",
        placeholder_list(dialect, 1, run_ids.len())
    );
    let binds: Vec<Bind> = run_ids.iter().map(|id| Bind::text((*id).to_owned())).collect();
    let mut runs: HashMap<String, RunState> = HashMap::new();
    for row in bound(sql, &binds).fetch_all(&mut *transaction).await.map_err(db_error)? {
        runs.insert(
            row.try_get("run_uuid").map_err(db_error)?,
            RunState {
                workspace: row.try_get("workspace").map_err(db_error)?,
                experiment_id: row.try_get("experiment_id").map_err(db_error)?,
                stage: row.try_get("lifecycle_stage").map_err(db_error)?,
            },
        );
    }

    // Params already stored for the keys this group logs.
    let mut known_params: HashMap<(String, String), String> = HashMap::new();
    let mut param_keys: Vec<&str> =
        jobs.iter().flat_map(|job| job.batch.params.iter().map(|param| param.key.as_str())).collect();
    if !param_keys.is_empty() {
        param_keys.sort_unstable();
        param_keys.dedup();
        let sql = format!(
            "SELECT run_uuid, key, value FROM params WHERE run_uuid IN ({}) AND key IN ({})",
            placeholder_list(dialect, 1, run_ids.len()),
            placeholder_list(dialect, run_ids.len() + 1, param_keys.len())
        );
        let binds: Vec<Bind> = run_ids.iter().chain(param_keys.iter()).map(|text| Bind::text(*text)).collect();
        for row in bound(sql, &binds).fetch_all(&mut *transaction).await.map_err(db_error)? {
            known_params.insert(
                (row.try_get("run_uuid").map_err(db_error)?, row.try_get("key").map_err(db_error)?),
                row.try_get("value").map_err(db_error)?,
            );
        }
    }

    let mut outcomes = Vec::with_capacity(jobs.len());
    let mut accepted: Vec<&Job> = Vec::with_capacity(jobs.len());
    for job in jobs {
        match check(job, &runs, &known_params) {
            Ok(()) => {
                for param in &job.batch.params {
                    known_params.insert((job.run_id.to_string(), param.key.clone()), param.value.clone());
                }
                accepted.push(job);
                outcomes.push(Ok(()));
            }
            Err(error) => outcomes.push(Err(error)),
        }
    }
    if accepted.is_empty() {
        return Ok(outcomes);
    }

    // Params: the first value of a key wins (later ones are equal, or were refused above).
    let mut params: Vec<(&str, &str, &str)> = Vec::new();
    let mut seen: HashMap<(&str, &str), ()> = HashMap::new();
    for job in &accepted {
        for param in &job.batch.params {
            if seen.insert((job.run_id.as_str(), param.key.as_str()), ()).is_none() {
                params.push((job.run_id.as_str(), &param.key, &param.value));
            }
        }
    }
    insert_key_values(&mut transaction, dialect, "INSERT INTO params", &params, "DO NOTHING").await?;

    // Tags: the last value of a key wins, as if the requests had been written one by one.
    let mut tag_positions: HashMap<(&str, &str), usize> = HashMap::new();
    let mut tags: Vec<(&str, &str, &str)> = Vec::new();
    for job in &accepted {
        for tag in &job.batch.tags {
            let key = (job.run_id.as_str(), tag.key.as_str());
            match tag_positions.get(&key) {
                Some(position) => tags[*position].2 = &tag.value,
                None => {
                    tag_positions.insert(key, tags.len());
                    tags.push((job.run_id.as_str(), &tag.key, &tag.value));
                }
            }
        }
    }
    insert_key_values(&mut transaction, dialect, "INSERT INTO tags", &tags, "DO UPDATE SET value = excluded.value")
        .await?;

    for job in &accepted {
        if let Some(name) = &job.batch.new_run_name {
            sqlx::query("UPDATE runs SET name = $2 WHERE run_uuid = $1")
                .bind(job.run_id.as_str())
                .bind(name.as_str())
                .execute(&mut *transaction)
                .await
                .map_err(db_error)?;
        }
    }

    // The requests' audit records go with their changes. On SQLite they ride in the query string
    // of the first metrics insert (its placeholders are anonymous, so the binds simply follow):
    // one statement less to hand to SQLite's worker thread, which is most of a record's cost.
    let mut records: Vec<&AuditRecord> =
        accepted.iter().filter_map(|job| job.audit.as_ref().map(|(_, record)| &**record)).collect();
    let metrics: Vec<(&RunId, &Metric)> =
        accepted.iter().flat_map(|job| job.batch.metrics.iter().map(move |metric| (&job.run_id, metric))).collect();
    for chunk in metrics.chunks(MAX_ROWS_PER_INSERT) {
        let mut sql = format!(
            "INSERT INTO metrics (run_uuid, key, step, timestamp, value, is_nan, value_bits) VALUES {}",
            values_rows(dialect, chunk.len(), 7)
        );
        let mut binds = Vec::with_capacity(chunk.len() * 7);
        for (run_id, metric) in chunk {
            push_metric_binds(&mut binds, run_id, metric);
        }
        if dialect == Dialect::Sqlite && !records.is_empty() {
            let (audit_sql, audit_binds) = crate::audit::append_statement(dialect, &records);
            sql.push_str("; ");
            sql.push_str(&audit_sql);
            binds.extend(audit_binds);
            records.clear();
        }
        bound(sql, &binds).execute(&mut *transaction).await.map_err(db_error)?;
    }

    // One candidate per (run, key): the highest step, then timestamp, then value, so that the
    // upsert touches each row once; with it, how many points the batch adds to that series.
    let mut latest_positions: HashMap<(&str, &str), usize> = HashMap::new();
    let mut latest: Vec<(&RunId, &Metric, i64)> = Vec::new();
    for (run_id, metric) in &metrics {
        let key = (run_id.as_str(), metric.key.as_str());
        match latest_positions.get(&key) {
            Some(position) => {
                let candidate = &mut latest[*position];
                candidate.2 += 1;
                if metric_is_later(metric, candidate.1) {
                    candidate.1 = metric;
                }
            }
            None => {
                latest_positions.insert(key, latest.len());
                latest.push((run_id, metric, 1));
            }
        }
    }
    // The point count always grows; the latest value changes only for a later point. (Every
    // SET expression reads the row as it was before the update.)
    const LATER: &str = "(excluded.step > latest_metrics.step \
        OR (excluded.step = latest_metrics.step AND excluded.timestamp > latest_metrics.timestamp) \
        OR (excluded.step = latest_metrics.step AND excluded.timestamp = latest_metrics.timestamp \
            AND excluded.value > latest_metrics.value))";
    for chunk in latest.chunks(MAX_LATEST_PER_UPSERT) {
        let sql = format!(
            "INSERT INTO latest_metrics (run_uuid, key, step, timestamp, value, is_nan, value_bits, points, \
             workspace, experiment_id) VALUES {} \
             ON CONFLICT (run_uuid, key) DO UPDATE SET points = latest_metrics.points + excluded.points, \
             step = CASE WHEN {LATER} THEN excluded.step ELSE latest_metrics.step END, \
             timestamp = CASE WHEN {LATER} THEN excluded.timestamp ELSE latest_metrics.timestamp END, \
             value = CASE WHEN {LATER} THEN excluded.value ELSE latest_metrics.value END, \
             is_nan = CASE WHEN {LATER} THEN excluded.is_nan ELSE latest_metrics.is_nan END, \
             value_bits = CASE WHEN {LATER} THEN excluded.value_bits ELSE latest_metrics.value_bits END",
            values_rows(dialect, chunk.len(), 10)
        );
        let mut binds = Vec::with_capacity(chunk.len() * 10);
        for (run_id, metric, points) in chunk {
            // Every accepted request's run was read above.
            let run = runs.get(run_id.as_str()).ok_or_else(|| Error::internal(format!("run {run_id} was not read")))?;
            push_metric_binds(&mut binds, run_id, metric);
            binds.push(Bind::Int(*points));
            binds.push(Bind::text(run.workspace.as_str()));
            binds.push(Bind::Int(run.experiment_id));
        }
        bound(sql, &binds).execute(&mut *transaction).await.map_err(db_error)?;
    }

    crate::audit::append(&mut transaction, dialect, &records).await?;

    transaction.commit().await.map_err(db_error)?;
    Ok(outcomes)
}

/// Inserts `(run_uuid, key, value)` rows into a run's key/value table (`insert` names it; both
/// callers pass constants) in chunks, resolving conflicts on `(run_uuid, key)` with `on_conflict`.
async fn insert_key_values(
    connection: &mut sqlx::AnyConnection,
    dialect: Dialect,
    insert: &'static str,
    rows: &[(&str, &str, &str)],
    on_conflict: &'static str,
) -> Result<()> {
    for chunk in rows.chunks(MAX_ROWS_PER_INSERT) {
        let sql = format!(
            "{insert} (run_uuid, key, value) VALUES {} ON CONFLICT (run_uuid, key) {on_conflict}",
            values_rows(dialect, chunk.len(), 3)
        );
        let binds: Vec<Bind> =
            chunk.iter().flat_map(|(run, key, value)| [*run, *key, *value].map(Bind::text)).collect();
        bound(sql, &binds).execute(&mut *connection).await.map_err(db_error)?;
    }
    Ok(())
}

/// Pushes a metric's binds in the column order of the `metrics` inserts above: `run_uuid, key,
/// step, timestamp, value, is_nan, value_bits`.
fn push_metric_binds<'a>(binds: &mut Vec<Bind<'a>>, run_id: &'a RunId, metric: &'a Metric) {
    let is_nan = metric.value.is_nan();
    binds.push(Bind::text(run_id.as_str()));
    binds.push(Bind::text(metric.key.as_str()));
    binds.push(Bind::Int(metric.step));
    binds.push(Bind::Int(metric.timestamp));
    // SQLite stores NaN as NULL, so NaN is kept as a flag with a zero value, as MLflow does.
    binds.push(Bind::Float(if is_nan { 0.0 } else { metric.value }));
    binds.push(Bind::Int(i64::from(is_nan)));
    binds.push(Bind::Int(metric.value.to_bits() as i64));
}

/// Checks one request against the runs and the params known so far.
fn check(job: &Job, runs: &HashMap<String, RunState>, known_params: &HashMap<(String, String), String>) -> Result<()> {
    let run_id = &job.run_id;
    let Some(run) = runs.get(run_id.as_str()).filter(|run| run.workspace == job.workspace.as_str()) else {
        return Err(Error::not_found(format!("run with id={run_id} not found")));
    };
    if run.stage != LifecycleStage::Active.as_str() {
        return Err(Error::invalid(format!(
            "the run {run_id} must be in the 'active' state; current state is {}",
            run.stage
        )));
    }
    for param in &job.batch.params {
        if let Some(old_value) = known_params.get(&(run_id.to_string(), param.key.clone()))
            && *old_value != param.value
        {
            return Err(Error::invalid(format!(
                "changing param values is not allowed. param with key='{}' was already logged with value='{}' for run ID='{run_id}'. attempted logging new value '{}'",
                param.key, old_value, param.value
            )));
        }
    }
    Ok(())
}

/// Whether `metric` replaces `than` as a run's latest value of its key.
pub(crate) fn metric_is_later(metric: &Metric, than: &Metric) -> bool {
    (metric.step, metric.timestamp) > (than.step, than.timestamp)
        || ((metric.step, metric.timestamp) == (than.step, than.timestamp) && metric.value > than.value)
}

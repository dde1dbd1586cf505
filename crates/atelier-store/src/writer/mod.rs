//! The batch writer: it takes every `log_batch` and writes the requests that arrived together
//! in one transaction.
//!
//! Logging is the hot path of a tracking server: many clients each send small batches, and a
//! commit per request would cost each its own statements and its own pages of the write-ahead
//! log. The writer drains what is waiting, checks every request
//! against the state (its run exists in its workspace and is active; its params do not change a
//! value, counting the requests before it in the group), and writes the accepted ones with one
//! multi-row insert per table. A request that fails its checks gets its own error and writes
//! nothing; the others in the group are unaffected. If the group's transaction fails as a whole
//! (a database error), every request is retried alone, so one request cannot fail another.
//!
//! On SQLite the writer is a thread of its own that owns a connection to the database file
//! (`rusqlite`) and runs each group's statements itself, where sqlx's driver took two round trips
//! to its worker thread and copied every text it bound; a small request that finds the writer
//! idle writes itself, on its own task, with the same connection. The store's other writes
//! (sqlx's writer connection) and the batch writer take turns through one fair lock,
//! [`WriteGate`], so that neither waits on SQLite's busy handler, which could starve one while
//! the other writes back to back.
//! On PostgreSQL up to [`POSTGRES_WRITERS`] groups are written at once, each on a connection of
//! the pool; a small request that finds the writer idle is written on a task spawned for it,
//! outside that count.

use crate::Batch;
use crate::audit::AuditContext;
use crate::dialect::{Bind, Dialect, placeholder, placeholder_list, values_rows};
use atelier_core::audit::AuditRecord;
use atelier_core::model::{LifecycleStage, Metric, RunId};
use atelier_core::names::WorkspaceName;
use atelier_core::{Error, Result};
use sqlx::AnyPool;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{Semaphore, mpsc, oneshot};
use transaction::{Cell, Column, GroupTransaction};

mod at_once;
mod transaction;

/// SQLite's turn to write, with the batch writer's connection: the batch writer (its thread, or
/// a request that finds it idle) and sqlx's writer connection take turns through it. Fair: each
/// waits in the order it came.
pub(crate) type WriteGate = Arc<tokio::sync::Mutex<rusqlite::Connection>>;

/// The most metrics a request may write without the writer when it finds the writer idle (a
/// `log_metric` or a small batch): on SQLite on the request's own task, a fraction of a
/// millisecond of the async thread; on PostgreSQL on a task spawned for it.
const MOST_METRICS_WRITTEN_INLINE: usize = 100;
/// How many requests in a row must have found no other pending before they write themselves.
const LONE_REQUESTS_BEFORE_INLINE: usize = 16;
/// Pages in the write-ahead log after which the batch writer's commit checkpoints it, as
/// SQLite's `wal_autocheckpoint` does on the pool's connections (see `sql.rs`).
const CHECKPOINT_PAGES: std::ffi::c_int = 10_000;

thread_local! {
    /// Set while a request writes on its own task.
    static WRITING_INLINE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Set when such a write's commit found the log due for a checkpoint.
    static CHECKPOINT_DUE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The batch writer's connection's write-ahead-log hook, called after each commit with the
/// pages in the log. It checkpoints as SQLite's own hook would (passively, and whatever the
/// outcome the commit stands), except after a request's own write, which must not hold the
/// async thread it runs on for the checkpoint's copy and syncs: that checkpoint is left to a
/// blocking thread ([`BatchWriter::submit`]).
pub(crate) fn checkpoint_when_due(wal: &rusqlite::hooks::Wal, pages: std::ffi::c_int) -> rusqlite::Result<()> {
    if pages < CHECKPOINT_PAGES {
        return Ok(());
    }
    if WRITING_INLINE.get() {
        CHECKPOINT_DUE.set(true);
    } else if let Err(error) = wal.checkpoint() {
        tracing::warn!(%error, "checkpointing the metadata store's write-ahead log failed");
    }
    Ok(())
}

/// The most requests written in one transaction.
const MAX_GROUP_REQUESTS: usize = 64;
/// A group stops growing once it holds this many metrics.
const MAX_GROUP_METRICS: usize = 20_000;
/// Rows per multi-row insert of metric points (at most 6 parameters a row) and of run keys and
/// values (3): under SQLite's 32,766 parameters a statement.
const MAX_ROWS_PER_INSERT: usize = 4_000;
/// Rows per upsert of latest metrics, which take 10 parameters a row.
const MAX_LATEST_PER_UPSERT: usize = 3_000;
/// Requests waiting for the writer; senders wait when it is full.
const QUEUE_CAPACITY: usize = 1_024;
/// How many times a group that lost a lock conflict on PostgreSQL is written.
const MAX_ATTEMPTS: u32 = 4;

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
    /// SQLite's turn and connection, for a request that finds the writer idle.
    gate: Option<WriteGate>,
    /// PostgreSQL's pool, for a request that finds the writer idle.
    pool: Option<AnyPool>,
    /// Requests between their submission and their answer.
    pending: Arc<AtomicUsize>,
    /// How many requests in a row found no other pending.
    alone_in_a_row: Arc<AtomicUsize>,
}

impl BatchWriter {
    /// Starts the PostgreSQL writer task on the current tokio runtime.
    pub(crate) fn start_postgres(pool: AnyPool) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(run(pool.clone(), receiver));
        BatchWriter { sender, gate: None, pool: Some(pool), pending: Arc::default(), alone_in_a_row: Arc::default() }
    }

    /// Starts SQLite's writer thread, which writes with the connection in `gate` at its turns.
    pub(crate) fn start_sqlite(gate: WriteGate) -> Result<Self> {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let thread_gate = gate.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".to_owned())
            .spawn(move || run_sqlite(thread_gate, receiver))
            .map_err(|error| Error::internal(format!("starting the metadata store's writer failed: {error}")))?;
        Ok(BatchWriter {
            sender,
            gate: Some(gate),
            pool: None,
            pending: Arc::default(),
            alone_in_a_row: Arc::default(),
        })
    }

    /// Writes one request's batch; returns when it is committed (or refused).
    ///
    /// A small batch that finds no request waiting skips the writer. On SQLite it is written on
    /// the request's own task: the hand-off to the writer's thread and back was most of a lone
    /// `log_metric`'s time at the server. On PostgreSQL it is written on a task spawned for it:
    /// one wake-up around the round trip instead of two (the writer's task, and the one it
    /// spawns for the group). Otherwise it joins the next group.
    pub(crate) async fn submit(&self, workspace: &WorkspaceName, run_id: &RunId, batch: Batch) -> Result<()> {
        let (reply, mut outcome) = oneshot::channel();
        let audit = crate::audit::take_for_commit();
        let context = audit.as_ref().map(|(context, _)| context.clone());
        let small = batch.metrics.len() <= MOST_METRICS_WRITTEN_INLINE;
        let job = Job { workspace: workspace.clone(), run_id: run_id.clone(), batch, audit, reply };
        // Requests that come one at a time (one client's loop) write themselves; once two are
        // seen together, the next ones go to the writer, which groups them, until a run of lone
        // ones shows that the concurrency has passed.
        let pending = Pending::enter(&self.pending);
        let streak = if pending.alone {
            self.alone_in_a_row.fetch_add(1, Ordering::Relaxed) + 1
        } else {
            self.alone_in_a_row.store(0, Ordering::Relaxed);
            0
        };
        let idle =
            small && streak >= LONE_REQUESTS_BEFORE_INLINE && self.sender.capacity() == self.sender.max_capacity();
        let sqlite = self.gate.as_ref().filter(|_| idle).and_then(|gate| gate.try_lock().ok());
        let postgres = self.pool.as_ref().filter(|_| idle);
        let stopped = || Err(Error::internal("the metadata store's writer stopped"));
        let result = if let Some(mut connection) = sqlite {
            // Nothing in a write on SQLite's connection waits, so it ends on this thread.
            WRITING_INLINE.set(true);
            write_and_reply(&mut Database::Sqlite(&mut connection), vec![job]).await;
            WRITING_INLINE.set(false);
            drop(connection);
            if CHECKPOINT_DUE.replace(false)
                && let Some(gate) = self.gate.clone()
            {
                tokio::task::spawn_blocking(move || {
                    let connection = gate.blocking_lock();
                    if let Err(error) = connection.execute_batch("PRAGMA wal_checkpoint(PASSIVE)") {
                        tracing::warn!(%error, "checkpointing the metadata store's write-ahead log failed");
                    }
                });
            }
            outcome.try_recv().unwrap_or_else(|_| stopped())
        } else if let Some(pool) = postgres {
            // On a task of its own, as the writer's groups: the request's future is dropped when
            // its client goes away, and a write cut short there could hand a connection back to
            // the pool inside its open transaction. Spawned, it commits (record included) or
            // rolls back whatever the client does.
            let pool = pool.clone();
            tokio::spawn(async move { write_and_reply(&mut Database::Pool(&pool), vec![job]).await });
            outcome.await.unwrap_or_else(|_| stopped())
        } else {
            match self.sender.send(job).await {
                Ok(()) => outcome.await.unwrap_or_else(|_| stopped()),
                Err(_) => Err(Error::internal("the metadata store is shutting down")),
            }
        };
        drop(pending);
        // A batch that was not written leaves its record to be written after the answer.
        if result.is_err()
            && let Some(context) = context
        {
            crate::audit::give_back(&context);
        }
        result
    }
}

/// A request counted among those the writer has not answered yet, until it is dropped.
struct Pending<'a> {
    count: &'a AtomicUsize,
    /// Whether no other request was pending when this one came.
    alone: bool,
}

impl<'a> Pending<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        let before = count.fetch_add(1, Ordering::AcqRel);
        Pending { count, alone: before == 0 }
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
    }
}

/// PostgreSQL's groups written at once, each its own transaction on its own connection, so that
/// a group's round trips to the database do not hold up the next. (SQLite's thread writes one
/// group after another: the database has one writer.)
const POSTGRES_WRITERS: usize = 4;

/// Takes the first waiting request and those that arrived with it, up to a group's size.
fn draw_group(first: Job, receiver: &mut mpsc::Receiver<Job>) -> Vec<Job> {
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
    group
}

async fn run(pool: AnyPool, mut receiver: mpsc::Receiver<Job>) {
    let free = Arc::new(Semaphore::new(POSTGRES_WRITERS));
    loop {
        // A writer is free before the group is drawn, so that requests arriving while all of
        // them are busy join the next group.
        let Ok(permit) = free.clone().acquire_owned().await else { return };
        let Some(first) = receiver.recv().await else { return };
        let group = draw_group(first, &mut receiver);
        let pool = pool.clone();
        tokio::spawn(async move {
            write_and_reply(&mut Database::Pool(&pool), group).await;
            drop(permit);
        });
    }
}

/// SQLite's writer thread: draws a group once it has its turn, writes it and answers. The
/// group's statements run on this thread; the runtime only drives them (nothing in them waits).
fn run_sqlite(gate: WriteGate, mut receiver: mpsc::Receiver<Job>) {
    let runtime = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "the metadata store's writer could not start");
            return;
        }
    };
    while let Some(first) = receiver.blocking_recv() {
        let mut connection = gate.blocking_lock();
        // Requests that arrived while another writer had its turn join this group.
        let group = draw_group(first, &mut receiver);
        // A panic in one group answers its requests with an error (their reply senders are
        // dropped) and leaves the thread to write the next ones.
        let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(write_and_reply(&mut Database::Sqlite(&mut connection), group))
        }));
        if written.is_err() {
            tracing::error!("the metadata store's writer failed on a group of requests; it goes on with the next");
        }
        drop(connection);
    }
}

/// Where a group is written.
enum Database<'c> {
    /// PostgreSQL: a connection of the pool for each transaction.
    Pool(&'c AnyPool),
    /// SQLite: the writer thread's own connection.
    Sqlite(&'c mut rusqlite::Connection),
}

/// Writes a group and answers each of its requests.
async fn write_and_reply(database: &mut Database<'_>, group: Vec<Job>) {
    match write_group(database, &group).await {
        Ok(outcomes) => {
            for (job, outcome) in group.into_iter().zip(outcomes) {
                let _ = job.reply.send(outcome);
            }
        }
        Err(GroupFailed { error, may_have_committed }) if group.len() == 1 || may_have_committed => {
            // Writing a group again that may have been written would write it twice.
            if may_have_committed {
                tracing::error!(requests = group.len(), %error, "a grouped write may have been committed before its connection failed; its requests are answered with the error");
            }
            for job in group {
                let _ = job.reply.send(Err(error.clone()));
            }
        }
        Err(GroupFailed { error, .. }) => {
            tracing::warn!(requests = group.len(), %error, "a grouped write failed; writing its requests one by one");
            for job in group {
                let outcome = match write_group(database, std::slice::from_ref(&job)).await {
                    Ok(mut outcomes) => outcomes.pop().unwrap_or(Ok(())),
                    Err(failed) => Err(failed.error),
                };
                let _ = job.reply.send(outcome);
            }
        }
    }
}

/// A group that failed as a whole.
struct GroupFailed {
    error: Error,
    /// Whether it may have been written all the same (see `GroupTransaction`).
    may_have_committed: bool,
}

/// A run as the checks need it.
struct RunState {
    workspace: String,
    experiment_id: i64,
    stage: String,
}

/// Checks every request of the group and writes the accepted ones in one transaction. Returns
/// each request's outcome; an `Err` of the whole means nothing was written, unless it says it
/// may have been.
///
/// PostgreSQL may end a transaction that waits in a cycle with others (a deadlock) or that
/// cannot be serialized; the writer orders its locks so that its own groups do not, but other
/// writers of the same rows (the run's own updates, another server) can. Such a group is
/// written again from the start, a few times, before its requests are told.
async fn write_group(database: &mut Database<'_>, jobs: &[Job]) -> std::result::Result<Vec<Result<()>>, GroupFailed> {
    let mut attempt = 1;
    loop {
        let mut transaction = GroupTransaction::begin(database)
            .await
            .map_err(|error| GroupFailed { error, may_have_committed: false })?;
        let written = match write_checked(&mut transaction, jobs).await {
            Ok(outcomes) => transaction.commit().await.map(|()| outcomes),
            Err(error) => Err(error),
        };
        match written {
            Ok(outcomes) => return Ok(outcomes),
            Err(error) => {
                transaction.rollback().await;
                if !transaction.contended || attempt == MAX_ATTEMPTS {
                    return Err(GroupFailed { error, may_have_committed: transaction.may_have_committed });
                }
                tracing::debug!(attempt, %error, "a grouped write lost a lock conflict; writing it again");
                attempt += 1;
            }
        }
    }
}

/// Reads what the checks need, checks every request and queues the accepted ones' writes.
async fn write_checked<'a>(transaction: &mut GroupTransaction<'_, 'a>, jobs: &'a [Job]) -> Result<Vec<Result<()>>> {
    let dialect = transaction.dialect;
    if dialect == Dialect::Postgres && at_once::fits(jobs) && at_once::write(transaction, jobs).await? {
        return Ok(jobs.iter().map(|_| Ok(())).collect());
    }
    let mut run_ids: Vec<&str> = jobs.iter().map(|job| job.run_id.as_str()).collect();
    run_ids.sort_unstable();
    run_ids.dedup();
    // The runs, and the series numbers of the (run, key) pairs the group logs metrics to, in one
    // statement: the group's first read is one round trip.
    let mut metric_keys: Vec<&str> =
        jobs.iter().flat_map(|job| job.batch.metrics.iter().map(|metric| metric.key.as_str())).collect();
    metric_keys.sort_unstable();
    metric_keys.dedup();
    let mut sql = format!(
        "SELECT run_uuid, workspace, experiment_id, lifecycle_stage, NULL AS key, NULL AS series_id \
         FROM runs WHERE run_uuid IN ({})",
        placeholder_list(dialect, 1, run_ids.len())
    );
    let mut binds: Vec<Bind> = run_ids.iter().map(|id| Bind::text(*id)).collect();
    if !metric_keys.is_empty() {
        sql.push_str(&format!(
            " UNION ALL SELECT run_uuid, NULL, NULL, NULL, key, series_id FROM metric_series \
             WHERE run_uuid IN ({}) AND key IN ({})",
            placeholder_list(dialect, run_ids.len() + 1, run_ids.len()),
            placeholder_list(dialect, 2 * run_ids.len() + 1, metric_keys.len())
        ));
        binds.extend(run_ids.iter().chain(metric_keys.iter()).map(|text| Bind::text(*text)));
    }
    let mut runs: HashMap<String, RunState> = HashMap::new();
    // Keyed by the group's own strings (a row's run and key are among those asked for), so that
    // looking a point's series up allocates nothing.
    let mut series: HashMap<(&str, &str), i64> = HashMap::new();
    use Column::{Int, Text};
    let columns = [Text, Text, Int, Text, Text, Int];
    for row in transaction.fetch(sql, binds, &columns).await? {
        let [run_uuid, workspace, experiment_id, stage, key, series_id] =
            <[Cell; 6]>::try_from(row).map_err(|_| Error::internal("the writer read a row of another shape"))?;
        match (run_uuid, series_id, key) {
            (Cell::Text(run_uuid), Cell::Int(series_id), Cell::Text(key)) => {
                if let (Ok(run), Ok(key)) =
                    (run_ids.binary_search(&run_uuid.as_str()), metric_keys.binary_search(&key.as_str()))
                {
                    series.insert((run_ids[run], metric_keys[key]), series_id);
                }
            }
            (Cell::Text(run_uuid), Cell::Null, _) => {
                let state = RunState {
                    workspace: workspace.into_text()?,
                    experiment_id: experiment_id.into_int()?,
                    stage: stage.into_text()?,
                };
                runs.insert(run_uuid, state);
            }
            _ => return Err(Error::internal("the writer read a run or series without its key")),
        }
    }

    // Groups (and servers) write to PostgreSQL at once. A param is checked against the stored
    // value and then written, so two groups logging one run's params take turns: each holds its
    // runs' rows from before its check until it commits. A rename updates the run's row, so a
    // group that renames takes it here too, before any other row, in one order for every group.
    // `NO KEY UPDATE` leaves the runs to the key-share locks of the foreign keys of other
    // groups' inserts: a stronger lock made a group that had inserted a run's new series wait
    // for this one while this one waited for that series (a deadlock).
    let writes_the_run = jobs.iter().any(|job| !job.batch.params.is_empty() || job.batch.new_run_name.is_some());
    if dialect == Dialect::Postgres && writes_the_run {
        let sql = format!(
            "SELECT run_uuid FROM runs WHERE run_uuid IN ({}) ORDER BY run_uuid FOR NO KEY UPDATE",
            placeholder_list(dialect, 1, run_ids.len())
        );
        transaction.fetch_locking(sql, run_ids.iter().map(|id| Bind::text(*id)).collect(), &[Text]).await?;
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
        for row in transaction.fetch(sql, binds, &[Text, Text, Text]).await? {
            let [run_uuid, key, value] =
                <[Cell; 3]>::try_from(row).map_err(|_| Error::internal("the writer read a row of another shape"))?;
            known_params.insert((run_uuid.into_text()?, key.into_text()?), value.into_text()?);
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
    // Rows are written in key order, so that PostgreSQL's concurrent groups lock them in one
    // order and never wait on each other in a cycle.
    params.sort_unstable();
    insert_key_values(transaction, "INSERT INTO params", &params, "DO NOTHING").await?;

    let tags = tags_to_write(&accepted);
    insert_key_values(transaction, "INSERT INTO tags", &tags, "DO UPDATE SET value = excluded.value").await?;

    // A run's last rename wins, as if the requests had been written one by one; one update a
    // run (PostgreSQL's writes go as one statement, in which two updates of a row would race).
    let mut renames: Vec<(&str, &str)> = Vec::new();
    for job in &accepted {
        if let Some(name) = &job.batch.new_run_name {
            match renames.iter_mut().find(|(run, _)| *run == job.run_id.as_str()) {
                Some(rename) => rename.1 = name.as_str(),
                None => renames.push((job.run_id.as_str(), name.as_str())),
            }
        }
    }
    for (run_id, name) in renames {
        let sql =
            format!("UPDATE runs SET name = {} WHERE run_uuid = {}", placeholder(dialect, 1), placeholder(dialect, 2));
        transaction.write(sql, vec![Bind::text(name), Bind::text(run_id)]).await?;
    }

    // The requests' audit records go with their changes, in the same transaction.
    let records: Vec<&AuditRecord> =
        accepted.iter().filter_map(|job| job.audit.as_ref().map(|(_, record)| &**record)).collect();
    let metrics: Vec<(&RunId, &Metric)> =
        accepted.iter().flat_map(|job| job.batch.metrics.iter().map(move |metric| (&job.run_id, metric))).collect();
    write_points(transaction, &metrics, &series).await?;

    let latest = latest_candidates(&metrics);
    for chunk in latest.chunks(MAX_LATEST_PER_UPSERT) {
        let sql = format!(
            "INSERT INTO latest_metrics ({LATEST_COLUMNS}) VALUES {} {LATEST_UPSERT}",
            values_rows(dialect, chunk.len(), 10)
        );
        let mut binds = Vec::with_capacity(chunk.len() * 10);
        for (run_id, metric, points) in chunk {
            // Every accepted request's run was read above.
            let run = runs.get(run_id.as_str()).ok_or_else(|| Error::internal(format!("run {run_id} was not read")))?;
            push_metric_binds(&mut binds, run_id, metric);
            binds.push(Bind::Int(*points));
            binds.push(Bind::text(run.workspace.clone()));
            binds.push(Bind::Int(run.experiment_id));
        }
        transaction.write(sql, binds).await?;
    }

    if !records.is_empty() {
        let (sql, binds) = crate::audit::append_statement(dialect, &records);
        transaction.write(sql, binds).await?;
    }
    Ok(outcomes)
}

/// The columns of `latest_metrics` as the writer fills them: a metric's (see
/// [`push_metric_binds`]), how many points the write adds, and the run's workspace and
/// experiment.
const LATEST_COLUMNS: &str =
    "run_uuid, key, step, timestamp, value, is_nan, value_bits, points, workspace, experiment_id";

/// Whether the candidate (`excluded`) is later than the stored latest value: by step, then
/// timestamp, then value, as [`metric_is_later`].
macro_rules! later {
    () => {
        "(excluded.step > latest_metrics.step \
        OR (excluded.step = latest_metrics.step AND excluded.timestamp > latest_metrics.timestamp) \
        OR (excluded.step = latest_metrics.step AND excluded.timestamp = latest_metrics.timestamp \
            AND excluded.value > latest_metrics.value))"
    };
}

/// How a candidate meets the stored latest value of its run and key: the point count always
/// grows; the latest value changes only for a later point. (Every SET expression reads the row
/// as it was before the update.)
const LATEST_UPSERT: &str = concat!(
    "ON CONFLICT (run_uuid, key) DO UPDATE SET points = latest_metrics.points + excluded.points, ",
    "step = CASE WHEN ",
    later!(),
    " THEN excluded.step ELSE latest_metrics.step END, ",
    "timestamp = CASE WHEN ",
    later!(),
    " THEN excluded.timestamp ELSE latest_metrics.timestamp END, ",
    "value = CASE WHEN ",
    later!(),
    " THEN excluded.value ELSE latest_metrics.value END, ",
    "is_nan = CASE WHEN ",
    later!(),
    " THEN excluded.is_nan ELSE latest_metrics.is_nan END, ",
    "value_bits = CASE WHEN ",
    later!(),
    " THEN excluded.value_bits ELSE latest_metrics.value_bits END"
);

/// The tags the accepted requests write, in key order: the last value of a key wins, as if the
/// requests had been written one by one.
fn tags_to_write<'a>(accepted: &[&'a Job]) -> Vec<(&'a str, &'a str, &'a str)> {
    let mut tag_positions: HashMap<(&str, &str), usize> = HashMap::new();
    let mut tags: Vec<(&str, &str, &str)> = Vec::new();
    for job in accepted {
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
    tags.sort_unstable();
    tags
}

/// One candidate per (run, key) for `latest_metrics`, in key order (so that the upsert touches
/// each row once, and concurrent groups lock rows in one order): the highest step, then
/// timestamp, then value; with it, how many points the write adds to that series.
fn latest_candidates<'a>(metrics: &[(&'a RunId, &'a Metric)]) -> Vec<(&'a RunId, &'a Metric, i64)> {
    let mut latest_positions: HashMap<(&str, &str), usize> = HashMap::new();
    let mut latest: Vec<(&RunId, &Metric, i64)> = Vec::new();
    for (run_id, metric) in metrics {
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
    latest.sort_unstable_by(|a, b| (a.0.as_str(), a.1.key.as_str()).cmp(&(b.0.as_str(), b.1.key.as_str())));
    latest
}

/// Queues the inserts of the group's metric points. A point of a known series carries its
/// series' number; a new series is created, and its first points join it by run and key in the
/// next statement of the same transaction, so no read waits on the insert.
async fn write_points<'a>(
    transaction: &mut GroupTransaction<'_, 'a>,
    metrics: &[(&'a RunId, &'a Metric)],
    series: &HashMap<(&str, &str), i64>,
) -> Result<()> {
    let dialect = transaction.dialect;
    let mut known: Vec<(i64, &Metric)> = Vec::with_capacity(metrics.len());
    let mut fresh: Vec<(&RunId, &Metric)> = Vec::new();
    for (run_id, metric) in metrics {
        match series.get(&(run_id.as_str(), metric.key.as_str())) {
            Some(series_id) => known.push((*series_id, metric)),
            None => fresh.push((run_id, metric)),
        }
    }
    if !fresh.is_empty() {
        let mut pairs: Vec<(&str, &str)> =
            fresh.iter().map(|(run, metric)| (run.as_str(), metric.key.as_str())).collect();
        pairs.sort_unstable();
        pairs.dedup();
        for chunk in pairs.chunks(MAX_ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO metric_series (run_uuid, key) VALUES {} ON CONFLICT (run_uuid, key) DO NOTHING",
                values_rows(dialect, chunk.len(), 2)
            );
            let binds = chunk.iter().flat_map(|(run, key)| [Bind::text(*run), Bind::text(*key)]).collect();
            transaction.write(sql, binds).await?;
        }
    }
    if dialect == Dialect::Postgres && !known.is_empty() {
        // PostgreSQL plans a statement with thousands of parameters anew at each execution
        // (about 9 µs a row here); four arrays unnested take one plan and about a quarter of
        // the time.
        let binds = point_arrays(known.iter().map(|(series_id, metric)| (*series_id, *metric)))
            .into_iter()
            .map(Bind::text)
            .collect();
        let sql = "INSERT INTO metric_points (series_id, step, timestamp, value_bits) \
                   SELECT * FROM unnest(CAST($1 AS TEXT)::BIGINT[], CAST($2 AS TEXT)::BIGINT[], \
                   CAST($3 AS TEXT)::BIGINT[], CAST($4 AS TEXT)::BIGINT[])";
        transaction.write(sql.to_owned(), binds).await?;
        known.clear();
    }
    for chunk in known.chunks(MAX_ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO metric_points (series_id, step, timestamp, value_bits) VALUES {}",
            values_rows(dialect, chunk.len(), 4)
        );
        let mut binds = Vec::with_capacity(chunk.len() * 4);
        for (series_id, metric) in chunk {
            binds.extend([
                Bind::Int(*series_id),
                Bind::Int(metric.step),
                Bind::Int(metric.timestamp),
                Bind::Int(metric.value.to_bits() as i64),
            ]);
        }
        transaction.write(sql, binds).await?;
    }
    // The points of new series join the series just created, in the order they came (the
    // sixth column), so that insertion marks follow the request as for known series. They read
    // the series' rows, so the series' insert goes first (PostgreSQL queues writes).
    if !fresh.is_empty() {
        transaction.settle().await?;
    }
    for (chunk_index, chunk) in fresh.chunks(MAX_ROWS_PER_INSERT).enumerate() {
        let mut binds = Vec::with_capacity(chunk.len() * 6);
        for (index, (run_id, metric)) in chunk.iter().enumerate() {
            binds.extend([
                Bind::text(run_id.as_str()),
                Bind::text(metric.key.as_str()),
                Bind::Int(metric.step),
                Bind::Int(metric.timestamp),
                Bind::Int(metric.value.to_bits() as i64),
                Bind::Int((chunk_index * MAX_ROWS_PER_INSERT + index) as i64),
            ]);
        }
        let sql = format!(
            "INSERT INTO metric_points (series_id, step, timestamp, value_bits) \
             SELECT s.series_id, v.column3, v.column4, v.column5 FROM (VALUES {}) AS v \
             JOIN metric_series s ON s.run_uuid = v.column1 AND s.key = v.column2 ORDER BY v.column6",
            values_rows(dialect, chunk.len(), 6)
        );
        transaction.write(sql, binds).await?;
    }
    Ok(())
}

/// Points as four PostgreSQL array literals (`{1,2,…}`), in the order given: their series (its
/// id, or a number the statement maps to one), steps, times and values' bits. The arrays travel
/// as text, which sqlx's `Any` driver can bind, and are unnested by the statement.
fn point_arrays<'a>(points: impl ExactSizeIterator<Item = (i64, &'a Metric)>) -> [String; 4] {
    use std::fmt::Write;
    let mut columns = [const { String::new() }; 4];
    for column in &mut columns {
        column.reserve(points.len() * 12);
        column.push('{');
    }
    for (index, (series, metric)) in points.enumerate() {
        let values = [series, metric.step, metric.timestamp, metric.value.to_bits() as i64];
        for (column, value) in columns.iter_mut().zip(values) {
            if index > 0 {
                column.push(',');
            }
            let _ = write!(column, "{value}");
        }
    }
    for column in &mut columns {
        column.push('}');
    }
    columns
}

/// Queues inserts of `(run_uuid, key, value)` rows into a run's key/value table (`insert` names
/// it; both callers pass constants), resolving conflicts on `(run_uuid, key)` with `on_conflict`.
async fn insert_key_values<'a>(
    transaction: &mut GroupTransaction<'_, 'a>,
    insert: &'static str,
    rows: &[(&'a str, &'a str, &'a str)],
    on_conflict: &'static str,
) -> Result<()> {
    for chunk in rows.chunks(MAX_ROWS_PER_INSERT) {
        let sql = format!(
            "{insert} (run_uuid, key, value) VALUES {} ON CONFLICT (run_uuid, key) {on_conflict}",
            values_rows(transaction.dialect, chunk.len(), 3)
        );
        let binds: Vec<Bind> =
            chunk.iter().flat_map(|(run, key, value)| [*run, *key, *value].map(Bind::text)).collect();
        transaction.write(sql, binds).await?;
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

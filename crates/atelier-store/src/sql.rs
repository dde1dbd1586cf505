//! [`SqlStore`]: the [`Store`] over sqlx's `AnyPool`, for SQLite and PostgreSQL.

use crate::search::{self, Bind};
use crate::writer::BatchWriter;
use crate::{
    Batch, ExperimentQuery, ExperimentStats, LoggedModelQuery, RunQuery, RunUpdate, SeriesRead, Session, Store,
    UserRecord,
};
use async_trait::async_trait;
use atelier_core::authz::Role;
use atelier_core::model::*;
use atelier_core::names::{UserName, WorkspaceName};
use atelier_core::series::Sample;
use atelier_core::{Error, Result};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, AssertSqlSafe, Executor, Row};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// Which SQL dialect a store speaks; chosen once, from the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// The SQL store. Reads go to `read`; writes go to `write`, which for SQLite is a pool of one
/// connection so that writers queue in the process instead of failing with "database is locked".
#[derive(Clone)]
pub struct SqlStore {
    pub(crate) read: AnyPool,
    pub(crate) write: AnyPool,
    dialect: Dialect,
    /// Groups concurrent `log_batch` requests into shared transactions.
    writer: BatchWriter,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password, so it is not kept or printed.
        f.debug_struct("SqlStore").field("dialect", &self.dialect).finish()
    }
}

/// Turns "no row was affected" into a not-found error with the message `missing` makes.
pub(crate) fn found(rows_affected: u64, missing: impl FnOnce() -> String) -> Result<()> {
    if rows_affected == 0 {
        return Err(Error::not_found(missing()));
    }
    Ok(())
}

pub(crate) fn db_error(error: sqlx::Error) -> Error {
    if let sqlx::Error::Database(database_error) = &error
        && database_error.is_unique_violation()
    {
        return Error::already_exists(format!("already exists: {}", database_error.message()));
    }
    tracing::error!(error = %error, "database error");
    Error::internal(format!("database error: {error}"))
}

fn migrate_error(error: sqlx::migrate::MigrateError) -> Error {
    Error::internal(format!("database migration failed: {error}"))
}

/// WAL with `synchronous = NORMAL`: a commit survives the process being killed (the WAL is
/// written before the commit returns); only an operating-system crash can lose the last
/// commits. The page cache is capped at 8 MiB a connection and the file is not memory-mapped,
/// which keeps the resident size small; a map bought no measurable speed here. The WAL is
/// checkpointed every 10,000 pages (about 40 MB) rather than SQLite's 1,000: pages rewritten
/// between checkpoints are copied back once, which raised ingest by about 15 % here.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
     PRAGMA busy_timeout = 30000; PRAGMA case_sensitive_like = ON; PRAGMA cache_size = -8192; \
     PRAGMA mmap_size = 0; PRAGMA wal_autocheckpoint = 10000;";

impl SqlStore {
    /// Connects to `sqlite://…` or `postgres://…` and applies the dialect's migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Dialect::Postgres
        } else {
            return Err(Error::invalid(
                "unsupported metadata store URL: expected sqlite://PATH or postgres://USER@HOST/DB".to_owned(),
            ));
        };
        let store = match dialect {
            Dialect::Sqlite => {
                let sqlite_options = |max: u32| {
                    AnyPoolOptions::new()
                        .max_connections(max)
                        .min_connections(1)
                        .idle_timeout(None)
                        .max_lifetime(None)
                        .acquire_timeout(Duration::from_secs(60))
                        .after_connect(|connection, _| {
                            Box::pin(async move {
                                connection.execute(SQLITE_PRAGMAS).await?;
                                Ok(())
                            })
                        })
                };
                // The writer connects first so that the database file exists, in WAL mode,
                // before any reader opens it.
                let write = sqlite_options(1).connect(url).await.map_err(db_error)?;
                let read = sqlite_options(8).connect(url).await.map_err(db_error)?;
                SqlStore { read, writer: BatchWriter::start(write.clone(), dialect), write, dialect }
            }
            Dialect::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(60))
                    .connect(url)
                    .await
                    .map_err(db_error)?;
                SqlStore { read: pool.clone(), writer: BatchWriter::start(pool.clone(), dialect), write: pool, dialect }
            }
        };
        migrator(dialect).run(&store.write).await.map_err(migrate_error)?;
        Ok(store)
    }

    /// Every `(table, column)` of the schema, sorted; the test suite checks that both dialects'
    /// migrations produce the same logical schema.
    pub async fn table_columns(&self) -> Result<Vec<(String, String)>> {
        let sql = match self.dialect {
            Dialect::Sqlite => {
                "SELECT m.name AS table_name, p.name AS column_name FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%'"
            }
            Dialect::Postgres => {
                "SELECT CAST(table_name AS TEXT) AS table_name, CAST(column_name AS TEXT) AS column_name \
                 FROM information_schema.columns WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%'"
            }
        };
        let rows = sqlx::query(sql).fetch_all(&self.read).await.map_err(db_error)?;
        let mut columns = rows
            .iter()
            .map(|row| {
                Ok((row.try_get("table_name").map_err(db_error)?, row.try_get("column_name").map_err(db_error)?))
            })
            .collect::<Result<Vec<(String, String)>>>()?;
        columns.sort();
        Ok(columns)
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Closes both pools, waiting for in-flight statements; SQLite checkpoints its WAL.
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// The migrations of each dialect, embedded in the binary. Plain SQL, forward only; a new
/// migration is a new file and a new line in each list.
const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "tracking", include_str!("../migrations/sqlite/0001_tracking.sql")),
    (2, "sessions", include_str!("../migrations/sqlite/0002_sessions.sql")),
    (3, "series points", include_str!("../migrations/sqlite/0003_series_points.sql")),
    (4, "registry", include_str!("../migrations/sqlite/0004_registry.sql")),
    (5, "model assets", include_str!("../migrations/sqlite/0005_model_assets.sql")),
    (6, "data assets", include_str!("../migrations/sqlite/0006_data_assets.sql")),
    (7, "datastores", include_str!("../migrations/sqlite/0007_datastores.sql")),
    (8, "environments", include_str!("../migrations/sqlite/0008_environments.sql")),
    (9, "upload files", include_str!("../migrations/sqlite/0009_upload_files.sql")),
    (10, "jobs", include_str!("../migrations/sqlite/0010_jobs.sql")),
    (11, "endpoints", include_str!("../migrations/sqlite/0011_endpoints.sql")),
];
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "tracking", include_str!("../migrations/postgres/0001_tracking.sql")),
    (2, "sessions", include_str!("../migrations/postgres/0002_sessions.sql")),
    (3, "series points", include_str!("../migrations/postgres/0003_series_points.sql")),
    (4, "registry", include_str!("../migrations/postgres/0004_registry.sql")),
    (5, "model assets", include_str!("../migrations/postgres/0005_model_assets.sql")),
    (6, "data assets", include_str!("../migrations/postgres/0006_data_assets.sql")),
    (7, "datastores", include_str!("../migrations/postgres/0007_datastores.sql")),
    (8, "environments", include_str!("../migrations/postgres/0008_environments.sql")),
    (9, "upload files", include_str!("../migrations/postgres/0009_upload_files.sql")),
    (10, "jobs", include_str!("../migrations/postgres/0010_jobs.sql")),
    (11, "endpoints", include_str!("../migrations/postgres/0011_endpoints.sql")),
];

pub(crate) fn migrator(dialect: Dialect) -> sqlx::migrate::Migrator {
    let list = match dialect {
        Dialect::Sqlite => SQLITE_MIGRATIONS,
        Dialect::Postgres => POSTGRES_MIGRATIONS,
    };
    let migrations = list
        .iter()
        .map(|(version, description, sql)| {
            sqlx::migrate::Migration::new(
                *version,
                std::borrow::Cow::Borrowed(*description),
                sqlx::migrate::MigrationType::Simple,
                sqlx::SqlSafeStr::into_sql_str(*sql),
                false,
            )
        })
        .collect();
    sqlx::migrate::Migrator::with_migrations(migrations)
}

/// The placeholder of the `index`-th (1-based) parameter of a statement whose parameters appear
/// in its text in bind order. SQLite gets anonymous `?`: sqlx resolves each named `$N` through
/// `sqlite3_bind_parameter_name`, which scans every named parameter, so a 6,000-parameter insert
/// spent most of its time there. PostgreSQL needs `$N`.
fn placeholder(dialect: Dialect, index: usize) -> String {
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

fn bool_to_int(flag: bool) -> i64 {
    i64::from(flag)
}

fn tags_to_json(tags: &BTreeMap<String, String>) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "{}".to_owned())
}

fn workspace_name(text: String) -> Result<WorkspaceName> {
    WorkspaceName::parse(&text).map_err(|_| Error::internal(format!("stored workspace name '{text}' is invalid")))
}

fn stage_from(text: &str) -> Result<LifecycleStage> {
    LifecycleStage::parse(text).ok_or_else(|| Error::internal(format!("stored lifecycle stage '{text}' is invalid")))
}

fn row_to_workspace(row: &AnyRow) -> Result<Workspace> {
    let tags_json: String = row.try_get("tags").map_err(db_error)?;
    Ok(Workspace {
        name: workspace_name(row.try_get("name").map_err(db_error)?)?,
        description: row.try_get("description").map_err(db_error)?,
        tags: serde_json::from_str(&tags_json).unwrap_or_default(),
        created_at: row.try_get("created_at").map_err(db_error)?,
        updated_at: row.try_get("updated_at").map_err(db_error)?,
    })
}

fn row_to_user_columns(row: &AnyRow, created_column: &str) -> Result<User> {
    let name: String = row.try_get("name").map_err(db_error)?;
    Ok(User {
        name: UserName::parse(&name).map_err(|_| Error::internal(format!("stored user name '{name}' is invalid")))?,
        is_admin: row.try_get::<i64, _>("is_admin").map_err(db_error)? != 0,
        created_at: row.try_get(created_column).map_err(db_error)?,
    })
}

fn row_to_user(row: &AnyRow) -> Result<User> {
    let name: String = row.try_get("name").map_err(db_error)?;
    Ok(User {
        name: UserName::parse(&name).map_err(|_| Error::internal(format!("stored user name '{name}' is invalid")))?,
        is_admin: row.try_get::<i64, _>("is_admin").map_err(db_error)? != 0,
        created_at: row.try_get("created_at").map_err(db_error)?,
    })
}

fn row_to_token(row: &AnyRow) -> Result<TokenInfo> {
    let user: String = row.try_get("user_name").map_err(db_error)?;
    Ok(TokenInfo {
        id: row.try_get("id").map_err(db_error)?,
        user: UserName::parse(&user).map_err(|_| Error::internal("stored user name is invalid"))?,
        description: row.try_get("description").map_err(db_error)?,
        created_at: row.try_get("created_at").map_err(db_error)?,
        expires_at: row.try_get("expires_at").map_err(db_error)?,
    })
}

fn row_to_experiment(row: &AnyRow) -> Result<Experiment> {
    let stage: String = row.try_get("lifecycle_stage").map_err(db_error)?;
    Ok(Experiment {
        workspace: workspace_name(row.try_get("workspace").map_err(db_error)?)?,
        experiment_id: row.try_get("experiment_id").map_err(db_error)?,
        name: row.try_get("name").map_err(db_error)?,
        artifact_location: row.try_get("artifact_location").map_err(db_error)?,
        lifecycle_stage: stage_from(&stage)?,
        creation_time: row.try_get("creation_time").map_err(db_error)?,
        last_update_time: row.try_get("last_update_time").map_err(db_error)?,
        tags: Vec::new(),
    })
}

pub(crate) fn row_to_run_info(row: &AnyRow) -> Result<RunInfo> {
    let stage: String = row.try_get("lifecycle_stage").map_err(db_error)?;
    let status: String = row.try_get("status").map_err(db_error)?;
    let run_uuid: String = row.try_get("run_uuid").map_err(db_error)?;
    Ok(RunInfo {
        run_id: RunId::parse(&run_uuid)?,
        workspace: workspace_name(row.try_get("workspace").map_err(db_error)?)?,
        experiment_id: row.try_get("experiment_id").map_err(db_error)?,
        run_name: row.try_get("name").map_err(db_error)?,
        user_id: row.try_get("user_id").map_err(db_error)?,
        status: RunStatus::parse(&status)
            .ok_or_else(|| Error::internal(format!("stored run status '{status}' is invalid")))?,
        start_time: row.try_get("start_time").map_err(db_error)?,
        end_time: row.try_get("end_time").map_err(db_error)?,
        artifact_uri: row.try_get("artifact_uri").map_err(db_error)?,
        lifecycle_stage: stage_from(&stage)?,
    })
}

const RUN_COLUMNS: &str =
    "run_uuid, workspace, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri";

fn new_uuid_like(parts: &[&str]) -> String {
    // Dataset and input ids only need to be unique and stable for the same content; a hash of
    // the identifying parts gives both without a random source in the store.
    use std::hash::{Hash, Hasher};
    let mut first = std::collections::hash_map::DefaultHasher::new();
    let mut second = std::collections::hash_map::DefaultHasher::new();
    for part in parts {
        part.hash(&mut first);
        0xa5u8.hash(&mut second);
        part.hash(&mut second);
    }
    format!("{:016x}{:016x}", first.finish(), second.finish())
}

impl SqlStore {
    /// Runs `inner` (a `SELECT` whose output has the given `columns`, ending in `ORDER BY
    /// <order>`) and returns all its rows packed into one JSON array of arrays, in that order. sqlx hands every row from the
    /// database thread to the async side one message at a time, which cost more than the query;
    /// packing sends one message for thousands of rows.
    async fn fetch_packed<T: serde::de::DeserializeOwned>(
        &self,
        inner: &str,
        columns: &[&str],
        order: &str,
        binds: &[Bind<'_>],
    ) -> Result<Vec<T>> {
        let array = columns.join(", ");
        let sql = match self.dialect {
            // SQLite aggregates the rows of an ordered subquery in its order (the ordering test
            // of the conformance suite holds it to that); an ORDER BY inside the aggregate
            // would sort them a second time.
            Dialect::Sqlite => {
                format!(
                    "SELECT COALESCE(json_group_array(json_array({array})), '[]') AS packed FROM ({inner}) AS packed_rows"
                )
            }
            Dialect::Postgres => format!(
                "SELECT COALESCE(CAST(json_agg(json_build_array({array}) ORDER BY {order}) AS TEXT), '[]') AS packed FROM ({inner}) AS packed_rows"
            ),
        };
        let row = bind_all(sqlx::query(AssertSqlSafe(sql)), binds).fetch_one(&self.read).await.map_err(db_error)?;
        let text: String = row.try_get("packed").map_err(db_error)?;
        serde_json::from_str(&text).map_err(|error| Error::internal(format!("unpacking rows failed: {error}")))
    }

    async fn experiment_tags(&self, workspace: &WorkspaceName, ids: &[ExperimentId]) -> Result<HashMap<i64, Vec<Tag>>> {
        let mut by_experiment: HashMap<i64, Vec<Tag>> = HashMap::new();
        if ids.is_empty() {
            return Ok(by_experiment);
        }
        let sql = format!(
            "SELECT experiment_id, key, value FROM experiment_tags WHERE workspace = {} AND experiment_id IN ({}) ORDER BY key",
            placeholder(self.dialect, 1),
            placeholder_list(self.dialect, 2, ids.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(workspace.as_str());
        for id in ids {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&self.read).await.map_err(db_error)? {
            let id: i64 = row.try_get("experiment_id").map_err(db_error)?;
            by_experiment.entry(id).or_default().push(Tag::new(
                row.try_get::<String, _>("key").map_err(db_error)?,
                row.try_get::<String, _>("value").map_err(db_error)?,
            ));
        }
        Ok(by_experiment)
    }

    /// Loads params, tags, latest metrics and inputs for a set of runs in four queries.
    async fn hydrate_runs(&self, infos: Vec<RunInfo>) -> Result<Vec<Run>> {
        if infos.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = infos.iter().map(|info| info.run_id.as_str()).collect();
        let in_list = placeholder_list(self.dialect, 1, ids.len());
        let mut params: HashMap<String, Vec<Param>> = HashMap::new();
        let mut tags: HashMap<String, Vec<Tag>> = HashMap::new();
        let mut metrics: HashMap<String, Vec<Metric>> = HashMap::new();
        let mut inputs: HashMap<String, Vec<DatasetInput>> = HashMap::new();
        let mut outputs: HashMap<String, Vec<ModelOutput>> = HashMap::new();

        let id_binds: Vec<Bind> = ids.iter().map(|id| Bind::text((*id).to_owned())).collect();
        let bind_all = |sql: String| {
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for id in &ids {
                query = query.bind(*id);
            }
            query
        };
        let packed_params: Vec<(String, String, String)> = self
            .fetch_packed(
                &format!("SELECT run_uuid, key, value FROM params WHERE run_uuid IN ({in_list}) ORDER BY key"),
                &["run_uuid", "key", "value"],
                "key",
                &id_binds,
            )
            .await?;
        for (run_uuid, key, value) in packed_params {
            params.entry(run_uuid).or_default().push(Param { key, value });
        }
        let packed_tags: Vec<(String, String, String)> = self
            .fetch_packed(
                &format!("SELECT run_uuid, key, value FROM tags WHERE run_uuid IN ({in_list}) ORDER BY key"),
                &["run_uuid", "key", "value"],
                "key",
                &id_binds,
            )
            .await?;
        for (run_uuid, key, value) in packed_tags {
            tags.entry(run_uuid).or_default().push(Tag { key, value });
        }
        let packed_metrics: Vec<(String, String, i64, i64, i64)> = self
            .fetch_packed(
                &format!(
                    "SELECT run_uuid, key, value_bits, timestamp, step FROM latest_metrics WHERE run_uuid IN ({in_list}) ORDER BY key"
                ),
                &["run_uuid", "key", "value_bits", "timestamp", "step"],
                "key",
                &id_binds,
            )
            .await?;
        for (run_uuid, key, value_bits, timestamp, step) in packed_metrics {
            let value = f64::from_bits(value_bits as u64);
            metrics.entry(run_uuid).or_default().push(Metric { key, value, timestamp, step });
        }
        let rows = bind_all(format!(
            "SELECT run_uuid, model_id, step FROM run_model_outputs WHERE run_uuid IN ({in_list}) ORDER BY step, model_id"
        ))
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        for row in rows {
            outputs.entry(row.try_get("run_uuid").map_err(db_error)?).or_default().push(ModelOutput {
                model_id: row.try_get("model_id").map_err(db_error)?,
                step: row.try_get("step").map_err(db_error)?,
            });
        }
        let rows = bind_all(format!(
            "SELECT ri.run_uuid, ri.input_uuid, d.name, d.digest, d.source_type, d.source, d.dataset_schema, d.profile \
             FROM run_inputs ri JOIN datasets d ON d.dataset_uuid = ri.dataset_uuid \
             WHERE ri.run_uuid IN ({in_list}) ORDER BY d.name, d.digest"
        ))
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        let mut input_ids = Vec::new();
        for row in rows {
            let run_uuid: String = row.try_get("run_uuid").map_err(db_error)?;
            let input_uuid: String = row.try_get("input_uuid").map_err(db_error)?;
            input_ids.push((run_uuid.clone(), input_uuid));
            inputs.entry(run_uuid).or_default().push(DatasetInput {
                tags: Vec::new(),
                dataset: Dataset {
                    name: row.try_get("name").map_err(db_error)?,
                    digest: row.try_get("digest").map_err(db_error)?,
                    source_type: row.try_get("source_type").map_err(db_error)?,
                    source: row.try_get("source").map_err(db_error)?,
                    schema: row.try_get("dataset_schema").map_err(db_error)?,
                    profile: row.try_get("profile").map_err(db_error)?,
                },
            });
        }
        if !input_ids.is_empty() {
            let sql = format!(
                "SELECT input_uuid, key, value FROM input_tags WHERE input_uuid IN ({}) ORDER BY key",
                placeholder_list(self.dialect, 1, input_ids.len())
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (_, input_uuid) in &input_ids {
                query = query.bind(input_uuid.as_str());
            }
            let mut input_tags: HashMap<String, Vec<Tag>> = HashMap::new();
            for row in query.fetch_all(&self.read).await.map_err(db_error)? {
                input_tags.entry(row.try_get("input_uuid").map_err(db_error)?).or_default().push(Tag::new(
                    row.try_get::<String, _>("key").map_err(db_error)?,
                    row.try_get::<String, _>("value").map_err(db_error)?,
                ));
            }
            // Inputs were pushed in the same order as `input_ids` within each run.
            let mut positions: HashMap<String, usize> = HashMap::new();
            for (run_uuid, input_uuid) in &input_ids {
                let position = positions.entry(run_uuid.clone()).or_default();
                if let Some(input) = inputs.get_mut(run_uuid).and_then(|run_inputs| run_inputs.get_mut(*position)) {
                    input.tags = input_tags.remove(input_uuid).unwrap_or_default();
                }
                *position += 1;
            }
        }
        Ok(infos
            .into_iter()
            .map(|info| {
                let key = info.run_id.as_str().to_owned();
                Run {
                    info,
                    metrics: metrics.remove(&key).unwrap_or_default(),
                    params: params.remove(&key).unwrap_or_default(),
                    tags: tags.remove(&key).unwrap_or_default(),
                    inputs: inputs.remove(&key).unwrap_or_default(),
                    outputs: outputs.remove(&key).unwrap_or_default(),
                }
            })
            .collect())
    }
}

impl SqlStore {
    /// Loads tags and params for a set of logged models.
    async fn hydrate_logged_models(&self, mut models: Vec<LoggedModel>) -> Result<Vec<LoggedModel>> {
        if models.is_empty() {
            return Ok(models);
        }
        let in_list = placeholder_list(self.dialect, 1, models.len());
        for table in ["logged_model_tags", "logged_model_params"] {
            let sql = format!("SELECT model_id, key, value FROM {table} WHERE model_id IN ({in_list}) ORDER BY key");
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for model in &models {
                query = query.bind(model.model_id.clone());
            }
            let mut by_model: HashMap<String, Vec<(String, String)>> = HashMap::new();
            for row in query.fetch_all(&self.read).await.map_err(db_error)? {
                by_model
                    .entry(row.try_get("model_id").map_err(db_error)?)
                    .or_default()
                    .push((row.try_get("key").map_err(db_error)?, row.try_get("value").map_err(db_error)?));
            }
            for model in &mut models {
                let pairs = by_model.remove(&model.model_id).unwrap_or_default();
                if table == "logged_model_tags" {
                    model.tags = pairs.into_iter().map(|(key, value)| Tag { key, value }).collect();
                } else {
                    model.params = pairs.into_iter().map(|(key, value)| Param { key, value }).collect();
                }
            }
        }
        Ok(models)
    }
}

/// Fails unless the experiment exists and is active; used inside write transactions.
/// Inserts a run and its tags, in the caller's transaction; its experiment must be active.
pub(crate) async fn insert_run(connection: &mut sqlx::AnyConnection, info: &RunInfo, tags: &[Tag]) -> Result<()> {
    require_active_experiment(&mut *connection, &info.workspace, info.experiment_id).await?;
    let sql = format!("INSERT INTO runs ({RUN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");
    sqlx::query(AssertSqlSafe(sql))
        .bind(info.run_id.as_str())
        .bind(info.workspace.as_str())
        .bind(info.experiment_id)
        .bind(info.run_name.as_str())
        .bind(info.user_id.as_str())
        .bind(info.status.as_str())
        .bind(info.start_time)
        .bind(info.end_time)
        .bind(info.lifecycle_stage.as_str())
        .bind(info.artifact_uri.as_str())
        .execute(&mut *connection)
        .await
        .map_err(db_error)?;
    for tag in tags {
        sqlx::query("INSERT INTO tags (run_uuid, key, value) VALUES ($1, $2, $3) ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value")
            .bind(info.run_id.as_str())
            .bind(tag.key.as_str())
            .bind(tag.value.as_str())
            .execute(&mut *connection)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

async fn require_active_experiment(
    connection: &mut sqlx::AnyConnection,
    workspace: &WorkspaceName,
    id: ExperimentId,
) -> Result<()> {
    let row = sqlx::query("SELECT lifecycle_stage FROM experiments WHERE workspace = $1 AND experiment_id = $2")
        .bind(workspace.as_str())
        .bind(id)
        .fetch_optional(&mut *connection)
        .await
        .map_err(db_error)?
        .ok_or_else(|| Error::not_found(format!("no experiment with id={id} exists")))?;
    let stage: String = row.try_get("lifecycle_stage").map_err(db_error)?;
    if stage != LifecycleStage::Active.as_str() {
        return Err(Error::invalid(format!(
            "the experiment {id} must be in the 'active' state; current state is {stage}"
        )));
    }
    Ok(())
}

/// Fails unless the run exists and is active; used inside write transactions.
async fn require_active_run(connection: &mut sqlx::AnyConnection, run_id: &RunId) -> Result<String> {
    let row = sqlx::query("SELECT lifecycle_stage, workspace FROM runs WHERE run_uuid = $1")
        .bind(run_id.as_str())
        .fetch_optional(&mut *connection)
        .await
        .map_err(db_error)?;
    let Some(row) = row else {
        return Err(Error::not_found(format!("run with id={run_id} not found")));
    };
    let stage: String = row.try_get("lifecycle_stage").map_err(db_error)?;
    if stage != LifecycleStage::Active.as_str() {
        return Err(Error::invalid(format!(
            "the run {run_id} must be in the 'active' state; current state is {stage}"
        )));
    }
    row.try_get("workspace").map_err(db_error)
}

#[async_trait]
impl Store for SqlStore {
    async fn create_workspace(&self, workspace: &Workspace, artifact_root: &str) -> Result<()> {
        let mut transaction = self.write.begin().await.map_err(db_error)?;
        let inserted = sqlx::query(
            "INSERT INTO workspaces (name, description, tags, next_experiment_id, created_at, updated_at) \
             VALUES ($1, $2, $3, 1, $4, $5) ON CONFLICT (name) DO NOTHING",
        )
        .bind(workspace.name.as_str())
        .bind(workspace.description.as_str())
        .bind(tags_to_json(&workspace.tags))
        .bind(workspace.created_at)
        .bind(workspace.updated_at)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        if inserted.rows_affected() == 0 {
            return Err(Error::already_exists(format!("workspace '{}' already exists", workspace.name)));
        }
        sqlx::query(
            "INSERT INTO experiments (workspace, experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) \
             VALUES ($1, $2, $3, $4, 'active', $5, $5)",
        )
        .bind(workspace.name.as_str())
        .bind(DEFAULT_EXPERIMENT_ID)
        .bind(DEFAULT_EXPERIMENT_NAME)
        .bind(format!("{artifact_root}/{DEFAULT_EXPERIMENT_ID}"))
        .bind(workspace.created_at)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        transaction.commit().await.map_err(db_error)
    }

    async fn get_workspace(&self, name: &WorkspaceName) -> Result<Workspace> {
        let row = sqlx::query("SELECT * FROM workspaces WHERE name = $1")
            .bind(name.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(format!("workspace '{name}' does not exist")))?;
        row_to_workspace(&row)
    }

    async fn list_workspaces(&self) -> Result<Vec<Workspace>> {
        let rows =
            sqlx::query("SELECT * FROM workspaces ORDER BY name").fetch_all(&self.read).await.map_err(db_error)?;
        rows.iter().map(row_to_workspace).collect()
    }

    async fn update_workspace(
        &self,
        name: &WorkspaceName,
        description: Option<&str>,
        tags: Option<&BTreeMap<String, String>>,
        now: Millis,
    ) -> Result<Workspace> {
        let result = sqlx::query(
            "UPDATE workspaces SET description = COALESCE($2, description), tags = COALESCE($3, tags), updated_at = $4 WHERE name = $1",
        )
        .bind(name.as_str())
        .bind(description)
        .bind(tags.map(tags_to_json))
        .bind(now)
        .execute(&self.write)
        .await
        .map_err(db_error)?;
        if result.rows_affected() == 0 {
            return Err(Error::not_found(format!("workspace '{name}' does not exist")));
        }
        let row = sqlx::query("SELECT * FROM workspaces WHERE name = $1")
            .bind(name.as_str())
            .fetch_one(&self.write)
            .await
            .map_err(db_error)?;
        row_to_workspace(&row)
    }

    async fn delete_workspace(&self, name: &WorkspaceName) -> Result<()> {
        let result = sqlx::query("DELETE FROM workspaces WHERE name = $1")
            .bind(name.as_str())
            .execute(&self.write)
            .await
            .map_err(db_error)?;
        found(result.rows_affected(), || format!("workspace '{name}' does not exist"))
    }

    async fn create_user(&self, user: &User, password_hash: Option<&str>) -> Result<()> {
        let result = sqlx::query(
            "INSERT INTO users (name, password_hash, is_admin, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
        )
        .bind(user.name.as_str())
        .bind(password_hash)
        .bind(bool_to_int(user.is_admin))
        .bind(user.created_at)
        .execute(&self.write)
        .await
        .map_err(db_error)?;
        if result.rows_affected() == 0 {
            return Err(Error::already_exists(format!("user '{}' already exists", user.name)));
        }
        Ok(())
    }

    async fn get_user(&self, name: &UserName) -> Result<UserRecord> {
        let row = sqlx::query("SELECT * FROM users WHERE name = $1")
            .bind(name.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(format!("user '{name}' does not exist")))?;
        Ok(UserRecord { user: row_to_user(&row)?, password_hash: row.try_get("password_hash").map_err(db_error)? })
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query("SELECT * FROM users ORDER BY name").fetch_all(&self.read).await.map_err(db_error)?;
        rows.iter().map(row_to_user).collect()
    }

    async fn set_password(&self, name: &UserName, password_hash: &str) -> Result<()> {
        let result = sqlx::query("UPDATE users SET password_hash = $2 WHERE name = $1")
            .bind(name.as_str())
            .bind(password_hash)
            .execute(&self.write)
            .await
            .map_err(db_error)?;
        found(result.rows_affected(), || format!("user '{name}' does not exist"))
    }

    async fn create_token(&self, token: &TokenInfo, token_hash: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_tokens (id, user_name, token_hash, description, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token.id.as_str())
        .bind(token.user.as_str())
        .bind(token_hash)
        .bind(token.description.as_str())
        .bind(token.created_at)
        .bind(token.expires_at)
        .execute(&self.write)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn find_token(&self, token_hash: &str, now: Millis) -> Result<Option<(TokenInfo, User)>> {
        let row = sqlx::query(
            "SELECT t.id, t.user_name, t.description, t.created_at, t.expires_at, \
                    u.name, u.is_admin, u.created_at AS user_created_at \
             FROM api_tokens t JOIN users u ON u.name = t.user_name \
             WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > $2)",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.read)
        .await
        .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        let token = row_to_token(&row)?;
        let user = User {
            name: token.user.clone(),
            is_admin: row.try_get::<i64, _>("is_admin").map_err(db_error)? != 0,
            created_at: row.try_get("user_created_at").map_err(db_error)?,
        };
        Ok(Some((token, user)))
    }

    async fn list_tokens(&self, user: Option<&UserName>) -> Result<Vec<TokenInfo>> {
        let rows = sqlx::query(
            "SELECT id, user_name, description, created_at, expires_at FROM api_tokens \
             WHERE $1 IS NULL OR user_name = $1 ORDER BY created_at, id",
        )
        .bind(user.map(|name| name.as_str()))
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        rows.iter().map(row_to_token).collect()
    }

    async fn get_token(&self, id: &str) -> Result<TokenInfo> {
        let row =
            sqlx::query("SELECT id, user_name, description, created_at, expires_at FROM api_tokens WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.read)
                .await
                .map_err(db_error)?
                .ok_or_else(|| Error::not_found(format!("token '{id}' does not exist")))?;
        row_to_token(&row)
    }

    async fn delete_token(&self, id: &str) -> Result<()> {
        let result = sqlx::query("DELETE FROM api_tokens WHERE id = $1")
            .bind(id)
            .execute(&self.write)
            .await
            .map_err(db_error)?;
        found(result.rows_affected(), || format!("token '{id}' does not exist"))
    }

    async fn create_session(&self, session: &Session) -> Result<()> {
        // Expired sessions are swept as new ones are made.
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(session.created_at)
            .execute(&self.write)
            .await
            .map_err(db_error)?;
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_name, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(session.id_hash.as_str())
        .bind(session.user.as_str())
        .bind(session.csrf_token.as_str())
        .bind(session.created_at)
        .bind(session.expires_at)
        .execute(&self.write)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn find_session(&self, id_hash: &str, now: Millis) -> Result<Option<(Session, User)>> {
        let row = sqlx::query(
            "SELECT s.id_hash, s.user_name, s.csrf_token, s.created_at, s.expires_at, u.name, u.is_admin, \
                    u.created_at AS user_created_at \
             FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.id_hash = $1 AND s.expires_at > $2",
        )
        .bind(id_hash)
        .bind(now)
        .fetch_optional(&self.read)
        .await
        .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        let user = row_to_user_columns(&row, "user_created_at")?;
        let session = Session {
            id_hash: row.try_get("id_hash").map_err(db_error)?,
            user: user.name.clone(),
            csrf_token: row.try_get("csrf_token").map_err(db_error)?,
            created_at: row.try_get("created_at").map_err(db_error)?,
            expires_at: row.try_get("expires_at").map_err(db_error)?,
        };
        Ok(Some((session, user)))
    }

    async fn delete_session(&self, id_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.write)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn experiment_stats(&self, workspace: &WorkspaceName) -> Result<Vec<ExperimentStats>> {
        let rows = sqlx::query(
            "SELECT experiment_id, COUNT(*) AS runs, MAX(start_time) AS last_start FROM runs \
             WHERE workspace = $1 AND lifecycle_stage = 'active' GROUP BY experiment_id",
        )
        .bind(workspace.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                Ok(ExperimentStats {
                    experiment_id: row.try_get("experiment_id").map_err(db_error)?,
                    runs: row.try_get("runs").map_err(db_error)?,
                    last_run_start: row.try_get("last_start").map_err(db_error)?,
                })
            })
            .collect()
    }

    async fn assign_role(&self, workspace: &WorkspaceName, user: &UserName, role: Role) -> Result<()> {
        sqlx::query(
            "INSERT INTO role_assignments (workspace, user_name, role) VALUES ($1, $2, $3) \
             ON CONFLICT (workspace, user_name) DO UPDATE SET role = excluded.role",
        )
        .bind(workspace.as_str())
        .bind(user.as_str())
        .bind(role.as_str())
        .execute(&self.write)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn remove_role(&self, workspace: &WorkspaceName, user: &UserName) -> Result<()> {
        let result = sqlx::query("DELETE FROM role_assignments WHERE workspace = $1 AND user_name = $2")
            .bind(workspace.as_str())
            .bind(user.as_str())
            .execute(&self.write)
            .await
            .map_err(db_error)?;
        found(result.rows_affected(), || format!("user '{user}' has no role on workspace '{workspace}'"))
    }

    async fn get_role(&self, workspace: &WorkspaceName, user: &UserName) -> Result<Option<Role>> {
        let row = sqlx::query("SELECT role FROM role_assignments WHERE workspace = $1 AND user_name = $2")
            .bind(workspace.as_str())
            .bind(user.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?;
        match row {
            None => Ok(None),
            Some(row) => {
                let role: String = row.try_get("role").map_err(db_error)?;
                Ok(Some(Role::parse(&role).map_err(|_| Error::internal(format!("stored role '{role}' is invalid")))?))
            }
        }
    }

    async fn list_roles(&self, workspace: &WorkspaceName) -> Result<Vec<(UserName, Role)>> {
        let rows = sqlx::query("SELECT user_name, role FROM role_assignments WHERE workspace = $1 ORDER BY user_name")
            .bind(workspace.as_str())
            .fetch_all(&self.read)
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                let user: String = row.try_get("user_name").map_err(db_error)?;
                let role: String = row.try_get("role").map_err(db_error)?;
                Ok((
                    UserName::parse(&user).map_err(|_| Error::internal("stored user name is invalid"))?,
                    Role::parse(&role).map_err(|_| Error::internal("stored role is invalid"))?,
                ))
            })
            .collect()
    }

    async fn create_experiment(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        artifact_root: &str,
        tags: &[Tag],
        now: Millis,
    ) -> Result<ExperimentId> {
        let mut transaction = self.write.begin().await.map_err(db_error)?;
        let existing = sqlx::query("SELECT lifecycle_stage FROM experiments WHERE workspace = $1 AND name = $2")
            .bind(workspace.as_str())
            .bind(name)
            .fetch_optional(&mut *transaction)
            .await
            .map_err(db_error)?;
        if let Some(row) = existing {
            let stage: String = row.try_get("lifecycle_stage").map_err(db_error)?;
            let hint = if stage == "deleted" { " in the deleted state; restore it or use another name" } else { "" };
            return Err(Error::already_exists(format!("experiment '{name}' already exists{hint}")));
        }
        // The row lock on the workspace serializes id allocation on PostgreSQL.
        let row = sqlx::query(
            "UPDATE workspaces SET next_experiment_id = next_experiment_id + 1 WHERE name = $1 RETURNING next_experiment_id",
        )
        .bind(workspace.as_str())
        .fetch_optional(&mut *transaction)
        .await
        .map_err(db_error)?
        .ok_or_else(|| Error::not_found(format!("workspace '{workspace}' does not exist")))?;
        let experiment_id: i64 = row.try_get::<i64, _>("next_experiment_id").map_err(db_error)? - 1;
        sqlx::query(
            "INSERT INTO experiments (workspace, experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) \
             VALUES ($1, $2, $3, $4, 'active', $5, $5)",
        )
        .bind(workspace.as_str())
        .bind(experiment_id)
        .bind(name)
        .bind(format!("{artifact_root}/{experiment_id}"))
        .bind(now)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        for tag in tags {
            sqlx::query(
                "INSERT INTO experiment_tags (workspace, experiment_id, key, value) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (workspace, experiment_id, key) DO UPDATE SET value = excluded.value",
            )
            .bind(workspace.as_str())
            .bind(experiment_id)
            .bind(tag.key.as_str())
            .bind(tag.value.as_str())
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
        }
        transaction.commit().await.map_err(db_error)?;
        Ok(experiment_id)
    }

    async fn get_experiment(&self, workspace: &WorkspaceName, id: ExperimentId) -> Result<Experiment> {
        let row = sqlx::query("SELECT * FROM experiments WHERE workspace = $1 AND experiment_id = $2")
            .bind(workspace.as_str())
            .bind(id)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(format!("no experiment with id={id} exists")))?;
        let mut experiment = row_to_experiment(&row)?;
        experiment.tags = self.experiment_tags(workspace, &[id]).await?.remove(&id).unwrap_or_default();
        Ok(experiment)
    }

    async fn get_experiment_by_name(&self, workspace: &WorkspaceName, name: &str) -> Result<Experiment> {
        let row = sqlx::query("SELECT * FROM experiments WHERE workspace = $1 AND name = $2")
            .bind(workspace.as_str())
            .bind(name)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(format!("could not find experiment with name '{name}'")))?;
        let mut experiment = row_to_experiment(&row)?;
        let id = experiment.experiment_id;
        experiment.tags = self.experiment_tags(workspace, &[id]).await?.remove(&id).unwrap_or_default();
        Ok(experiment)
    }

    async fn search_experiments(&self, query: &ExperimentQuery<'_>) -> Result<Vec<Experiment>> {
        let (sql, binds) = search::experiment_search_sql(query)?;
        let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), &binds).fetch_all(&self.read).await.map_err(db_error)?;
        let mut experiments: Vec<Experiment> = rows.iter().map(row_to_experiment).collect::<Result<_>>()?;
        let ids: Vec<i64> = experiments.iter().map(|experiment| experiment.experiment_id).collect();
        let mut tags = self.experiment_tags(query.workspace, &ids).await?;
        for experiment in &mut experiments {
            experiment.tags = tags.remove(&experiment.experiment_id).unwrap_or_default();
        }
        Ok(experiments)
    }

    async fn rename_experiment(
        &self,
        workspace: &WorkspaceName,
        id: ExperimentId,
        name: &str,
        now: Millis,
    ) -> Result<()> {
        let mut transaction = self.write.begin().await.map_err(db_error)?;
        let taken = sqlx::query(
            "SELECT experiment_id FROM experiments WHERE workspace = $1 AND name = $2 AND experiment_id <> $3",
        )
        .bind(workspace.as_str())
        .bind(name)
        .bind(id)
        .fetch_optional(&mut *transaction)
        .await
        .map_err(db_error)?;
        if taken.is_some() {
            return Err(Error::already_exists(format!("experiment '{name}' already exists")));
        }
        let row = sqlx::query("SELECT lifecycle_stage FROM experiments WHERE workspace = $1 AND experiment_id = $2")
            .bind(workspace.as_str())
            .bind(id)
            .fetch_optional(&mut *transaction)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(format!("no experiment with id={id} exists")))?;
        let stage: String = row.try_get("lifecycle_stage").map_err(db_error)?;
        if stage != "active" {
            return Err(Error::invalid(format!("cannot rename a non-active experiment (id={id} is {stage})")));
        }
        sqlx::query(
            "UPDATE experiments SET name = $3, last_update_time = $4 WHERE workspace = $1 AND experiment_id = $2",
        )
        .bind(workspace.as_str())
        .bind(id)
        .bind(name)
        .bind(now)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        transaction.commit().await.map_err(db_error)
    }

    async fn set_experiment_stage(
        &self,
        workspace: &WorkspaceName,
        id: ExperimentId,
        stage: LifecycleStage,
        now: Millis,
    ) -> Result<()> {
        let mut transaction = self.write.begin().await.map_err(db_error)?;
        let result = sqlx::query(
            "UPDATE experiments SET lifecycle_stage = $3, last_update_time = $4 WHERE workspace = $1 AND experiment_id = $2",
        )
        .bind(workspace.as_str())
        .bind(id)
        .bind(stage.as_str())
        .bind(now)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        if result.rows_affected() == 0 {
            return Err(Error::not_found(format!("no experiment with id={id} exists")));
        }
        let deleted_time = if stage == LifecycleStage::Deleted { Some(now) } else { None };
        sqlx::query(
            "UPDATE runs SET lifecycle_stage = $3, deleted_time = $4 WHERE workspace = $1 AND experiment_id = $2",
        )
        .bind(workspace.as_str())
        .bind(id)
        .bind(stage.as_str())
        .bind(deleted_time)
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        transaction.commit().await.map_err(db_error)
    }

    async fn set_experiment_tag(&self, workspace: &WorkspaceName, id: ExperimentId, tag: &Tag) -> Result<()> {
        let mut transaction = self.write.begin().await.map_err(db_error)?;
        require_active_experiment(&mut transaction, workspace, id).await?;
        sqlx::query(
            "INSERT INTO experiment_tags (workspace, experiment_id, key, value) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (workspace, experiment_id, key) DO UPDATE SET value = excluded.value",
        )
        .bind(workspace.as_str())
        .bind(id)
        .bind(tag.key.as_str())
        .bind(tag.value.as_str())
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        transaction.commit().await.map_err(db_error)
    }

    async fn delete_experiment_tag(&self, workspace: &WorkspaceName, id: ExperimentId, key: &str) -> Result<()> {
        self.get_experiment(workspace, id).await?;
        let result =
            sqlx::query("DELETE FROM experiment_tags WHERE workspace = $1 AND experiment_id = $2 AND key = $3")
                .bind(workspace.as_str())
                .bind(id)
                .bind(key)
                .execute(&self.write)
                .await
                .map_err(db_error)?;
        found(result.rows_affected(), || format!("no tag with name: {key} in experiment with id {id}"))
    }

    async fn create_run(&self, info: &RunInfo, tags: &[Tag]) -> Result<()> {
        let mut transaction = self.write.begin().await.map_err(db_error)?;
        insert_run(&mut transaction, info, tags).await?;
        transaction.commit().await.map_err(db_error)
    }

    async fn get_run(&self, run_id: &RunId) -> Result<Run> {
        let info = self.get_run_info(run_id).await?;
        let mut runs = self.hydrate_runs(vec![info]).await?;
        runs.pop().ok_or_else(|| Error::internal("run disappeared while loading"))
    }

    async fn get_run_info(&self, run_id: &RunId) -> Result<RunInfo> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_uuid = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(run_id.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(format!("run with id={run_id} not found")))?;
        row_to_run_info(&row)
    }

    async fn update_run(&self, run_id: &RunId, update: &RunUpdate) -> Result<RunInfo> {
        let mut transaction = self.write.begin().await.map_err(db_error)?;
        require_active_run(&mut transaction, run_id).await?;
        sqlx::query(
            "UPDATE runs SET status = COALESCE($2, status), end_time = COALESCE($3, end_time), name = COALESCE($4, name) WHERE run_uuid = $1",
        )
        .bind(run_id.as_str())
        .bind(update.status.map(RunStatus::as_str))
        .bind(update.end_time)
        .bind(update.run_name.as_deref())
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        if let Some(name) = &update.run_name {
            sqlx::query("INSERT INTO tags (run_uuid, key, value) VALUES ($1, $2, $3) ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value")
                .bind(run_id.as_str())
                .bind(RUN_NAME_TAG)
                .bind(name.as_str())
                .execute(&mut *transaction)
                .await
                .map_err(db_error)?;
        }
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_uuid = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(run_id.as_str())
            .fetch_one(&mut *transaction)
            .await
            .map_err(db_error)?;
        let info = row_to_run_info(&row)?;
        transaction.commit().await.map_err(db_error)?;
        Ok(info)
    }

    async fn set_run_stage(&self, run_id: &RunId, stage: LifecycleStage, now: Millis) -> Result<()> {
        let deleted_time = if stage == LifecycleStage::Deleted { Some(now) } else { None };
        let result = sqlx::query("UPDATE runs SET lifecycle_stage = $2, deleted_time = $3 WHERE run_uuid = $1")
            .bind(run_id.as_str())
            .bind(stage.as_str())
            .bind(deleted_time)
            .execute(&self.write)
            .await
            .map_err(db_error)?;
        found(result.rows_affected(), || format!("run with id={run_id} not found"))
    }

    async fn log_batch(&self, workspace: &WorkspaceName, run_id: &RunId, batch: Batch) -> Result<()> {
        self.writer.submit(workspace, run_id, batch).await
    }

    async fn delete_run_tag(&self, run_id: &RunId, key: &str) -> Result<()> {
        let mut transaction = self.write.begin().await.map_err(db_error)?;
        require_active_run(&mut transaction, run_id).await?;
        let result = sqlx::query("DELETE FROM tags WHERE run_uuid = $1 AND key = $2")
            .bind(run_id.as_str())
            .bind(key)
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
        if result.rows_affected() == 0 {
            return Err(Error::not_found(format!("no tag with name: {key} in run with id {run_id}")));
        }
        transaction.commit().await.map_err(db_error)
    }

    async fn log_inputs(&self, run_id: &RunId, inputs: &[DatasetInput]) -> Result<()> {
        let mut transaction = self.write.begin().await.map_err(db_error)?;
        require_active_run(&mut transaction, run_id).await?;
        let row = sqlx::query("SELECT workspace, experiment_id FROM runs WHERE run_uuid = $1")
            .bind(run_id.as_str())
            .fetch_one(&mut *transaction)
            .await
            .map_err(db_error)?;
        let workspace: String = row.try_get("workspace").map_err(db_error)?;
        let experiment_id: i64 = row.try_get("experiment_id").map_err(db_error)?;
        for input in inputs {
            let dataset = &input.dataset;
            let experiment_text = experiment_id.to_string();
            let dataset_uuid = new_uuid_like(&[&workspace, &experiment_text, &dataset.name, &dataset.digest]);
            sqlx::query(
                "INSERT INTO datasets (dataset_uuid, workspace, experiment_id, name, digest, source_type, source, dataset_schema, profile) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (workspace, experiment_id, name, digest) DO NOTHING",
            )
            .bind(dataset_uuid.as_str())
            .bind(workspace.as_str())
            .bind(experiment_id)
            .bind(dataset.name.as_str())
            .bind(dataset.digest.as_str())
            .bind(dataset.source_type.as_str())
            .bind(dataset.source.as_str())
            .bind(dataset.schema.as_deref())
            .bind(dataset.profile.as_deref())
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
            // The dataset may have existed already, under the id it was first stored with.
            let dataset_uuid: String = sqlx::query(
                "SELECT dataset_uuid FROM datasets WHERE workspace = $1 AND experiment_id = $2 AND name = $3 AND digest = $4",
            )
            .bind(workspace.as_str())
            .bind(experiment_id)
            .bind(dataset.name.as_str())
            .bind(dataset.digest.as_str())
            .fetch_one(&mut *transaction)
            .await
            .map_err(db_error)?
            .try_get("dataset_uuid")
            .map_err(db_error)?;
            let input_uuid = new_uuid_like(&[&dataset_uuid, run_id.as_str()]);
            sqlx::query(
                "INSERT INTO run_inputs (input_uuid, dataset_uuid, run_uuid) VALUES ($1, $2, $3) ON CONFLICT (dataset_uuid, run_uuid) DO NOTHING",
            )
            .bind(input_uuid.as_str())
            .bind(dataset_uuid.as_str())
            .bind(run_id.as_str())
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
            let input_uuid: String =
                sqlx::query("SELECT input_uuid FROM run_inputs WHERE dataset_uuid = $1 AND run_uuid = $2")
                    .bind(dataset_uuid.as_str())
                    .bind(run_id.as_str())
                    .fetch_one(&mut *transaction)
                    .await
                    .map_err(db_error)?
                    .try_get("input_uuid")
                    .map_err(db_error)?;
            for tag in &input.tags {
                sqlx::query(
                    "INSERT INTO input_tags (input_uuid, key, value) VALUES ($1, $2, $3) ON CONFLICT (input_uuid, key) DO UPDATE SET value = excluded.value",
                )
                .bind(input_uuid.as_str())
                .bind(tag.key.as_str())
                .bind(tag.value.as_str())
                .execute(&mut *transaction)
                .await
                .map_err(db_error)?;
            }
        }
        transaction.commit().await.map_err(db_error)
    }

    async fn get_metric_history(
        &self,
        run_id: &RunId,
        key: &str,
        limit: Option<i64>,
        offset: i64,
    ) -> Result<Vec<Metric>> {
        // Long histories cross from the database thread packed into one JSON text (see
        // `fetch_packed`), with values as their exact bits; the key is not selected, as it is
        // the one asked for.
        let inner = "SELECT step, timestamp, value_bits, id FROM metrics WHERE run_uuid = $1 AND key = $2 \
                     ORDER BY step, timestamp, id LIMIT $3 OFFSET $4";
        let binds = [
            Bind::text(run_id.as_str().to_owned()),
            Bind::text(key.to_owned()),
            Bind::Int(limit.unwrap_or(i64::MAX)),
            Bind::Int(offset),
        ];
        let points: Vec<(i64, i64, i64)> =
            self.fetch_packed(inner, &["step", "timestamp", "value_bits"], "step, timestamp, id", &binds).await?;
        Ok(points
            .into_iter()
            .map(|(step, timestamp, value_bits)| Metric {
                key: key.to_owned(),
                value: f64::from_bits(value_bits as u64),
                timestamp,
                step,
            })
            .collect())
    }

    async fn metric_points(&self, run_id: &RunId, key: &str) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT points FROM latest_metrics WHERE run_uuid = $1 AND key = $2")
            .bind(run_id.as_str())
            .bind(key)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?;
        row.map(|row| row.try_get::<i64, _>("points").map_err(db_error)).transpose()
    }

    async fn metric_points_after(&self, run_id: &RunId, key: &str, after: i64) -> Result<SeriesRead> {
        // One statement, so that the count and the points come from one snapshot; the points
        // cross from the database packed into one JSON text, as in `fetch_packed`.
        let inner = "SELECT id, step, timestamp, value_bits FROM metrics \
                     WHERE run_uuid = $1 AND key = $2 AND id > $3 ORDER BY step, timestamp, id";
        let packed = match self.dialect {
            Dialect::Sqlite => {
                format!("SELECT json_group_array(json_array(id, step, timestamp, value_bits)) FROM ({inner})")
            }
            Dialect::Postgres => format!(
                "SELECT CAST(json_agg(json_build_array(id, step, timestamp, value_bits) ORDER BY step, timestamp, id) AS TEXT) \
                 FROM ({inner}) AS packed_rows"
            ),
        };
        let sql = format!(
            "SELECT (SELECT points FROM latest_metrics WHERE run_uuid = $1 AND key = $2) AS total, ({packed}) AS packed"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(run_id.as_str())
            .bind(key)
            .bind(after)
            .fetch_one(&self.read)
            .await
            .map_err(db_error)?;
        let total: Option<i64> = row.try_get("total").map_err(db_error)?;
        let text: Option<String> = row.try_get("packed").map_err(db_error)?;
        let rows: Vec<(i64, i64, i64, i64)> = match text.as_deref() {
            None | Some("") => Vec::new(),
            Some(text) => serde_json::from_str(text)
                .map_err(|error| Error::internal(format!("unpacking metric points failed: {error}")))?,
        };
        Ok(SeriesRead {
            total: total.unwrap_or(0),
            last_mark: rows.iter().map(|row| row.0).max().unwrap_or(0),
            samples: rows
                .into_iter()
                .map(|(_, step, timestamp, bits)| Sample { step, timestamp, value: f64::from_bits(bits as u64) })
                .collect(),
        })
    }

    async fn metric_points_between(&self, run_id: &RunId, key: &str, first: i64, last: i64) -> Result<Vec<Sample>> {
        let inner = "SELECT step, timestamp, value_bits, id FROM metrics \
                     WHERE run_uuid = $1 AND key = $2 AND step >= $3 AND step <= $4 ORDER BY step, timestamp, id";
        let binds =
            [Bind::text(run_id.as_str().to_owned()), Bind::text(key.to_owned()), Bind::Int(first), Bind::Int(last)];
        let points: Vec<(i64, i64, i64)> =
            self.fetch_packed(inner, &["step", "timestamp", "value_bits"], "step, timestamp, id", &binds).await?;
        Ok(points
            .into_iter()
            .map(|(step, timestamp, bits)| Sample { step, timestamp, value: f64::from_bits(bits as u64) })
            .collect())
    }

    async fn search_runs(&self, query: &RunQuery<'_>) -> Result<Vec<Run>> {
        let (sql, binds) = search::run_search_sql(query)?;
        let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), &binds).fetch_all(&self.read).await.map_err(db_error)?;
        let infos = rows.iter().map(row_to_run_info).collect::<Result<Vec<_>>>()?;
        self.hydrate_runs(infos).await
    }

    async fn log_outputs(&self, run_id: &RunId, outputs: &[ModelOutput]) -> Result<()> {
        let mut transaction = self.write.begin().await.map_err(db_error)?;
        require_active_run(&mut transaction, run_id).await?;
        for output in outputs {
            let exists = sqlx::query("SELECT 1 FROM logged_models WHERE model_id = $1")
                .bind(output.model_id.as_str())
                .fetch_optional(&mut *transaction)
                .await
                .map_err(db_error)?;
            if exists.is_none() {
                return Err(Error::not_found(format!("logged model with id '{}' not found", output.model_id)));
            }
            sqlx::query(
                "INSERT INTO run_model_outputs (run_uuid, model_id, step) VALUES ($1, $2, $3) \
                 ON CONFLICT (run_uuid, model_id) DO UPDATE SET step = excluded.step",
            )
            .bind(run_id.as_str())
            .bind(output.model_id.as_str())
            .bind(output.step)
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
        }
        transaction.commit().await.map_err(db_error)
    }

    async fn create_logged_model(&self, model: &LoggedModel) -> Result<()> {
        let mut transaction = self.write.begin().await.map_err(db_error)?;
        require_active_experiment(&mut transaction, &model.workspace, model.experiment_id).await?;
        sqlx::query(
            "INSERT INTO logged_models (model_id, workspace, experiment_id, name, artifact_location, creation_time, \
             last_updated_time, status, status_message, lifecycle_stage, model_type, creator, source_run_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(model.model_id.as_str())
        .bind(model.workspace.as_str())
        .bind(model.experiment_id)
        .bind(model.name.as_str())
        .bind(model.artifact_location.as_str())
        .bind(model.creation_time)
        .bind(model.last_updated_time)
        .bind(model.status.as_str())
        .bind(model.status_message.as_str())
        .bind(model.lifecycle_stage.as_str())
        .bind(model.model_type.as_str())
        .bind(model.creator.as_str())
        .bind(model.source_run_id.as_deref())
        .execute(&mut *transaction)
        .await
        .map_err(db_error)?;
        for tag in &model.tags {
            upsert_model_child(&mut transaction, "logged_model_tags", &model.model_id, &tag.key, &tag.value).await?;
        }
        for param in &model.params {
            upsert_model_child(&mut transaction, "logged_model_params", &model.model_id, &param.key, &param.value)
                .await?;
        }
        transaction.commit().await.map_err(db_error)
    }

    async fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel> {
        let row = sqlx::query("SELECT * FROM logged_models WHERE model_id = $1")
            .bind(model_id)
            .fetch_optional(&self.read)
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::not_found(format!("logged model with id '{model_id}' not found")))?;
        let mut models = self.hydrate_logged_models(vec![row_to_logged_model(&row)?]).await?;
        models.pop().ok_or_else(|| Error::internal("logged model disappeared while loading"))
    }

    async fn set_logged_model_status(&self, model_id: &str, status: &str, now: Millis) -> Result<()> {
        let result = sqlx::query("UPDATE logged_models SET status = $2, last_updated_time = $3 WHERE model_id = $1")
            .bind(model_id)
            .bind(status)
            .bind(now)
            .execute(&self.write)
            .await
            .map_err(db_error)?;
        found(result.rows_affected(), || format!("logged model with id '{model_id}' not found"))
    }

    async fn set_logged_model_tags(&self, model_id: &str, tags: &[Tag], now: Millis) -> Result<()> {
        let mut transaction = self.write.begin().await.map_err(db_error)?;
        let result = sqlx::query("UPDATE logged_models SET last_updated_time = $2 WHERE model_id = $1")
            .bind(model_id)
            .bind(now)
            .execute(&mut *transaction)
            .await
            .map_err(db_error)?;
        if result.rows_affected() == 0 {
            return Err(Error::not_found(format!("logged model with id '{model_id}' not found")));
        }
        for tag in tags {
            upsert_model_child(&mut transaction, "logged_model_tags", model_id, &tag.key, &tag.value).await?;
        }
        transaction.commit().await.map_err(db_error)
    }

    async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()> {
        let result = sqlx::query("DELETE FROM logged_model_tags WHERE model_id = $1 AND key = $2")
            .bind(model_id)
            .bind(key)
            .execute(&self.write)
            .await
            .map_err(db_error)?;
        found(result.rows_affected(), || format!("no tag with key '{key}' on logged model '{model_id}'"))
    }

    async fn log_logged_model_params(&self, model_id: &str, params: &[Param]) -> Result<()> {
        let mut transaction = self.write.begin().await.map_err(db_error)?;
        let exists = sqlx::query("SELECT 1 FROM logged_models WHERE model_id = $1")
            .bind(model_id)
            .fetch_optional(&mut *transaction)
            .await
            .map_err(db_error)?;
        if exists.is_none() {
            return Err(Error::not_found(format!("logged model with id '{model_id}' not found")));
        }
        for param in params {
            upsert_model_child(&mut transaction, "logged_model_params", model_id, &param.key, &param.value).await?;
        }
        transaction.commit().await.map_err(db_error)
    }

    async fn delete_logged_model(&self, model_id: &str, now: Millis) -> Result<()> {
        let result = sqlx::query(
            "UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_time = $2 WHERE model_id = $1",
        )
        .bind(model_id)
        .bind(now)
        .execute(&self.write)
        .await
        .map_err(db_error)?;
        found(result.rows_affected(), || format!("logged model with id '{model_id}' not found"))
    }

    async fn search_logged_models(&self, query: &LoggedModelQuery<'_>) -> Result<Vec<LoggedModel>> {
        let (sql, binds) = search::logged_model_search_sql(query)?;
        let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), &binds).fetch_all(&self.read).await.map_err(db_error)?;
        let models = rows.iter().map(row_to_logged_model).collect::<Result<Vec<_>>>()?;
        self.hydrate_logged_models(models).await
    }
}

/// Inserts or replaces a key/value row of a logged model's `table` (tags or params). The table
/// name comes from the two callers' constants, never from a request.
async fn upsert_model_child(
    connection: &mut sqlx::AnyConnection,
    table: &'static str,
    model_id: &str,
    key: &str,
    value: &str,
) -> Result<()> {
    let sql = format!(
        "INSERT INTO {table} (model_id, key, value) VALUES ($1, $2, $3) ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value"
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(model_id)
        .bind(key)
        .bind(value)
        .execute(&mut *connection)
        .await
        .map_err(db_error)?;
    Ok(())
}

fn row_to_logged_model(row: &AnyRow) -> Result<LoggedModel> {
    let stage: String = row.try_get("lifecycle_stage").map_err(db_error)?;
    Ok(LoggedModel {
        model_id: row.try_get("model_id").map_err(db_error)?,
        workspace: workspace_name(row.try_get("workspace").map_err(db_error)?)?,
        experiment_id: row.try_get("experiment_id").map_err(db_error)?,
        name: row.try_get("name").map_err(db_error)?,
        artifact_location: row.try_get("artifact_location").map_err(db_error)?,
        creation_time: row.try_get("creation_time").map_err(db_error)?,
        last_updated_time: row.try_get("last_updated_time").map_err(db_error)?,
        status: row.try_get("status").map_err(db_error)?,
        status_message: row.try_get("status_message").map_err(db_error)?,
        lifecycle_stage: stage_from(&stage)?,
        model_type: row.try_get("model_type").map_err(db_error)?,
        source_run_id: row.try_get("source_run_id").map_err(db_error)?,
        creator: row.try_get("creator").map_err(db_error)?,
        tags: Vec::new(),
        params: Vec::new(),
    })
}

pub(crate) fn push_metric_binds<'a>(binds: &mut Vec<Bind<'a>>, run_id: &'a RunId, metric: &'a Metric) {
    let is_nan = metric.value.is_nan();
    binds.push(Bind::text(run_id.as_str()));
    binds.push(Bind::text(metric.key.as_str()));
    binds.push(Bind::Int(metric.step));
    binds.push(Bind::Int(metric.timestamp));
    // SQLite stores NaN as NULL, so NaN is kept as a flag with a zero value, as MLflow does.
    binds.push(Bind::Float(if is_nan { 0.0 } else { metric.value }));
    binds.push(Bind::Int(bool_to_int(is_nan)));
    binds.push(Bind::Int(metric.value.to_bits() as i64));
}

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

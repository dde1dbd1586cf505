//! [`SqlStore`]: the [`Store`] over sqlx's `AnyPool`, for SQLite and PostgreSQL. This file holds
//! the type, its connection pools and the migrations; each part of the contract (`AccessStore`,
//! `TrackingStore`, …) is implemented in its own module, on top of `dialect.rs` (placeholders,
//! binds, errors) and `rows.rs` (row mapping).

use crate::Store;
use crate::dialect::{Dialect, db_error};
use crate::points::PointReader;
use crate::writer::{BatchWriter, WriteGate};
use atelier_core::{Error, Result};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, AssertSqlSafe, Connection, Executor, Row};
use std::time::Duration;

/// The SQL store. Reads go to `read`; writes go to `write`, which for SQLite is a pool of one
/// connection so that writers queue in the process instead of failing with "database is locked".
/// SQLite's batch writer has a connection of its own, and takes turns with `write` through
/// `gate`.
#[derive(Clone)]
pub struct SqlStore {
    pub(crate) read: AnyPool,
    pub(crate) write: AnyPool,
    dialect: Dialect,
    /// Groups concurrent `log_batch` requests into shared transactions.
    pub(crate) writer: BatchWriter,
    /// SQLite's long reads of metric points, on connections of their own (`None` on
    /// PostgreSQL).
    pub(crate) points: Option<PointReader>,
    /// SQLite's turns between `write` and the batch writer (`None` on PostgreSQL).
    gate: Option<WriteGate>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password, so it is not kept or printed.
        f.debug_struct("SqlStore").field("dialect", &self.dialect).finish()
    }
}

fn migrate_error(error: sqlx::migrate::MigrateError) -> Error {
    Error::internal(format!("database migration failed: {error}"))
}

/// How long a PostgreSQL connection may have been idle and still be lent without a ping.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

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
                        // A connection to a local file cannot break between uses: no ping (a
                        // round trip to its worker thread) before each acquire.
                        .test_before_acquire(false)
                        .after_connect(|connection, _| {
                            Box::pin(async move {
                                connection.execute(SQLITE_PRAGMAS).await?;
                                Ok(())
                            })
                        })
                };
                let file = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(url)
                    .map_err(db_error)?
                    .get_filename()
                    .to_path_buf();
                if file.as_os_str().is_empty() || file.as_os_str() == ":memory:" {
                    return Err(Error::invalid(
                        "an SQLite store in memory is not supported (each of its connections would see a \
                         database of its own): give a file, sqlite://PATH"
                            .to_owned(),
                    ));
                }
                // The writer connects first so that the database file exists, in WAL mode,
                // before any reader opens it; the batch writer's connection opens once the
                // schema is there.
                let write = sqlite_options(1).connect(url).await.map_err(db_error)?;
                migrator(dialect).run(&write).await.map_err(migrate_error)?;
                let read = sqlite_options(8).connect(url).await.map_err(db_error)?;
                let gate = WriteGate::new(tokio::sync::Mutex::new(open_batch_connection(&file)?));
                SqlStore {
                    read,
                    writer: BatchWriter::start_sqlite(gate.clone())?,
                    write,
                    dialect,
                    points: Some(PointReader::new(file)),
                    gate: Some(gate),
                }
            }
            Dialect::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(60))
                    // sqlx pings every connection it lends by default: one more round trip to
                    // PostgreSQL for each statement outside a transaction, a quarter of a lone
                    // `log_metric`'s. A connection in use within the last second is lent as it
                    // is; one idle longer is pinged first, and one that does not answer (the
                    // server restarted) is closed and another opened.
                    .test_before_acquire(false)
                    .before_acquire(|connection, metadata| {
                        Box::pin(async move {
                            if metadata.idle_for >= PING_AFTER_IDLE {
                                connection.ping().await?;
                            }
                            Ok(true)
                        })
                    })
                    .connect(url)
                    .await
                    .map_err(db_error)?;
                migrator(dialect).run(&pool).await.map_err(migrate_error)?;
                SqlStore {
                    read: pool.clone(),
                    writer: BatchWriter::start_postgres(pool.clone()),
                    write: pool,
                    dialect,
                    points: None,
                    gate: None,
                }
            }
        };
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

    /// How many rows the schema's table `table` holds; the test suite checks with it that
    /// nothing is left behind. Any other name is refused, never put into the statement.
    pub async fn count_rows(&self, table: &str) -> Result<i64> {
        if !self.table_columns().await?.iter().any(|(known, _)| known == table) {
            return Err(Error::invalid(format!("no table named '{table}'")));
        }
        let sql = format!("SELECT COUNT(*) AS n FROM {table}");
        let row = sqlx::query(AssertSqlSafe(sql)).fetch_one(&self.read).await.map_err(db_error)?;
        row.try_get("n").map_err(db_error)
    }

    /// Begins a write transaction, whose commit carries the request's audit record.
    ///
    /// On SQLite it waits for its turn with the batch writer and begins `IMMEDIATE`: holding the
    /// write lock from the start, it never has to upgrade a read, which fails at once (not after
    /// a wait) when the other connection has committed since.
    pub(crate) async fn begin_write(&self) -> Result<WriteTx> {
        let turn = self.turn().await;
        let transaction = match self.dialect {
            Dialect::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await,
            Dialect::Postgres => self.write.begin().await,
        };
        Ok(WriteTx { transaction: transaction.map_err(db_error)?, dialect: self.dialect, _turn: turn })
    }

    /// On SQLite, waits for the write connection's turn with the batch writer, kept until the
    /// guard is dropped; on PostgreSQL, nothing.
    pub(crate) async fn turn(&self) -> Option<tokio::sync::OwnedMutexGuard<rusqlite::Connection>> {
        match &self.gate {
            Some(gate) => Some(gate.clone().lock_owned().await),
            None => None,
        }
    }

    /// Runs one state-changing statement as its own transaction, with the request's audit
    /// record when it changed a row; a statement that changed nothing commits nothing, so no
    /// record describes a change that did not happen.
    pub(crate) async fn execute_write<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> Result<sqlx::any::AnyQueryResult> {
        let mut transaction = self.begin_write().await?;
        let result = query.execute(&mut *transaction).await.map_err(db_error)?;
        if result.rows_affected() > 0 {
            transaction.commit().await?;
        }
        Ok(result)
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

/// A write transaction of the store. Committing it appends the current request's audit record
/// in the same transaction when the request is a state-changing call not yet recorded (see
/// [`crate::audit`]); dropping it rolls everything back.
pub(crate) struct WriteTx {
    transaction: sqlx::Transaction<'static, sqlx::Any>,
    dialect: Dialect,
    /// SQLite's turn, given back after the transaction ends (fields drop in order).
    _turn: Option<tokio::sync::OwnedMutexGuard<rusqlite::Connection>>,
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::AnyConnection;

    fn deref(&self) -> &Self::Target {
        &self.transaction
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.transaction
    }
}

impl WriteTx {
    /// Commits the change, with the request's audit record.
    pub(crate) async fn commit(mut self) -> Result<()> {
        let taken = crate::audit::take_for_commit();
        if let Some((context, record)) = &taken
            && let Err(error) = crate::audit::append(&mut self.transaction, self.dialect, &[&**record]).await
        {
            crate::audit::give_back(context);
            return Err(error);
        }
        if let Err(error) = self.transaction.commit().await {
            if let Some((context, _)) = &taken {
                crate::audit::give_back(context);
            }
            return Err(db_error(error));
        }
        Ok(())
    }
}

/// The batch writer's own connection to the SQLite file, set as the pool's connections are.
fn open_batch_connection(file: &std::path::Path) -> Result<rusqlite::Connection> {
    let opened = rusqlite::Connection::open_with_flags(
        file,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .and_then(|connection| {
        connection.execute_batch(SQLITE_PRAGMAS)?;
        // After the pragmas, whose `wal_autocheckpoint` sets SQLite's own hook: this one
        // checkpoints at the same size, but never on an async thread.
        connection.wal_hook(Some(crate::writer::checkpoint_when_due));
        // A group's statements differ only with its size: a `log_metric`'s are always the same.
        connection.set_prepared_statement_cache_capacity(64);
        Ok(connection)
    });
    opened.map_err(|error| Error::internal(format!("opening the metadata store's writer connection failed: {error}")))
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
    (12, "token scope", include_str!("../migrations/sqlite/0012_token_scope.sql")),
    (13, "roles", include_str!("../migrations/sqlite/0013_roles.sql")),
    (14, "audit", include_str!("../migrations/sqlite/0014_audit.sql")),
    (15, "user disabled", include_str!("../migrations/sqlite/0015_user_disabled.sql")),
    (16, "sign-in requests", include_str!("../migrations/sqlite/0016_sign_in_requests.sql")),
    (17, "sweeps", include_str!("../migrations/sqlite/0017_sweeps.sql")),
    (18, "components", include_str!("../migrations/sqlite/0018_components.sql")),
    (19, "pipelines", include_str!("../migrations/sqlite/0019_pipelines.sql")),
    (20, "schedules", include_str!("../migrations/sqlite/0020_schedules.sql")),
    (21, "clusters", include_str!("../migrations/sqlite/0021_clusters.sql")),
    (22, "run children without rowid", include_str!("../migrations/sqlite/0022_run_children_without_rowid.sql")),
    (23, "series summaries", include_str!("../migrations/sqlite/0023_series_summaries.sql")),
    (24, "metric series", include_str!("../migrations/sqlite/0024_metric_series.sql")),
    (25, "compute instances", include_str!("../migrations/sqlite/0025_compute_instances.sql")),
    (26, "series summary points", include_str!("../migrations/sqlite/0026_series_summary_points.sql")),
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
    (12, "token scope", include_str!("../migrations/postgres/0012_token_scope.sql")),
    (13, "roles", include_str!("../migrations/postgres/0013_roles.sql")),
    (14, "audit", include_str!("../migrations/postgres/0014_audit.sql")),
    (15, "user disabled", include_str!("../migrations/postgres/0015_user_disabled.sql")),
    (16, "sign-in requests", include_str!("../migrations/postgres/0016_sign_in_requests.sql")),
    (17, "sweeps", include_str!("../migrations/postgres/0017_sweeps.sql")),
    (18, "components", include_str!("../migrations/postgres/0018_components.sql")),
    (19, "pipelines", include_str!("../migrations/postgres/0019_pipelines.sql")),
    (20, "schedules", include_str!("../migrations/postgres/0020_schedules.sql")),
    (21, "clusters", include_str!("../migrations/postgres/0021_clusters.sql")),
    (22, "run search indexes", include_str!("../migrations/postgres/0022_run_search_indexes.sql")),
    (23, "series summaries", include_str!("../migrations/postgres/0023_series_summaries.sql")),
    (24, "metric series", include_str!("../migrations/postgres/0024_metric_series.sql")),
    (25, "compute instances", include_str!("../migrations/postgres/0025_compute_instances.sql")),
    (26, "series summary points", include_str!("../migrations/postgres/0026_series_summary_points.sql")),
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

/// The whole contract: `SqlStore` implements each part in its module.
impl Store for SqlStore {}

use atelier_core::model::*;
use atelier_core::names::WorkspaceName;
use atelier_store::{AccessStore, SqlStore};
use std::collections::BTreeMap;

pub const ARTIFACT_ROOT: &str = "mlflow-artifacts:";

/// A store under test, with what it needs to clean up after itself.
pub struct TestStore {
    pub store: SqlStore,
    /// Where it is, for tests that go around the store.
    pub url: String,
    _folder: Option<tempfile::TempDir>,
    pg_cleanup: Option<(String, String)>,
}

impl std::ops::Deref for TestStore {
    type Target = SqlStore;
    fn deref(&self) -> &SqlStore {
        &self.store
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Some((admin_url, database)) = self.pg_cleanup.take() {
            // Best effort: a leftover test database is harmless.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                runtime.block_on(async {
                    use sqlx::Connection;
                    if let Ok(mut connection) = sqlx::AnyConnection::connect(&admin_url).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
                        )))
                        .execute(&mut connection)
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

pub async fn sqlite() -> Option<TestStore> {
    let folder = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", folder.path().join("test.db").display());
    let store = SqlStore::connect(&url).await.unwrap();
    Some(TestStore { store, url, _folder: Some(folder), pg_cleanup: None })
}

pub async fn postgres() -> Option<TestStore> {
    let Ok(admin_url) = std::env::var("ATELIER_TEST_PG_URL") else {
        if std::env::var_os("CI").is_some() {
            panic!("ATELIER_TEST_PG_URL is not set: the PostgreSQL conformance tests must run in CI");
        }
        eprintln!("skipping: ATELIER_TEST_PG_URL is not set");
        return None;
    };
    sqlx::any::install_default_drivers();
    let random: u64 = rand_u64();
    let database = format!("atelier_t_{random:016x}");
    {
        use sqlx::Connection;
        let mut connection = sqlx::AnyConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|error| panic!("cannot connect to ATELIER_TEST_PG_URL={admin_url:?}: {error}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}"))).execute(&mut connection).await.unwrap();
    }
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    let url = format!("{base}/{database}");
    let store = SqlStore::connect(&url).await.unwrap();
    Some(TestStore { store, url, _folder: None, pg_cleanup: Some((admin_url, database)) })
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    hasher.finish()
}

pub fn ws(name: &str) -> WorkspaceName {
    WorkspaceName::parse(name).unwrap()
}

pub async fn with_workspace(store: &SqlStore, name: &str) -> WorkspaceName {
    let workspace =
        Workspace { name: ws(name), description: String::new(), tags: BTreeMap::new(), created_at: 1, updated_at: 1 };
    store.create_workspace(&workspace, ARTIFACT_ROOT).await.unwrap();
    workspace.name
}

pub fn run_info(
    workspace: &WorkspaceName,
    experiment_id: ExperimentId,
    id_byte: u8,
    name: &str,
    start: i64,
) -> RunInfo {
    let run_id = RunId::from_random([id_byte; 16]);
    RunInfo {
        artifact_uri: format!("{ARTIFACT_ROOT}/{experiment_id}/{run_id}/artifacts"),
        run_id,
        workspace: workspace.clone(),
        experiment_id,
        run_name: name.to_owned(),
        user_id: "tester".to_owned(),
        status: RunStatus::Running,
        start_time: Some(start),
        end_time: None,
        lifecycle_stage: LifecycleStage::Active,
    }
}

pub fn metric(key: &str, value: f64, step: i64, timestamp: i64) -> Metric {
    Metric { key: key.to_owned(), value, timestamp, step }
}

/// Expands each named test once per backend: `sqlite::<name>` and `postgres::<name>`, each
/// calling `<name>(&store)` of the module that invokes it.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(store) = crate::common::sqlite().await {
                        super::$name(&store).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(store) = crate::common::postgres().await {
                        super::$name(&store).await;
                    }
                }
            )*
        }
    };
}
pub(crate) use conformance;

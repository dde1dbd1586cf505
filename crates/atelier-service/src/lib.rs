//! Atelier's service layer: every operation the APIs, the CLI and the studio perform, and the one
//! place where authorization is decided.
//!
//! The decision that shaped this crate: an operation takes the caller ([`Principal`]) and the
//! workspace it acts in, names its [`Action`], and calls [`Service::authorize`] before it reads or
//! writes anything. Handlers never check permissions themselves, and the MLflow adapter and the
//! native API call the same functions, so they cannot disagree.

mod auth;
mod data;
mod datastores;
mod environments;
mod gc;
mod logged_models;
mod names;
mod registry;
mod series;
mod sessions;
mod tracking;
mod uploads;

pub use auth::{BootstrapSecrets, NewToken};
pub use data::{DataAssetUpdate, NewDataAsset};
pub use datastores::NewDatastore;
pub use environments::{EnvironmentBuild, EnvironmentBuilder, NewEnvironment};
pub use gc::GcReport;
pub use logged_models::{LoggedModelSearch, NewLoggedModel};
pub use registry::{ModelVersionUpdate, NewModelVersion, RegistrySearch};
pub use series::MetricView;
pub use sessions::{ExperimentSummary, NewSession, SESSION_LIFETIME_MILLIS, StudioSession};
pub use tracking::{ArtifactEntry, ExperimentSearch, LoggedRun, RunSearch, StepInterval, parse_experiment_id};

use atelier_blob::BlobStore;
use atelier_core::authz::{Action, role_permits};
use atelier_core::model::Millis;
use atelier_core::names::{UserName, WorkspaceName};
use atelier_core::{Error, Result};
use atelier_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Who is calling: a signed-in user. Server admins may do anything; everyone else acts through
/// their role on each workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: UserName,
    pub is_admin: bool,
}

/// The service: the store, the blob store, and small caches.
pub struct Service {
    store: Arc<dyn Store>,
    blobs: BlobStore,
    /// Recently verified basic-auth credentials, keyed by user, holding a SHA-256 of the
    /// password, so that argon2 runs once per user every few minutes and not on every request.
    password_cache: Mutex<HashMap<String, ([u8; 32], Instant)>>,
    /// Short-lived answers of the store to the questions every request asks.
    auth_cache: AuthCache,
    /// Summaries of long metric series, for charts.
    series_cache: series::SeriesCache,
    /// The key that seals datastore credentials; without one, credentials are refused.
    master_key: Option<[u8; 32]>,
    /// Builds environments; without one, builds are refused.
    environments: Option<environments::EnvironmentBuilder>,
    /// Whether an environment with an image is refused rather than run on the host.
    refuse_images: bool,
}

/// How long an answer about tokens, roles and workspaces is reused. Changes made through this
/// server clear the cache at once; with several replicas on one PostgreSQL, another replica's
/// change (a revoked token, a removed role) takes effect here within this time.
const AUTH_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);
const AUTH_CACHE_MAX_ENTRIES: usize = 10_000;

/// A map whose entries expire after [`AUTH_CACHE_TTL`].
struct TtlMap<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K: std::hash::Hash + Eq, V: Clone> TtlMap<K, V> {
    fn new() -> Self {
        TtlMap { entries: Mutex::new(HashMap::new()) }
    }

    fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        entries.get(key).filter(|(_, stored_at)| stored_at.elapsed() < AUTH_CACHE_TTL).map(|(value, _)| value.clone())
    }

    fn insert(&self, key: K, value: V) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= AUTH_CACHE_MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(key, (value, Instant::now()));
        }
    }

    fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

struct AuthCache {
    /// Token hash → (principal, expiry).
    tokens: TtlMap<String, (Principal, Option<Millis>)>,
    /// (workspace, user) → role.
    roles: TtlMap<(String, String), Option<atelier_core::authz::Role>>,
    /// Workspaces known to exist.
    workspaces: TtlMap<String, ()>,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|duration| duration.as_millis() as i64)
        .unwrap_or_default()
}

impl Service {
    pub fn new(store: Arc<dyn Store>, blobs: BlobStore) -> Self {
        Service {
            store,
            blobs,
            password_cache: Mutex::new(HashMap::new()),
            auth_cache: AuthCache { tokens: TtlMap::new(), roles: TtlMap::new(), workspaces: TtlMap::new() },
            series_cache: series::SeriesCache::default(),
            master_key: None,
            environments: None,
            refuse_images: false,
        }
    }

    /// Gives the service an environment builder.
    pub fn with_environment_builder(mut self, builder: environments::EnvironmentBuilder) -> Self {
        self.environments = Some(builder);
        self
    }

    /// Makes environments that name an image fail to build, instead of running on the host
    /// with a warning (no container runtime is configured).
    pub fn refusing_images(mut self, refuse: bool) -> Self {
        self.refuse_images = refuse;
        self
    }

    /// Gives the service the key that seals datastore credentials.
    pub fn with_master_key(mut self, key: [u8; 32]) -> Self {
        self.master_key = Some(key);
        self
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Decides whether `principal` may perform `action` on `workspace`. Every operation calls
    /// this before touching data; it is the only place a permission is decided.
    ///
    /// A workspace that does not exist is reported as not found to those allowed to know, and as
    /// forbidden to others, so that names of workspaces do not leak.
    pub async fn authorize(&self, principal: &Principal, workspace: &WorkspaceName, action: Action) -> Result<()> {
        if principal.is_admin {
            if action != Action::ServerAdmin && self.auth_cache.workspaces.get(&workspace.to_string()).is_none() {
                self.store.get_workspace(workspace).await?;
                self.auth_cache.workspaces.insert(workspace.to_string(), ());
            }
            return Ok(());
        }
        if action == Action::ServerAdmin {
            return Err(Error::permission_denied(format!(
                "user '{}' may not perform '{}': it needs a server administrator",
                principal.user,
                action.as_str()
            )));
        }
        let cache_key = (workspace.to_string(), principal.user.to_string());
        let role = match self.auth_cache.roles.get(&cache_key) {
            Some(role) => role,
            None => {
                let role = self.store.get_role(workspace, &principal.user).await?;
                self.auth_cache.roles.insert(cache_key, role);
                role
            }
        };
        match role {
            Some(role) if role_permits(role, action) => Ok(()),
            Some(role) => Err(Error::permission_denied(format!(
                "user '{}' has role {} on workspace '{workspace}', which does not permit '{}'",
                principal.user,
                role.as_str(),
                action.as_str()
            ))),
            None => Err(Error::permission_denied(format!(
                "user '{}' has no role on workspace '{workspace}'",
                principal.user
            ))),
        }
    }

    /// Authorizes a server-wide action (not tied to a workspace).
    pub fn authorize_server(&self, principal: &Principal, action: Action) -> Result<()> {
        if principal.is_admin {
            return Ok(());
        }
        Err(Error::permission_denied(format!(
            "user '{}' may not perform '{}': it needs a server administrator",
            principal.user,
            action.as_str()
        )))
    }

    /// Forgets cached answers about roles and workspaces, after they change.
    pub(crate) fn forget_access(&self) {
        self.auth_cache.roles.clear();
        self.auth_cache.workspaces.clear();
    }

    pub(crate) fn blobs(&self) -> &BlobStore {
        &self.blobs
    }
}

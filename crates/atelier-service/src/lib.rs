//! Atelier's service layer: every operation the APIs, the CLI and the studio perform, and the one
//! place where authorization is decided.
//!
//! The decision that shaped this crate: an operation takes the caller ([`Principal`]) and the
//! workspace it acts in, names its [`Action`], and calls [`Service::authorize`] before it reads or
//! writes anything. Handlers never check permissions themselves, and the MLflow adapter and the
//! native API call the same functions, so they cannot disagree.

mod archives;
mod audit_log;
mod auth;
mod backends;
mod components;
mod compute;
mod confinement;
mod data;
mod datastores;
mod endpoints;
mod environments;
mod gc;
mod instance_reconcile;
mod instances;
mod jobs;
mod leadership;
mod logged_models;
mod metric_history;
mod names;
mod oidc;
mod paths;
mod registry;
mod roles;
mod schedules;
mod series;
mod serving;
mod sessions;
mod throttle;
mod tracking;
mod uploads;
mod versions;

pub use archives::Archive;
pub use atelier_store::audit;
pub use audit_log::MAX_AUDIT_PAGE;
pub use auth::{BootstrapSecrets, NewToken};
pub use backends::{BackendJob, ComputeBackend, JobShape, Launched, Phase, Placement, Refusal, Submitted};
pub use components::ComponentSubmission;
pub use compute::{ComputeView, NewCompute};
pub use confinement::{Confinement, Exposure, JobUser};
pub use data::{DataAssetUpdate, NewDataAsset};
pub use datastores::NewDatastore;
pub use endpoints::{
    Credentials, DeploymentSubmission, ENDPOINT_TOKEN_LIFETIME_MILLIS, EndpointUpdate, ScoringAuth, ServedEndpoint,
    key_digest,
};
pub use environments::{EnvironmentBuild, EnvironmentBuilder, NewEnvironment, inheritable_variable};
pub use gc::GcReport;
pub use instances::{
    INSTANCE_REQUIREMENTS, InstanceDefinition, InstanceHost, InstanceLaunch, InstancePlace, InstanceProcess,
    InstanceRun, InstanceScripts, InstanceView, JupyterConnection, STOP_GRACE_SECONDS, ScriptText, instance_folder,
};
pub use jobs::{
    BEST_TRIAL_TAG, JobControl, JobFilter, JobSubmission, PipelineView, SNAPSHOT_LIMIT_BYTES, STD_LOG, StatusReport,
    StepUpload, SweepView, TrialView,
};
pub use leadership::{LEASE_FOR, RENEW_EVERY};
pub use logged_models::{LoggedModelSearch, NewLoggedModel};
pub use metric_history::{MetricHistory, StepInterval};
pub use oidc::{DeviceSignIn, GroupRoles, Oidc, OidcSettings, SignInStart, constant_time_eq, safe_next};
pub use registry::{ModelVersionUpdate, NewModelVersion, RegistrySearch};
pub use roles::RoleView;
pub use schedules::{FIRE_TIME_TAG, SCHEDULE_TAG, ScheduleSubmission, ScheduleView};
pub use series::MetricView;
pub use serving::{EndpointFilter, LogKind, PortFuture, ServingPort};
pub use sessions::{ExperimentSummary, NewSession, SESSION_LIFETIME_MILLIS, StudioSession};
pub use tracking::{ArtifactEntry, ExperimentSearch, LoggedRun, RunSearch, parse_experiment_id};
pub use versions::{AssetWithFiles, VersionedAsset};

use atelier_blob::BlobStore;
use atelier_core::authz::Action;
use atelier_core::model::{Millis, TokenScope, Workspace};
use atelier_core::names::{UserName, WorkspaceName};
use atelier_core::{Error, Result};
use atelier_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Who is calling: a signed-in user, or a job acting for the user who submitted it. Server
/// admins may do anything; users act through their role on each workspace; a job's token acts
/// only on its own job and run (see [`Service::authorize_on`]); a token scoped to metrics only
/// reads `/metrics`. Only the service's sign-in makes one, and only its `authorize*` functions
/// decide what one may do: the fields are private, the accessors are for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    user: UserName,
    is_admin: bool,
    /// Set when the caller is a job's runtime or the code it runs.
    job: Option<JobScope>,
    /// Set when the caller is a compute instance's notebooks: its owner's rights in the
    /// workspaces, without managing accounts, tokens or access.
    instance: Option<InstanceScope>,
    /// What the caller's API token may do.
    scope: TokenScope,
    /// The id of the API token the caller used, for the audit log.
    token_id: Option<String>,
}

impl Principal {
    /// A signed-in user, with every power of their account.
    pub(crate) fn signed_in(user: UserName, is_admin: bool) -> Self {
        Principal { user, is_admin, job: None, instance: None, scope: TokenScope::All, token_id: None }
    }

    /// A user's API token (by its id), with what it may do.
    pub(crate) fn token(user: UserName, is_admin: bool, scope: TokenScope, token_id: String) -> Self {
        Principal { user, is_admin, job: None, instance: None, scope, token_id: Some(token_id) }
    }

    /// A compute instance's token: its owner, without managing accounts.
    pub(crate) fn instance_token(user: UserName, is_admin: bool, instance: InstanceScope) -> Self {
        Principal { user, is_admin, job: None, instance: Some(instance), scope: TokenScope::All, token_id: None }
    }

    /// A job's token: it acts for the job's submitter, on the job alone.
    pub(crate) fn job_token(user: UserName, job: JobScope) -> Self {
        Principal { user, is_admin: false, job: Some(job), instance: None, scope: TokenScope::All, token_id: None }
    }

    /// Tells the current request's audit record who calls.
    pub(crate) fn noted(self) -> Self {
        audit::note_principal(
            self.user.as_str(),
            self.token_id.as_deref(),
            self.job.as_ref().map(|job| job.job.as_str()),
        );
        self
    }

    /// The id of the API token the caller used.
    pub fn token_id(&self) -> Option<&str> {
        self.token_id.as_deref()
    }

    /// The user who calls (for a job's token, the job's submitter).
    pub fn user(&self) -> &UserName {
        &self.user
    }

    /// Whether the user is a server administrator (for display: access is decided by
    /// [`Service::authorize`] and [`Service::may`]).
    pub fn is_admin(&self) -> bool {
        self.is_admin
    }

    /// The job a job's token is bound to.
    pub fn job(&self) -> Option<&JobScope> {
        self.job.as_ref()
    }

    /// What the caller's token may do.
    pub fn token_scope(&self) -> TokenScope {
        self.scope
    }
}

/// What a compute instance's token is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceScope {
    pub workspace: WorkspaceName,
    pub name: String,
}

/// What a job's token is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobScope {
    pub workspace: WorkspaceName,
    /// The job's name, which is also its run's id.
    pub job: String,
}

/// What an operation acts on, where a job's token makes it matter.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    /// The workspace as a whole (experiments, searches, new records).
    Workspace,
    /// One run, by id.
    Run(&'a str),
    /// An artifact path under the workspace's artifact root (`<experiment>/<run>/…`,
    /// `<experiment>/models/<logged model>/…`, `models/…`).
    Artifact(&'a str),
    /// An MLflow 3 logged model, by id.
    LoggedModel(&'a str),
    /// One job, by name.
    Job(&'a str),
    /// What only a job's own runtime does to its job (report a status, append to its log,
    /// upload its outputs): no user may, whatever their role.
    Runtime(&'a str),
    /// Versioned assets and datastores (models, data, environments): not a job's to read, apart
    /// from its inputs, which its runtime fetches through the job.
    Assets,
    /// Accounts: users, tokens, passwords, sessions, role assignments and workspaces. No job's
    /// token may manage them, whatever its submitter may: a job's powers end with the job.
    Account,
    /// The endpoints' counters at `/metrics`: the one thing a token scoped to metrics may read,
    /// and nothing a job's token may.
    Metrics,
    /// A server-wide action, tied to no workspace.
    Server,
    /// A compute instance: its JupyterLab opens for its owner and those they share it with
    /// only; acting on another's takes the right to change computes.
    Instance { owner: &'a str, shared_with: &'a [String] },
}

/// The service: the store, the blob store, and small caches.
pub struct Service {
    store: Arc<dyn Store>,
    blobs: BlobStore,
    /// Recently verified basic-auth credentials, keyed by user, holding a SHA-256 of the
    /// password, so that argon2 runs once per user every few minutes and not on every request.
    password_cache: Mutex<HashMap<String, ([u8; 32], Instant)>>,
    /// Token id → when its use was last written ([`Service::note_token_use`]).
    token_uses: Mutex<HashMap<String, Millis>>,
    /// Failed sign-ins by name and address, which make further attempts wait.
    sign_in_throttle: throttle::SignInThrottle,
    /// Short-lived answers of the store to the questions every request asks.
    auth_cache: AuthCache,
    /// Summaries of long metric series, for charts.
    series_cache: series::SeriesCache,
    /// Series being written, with their summaries kept current from the points this server
    /// writes ([`Service::run_series_summaries`]).
    series_written: Mutex<series::LiveSeries>,
    /// The key that seals datastore credentials; without one, credentials are refused.
    master_key: Option<[u8; 32]>,
    /// Builds environments; without one, builds are refused.
    environments: Option<environments::EnvironmentBuilder>,
    /// Whether an environment with an image is refused rather than run on the host.
    refuse_images: bool,
    /// The compute backends that run jobs' runtimes, by compute type.
    backends: backends::Backends,
    /// Wakes the scheduler when a job is submitted or ends.
    scheduler_wake: tokio::sync::Notify,
    /// One writer at a time for sweeps' own logs, which grow by appends at their end.
    sweep_log_lock: tokio::sync::Mutex<()>,
    /// The most a job's code snapshot may hold, in bytes.
    snapshot_limit: u64,
    /// Whether calls are audited.
    audit_enabled: bool,
    /// Wakes the serving layer when an endpoint or a deployment changes.
    endpoint_wake: tokio::sync::Notify,
    /// The serving layer, once connected ([`Service::attach_serving`]); weak, as it holds the
    /// service.
    serving: std::sync::OnceLock<std::sync::Weak<dyn ServingPort>>,
    /// How jobs' commands and deployments' workers are confined; `None` where this machine
    /// cannot confine them.
    confinement: Option<Confinement>,
    /// Whether users who are not administrators may run code unconfined.
    allow_unconfined: bool,
    /// Single sign-on, where the server has an OpenID provider.
    oidc: Option<Arc<oidc::Oidc>>,
    /// This server's id among the servers of one database ([`Service::server_id`]).
    server_id: String,
    /// Until when this server leads (epoch milliseconds; 0: it does not).
    leader_until: std::sync::atomic::AtomicI64,
    /// Runs compute instances' servers, where this server runs them.
    instance_hosts: HashMap<&'static str, Arc<dyn instances::InstanceHost>>,
    /// Wakes the instances' reconcile pass when one starts or stops.
    instances_wake: tokio::sync::Notify,
    /// When a stop was last sent to each stopping instance's server still running.
    instance_stops: Mutex<HashMap<(String, String), Millis>>,
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
    /// (workspace, user) → the names of the roles they hold there.
    roles: TtlMap<(String, String), Vec<String>>,
    /// A custom role's name in lower case → its definition (`None`: there is none).
    definitions: TtlMap<String, Option<atelier_core::authz::RoleDefinition>>,
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
            token_uses: Mutex::new(HashMap::new()),
            sign_in_throttle: throttle::SignInThrottle::default(),
            auth_cache: AuthCache {
                tokens: TtlMap::new(),
                roles: TtlMap::new(),
                definitions: TtlMap::new(),
                workspaces: TtlMap::new(),
            },
            series_cache: series::SeriesCache::default(),
            series_written: Mutex::new(series::LiveSeries::default()),
            master_key: None,
            environments: None,
            refuse_images: false,
            backends: backends::Backends::default(),
            scheduler_wake: tokio::sync::Notify::new(),
            sweep_log_lock: tokio::sync::Mutex::new(()),
            snapshot_limit: jobs::SNAPSHOT_LIMIT_BYTES,
            audit_enabled: true,
            endpoint_wake: tokio::sync::Notify::new(),
            serving: std::sync::OnceLock::new(),
            confinement: None,
            allow_unconfined: false,
            oidc: None,
            server_id: uuid::Uuid::new_v4().simple().to_string(),
            leader_until: std::sync::atomic::AtomicI64::new(0),
            instance_hosts: HashMap::new(),
            instances_wake: tokio::sync::Notify::new(),
            instance_stops: Mutex::new(HashMap::new()),
        }
    }

    /// Sets how users' code is confined (`None`: it cannot be, here), and whether users who
    /// are not administrators may run code all the same.
    pub fn with_confinement(mut self, confinement: Option<Confinement>, allow_unconfined: bool) -> Self {
        self.confinement = confinement;
        self.allow_unconfined = allow_unconfined;
        self
    }

    /// How jobs' commands and deployments' workers are confined, when they are.
    pub fn confinement(&self) -> Option<&Confinement> {
        self.confinement.as_ref()
    }

    /// Refuses to run `what` (a job, a deployment) for a user who is not an administrator when
    /// this server cannot confine users' code and was not told to run it unconfined.
    pub(crate) fn require_confinement(&self, principal: &Principal, what: &str) -> Result<()> {
        if self.confinement.is_some() || self.allow_unconfined || principal.is_admin {
            return Ok(());
        }
        Err(Error::permission_denied(format!(
            "this server cannot confine users' code (no user, PID and mount namespaces here), so only server \
             administrators may run {what}: ask an administrator to enable unprivileged user namespaces, or to \
             start the server with --allow-unconfined-jobs if every user may read the server's secrets"
        )))
    }

    /// The environment builder, when the service has one.
    pub fn environment_builder(&self) -> Option<&environments::EnvironmentBuilder> {
        self.environments.as_ref()
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

    /// Sets the most a job's code snapshot may hold, in bytes.
    pub fn with_snapshot_limit(mut self, bytes: u64) -> Self {
        self.snapshot_limit = bytes;
        self
    }

    /// Turns the audit log on or off (on by default).
    pub fn with_audit(mut self, enabled: bool) -> Self {
        self.audit_enabled = enabled;
        self
    }

    /// Gives the service the key that seals datastore credentials.
    pub fn with_master_key(mut self, key: [u8; 32]) -> Self {
        self.master_key = Some(key);
        self
    }

    /// Decides whether `principal` may perform `action` on `workspace`. Every operation calls
    /// this before touching data; it is the only place a permission is decided.
    ///
    /// A workspace that does not exist is reported as not found to those allowed to know, and as
    /// forbidden to others, so that names of workspaces do not leak.
    pub async fn authorize(&self, principal: &Principal, workspace: &WorkspaceName, action: Action) -> Result<()> {
        self.authorize_on(principal, workspace, action, Target::Workspace).await
    }

    /// [`Service::authorize`] for an operation on one thing: for users the role decides alone.
    /// A job's token may read the records of its workspace's experiments and runs (MLflow's
    /// client looks them up), but files only of its own run; it writes only its own run (and
    /// that run's logged models and artifacts) and acts on its own job; versioned assets are not
    /// its to read, apart from its inputs, which it fetches through its job.
    pub(crate) async fn authorize_on(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        action: Action,
        target: Target<'_>,
    ) -> Result<()> {
        let decision = self.decide_on(principal, workspace, action, target).await;
        note_decision(&decision, Some(workspace), action.as_str(), !action.is_read());
        if decision.is_ok() && !action.is_read() {
            match target {
                Target::Run(id) => audit::note_target(&format!("run {id}")),
                Target::Artifact(path) => audit::note_target(&format!("artifact {path}")),
                Target::LoggedModel(id) => audit::note_target(&format!("logged model {id}")),
                _ => {}
            }
        }
        decision
    }

    /// [`Service::authorize_on`]'s decision, which it tells the audit log.
    async fn decide_on(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        action: Action,
        target: Target<'_>,
    ) -> Result<()> {
        self.refuse_narrow_tokens(principal, action, target)?;
        if let Some(scope) = &principal.job {
            return self.authorize_job(scope, workspace, action, target).await;
        }
        if let Target::Runtime(name) = target {
            return Err(Error::permission_denied(format!(
                "only the runtime of job '{name}', with the job's own token, reports its status, log and outputs"
            )));
        }
        if let Target::Instance { owner, shared_with } = target {
            let own = principal.user.as_str() == owner;
            if action == Action::ComputesApplicationAccess {
                if !own && !shared_with.iter().any(|user| user == principal.user.as_str()) {
                    return Err(Error::permission_denied(format!(
                        "this compute instance is '{owner}''s: only its owner and those they share it with open it"
                    )));
                }
            } else if !own {
                // Another's instance: acting on it takes the right to change computes too.
                Box::pin(self.decide_on(principal, workspace, Action::ComputesWrite, Target::Workspace)).await?;
            }
        }
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
        let roles = self.roles_held(workspace, &principal.user).await?;
        if roles.iter().any(|role| role.permits(action)) {
            return Ok(());
        }
        if roles.is_empty() {
            return Err(Error::permission_denied(format!(
                "user '{}' has no role on workspace '{workspace}'",
                principal.user
            )));
        }
        let names: Vec<&str> = roles.iter().map(|role| role.name.as_str()).collect();
        Err(Error::permission_denied(format!(
            "user '{}' has role {} on workspace '{workspace}', which does not permit '{}' ({})",
            principal.user,
            names.join(" and "),
            action.as_str(),
            action.info().description
        )))
    }

    async fn authorize_job(
        &self,
        scope: &JobScope,
        workspace: &WorkspaceName,
        action: Action,
        target: Target<'_>,
    ) -> Result<()> {
        let denied = |what: &str| {
            Err(Error::permission_denied(format!(
                "the token of job '{}' may not perform '{}' {what}: a job writes only its own run and reads only its inputs",
                scope.job,
                action.as_str()
            )))
        };
        if *workspace != scope.workspace {
            return denied(&format!("in workspace '{workspace}'"));
        }
        // What a job does to its own run and job: read, track, report, cancel.
        let reads_or_tracks = action.is_read()
            || matches!(
                action,
                Action::ExperimentsWrite | Action::ExperimentsDelete | Action::JobsWrite | Action::JobsCancel
            );
        let own_run = |run_id: &str| run_id == scope.job;
        let permitted = match target {
            Target::Workspace => action.is_read(),
            // Records of runs are readable, as MLflow's client looks experiments and runs up.
            Target::Run(run_id) => action.is_read() || (reads_or_tracks && own_run(run_id)),
            Target::Job(name) | Target::Runtime(name) => reads_or_tracks && own_run(name),
            Target::LoggedModel(model_id) => {
                reads_or_tracks && self.logged_model_run(model_id).await?.as_deref().is_some_and(own_run)
            }
            Target::Artifact(path) => {
                let segments: Vec<&str> = path.split('/').collect();
                match segments.as_slice() {
                    [_, "models", model_id, ..] => {
                        reads_or_tracks && self.logged_model_run(model_id).await?.as_deref().is_some_and(own_run)
                    }
                    [_, run_id, ..] => reads_or_tracks && own_run(run_id),
                    _ => false,
                }
            }
            Target::Assets | Target::Account | Target::Metrics | Target::Server | Target::Instance { .. } => false,
        };
        if permitted {
            return Ok(());
        }
        match target {
            Target::Workspace => denied("on the workspace"),
            Target::Run(run_id) => denied(&format!("on run '{run_id}'")),
            Target::Job(name) | Target::Runtime(name) => denied(&format!("on job '{name}'")),
            Target::LoggedModel(model_id) => denied(&format!("on logged model '{model_id}'")),
            Target::Artifact(path) => denied(&format!("on artifact '{path}'")),
            Target::Assets => denied("on assets"),
            Target::Account => denied("on accounts"),
            Target::Metrics => denied("on metrics"),
            Target::Server => denied("on the server"),
            Target::Instance { .. } => denied("on compute instances"),
        }
    }

    /// The source run of a logged model, if it has one.
    async fn logged_model_run(&self, model_id: &str) -> Result<Option<String>> {
        match self.store.get_logged_model(model_id).await {
            Ok(model) => Ok(model.source_run_id),
            Err(error) if error.code == atelier_core::ErrorCode::ResourceDoesNotExist => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Refuses what a narrow token may never do, whatever its user may: a job's token manages
    /// no accounts (tokens, passwords, sessions, users, roles, workspaces) and reads no
    /// metrics; a token scoped to metrics does nothing but read them.
    fn refuse_narrow_tokens(&self, principal: &Principal, action: Action, target: Target<'_>) -> Result<()> {
        // An instance's notebooks see the workspaces their owner sees, and change no account,
        // token, role or workspace.
        let changes_accounts = matches!(target, Target::Account) && !action.is_read();
        if let Some(scope) = &principal.instance
            && (changes_accounts || matches!(target, Target::Metrics | Target::Server))
        {
            return Err(Error::permission_denied(format!(
                "the token of compute instance '{}' may not manage accounts, tokens, roles or workspaces, nor perform '{}'",
                scope.name,
                action.as_str()
            )));
        }
        if let Some(scope) = &principal.job {
            match target {
                Target::Account => {
                    return Err(Error::permission_denied(format!(
                        "the token of job '{}' may not manage accounts, tokens, roles or workspaces: a job's powers end with the job",
                        scope.job
                    )));
                }
                Target::Metrics => {
                    return Err(Error::permission_denied(format!(
                        "the token of job '{}' may not read the server's metrics: a job writes only its own run and reads only its inputs",
                        scope.job
                    )));
                }
                _ => {}
            }
        }
        if principal.scope == TokenScope::Metrics && !matches!(target, Target::Metrics) {
            return Err(Error::permission_denied(format!(
                "this token of user '{}' is scoped to metrics and may only read /metrics: use a token without a scope to perform '{}'",
                principal.user,
                action.as_str()
            )));
        }
        Ok(())
    }

    /// Decides an operation on an account: a user manages their own (their tokens, their
    /// password); anyone else's, and the list of users, need a server administrator. `owner`
    /// is whose account it is, `None` for the server's accounts as a whole. No job's token and
    /// no token scoped to metrics may, whatever its user may.
    pub(crate) fn authorize_account(&self, principal: &Principal, owner: Option<&UserName>) -> Result<()> {
        self.refuse_narrow_tokens(principal, Action::ServerAdmin, Target::Account)?;
        if owner == Some(&principal.user) {
            audit::note_action(None, atelier_core::audit::OWN_ACCOUNT, true);
            return Ok(());
        }
        self.authorize_server_on(principal, Action::ServerAdmin, Target::Account)
    }

    /// The workspaces where `principal` may perform `action` on `target`, for listings: every
    /// one for an administrator, else those [`Service::authorize_on`] permits.
    pub(crate) async fn permitted_workspaces(
        &self,
        principal: &Principal,
        action: Action,
        target: Target<'_>,
    ) -> Result<Vec<Workspace>> {
        self.refuse_narrow_tokens(principal, action, target)?;
        let all = self.store.list_workspaces().await?;
        if self.authorize_server_on(principal, Action::ServerAdmin, target).is_ok() {
            return Ok(all);
        }
        let mut permitted = Vec::new();
        for workspace in all {
            match self.authorize_on(principal, &workspace.name, action, target).await {
                Ok(()) => permitted.push(workspace),
                Err(error)
                    if matches!(
                        error.code,
                        atelier_core::ErrorCode::PermissionDenied | atelier_core::ErrorCode::ResourceDoesNotExist
                    ) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(permitted)
    }

    /// Authorizes a server-wide action (not tied to a workspace).
    pub fn authorize_server(&self, principal: &Principal, action: Action) -> Result<()> {
        self.authorize_server_on(principal, action, Target::Server)
    }

    /// [`Service::authorize_server`] for what `target` names (accounts, metrics).
    pub(crate) fn authorize_server_on(&self, principal: &Principal, action: Action, target: Target<'_>) -> Result<()> {
        let decision = self.decide_server_on(principal, action, target);
        note_decision(&decision, None, action.as_str(), !action.is_read());
        decision
    }

    fn decide_server_on(&self, principal: &Principal, action: Action, target: Target<'_>) -> Result<()> {
        self.refuse_narrow_tokens(principal, action, target)?;
        if principal.job.is_some() || principal.instance.is_some() {
            return Err(Error::permission_denied(format!(
                "a job's or compute instance's token may not perform '{}': it needs a server administrator",
                action.as_str()
            )));
        }
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
        self.auth_cache.definitions.clear();
        self.auth_cache.workspaces.clear();
    }

    pub(crate) fn blobs(&self) -> &BlobStore {
        &self.blobs
    }
}

/// Tells the current request's audit record what an authorization decided: the action it was
/// authorized for, or the one it was refused.
fn note_decision(decision: &Result<()>, workspace: Option<&WorkspaceName>, action: &str, writes: bool) {
    let workspace = workspace.map(WorkspaceName::as_str);
    match decision {
        Ok(()) => audit::note_action(workspace, action, writes),
        Err(error) if error.code == atelier_core::ErrorCode::PermissionDenied => audit::note_denied(workspace, action),
        Err(_) => {}
    }
}

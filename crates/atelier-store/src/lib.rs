//! Atelier's metadata store: the [`Store`] trait and its one SQL implementation, [`SqlStore`],
//! which serves SQLite and PostgreSQL from the same portable SQL.
//!
//! The decision that shaped this crate: one code path for both dialects through sqlx's
//! `AnyPool`, with `$N` placeholders, integer flags, TEXT ids and epoch-millisecond times, and
//! one folder of plain, forward-only migrations per dialect. Where SQLite needs care (it has one
//! writer at a time), the store gives it a single-connection write pool, so concurrent requests
//! queue inside the process and never see "database is locked".
//!
//! This is the only crate that knows SQL.

mod access;
pub mod audit;
mod components;
mod data;
mod datastores;
mod dialect;
mod endpoints;
mod environments;
mod gc;
mod instances;
mod jobs;
mod leases;
mod logged_models;
mod packed;
mod points;
mod registry;
mod roles;
mod rows;
mod schedules;
mod search;
mod sql;
mod tracking;
mod uploads;
mod versioned;
mod writer;

use async_trait::async_trait;
use atelier_core::Result;
use atelier_core::authz::RoleDefinition;
use atelier_core::component::Component;
use atelier_core::data::{DataAsset, Datastore};
use atelier_core::endpoint::{Deployment, Endpoint, ProvisioningState};
use atelier_core::environment::Environment;
use atelier_core::filter::{Comparison, OrderBy};
use atelier_core::instance::{ComputeInstance, InstanceState};
use atelier_core::job::{Job, JobStatus};
use atelier_core::model::*;
use atelier_core::names::{UserName, WorkspaceName};
use atelier_core::registry::{ModelVersion, RegisteredModel};
use atelier_core::schedule::Schedule;
use std::collections::BTreeMap;

pub use sql::SqlStore;

/// A user's stored record, with the password hash the service checks sign-ins against.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub user: User,
    pub password_hash: Option<String>,
}

/// A single sign-on round trip under way: the studio sent a browser to the OpenID provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInRequest {
    /// SHA-256 of the `state` sent to the provider.
    pub state_hash: String,
    /// SHA-256 of the secret in the browser's cookie, which binds the round trip to it.
    pub browser_hash: String,
    pub nonce: String,
    /// PKCE's code verifier.
    pub verifier: String,
    /// Where the browser goes once signed in (a path of this server).
    pub next_path: String,
    pub expires_at: Millis,
}

/// A studio session. The cookie's secret is stored only as a hash.
#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: String,
    pub user: UserName,
    pub csrf_token: String,
    pub created_at: Millis,
    pub expires_at: Millis,
}

/// How many active runs an experiment has and when the newest started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentStats {
    pub experiment_id: ExperimentId,
    pub runs: i64,
    pub last_run_start: Option<Millis>,
}

/// What [`TrackingStore::metric_points_after`] read of a metric series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesRead {
    /// How many points the series has, read in the same snapshot as `samples`.
    pub total: i64,
    /// The highest insertion mark among `samples` (0 when there are none); pass it as `after`
    /// to read only what was written since.
    pub last_mark: i64,
    /// The points, in step order, then time, then insertion.
    pub samples: Vec<atelier_core::series::Sample>,
    /// Where the next page starts, when this one was full: pass it as `from`.
    pub next: Option<SeriesCursor>,
}

/// A point's place in a series' order: its step, time and insertion mark. A page of
/// [`TrackingStore::metric_points_after`] starts after it.
pub type SeriesCursor = (i64, i64, i64);

/// What `log_batch` writes. Values are already validated and truncated by the service.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub metrics: Vec<Metric>,
    pub params: Vec<Param>,
    pub tags: Vec<Tag>,
    /// Set when a tag renames the run (`mlflow.runName`), so the rename is part of the batch.
    pub new_run_name: Option<String>,
}

/// A run search: which experiments, which runs, in which order, which page.
#[derive(Debug, Clone)]
pub struct RunQuery<'a> {
    pub workspace: &'a WorkspaceName,
    pub experiment_ids: &'a [ExperimentId],
    pub filter: &'a [Comparison],
    pub view: ViewType,
    pub order_by: &'a [OrderBy],
    pub limit: i64,
    pub offset: i64,
}

/// An experiment search.
#[derive(Debug, Clone)]
pub struct ExperimentQuery<'a> {
    pub workspace: &'a WorkspaceName,
    pub filter: &'a [Comparison],
    pub view: ViewType,
    pub order_by: &'a [OrderBy],
    pub limit: i64,
    pub offset: i64,
}

/// A logged-model search.
#[derive(Debug, Clone)]
pub struct LoggedModelQuery<'a> {
    pub workspace: &'a WorkspaceName,
    pub experiment_ids: &'a [ExperimentId],
    pub filter: &'a [Comparison],
    pub order_by: &'a [OrderBy],
    pub limit: i64,
    pub offset: i64,
}

/// A file uploaded to a workspace, stored once per content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadFile {
    /// `models` (paths under the artifact root) or `data` (paths on the default datastore).
    pub area: String,
    pub path: String,
    /// The BLAKE3 hash of its bytes, in hexadecimal.
    pub hash: String,
    pub size: i64,
    pub created_at: Millis,
}

/// A compute a workspace defined (Azure's compute YAML), run on the server's machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Compute {
    pub workspace: WorkspaceName,
    pub name: String,
    /// `amlcompute`.
    pub kind: String,
    /// An Azure VM size (see `atelier_core::job::VM_SIZES`): what each job may use.
    pub size: String,
    pub min_instances: i64,
    /// How many of its jobs run at once.
    pub max_instances: i64,
    pub description: String,
    pub tags: BTreeMap<String, String>,
    /// A cluster's settings (JSON, the service's to read): `None` for a compute on this
    /// server's machine.
    pub settings: Option<String>,
    pub created_by: String,
    pub created_at: Millis,
}

/// A listing of a workspace's jobs, newest first.
#[derive(Debug, Clone)]
pub struct JobQuery<'a> {
    pub workspace: &'a WorkspaceName,
    pub status: Option<JobStatus>,
    pub experiment_name: Option<&'a str>,
    pub compute: Option<&'a str>,
    /// Only the trials of this sweep.
    pub parent: Option<&'a str>,
    /// `Some(false)`: only jobs not archived; `Some(true)`: only archived ones; `None`: all.
    pub archived: Option<bool>,
    pub limit: i64,
}

/// A job's move to a new status.
#[derive(Debug, Clone)]
pub struct JobTransition<'a> {
    pub status: JobStatus,
    pub at: Millis,
    pub message: Option<&'a str>,
    pub exit_code: Option<i64>,
    pub error: Option<&'a str>,
}

/// A stretch of a job's log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPiece {
    pub text: String,
    /// Where the next read starts: the byte offset after this text.
    pub next_offset: i64,
}

/// A search of registered models or of model versions.
#[derive(Debug, Clone)]
pub struct RegistryQuery<'a> {
    pub workspace: &'a WorkspaceName,
    pub filter: &'a [Comparison],
    pub order_by: &'a [OrderBy],
    pub limit: i64,
    pub offset: i64,
}

/// Changes to a run's info; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct RunUpdate {
    pub status: Option<RunStatus>,
    pub end_time: Option<Millis>,
    pub run_name: Option<String>,
}

/// Jobs, their events and logs, and computes. Every method is one transaction.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Creates a job with its run (named as the job, with its tags and params), its first
    /// events and the locations it holds on to; a taken name, or a sweep's trial index given
    /// before, is `RESOURCE_ALREADY_EXISTS`. Returns the stored job.
    async fn create_job(
        &self,
        job: &Job,
        run: &RunInfo,
        run_tags: &[Tag],
        params: &[Param],
        token_hash: &str,
        references: &[String],
    ) -> Result<Job>;
    async fn get_job(&self, name: &str) -> Result<Job>;
    async fn list_jobs(&self, query: &JobQuery<'_>) -> Result<Vec<Job>>;
    /// The children of a parent job: a sweep's trials by index, or a pipeline's steps.
    async fn sweep_trials(&self, sweep: &str) -> Result<Vec<Job>>;
    /// The names of a workspace's jobs that hold a location (newest first, at most `limit`):
    /// for `component:<name>:<version>`, the pipelines that ran that component version.
    async fn jobs_referencing(&self, workspace: &WorkspaceName, location: &str, limit: i64) -> Result<Vec<String>>;
    /// The newest completed job of a workspace that ran (was not itself reused) with this
    /// reuse key.
    async fn reusable_job(&self, workspace: &WorkspaceName, reuse_key: &str) -> Result<Option<Job>>;
    /// The jobs of every workspace in these statuses, highest priority first, then in
    /// submission order.
    async fn jobs_in_status(&self, statuses: &[JobStatus]) -> Result<Vec<Job>>;
    /// Moves a job to a status (and its run to the matching run status), if its lifecycle
    /// allows; `None` when it does not (a late or repeated report). Records the event.
    async fn transition_job(&self, name: &str, transition: &JobTransition<'_>) -> Result<Option<Job>>;
    /// Gives a job the token its runtime will use and the GPUs handed to it, before launch.
    async fn set_job_runtime(&self, name: &str, token_hash: &str, gpus: &[u32], at: Millis) -> Result<()>;
    /// Records the launched runtime's process: its id and the start time the kernel gave it.
    async fn set_job_launched(&self, name: &str, pid: i64, start: i64) -> Result<()>;
    /// Records what a cluster last said of a job it holds (its state and reason).
    async fn set_job_cluster_state(&self, name: &str, state: &str) -> Result<()>;
    /// Whether a job of the workspace uses a code snapshot.
    async fn snapshot_in_use(&self, workspace: &WorkspaceName, snapshot: &str) -> Result<bool>;
    /// Records that the runtime reported.
    async fn touch_job(&self, name: &str, at: Millis) -> Result<()>;
    async fn set_job_archived(&self, name: &str, archived: bool) -> Result<()>;
    async fn find_job_by_token(&self, token_hash: &str) -> Result<Option<Job>>;
    /// Appends a piece of a log file at `offset`, which must be the file's size (a piece
    /// already stored is ignored); returns the size after.
    async fn append_job_log(&self, name: &str, file: &str, offset: i64, text: &str) -> Result<i64>;
    /// Log text from `from` on, about `max_bytes` of it (whole pieces).
    async fn read_job_log(&self, name: &str, file: &str, from: i64, max_bytes: i64) -> Result<LogPiece>;
    /// The log files of a job and their sizes.
    async fn job_log_files(&self, name: &str) -> Result<Vec<(String, i64)>>;
    /// Records that a job holds on to a location (garbage collection keeps it).
    async fn add_job_reference(&self, name: &str, workspace: &WorkspaceName, location: &str) -> Result<()>;
    async fn create_compute(&self, compute: &Compute) -> Result<()>;
    async fn get_compute(&self, workspace: &WorkspaceName, name: &str) -> Result<Compute>;
    /// The computes of one workspace, or of all.
    async fn list_computes(&self, workspace: Option<&WorkspaceName>) -> Result<Vec<Compute>>;
    async fn delete_compute(&self, workspace: &WorkspaceName, name: &str) -> Result<()>;
}

/// Leases that make one server of several the one that does a piece of periodic work.
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes or renews the lease `name` for `holder` until `until`: `true` when no lease was
    /// held, `holder` held it, or the other holder's lease had expired at `now`. Two holders
    /// never both hold a live lease.
    async fn take_lease(&self, name: &str, holder: &str, now: Millis, until: Millis) -> Result<bool>;
    /// Gives a lease up, if `holder` holds it, so another server takes it at once.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<()>;
    /// Who holds the lease `name` at `now`, if anyone.
    async fn lease_holder(&self, name: &str, now: Millis) -> Result<Option<String>>;
}

/// Compute instances. Every method is one transaction.
#[async_trait]
pub trait InstanceStore: Send + Sync {
    /// Creates an instance; a name taken by a compute or an instance of the workspace is
    /// `RESOURCE_ALREADY_EXISTS`.
    async fn create_instance(&self, instance: &ComputeInstance) -> Result<()>;
    async fn get_instance(&self, workspace: &WorkspaceName, name: &str) -> Result<ComputeInstance>;
    /// The instances of one workspace, or of every workspace, by name.
    async fn list_instances(&self, workspace: Option<&WorkspaceName>) -> Result<Vec<ComputeInstance>>;
    /// The instance whose server holds the token with this hash.
    async fn find_instance_by_token(&self, token_hash: &str) -> Result<Option<ComputeInstance>>;
    /// Moves an instance to `to` (with `reason`, at `at`) if its state is one of `from`: the
    /// instance as it now is, or `None` when it was in another state. Two moves from one state
    /// take turns.
    async fn set_instance_state(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        from: &[InstanceState],
        to: InstanceState,
        reason: Option<&str>,
        at: Millis,
    ) -> Result<Option<ComputeInstance>>;
    /// The hash of its server's token and its process (id, start time); `None`s clear them.
    async fn set_instance_runtime(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        token_hash: Option<&str>,
        process: Option<(i64, i64)>,
    ) -> Result<()>;
    /// Clears an instance's server (token and process) if it is still process `pid`.
    async fn clear_instance_runtime(&self, workspace: &WorkspaceName, name: &str, pid: i64) -> Result<bool>;
    async fn set_instance_activity(&self, workspace: &WorkspaceName, name: &str, last_activity: Millis) -> Result<()>;
    async fn set_instance_schedules_checked(&self, workspace: &WorkspaceName, name: &str, at: Millis) -> Result<()>;
    async fn set_instance_sharing(&self, workspace: &WorkspaceName, name: &str, shared_with: &[String]) -> Result<()>;
    async fn delete_instance(&self, workspace: &WorkspaceName, name: &str) -> Result<()>;
}

/// Online endpoints and their deployments. Every method is one transaction.
#[async_trait]
pub trait EndpointStore: Send + Sync {
    /// Creates an endpoint with its sealed keys; a taken name is `RESOURCE_ALREADY_EXISTS`.
    async fn create_endpoint(&self, endpoint: &Endpoint, sealed_keys: &str) -> Result<()>;
    /// An endpoint and its sealed keys, by its server-wide name.
    async fn get_endpoint(&self, name: &str) -> Result<(Endpoint, String)>;
    /// The endpoints of one workspace, or of all, each with its sealed keys.
    async fn list_endpoints(&self, workspace: Option<&WorkspaceName>) -> Result<Vec<(Endpoint, String)>>;
    /// Writes an endpoint's description, tags, auth mode and traffic, and its keys when given.
    async fn update_endpoint(&self, endpoint: &Endpoint, sealed_keys: Option<&str>) -> Result<()>;
    /// Deletes an endpoint and its deployments.
    async fn delete_endpoint(&self, name: &str) -> Result<()>;
    /// Creates a deployment, or replaces the one of that name (keeping its creation time).
    async fn put_deployment(&self, deployment: &Deployment) -> Result<Deployment>;
    async fn get_deployment(&self, endpoint: &str, name: &str) -> Result<Deployment>;
    /// The deployments of one endpoint, or of every endpoint.
    async fn list_deployments(&self, endpoint: Option<&str>) -> Result<Vec<Deployment>>;
    /// Records the outcome of a rollout, if the deployment is still at `generation`.
    async fn set_deployment_state(
        &self,
        endpoint: &str,
        name: &str,
        generation: i64,
        state: ProvisioningState,
        error: Option<&str>,
        at: Millis,
    ) -> Result<()>;
    async fn delete_deployment(&self, endpoint: &str, name: &str) -> Result<()>;
    /// The deployments that serve a version of a registered model.
    async fn deployments_of_model(&self, workspace: &WorkspaceName, model: &str) -> Result<Vec<Deployment>>;
}

/// The model registry's part of the store. Every method is one transaction.
#[async_trait]
pub trait RegistryStore: Send + Sync {
    /// Fails with `RESOURCE_ALREADY_EXISTS` when the workspace has a model of that name.
    async fn create_registered_model(&self, model: &RegisteredModel) -> Result<()>;
    /// A registered model with its tags, aliases and the newest version of each stage.
    async fn get_registered_model(&self, workspace: &WorkspaceName, name: &str) -> Result<RegisteredModel>;
    /// Renames a model; its versions, tags and aliases follow.
    async fn rename_registered_model(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        new_name: &str,
        now: Millis,
    ) -> Result<()>;
    async fn update_registered_model(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        description: &str,
        now: Millis,
    ) -> Result<()>;
    /// Deletes a model with all its versions, tags and aliases.
    async fn delete_registered_model(&self, workspace: &WorkspaceName, name: &str) -> Result<()>;
    async fn search_registered_models(&self, query: &RegistryQuery<'_>) -> Result<Vec<RegisteredModel>>;
    async fn set_registered_model_tag(&self, workspace: &WorkspaceName, name: &str, tag: &Tag) -> Result<()>;
    async fn delete_registered_model_tag(&self, workspace: &WorkspaceName, name: &str, key: &str) -> Result<()>;
    /// Points an alias at a version, moving it if it pointed elsewhere.
    async fn set_model_alias(&self, workspace: &WorkspaceName, name: &str, alias: &str, version: i64) -> Result<()>;
    async fn delete_model_alias(&self, workspace: &WorkspaceName, name: &str, alias: &str) -> Result<()>;
    /// Creates a version and returns it: numbered `version.version` when that is positive (and
    /// free, else `RESOURCE_ALREADY_EXISTS`), else one past the model's highest number ever.
    async fn create_model_version(&self, version: &ModelVersion) -> Result<ModelVersion>;
    async fn set_model_version_properties(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        version: i64,
        properties: &BTreeMap<String, String>,
        now: Millis,
    ) -> Result<()>;
    /// Archives (hides from lists) or restores a version.
    async fn set_model_version_archived(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        version: i64,
        archived: bool,
        now: Millis,
    ) -> Result<()>;
    async fn get_model_version(&self, workspace: &WorkspaceName, name: &str, version: i64) -> Result<ModelVersion>;
    async fn update_model_version(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        version: i64,
        description: &str,
        now: Millis,
    ) -> Result<()>;
    /// Moves a version to `stage`; with `archive_existing`, the model's other versions in that
    /// stage move to `Archived`.
    async fn set_model_version_stage(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        version: i64,
        stage: &str,
        archive_existing: bool,
        now: Millis,
    ) -> Result<()>;
    /// Deletes a version with its tags and the aliases that point at it.
    async fn delete_model_version(&self, workspace: &WorkspaceName, name: &str, version: i64) -> Result<()>;
    async fn search_model_versions(&self, query: &RegistryQuery<'_>) -> Result<Vec<ModelVersion>>;
    async fn set_model_version_tag(&self, workspace: &WorkspaceName, name: &str, version: i64, tag: &Tag)
    -> Result<()>;
    async fn delete_model_version_tag(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        version: i64,
        key: &str,
    ) -> Result<()>;
}

/// Data assets. Every method is one transaction.
#[async_trait]
pub trait AssetStore: Send + Sync {
    /// Creates a data asset version: `asset.version`, or when it is empty one past the highest
    /// numeric version of that name. A taken version is `RESOURCE_ALREADY_EXISTS`. Returns the
    /// stored asset.
    async fn create_data_asset(&self, asset: &DataAsset) -> Result<DataAsset>;
    async fn get_data_asset(&self, workspace: &WorkspaceName, name: &str, version: &str) -> Result<DataAsset>;
    /// The versions of one name (newest first), or the newest version of every name; archived
    /// versions only when asked.
    async fn list_data_assets(
        &self,
        workspace: &WorkspaceName,
        name: Option<&str>,
        include_archived: bool,
    ) -> Result<Vec<DataAsset>>;
    /// Replaces a version's description, tags and properties.
    async fn update_data_asset(&self, asset: &DataAsset, now: Millis) -> Result<()>;
    async fn set_data_asset_archived(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        version: &str,
        archived: bool,
        now: Millis,
    ) -> Result<()>;
}

/// A workspace's named datastores, with credentials sealed by the service. Every method is one
/// transaction.
#[async_trait]
pub trait DatastoreStore: Send + Sync {
    /// Registers a datastore with its sealed credentials (see the service); a taken name is
    /// `RESOURCE_ALREADY_EXISTS`.
    async fn create_datastore(&self, datastore: &Datastore, sealed_credentials: Option<&str>) -> Result<()>;
    /// A datastore and its sealed credentials.
    async fn get_datastore(&self, workspace: &WorkspaceName, name: &str) -> Result<(Datastore, Option<String>)>;
    async fn list_datastores(&self, workspace: &WorkspaceName) -> Result<Vec<Datastore>>;
    async fn delete_datastore(&self, workspace: &WorkspaceName, name: &str) -> Result<()>;
}

/// Environments: named, versioned build specs. Every method is one transaction.
#[async_trait]
pub trait EnvironmentStore: Send + Sync {
    /// Creates an environment version (`environment.version`, or when empty one past the
    /// highest numeric version); a taken version is `RESOURCE_ALREADY_EXISTS`.
    async fn create_environment(&self, environment: &Environment) -> Result<Environment>;
    async fn get_environment(&self, workspace: &WorkspaceName, name: &str, version: &str) -> Result<Environment>;
    /// The versions of one name (newest first), or the newest version of every name.
    async fn list_environments(
        &self,
        workspace: &WorkspaceName,
        name: Option<&str>,
        include_archived: bool,
    ) -> Result<Vec<Environment>>;
    async fn set_environment_archived(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        version: &str,
        archived: bool,
    ) -> Result<()>;
}

/// Components: named, versioned, reusable steps. Every method is one transaction.
#[async_trait]
pub trait ComponentStore: Send + Sync {
    /// Registers a component version (`component.version`, or when empty one past the highest
    /// numeric version). A version that is taken is the same registration when its content
    /// hash is equal (that version is returned, unchanged), else `RESOURCE_ALREADY_EXISTS`.
    /// Without a version, a registration whose content equals the newest version's returns it.
    async fn create_component(&self, component: &Component) -> Result<Component>;
    async fn get_component(&self, workspace: &WorkspaceName, name: &str, version: &str) -> Result<Component>;
    /// The versions of one name (newest first), or the newest version of every name.
    async fn list_components(
        &self,
        workspace: &WorkspaceName,
        name: Option<&str>,
        include_archived: bool,
    ) -> Result<Vec<Component>>;
    async fn set_component_archived(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        version: &str,
        archived: bool,
    ) -> Result<()>;
}

/// Schedules. Every method is one transaction.
#[async_trait]
pub trait ScheduleStore: Send + Sync {
    /// Creates a schedule with the locations its submission holds on to (kept by garbage
    /// collection); a taken name is `RESOURCE_ALREADY_EXISTS`.
    async fn create_schedule(&self, schedule: &Schedule, references: &[String]) -> Result<()>;
    /// Replaces a schedule's file, submission, tags, next fire and references (`update`).
    async fn update_schedule(&self, schedule: &Schedule, references: &[String]) -> Result<()>;
    async fn get_schedule(&self, workspace: &WorkspaceName, name: &str) -> Result<Schedule>;
    async fn list_schedules(&self, workspace: &WorkspaceName) -> Result<Vec<Schedule>>;
    async fn delete_schedule(&self, workspace: &WorkspaceName, name: &str) -> Result<()>;
    /// Enables or disables a schedule, with the next fire time it has from now on.
    async fn set_schedule_enabled(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        enabled: bool,
        next_fire: Option<Millis>,
    ) -> Result<()>;
    /// The enabled schedules of every workspace whose next fire time is at or before `now`.
    async fn due_schedules(&self, now: Millis) -> Result<Vec<Schedule>>;
    /// Takes the lease on a schedule's fire at `fire` for `holder` (a server) until `until`:
    /// `true` when the schedule is enabled, `fire` is still its next fire time, and no other
    /// holder's lease is live at `now`. Two servers never both hold one fire.
    async fn claim_schedule_fire(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        fire: Millis,
        holder: &str,
        now: Millis,
        until: Millis,
    ) -> Result<bool>;
    /// Records that a schedule fired at `fire` (its job submitted, or `error` saying why not),
    /// its next fire time, and releases the lease; a fire older than the one recorded changes
    /// nothing.
    async fn record_schedule_fire(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        fire: Millis,
        next_fire: Option<Millis>,
        error: Option<&str>,
    ) -> Result<()>;
}

/// The index of files uploaded to a workspace, by content hash. Every method is one transaction.
#[async_trait]
pub trait UploadStore: Send + Sync {
    /// Records that `path` of `area` (`models` or `data`) holds the content `hash`.
    async fn record_upload_file(
        &self,
        workspace: &WorkspaceName,
        area: &str,
        path: &str,
        hash: &str,
        size: i64,
        now: Millis,
    ) -> Result<()>;
    /// The uploaded files at `prefix` or under it (`prefix/…`), by path: `(path, hash, size,
    /// created_at)`.
    async fn upload_files_under(&self, workspace: &WorkspaceName, area: &str, prefix: &str) -> Result<Vec<UploadFile>>;
    /// Every uploaded file of a workspace, by area and path.
    async fn all_upload_files(&self, workspace: &WorkspaceName) -> Result<Vec<UploadFile>>;
    /// Forgets the uploaded files at `prefix` or under it; returns how many.
    async fn delete_upload_files_under(&self, workspace: &WorkspaceName, area: &str, prefix: &str) -> Result<u64>;
}

/// What garbage collection reads and purges. Every method is one transaction.
#[async_trait]
pub trait GcStore: Send + Sync {
    /// The runs of a workspace marked deleted that no model version names (by `run_id` or a
    /// `runs:/<run>/…` source): what garbage collection may purge.
    async fn purgeable_runs(&self, workspace: &WorkspaceName) -> Result<Vec<RunInfo>>;
    /// Removes a deleted run and everything logged to it; a run that is not deleted is kept.
    async fn purge_run(&self, run_id: &RunId) -> Result<()>;
    /// Every location a workspace's metadata still refers to: model version sources and data
    /// asset paths (archived ones included), locations its jobs hold on to, and its deployments'
    /// code snapshots (`code:<snapshot>/`). The files garbage collection must keep.
    async fn referenced_locations(&self, workspace: &WorkspaceName) -> Result<Vec<String>>;
}

/// Workspaces, users, API tokens and studio sessions. Every method is one
/// transaction.
#[async_trait]
pub trait AccessStore: Send + Sync {
    // Workspaces.
    /// Creates a workspace together with its `Default` experiment (id 0).
    async fn create_workspace(&self, workspace: &Workspace, artifact_root: &str) -> Result<()>;
    async fn get_workspace(&self, name: &WorkspaceName) -> Result<Workspace>;
    async fn list_workspaces(&self) -> Result<Vec<Workspace>>;
    async fn update_workspace(
        &self,
        name: &WorkspaceName,
        description: Option<&str>,
        tags: Option<&BTreeMap<String, String>>,
        now: Millis,
    ) -> Result<Workspace>;
    /// Deletes a workspace and everything in it.
    async fn delete_workspace(&self, name: &WorkspaceName) -> Result<()>;

    // Users, tokens and roles.
    async fn create_user(&self, user: &User, password_hash: Option<&str>) -> Result<()>;
    async fn get_user(&self, name: &UserName) -> Result<UserRecord>;
    async fn list_users(&self) -> Result<Vec<User>>;
    async fn set_password(&self, name: &UserName, password_hash: &str) -> Result<()>;
    /// Disables a user (`Some(when)`), ending their studio sessions in the same transaction, or
    /// enables them again (`None`).
    async fn set_user_disabled(&self, name: &UserName, disabled_at: Option<Millis>) -> Result<()>;
    async fn create_token(&self, token: &TokenInfo, token_hash: &str) -> Result<()>;
    /// Finds the live token with this hash and its user; expired tokens are not found.
    async fn find_token(&self, token_hash: &str, now: Millis) -> Result<Option<(TokenInfo, User)>>;
    async fn list_tokens(&self, user: Option<&UserName>) -> Result<Vec<TokenInfo>>;
    async fn get_token(&self, id: &str) -> Result<TokenInfo>;
    async fn delete_token(&self, id: &str) -> Result<()>;
    /// Notes that a token was used at `at`, unless a later use is already noted. Not audited:
    /// it is bookkeeping of reads as much as of writes.
    async fn touch_token(&self, id: &str, at: Millis) -> Result<()>;
    async fn create_session(&self, session: &Session) -> Result<()>;
    /// Finds a live session and its user; expired sessions are not found.
    async fn find_session(&self, id_hash: &str, now: Millis) -> Result<Option<(Session, User)>>;
    async fn delete_session(&self, id_hash: &str) -> Result<()>;
    /// Keeps a single sign-on round trip under way, and forgets those expired by `now`.
    async fn create_sign_in_request(&self, request: &SignInRequest, now: Millis) -> Result<()>;
    /// Takes the live round trip with this state: found once, then gone.
    async fn take_sign_in_request(&self, state_hash: &str, now: Millis) -> Result<Option<SignInRequest>>;
}

/// A custom role as stored, with who defined it and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRole {
    pub definition: RoleDefinition,
    pub created_by: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// Custom role definitions and role assignments (built-in roles are the core's, and are
/// stored only as the names assignments hold). Every method is one transaction.
#[async_trait]
pub trait RoleStore: Send + Sync {
    /// Stores a custom role; a name taken (in any case) is `RESOURCE_ALREADY_EXISTS`.
    async fn create_role_definition(&self, role: &RoleDefinition, created_by: &UserName, now: Millis) -> Result<()>;
    /// Replaces a custom role's description, patterns and scopes; refused where it is assigned
    /// in a workspace the new scopes leave out.
    async fn update_role_definition(&self, role: &RoleDefinition, now: Millis) -> Result<()>;
    /// Deletes a custom role; refused while it is assigned anywhere.
    async fn delete_role_definition(&self, name: &str) -> Result<()>;
    /// A custom role by name, without regard to case.
    async fn get_role_definition(&self, name: &str) -> Result<Option<StoredRole>>;
    async fn list_role_definitions(&self) -> Result<Vec<StoredRole>>;
    /// Gives `user` the role called `role` (its stored name) on `workspace`; a custom role
    /// (`built_in` false) only while it exists. Assigning a role again changes nothing.
    async fn assign_role(&self, workspace: &WorkspaceName, user: &UserName, role: &str, built_in: bool) -> Result<()>;
    /// Removes `role` from `user` on `workspace`, or every role of theirs there when `None`.
    async fn remove_role(&self, workspace: &WorkspaceName, user: &UserName, role: Option<&str>) -> Result<()>;
    /// The names of the roles `user` holds on `workspace`.
    async fn roles_of(&self, workspace: &WorkspaceName, user: &UserName) -> Result<Vec<String>>;
    /// Every assignment on `workspace`, by user and role.
    async fn list_roles(&self, workspace: &WorkspaceName) -> Result<Vec<(UserName, String)>>;
}

/// The audit log (see [`audit`]): appended by the transactions of the changes it records, and
/// here by what is recorded after a call's answer; read newest first; purged only by age.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends one record on its own (a denial, a failure, a change outside the store).
    async fn append_audit(&self, record: &atelier_core::audit::AuditRecord) -> Result<()>;
    /// A page of records, newest first.
    async fn list_audit(
        &self,
        query: &atelier_core::audit::AuditQuery,
    ) -> Result<Vec<atelier_core::audit::AuditRecord>>;
    /// Deletes the records older than `before`; returns how many.
    async fn purge_audit(&self, before: Millis) -> Result<u64>;
}

/// Experiments and runs, with their metrics, params, tags, inputs and outputs. Every method is
/// one transaction.
#[async_trait]
pub trait TrackingStore: Send + Sync {
    // Experiments.
    /// Creates an experiment; its artifact location is `<artifact_root>/<id>`.
    async fn create_experiment(
        &self,
        workspace: &WorkspaceName,
        name: &str,
        artifact_root: &str,
        tags: &[Tag],
        now: Millis,
    ) -> Result<ExperimentId>;
    async fn get_experiment(&self, workspace: &WorkspaceName, id: ExperimentId) -> Result<Experiment>;
    async fn get_experiment_by_name(&self, workspace: &WorkspaceName, name: &str) -> Result<Experiment>;
    async fn search_experiments(&self, query: &ExperimentQuery<'_>) -> Result<Vec<Experiment>>;
    /// Active-run counts and latest run starts of a workspace's experiments (those with runs).
    async fn experiment_stats(&self, workspace: &WorkspaceName) -> Result<Vec<ExperimentStats>>;
    async fn rename_experiment(
        &self,
        workspace: &WorkspaceName,
        id: ExperimentId,
        name: &str,
        now: Millis,
    ) -> Result<()>;
    /// Marks an experiment and its runs deleted or active again.
    async fn set_experiment_stage(
        &self,
        workspace: &WorkspaceName,
        id: ExperimentId,
        stage: LifecycleStage,
        now: Millis,
    ) -> Result<()>;
    async fn set_experiment_tag(&self, workspace: &WorkspaceName, id: ExperimentId, tag: &Tag) -> Result<()>;
    async fn delete_experiment_tag(&self, workspace: &WorkspaceName, id: ExperimentId, key: &str) -> Result<()>;

    // Runs.
    async fn create_run(&self, info: &RunInfo, tags: &[Tag]) -> Result<()>;
    /// Loads a run with its latest metrics, params, tags and inputs.
    async fn get_run(&self, run_id: &RunId) -> Result<Run>;
    /// Loads only a run's info, for checks before writes.
    async fn get_run_info(&self, run_id: &RunId) -> Result<RunInfo>;
    async fn update_run(&self, run_id: &RunId, update: &RunUpdate) -> Result<RunInfo>;
    async fn set_run_stage(&self, run_id: &RunId, stage: LifecycleStage, now: Millis) -> Result<()>;
    /// Writes metrics, params and tags all-or-nothing. Fails, writing nothing, when the run is
    /// not in `workspace` (not found), not active, or a param already has a different value.
    async fn log_batch(&self, workspace: &WorkspaceName, run_id: &RunId, batch: Batch) -> Result<()>;
    async fn delete_run_tag(&self, run_id: &RunId, key: &str) -> Result<()>;
    async fn log_inputs(&self, run_id: &RunId, inputs: &[DatasetInput]) -> Result<()>;
    /// One page of a metric's history, ordered by step, then timestamp, then insertion.
    async fn get_metric_history(
        &self,
        run_id: &RunId,
        key: &str,
        limit: Option<i64>,
        offset: i64,
    ) -> Result<Vec<Metric>>;
    /// How many points a metric series has; `None` when the run has no such metric.
    async fn metric_points(&self, run_id: &RunId, key: &str) -> Result<Option<i64>>;
    /// Of the series named, those with more than `longer_than` points, in one statement, in no
    /// particular order (a series named twice may come back twice).
    async fn long_series(&self, series: &[(RunId, String)], longer_than: i64) -> Result<Vec<(RunId, String)>>;
    /// How many points a metric series has and, from the same snapshot, an insertion mark at
    /// least as high as any of them: a summary of exactly those points can be kept with that
    /// mark. On PostgreSQL the mark is the sequence's, which a transaction still open may have
    /// drawn below; a point it then commits is found by the count check of the next extension.
    async fn series_extent(&self, run_id: &RunId, key: &str) -> Result<Option<(i64, i64)>>;
    /// A page of at most `limit` points of a metric series inserted after the mark `after` (0
    /// for all), in series order from after `from` (the start for `None`), and the series' point
    /// count in the same snapshot. Paged with `next`, the count of the last page's snapshot
    /// equal to the points already held plus all those read means nothing was missed.
    async fn metric_points_after(
        &self,
        run_id: &RunId,
        key: &str,
        after: i64,
        from: Option<SeriesCursor>,
        limit: i64,
    ) -> Result<SeriesRead>;
    /// The kept summary of a long metric series and the insertion mark it has seen up to;
    /// `None` when none is kept, or one is kept that this build cannot read.
    async fn series_summary(
        &self,
        run_id: &RunId,
        key: &str,
    ) -> Result<Option<(atelier_core::series::SeriesSummary, i64)>>;
    /// Keeps a series' summary, unless one that covers more points is kept already (a series
    /// only gains points, so that one is newer).
    async fn put_series_summary(
        &self,
        run_id: &RunId,
        key: &str,
        summary: &atelier_core::series::SeriesSummary,
        last_mark: i64,
    ) -> Result<()>;
    /// The points of a metric series whose steps lie in `first..=last`, in step order.
    async fn metric_points_between(
        &self,
        run_id: &RunId,
        key: &str,
        first: i64,
        last: i64,
    ) -> Result<Vec<atelier_core::series::Sample>>;
    async fn search_runs(&self, query: &RunQuery<'_>) -> Result<Vec<Run>>;
    /// Links logged models to a run as its outputs.
    async fn log_outputs(&self, run_id: &RunId, outputs: &[ModelOutput]) -> Result<()>;
}

/// Logged models (MLflow 3). Every method is one transaction.
#[async_trait]
pub trait LoggedModelStore: Send + Sync {
    async fn create_logged_model(&self, model: &LoggedModel) -> Result<()>;
    async fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel>;
    async fn set_logged_model_status(&self, model_id: &str, status: &str, now: Millis) -> Result<()>;
    async fn set_logged_model_tags(&self, model_id: &str, tags: &[Tag], now: Millis) -> Result<()>;
    async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()>;
    async fn log_logged_model_params(&self, model_id: &str, params: &[Param]) -> Result<()>;
    /// Marks a logged model deleted; it no longer appears in searches.
    async fn delete_logged_model(&self, model_id: &str, now: Millis) -> Result<()>;
    async fn search_logged_models(&self, query: &LoggedModelQuery<'_>) -> Result<Vec<LoggedModel>>;
}

/// The metadata store: every part of the contract, behind one object (the service holds an
/// `Arc<dyn Store>`, on which every part's methods can be called). Every method is one
/// transaction: it commits whole or not at all.
pub trait Store:
    AccessStore
    + AuditStore
    + RoleStore
    + TrackingStore
    + LoggedModelStore
    + RegistryStore
    + AssetStore
    + DatastoreStore
    + EnvironmentStore
    + ComponentStore
    + ScheduleStore
    + LeaseStore
    + UploadStore
    + GcStore
    + JobStore
    + EndpointStore
    + InstanceStore
    + Send
    + Sync
    + 'static
{
}

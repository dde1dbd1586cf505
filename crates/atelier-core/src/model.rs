//! Domain types: workspaces, experiments, runs and what runs record, users and tokens.
//!
//! These are plain data. Wire formats (native JSON, MLflow JSON) are separate types at the edge
//! with explicit conversions, so a quirk of one API never leaks into another.

use crate::names::{UserName, WorkspaceName};
use std::collections::BTreeMap;

/// Milliseconds since the Unix epoch, as MLflow stores every time.
pub type Millis = i64;

#[derive(Debug, Clone, PartialEq)]
pub struct Workspace {
    pub name: WorkspaceName,
    pub description: String,
    pub tags: BTreeMap<String, String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// Whether an entity is live or soft-deleted (restorable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LifecycleStage {
    Active,
    Deleted,
}

impl LifecycleStage {
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleStage::Active => "active",
            LifecycleStage::Deleted => "deleted",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(LifecycleStage::Active),
            "deleted" => Some(LifecycleStage::Deleted),
            _ => None,
        }
    }
}

/// Which lifecycle stages a listing includes (MLflow's `ViewType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ViewType {
    #[default]
    ActiveOnly,
    DeletedOnly,
    All,
}

impl ViewType {
    pub fn includes(self, stage: LifecycleStage) -> bool {
        match self {
            ViewType::ActiveOnly => stage == LifecycleStage::Active,
            ViewType::DeletedOnly => stage == LifecycleStage::Deleted,
            ViewType::All => true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

impl Tag {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Tag { key: key.into(), value: value.into() }
    }
}

/// An experiment id. MLflow's ids are decimal strings; Atelier numbers experiments per
/// workspace so that every workspace has its own `Default` experiment with id `0`, which is
/// what the MLflow client assumes when no experiment is set.
pub type ExperimentId = i64;

/// The id of the experiment every workspace is created with.
pub const DEFAULT_EXPERIMENT_ID: ExperimentId = 0;
pub const DEFAULT_EXPERIMENT_NAME: &str = "Default";

#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    pub workspace: WorkspaceName,
    pub experiment_id: ExperimentId,
    pub name: String,
    pub artifact_location: String,
    pub lifecycle_stage: LifecycleStage,
    pub creation_time: Millis,
    pub last_update_time: Millis,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    Running,
    Scheduled,
    Finished,
    Failed,
    Killed,
}

impl RunStatus {
    pub const ALL: [RunStatus; 5] =
        [RunStatus::Running, RunStatus::Scheduled, RunStatus::Finished, RunStatus::Failed, RunStatus::Killed];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Scheduled => "SCHEDULED",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        RunStatus::ALL.into_iter().find(|status| status.as_str() == text)
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, RunStatus::Finished | RunStatus::Failed | RunStatus::Killed)
    }
}

/// A run's id: 32 lowercase hexadecimal characters, as MLflow makes them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(String);

impl RunId {
    /// Accepts what MLflow accepts as a run id: 1 to 256 characters of letters, digits, `-` and
    /// `_`. Ids that Atelier makes are 32 hex characters.
    pub fn parse(text: &str) -> crate::Result<Self> {
        let valid = !text.is_empty()
            && text.len() <= 256
            && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(crate::Error::invalid(format!("invalid run id '{text}'")));
        }
        Ok(RunId(text.to_owned()))
    }

    /// Wraps 16 random bytes as a new run id.
    pub fn from_random(bytes: [u8; 16]) -> Self {
        use std::fmt::Write;
        let mut text = String::with_capacity(32);
        for byte in bytes {
            let _ = write!(text, "{byte:02x}");
        }
        RunId(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    pub run_id: RunId,
    pub workspace: WorkspaceName,
    pub experiment_id: ExperimentId,
    pub run_name: String,
    pub user_id: String,
    pub status: RunStatus,
    pub start_time: Option<Millis>,
    pub end_time: Option<Millis>,
    pub artifact_uri: String,
    pub lifecycle_stage: LifecycleStage,
}

/// One metric point. `value` may be NaN; ±infinity is clamped to ±`f64::MAX` on the way in, as
/// MLflow's SQL store does.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub key: String,
    pub value: f64,
    pub timestamp: Millis,
    pub step: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    pub name: String,
    pub digest: String,
    pub source_type: String,
    pub source: String,
    pub schema: Option<String>,
    pub profile: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetInput {
    pub tags: Vec<Tag>,
    pub dataset: Dataset,
}

/// A run with everything it recorded: the latest value of each metric, params, tags and inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub info: RunInfo,
    pub metrics: Vec<Metric>,
    pub params: Vec<Param>,
    pub tags: Vec<Tag>,
    pub inputs: Vec<DatasetInput>,
    pub outputs: Vec<ModelOutput>,
}

/// One page of a listing, with the token that fetches the next page.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: UserName,
    pub is_admin: bool,
    pub created_at: Millis,
    /// When a server administrator disabled the user; a disabled user cannot sign in, and
    /// their tokens, sessions and jobs' tokens are refused. `None`: enabled.
    pub disabled_at: Option<Millis>,
}

/// An API token's public record. The secret itself is shown once, at creation, and stored only
/// as a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: String,
    pub user: UserName,
    pub description: String,
    pub created_at: Millis,
    pub expires_at: Option<Millis>,
    pub scope: TokenScope,
    /// When the token last authenticated a request, to within a minute.
    pub last_used_at: Option<Millis>,
}

/// What an API token may do: everything its user may, or only read `/metrics` (a token for
/// Prometheus, which can do nothing else).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenScope {
    #[default]
    All,
    Metrics,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::All => "all",
            TokenScope::Metrics => "metrics",
        }
    }

    pub fn parse(text: &str) -> crate::Result<Self> {
        match text {
            "all" => Ok(TokenScope::All),
            "metrics" => Ok(TokenScope::Metrics),
            other => Err(crate::Error::invalid(format!("invalid token scope '{other}': expected 'all' or 'metrics'"))),
        }
    }
}

/// The tag MLflow uses for a run's parent.
pub const PARENT_RUN_ID_TAG: &str = "mlflow.parentRunId";
/// The tag MLflow mirrors a run's name into.
pub const RUN_NAME_TAG: &str = "mlflow.runName";
/// The tag MLflow mirrors a run's user into.
pub const USER_TAG: &str = "mlflow.user";

/// The states of an MLflow 3 logged model, spelled as on the wire.
pub const LOGGED_MODEL_STATUSES: [&str; 3] =
    ["LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"];

/// An MLflow 3 logged model: a model's files and metadata, made by a run (`log_model`) and
/// kept under the experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedModel {
    pub model_id: String,
    pub workspace: WorkspaceName,
    pub experiment_id: ExperimentId,
    pub name: String,
    pub artifact_location: String,
    pub creation_time: Millis,
    pub last_updated_time: Millis,
    /// One of [`LOGGED_MODEL_STATUSES`].
    pub status: String,
    pub status_message: String,
    pub lifecycle_stage: LifecycleStage,
    pub model_type: String,
    pub source_run_id: Option<String>,
    pub creator: String,
    pub tags: Vec<Tag>,
    pub params: Vec<Param>,
}

/// A run's output: a logged model, at a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelOutput {
    pub model_id: String,
    pub step: i64,
}

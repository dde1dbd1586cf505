//! Compute instances: a JupyterLab server for one person, started and stopped on demand, whose
//! home folder lasts from one start to the next.

use crate::model::Millis;
use crate::names::WorkspaceName;
use crate::{Error, Result};
use std::collections::BTreeMap;

/// Where an instance stands (Azure's states, without those of VMs Atelier has none of).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstanceState {
    /// Started for the first time: its environment is built, its creation script runs.
    Creating,
    Starting,
    Running,
    Stopping,
    Stopped,
    /// It could not start, or its server ended on its own; `reason` says why.
    Failed,
}

impl InstanceState {
    pub const ALL: [InstanceState; 6] = [
        InstanceState::Creating,
        InstanceState::Starting,
        InstanceState::Running,
        InstanceState::Stopping,
        InstanceState::Stopped,
        InstanceState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Creating => "Creating",
            InstanceState::Starting => "Starting",
            InstanceState::Running => "Running",
            InstanceState::Stopping => "Stopping",
            InstanceState::Stopped => "Stopped",
            InstanceState::Failed => "Failed",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| Error::internal(format!("unknown instance state '{text}'")))
    }

    /// Whether a process of the instance may be running: it is started, or on its way up or down.
    pub fn has_process(self) -> bool {
        matches!(
            self,
            InstanceState::Creating | InstanceState::Starting | InstanceState::Running | InstanceState::Stopping
        )
    }
}

/// A compute instance as the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputeInstance {
    pub workspace: WorkspaceName,
    pub name: String,
    /// The user it belongs to: only they (and those they share it with) open it.
    pub owner: String,
    /// Users the owner shares it with.
    pub shared_with: Vec<String>,
    pub size: Option<String>,
    pub description: String,
    pub tags: BTreeMap<String, String>,
    /// The file as written.
    pub yaml: String,
    /// What the service starts it from (JSON, the service's to read): the resolved environment,
    /// the setup scripts' texts, the idle time and schedules.
    pub definition: String,
    pub state: InstanceState,
    /// Why it is in its state, where that needs saying (`Failed`, a stop for idleness).
    pub reason: Option<String>,
    pub state_since: Millis,
    /// The hash of the token its server holds, replaced at every start.
    pub token_hash: Option<String>,
    /// The process that runs it, by id and start time.
    pub runtime_pid: Option<i64>,
    pub runtime_start: Option<i64>,
    /// When its notebooks were last active, as JupyterLab reports it.
    pub last_activity: Option<Millis>,
    /// Up to when its start/stop schedules have been applied.
    pub schedules_checked_at: Millis,
    pub created_by: String,
    pub created_at: Millis,
}

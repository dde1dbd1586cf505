//! Compute instances: a JupyterLab server for one person, in a uv environment with the
//! workspace's clients (`mlflow`, the SDK) ready, started by this server's [`InstanceHost`] and
//! reached only through the server's proxy (`/ci/<workspace>/<name>/…`), where only its owner
//! and those they share it with pass.
//!
//! An instance runs on this server's machine, or, where its file names a Slurm compute
//! (`compute: azureml:hpc`), as a long batch job on one of the cluster's nodes: one
//! [`InstanceHost`] per kind of place, as jobs have one backend per kind of compute.
//!
//! The service keeps each instance's record and state; a reconcile pass (`instance_reconcile.rs`), on the server whose
//! machine runs the instance (the leader, for a cluster's), sees a started server answer and marks
//! it `Running`, marks one whose server ended `Stopped` or `Failed` (with the end of its log, and
//! the cluster's words), stops one idle for longer than its idle time (kernel activity, read from
//! JupyterLab's own API), and applies the start/stop schedules.

use crate::serving::PortFuture;
use crate::{Principal, Service, Target, now_millis};
use atelier_core::authz::Action;
use atelier_core::instance::{ComputeInstance, InstanceState};
use atelier_core::names::{UserName, WorkspaceName};
use atelier_core::{Error, Result};
use atelier_spec::instance::{InstanceSpec, parse_instance};
use atelier_spec::plan::PlannedEnvironment;
use atelier_store::Compute;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// What the instance's server installs beside its environment's packages: JupyterLab, and the
/// clients its notebooks use (`mlflow`'s tracking client and what the SDK needs).
pub const INSTANCE_REQUIREMENTS: &[&str] =
    &["jupyterlab==4.6.6", "mlflow-skinny==3.17.2", "requests==2.34.2", "pyyaml==6.0.3"];

/// The prefix of an instance server's token.
pub(crate) const INSTANCE_TOKEN_PREFIX: &str = "atc_";

/// How long a stopping instance's server gets before it is killed, in seconds.
pub const STOP_GRACE_SECONDS: u64 = 10;

/// How long a restart or a delete waits for a server to end (a cluster's batch job takes a
/// while to complete after its server stopped).
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// The start of an instance's reason while a cluster holds its server back.
pub(crate) const WAITING: &str = "waiting for a node: ";

/// How often a stop is sent again to a stopping instance whose server still runs, in ms.
pub(crate) const STOP_AGAIN_MILLIS: i64 = 10_000;

/// A setup script's text and time limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptText {
    pub text: String,
    pub timeout_minutes: u32,
}

/// What an instance is started from, kept with it (its `definition`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceDefinition {
    pub environment: PlannedEnvironment,
    pub creation_script: Option<ScriptText>,
    pub startup_script: Option<ScriptText>,
    pub idle_minutes: Option<u32>,
    /// The Slurm compute whose nodes run it; `None`: this server's machine.
    #[serde(default)]
    pub compute: Option<String>,
}

/// What the host needs to start an instance's server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceLaunch {
    pub workspace: String,
    pub name: String,
    pub owner: String,
    /// The token its notebooks use for the workspace (`atc_…`): the owner's rights, without
    /// managing accounts.
    pub token: String,
    pub definition: InstanceDefinition,
    /// Whether this is its first start (the creation script runs).
    pub first: bool,
    /// The path JupyterLab serves under: `/ci/<workspace>/<name>/`.
    pub base_url: String,
    /// Its `size` (an Azure VM size): what a cluster's node gives it.
    #[serde(default)]
    pub size: Option<String>,
}

/// Where an instance's JupyterLab listens, and the token it asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JupyterConnection {
    /// The address: loopback on this machine, a node's address on a cluster.
    #[serde(default = "loopback")]
    pub host: String,
    pub port: u16,
    pub token: String,
}

fn loopback() -> String {
    "127.0.0.1".to_owned()
}

/// Where an instance runs: its workspace and name, and the compute whose nodes run it (`None`:
/// this server's machine).
#[derive(Debug, Clone)]
pub struct InstancePlace {
    pub workspace: WorkspaceName,
    pub name: String,
    pub compute: Option<Compute>,
}

impl InstancePlace {
    /// The kind of host that runs it: `local`, or its compute's type.
    pub fn kind(&self) -> &str {
        self.compute.as_ref().map_or("local", |compute| compute.kind.as_str())
    }
}

/// What became of an instance's server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceRun {
    /// Waiting in a cluster's queue, in the cluster's words (`PENDING (Resources)`).
    Waiting(String),
    Alive,
    /// Its host cannot tell now (a cluster that does not answer): nothing changes.
    Unknown,
    /// Ended; with the host's words where it has some (a cluster's state and reason).
    Ended(Option<String>),
}

/// The process that runs an instance's server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceProcess {
    pub pid: i64,
    pub start: i64,
}

/// Starts, follows and stops instances' servers: on this machine, or on a cluster's nodes.
pub trait InstanceHost: Send + Sync {
    /// The kinds of place it runs instances in (`local`, `slurm`).
    fn kinds(&self) -> &'static [&'static str];
    /// Starts the server detached (its JupyterLab with a fresh token), or hands it to the
    /// cluster's queue; a process id, or the cluster's job id (start 0).
    fn start<'a>(
        &'a self,
        place: &'a InstancePlace,
        launch: &'a InstanceLaunch,
    ) -> PortFuture<'a, Result<InstanceProcess>>;
    /// What became of these servers, in one look, in the order given.
    fn survey<'a>(
        &'a self,
        servers: &'a [(InstancePlace, InstanceProcess)],
    ) -> PortFuture<'a, Result<Vec<InstanceRun>>>;
    /// Asks it to stop (SIGTERM), then kills it after `grace` seconds if it has not.
    fn stop<'a>(&'a self, place: &'a InstancePlace, process: InstanceProcess, grace: u64)
    -> PortFuture<'a, Result<()>>;
    /// Whether this server follows it: its folder is on this machine (a cluster's instances
    /// are followed by the leader).
    fn follows(&self, place: &InstancePlace) -> bool;
    /// Where its JupyterLab listens, once it was started (on a cluster: once it said where).
    fn connection(&self, place: &InstancePlace) -> Option<JupyterConnection>;
    /// The end of its server's log.
    fn log_tail(&self, place: &InstancePlace) -> Option<String>;
    /// Removes its folder, home included.
    fn remove(&self, place: &InstancePlace) -> Result<()>;
}

/// The texts of a file's setup scripts given by path, which the client read.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct InstanceScripts {
    #[serde(default)]
    pub creation_script: Option<String>,
    #[serde(default)]
    pub startup_script: Option<String>,
}

/// An instance as the API shows it.
#[derive(Debug, Clone)]
pub struct InstanceView {
    pub instance: ComputeInstance,
    pub idle_minutes: Option<u32>,
    /// Minutes left before it is stopped for idleness, while it runs.
    pub idle_minutes_left: Option<i64>,
    pub environment: String,
    /// Its JupyterLab's path on this server.
    pub url: String,
    /// Where it runs: `local` (this server's machine) or the Slurm compute whose node runs it.
    pub compute: String,
}

pub(crate) fn definition_of(instance: &ComputeInstance) -> Result<InstanceDefinition> {
    serde_json::from_str(&instance.definition)
        .map_err(|error| Error::internal(format!("instance '{}' has an unreadable definition: {error}", instance.name)))
}

pub(crate) fn base_url(workspace: &WorkspaceName, name: &str) -> String {
    format!("/ci/{workspace}/{name}/")
}

fn script_text(
    field: &str,
    script: &Option<atelier_spec::instance::SetupScript>,
    sent: &Option<String>,
) -> Result<Option<ScriptText>> {
    let Some(script) = script else { return Ok(None) };
    let text = match (&script.command, &script.path, sent) {
        (Some(command), _, _) => command.clone(),
        (None, Some(_), Some(text)) => text.clone(),
        (None, Some(path), None) => {
            return Err(Error::invalid(format!(
                "{field}.path: '{path}' is a file on the client's machine: send its text as `setup_scripts.{}` \
                 (atelier compute create does)",
                field.rsplit('.').next().unwrap_or(field)
            )));
        }
        (None, None, _) => return Ok(None),
    };
    Ok(Some(ScriptText { text, timeout_minutes: script.timeout_minutes }))
}

impl Service {
    /// Gives the service a host of compute instances' servers, for the kinds of place it runs.
    pub fn with_instance_host(mut self, host: Arc<dyn InstanceHost>) -> Self {
        for kind in host.kinds() {
            self.instance_hosts.insert(kind, host.clone());
        }
        self
    }

    pub(crate) fn instance_host(&self, place: &InstancePlace) -> Result<&Arc<dyn InstanceHost>> {
        self.instance_hosts.get(place.kind()).ok_or_else(|| match &place.compute {
            None => Error::invalid("this server runs no compute instances"),
            Some(compute) => Error::invalid(format!(
                "compute '{}' is of type '{}': compute instances run on this server's machine (leave `compute` \
                 out) or on a Slurm compute",
                compute.name, compute.kind
            )),
        })
    }

    /// Where an instance runs.
    pub(crate) async fn place_of(&self, instance: &ComputeInstance) -> Result<InstancePlace> {
        let compute = match definition_of(instance)?.compute {
            Some(name) => Some(self.store.get_compute(&instance.workspace, &name).await?),
            None => None,
        };
        Ok(InstancePlace { workspace: instance.workspace.clone(), name: instance.name.clone(), compute })
    }

    /// Creates a compute instance from its file (`yaml`) and starts it. `scripts` holds the texts
    /// of setup scripts the file names by path.
    pub async fn create_instance_from_yaml(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        yaml: &str,
        scripts: &InstanceScripts,
    ) -> Result<InstanceView> {
        self.authorize(principal, workspace, Action::ComputesWrite).await?;
        let now = now_millis();
        let spec: InstanceSpec = parse_instance(yaml, now).map_err(crate::jobs::spec_error)?;
        self.require_confinement(principal, "compute instances")?;
        let compute =
            match &spec.compute {
                Some(name) => Some(self.store.get_compute(workspace, name).await.map_err(|_| {
                    Error::invalid(format!("compute: workspace '{workspace}' has no compute '{name}'"))
                })?),
                None => None,
            };
        let place = InstancePlace { workspace: workspace.clone(), name: spec.name.clone(), compute };
        self.instance_host(&place).map_err(|error| Error::invalid(format!("compute: {}", error.message)))?;
        // On a cluster, the size is what its batch job asks for.
        if let (Some(_), Some(size)) = (&place.compute, &spec.size) {
            atelier_core::job::vm_size(size).map_err(|error| Error::invalid(format!("size: {}", error.message)))?;
        }
        let owner = match &spec.assigned_to {
            Some(user) => {
                let user =
                    UserName::parse(user).map_err(|error| Error::invalid(format!("assigned_to: {}", error.message)))?;
                self.store
                    .get_user(&user)
                    .await
                    .map_err(|_| Error::invalid(format!("assigned_to: there is no user '{user}' on this server")))?;
                user.to_string()
            }
            None => principal.user().to_string(),
        };
        let (environment, _warnings) = self
            .resolve_environment(principal, workspace, spec.environment.as_deref(), None, "atelier compute create")
            .await
            .map_err(|error| Error::invalid(format!("environment: {}", error.message)))?;
        let definition = InstanceDefinition {
            environment,
            creation_script: script_text(
                "setup_scripts.creation_script",
                &spec.creation_script,
                &scripts.creation_script,
            )?,
            startup_script: script_text("setup_scripts.startup_script", &spec.startup_script, &scripts.startup_script)?,
            idle_minutes: spec.idle_minutes,
            compute: spec.compute.clone(),
        };
        let instance = ComputeInstance {
            workspace: workspace.clone(),
            name: spec.name.clone(),
            owner,
            shared_with: Vec::new(),
            size: spec.size.clone(),
            description: spec.description.clone().unwrap_or_default(),
            tags: spec.tags.clone(),
            yaml: yaml.to_owned(),
            definition: serde_json::to_string(&definition).map_err(|error| Error::internal(error.to_string()))?,
            state: InstanceState::Creating,
            reason: None,
            state_since: now,
            token_hash: None,
            runtime_pid: None,
            runtime_start: None,
            last_activity: None,
            schedules_checked_at: now,
            created_by: principal.user().to_string(),
            created_at: now,
        };
        self.store.create_instance(&instance).await?;
        crate::audit::note_target(&format!("compute instance {}", instance.name));
        let started = self.launch_instance(&instance, true).await?;
        Ok(self.instance_view(started))
    }

    /// Starts the instance's server (the record is `Creating` or `Starting`).
    pub(crate) async fn launch_instance(&self, instance: &ComputeInstance, first: bool) -> Result<ComputeInstance> {
        let place = self.place_of(instance).await?;
        let host = self.instance_host(&place)?;
        let secret = format!("{INSTANCE_TOKEN_PREFIX}{}", hex::encode(rand::random::<[u8; 32]>()));
        let launch = InstanceLaunch {
            workspace: instance.workspace.to_string(),
            name: instance.name.clone(),
            owner: instance.owner.clone(),
            token: secret.clone(),
            definition: definition_of(instance)?,
            first,
            base_url: base_url(&instance.workspace, &instance.name),
            size: instance.size.clone(),
        };
        let hash = crate::auth::token_hash(&secret);
        self.store.set_instance_runtime(&instance.workspace, &instance.name, Some(&hash), None).await?;
        match host.start(&place, &launch).await {
            Ok(process) => {
                self.store
                    .set_instance_runtime(
                        &instance.workspace,
                        &instance.name,
                        Some(&hash),
                        Some((process.pid, process.start)),
                    )
                    .await?;
                self.wake_instances();
                let now = self.store.get_instance(&instance.workspace, &instance.name).await?;
                // A stop that came while it started found no server to signal.
                if now.state == InstanceState::Stopping {
                    host.stop(&place, process, STOP_GRACE_SECONDS).await?;
                }
                Ok(now)
            }
            Err(error) => {
                let reason = format!("its server could not be started: {}", error.message);
                self.store.set_instance_runtime(&instance.workspace, &instance.name, None, None).await?;
                let from = [InstanceState::Creating, InstanceState::Starting];
                self.store
                    .set_instance_state(
                        &instance.workspace,
                        &instance.name,
                        &from,
                        InstanceState::Failed,
                        Some(&reason),
                        now_millis(),
                    )
                    .await?;
                Err(Error::internal(reason))
            }
        }
    }

    /// The instance `principal` may act on with `action`: their role permits the action in the
    /// workspace (decided before the instance is looked up, so that who may not learns nothing of
    /// it), and the instance is theirs, or they may change computes (for opening it: theirs, or
    /// shared with them).
    async fn instance_for(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        action: Action,
    ) -> Result<ComputeInstance> {
        self.authorize(principal, workspace, action).await?;
        let instance = self.store.get_instance(workspace, name).await?;
        let target = Target::Instance { owner: &instance.owner, shared_with: &instance.shared_with };
        self.authorize_on(principal, workspace, action, target).await?;
        Ok(instance)
    }

    pub async fn get_instance(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
    ) -> Result<InstanceView> {
        self.authorize(principal, workspace, Action::ComputesRead).await?;
        Ok(self.instance_view(self.store.get_instance(workspace, name).await?))
    }

    pub async fn list_instances(&self, principal: &Principal, workspace: &WorkspaceName) -> Result<Vec<InstanceView>> {
        self.authorize(principal, workspace, Action::ComputesRead).await?;
        Ok(self.store.list_instances(Some(workspace)).await?.into_iter().map(|i| self.instance_view(i)).collect())
    }

    pub(crate) fn instance_view(&self, instance: ComputeInstance) -> InstanceView {
        let definition = definition_of(&instance).ok();
        let idle_minutes = definition.as_ref().and_then(|definition| definition.idle_minutes);
        let idle_minutes_left = match (idle_minutes, instance.state) {
            (Some(minutes), InstanceState::Running) => {
                let since = instance.last_activity.unwrap_or(instance.state_since).max(instance.state_since);
                Some(((since + i64::from(minutes) * 60_000 - now_millis()) / 60_000).max(0))
            }
            _ => None,
        };
        InstanceView {
            url: base_url(&instance.workspace, &instance.name) + "lab",
            compute: definition
                .as_ref()
                .and_then(|definition| definition.compute.clone())
                .unwrap_or_else(|| "local".to_owned()),
            environment: definition.map(|definition| definition.environment.name).unwrap_or_default(),
            idle_minutes,
            idle_minutes_left,
            instance,
        }
    }

    /// Starts a stopped (or failed) instance.
    pub async fn start_instance(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
    ) -> Result<InstanceView> {
        let instance = self.instance_for(principal, workspace, name, Action::ComputesStart).await?;
        let from = [InstanceState::Stopped, InstanceState::Failed];
        let Some(starting) =
            self.store.set_instance_state(workspace, name, &from, InstanceState::Starting, None, now_millis()).await?
        else {
            return Err(Error::invalid(format!(
                "compute instance '{name}' is {}: only a stopped or failed instance starts",
                instance.state.as_str()
            )));
        };
        crate::audit::note_target(&format!("compute instance {name}"));
        let started = self.launch_instance(&starting, false).await?;
        Ok(self.instance_view(started))
    }

    /// Stops a running instance; its home stays.
    pub async fn stop_instance(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
    ) -> Result<InstanceView> {
        let instance = self.instance_for(principal, workspace, name, Action::ComputesStop).await?;
        crate::audit::note_target(&format!("compute instance {name}"));
        let stopped = self.stop_instance_now(&instance, None).await?;
        Ok(self.instance_view(stopped))
    }

    /// Moves an instance to `Stopping` and signals its server; the reconcile pass marks it
    /// `Stopped` once its process has ended.
    pub(crate) async fn stop_instance_now(
        &self,
        instance: &ComputeInstance,
        reason: Option<&str>,
    ) -> Result<ComputeInstance> {
        let from = [InstanceState::Creating, InstanceState::Starting, InstanceState::Running];
        let Some(stopping) = self
            .store
            .set_instance_state(
                &instance.workspace,
                &instance.name,
                &from,
                InstanceState::Stopping,
                reason,
                now_millis(),
            )
            .await?
        else {
            return Err(Error::invalid(format!(
                "compute instance '{}' is {}: only a running instance stops",
                instance.name,
                instance.state.as_str()
            )));
        };
        if let (Some(pid), Some(start)) = (stopping.runtime_pid, stopping.runtime_start) {
            let place = self.place_of(&stopping).await?;
            self.instance_host(&place)?.stop(&place, InstanceProcess { pid, start }, STOP_GRACE_SECONDS).await?;
        }
        self.wake_instances();
        Ok(stopping)
    }

    /// Stops an instance and starts it again once its server has ended.
    pub async fn restart_instance(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
    ) -> Result<InstanceView> {
        let instance = self.instance_for(principal, workspace, name, Action::ComputesRestart).await?;
        crate::audit::note_target(&format!("compute instance {name}"));
        if instance.state.has_process() {
            self.stop_instance_now(&instance, Some("restarting")).await?;
            let deadline = std::time::Instant::now() + STOP_WAIT;
            loop {
                self.reconcile_instances().await?;
                let now = self.store.get_instance(workspace, name).await?;
                if !now.state.has_process() {
                    break;
                }
                if std::time::Instant::now() > deadline {
                    return Err(Error::internal(format!("compute instance '{name}' did not stop in time to restart")));
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
        let from = [InstanceState::Stopped, InstanceState::Failed];
        let starting = self
            .store
            .set_instance_state(workspace, name, &from, InstanceState::Starting, None, now_millis())
            .await?
            .ok_or_else(|| Error::invalid(format!("compute instance '{name}' changed state while restarting")))?;
        Ok(self.instance_view(self.launch_instance(&starting, false).await?))
    }

    /// Deletes an instance: its server stops and its folder (home included) goes.
    pub async fn delete_instance(&self, principal: &Principal, workspace: &WorkspaceName, name: &str) -> Result<()> {
        let instance = self.instance_for(principal, workspace, name, Action::ComputesDelete).await?;
        crate::audit::note_target(&format!("compute instance {name}"));
        let place = self.place_of(&instance).await?;
        let host = self.instance_host(&place)?;
        if let (Some(pid), Some(start)) = (instance.runtime_pid, instance.runtime_start) {
            let process = InstanceProcess { pid, start };
            host.stop(&place, process, STOP_GRACE_SECONDS).await?;
            let deadline = std::time::Instant::now() + STOP_WAIT;
            let servers = [(place.clone(), process)];
            while std::time::Instant::now() < deadline
                && host.survey(&servers).await?.first().is_none_or(|run| !matches!(run, InstanceRun::Ended(_)))
            {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
        self.store.delete_instance(workspace, name).await?;
        host.remove(&place)
    }

    /// Sets who besides its owner may open an instance; only its owner shares it.
    pub async fn share_instance(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        users: &[String],
    ) -> Result<InstanceView> {
        let instance = self.instance_for(principal, workspace, name, Action::ComputesApplicationAccess).await?;
        if principal.user().as_str() != instance.owner {
            return Err(Error::permission_denied(format!(
                "only compute instance '{name}''s owner, '{}', shares it",
                instance.owner
            )));
        }
        let mut shared = Vec::new();
        for user in users {
            let user = UserName::parse(user)?;
            self.store.get_user(&user).await.map_err(|_| Error::invalid(format!("there is no user '{user}'")))?;
            if user.as_str() != instance.owner && !shared.contains(&user.to_string()) {
                shared.push(user.to_string());
            }
        }
        crate::audit::note_target(&format!("compute instance {name}"));
        self.store.set_instance_sharing(workspace, name, &shared).await?;
        Ok(self.instance_view(self.store.get_instance(workspace, name).await?))
    }

    /// Where the proxy sends `principal`'s request to an instance's JupyterLab: only its owner
    /// and those it is shared with pass, whatever their roles.
    pub async fn instance_connection(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
    ) -> Result<JupyterConnection> {
        let instance = self.instance_for(principal, workspace, name, Action::ComputesApplicationAccess).await?;
        if instance.state != InstanceState::Running {
            return Err(Error::invalid(format!(
                "compute instance '{name}' is {}{}: start it to open JupyterLab",
                instance.state.as_str(),
                instance.reason.as_deref().map(|reason| format!(" ({reason})")).unwrap_or_default()
            )));
        }
        let place = self.place_of(&instance).await?;
        self.instance_host(&place)?
            .connection(&place)
            .ok_or_else(|| Error::internal(format!("compute instance '{name}' has no JupyterLab to reach")))
    }

    /// The instance a server's token belongs to, while its server runs.
    pub(crate) async fn instance_of_token(&self, hash: &str) -> Result<Option<ComputeInstance>> {
        Ok(self.store.find_instance_by_token(hash).await?.filter(|instance| instance.state.has_process()))
    }

    pub(crate) fn wake_instances(&self) {
        self.instances_wake.notify_one();
    }
}

/// Where the instance files live under the server's home.
pub fn instance_folder(instances_dir: &std::path::Path, workspace: &WorkspaceName, name: &str) -> PathBuf {
    instances_dir.join(workspace.as_str()).join(name)
}

//! Compute instances: a JupyterLab server for one person, in a uv environment with the
//! workspace's clients (`mlflow`, the SDK) ready, started by this server's [`InstanceHost`] and
//! reached only through the server's proxy (`/ci/<workspace>/<name>/…`), where only its owner
//! and those they share it with pass.
//!
//! The service keeps each instance's record and state; a reconcile pass, on the server whose
//! machine runs the instance, sees a started server answer and marks it `Running`, marks one
//! whose process ended `Stopped` or `Failed` (with the end of its log), stops one idle for longer
//! than its idle time (kernel activity, read from JupyterLab's own API), and applies the
//! start/stop schedules.

use crate::{Principal, Service, Target, now_millis};
use atelier_core::authz::Action;
use atelier_core::instance::{ComputeInstance, InstanceState};
use atelier_core::model::Millis;
use atelier_core::names::{UserName, WorkspaceName};
use atelier_core::{Error, Result};
use atelier_spec::instance::{InstanceAction, InstanceSpec, parse_instance};
use atelier_spec::plan::PlannedEnvironment;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What the instance's server installs beside its environment's packages: JupyterLab, and the
/// clients its notebooks use (`mlflow`'s tracking client and what the SDK needs).
pub const INSTANCE_REQUIREMENTS: &[&str] =
    &["jupyterlab==4.6.6", "mlflow-skinny==3.17.2", "requests==2.34.2", "pyyaml==6.0.3"];

/// The prefix of an instance server's token.
pub(crate) const INSTANCE_TOKEN_PREFIX: &str = "atc_";

/// How long a stopping instance's server gets before it is killed, in seconds.
pub const STOP_GRACE_SECONDS: u64 = 10;

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
}

/// Where an instance's JupyterLab listens, and the token it asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JupyterConnection {
    pub port: u16,
    pub token: String,
}

/// The process that runs an instance's server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceProcess {
    pub pid: i64,
    pub start: i64,
}

/// Starts, follows and stops instances' servers on this machine.
pub trait InstanceHost: Send + Sync {
    /// Starts the server detached (its JupyterLab on a loopback port with a fresh token).
    fn start(&self, launch: &InstanceLaunch) -> Result<InstanceProcess>;
    /// Whether that process still runs.
    fn is_alive(&self, process: InstanceProcess) -> bool;
    /// Asks it to stop (SIGTERM), then kills it after `grace` seconds if it has not.
    fn stop(&self, process: InstanceProcess, grace: u64);
    /// Where its JupyterLab listens, once it was started.
    fn connection(&self, workspace: &WorkspaceName, name: &str) -> Option<JupyterConnection>;
    /// The end of its server's log.
    fn log_tail(&self, workspace: &WorkspaceName, name: &str) -> Option<String>;
    /// Removes its folder, home included.
    fn remove(&self, workspace: &WorkspaceName, name: &str) -> Result<()>;
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
}

fn definition_of(instance: &ComputeInstance) -> Result<InstanceDefinition> {
    serde_json::from_str(&instance.definition)
        .map_err(|error| Error::internal(format!("instance '{}' has an unreadable definition: {error}", instance.name)))
}

fn base_url(workspace: &WorkspaceName, name: &str) -> String {
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
    /// Gives the service the host that runs compute instances' servers.
    pub fn with_instance_host(mut self, host: std::sync::Arc<dyn InstanceHost>) -> Self {
        self.instance_host = Some(host);
        self
    }

    fn instance_host(&self) -> Result<&std::sync::Arc<dyn InstanceHost>> {
        self.instance_host.as_ref().ok_or_else(|| Error::invalid("this server runs no compute instances"))
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
        self.instance_host()?;
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
    async fn launch_instance(&self, instance: &ComputeInstance, first: bool) -> Result<ComputeInstance> {
        let host = self.instance_host()?;
        let secret = format!("{INSTANCE_TOKEN_PREFIX}{}", hex::encode(rand::random::<[u8; 32]>()));
        let launch = InstanceLaunch {
            workspace: instance.workspace.to_string(),
            name: instance.name.clone(),
            owner: instance.owner.clone(),
            token: secret.clone(),
            definition: definition_of(instance)?,
            first,
            base_url: base_url(&instance.workspace, &instance.name),
        };
        let hash = crate::auth::token_hash(&secret);
        self.store.set_instance_runtime(&instance.workspace, &instance.name, Some(&hash), None).await?;
        match host.start(&launch) {
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
                self.store.get_instance(&instance.workspace, &instance.name).await
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
    async fn stop_instance_now(&self, instance: &ComputeInstance, reason: Option<&str>) -> Result<ComputeInstance> {
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
            self.instance_host()?.stop(InstanceProcess { pid, start }, STOP_GRACE_SECONDS);
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
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(STOP_GRACE_SECONDS + 5);
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
        let host = self.instance_host()?;
        if let (Some(pid), Some(start)) = (instance.runtime_pid, instance.runtime_start) {
            let process = InstanceProcess { pid, start };
            host.stop(process, STOP_GRACE_SECONDS);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(STOP_GRACE_SECONDS + 5);
            while host.is_alive(process) && std::time::Instant::now() < deadline {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
        self.store.delete_instance(workspace, name).await?;
        host.remove(workspace, name)
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
        self.instance_host()?
            .connection(workspace, name)
            .ok_or_else(|| Error::internal(format!("compute instance '{name}' has no JupyterLab to reach")))
    }

    /// The instance a server's token belongs to, while its server runs.
    pub(crate) async fn instance_of_token(&self, hash: &str) -> Result<Option<ComputeInstance>> {
        Ok(self.store.find_instance_by_token(hash).await?.filter(|instance| instance.state.has_process()))
    }

    pub(crate) fn wake_instances(&self) {
        self.instances_wake.notify_one();
    }

    /// Reconciles this machine's instances every 2 seconds, and at once when one starts or
    /// stops. Every server follows the instances it runs (those whose folder is on its
    /// machine), leader or not.
    pub async fn run_instances(self: std::sync::Arc<Self>) {
        if self.instance_host.is_none() {
            return;
        }
        loop {
            let starting = match self.reconcile_instances().await {
                Ok(starting) => starting,
                Err(error) => {
                    tracing::warn!(error = %error, "reconciling compute instances failed");
                    false
                }
            };
            // An instance on its way up is looked at often, so that it opens as soon as it can.
            let pause = if starting { 200 } else { 2000 };
            let _ = tokio::time::timeout(std::time::Duration::from_millis(pause), self.instances_wake.notified()).await;
        }
    }

    /// One pass over every instance: see its server answer or end, stop it when idle, apply its
    /// schedules. Whether one is still on its way up.
    pub async fn reconcile_instances(&self) -> Result<bool> {
        let Ok(host) = self.instance_host() else { return Ok(false) };
        let mut starting = false;
        let now = now_millis();
        for instance in self.store.list_instances(None).await? {
            let (workspace, name) = (&instance.workspace, instance.name.as_str());
            // Another machine's instance (several servers on one database): its server follows it.
            if host.connection(workspace, name).is_none() {
                continue;
            }
            if instance.state.has_process() {
                let process = match (instance.runtime_pid, instance.runtime_start) {
                    (Some(pid), Some(start)) => Some(InstanceProcess { pid, start }),
                    _ => None,
                };
                let alive = process.is_some_and(|process| host.is_alive(process));
                if !alive && process.is_some() {
                    self.store.set_instance_runtime(workspace, name, None, None).await?;
                    let (to, reason) = match instance.state {
                        InstanceState::Stopping => (InstanceState::Stopped, instance.reason.clone()),
                        _ => {
                            let tail = host.log_tail(workspace, name).unwrap_or_default();
                            (InstanceState::Failed, Some(format!("its server ended on its own: {}", tail.trim())))
                        }
                    };
                    self.store
                        .set_instance_state(workspace, name, &[instance.state], to, reason.as_deref(), now)
                        .await?;
                    continue;
                }
                match instance.state {
                    InstanceState::Creating | InstanceState::Starting => {
                        if let Some(connection) = host.connection(workspace, name)
                            && jupyter_get(&connection, &format!("{}api/status", base_url(workspace, name)))
                                .await
                                .is_ok()
                        {
                            let from = [instance.state];
                            self.store
                                .set_instance_state(workspace, name, &from, InstanceState::Running, None, now)
                                .await?;
                        } else {
                            starting = true;
                        }
                    }
                    InstanceState::Running => self.check_idle(&instance, now).await?,
                    _ => {}
                }
            }
            self.apply_instance_schedules(&instance, now).await?;
        }
        Ok(starting)
    }

    /// Stops a running instance whose kernels have been idle longer than its idle time.
    async fn check_idle(&self, instance: &ComputeInstance, now: Millis) -> Result<()> {
        let Some(minutes) = definition_of(instance)?.idle_minutes else { return Ok(()) };
        let Some(connection) = self.instance_host()?.connection(&instance.workspace, &instance.name) else {
            return Ok(());
        };
        let kernels_path = format!("{}api/kernels", base_url(&instance.workspace, &instance.name));
        let Ok(kernels) = jupyter_kernel_activity(&connection, &kernels_path).await else { return Ok(()) };
        let latest = kernels.into_iter().max().unwrap_or(instance.state_since).max(instance.state_since);
        if instance.last_activity != Some(latest) {
            self.store.set_instance_activity(&instance.workspace, &instance.name, latest).await?;
        }
        if now - latest >= i64::from(minutes) * 60_000 {
            let reason = format!("stopped after {minutes} minutes without kernel activity");
            tracing::info!(instance = %instance.name, workspace = %instance.workspace, "{reason}");
            self.stop_instance_now(instance, Some(&reason)).await?;
        }
        Ok(())
    }

    /// Starts or stops an instance at the fires of its schedules since the last pass.
    async fn apply_instance_schedules(&self, instance: &ComputeInstance, now: Millis) -> Result<()> {
        let Ok(spec) = parse_instance(&instance.yaml, instance.created_at) else { return Ok(()) };
        if spec.schedules.is_empty() {
            return Ok(());
        }
        let mut latest: Option<(Millis, InstanceAction)> = None;
        for schedule in spec.schedules.iter().filter(|schedule| schedule.enabled) {
            if let Some(fire) = schedule.trigger.latest_missed(instance.schedules_checked_at, now)
                && latest.is_none_or(|(at, _)| fire > at)
            {
                latest = Some((fire, schedule.action));
            }
        }
        self.store.set_instance_schedules_checked(&instance.workspace, &instance.name, now).await?;
        let Some((_, action)) = latest else { return Ok(()) };
        let current = self.store.get_instance(&instance.workspace, &instance.name).await?;
        match action {
            InstanceAction::Start if matches!(current.state, InstanceState::Stopped | InstanceState::Failed) => {
                let from = [current.state];
                if let Some(starting) = self
                    .store
                    .set_instance_state(
                        &current.workspace,
                        &current.name,
                        &from,
                        InstanceState::Starting,
                        Some("started by its schedule"),
                        now,
                    )
                    .await?
                {
                    self.launch_instance(&starting, false).await?;
                }
            }
            InstanceAction::Stop if current.state.has_process() && current.state != InstanceState::Stopping => {
                self.stop_instance_now(&current, Some("stopped by its schedule")).await?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// One GET of JupyterLab's API, with its token; the body.
async fn jupyter_get(connection: &JupyterConnection, path: &str) -> std::result::Result<String, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        tokio::net::TcpStream::connect(("127.0.0.1", connection.port)),
    )
    .await
    .map_err(|_| "timed out".to_owned())?
    .map_err(|error| error.to_string())?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: token {}\r\nConnection: close\r\n\r\n",
        connection.port, connection.token
    );
    stream.write_all(request.as_bytes()).await.map_err(|error| error.to_string())?;
    let mut answer = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|error| error.to_string())?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no answer")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(head.lines().next().unwrap_or_default().to_owned());
    }
    // Chunked answers are not expected from these small JSON endpoints, but read them too.
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).map_err(|error| error.to_string())?;
            if size == 0 || after.len() < size {
                break;
            }
            out.push_str(&after[..size]);
            rest = after[size..].trim_start_matches("\r\n");
        }
        return Ok(out);
    }
    Ok(body.to_owned())
}

/// When each kernel was last active, in epoch milliseconds.
async fn jupyter_kernel_activity(
    connection: &JupyterConnection,
    path: &str,
) -> std::result::Result<Vec<Millis>, String> {
    let body = jupyter_get(connection, path).await?;
    let kernels: Vec<serde_json::Value> = serde_json::from_str(&body).map_err(|error| error.to_string())?;
    Ok(kernels
        .iter()
        .filter_map(|kernel| kernel["last_activity"].as_str())
        .filter_map(atelier_core::schedule::parse_rfc3339)
        .collect())
}

/// Where the instance files live under the server's home.
pub fn instance_folder(instances_dir: &std::path::Path, workspace: &WorkspaceName, name: &str) -> PathBuf {
    instances_dir.join(workspace.as_str()).join(name)
}

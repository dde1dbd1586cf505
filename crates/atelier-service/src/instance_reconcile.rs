//! Following compute instances: one reconcile pass every 2 s (every 200 ms while one is on its
//! way up) over the instances this server follows — their servers surveyed in bulk by each
//! kind of host, a starting one marked `Running` once its JupyterLab answers, an ended one
//! `Stopped` or `Failed`, a stop sent again where it was lost, idle ones stopped (kernel activity
//! read from JupyterLab's own API) and start/stop schedules applied.

use crate::instances::{
    InstancePlace, InstanceProcess, InstanceRun, JupyterConnection, STOP_AGAIN_MILLIS, STOP_GRACE_SECONDS, WAITING,
    base_url, definition_of,
};
use crate::{Service, now_millis};
use atelier_core::Result;
use atelier_core::instance::{ComputeInstance, InstanceState};
use atelier_core::model::Millis;
use atelier_spec::instance::{InstanceAction, parse_instance};
use std::collections::HashMap;
use std::sync::Arc;

impl Service {
    /// Reconciles this machine's instances every 2 seconds, and at once when one starts or
    /// stops. Every server follows the instances it runs (those whose folder is on its
    /// machine), leader or not.
    pub async fn run_instances(self: Arc<Self>) {
        if self.instance_hosts.is_empty() {
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

    /// One pass over every instance this server follows: see its server answer or end, stop it
    /// when idle, apply its schedules. Whether one is still on its way up.
    pub async fn reconcile_instances(&self) -> Result<bool> {
        if self.instance_hosts.is_empty() {
            return Ok(false);
        }
        let leader = self.is_leader();
        let mut followed = Vec::new();
        for instance in self.store.list_instances(None).await? {
            let place = match self.place_of(&instance).await {
                Ok(place) => place,
                Err(error) => {
                    tracing::warn!(instance = %instance.name, error = %error.message, "cannot place a compute instance");
                    continue;
                }
            };
            let Ok(host) = self.instance_host(&place) else { continue };
            // Another machine's instance (several servers on one database) is followed by its
            // server; a cluster's, by the leader.
            if (place.compute.is_some() && !leader) || !host.follows(&place) {
                continue;
            }
            followed.push((instance, place));
        }
        // One look per kind of host at every server that should run.
        let mut runs: HashMap<(String, String), InstanceRun> = HashMap::new();
        let mut by_kind: HashMap<String, Vec<(InstancePlace, InstanceProcess)>> = HashMap::new();
        for (instance, place) in &followed {
            if let (true, Some(pid), Some(start)) =
                (instance.state.has_process(), instance.runtime_pid, instance.runtime_start)
            {
                by_kind
                    .entry(place.kind().to_owned())
                    .or_default()
                    .push((place.clone(), InstanceProcess { pid, start }));
            }
        }
        for (kind, servers) in by_kind {
            let Some(host) = self.instance_hosts.get(kind.as_str()) else { continue };
            match host.survey(&servers).await {
                Ok(seen) => {
                    for ((place, _), run) in servers.into_iter().zip(seen) {
                        runs.insert((place.workspace.to_string(), place.name), run);
                    }
                }
                Err(error) => tracing::warn!(kind, error = %error.message, "cannot survey compute instances"),
            }
        }
        let mut starting = false;
        let now = now_millis();
        for (instance, place) in followed {
            let (workspace, name) = (&instance.workspace, instance.name.as_str());
            let host = self.instance_host(&place)?;
            let run = runs.get(&(workspace.to_string(), name.to_owned()));
            if let Some(InstanceRun::Ended(words)) = run {
                let (to, reason) = match instance.state {
                    InstanceState::Stopping => (InstanceState::Stopped, instance.reason.clone()),
                    _ => {
                        let tail = host.log_tail(&place).unwrap_or_default();
                        let words = words.as_deref().map(|words| format!("{words}; ")).unwrap_or_default();
                        (InstanceState::Failed, Some(format!("its server ended on its own: {words}{}", tail.trim())))
                    }
                };
                // The state first: a pass that read the instance before a restart started it
                // again changes nothing, and clears only the server it saw end.
                let moved = self
                    .store
                    .set_instance_state(workspace, name, &[instance.state], to, reason.as_deref(), now)
                    .await?;
                if moved.is_some()
                    && let Some(pid) = instance.runtime_pid
                {
                    self.store.clear_instance_runtime(workspace, name, pid).await?;
                }
                continue;
            }
            if matches!(run, Some(InstanceRun::Alive | InstanceRun::Waiting(_)))
                && instance.state == InstanceState::Stopping
            {
                self.stop_again(&instance, &place, now).await;
            }
            if let Some(InstanceRun::Waiting(words)) = run {
                // What holds it back shows as its reason while it starts.
                let reason = format!("{WAITING}{words}");
                if instance.state.has_process()
                    && instance.state != InstanceState::Stopping
                    && instance.reason.as_deref() != Some(reason.as_str())
                {
                    let state = [instance.state];
                    self.store
                        .set_instance_state(
                            workspace,
                            name,
                            &state,
                            instance.state,
                            Some(&reason),
                            instance.state_since,
                        )
                        .await?;
                }
            } else if matches!(run, Some(InstanceRun::Alive)) {
                match instance.state {
                    InstanceState::Creating | InstanceState::Starting => {
                        // Its node was given: nothing holds it back any more.
                        if instance.reason.as_deref().is_some_and(|reason| reason.starts_with(WAITING)) {
                            let state = [instance.state];
                            self.store
                                .set_instance_state(workspace, name, &state, instance.state, None, instance.state_since)
                                .await?;
                        }
                        if let Some(connection) = host.connection(&place)
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
                    InstanceState::Running => self.check_idle(&instance, &place, now).await?,
                    _ => {}
                }
            }
            self.apply_instance_schedules(&instance, now).await?;
        }
        Ok(starting)
    }

    /// Sends a stop again to a stopping instance whose server still runs after its grace (the
    /// stop was lost, or came while it started), at most every [`STOP_AGAIN_MILLIS`].
    async fn stop_again(&self, instance: &ComputeInstance, place: &InstancePlace, now: Millis) {
        let (Some(pid), Some(start)) = (instance.runtime_pid, instance.runtime_start) else { return };
        if now - instance.state_since < (STOP_GRACE_SECONDS as i64 + 5) * 1000 {
            return;
        }
        let key = (instance.workspace.to_string(), instance.name.clone());
        let due = match self.instance_stops.lock() {
            Ok(mut sent) => {
                sent.retain(|_, at| now - *at < 10 * STOP_AGAIN_MILLIS);
                let due = sent.get(&key).is_none_or(|at| now - *at >= STOP_AGAIN_MILLIS);
                if due {
                    sent.insert(key, now);
                }
                due
            }
            Err(_) => false,
        };
        if !due {
            return;
        }
        tracing::info!(instance = %instance.name, workspace = %instance.workspace, "stopping the instance's server again");
        if let Ok(host) = self.instance_host(place)
            && let Err(error) = host.stop(place, InstanceProcess { pid, start }, STOP_GRACE_SECONDS).await
        {
            tracing::warn!(instance = %instance.name, error = %error.message, "stopping an instance's server failed");
        }
    }

    /// Stops a running instance whose kernels have been idle longer than its idle time.
    async fn check_idle(&self, instance: &ComputeInstance, place: &InstancePlace, now: Millis) -> Result<()> {
        let Some(minutes) = definition_of(instance)?.idle_minutes else { return Ok(()) };
        let Some(connection) = self.instance_host(place)?.connection(place) else {
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
        tokio::net::TcpStream::connect((connection.host.as_str(), connection.port)),
    )
    .await
    .map_err(|_| "timed out".to_owned())?
    .map_err(|error| error.to_string())?;
    let host = match connection.host.contains(':') {
        true => format!("[{}]", connection.host),
        false => connection.host.clone(),
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}:{}\r\nAuthorization: token {}\r\nConnection: close\r\n\r\n",
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

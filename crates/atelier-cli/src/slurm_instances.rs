//! Compute instances on a Slurm compute: each instance's server (`atelier instance-runtime`,
//! the same as on this machine) runs as a long batch job on a node Slurm allocates, for as long
//! as the instance runs (or the compute's `default_time_limit`). The server listens on the
//! node's address that reaches the Atelier server, with the token only that server knows, and
//! writes where into the instance's folder, which is on the compute's shared `job_folder` (or
//! this server's home, where the nodes share it). The leader asks `squeue` about every instance
//! of a compute at once, at most every [`SURVEY_EVERY`]; a stop is `scancel`, whose SIGTERM the
//! server handles.

use crate::instances::{RuntimeLaunch, failed, jupyter_token, prepare_folder, read_connection, remove_folder};
use crate::slurm::{ClusterJob, ClusterRequest, SlurmBackend, settings_of};
use atelier_core::Result;
use atelier_service::{
    InstanceHost, InstanceLaunch, InstancePlace, InstanceProcess, InstanceRun, JupyterConnection, PortFuture,
};
use atelier_spec::compute::SlurmSettings;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A compute's jobs are asked about at most this often (an instance on its way up is looked at
/// every 200 ms).
const SURVEY_EVERY: Duration = Duration::from_secs(2);

/// A compute, as (workspace, name).
type ComputeKey = (String, String);

/// What a survey of a compute saw, and when.
type Survey = (Instant, HashMap<i64, ClusterJob>);

/// The host of compute instances on Slurm computes.
pub struct SlurmInstances {
    pub cluster: Arc<SlurmBackend>,
    /// Where instances' folders are when the compute has no `job_folder`.
    pub instances_dir: PathBuf,
    /// What each compute's last survey saw, and when.
    seen: Mutex<HashMap<ComputeKey, Survey>>,
    /// Batch jobs the last survey of their compute did not list: one not listed twice in a row
    /// has ended (a survey that missed one by accident does not fail its instance).
    missing: Mutex<HashSet<i64>>,
}

impl SlurmInstances {
    pub fn new(cluster: Arc<SlurmBackend>, instances_dir: PathBuf) -> Self {
        SlurmInstances { cluster, instances_dir, seen: Mutex::default(), missing: Mutex::default() }
    }

    fn folder(&self, settings: &SlurmSettings, place: &InstancePlace) -> PathBuf {
        let root = match &settings.job_folder {
            Some(folder) => PathBuf::from(folder).join(".instances"),
            None => self.instances_dir.clone(),
        };
        atelier_service::instance_folder(&root, &place.workspace, &place.name)
    }

    fn settings(place: &InstancePlace) -> Result<SlurmSettings> {
        let compute = place.compute.as_ref().ok_or_else(|| failed("no compute", &place.name))?;
        settings_of(compute)
    }

    /// The instance's folder, where its compute's settings read.
    fn folder_of(&self, place: &InstancePlace) -> Option<PathBuf> {
        Some(self.folder(&Self::settings(place).ok()?, place))
    }

    async fn start_now(&self, place: &InstancePlace, launch: &InstanceLaunch) -> Result<InstanceProcess> {
        let settings = Self::settings(place)?;
        let Some(server_url) = &self.cluster.server_url else {
            return Err(atelier_core::Error::invalid("Slurm's nodes cannot reach this server (no --public-url)"));
        };
        let dir = self.folder(&settings, place);
        let runtime = RuntimeLaunch {
            launch: launch.clone(),
            server_url: server_url.clone(),
            envs_dir: self.cluster.envs_dir(settings.job_folder.as_deref()),
            uv: self.cluster.local.uv.clone(),
            confinement: self.cluster.local.confinement.clone(),
            jupyter: JupyterConnection { host: String::new(), port: 0, token: jupyter_token() },
            on_node: true,
        };
        prepare_folder(&dir, &runtime)?;
        let resources = match &launch.size {
            Some(size) => Some(atelier_core::job::vm_size(size)?),
            None => None,
        };
        let request = ClusterRequest {
            job: format!("ci-{}", place.name),
            workspace: place.workspace.to_string(),
            partition: settings.partition.clone(),
            account: settings.account.clone(),
            qos: settings.qos.clone(),
            nodes: 1,
            tasks_per_node: 1,
            cpus_per_task: resources.as_ref().map_or(1, |resources| resources.cpus.ceil().max(1.0) as u32),
            memory_mb: resources.as_ref().map(|resources| resources.memory_mb),
            gpus: resources.as_ref().map_or(0, |resources| resources.gpus),
            time_minutes: settings.default_time_limit_minutes,
            nice: 0,
        };
        let what = format!(
            "The server of Atelier compute instance {} of workspace {}: JupyterLab, reached through Atelier.",
            place.name, place.workspace
        );
        let id = self.cluster.submit_runtime(&settings, &request, &dir, "instance-runtime", &what).await?;
        tracing::info!(instance = %place.name, workspace = %place.workspace, id, "compute instance submitted to Slurm");
        Ok(InstanceProcess { pid: id, start: 0 })
    }

    async fn survey_now(&self, servers: &[(InstancePlace, InstanceProcess)]) -> Result<Vec<InstanceRun>> {
        let key_of = |place: &InstancePlace| -> ComputeKey {
            let compute = place.compute.as_ref().map(|compute| compute.name.clone()).unwrap_or_default();
            (place.workspace.to_string(), compute)
        };
        // One squeue per compute, for all of its instances; one compute that does not answer
        // holds up no other.
        let mut by_compute: HashMap<ComputeKey, (&InstancePlace, Vec<i64>)> = HashMap::new();
        for (place, process) in servers {
            by_compute.entry(key_of(place)).or_insert_with(|| (place, Vec::new())).1.push(process.pid);
        }
        let mut surveyed: HashMap<ComputeKey, HashMap<i64, ClusterJob>> = HashMap::new();
        for (key, (place, ids)) in by_compute {
            match self.survey_compute(&key, place, &ids).await {
                Ok(seen) => {
                    surveyed.insert(key, seen);
                }
                Err(error) => {
                    tracing::warn!(compute = %key.1, workspace = %key.0, error = %error.message, "cannot survey a Slurm compute's instances")
                }
            }
        }
        let Ok(mut missing) = self.missing.lock() else { return Ok(vec![InstanceRun::Unknown; servers.len()]) };
        Ok(servers
            .iter()
            .map(|(place, process)| {
                let Some(seen) = surveyed.get(&key_of(place)) else { return InstanceRun::Unknown };
                match seen.get(&process.pid) {
                    Some(job) => {
                        missing.remove(&process.pid);
                        if job.has_ended() {
                            InstanceRun::Ended(Some(format!("Slurm job {}: {}", process.pid, job.describe())))
                        } else if job.is_pending() {
                            InstanceRun::Waiting(job.describe())
                        } else {
                            InstanceRun::Alive
                        }
                    }
                    None if missing.remove(&process.pid) => {
                        InstanceRun::Ended(Some(format!("Slurm no longer knows job {}", process.pid)))
                    }
                    None => {
                        missing.insert(process.pid);
                        InstanceRun::Unknown
                    }
                }
            })
            .collect())
    }

    /// What Slurm says of these batch jobs of one compute: its last survey's answer when that is
    /// recent and covers them, else a new one.
    async fn survey_compute(
        &self,
        key: &ComputeKey,
        place: &InstancePlace,
        ids: &[i64],
    ) -> Result<HashMap<i64, ClusterJob>> {
        if let Ok(seen) = self.seen.lock()
            && let Some((at, jobs)) = seen.get(key)
            && at.elapsed() < SURVEY_EVERY
            && ids.iter().all(|id| jobs.contains_key(id))
        {
            return Ok(jobs.clone());
        }
        let settings = Self::settings(place)?;
        let jobs = self.cluster.survey_ids(&settings, ids).await?;
        if let Ok(mut seen) = self.seen.lock() {
            seen.insert(key.clone(), (Instant::now(), jobs.clone()));
        }
        Ok(jobs)
    }
}

impl InstanceHost for SlurmInstances {
    fn kinds(&self) -> &'static [&'static str] {
        &["slurm"]
    }

    fn start<'a>(
        &'a self,
        place: &'a InstancePlace,
        launch: &'a InstanceLaunch,
    ) -> PortFuture<'a, Result<InstanceProcess>> {
        Box::pin(self.start_now(place, launch))
    }

    fn survey<'a>(
        &'a self,
        servers: &'a [(InstancePlace, InstanceProcess)],
    ) -> PortFuture<'a, Result<Vec<InstanceRun>>> {
        Box::pin(self.survey_now(servers))
    }

    fn stop<'a>(
        &'a self,
        place: &'a InstancePlace,
        process: InstanceProcess,
        _grace: u64,
    ) -> PortFuture<'a, Result<()>> {
        Box::pin(async move {
            // scancel sends SIGTERM, and SIGKILL after the cluster's KillWait.
            let settings = Self::settings(place)?;
            if let Err(error) = self.cluster.cancel_id(&settings, process.pid).await {
                // One that already ended is seen ended by the next survey.
                tracing::warn!(instance = %place.name, error = %error.message, "scancel of a compute instance failed");
            }
            Ok(())
        })
    }

    fn follows(&self, _place: &InstancePlace) -> bool {
        true
    }

    fn connection(&self, place: &InstancePlace) -> Option<JupyterConnection> {
        read_connection(&self.folder_of(place)?, true)
    }

    fn log_tail(&self, place: &InstancePlace) -> Option<String> {
        crate::launcher::file_tail(&self.folder_of(place)?.join("slurm.out"))
    }

    fn remove(&self, place: &InstancePlace) -> Result<()> {
        match self.folder_of(place) {
            Some(dir) => remove_folder(&dir),
            None => Ok(()),
        }
    }
}

//! Computes on a cluster's workload manager (Slurm). The cluster decides where and when a job
//! runs; Atelier submits the same job runtime that runs on the local compute, as a batch job,
//! and follows what the cluster says of it.
//!
//! A job on a cluster stays `Queued` once submitted, with the cluster's state and reason on the
//! job (`PENDING (Resources)`), until its runtime starts on a node and reports `Preparing`; from
//! then on the runtime reports, as everywhere. One look per scheduler pass asks the cluster about
//! all the jobs it holds at once ([`ClusterBackend::survey`]): a job the cluster ended (a node
//! failure, `OUT_OF_MEMORY`, its time limit, an administrator's `scancel`) whose runtime has
//! been silent since ends `Failed`, or `Canceled` for a cancel, with the cluster's state and
//! reason. A cancel of a job still pending in the cluster, or whose runtime went silent, is a
//! `scancel`; a running runtime cancels its own command with its grace period.

use crate::serving::PortFuture;
use crate::{Service, now_millis};
use atelier_core::job::{Job, JobStatus};
use atelier_core::{Error, Result};
use atelier_spec::compute::SlurmSettings;
use atelier_spec::plan::JobPlan;
use atelier_store::Compute;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// What a batch job asks of the cluster: the job's request in the cluster's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterRequest {
    /// The job's name (the batch job's name too).
    pub job: String,
    pub workspace: String,
    pub partition: String,
    pub account: Option<String>,
    pub qos: Option<String>,
    /// `resources.instance_count`.
    pub nodes: i64,
    /// `distribution.process_count_per_instance` (1 when not distributed).
    pub tasks_per_node: i64,
    /// The job's CPUs per node shared among its processes, rounded up.
    pub cpus_per_task: u32,
    /// Memory per node in MB; `None` leaves the cluster's default.
    pub memory_mb: Option<u64>,
    pub gpus: u32,
    /// `limits.timeout` (rounded up to minutes, as Slurm does), or the compute's default.
    pub time_minutes: Option<i64>,
    /// From `queue_settings.priority`: high 0, medium 100, low 200.
    pub nice: i64,
    /// Where the job's folder is made, and the program that runs there.
    pub job_folder: Option<String>,
    pub atelier_path: Option<String>,
    /// The compute's slurmrestd, where Slurm is reached through it.
    pub slurmrestd: Option<atelier_spec::compute::SlurmRest>,
}

/// What the cluster says of one of its jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterJob {
    /// Slurm's state: `PENDING`, `RUNNING`, `COMPLETED`, `FAILED`, `CANCELLED`, `TIMEOUT`,
    /// `OUT_OF_MEMORY`, `NODE_FAIL`, …
    pub state: String,
    /// Why it is in that state (`Resources`, `Priority`, `TimeLimit`), if the cluster says.
    pub reason: Option<String>,
    /// The nodes it runs on.
    pub nodes: Option<String>,
}

impl ClusterJob {
    /// Whether the cluster has not started it yet.
    pub fn is_pending(&self) -> bool {
        matches!(self.state.as_str(), "PENDING" | "CONFIGURING" | "REQUEUED" | "REQUEUE_HOLD" | "RESV_DEL_HOLD")
    }

    /// Whether the cluster has ended it for good.
    pub fn has_ended(&self) -> bool {
        matches!(
            self.state.as_str(),
            "COMPLETED"
                | "FAILED"
                | "CANCELLED"
                | "TIMEOUT"
                | "OUT_OF_MEMORY"
                | "NODE_FAIL"
                | "BOOT_FAIL"
                | "DEADLINE"
                | "PREEMPTED"
                | "SPECIAL_EXIT"
                | "REVOKED"
        )
    }

    /// The state as the job page shows it: `PENDING (Resources)`, `RUNNING on n1`.
    pub fn describe(&self) -> String {
        let mut text = self.state.clone();
        if let Some(reason) = self.reason.as_deref().filter(|reason| *reason != "None") {
            text.push_str(&format!(" ({reason})"));
        }
        if let Some(nodes) = self.nodes.as_deref().filter(|nodes| !nodes.is_empty() && !self.is_pending()) {
            text.push_str(&format!(" on {nodes}"));
        }
        text
    }
}

/// A cluster's workload manager, as the scheduler uses it. The binary gives the service one
/// ([`Service::with_cluster`]); without one, a Slurm compute cannot be created.
pub trait ClusterBackend: Send + Sync {
    /// Checks that the cluster answers, that the compute's partition exists, and that the
    /// cluster's nodes can reach this server; the error says what is wrong.
    fn check<'a>(&'a self, settings: &'a SlurmSettings) -> PortFuture<'a, Result<()>>;
    /// Submits the job runtime of a job as a batch job, with the token it reports with;
    /// returns the cluster's job id.
    fn submit<'a>(&'a self, request: &'a ClusterRequest, token: &'a str) -> PortFuture<'a, Result<i64>>;
    /// What the cluster of a compute says of these jobs, in one call; a job it no longer
    /// knows is absent.
    fn survey<'a>(
        &'a self,
        settings: &'a SlurmSettings,
        ids: &'a [i64],
    ) -> PortFuture<'a, Result<HashMap<i64, ClusterJob>>>;
    /// Cancels a batch job (`scancel`).
    fn cancel<'a>(&'a self, settings: &'a SlurmSettings, id: i64) -> PortFuture<'a, Result<()>>;
    /// The end of the batch job's own output (what the cluster wrote before the runtime ran,
    /// or after it died), for a job that ended without its runtime's report.
    fn output_tail(&self, job: &str, settings: &SlurmSettings) -> Option<String>;
}

pub(crate) struct Clusters {
    pub(crate) backend: std::sync::Arc<dyn ClusterBackend>,
    /// Batch jobs a cancel was sent to, so it is sent once per server.
    pub(crate) canceled: Mutex<HashSet<i64>>,
}

/// A runtime that has not reported for this long is taken for gone once the cluster has ended
/// its batch job (its end report would have come before).
const SILENT_AFTER_END_MILLIS: i64 = 15_000;

/// The compute's settings, as stored with it.
pub(crate) fn slurm_settings(compute: &Compute) -> Result<SlurmSettings> {
    let text = compute
        .settings
        .as_deref()
        .ok_or_else(|| Error::internal(format!("compute '{}' has no cluster settings", compute.name)))?;
    serde_json::from_str(text)
        .map_err(|error| Error::internal(format!("compute '{}' has unreadable settings: {error}", compute.name)))
}

/// Whether a compute runs its jobs on a cluster.
pub(crate) fn is_cluster(compute: &Compute) -> bool {
    compute.kind == "slurm"
}

/// A job's request in the cluster's terms.
pub(crate) fn cluster_request(job: &Job, settings: &SlurmSettings) -> Result<ClusterRequest> {
    let plan: JobPlan = serde_json::from_str(&job.plan)
        .map_err(|error| Error::internal(format!("job '{}' has an unreadable plan: {error}", job.name)))?;
    let time_minutes = match plan.timeout_seconds {
        Some(seconds) => Some((seconds.max(1) + 59) / 60),
        None => settings.default_time_limit_minutes,
    };
    let nodes = plan.instance_count.max(1);
    let tasks_per_node = (plan.process_count / nodes).max(1);
    Ok(ClusterRequest {
        job: job.name.clone(),
        workspace: job.workspace.to_string(),
        partition: settings.partition.clone(),
        account: settings.account.clone(),
        qos: settings.qos.clone(),
        nodes,
        tasks_per_node,
        cpus_per_task: (job.resources.cpus / tasks_per_node as f64).ceil().max(1.0) as u32,
        memory_mb: Some(job.resources.memory_mb).filter(|memory| *memory > 0),
        gpus: job.resources.gpus,
        time_minutes,
        nice: (3 - job.priority).clamp(0, 2) * 100,
        job_folder: settings.job_folder.clone(),
        atelier_path: settings.atelier_path.clone(),
        slurmrestd: settings.slurmrestd.clone(),
    })
}

impl Service {
    /// Gives the service a cluster's workload manager, for Slurm computes.
    pub fn with_cluster(mut self, backend: std::sync::Arc<dyn ClusterBackend>) -> Self {
        self.clusters = Some(Clusters { backend, canceled: Mutex::new(HashSet::new()) });
        self
    }

    pub(crate) fn cluster_backend(&self) -> Result<&Clusters> {
        self.clusters.as_ref().ok_or_else(|| Error::invalid("this server has no Slurm tools: it cannot use a cluster"))
    }

    /// Checks a Slurm compute's settings against the cluster before it is stored.
    pub(crate) async fn check_cluster(&self, settings: &SlurmSettings) -> Result<()> {
        self.cluster_backend()?.backend.check(settings).await
    }

    /// Submits a queued job to its cluster; `false` if it did not go (the cluster refused it,
    /// or it was canceled meanwhile, and its batch job with it).
    pub(crate) async fn submit_to_cluster(&self, compute: &Compute, job: &Job) -> Result<bool> {
        let clusters = self.cluster_backend()?;
        let settings = slurm_settings(compute)?;
        let request = cluster_request(job, &settings)?;
        let secret = format!("{}{}", crate::auth::JOB_TOKEN_PREFIX, hex::encode(rand::random::<[u8; 32]>()));
        self.store.set_job_runtime(&job.name, &crate::auth::token_hash(&secret), &[], now_millis()).await?;
        match clusters.backend.submit(&request, &secret).await {
            Ok(id) => {
                self.store.set_job_launched(&job.name, id, 0).await?;
                self.store.set_job_cluster_state(&job.name, "PENDING").await?;
                tracing::info!(job = %job.name, slurm_job = id, "job submitted to the cluster");
                // A cancel that came while it was submitted ended the job at once (it had no
                // batch job yet): the batch job goes too.
                if self.store.get_job(&job.name).await?.status.is_terminal() {
                    clusters.backend.cancel(&settings, id).await?;
                    return Ok(false);
                }
                Ok(true)
            }
            Err(error) => {
                let message = format!("the cluster refused the job: {}", error.message);
                self.transition(&job.name, JobStatus::Failed, Some(&message), None, Some(&message)).await?;
                Ok(false)
            }
        }
    }

    /// Follows what the cluster says of the jobs it holds: their state on the job page, a
    /// cancel while pending, and an end the runtime did not report.
    pub(crate) async fn reconcile_cluster_jobs(&self, computes: &HashMap<(String, String), Compute>) -> Result<()> {
        let Some(clusters) = &self.clusters else { return Ok(()) };
        if !computes.values().any(is_cluster) {
            return Ok(());
        }
        // Each compute's jobs, asked about in one call.
        let mut held: HashMap<(String, String), Vec<Job>> = HashMap::new();
        for job in self.store.jobs_in_status(&CLUSTER_HELD).await? {
            let key = (job.workspace.to_string(), job.compute.clone());
            if job.kind.is_parent() || job.runtime_pid.is_none() || !computes.get(&key).is_some_and(is_cluster) {
                continue;
            }
            held.entry(key).or_default().push(job);
        }
        for (key, jobs) in held {
            let Some(settings) = computes.get(&key).and_then(|compute| slurm_settings(compute).ok()) else { continue };
            match self.reconcile_compute_jobs(clusters, &settings, jobs, computes).await {
                Ok(()) => {}
                // One cluster that does not answer holds up no other.
                Err(error) => {
                    tracing::warn!(compute = %key.1, error = %error.message, "cannot reconcile the cluster's jobs")
                }
            }
        }
        Ok(())
    }

    async fn reconcile_compute_jobs(
        &self,
        clusters: &Clusters,
        settings: &SlurmSettings,
        held: Vec<Job>,
        computes: &HashMap<(String, String), Compute>,
    ) -> Result<()> {
        let ids: Vec<i64> = held.iter().filter_map(|job| job.runtime_pid).collect();
        let seen = clusters.backend.survey(settings, &ids).await?;
        let now = now_millis();
        for job in held {
            let Some(id) = job.runtime_pid else { continue };
            let silent = job.heartbeat_at.is_none_or(|at| now - at > SILENT_AFTER_END_MILLIS);
            let Some(state) = seen.get(&id) else {
                if silent {
                    let message = format!("the cluster no longer knows its job {id} and the runtime is silent");
                    self.transition(&job.name, JobStatus::Failed, Some(&message), None, Some(&message)).await?;
                }
                continue;
            };
            let described = state.describe();
            if job.cluster_state.as_deref() != Some(described.as_str()) {
                self.store.set_job_cluster_state(&job.name, &described).await?;
            }
            if state.has_ended() {
                if silent {
                    self.end_from_cluster(&job, id, state, computes).await?;
                }
                continue;
            }
            let cancel = job.status == JobStatus::CancelRequested && (state.is_pending() || silent);
            if cancel && clusters.canceled.lock().map(|mut sent| sent.insert(id)).unwrap_or(true) {
                tracing::info!(job = %job.name, slurm_job = id, "canceling the batch job");
                clusters.backend.cancel(settings, id).await?;
            }
        }
        Ok(())
    }

    /// Ends a job the cluster ended before its runtime reported an end.
    async fn end_from_cluster(
        &self,
        job: &Job,
        id: i64,
        state: &ClusterJob,
        computes: &HashMap<(String, String), Compute>,
    ) -> Result<()> {
        let (status, summary) = if job.status == JobStatus::CancelRequested || state.state == "CANCELLED" {
            (JobStatus::Canceled, format!("the cluster canceled job {id}: {}", state.describe()))
        } else {
            (JobStatus::Failed, format!("the cluster ended job {id} before the runtime reported: {}", state.describe()))
        };
        let tail = computes
            .get(&(job.workspace.to_string(), job.compute.clone()))
            .and_then(|compute| slurm_settings(compute).ok())
            .and_then(|settings| self.clusters.as_ref()?.backend.output_tail(&job.name, &settings));
        let error = match tail.filter(|tail| !tail.trim().is_empty()) {
            Some(tail) => format!("{summary}\n{tail}"),
            None => summary.clone(),
        };
        let error = (status == JobStatus::Failed).then_some(error);
        if self.transition(&job.name, status, Some(&summary), None, error.as_deref()).await?.is_some() {
            tracing::warn!(job = %job.name, slurm_job = id, state = %state.state, "the cluster ended the job");
        }
        Ok(())
    }
}

/// The statuses in which a job may be held by a cluster.
const CLUSTER_HELD: [JobStatus; 5] =
    [JobStatus::Queued, JobStatus::Preparing, JobStatus::Running, JobStatus::Finalizing, JobStatus::CancelRequested];

#[cfg(test)]
mod tests {
    use super::*;

    fn state(state: &str, reason: Option<&str>, nodes: Option<&str>) -> ClusterJob {
        ClusterJob { state: state.to_owned(), reason: reason.map(str::to_owned), nodes: nodes.map(str::to_owned) }
    }

    #[test]
    fn a_cluster_state_reads_as_the_job_page_shows_it() {
        assert_eq!(state("PENDING", Some("Resources"), Some("")).describe(), "PENDING (Resources)");
        assert_eq!(state("RUNNING", Some("None"), Some("n[1-2]")).describe(), "RUNNING on n[1-2]");
        assert_eq!(
            state("OUT_OF_MEMORY", Some("OutOfMemory"), Some("n1")).describe(),
            "OUT_OF_MEMORY (OutOfMemory) on n1"
        );
        assert!(state("PENDING", None, None).is_pending() && !state("PENDING", None, None).has_ended());
        for ended in ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL"] {
            assert!(state(ended, None, None).has_ended(), "{ended}");
        }
        assert!(!state("RUNNING", None, None).has_ended() && !state("COMPLETING", None, None).has_ended());
    }
}

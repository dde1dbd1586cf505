//! Compute backends: what starts a job's runtime and says what became of it, behind one
//! interface, [`ComputeBackend`]. The binary gives the service one backend per kind of compute
//! ([`Service::with_backend`]): this machine for `local` and `amlcompute`, a Slurm cluster for
//! `slurm`; a Kubernetes backend would be one more (ARCHITECTURE.md, "Compute backends").
//! Nothing in the scheduler knows which backend runs a job: it asks each compute's backend
//! where capacity is decided ([`Placement`]), submits, surveys its jobs in bulk, cancels.
//!
//! Every backend runs the same job runtime, which reports its own phases with the job's token;
//! a backend's survey matters for what the runtime cannot say: that its job waits in the
//! backend's queue (`PENDING (Resources)`, shown on the job page), or that it ended without
//! reporting (a node failure, `OUT_OF_MEMORY`, a time limit, an administrator's `scancel`, a
//! runtime killed on this machine). Such a job, once its runtime has been silent a while, ends
//! `Failed` with the backend's words and the end of the runtime's own output, or `Canceled`
//! where it was canceled. A cancel of a job still waiting in the backend's queue, or whose
//! runtime went silent, goes to the backend; a running runtime cancels its own command with
//! its grace period.

use crate::serving::PortFuture;
use crate::{Service, now_millis};
use atelier_core::job::{Capacity, Job, JobStatus};
use atelier_core::{Error, Result};
use atelier_store::Compute;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// A job runtime a backend started: a process id and the start time the kernel gave it on this
/// machine, or a cluster's job id (start 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Launched {
    pub pid: i64,
    pub start: i64,
}

/// Where the capacity a job takes is decided.
#[derive(Debug, Clone)]
pub enum Placement {
    /// By the scheduler, out of this machine's capacity (CPUs, memory, GPUs handed out one
    /// job each); a submitted job's runtime starts at once.
    Machine(Capacity),
    /// By the backend's own scheduler: a submitted job waits in its queue, `Queued` here,
    /// until its runtime starts and reports.
    Own,
}

/// A submitted job: its runtime, and what the job page shows of it meanwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub launched: Launched,
    pub shown: Option<String>,
}

/// Where a backend has a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// In the backend's queue, not started yet.
    Pending,
    Running,
    /// Ended for good: `summary` says how, in the backend's words.
    Ended {
        canceled: bool,
        summary: String,
    },
}

/// What a backend says of one of its jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendJob {
    pub phase: Phase,
    /// What the job page shows (`PENDING (Resources)`, `RUNNING on n1`), where the backend has
    /// more to say than the runtime's own reports.
    pub shown: Option<String>,
}

/// What a submitted job asks of its compute's shape, checked by its backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobShape {
    /// `resources.instance_count`.
    pub instance_count: i64,
    /// Whether it asks for `distribution: mpi`.
    pub mpi: bool,
}

/// A job a compute cannot run: the field of the job's file at fault, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub field: &'static str,
    pub message: String,
}

/// A compute backend. The `compute` each call gets is the stored definition (for the built-in
/// `local` compute, one made for the job's workspace), whose `settings` the backend reads.
pub trait ComputeBackend: Send + Sync {
    /// The compute types it runs (`local`, `amlcompute`, `slurm`).
    fn kinds(&self) -> &'static [&'static str];
    /// Where the capacity of its jobs is decided.
    fn placement(&self) -> Placement;
    /// Checks a compute's definition before it is stored (a cluster answers, has the
    /// partition, can reach this server); the error says what is wrong.
    fn check<'a>(&'a self, compute: &'a Compute) -> PortFuture<'a, Result<()>>;
    /// Checks, when a job is submitted, that the compute can run its shape.
    fn admit(&self, compute: &Compute, shape: &JobShape) -> std::result::Result<(), Refusal>;
    /// Starts the job runtime of `job` with the token it reports with (and the GPUs it was
    /// handed, under [`Placement::Machine`]), or hands it to the backend's queue.
    fn submit<'a>(
        &'a self,
        compute: &'a Compute,
        job: &'a Job,
        token: &'a str,
        gpus: &'a [u32],
    ) -> PortFuture<'a, Result<Submitted>>;
    /// What it says of these runtimes, in one call, by `pid`; one it no longer knows is absent.
    fn survey<'a>(
        &'a self,
        compute: &'a Compute,
        launched: &'a [Launched],
    ) -> PortFuture<'a, Result<HashMap<i64, BackendJob>>>;
    /// Stops a runtime that waits in the queue or went silent.
    fn cancel<'a>(&'a self, compute: &'a Compute, launched: Launched) -> PortFuture<'a, Result<()>>;
    /// The end of the runtime's own output (what was written before it ran, or as it died), for
    /// a job that ended without its runtime's report.
    fn output_tail(&self, compute: &Compute, job: &str) -> Option<String>;
}

#[derive(Default)]
pub(crate) struct Backends {
    by_kind: HashMap<&'static str, Arc<dyn ComputeBackend>>,
    /// Runtimes a cancel was sent to, so it is sent once per server.
    canceled: Mutex<HashSet<(String, i64)>>,
}

/// A runtime that has not reported for this long is taken for gone once its backend says it
/// ended (its end report would have come before).
const SILENT_AFTER_END_MILLIS: i64 = 15_000;

/// The statuses in which a job may hold a runtime.
pub(crate) const HELD: [JobStatus; 5] =
    [JobStatus::Queued, JobStatus::Preparing, JobStatus::Running, JobStatus::Finalizing, JobStatus::CancelRequested];

impl Service {
    /// Gives the service a compute backend for the compute types it runs; without one, jobs on
    /// those computes are accepted and stay queued, and such computes cannot be created.
    pub fn with_backend(mut self, backend: Arc<dyn ComputeBackend>) -> Self {
        for kind in backend.kinds() {
            self.backends.by_kind.insert(kind, backend.clone());
        }
        self
    }

    /// The backend of a compute type, if this server has one.
    pub(crate) fn backend_of(&self, kind: &str) -> Option<&Arc<dyn ComputeBackend>> {
        self.backends.by_kind.get(kind)
    }

    /// The backend of a compute type, or an error naming it.
    pub(crate) fn require_backend(&self, kind: &str) -> Result<&Arc<dyn ComputeBackend>> {
        self.backend_of(kind).ok_or_else(|| {
            Error::invalid(format!("this server cannot run '{kind}' computes (it has no backend for them)"))
        })
    }

    pub(crate) fn has_backends(&self) -> bool {
        !self.backends.by_kind.is_empty()
    }

    /// Submits a queued job to its compute's backend with a token for that job alone; `false`
    /// if it did not go (the backend refused it, or it was canceled meanwhile).
    pub(crate) async fn submit_to_backend(
        &self,
        backend: &dyn ComputeBackend,
        compute: &Compute,
        job: &Job,
        gpus: &[u32],
    ) -> Result<bool> {
        let queues = matches!(backend.placement(), Placement::Own);
        let secret = format!("{}{}", crate::auth::JOB_TOKEN_PREFIX, hex::encode(rand::random::<[u8; 32]>()));
        self.store.set_job_runtime(&job.name, &crate::auth::token_hash(&secret), gpus, now_millis()).await?;
        // A runtime that starts at once reports from `Preparing`; one that waits in a queue
        // stays `Queued` until it starts and reports.
        if !queues
            && self
                .transition(&job.name, JobStatus::Preparing, Some("job runtime launched"), None, None)
                .await?
                .is_none()
        {
            return Ok(false);
        }
        match backend.submit(compute, job, &secret, gpus).await {
            Ok(submitted) => {
                let launched = submitted.launched;
                self.store.set_job_launched(&job.name, launched.pid, launched.start).await?;
                if let Some(shown) = &submitted.shown {
                    self.store.set_job_cluster_state(&job.name, shown).await?;
                }
                tracing::info!(job = %job.name, compute = %compute.name, id = launched.pid, "job runtime submitted");
                // A cancel that came while it was submitted ended the job at once (it had no
                // runtime yet): the queued runtime goes too.
                if queues && self.store.get_job(&job.name).await?.status.is_terminal() {
                    backend.cancel(compute, launched).await?;
                    return Ok(false);
                }
                Ok(true)
            }
            Err(error) => {
                let message = match queues {
                    true => format!("the cluster refused the job: {}", error.message),
                    false => format!("the job runtime could not be started: {}", error.message),
                };
                self.transition(&job.name, JobStatus::Failed, Some(&message), None, Some(&message)).await?;
                Ok(false)
            }
        }
    }

    /// Follows what each compute's backend says of the jobs it holds, one survey per compute:
    /// their state on the job page, a cancel while queued or silent, and an end the runtime did
    /// not report. `compute_of` gives a job's compute, where it still exists.
    pub(crate) async fn reconcile_backends(&self, compute_of: impl Fn(&Job) -> Option<Compute>) -> Result<()> {
        let now = now_millis();
        let mut held: HashMap<(String, String), (Compute, Vec<Job>)> = HashMap::new();
        for job in self.store.jobs_in_status(&HELD).await? {
            // A sweep or a pipeline runs nothing itself.
            if job.kind.is_parent() {
                continue;
            }
            let Some(compute) = compute_of(&job) else { continue };
            let Some(backend) = self.backend_of(&compute.kind) else { continue };
            let started = job.status != JobStatus::Queued;
            if job.runtime_pid.is_none() {
                // A launch that was interrupted before its runtime was recorded: gone once
                // silent (a queued one simply waits to be submitted).
                if started && job.heartbeat_at.is_none_or(|at| now - at > SILENT_AFTER_END_MILLIS) {
                    let message = "the job runtime stopped without reporting an end";
                    if self
                        .transition(&job.name, JobStatus::Failed, Some(message), None, Some(message))
                        .await?
                        .is_some()
                    {
                        tracing::warn!(job = %job.name, "job runtime lost");
                    }
                }
                continue;
            }
            // A runtime that starts at once is not held while its job is queued.
            if !started && matches!(backend.placement(), Placement::Machine(_)) {
                continue;
            }
            held.entry((job.workspace.to_string(), job.compute.clone()))
                .or_insert_with(|| (compute, Vec::new()))
                .1
                .push(job);
        }
        for ((_, name), (compute, jobs)) in held {
            let Some(backend) = self.backend_of(&compute.kind) else { continue };
            // One backend that does not answer holds up no other compute.
            if let Err(error) = self.reconcile_compute(backend.as_ref(), &compute, jobs).await {
                tracing::warn!(compute = %name, error = %error.message, "cannot reconcile the compute's jobs");
            }
        }
        Ok(())
    }

    async fn reconcile_compute(&self, backend: &dyn ComputeBackend, compute: &Compute, held: Vec<Job>) -> Result<()> {
        let launched: Vec<Launched> = held
            .iter()
            .filter_map(|job| Some(Launched { pid: job.runtime_pid?, start: job.runtime_start.unwrap_or_default() }))
            .collect();
        let seen = backend.survey(compute, &launched).await?;
        let now = now_millis();
        for job in held {
            let Some(id) = job.runtime_pid else { continue };
            let launched = Launched { pid: id, start: job.runtime_start.unwrap_or_default() };
            let silent = job.heartbeat_at.is_none_or(|at| now - at > SILENT_AFTER_END_MILLIS);
            let Some(state) = seen.get(&id) else {
                if silent {
                    let message =
                        format!("compute '{}' no longer knows job {id} and the runtime is silent", compute.name);
                    self.transition(&job.name, JobStatus::Failed, Some(&message), None, Some(&message)).await?;
                }
                continue;
            };
            if let Some(shown) = &state.shown
                && job.cluster_state.as_deref() != Some(shown.as_str())
            {
                self.store.set_job_cluster_state(&job.name, shown).await?;
            }
            match &state.phase {
                Phase::Ended { canceled, summary } => {
                    if silent {
                        self.end_from_backend(backend, compute, &job, *canceled, summary).await?;
                    }
                }
                phase => {
                    let cancel = job.status == JobStatus::CancelRequested && (*phase == Phase::Pending || silent);
                    let first = || {
                        self.backends
                            .canceled
                            .lock()
                            .map(|mut sent| sent.insert((job.name.clone(), id)))
                            .unwrap_or(true)
                    };
                    if cancel && first() {
                        tracing::info!(job = %job.name, id, "canceling the job's runtime through its backend");
                        backend.cancel(compute, launched).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Ends a job whose backend ended it before its runtime reported an end.
    async fn end_from_backend(
        &self,
        backend: &dyn ComputeBackend,
        compute: &Compute,
        job: &Job,
        canceled: bool,
        summary: &str,
    ) -> Result<()> {
        let status = match canceled || job.status == JobStatus::CancelRequested {
            true => JobStatus::Canceled,
            false => JobStatus::Failed,
        };
        let error = match backend.output_tail(compute, &job.name).filter(|tail| !tail.trim().is_empty()) {
            Some(tail) => format!("{summary}\n{tail}"),
            None => summary.to_owned(),
        };
        let error = (status == JobStatus::Failed).then_some(error);
        if self.transition(&job.name, status, Some(summary), None, error.as_deref()).await?.is_some() {
            tracing::warn!(job = %job.name, compute = %compute.name, summary, "the job's backend ended it");
        }
        Ok(())
    }
}

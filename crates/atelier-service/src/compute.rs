//! Computes and the scheduler that starts queued jobs on them.
//!
//! The built-in `local` compute and the computes a workspace defines from Azure's compute YAML
//! (`amlcompute`: at most `max_instances` of its jobs at once, each with the CPUs and memory of
//! its `size`) run on the server's machine and share its capacity; a `slurm` compute hands at
//! most `max_instances` of its jobs to its cluster, which decides when and where they run. The
//! scheduler takes queued jobs by priority, then in submission order; a job that does not fit
//! holds back the later jobs of its compute, so order is kept. GPUs are handed out one job each.
//!
//! Which backend runs a compute's jobs, and where their capacity is decided, is the backend's
//! to say (`backends.rs`): the scheduler submits through it with a token for the job alone,
//! and follows what it says of the jobs it holds.

use crate::backends::{ComputeBackend, HELD, Placement};
use crate::{Principal, Service, now_millis};
use atelier_core::authz::Action;
use atelier_core::job::{Capacity, Job, JobStatus, ResourceRequest, Usage, vm_size};
use atelier_core::names::WorkspaceName;
use atelier_core::{Error, Result};
use atelier_store::Compute;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// A compute, as listed: its definition, capacity, use and queue.
#[derive(Debug, Clone)]
pub struct ComputeView {
    pub name: String,
    /// `local` for the built-in compute, else the YAML's `type`.
    pub kind: String,
    pub size: Option<String>,
    pub max_instances: Option<i64>,
    pub description: String,
    /// What one job may use (a named compute's size), or the machine's capacity.
    pub per_job: ResourceRequest,
    pub capacity: Capacity,
    pub in_use: Usage,
    /// The names of its jobs that hold resources, and of those that wait, in order.
    pub running: Vec<String>,
    pub queued: Vec<String>,
    /// A cluster's settings, for a compute on a cluster.
    pub cluster: Option<atelier_spec::compute::SlurmSettings>,
}

/// A compute to define, as Azure's compute YAML describes it (`atelier_spec::compute`).
pub type NewCompute = atelier_spec::compute::ComputeSpec;

/// The size a compute YAML gets when it names none, as on Azure.
const DEFAULT_SIZE: &str = "Standard_DS3_v2";

/// The built-in compute of a workspace: this server's machine, shared by every workspace.
pub(crate) fn builtin_local(workspace: &WorkspaceName) -> Compute {
    Compute {
        workspace: workspace.clone(),
        name: "local".to_owned(),
        kind: "local".to_owned(),
        size: String::new(),
        min_instances: 0,
        max_instances: i64::MAX,
        description: "this server's machine".to_owned(),
        tags: Default::default(),
        settings: None,
        created_by: String::new(),
        created_at: 0,
    }
}

/// A cluster's settings, as stored with its compute (shown with it).
pub(crate) fn cluster_settings(compute: &Compute) -> Result<Option<atelier_spec::compute::SlurmSettings>> {
    let Some(text) = compute.settings.as_deref() else { return Ok(None) };
    serde_json::from_str(text)
        .map(Some)
        .map_err(|error| Error::internal(format!("compute '{}' has unreadable settings: {error}", compute.name)))
}

impl Service {
    /// The machine's capacity, which the computes on it share.
    pub(crate) fn compute_capacity(&self) -> Capacity {
        match self.backend_of("local").map(|backend| backend.placement()) {
            Some(Placement::Machine(capacity)) => capacity,
            _ => Capacity { cpus: 1.0, memory_mb: 0, gpus: Vec::new(), max_jobs: None },
        }
    }

    /// Asks the scheduler to look at the queue now.
    pub(crate) fn wake_scheduler(&self) {
        self.scheduler_wake.notify_one();
    }

    /// Runs the scheduler until the process ends: it looks at the queue when woken (a job
    /// submitted or ended) and every second, while this server leads (with several servers on
    /// one database, one of them starts jobs).
    pub async fn run_scheduler(self: Arc<Self>) {
        loop {
            if self.is_leader()
                && let Err(error) = self.schedule_once().await
            {
                tracing::warn!(error = %error, "scheduling jobs failed");
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), self.scheduler_wake.notified()).await;
        }
    }

    /// One look at the queue: follow what the backends say of the jobs they hold (ending those
    /// whose runtime is gone), then start what fits.
    pub async fn schedule_once(&self) -> Result<()> {
        if !self.has_backends() {
            return Ok(());
        }
        // Sweeps and pipelines first: a trial or step they queue now starts in this same pass.
        self.drive_parents().await?;
        let mut computes: HashMap<(String, String), Compute> = self
            .store
            .list_computes(None)
            .await?
            .into_iter()
            .map(|compute| ((compute.workspace.to_string(), compute.name.clone()), compute))
            .collect();
        let compute_of = |job: &Job| match job.compute.as_str() {
            "local" => Some(builtin_local(&job.workspace)),
            name => computes.get(&(job.workspace.to_string(), name.to_owned())).cloned(),
        };
        self.reconcile_backends(compute_of).await?;
        // What the jobs that hold a runtime take: a place on their compute each, and this
        // machine's resources where the scheduler decides them.
        let mut usage = Usage::default();
        let mut per_compute: HashMap<(String, String), i64> = HashMap::new();
        let mut queued = Vec::new();
        for job in self.store.jobs_in_status(&HELD).await? {
            // A sweep or a pipeline runs nothing itself: its trials or steps hold the resources.
            if job.kind.is_parent() {
                continue;
            }
            let key = (job.workspace.to_string(), job.compute.clone());
            let placement = self.placement_of(&job, &computes);
            let holds = match job.status {
                // Waiting in its backend's own queue, it holds a place on its compute.
                JobStatus::Queued => job.runtime_pid.is_some() && matches!(placement, Some(Placement::Own)),
                _ => true,
            };
            if !holds {
                queued.push(job);
                continue;
            }
            if let Some(Placement::Machine(_)) = placement {
                usage.add(&job.resources, &job.assigned_gpus);
            }
            *per_compute.entry(key).or_default() += 1;
        }
        let mut blocked: HashSet<(String, String)> = HashSet::new();
        for job in queued {
            let key = (job.workspace.to_string(), job.compute.clone());
            if blocked.contains(&key) {
                continue;
            }
            let compute = match job.compute.as_str() {
                "local" => builtin_local(&job.workspace),
                name => match computes.get(&key) {
                    Some(compute) => compute.clone(),
                    // Listed before this job's compute was made, or deleted since: ask again.
                    None => match self.store.get_compute(&job.workspace, name).await {
                        Ok(compute) => {
                            computes.insert(key.clone(), compute.clone());
                            compute
                        }
                        Err(error) if error.code == atelier_core::ErrorCode::ResourceDoesNotExist => {
                            let message = format!("compute '{name}' no longer exists");
                            self.transition(&job.name, JobStatus::Failed, Some(&message), None, Some(&message)).await?;
                            continue;
                        }
                        Err(error) => return Err(error),
                    },
                },
            };
            let Some(backend) = self.backend_of(&compute.kind).cloned() else { continue };
            if per_compute.get(&key).copied().unwrap_or(0) >= compute.max_instances {
                blocked.insert(key);
                continue;
            }
            let gpus = match backend.placement() {
                Placement::Own => Vec::new(),
                Placement::Machine(capacity) => match usage.fit(&capacity, &job.resources) {
                    Some(gpus) => gpus,
                    None => {
                        blocked.insert(key);
                        continue;
                    }
                },
            };
            if self.submit_to_backend(backend.as_ref(), &compute, &job, &gpus).await? {
                if let Placement::Machine(_) = backend.placement() {
                    usage.add(&job.resources, &gpus);
                }
                *per_compute.entry(key).or_default() += 1;
            }
        }
        Ok(())
    }

    /// Where a job's capacity is decided, from its compute's backend.
    fn placement_of(&self, job: &Job, computes: &HashMap<(String, String), Compute>) -> Option<Placement> {
        let kind = match job.compute.as_str() {
            "local" => "local",
            name => &computes.get(&(job.workspace.to_string(), name.to_owned()))?.kind,
        };
        Some(self.backend_of(kind)?.placement())
    }

    /// Defines a compute from the text of Azure's compute YAML, read with the CLI's own
    /// `atelier_spec::compute::parse_compute`: a bad file is an invalid-argument error that names
    /// the field and its line, as the CLI reports it.
    pub async fn create_compute_from_yaml(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        yaml: &str,
    ) -> Result<ComputeView> {
        // Who may not create one learns nothing about their file.
        self.authorize(principal, workspace, Action::ComputesWrite).await?;
        let spec = atelier_spec::compute::parse_compute(yaml).map_err(crate::jobs::spec_error)?;
        self.create_compute(principal, workspace, spec).await
    }

    /// Defines a compute from Azure's compute YAML (Owners: it changes what the workspace's
    /// jobs may use).
    pub async fn create_compute(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        new_compute: NewCompute,
    ) -> Result<ComputeView> {
        self.authorize(principal, workspace, Action::ComputesWrite).await?;
        atelier_spec::compute::validate_compute_name(&new_compute.name).map_err(Error::invalid)?;
        if new_compute.name == "local" {
            return Err(Error::already_exists("compute 'local' is built in"));
        }
        atelier_spec::compute::validate_compute_type(&new_compute.kind).map_err(Error::invalid)?;
        let backend: Arc<dyn ComputeBackend> = self.require_backend(&new_compute.kind)?.clone();
        let settings = match (&new_compute.kind[..], &new_compute.slurm) {
            ("slurm", Some(slurm)) => {
                Some(serde_json::to_string(slurm).map_err(|error| Error::internal(error.to_string()))?)
            }
            ("slurm", None) => return Err(Error::invalid("a slurm compute needs its settings (partition, …)")),
            _ => None,
        };
        let size = new_compute.size.clone().unwrap_or_else(|| DEFAULT_SIZE.to_owned());
        // A size larger than this machine is accepted, as Azure files run unchanged: its jobs
        // are still bounded by what the machine has.
        vm_size(&size)?;
        let (min_instances, max_instances) =
            atelier_spec::compute::instance_range(new_compute.min_instances, new_compute.max_instances)
                .map_err(Error::invalid)?;
        let compute = Compute {
            workspace: workspace.clone(),
            name: new_compute.name.clone(),
            kind: new_compute.kind,
            size,
            min_instances,
            max_instances,
            description: new_compute.description.unwrap_or_default(),
            tags: new_compute.tags,
            settings,
            created_by: principal.user.to_string(),
            created_at: now_millis(),
        };
        // The backend accepts the definition (a cluster answers, has the partition and can reach
        // this server), or nothing is stored.
        backend.check(&compute).await?;
        self.store.create_compute(&compute).await?;
        self.get_compute(principal, workspace, &new_compute.name).await
    }

    pub async fn delete_compute(&self, principal: &Principal, workspace: &WorkspaceName, name: &str) -> Result<()> {
        self.authorize(principal, workspace, Action::ComputesDelete).await?;
        if name == "local" {
            return Err(Error::invalid("compute 'local' is built in and cannot be deleted"));
        }
        // A compute's jobs end first: a cluster's would go on running, out of Atelier's sight.
        let waiting = [
            JobStatus::Queued,
            JobStatus::Preparing,
            JobStatus::Running,
            JobStatus::Finalizing,
            JobStatus::CancelRequested,
        ];
        let unfinished: Vec<String> = self
            .store
            .jobs_in_status(&waiting)
            .await?
            .into_iter()
            .filter(|job| job.workspace == *workspace && job.compute == name && !job.kind.is_parent())
            .map(|job| job.name)
            .collect();
        if !unfinished.is_empty() {
            return Err(Error::invalid(format!(
                "compute '{name}' still has {} unfinished job(s) ({}): cancel them or wait for them to end",
                unfinished.len(),
                unfinished.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        // Its compute instances' servers would go on running on its nodes, out of sight too.
        let hosted: Vec<String> = self
            .store
            .list_instances(Some(workspace))
            .await?
            .into_iter()
            .filter(|instance| {
                serde_json::from_str::<crate::InstanceDefinition>(&instance.definition)
                    .is_ok_and(|definition| definition.compute.as_deref() == Some(name))
            })
            .map(|instance| instance.name)
            .collect();
        if !hosted.is_empty() {
            return Err(Error::invalid(format!(
                "compute '{name}' runs compute instance(s) {}: delete them first",
                hosted.join(", ")
            )));
        }
        self.store.delete_compute(workspace, name).await
    }

    /// The computes of a workspace: `local` first, then the ones it defined.
    pub async fn list_computes(&self, principal: &Principal, workspace: &WorkspaceName) -> Result<Vec<ComputeView>> {
        self.authorize(principal, workspace, Action::ComputesRead).await?;
        let active = self.store.jobs_in_status(&ACTIVE).await?;
        let queued = self.store.jobs_in_status(&[JobStatus::Queued]).await?;
        let capacity = self.compute_capacity();
        let mut views = vec![ComputeView {
            name: "local".to_owned(),
            kind: "local".to_owned(),
            size: None,
            max_instances: None,
            description: "this server's machine".to_owned(),
            per_job: ResourceRequest {
                cpus: capacity.cpus,
                memory_mb: capacity.memory_mb,
                gpus: capacity.gpus.len() as u32,
            },
            capacity: capacity.clone(),
            in_use: Usage::default(),
            running: Vec::new(),
            queued: Vec::new(),
            cluster: None,
        }];
        for compute in self.store.list_computes(Some(workspace)).await? {
            let per_job = vm_size(&compute.size)?;
            let cluster = cluster_settings(&compute)?;
            views.push(ComputeView {
                name: compute.name,
                kind: compute.kind,
                size: Some(compute.size),
                max_instances: Some(compute.max_instances),
                description: compute.description,
                per_job,
                capacity: Capacity { max_jobs: Some(compute.max_instances as u64), ..capacity.clone() },
                in_use: Usage::default(),
                running: Vec::new(),
                queued: Vec::new(),
                cluster,
            });
        }
        for view in &mut views {
            let mine = |job: &&Job| job.compute == view.name && (view.name == "local" || job.workspace == *workspace);
            for job in active.iter().filter(|job| !job.kind.is_parent()).filter(mine) {
                view.in_use.add(&job.resources, &job.assigned_gpus);
                if job.workspace == *workspace {
                    view.running.push(job.name.clone());
                }
            }
            view.queued = queued
                .iter()
                .filter(|job| !job.kind.is_parent())
                .filter(mine)
                .filter(|job| job.workspace == *workspace)
                .map(|job| job.name.clone())
                .collect();
        }
        Ok(views)
    }

    pub async fn get_compute(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
    ) -> Result<ComputeView> {
        let name = name.trim_start_matches("azureml:");
        self.list_computes(principal, workspace)
            .await?
            .into_iter()
            .find(|view| view.name == name)
            .ok_or_else(|| Error::not_found(format!("compute '{name}' not found")))
    }
}

/// The statuses in which a job holds its compute's resources.
const ACTIVE: [JobStatus; 4] =
    [JobStatus::Preparing, JobStatus::Running, JobStatus::Finalizing, JobStatus::CancelRequested];

//! Jobs, as Azure ML defines them: a command run on a compute, with a status that moves through
//! a fixed lifecycle. A job's name is also the id of its MLflow run, so MLflow code that logs
//! into the job needs no configuration and `mlflow.get_run(job_name)` works from outside.

use crate::model::Millis;
use crate::names::WorkspaceName;
use crate::{Error, Result};
use std::collections::BTreeMap;

/// Azure ML's job statuses (PascalCase on the wire), in the order a job passes through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobStatus {
    NotStarted,
    Queued,
    Preparing,
    Running,
    Finalizing,
    CancelRequested,
    Completed,
    Failed,
    Canceled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 9] = [
        JobStatus::NotStarted,
        JobStatus::Queued,
        JobStatus::Preparing,
        JobStatus::Running,
        JobStatus::Finalizing,
        JobStatus::CancelRequested,
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::NotStarted => "NotStarted",
            JobStatus::Queued => "Queued",
            JobStatus::Preparing => "Preparing",
            JobStatus::Running => "Running",
            JobStatus::Finalizing => "Finalizing",
            JobStatus::CancelRequested => "CancelRequested",
            JobStatus::Completed => "Completed",
            JobStatus::Failed => "Failed",
            JobStatus::Canceled => "Canceled",
        }
    }

    /// Parses a status name, ignoring case (`az ml job list` filters are written either way).
    pub fn parse(text: &str) -> Result<Self> {
        JobStatus::ALL.into_iter().find(|status| status.as_str().eq_ignore_ascii_case(text)).ok_or_else(|| {
            let names: Vec<&str> = JobStatus::ALL.iter().map(|status| status.as_str()).collect();
            Error::invalid(format!("unknown job status '{text}': expected one of {}", names.join(", ")))
        })
    }

    /// Whether the job has ended for good.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobStatus::Completed | JobStatus::Failed | JobStatus::Canceled)
    }

    /// Whether the job holds its compute's resources: its runtime has been launched and has
    /// not ended.
    pub fn holds_resources(self) -> bool {
        matches!(self, JobStatus::Preparing | JobStatus::Running | JobStatus::Finalizing | JobStatus::CancelRequested)
    }

    /// Whether a job may move from `self` to `next`. Statuses only move forward; a cancel
    /// request may come at any time before the end, and after it only an end follows.
    pub fn may_become(self, next: JobStatus) -> bool {
        if self.is_terminal() {
            return false;
        }
        match (self, next) {
            (JobStatus::CancelRequested, next) => next.is_terminal(),
            (_, JobStatus::CancelRequested) => true,
            (current, next) => next > current,
        }
    }

    /// The MLflow run status that mirrors this job status.
    pub fn run_status(self) -> crate::model::RunStatus {
        use crate::model::RunStatus;
        match self {
            JobStatus::NotStarted | JobStatus::Queued | JobStatus::Preparing => RunStatus::Scheduled,
            JobStatus::Running | JobStatus::Finalizing | JobStatus::CancelRequested => RunStatus::Running,
            JobStatus::Completed => RunStatus::Finished,
            JobStatus::Failed => RunStatus::Failed,
            JobStatus::Canceled => RunStatus::Killed,
        }
    }
}

/// What kind of job: a command run by a job runtime, or a sweep, which runs no command itself
/// and whose trials are command jobs (`parent` names the sweep).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    Command,
    Sweep,
    Pipeline,
}

impl JobKind {
    /// The job file's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Command => "command",
            JobKind::Sweep => "sweep",
            JobKind::Pipeline => "pipeline",
        }
    }

    /// Whether jobs of this kind run nothing themselves: their children (a sweep's trials, a
    /// pipeline's steps) do, and hold the resources.
    pub fn is_parent(self) -> bool {
        matches!(self, JobKind::Sweep | JobKind::Pipeline)
    }

    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "command" => Ok(JobKind::Command),
            "sweep" => Ok(JobKind::Sweep),
            "pipeline" => Ok(JobKind::Pipeline),
            other => Err(Error::invalid(format!("unknown job type '{other}': expected command, sweep or pipeline"))),
        }
    }
}

/// What a job asks of its compute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResourceRequest {
    pub cpus: f64,
    pub memory_mb: u64,
    pub gpus: u32,
}

impl Default for ResourceRequest {
    fn default() -> Self {
        ResourceRequest { cpus: 1.0, memory_mb: 0, gpus: 0 }
    }
}

/// A status a job reached, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct JobEvent {
    pub status: JobStatus,
    pub time: Millis,
    /// Why, where there is more to say (a timeout, a cancel, a failure).
    pub message: Option<String>,
}

/// A job as the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub workspace: WorkspaceName,
    /// Unique on the server; also the id of the job's run.
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub kind: JobKind,
    /// The sweep a trial belongs to, and its index there (from 0); or the pipeline a step
    /// belongs to, and the step's name.
    pub parent: Option<String>,
    pub trial: Option<i64>,
    pub step: Option<String>,
    /// A pipeline step that did not run: the earlier job whose outputs it has.
    pub reused_from: Option<String>,
    /// What decides whether a pipeline step's earlier run can stand for it (a hash of its
    /// component, code, environment, inputs and settings); `None` when it may not be reused.
    pub reuse_key: Option<String>,
    pub experiment_id: i64,
    pub experiment_name: String,
    pub compute: String,
    pub status: JobStatus,
    /// Higher runs first among queued jobs; ties go in submission order.
    pub priority: i64,
    pub resources: ResourceRequest,
    pub tags: BTreeMap<String, String>,
    /// The YAML as submitted.
    pub spec_yaml: String,
    /// The resolved plan the runtime executes (JSON).
    pub plan: String,
    /// The code snapshot's id, when the job has code.
    pub snapshot: Option<String>,
    /// What the client uploaded for a job it submitted (JSON, the service's to read), so that
    /// a schedule can submit it again; `None` for the children a server makes.
    pub submission: Option<String>,
    pub created_by: String,
    pub created_at: Millis,
    pub exit_code: Option<i64>,
    /// The end of the command's output when it failed, or why the job ended otherwise.
    pub error: Option<String>,
    /// What the server could not honour (an image run on the host, …).
    pub warnings: Vec<String>,
    pub archived: bool,
    /// The launched runtime: its process id and the start time the kernel gave it, so a
    /// recycled process id is not taken for it. On a cluster, the cluster's job id (and no
    /// start time).
    pub runtime_pid: Option<i64>,
    pub runtime_start: Option<i64>,
    /// The GPUs handed to the job when it was launched.
    pub assigned_gpus: Vec<u32>,
    /// When the runtime last reported.
    pub heartbeat_at: Option<Millis>,
    /// On a cluster, what the cluster last said of the job: its state and reason, such as
    /// `PENDING (Resources)`.
    pub cluster_state: Option<String>,
    pub events: Vec<JobEvent>,
}

impl Job {
    /// When the job reached `status`, if it did.
    pub fn time_of(&self, status: JobStatus) -> Option<Millis> {
        self.events.iter().find(|event| event.status == status).map(|event| event.time)
    }
}

/// Checks a job name as Azure ML does: a letter first, then letters, digits, `_` and `-`, at
/// most 255 characters.
pub fn validate_job_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|first| first.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name.len() <= 255;
    if valid {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid job name '{name}': it must start with a letter and hold only letters, digits, '_' and '-' (at most 255)"
        )))
    }
}

const ADJECTIVES: [&str; 16] = [
    "amber", "brave", "calm", "eager", "frosty", "gentle", "happy", "jolly", "keen", "lively", "mellow", "nimble",
    "quiet", "sincere", "tidy", "witty",
];
const NOUNS: [&str; 16] = [
    "apple", "badger", "cactus", "door", "engine", "falcon", "garden", "harbor", "island", "kettle", "lantern",
    "meadow", "orchard", "pepper", "river", "violin",
];

/// A job name in Azure ML's style (`sincere_apple_k3x9q2w1t0`) from random bytes.
pub fn job_name_from_random(bytes: [u8; 12]) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let suffix: String = bytes[2..].iter().map(|byte| ALPHABET[*byte as usize % ALPHABET.len()] as char).collect();
    format!("{}_{}_{suffix}", ADJECTIVES[bytes[0] as usize % 16], NOUNS[bytes[1] as usize % 16])
}

/// A compute's capacity: what its jobs may use at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Capacity {
    pub cpus: f64,
    pub memory_mb: u64,
    /// The GPU indices it hands out, one job each.
    pub gpus: Vec<u32>,
    /// At most this many jobs at once (`max_instances` of an Azure cluster).
    pub max_jobs: Option<u64>,
}

impl Capacity {
    /// Whether a request could ever fit, on an empty compute.
    pub fn could_fit(&self, request: &ResourceRequest) -> std::result::Result<(), String> {
        if request.cpus > self.cpus {
            return Err(format!("it asks for {} CPUs and the compute has {}", request.cpus, self.cpus));
        }
        if self.memory_mb > 0 && request.memory_mb > self.memory_mb {
            return Err(format!(
                "it asks for {} MB of memory and the compute has {} MB",
                request.memory_mb, self.memory_mb
            ));
        }
        if request.gpus as usize > self.gpus.len() {
            return Err(format!("it asks for {} GPUs and the compute has {}", request.gpus, self.gpus.len()));
        }
        Ok(())
    }
}

/// What a compute has in use, and whether a request fits beside it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    pub cpus: f64,
    pub memory_mb: u64,
    pub gpus: Vec<u32>,
    pub jobs: u64,
}

impl Usage {
    pub fn add(&mut self, request: &ResourceRequest, gpus: &[u32]) {
        self.cpus += request.cpus;
        self.memory_mb += request.memory_mb;
        self.gpus.extend_from_slice(gpus);
        self.jobs += 1;
    }

    /// The GPUs a request would get if it fits now; `None` if it does not fit.
    pub fn fit(&self, capacity: &Capacity, request: &ResourceRequest) -> Option<Vec<u32>> {
        if self.cpus + request.cpus > capacity.cpus + 1e-9 {
            return None;
        }
        if capacity.memory_mb > 0 && self.memory_mb + request.memory_mb > capacity.memory_mb {
            return None;
        }
        if capacity.max_jobs.is_some_and(|max| self.jobs >= max) {
            return None;
        }
        let free: Vec<u32> = capacity.gpus.iter().copied().filter(|gpu| !self.gpus.contains(gpu)).collect();
        if free.len() < request.gpus as usize {
            return None;
        }
        Some(free[..request.gpus as usize].to_vec())
    }
}

/// Azure VM sizes, mapped to what a job on a compute of that size may use: (size, CPUs,
/// memory in GB, GPUs). Names compare without case.
pub const VM_SIZES: [(&str, u32, u32, u32); 16] = [
    ("Standard_DS1_v2", 1, 3, 0),
    ("Standard_DS2_v2", 2, 7, 0),
    ("Standard_DS3_v2", 4, 14, 0),
    ("Standard_DS4_v2", 8, 28, 0),
    ("Standard_DS5_v2", 16, 56, 0),
    ("Standard_D2_v3", 2, 8, 0),
    ("Standard_D4_v3", 4, 16, 0),
    ("Standard_D8_v3", 8, 32, 0),
    ("Standard_D16_v3", 16, 64, 0),
    ("Standard_E4s_v3", 4, 32, 0),
    ("Standard_F4s_v2", 4, 8, 0),
    ("Standard_NC6", 6, 56, 1),
    ("Standard_NC12", 12, 112, 2),
    ("Standard_NC6s_v3", 6, 112, 1),
    ("Standard_NC12s_v3", 12, 224, 2),
    ("Standard_NC24s_v3", 24, 448, 4),
];

/// The resources of a VM size from [`VM_SIZES`].
pub fn vm_size(size: &str) -> Result<ResourceRequest> {
    VM_SIZES
        .iter()
        .find(|(name, ..)| name.eq_ignore_ascii_case(size))
        .map(|(_, cpus, memory_gb, gpus)| ResourceRequest {
            cpus: f64::from(*cpus),
            memory_mb: u64::from(*memory_gb) * 1024,
            gpus: *gpus,
        })
        .ok_or_else(|| {
            let names: Vec<&str> = VM_SIZES.iter().map(|(name, ..)| *name).collect();
            Error::invalid(format!("unknown size '{size}': expected one of {}", names.join(", ")))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_only_move_forward() {
        use JobStatus::*;
        assert!(NotStarted.may_become(Queued));
        assert!(Queued.may_become(Running), "a fast job may skip a report");
        assert!(!Running.may_become(Queued));
        assert!(Running.may_become(CancelRequested));
        assert!(CancelRequested.may_become(Canceled));
        assert!(CancelRequested.may_become(Completed), "a job may finish before the cancel lands");
        assert!(!CancelRequested.may_become(Running));
        assert!(!Completed.may_become(Failed));
        assert!(!Canceled.may_become(CancelRequested));
        assert_eq!(JobStatus::parse("running").unwrap(), Running);
        assert!(JobStatus::parse("done").unwrap_err().message.contains("Completed"));
    }

    #[test]
    fn names_are_checked_and_made_in_azure_style() {
        let name = job_name_from_random([3; 12]);
        assert!(validate_job_name(&name).is_ok(), "{name}");
        assert!(validate_job_name("1abc").is_err());
        assert!(validate_job_name("a b").is_err());
        assert!(validate_job_name("train-2_x").is_ok());
    }

    #[test]
    fn requests_fit_in_order_and_gpus_are_exclusive() {
        let capacity = Capacity { cpus: 2.0, memory_mb: 0, gpus: vec![0, 1], max_jobs: None };
        let mut usage = Usage::default();
        let one_gpu = ResourceRequest { cpus: 1.0, memory_mb: 0, gpus: 1 };
        let first = usage.fit(&capacity, &one_gpu).unwrap();
        usage.add(&one_gpu, &first);
        let second = usage.fit(&capacity, &one_gpu).unwrap();
        assert_ne!(first, second);
        usage.add(&one_gpu, &second);
        assert_eq!(usage.fit(&capacity, &ResourceRequest::default()), None, "both CPUs are taken");
        assert!(capacity.could_fit(&ResourceRequest { cpus: 4.0, memory_mb: 0, gpus: 0 }).is_err());
        let bounded = Capacity { max_jobs: Some(1), ..capacity };
        let mut one = Usage::default();
        one.add(&ResourceRequest::default(), &[]);
        assert_eq!(one.fit(&bounded, &ResourceRequest::default()), None);
        assert_eq!(vm_size("standard_ds3_v2").unwrap().cpus, 4.0);
    }
}

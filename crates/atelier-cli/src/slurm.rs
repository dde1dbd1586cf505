//! The Slurm backend: a Slurm compute's jobs are batch jobs (`sbatch`) that run the same
//! `atelier job-runtime` as the local compute, on the node Slurm allocates; the scheduler asks
//! `squeue` about all of them at once, and cancels with `scancel`. The tools run on this
//! server's machine, which must be a submit host of the cluster; a compute with `slurmrestd`
//! settings reaches Slurm over its REST API instead (`crate::slurmrest`).
//!
//! Nothing a user wrote reaches a command line unchecked: job names, partitions, accounts and
//! QOS are checked names, each passed as one argument; paths are written into the batch script
//! quoted for the shell. The tools run with only the inheritable variables (no secret of the
//! server's), which is all `sbatch` exports to the job.

use crate::launcher::LocalLauncher;
use crate::runtime::shell_quote;
use crate::slurmrest::RestSlurm;
use atelier_core::job::Job;
use atelier_core::{Error, Result};
use atelier_service::{
    BackendJob, ComputeBackend, JobShape, Launched, Phase, Placement, PortFuture, Refusal, Submitted,
};
use atelier_spec::compute::SlurmSettings;
use atelier_spec::plan::JobPlan;
use atelier_store::Compute;
use std::collections::HashMap;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a Slurm command may take before it counts as not answering.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// What a batch job asks of the cluster: the job's request in Slurm's terms.
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
}

impl ClusterRequest {
    /// A job's request in Slurm's terms, on a compute with these settings.
    pub fn of(job: &Job, settings: &SlurmSettings) -> Result<ClusterRequest> {
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
        })
    }
}

/// What Slurm says of one of its jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterJob {
    /// Slurm's state: `PENDING`, `RUNNING`, `COMPLETED`, `FAILED`, `CANCELLED`, `TIMEOUT`,
    /// `OUT_OF_MEMORY`, `NODE_FAIL`, …
    pub state: String,
    /// Why it is in that state (`Resources`, `Priority`, `TimeLimit`), if Slurm says.
    pub reason: Option<String>,
    /// The nodes it runs on.
    pub nodes: Option<String>,
}

impl ClusterJob {
    /// Whether Slurm has not started it yet.
    pub fn is_pending(&self) -> bool {
        matches!(self.state.as_str(), "PENDING" | "CONFIGURING" | "REQUEUED" | "REQUEUE_HOLD" | "RESV_DEL_HOLD")
    }

    /// Whether Slurm has ended it for good.
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

    /// The state of batch job `id` as the scheduler follows it.
    fn backend_job(&self, id: i64) -> BackendJob {
        let shown = self.describe();
        let phase = if self.is_pending() {
            Phase::Pending
        } else if self.has_ended() {
            let canceled = self.state == "CANCELLED";
            let summary = match canceled {
                true => format!("the cluster canceled job {id}: {shown}"),
                false => format!("the cluster ended job {id} before the runtime reported: {shown}"),
            };
            Phase::Ended { canceled, summary }
        } else {
            Phase::Running
        };
        BackendJob { phase, shown: Some(shown) }
    }
}

/// A Slurm compute's settings, as stored with it.
pub(crate) fn settings_of(compute: &Compute) -> Result<SlurmSettings> {
    let text = compute
        .settings
        .as_deref()
        .ok_or_else(|| Error::internal(format!("compute '{}' has no Slurm settings", compute.name)))?;
    serde_json::from_str(text)
        .map_err(|error| Error::internal(format!("compute '{}' has unreadable settings: {error}", compute.name)))
}

pub struct SlurmBackend {
    /// What the local compute writes into a job's folder, reused for a batch job's.
    pub local: LocalLauncher,
    /// The URL the cluster's nodes reach this server at: `--public-url`, or the address it
    /// listens on when that is not a loopback one; `None` when nodes cannot reach it.
    pub server_url: Option<String>,
    /// The HTTP client of computes reached through slurmrestd.
    pub http: reqwest::Client,
}

/// Runs a Slurm tool with only the inheritable variables; its output, or what went wrong.
async fn run_tool(program: &str, args: &[String]) -> Result<std::process::Output> {
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(std::env::vars().filter(|(key, _)| atelier_service::inheritable_variable(key)))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    match tokio::time::timeout(COMMAND_TIMEOUT, command.output()).await {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::NotFound => Err(Error::invalid(format!(
            "{program} is not installed on this server's machine: Slurm computes need Slurm's command-line tools"
        ))),
        Ok(Err(error)) => Err(Error::internal(format!("cannot run {program}: {error}"))),
        Err(_) => Err(Error::internal(format!("{program} did not answer within {} s", COMMAND_TIMEOUT.as_secs()))),
    }
}

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).trim().to_owned()
}

/// The `sbatch` arguments of a request, in the order given.
fn sbatch_arguments(request: &ClusterRequest, dir: &Path) -> Vec<String> {
    let mut args = vec![
        "--parsable".to_owned(),
        format!("--job-name={}", request.job),
        format!("--comment=atelier:{}/{}", request.workspace, request.job),
        format!("--partition={}", request.partition),
        format!("--nodes={}", request.nodes),
        format!("--ntasks-per-node={}", request.tasks_per_node),
        format!("--cpus-per-task={}", request.cpus_per_task),
        format!("--nice={}", request.nice),
        format!("--chdir={}", dir.display()),
        format!("--output={}", dir.join("slurm.out").display()),
        // The job gets the environment sbatch runs with: the inheritable variables only.
        "--export=ALL".to_owned(),
        // A batch job Slurm would start again after a node failure would run the job twice,
        // with a runtime that already reported: the job ends with Slurm's reason instead.
        "--no-requeue".to_owned(),
    ];
    if let Some(account) = &request.account {
        args.push(format!("--account={account}"));
    }
    if let Some(qos) = &request.qos {
        args.push(format!("--qos={qos}"));
    }
    if let Some(memory) = request.memory_mb {
        args.push(format!("--mem={memory}M"));
    }
    if request.gpus > 0 {
        args.push(format!("--gres=gpu:{}", request.gpus));
    }
    if let Some(minutes) = request.time_minutes {
        args.push(format!("--time={minutes}"));
    }
    args.push(dir.join("job.sh").display().to_string());
    args
}

/// Reads `squeue -o '%i|%T|%r|%N'` lines.
fn parse_squeue(text: &str) -> HashMap<i64, ClusterJob> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.trim().splitn(4, '|');
            let id = fields.next()?.trim().parse::<i64>().ok()?;
            let state = fields.next()?.trim().to_owned();
            let reason = fields.next().map(|reason| reason.trim().to_owned()).filter(|reason| !reason.is_empty());
            let nodes = fields.next().map(|nodes| nodes.trim().to_owned()).filter(|nodes| !nodes.is_empty());
            Some((id, ClusterJob { state, reason, nodes }))
        })
        .collect()
}

impl SlurmBackend {
    /// Where jobs' folders are made: the compute's `job_folder`, else the server's.
    pub(crate) fn jobs_dir(&self, job_folder: Option<&str>) -> PathBuf {
        job_folder.map_or_else(|| self.local.jobs_dir.clone(), PathBuf::from)
    }

    pub(crate) fn envs_dir(&self, job_folder: Option<&str>) -> PathBuf {
        job_folder.map_or_else(|| self.local.envs_dir.clone(), |folder| Path::new(folder).join(".envs"))
    }

    /// The compute's slurmrestd, where it has one.
    fn rest<'a>(&'a self, settings: &'a SlurmSettings) -> Option<RestSlurm<'a>> {
        settings.slurmrestd.as_ref().map(|rest| RestSlurm { http: &self.http, rest })
    }

    async fn check_settings(&self, settings: &SlurmSettings) -> Result<()> {
        if self.server_url.is_none() {
            return Err(Error::invalid(
                "Slurm's nodes cannot reach this server: it listens on a loopback address; start it with \
                 --public-url URL (the address the nodes use) or let it listen on another address",
            ));
        }
        let known: Vec<String> = match self.rest(settings) {
            Some(rest) => rest.partitions().await?,
            None => {
                let partitions = run_tool("sinfo", &["-h".to_owned(), "-o".to_owned(), "%R".to_owned()]).await?;
                if !partitions.status.success() {
                    return Err(Error::invalid(format!(
                        "Slurm does not answer: sinfo says {}",
                        stderr_of(&partitions)
                    )));
                }
                String::from_utf8_lossy(&partitions.stdout)
                    .lines()
                    .map(|line| line.trim().to_owned())
                    .filter(|line| !line.is_empty())
                    .collect()
            }
        };
        if !known.contains(&settings.partition) {
            return Err(Error::invalid(format!(
                "Slurm has no partition '{}': it has {}",
                settings.partition,
                if known.is_empty() { "none".to_owned() } else { known.join(", ") }
            )));
        }
        Ok(())
    }

    async fn submit_request(&self, settings: &SlurmSettings, request: &ClusterRequest, token: &str) -> Result<i64> {
        let Some(server_url) = &self.server_url else {
            return Err(Error::invalid("Slurm's nodes cannot reach this server (no --public-url)"));
        };
        let jobs_dir = self.jobs_dir(settings.job_folder.as_deref());
        let envs_dir = self.envs_dir(settings.job_folder.as_deref());
        let names = (request.workspace.as_str(), request.job.as_str());
        let dir = self.local.prepare_job_folder(&jobs_dir, server_url, &envs_dir, names, token, &[])?;
        let what =
            format!("The job runtime of Atelier job {}: it reports to the server with the job's token.", request.job);
        self.submit_runtime(settings, request, &dir, "job-runtime", &what).await
    }

    /// Submits a batch job that runs `atelier <command> <dir>` on the node Slurm allocates (its
    /// script in `dir`, described by `what`); the batch job's id.
    pub(crate) async fn submit_runtime(
        &self,
        settings: &SlurmSettings,
        request: &ClusterRequest,
        dir: &Path,
        command: &str,
        what: &str,
    ) -> Result<i64> {
        let program = settings.atelier_path.as_ref().map_or_else(|| self.local.exe.display().to_string(), Clone::clone);
        let script = format!(
            "#!/bin/sh\n# {what}\nexec {program} {command} {dir}\n",
            program = shell_quote(&program),
            dir = shell_quote(&dir.display().to_string()),
        );
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o700)
            .open(dir.join("job.sh"))
            .map_err(|error| Error::internal(format!("cannot write the batch script: {error}")))?;
        std::io::Write::write_all(&mut file, script.as_bytes())
            .map_err(|error| Error::internal(format!("cannot write the batch script: {error}")))?;
        if let Some(rest) = self.rest(settings) {
            return rest.submit(request, dir, &script).await;
        }
        let output = run_tool("sbatch", &sbatch_arguments(request, dir)).await?;
        if !output.status.success() {
            return Err(Error::invalid(format!("sbatch: {}", stderr_of(&output))));
        }
        let text = String::from_utf8_lossy(&output.stdout);
        text.trim()
            .split(';')
            .next()
            .and_then(|id| id.trim().parse::<i64>().ok())
            .ok_or_else(|| Error::internal(format!("sbatch answered '{}', not a job id", text.trim())))
    }

    pub(crate) async fn survey_ids(&self, settings: &SlurmSettings, ids: &[i64]) -> Result<HashMap<i64, ClusterJob>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        if let Some(rest) = self.rest(settings) {
            return rest.survey(ids).await;
        }
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        let args = ["-h", "-t", "all", "-j", &list.join(","), "-o", "%i|%T|%r|%N"].map(str::to_owned);
        let output = run_tool("squeue", &args).await?;
        if !output.status.success() {
            // squeue fails when it knows none of the ids (they ended long ago).
            if stderr_of(&output).contains("Invalid job id") {
                return Ok(HashMap::new());
            }
            return Err(Error::internal(format!("squeue: {}", stderr_of(&output))));
        }
        Ok(parse_squeue(&String::from_utf8_lossy(&output.stdout)))
    }

    pub(crate) async fn cancel_id(&self, settings: &SlurmSettings, id: i64) -> Result<()> {
        if let Some(rest) = self.rest(settings) {
            return rest.cancel(id).await;
        }
        let output = run_tool("scancel", &[id.to_string()]).await?;
        if !output.status.success() {
            return Err(Error::internal(format!("scancel {id}: {}", stderr_of(&output))));
        }
        Ok(())
    }
}

impl ComputeBackend for SlurmBackend {
    fn kinds(&self) -> &'static [&'static str] {
        &["slurm"]
    }

    fn placement(&self) -> Placement {
        Placement::Own
    }

    fn check<'a>(&'a self, compute: &'a Compute) -> PortFuture<'a, Result<()>> {
        Box::pin(async move { self.check_settings(&settings_of(compute)?).await })
    }

    fn admit(&self, compute: &Compute, shape: &JobShape) -> std::result::Result<(), Refusal> {
        let settings = settings_of(compute).map_err(|error| Refusal { field: "compute", message: error.message })?;
        if shape.instance_count > settings.max_nodes_per_job {
            return Err(Refusal {
                field: "resources.instance_count",
                message: format!(
                    "{} nodes: compute '{}' gives a job at most {} (max_nodes_per_job)",
                    shape.instance_count, compute.name, settings.max_nodes_per_job
                ),
            });
        }
        // Slurm's PMIx server admits only ranks of the Slurm job's own user; a server that runs
        // as root confines code as its job user, which the ranks of a root batch job are not.
        if let Some(user) = self.local.confinement.as_ref().and_then(|confinement| confinement.user.as_ref())
            && shape.mpi
            && shape.instance_count > 1
        {
            return Err(Refusal {
                field: "resources.instance_count",
                message: format!(
                    "an mpi job over several nodes of compute '{}' needs its ranks to run as the Slurm job's \
                     user, and this server runs as root and confines jobs as user '{}': run the server as an \
                     unprivileged user (its jobs' ranks are then that user's), or give the job one node",
                    compute.name, user.name
                ),
            });
        }
        Ok(())
    }

    fn submit<'a>(
        &'a self,
        compute: &'a Compute,
        job: &'a Job,
        token: &'a str,
        _gpus: &'a [u32],
    ) -> PortFuture<'a, Result<Submitted>> {
        Box::pin(async move {
            let settings = settings_of(compute)?;
            let request = ClusterRequest::of(job, &settings)?;
            let id = self.submit_request(&settings, &request, token).await?;
            Ok(Submitted { launched: Launched { pid: id, start: 0 }, shown: Some("PENDING".to_owned()) })
        })
    }

    fn survey<'a>(
        &'a self,
        compute: &'a Compute,
        launched: &'a [Launched],
    ) -> PortFuture<'a, Result<HashMap<i64, BackendJob>>> {
        Box::pin(async move {
            let settings = settings_of(compute)?;
            let ids: Vec<i64> = launched.iter().map(|launched| launched.pid).collect();
            let seen = self.survey_ids(&settings, &ids).await?;
            Ok(seen.into_iter().map(|(id, job)| (id, job.backend_job(id))).collect())
        })
    }

    fn cancel<'a>(&'a self, compute: &'a Compute, launched: Launched) -> PortFuture<'a, Result<()>> {
        Box::pin(async move { self.cancel_id(&settings_of(compute)?, launched.pid).await })
    }

    fn output_tail(&self, compute: &Compute, job: &str) -> Option<String> {
        let settings = settings_of(compute).ok()?;
        crate::launcher::file_tail(&self.jobs_dir(settings.job_folder.as_deref()).join(job).join("slurm.out"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_read_into_states() {
        let seen = parse_squeue("48|PENDING|Resources|\n49|RUNNING|None|n1\n50|OUT_OF_MEMORY|OutOfMemory|n2\nnoise\n");
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[&48].describe(), "PENDING (Resources)");
        assert_eq!(seen[&49].describe(), "RUNNING on n1");
        assert!(seen[&50].has_ended());
        assert_eq!(seen[&48].backend_job(48).phase, Phase::Pending);
        assert_eq!(seen[&49].backend_job(49).phase, Phase::Running);
        assert_eq!(
            seen[&50].backend_job(50).phase,
            Phase::Ended {
                canceled: false,
                summary: "the cluster ended job 50 before the runtime reported: OUT_OF_MEMORY (OutOfMemory) on n2"
                    .to_owned()
            }
        );
    }

    #[test]
    fn a_cluster_state_reads_as_the_job_page_shows_it() {
        let state = |state: &str, reason: Option<&str>, nodes: Option<&str>| ClusterJob {
            state: state.to_owned(),
            reason: reason.map(str::to_owned),
            nodes: nodes.map(str::to_owned),
        };
        assert_eq!(state("PENDING", Some("Resources"), Some("")).describe(), "PENDING (Resources)");
        assert_eq!(state("RUNNING", Some("None"), Some("n[1-2]")).describe(), "RUNNING on n[1-2]");
        assert!(state("PENDING", None, None).is_pending() && !state("PENDING", None, None).has_ended());
        for ended in ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL"] {
            assert!(state(ended, None, None).has_ended(), "{ended}");
        }
        assert!(!state("RUNNING", None, None).has_ended() && !state("COMPLETING", None, None).has_ended());
        let canceled = state("CANCELLED", Some("None"), Some("n1")).backend_job(7).phase;
        assert_eq!(
            canceled,
            Phase::Ended { canceled: true, summary: "the cluster canceled job 7: CANCELLED on n1".to_owned() }
        );
    }

    #[test]
    fn a_request_maps_to_sbatch_arguments_and_paths_are_quoted() {
        let request = ClusterRequest {
            job: "train_1".to_owned(),
            workspace: "vision".to_owned(),
            partition: "gpu".to_owned(),
            account: Some("lab".to_owned()),
            qos: None,
            nodes: 1,
            tasks_per_node: 1,
            cpus_per_task: 4,
            memory_mb: Some(16384),
            gpus: 2,
            time_minutes: Some(90),
            nice: 100,
        };
        let args = sbatch_arguments(&request, Path::new("/jobs/train_1"));
        for expected in [
            "--job-name=train_1",
            "--partition=gpu",
            "--account=lab",
            "--nodes=1",
            "--cpus-per-task=4",
            "--mem=16384M",
            "--gres=gpu:2",
            "--time=90",
            "--nice=100",
            "--output=/jobs/train_1/slurm.out",
            "--no-requeue",
        ] {
            assert!(args.contains(&expected.to_owned()), "{expected} in {args:?}");
        }
        assert_eq!(args.last().map(String::as_str), Some("/jobs/train_1/job.sh"));
        assert!(!args.iter().any(|arg| arg.starts_with("--qos")));
        assert_eq!(shell_quote("/a b/it's"), r"'/a b/it'\''s'");
    }
}

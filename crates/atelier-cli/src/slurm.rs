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
use atelier_core::{Error, Result};
use atelier_service::{ClusterBackend, ClusterJob, ClusterRequest, PortFuture};
use atelier_spec::compute::SlurmSettings;
use std::collections::HashMap;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a Slurm command may take before it counts as not answering.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

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
    fn jobs_dir(&self, job_folder: Option<&str>) -> PathBuf {
        job_folder.map_or_else(|| self.local.jobs_dir.clone(), PathBuf::from)
    }

    fn envs_dir(&self, job_folder: Option<&str>) -> PathBuf {
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

    async fn submit_request(&self, request: &ClusterRequest, token: &str) -> Result<i64> {
        let Some(server_url) = &self.server_url else {
            return Err(Error::invalid("Slurm's nodes cannot reach this server (no --public-url)"));
        };
        let jobs_dir = self.jobs_dir(request.job_folder.as_deref());
        let envs_dir = self.envs_dir(request.job_folder.as_deref());
        let names = (request.workspace.as_str(), request.job.as_str());
        let dir = self.local.prepare_job_folder(&jobs_dir, server_url, &envs_dir, names, token, &[])?;
        let program = request.atelier_path.as_ref().map_or_else(|| self.local.exe.display().to_string(), Clone::clone);
        let script = format!(
            "#!/bin/sh\n# The job runtime of Atelier job {job}: it reports to the server with the job's token.\n\
             exec {program} job-runtime {dir}\n",
            job = request.job,
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
        if let Some(rest) = &request.slurmrestd {
            return RestSlurm { http: &self.http, rest }.submit(request, &dir, &script).await;
        }
        let output = run_tool("sbatch", &sbatch_arguments(request, &dir)).await?;
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

    async fn survey_ids(&self, settings: &SlurmSettings, ids: &[i64]) -> Result<HashMap<i64, ClusterJob>> {
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

    async fn cancel_id(&self, settings: &SlurmSettings, id: i64) -> Result<()> {
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

impl ClusterBackend for SlurmBackend {
    fn check<'a>(&'a self, settings: &'a SlurmSettings) -> PortFuture<'a, Result<()>> {
        Box::pin(self.check_settings(settings))
    }

    fn submit<'a>(&'a self, request: &'a ClusterRequest, token: &'a str) -> PortFuture<'a, Result<i64>> {
        Box::pin(self.submit_request(request, token))
    }

    fn survey<'a>(
        &'a self,
        settings: &'a SlurmSettings,
        ids: &'a [i64],
    ) -> PortFuture<'a, Result<HashMap<i64, ClusterJob>>> {
        Box::pin(self.survey_ids(settings, ids))
    }

    fn cancel<'a>(&'a self, settings: &'a SlurmSettings, id: i64) -> PortFuture<'a, Result<()>> {
        Box::pin(self.cancel_id(settings, id))
    }

    fn output_tail(&self, job: &str, settings: &SlurmSettings) -> Option<String> {
        let text = std::fs::read(self.jobs_dir(settings.job_folder.as_deref()).join(job).join("slurm.out")).ok()?;
        let start = text.len().saturating_sub(2048);
        Some(String::from_utf8_lossy(&text[start..]).trim().to_owned())
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
            job_folder: None,
            atelier_path: None,
            slurmrestd: None,
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
        ] {
            assert!(args.contains(&expected.to_owned()), "{expected} in {args:?}");
        }
        assert_eq!(args.last().map(String::as_str), Some("/jobs/train_1/job.sh"));
        assert!(!args.iter().any(|arg| arg.starts_with("--qos")));
        assert_eq!(shell_quote("/a b/it's"), r"'/a b/it'\''s'");
    }
}

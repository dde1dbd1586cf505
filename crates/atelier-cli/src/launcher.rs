//! The local compute backend: starts `atelier job-runtime` as a detached process on this
//! machine for the `local` and `amlcompute` computes, follows it by its process id and start
//! time, and finds out what the machine has (CPUs, memory, GPUs).

use crate::runtime::Launch;
use atelier_core::Error;
use atelier_core::job::{Capacity, Job};
use atelier_service::{
    BackendJob, ComputeBackend, JobShape, Launched, Phase, Placement, PortFuture, Refusal, Submitted,
};
use atelier_store::Compute;
use std::collections::HashMap;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

#[derive(Clone)]
pub struct LocalLauncher {
    /// This binary.
    pub exe: PathBuf,
    /// The URL the runtime reaches the server at.
    pub server_url: String,
    /// Where each job gets a folder (`<jobs_dir>/<job>`).
    pub jobs_dir: PathBuf,
    pub envs_dir: PathBuf,
    pub uv: PathBuf,
    pub grace_seconds: u64,
    /// How jobs' commands are confined, where this machine can.
    pub confinement: Option<atelier_service::Confinement>,
    /// What this machine gives its jobs.
    pub capacity: Capacity,
}

/// The start time of a process, in clock ticks since boot (field 22 of `/proc/<pid>/stat`), and
/// whether it is a zombie.
pub(crate) fn process_start(pid: i64) -> Option<(i64, bool)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    Some((fields.get(19)?.parse().ok()?, fields.first() == Some(&"Z")))
}

fn failed(what: &str, error: std::io::Error) -> Error {
    Error::internal(format!("{what}: {error}"))
}

impl LocalLauncher {
    /// Makes a job's folder under `jobs_dir` with the launch file its runtime reads (readable by
    /// its owner only: it holds the job's token), for a runtime that reaches the server at
    /// `server_url`.
    pub fn prepare_job_folder(
        &self,
        jobs_dir: &std::path::Path,
        server_url: &str,
        envs_dir: &std::path::Path,
        (workspace, job): (&str, &str),
        token: &str,
        gpus: &[u32],
    ) -> atelier_core::Result<PathBuf> {
        let dir = jobs_dir.join(job);
        std::fs::create_dir_all(&dir).map_err(|error| failed("cannot create the job's folder", error))?;
        let launch = Launch {
            server_url: server_url.to_owned(),
            workspace: workspace.to_owned(),
            job: job.to_owned(),
            token: token.to_owned(),
            gpus: gpus.to_vec(),
            envs_dir: envs_dir.to_path_buf(),
            uv: self.uv.clone(),
            grace_seconds: self.grace_seconds,
            confinement: self.confinement.clone(),
        };
        let text = serde_json::to_vec(&launch).map_err(|error| Error::internal(error.to_string()))?;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(dir.join("launch.json"))
            .map_err(|error| failed("cannot write the launch file", error))?;
        std::io::Write::write_all(&mut file, &text).map_err(|error| failed("cannot write the launch file", error))?;
        Ok(dir)
    }

    /// Starts the runtime of a job as a detached process.
    fn launch(&self, job: &Job, token: &str, gpus: &[u32]) -> atelier_core::Result<Launched> {
        let names = (job.workspace.as_str(), job.name.as_str());
        let dir = self.prepare_job_folder(&self.jobs_dir, &self.server_url, &self.envs_dir, names, token, gpus)?;
        let (pid, start) = spawn_detached(&self.exe, "job-runtime", &dir, true)
            .map_err(|error| failed("cannot start the job runtime", error))?;
        Ok(Launched { pid, start })
    }

    /// Whether a launched runtime still runs: the same process, not one that reused its id.
    fn is_alive(launched: Launched) -> bool {
        matches!(process_start(launched.pid), Some((start, false)) if start == launched.start)
    }
}

impl ComputeBackend for LocalLauncher {
    fn kinds(&self) -> &'static [&'static str] {
        &["local", "amlcompute"]
    }

    fn placement(&self) -> Placement {
        Placement::Machine(self.capacity.clone())
    }

    fn check<'a>(&'a self, _compute: &'a Compute) -> PortFuture<'a, atelier_core::Result<()>> {
        // A compute on this machine is a share of it: its size is checked against the machine
        // when jobs are submitted.
        Box::pin(async { Ok(()) })
    }

    fn admit(&self, _compute: &Compute, _shape: &JobShape) -> Result<(), Refusal> {
        // Every instance of a job runs on this machine.
        Ok(())
    }

    fn submit<'a>(
        &'a self,
        _compute: &'a Compute,
        job: &'a Job,
        token: &'a str,
        gpus: &'a [u32],
    ) -> PortFuture<'a, atelier_core::Result<Submitted>> {
        Box::pin(async move { Ok(Submitted { launched: self.launch(job, token, gpus)?, shown: None }) })
    }

    fn survey<'a>(
        &'a self,
        _compute: &'a Compute,
        launched: &'a [Launched],
    ) -> PortFuture<'a, atelier_core::Result<HashMap<i64, BackendJob>>> {
        let seen = launched
            .iter()
            .map(|launched| {
                let phase = match Self::is_alive(*launched) {
                    true => Phase::Running,
                    false => Phase::Ended {
                        canceled: false,
                        summary: "the job runtime stopped without reporting an end".to_owned(),
                    },
                };
                (launched.pid, BackendJob { phase, shown: None })
            })
            .collect();
        Box::pin(async move { Ok(seen) })
    }

    fn cancel<'a>(&'a self, _compute: &'a Compute, launched: Launched) -> PortFuture<'a, atelier_core::Result<()>> {
        // A runtime that went silent while its job was canceled: SIGTERM, which it answers by
        // stopping its command with the grace period, as a cancel it heard of.
        let sent = match (Self::is_alive(launched), i32::try_from(launched.pid)) {
            (true, Ok(pid)) => nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGTERM)
                .map_err(|error| Error::internal(format!("cannot signal the job runtime {pid}: {error}"))),
            _ => Ok(()),
        };
        Box::pin(async move { sent })
    }

    fn output_tail(&self, _compute: &Compute, job: &str) -> Option<String> {
        file_tail(&self.jobs_dir.join(job).join("runtime.log"))
    }
}

/// Starts `atelier <command> <dir>` detached, its output appended to `<dir>/runtime.log` (or
/// replacing it): its process id and start time. It gets what it needs to run Python and uv,
/// and none of the server's secrets (its master key, its store's URL, its cloud credentials);
/// its own process group, so a signal to the server's group does not reach it and it outlives a
/// server that stops.
pub(crate) fn spawn_detached(
    exe: &std::path::Path,
    command: &str,
    dir: &std::path::Path,
    append: bool,
) -> std::io::Result<(i64, i64)> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(append)
        .write(true)
        .truncate(!append)
        .open(dir.join("runtime.log"))?;
    let log_err = log.try_clone()?;
    let mut child = std::process::Command::new(exe)
        .arg(command)
        .arg(dir)
        .env_clear()
        .envs(std::env::vars().filter(|(key, _)| atelier_service::inheritable_variable(key)))
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .spawn()?;
    let pid = i64::from(child.id());
    let start = process_start(pid).map(|(start, _)| start).unwrap_or_default();
    // Reap it when it ends, so it does not linger as a zombie while this server lives.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok((pid, start))
}

/// The last 2 KB of a file a job's runtime wrote, as text, for the error of a job whose runtime
/// ended without reporting.
pub fn file_tail(path: &std::path::Path) -> Option<String> {
    let text = std::fs::read(path).ok()?;
    let start = text.len().saturating_sub(2048);
    Some(String::from_utf8_lossy(&text[start..]).trim().to_owned())
}

/// A program by name on `PATH`, or in the usual system folders when `PATH` lacks them.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/bin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|folder| folder.join(name))
        .find(|candidate| candidate.is_file())
}

/// What this machine has: CPUs, memory, and the GPUs `nvidia-smi` lists; each may be set.
pub fn machine_capacity(cpus: Option<f64>, memory_gb: Option<f64>, gpus: Option<u32>) -> Capacity {
    let detected_cpus = std::thread::available_parallelism().map(|count| count.get() as f64).unwrap_or(1.0);
    let detected_memory_mb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb / 1024)
        .unwrap_or(0);
    let detected_gpus: Vec<u32> = std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=index", "--format=csv,noheader"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| {
            String::from_utf8_lossy(&output.stdout).lines().filter_map(|line| line.trim().parse().ok()).collect()
        })
        .unwrap_or_default();
    Capacity {
        cpus: cpus.unwrap_or(detected_cpus),
        memory_mb: memory_gb.map(|gb| (gb * 1024.0) as u64).unwrap_or(detected_memory_mb),
        gpus: match gpus {
            Some(count) => (0..count).collect(),
            None => detected_gpus,
        },
        max_jobs: None,
    }
}

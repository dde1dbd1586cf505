//! What a job's runtime reports besides statuses: its log, shipped in order as it is written
//! (and the environment build's lines as uv writes them), and its process group's system
//! metrics.

use super::Server;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Ships the lines an environment build adds to its log (`path`) into the job's log and the
/// runtime's, until `done`, then the last of them. The build starts its log afresh: a new file
/// (another inode) is read from its start, and a log left by an earlier build is not shipped.
pub(super) async fn follow_build_log(
    path: PathBuf,
    shipper: Arc<LogShipper>,
    mut done: tokio::sync::oneshot::Receiver<()>,
) {
    use std::os::unix::fs::MetadataExt;
    let identity = |path: &Path| std::fs::metadata(path).ok().map(|metadata| (metadata.ino(), metadata.len()));
    let (mut inode, mut offset) = identity(&path).unwrap_or((0, 0));
    let mut carry = String::new();
    loop {
        let finished = tokio::select! {
            _ = &mut done => true,
            _ = tokio::time::sleep(std::time::Duration::from_millis(300)) => false,
        };
        if let Some((now_inode, length)) = identity(&path) {
            if now_inode != inode || length < offset {
                (inode, offset) = (now_inode, 0);
                carry.clear();
            }
            if length > offset
                && let Ok(bytes) = std::fs::read(&path)
            {
                let end = usize::try_from(length).unwrap_or(bytes.len()).min(bytes.len());
                let start = usize::try_from(offset).unwrap_or(end).min(end);
                carry.push_str(&String::from_utf8_lossy(&bytes[start..end]));
                offset = length;
                let complete = carry.rfind('\n').map_or(0, |at| at + 1);
                let lines: String = carry
                    .drain(..complete)
                    .collect::<String>()
                    .lines()
                    .filter(|line| !line.trim().is_empty())
                    .map(|line| format!("environment: {}\n", line.trim_end()))
                    .collect();
                if !lines.is_empty() {
                    shipper.push(atelier_service::STD_LOG, &lines).await;
                    shipper.push("system_logs/runtime.txt", &lines).await;
                }
            }
        }
        if finished {
            return;
        }
    }
}

/// Ships log pieces in order, buffering what the server has not taken yet.
pub(super) struct LogShipper {
    pub(super) server: Arc<Server>,
    /// Per file: the text not yet sent and the offset it starts at.
    pub(super) pending: Mutex<BTreeMap<String, (String, i64)>>,
    pub(super) cancel: Arc<AtomicBool>,
    pub(super) local: PathBuf,
}

impl LogShipper {
    pub(super) async fn push(&self, file: &str, text: &str) {
        let local = self.local.join(file);
        if let Some(parent) = local.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if let Ok(mut handle) = std::fs::OpenOptions::new().create(true).append(true).open(&local) {
            let _ = std::io::Write::write_all(&mut handle, text.as_bytes());
        }
        self.pending.lock().await.entry(file.to_owned()).or_insert_with(|| (String::new(), 0)).0.push_str(text);
    }

    /// Sends what is pending, piece by piece; returns once the server has it all. Also the
    /// heartbeat: with nothing pending it sends an empty piece.
    pub(super) async fn flush(&self) -> anyhow::Result<()> {
        let files: Vec<String> = self.pending.lock().await.keys().cloned().collect();
        let files = if files.is_empty() { vec![atelier_service::STD_LOG.to_owned()] } else { files };
        for file in files {
            loop {
                let (text, offset) = {
                    let pending = self.pending.lock().await;
                    let (text, offset) = pending.get(&file).cloned().unwrap_or_default();
                    // Pieces of at most 256 KiB, cut at a character boundary.
                    let mut end = text.len().min(256 * 1024);
                    while !text.is_char_boundary(end) {
                        end -= 1;
                    }
                    (text[..end].to_owned(), offset)
                };
                let body = json!({"file": file, "offset": offset, "text": text});
                let answer = self
                    .server
                    .json(|| self.server.http.post(format!("{}/logs", self.server.base)).json(&body))
                    .await?;
                if answer.get("cancel_requested").and_then(Value::as_bool).unwrap_or(false) {
                    self.cancel.store(true, Ordering::SeqCst);
                }
                let mut pending = self.pending.lock().await;
                if let Some(entry) = pending.get_mut(&file) {
                    entry.0.drain(..text.len());
                    entry.1 += text.len() as i64;
                    if entry.0.is_empty() {
                        break;
                    }
                } else {
                    break;
                }
            }
        }
        Ok(())
    }
}

/// The system metrics of a process group, sampled from `/proc`.
pub(super) struct Sampler {
    pgid: i32,
    last: Option<(Instant, u64)>,
    ticks_per_second: f64,
    pub(super) pending: Vec<Value>,
    step: i64,
}

impl Sampler {
    pub(super) fn new(pgid: i32) -> Self {
        let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok().flatten().unwrap_or(100) as f64;
        Sampler { pgid, last: None, ticks_per_second: ticks, pending: Vec::new(), step: 0 }
    }

    /// CPU ticks and resident bytes of every process in the group; `None` when none is left
    /// (a sample then would read as an idle, empty process).
    fn read(&self) -> Option<(u64, u64)> {
        let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE).ok().flatten().unwrap_or(4096) as u64;
        let mut ticks = 0;
        let mut resident = 0;
        let mut processes = 0;
        let entries = std::fs::read_dir("/proc").ok()?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|text| text.parse::<u32>().ok()) else { continue };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
            let Some(after) = stat.rfind(')').map(|at| &stat[at + 2..]) else { continue };
            let fields: Vec<&str> = after.split(' ').collect();
            // Fields after the command: state(0) ppid(1) pgrp(2) … utime(11) stime(12) … rss(21).
            if fields.get(2).and_then(|text| text.parse::<i32>().ok()) != Some(self.pgid) {
                continue;
            }
            let number = |index: usize| fields.get(index).and_then(|text| text.parse::<u64>().ok()).unwrap_or(0);
            ticks += number(11) + number(12);
            resident += number(21) * page;
            processes += 1;
        }
        (processes > 0).then_some((ticks, resident))
    }

    /// One sample of the group's CPU, memory and GPUs; nothing once the group has ended.
    pub(super) fn sample(&mut self) {
        let Some((ticks, resident)) = self.read() else { return };
        let now = Instant::now();
        let time = atelier_service::now_millis();
        if let Some((then, before)) = self.last {
            let seconds = now.duration_since(then).as_secs_f64().max(1e-3);
            let cpu = ticks.saturating_sub(before) as f64 / self.ticks_per_second / seconds * 100.0;
            self.metric("system/cpu_utilization_percentage", cpu, time);
        }
        self.metric("system/memory_usage_megabytes", resident as f64 / (1024.0 * 1024.0), time);
        for (index, (utilization, memory)) in gpu_readings().into_iter().enumerate() {
            self.metric(&format!("system/gpu_{index}_utilization_percentage"), utilization, time);
            self.metric(&format!("system/gpu_{index}_memory_usage_megabytes"), memory, time);
        }
        self.last = Some((now, ticks));
        self.step += 1;
    }

    fn metric(&mut self, key: &str, value: f64, time: i64) {
        self.pending.push(json!({"key": key, "value": value, "timestamp": time, "step": self.step}));
    }

    /// Sends the samples taken so far; keeps them when the server does not answer.
    pub(super) async fn send(&mut self, server: &Server, run_id: &str) {
        if self.pending.is_empty() {
            return;
        }
        let batch: Vec<Value> = self.pending.drain(..self.pending.len().min(1000)).collect();
        let body = json!({"run_id": run_id, "metrics": batch});
        let url = format!("{}/api/2.0/mlflow/runs/log-batch", server.mlflow_root());
        let sent = tokio::time::timeout(
            Duration::from_secs(10),
            server.http.post(&url).bearer_auth(&server.token).json(&body).send(),
        )
        .await;
        if !matches!(sent, Ok(Ok(ref response)) if response.status().is_success()) {
            let mut kept = batch;
            kept.append(&mut self.pending);
            self.pending = kept;
        }
    }
}

/// GPU utilisation (%) and memory (MB) per GPU, where `nvidia-smi` exists.
fn gpu_readings() -> Vec<(f64, f64)> {
    let Ok(output) = std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits"])
        .stderr(std::process::Stdio::null())
        .output()
    else {
        return Vec::new();
    };
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (utilization, memory) = line.split_once(',')?;
            Some((utilization.trim().parse().ok()?, memory.trim().parse().ok()?))
        })
        .collect()
}

/// How many processes of this runtime's memory cgroup (where its command runs too: a Slurm
/// job's, with the job's memory limit) the kernel's OOM killer has killed: `oom_kill` of cgroup
/// v1's `memory.oom_control` or v2's `memory.events`; `None` where it cannot tell, and outside
/// a Slurm job, where the cgroup is the server's and holds other processes than the job's.
pub(super) fn oom_kills() -> Option<u64> {
    std::env::var_os("SLURM_JOB_ID")?;
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    cgroups.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let file = if controllers.split(',').any(|controller| controller == "memory") {
            format!("/sys/fs/cgroup/memory{path}/memory.oom_control")
        } else if controllers.is_empty() {
            format!("/sys/fs/cgroup{path}/memory.events")
        } else {
            return None;
        };
        let text = std::fs::read_to_string(file).ok()?;
        text.lines().find_map(|line| line.strip_prefix("oom_kill ")?.trim().parse().ok())
    })
}

//! One instance of a deployment: a scoring-host process on a Unix socket, the connections the
//! router keeps to it, and the task that supervises it (readiness, liveness, restarts).

use crate::metrics::Metrics;
use crate::{LogFile, RouterError};
use atelier_spec::endpoint::{Probe, RequestSettings};
use bytes::Bytes;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::process::{Child, Command};
use tokio::sync::{Notify, Semaphore, oneshot, watch};

/// How to start an instance's process.
#[derive(Debug, Clone)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
}

/// What a scoring host answered.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Bytes,
}

/// A model that answers in the server's own process (ONNX): scores a body.
pub type InProcess = Arc<dyn Fn(&[u8]) -> Answer + Send + Sync>;

/// One worker process and the router's side of it, or a model run in process.
pub struct Instance {
    pub index: usize,
    pub generation: i64,
    socket: PathBuf,
    /// One permit per request it may run at once.
    pub slots: Semaphore,
    pub max_concurrent: u32,
    idle: std::sync::Mutex<Vec<UnixStream>>,
    ready: AtomicBool,
    /// Set once a newer generation serves: the instance never becomes ready again.
    retired: AtomicBool,
    pgid: AtomicI32,
    next_id: AtomicU64,
    stop: watch::Sender<bool>,
    in_process: Option<InProcess>,
    /// A moving average of in-process inference times, in microseconds.
    inference_micros: AtomicU64,
}

const MAX_FRAME: usize = 256 << 20;

/// In-process inference that takes longer than this on average runs under `block_in_place`.
const INLINE_INFERENCE_MICROS: u64 = 200;

async fn write_frame(stream: &mut UnixStream, header: &[u8], body: &[u8]) -> std::io::Result<()> {
    let mut prefix = Vec::with_capacity(8 + header.len());
    prefix.extend_from_slice(&(header.len() as u32).to_be_bytes());
    prefix.extend_from_slice(header);
    prefix.extend_from_slice(&(body.len() as u32).to_be_bytes());
    stream.write_all(&prefix).await?;
    stream.write_all(body).await
}

async fn read_part(stream: &mut UnixStream) -> std::io::Result<Vec<u8>> {
    let length = stream.read_u32().await? as usize;
    if length > MAX_FRAME {
        return Err(std::io::Error::other(format!("a frame of {length} bytes is over the limit")));
    }
    let mut buffer = vec![0; length];
    stream.read_exact(&mut buffer).await?;
    Ok(buffer)
}

impl Instance {
    pub fn new(index: usize, generation: i64, socket: PathBuf, settings: &RequestSettings) -> Arc<Self> {
        Arc::new(Self::with(index, generation, socket, settings, None))
    }

    /// An instance that runs `model` in this process; it is ready at once.
    pub fn in_process(
        index: usize,
        generation: i64,
        settings: &RequestSettings,
        model: InProcess,
        metrics: &Metrics,
    ) -> Arc<Self> {
        let instance = Self::with(index, generation, PathBuf::new(), settings, Some(model));
        instance.ready.store(true, Ordering::Release);
        metrics.ready.fetch_add(1, Ordering::Relaxed);
        Arc::new(instance)
    }

    fn with(
        index: usize,
        generation: i64,
        socket: PathBuf,
        settings: &RequestSettings,
        in_process: Option<InProcess>,
    ) -> Self {
        let max_concurrent = settings.max_concurrent_requests_per_instance.clamp(1, 1000) as u32;
        Instance {
            index,
            generation,
            socket,
            slots: Semaphore::new(max_concurrent as usize),
            max_concurrent,
            idle: std::sync::Mutex::new(Vec::new()),
            ready: AtomicBool::new(false),
            retired: AtomicBool::new(false),
            pgid: AtomicI32::new(0),
            next_id: AtomicU64::new(1),
            stop: watch::channel(false).0,
            in_process,
            inference_micros: AtomicU64::new(0),
        }
    }

    pub fn socket_path(&self) -> &std::path::Path {
        &self.socket
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    fn set_ready(&self, ready: bool, metrics: &Metrics, wake: &Notify) {
        if ready && self.retired.load(Ordering::Acquire) {
            return;
        }
        let was = self.ready.swap(ready, Ordering::AcqRel);
        if was != ready {
            metrics.ready.fetch_add(if ready { 1 } else { -1 }, Ordering::Relaxed);
        }
        if !ready && let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
        wake.notify_waiters();
    }

    /// Sends one request; the connection goes back to the idle ones only after a whole answer.
    pub async fn call(&self, kind: &str, body: &[u8]) -> std::io::Result<Answer> {
        if let Some(model) = &self.in_process {
            if kind == "health" {
                return Ok(Answer { status: 200, content_type: "application/json".to_owned(), body: Bytes::new() });
            }
            // A model that answers in microseconds runs right here. One that takes longer would
            // hold up the other requests of this runtime thread, so it runs under
            // `block_in_place` (which hands the thread's other work to another thread, a cost
            // that would outweigh a small model's own).
            let heavy = self.inference_micros.load(Ordering::Relaxed) > INLINE_INFERENCE_MICROS;
            let started = std::time::Instant::now();
            let answer = if heavy { tokio::task::block_in_place(|| model(body)) } else { model(body) };
            let took = started.elapsed().as_micros() as u64;
            let average = self.inference_micros.load(Ordering::Relaxed);
            self.inference_micros.store((average * 7 + took) / 8, Ordering::Relaxed);
            return Ok(answer);
        }
        let pooled = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut stream = match pooled {
            Some(stream) => stream,
            None => UnixStream::connect(&self.socket).await?,
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let header = format!("{{\"id\":{id},\"kind\":\"{kind}\"}}");
        write_frame(&mut stream, header.as_bytes(), body).await?;
        let header = read_part(&mut stream).await?;
        let body = read_part(&mut stream).await?;
        let header: serde_json::Value = serde_json::from_slice(&header).map_err(std::io::Error::other)?;
        if header["id"].as_u64() != Some(id) {
            return Err(std::io::Error::other("the scoring host answered another request"));
        }
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(stream);
        }
        Ok(Answer {
            status: header["status"].as_u64().and_then(|status| u16::try_from(status).ok()).unwrap_or(500),
            content_type: header["content_type"].as_str().unwrap_or("application/json").to_owned(),
            body: Bytes::from(body),
        })
    }

    /// Takes the instance out of service (a newer generation serves): what it is running
    /// finishes, nothing new comes.
    pub fn retire(&self, metrics: &Metrics, wake: &Notify) {
        self.retired.store(true, Ordering::Release);
        self.set_ready(false, metrics, wake);
    }

    /// Asks the supervisor to stop the process for good.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    fn kill_group(&self) {
        let pgid = self.pgid.load(Ordering::Acquire);
        if pgid > 0 {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// What the supervisor needs besides the instance.
pub struct Supervision {
    pub launch: Launch,
    pub readiness: Probe,
    pub liveness: Probe,
    pub log: Arc<LogFile>,
    pub metrics: Arc<Metrics>,
    /// Woken when the instance becomes ready or stops being ready.
    pub wake: Arc<Notify>,
}

fn spawn(instance: &Instance, supervision: &Supervision) -> std::io::Result<Child> {
    let launch = &supervision.launch;
    let _ = std::fs::remove_file(&instance.socket);
    let mut command = Command::new(&launch.program);
    command
        .args(&launch.args)
        .env_clear()
        .envs(launch.env.iter().map(|(key, value)| (key, value)))
        .current_dir(&launch.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // A worker dies with the server, even a server killed with SIGKILL: a restarted server
    // starts its own workers and must not find the old ones still holding the model.
    // SAFETY: the closure only makes one async-signal-safe system call (prctl).
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).map_err(std::io::Error::from)
        });
    }
    let mut child = command.spawn()?;
    instance.pgid.store(child.id().map_or(0, |pid| pid as i32), Ordering::Release);
    let index = instance.index;
    for (stream, name) in [
        (child.stdout.take().map(|out| Box::new(out) as Box<dyn tokio::io::AsyncRead + Send + Unpin>), "stdout"),
        (child.stderr.take().map(|err| Box::new(err) as Box<dyn tokio::io::AsyncRead + Send + Unpin>), "stderr"),
    ] {
        let Some(stream) = stream else { continue };
        let log = supervision.log.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                log.line(&format!("[instance {index} {name}] {line}"));
            }
        });
    }
    Ok(child)
}

/// Waits until the host accepts connections and answers a health request, the process exits,
/// or the readiness budget (initial delay + period × failure threshold) runs out.
async fn become_ready(instance: &Instance, child: &mut Child, probe: &Probe) -> Result<(), String> {
    let budget = Duration::from_secs((probe.initial_delay + probe.period * probe.failure_threshold).max(1) as u64);
    let deadline = Instant::now() + budget;
    let timeout = Duration::from_secs(probe.timeout.max(1) as u64);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(match status.code() {
                Some(3) => "init() failed (its traceback is in the deployment's logs)".to_owned(),
                _ => format!("the worker exited before it was ready ({status})"),
            });
        }
        if instance.socket.exists()
            && let Ok(Ok(answer)) = tokio::time::timeout(timeout, instance.call("health", b"")).await
            && answer.status == 200
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("the worker was not ready within {} s (readiness_probe)", budget.as_secs()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs an instance until it is stopped: starts the process, reports the first readiness (or
/// why it never got ready) on `first`, then probes liveness, restarting a crashed or
/// unresponsive process with backoff.
pub async fn supervise(instance: Arc<Instance>, supervision: Supervision, first: oneshot::Sender<Result<(), String>>) {
    let mut first = Some(first);
    let mut stop = instance.stop.subscribe();
    let mut backoff = Duration::from_secs(1);
    let wake = supervision.wake.clone();
    loop {
        if *stop.borrow() {
            break;
        }
        let mut child = match spawn(&instance, &supervision) {
            Ok(child) => child,
            Err(error) => {
                let message = format!("the worker could not start: {error}");
                supervision.log.line(&format!("[instance {}] {message}", instance.index));
                if let Some(first) = first.take() {
                    let _ = first.send(Err(message));
                    return;
                }
                tokio::time::sleep(backoff).await;
                continue;
            }
        };
        let ready = tokio::select! {
            ready = become_ready(&instance, &mut child, &supervision.readiness) => ready,
            _ = stop.changed() => Err("stopped".to_owned()),
        };
        match ready {
            Ok(()) => {
                supervision.log.line(&format!("[instance {}] ready", instance.index));
                instance.set_ready(true, &supervision.metrics, &wake);
                if let Some(first) = first.take() {
                    let _ = first.send(Ok(()));
                }
                backoff = Duration::from_secs(1);
            }
            Err(message) => {
                instance.kill_group();
                let _ = child.wait().await;
                if *stop.borrow() {
                    break;
                }
                supervision.log.line(&format!("[instance {}] {message}", instance.index));
                if let Some(first) = first.take() {
                    let _ = first.send(Err(message));
                    return;
                }
                supervision.metrics.restarts.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        }
        // Serving: watch the process and probe it.
        let period = Duration::from_secs(supervision.liveness.period.max(1) as u64);
        let timeout = Duration::from_secs(supervision.liveness.timeout.max(1) as u64);
        let threshold = supervision.liveness.failure_threshold.max(1);
        let mut failures = 0;
        let reason = loop {
            tokio::select! {
                status = child.wait() => {
                    break match status {
                        Ok(status) => format!("the worker exited ({status})"),
                        Err(error) => format!("the worker could not be waited for: {error}"),
                    };
                }
                _ = stop.changed() => break String::new(),
                _ = tokio::time::sleep(period) => {
                    let healthy = matches!(
                        tokio::time::timeout(timeout, instance.call("health", b"")).await,
                        Ok(Ok(answer)) if answer.status == 200
                    );
                    failures = if healthy { 0 } else { failures + 1 };
                    if failures >= threshold {
                        break format!("the worker failed {failures} liveness probes in a row");
                    }
                }
            }
        };
        instance.set_ready(false, &supervision.metrics, &wake);
        instance.kill_group();
        let _ = child.wait().await;
        if *stop.borrow() {
            break;
        }
        supervision.log.line(&format!("[instance {}] {reason}; restarting in {} s", instance.index, backoff.as_secs()));
        supervision.metrics.restarts.fetch_add(1, Ordering::Relaxed);
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => break,
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
    instance.set_ready(false, &supervision.metrics, &wake);
    instance.kill_group();
    let _ = std::fs::remove_file(&instance.socket);
}

/// Maps a failed call to the router's error.
pub fn call_error(error: std::io::Error) -> RouterError {
    RouterError::WorkerFailed(error.to_string())
}

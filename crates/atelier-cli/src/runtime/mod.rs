//! `atelier job-runtime`: runs one job, launched by a compute backend.
//!
//! It reads its launch file (the server's URL, the job, a token for that job alone), fetches
//! the plan, the code snapshot and the inputs, builds or reuses the environment, runs the
//! command in its own process group, ships its output as `user_logs/std_log.txt` (and one file
//! per process for distributed jobs), samples system metrics, uploads `./outputs`, `./logs` and
//! the named outputs, and reports each status. Everything it sends is retried until the server
//! answers, so a server that restarts meanwhile loses nothing: the runtime outlives it.

use anyhow::{Context, bail};
use atelier_spec::{JobPlan, PlannedInput, render_command};
use futures::StreamExt;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::sync::{Mutex, mpsc};

/// What the compute backend hands the runtime.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Launch {
    pub server_url: String,
    pub workspace: String,
    pub job: String,
    pub token: String,
    pub gpus: Vec<u32>,
    /// Where environments are built and cached, and the `uv` to build them with.
    pub envs_dir: PathBuf,
    pub uv: PathBuf,
    /// How long a canceled command gets between SIGTERM and SIGKILL.
    pub grace_seconds: u64,
    /// How the command is confined; `None` runs it as the runtime runs (an unconfined server).
    #[serde(default)]
    pub confinement: Option<atelier_service::Confinement>,
}

/// The zero-dependency logging helper every job can import (`import atelier_log`).
mod telemetry;

/// How a job's processes start, and where their output goes.
mod processes;

use telemetry::{LogShipper, Sampler, follow_build_log};

const LOGGING_HELPER: &str = include_str!("../../python/atelier_log.py");

/// Whether the runtime got a SIGTERM (a cluster ending its batch job, an administrator).
static TERMINATED: AtomicBool = AtomicBool::new(false);

/// How long a report is retried before the runtime gives up on the server.
const RETRY_FOR: Duration = Duration::from_secs(6 * 3600);

/// The server, as the runtime sees it: every call retried until it is answered.
struct Server {
    http: reqwest::Client,
    base: String,
    root: String,
    token: String,
    workspace: String,
}

/// An error the server gave (4xx): retrying will not help.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

impl Server {
    fn new(launch: &Launch) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(300))
            .build()
            .context("cannot build the HTTP client")?;
        let root = launch.server_url.trim_end_matches('/').to_owned();
        Ok(Server {
            http,
            base: format!("{root}/api/v1/workspaces/{}/jobs/{}", launch.workspace, launch.job),
            root,
            token: launch.token.clone(),
            workspace: launch.workspace.clone(),
        })
    }

    /// The MLflow API's root for the job's workspace.
    fn mlflow_root(&self) -> String {
        if self.workspace == "default" { self.root.clone() } else { format!("{}/ws/{}", self.root, self.workspace) }
    }

    /// Sends a request until the server answers; a 4xx answer is an error, a 5xx or no answer
    /// is retried with backoff.
    async fn call(&self, make: impl Fn() -> reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        self.call_async(|| async { Ok(make()) }).await
    }

    /// [`Server::call`] for requests that take work to build again (a file body reopened).
    async fn call_async<F, M>(&self, make: M) -> anyhow::Result<reqwest::Response>
    where
        M: Fn() -> F,
        F: std::future::Future<Output = anyhow::Result<reqwest::RequestBuilder>>,
    {
        let started = Instant::now();
        let mut delay = Duration::from_millis(200);
        loop {
            match make().await?.bearer_auth(&self.token).send().await {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) if response.status().is_client_error() => {
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    let message = serde_json::from_str::<Value>(&body)
                        .ok()
                        .and_then(|value| value.get("message").and_then(Value::as_str).map(str::to_owned))
                        .unwrap_or(body);
                    return Err(Refused(format!("{message} (HTTP {})", status.as_u16())).into());
                }
                Ok(response) => tracing::warn!(status = %response.status(), "the server failed; retrying"),
                Err(error) => tracing::warn!(error = %error, "the server is unreachable; retrying"),
            }
            if started.elapsed() > RETRY_FOR {
                bail!("the server has not answered for {} seconds", RETRY_FOR.as_secs());
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    async fn json(&self, make: impl Fn() -> reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let response = self.call(make).await?;
        let body = response.bytes().await.context("cannot read the server's answer")?;
        if body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&body).context("the server's answer is not JSON")
    }

    /// Downloads one file to `target`, whole or not at all.
    async fn download(&self, url: &str, target: &Path) -> anyhow::Result<()> {
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let partial = target.with_extension("atelier-partial");
        let started = Instant::now();
        loop {
            let response = self.call(|| self.http.get(url)).await?;
            let mut file = tokio::fs::File::create(&partial)
                .await
                .with_context(|| format!("cannot write {}", partial.display()))?;
            let mut stream = response.bytes_stream();
            let mut failed = None;
            while let Some(chunk) = stream.next().await {
                match chunk {
                    Ok(bytes) => tokio::io::AsyncWriteExt::write_all(&mut file, &bytes).await?,
                    Err(error) => {
                        failed = Some(error);
                        break;
                    }
                }
            }
            match failed {
                None => {
                    tokio::io::AsyncWriteExt::flush(&mut file).await?;
                    std::fs::rename(&partial, target)?;
                    return Ok(());
                }
                Some(error) if started.elapsed() < RETRY_FOR => {
                    tracing::warn!(error = %error, "a download broke off; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Some(error) => return Err(error.into()),
            }
        }
    }

    /// Uploads one file, streamed (reopened for each attempt).
    async fn upload(&self, url: &str, source: &Path) -> anyhow::Result<()> {
        self.call_async(|| async {
            let (body, length) = crate::client::file_body(source).await?;
            Ok(self.http.put(url).header(reqwest::header::CONTENT_LENGTH, length).body(body))
        })
        .await?;
        Ok(())
    }

    async fn report(
        &self,
        status: &str,
        exit_code: Option<i32>,
        error: Option<&str>,
        message: Option<&str>,
    ) -> anyhow::Result<bool> {
        let body = json!({"status": status, "exit_code": exit_code, "error": error, "message": message});
        let answer = self.json(|| self.http.post(format!("{}/status", self.base)).json(&body)).await?;
        Ok(answer.get("cancel_requested").and_then(Value::as_bool).unwrap_or(false))
    }
}

/// Every file under a folder, with paths relative to it.
fn files_under(root: &Path) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file()
                && let Ok(relative) = path.strip_prefix(root)
            {
                found.push((relative.to_string_lossy().replace('\\', "/"), path.clone()));
            }
        }
    }
    found.sort();
    found
}

/// Percent-encodes each segment of a path for a URL.
fn url_path(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            segment
                .bytes()
                .map(|byte| match byte {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (byte as char).to_string(),
                    _ => format!("%{byte:02X}"),
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A text quoted for the POSIX shell: one word, whatever it holds.
pub(crate) fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// How the command ended.
enum Ending {
    Exited(i32),
    Canceled(String),
}

/// Runs the job whose launch file is in `dir`; returns once the job's end is reported.
pub async fn run(dir: &Path) -> anyhow::Result<()> {
    let launch_path = dir.join("launch.json");
    let launch: Launch = serde_json::from_slice(
        &std::fs::read(&launch_path).with_context(|| format!("cannot read {}", launch_path.display()))?,
    )
    .context("the launch file is not valid")?;
    let server = Arc::new(Server::new(&launch)?);
    let cancel = Arc::new(AtomicBool::new(false));
    let shipper = Arc::new(LogShipper {
        server: server.clone(),
        pending: Mutex::new(BTreeMap::new()),
        cancel: cancel.clone(),
        local: dir.join("logs"),
    });
    // A SIGTERM (a cluster's scancel, an administrator) cancels as a cancel request does: the
    // command gets its grace period, and the end is reported.
    if let Ok(mut terminate) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if terminate.recv().await.is_some() {
                TERMINATED.store(true, Ordering::SeqCst);
                cancel.store(true, Ordering::SeqCst);
            }
        });
    }
    let outcome = execute(dir, &launch, &server, &shipper, &cancel).await;
    let (status, exit_code, error, message) = match outcome {
        Ok((Ending::Exited(0), _)) => ("Completed", Some(0), None, None),
        Ok((Ending::Exited(code), summary)) => (
            "Failed",
            Some(code),
            Some(summary.unwrap_or_else(|| format!("the command exited with code {code}"))),
            None,
        ),
        Ok((Ending::Canceled(reason), _)) => ("Canceled", None, None, Some(reason)),
        Err(error) => {
            let text = format!("{error:#}");
            shipper.push("system_logs/runtime.txt", &format!("{text}\n")).await;
            ("Failed", None, Some(text), None)
        }
    };
    // Everything is sent before the end is reported: the job's token ends with it.
    shipper.flush().await?;
    server.report(status, exit_code, error.as_deref(), message.as_deref()).await?;
    let _ = std::fs::remove_file(&launch_path);
    for folder in ["wd", "inputs", "outputs"] {
        let _ = std::fs::remove_dir_all(dir.join(folder));
    }
    Ok(())
}

async fn execute(
    dir: &Path,
    launch: &Launch,
    server: &Arc<Server>,
    shipper: &Arc<LogShipper>,
    cancel: &Arc<AtomicBool>,
) -> anyhow::Result<(Ending, Option<String>)> {
    let plan: JobPlan = serde_json::from_value(server.json(|| server.http.get(format!("{}/plan", server.base))).await?)
        .context("the job's plan is not valid")?;
    if server.report("Preparing", None, None, None).await? {
        cancel.store(true, Ordering::SeqCst);
    }
    let system = |text: String| {
        let shipper = shipper.clone();
        async move { shipper.push("system_logs/runtime.txt", &format!("{text}\n")).await }
    };

    // The code snapshot, into the working folder.
    let wd = dir.join("wd");
    std::fs::create_dir_all(&wd)?;
    if plan.snapshot.is_some() {
        let listing = server.json(|| server.http.get(format!("{}/snapshot", server.base))).await?;
        for file in listing.get("files").and_then(Value::as_array).cloned().unwrap_or_default() {
            let path = file.get("path").and_then(Value::as_str).unwrap_or_default();
            let target = safe_join(&wd, path)?;
            server.download(&format!("{}/snapshot/{}", server.base, url_path(path)), &target).await?;
        }
        system(format!("code snapshot fetched into {}", wd.display())).await;
    }

    // Inputs and outputs, as the command's placeholders see them.
    let mut values: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut variables: BTreeMap<String, String> = BTreeMap::new();
    for (name, input) in &plan.inputs {
        let value = match input {
            PlannedInput::Literal { value } => value.clone(),
            PlannedInput::Data { uri: None, .. } => None,
            PlannedInput::Data { uri: Some(_), mode, .. } => {
                let folder = dir.join("inputs").join(name);
                let listing = server.json(|| server.http.get(format!("{}/inputs/{name}", server.base))).await?;
                let files = listing.get("files").and_then(Value::as_array).cloned().unwrap_or_default();
                let mut base = String::new();
                for file in &files {
                    let path = file.get("path").and_then(Value::as_str).unwrap_or_default();
                    base = path.split('/').next().unwrap_or_default().to_owned();
                    let target = safe_join(&folder, path)?;
                    server
                        .download(&format!("{}/inputs/{name}/files/{}", server.base, url_path(path)), &target)
                        .await?;
                    if mode == "ro_mount" {
                        let mut permissions = std::fs::metadata(&target)?.permissions();
                        permissions.set_readonly(true);
                        std::fs::set_permissions(&target, permissions)?;
                    }
                }
                system(format!("input {name}: {} files", files.len())).await;
                Some(folder.join(base).to_string_lossy().into_owned())
            }
        };
        if let Some(value) = &value {
            variables.insert(format!("AZURE_ML_INPUT_{name}"), value.clone());
        }
        values.insert(format!("inputs.{name}"), value);
    }
    for (name, output) in &plan.outputs {
        let folder = dir.join("outputs").join(name);
        std::fs::create_dir_all(&folder)?;
        let path = if output.data_type == "uri_file" { folder.join(name) } else { folder };
        let path = path.to_string_lossy().into_owned();
        variables.insert(format!("AZURE_ML_OUTPUT_{name}"), path.clone());
        values.insert(format!("outputs.{name}"), Some(path));
    }

    // The environment.
    let mut path_variable = std::env::var("PATH").unwrap_or_default();
    // What a confined command needs of hidden folders to run its Python.
    let mut interpreter_folders = Vec::new();
    if plan.environment.builtin {
        // The server's own Python first: a shim (pyenv's) may lie in a folder the command cannot see.
        if let Some(bin) = launch.confinement.as_ref().and_then(|c| c.python.as_deref()).and_then(Path::parent) {
            path_variable = format!("{}:{path_variable}", bin.display());
        }
    } else {
        let spec = atelier_core::environment::EnvironmentSpec {
            python: plan.environment.python.clone(),
            requirements: plan.environment.requirements.clone(),
            image: plan.environment.image.clone(),
            channels: Vec::new(),
        };
        let builder = atelier_service::EnvironmentBuilder::new(launch.envs_dir.clone(), launch.uv.clone());
        if let Some(notice) = builder.uv_provisioning_notice() {
            tracing::info!("{notice}");
            system(notice).await;
        }
        system(format!("building environment {}", plan.environment.name)).await;
        // The build's own lines reach the job's log as uv writes them.
        let (built, done) = tokio::sync::oneshot::channel();
        let follower = tokio::spawn(follow_build_log(builder.build_log_path(&spec), shipper.clone(), done));
        let build = builder.build(&spec).await;
        let _ = built.send(());
        let _ = follower.await;
        let build = build.map_err(|error| anyhow::anyhow!("{}", error.message))?;
        let python = build.python.context("the environment has no Python")?;
        interpreter_folders = atelier_service::Confinement::interpreter_folders(&python);
        let bin = python.parent().map(Path::to_path_buf).unwrap_or_default();
        system(format!(
            "environment {} ready at {}{}",
            plan.environment.name,
            bin.display(),
            if build.cached { " (cached)" } else { "" }
        ))
        .await;
        if let Some(root) = bin.parent() {
            variables.insert("VIRTUAL_ENV".to_owned(), root.to_string_lossy().into_owned());
        }
        path_variable = format!("{}:{path_variable}", bin.display());
    }
    let helper = dir.join("python");
    std::fs::create_dir_all(&helper)?;
    std::fs::write(helper.join("atelier_log.py"), LOGGING_HELPER)?;
    let python_path = match std::env::var("PYTHONPATH") {
        Ok(existing) if !existing.is_empty() => format!("{}:{existing}", helper.display()),
        _ => helper.to_string_lossy().into_owned(),
    };

    // What every process sees.
    let mlflow = server.mlflow_root();
    let mut environment: BTreeMap<String, String> = plan.environment_variables.clone();
    environment.extend(variables);
    for (key, value) in [
        ("PATH", path_variable),
        ("PYTHONPATH", python_path),
        ("PYTHONUNBUFFERED", "1".to_owned()),
        ("MLFLOW_TRACKING_URI", mlflow.clone()),
        ("MLFLOW_TRACKING_TOKEN", launch.token.clone()),
        ("MLFLOW_RUN_ID", plan.job.clone()),
        ("MLFLOW_EXPERIMENT_ID", plan.experiment_id.clone()),
        ("MLFLOW_EXPERIMENT_NAME", plan.experiment_name.clone()),
        ("AZUREML_RUN_ID", plan.job.clone()),
        ("AZUREML_ROOT_RUN_ID", plan.job.clone()),
        ("AZUREML_EXPERIMENT_ID", plan.experiment_id.clone()),
        ("AZUREML_ARM_PROJECT_NAME", plan.experiment_name.clone()),
        ("AZUREML_ARM_WORKSPACE_NAME", plan.workspace.clone()),
        ("AZUREML_CR_EXECUTION_WORKING_DIR_PATH", wd.to_string_lossy().into_owned()),
        ("AZUREML_CR_NODE_RANK", "0".to_owned()),
        ("ATELIER_URL", launch.server_url.clone()),
        ("ATELIER_WORKSPACE", plan.workspace.clone()),
        ("ATELIER_JOB", plan.job.clone()),
        ("CUDA_VISIBLE_DEVICES", launch.gpus.iter().map(u32::to_string).collect::<Vec<_>>().join(",")),
    ] {
        environment.insert(key.to_owned(), value);
    }
    let command = render_command(&plan.command, &values);
    std::fs::create_dir_all(wd.join("outputs"))?;
    std::fs::create_dir_all(wd.join("logs"))?;

    // Run.
    if cancel.load(Ordering::SeqCst) {
        return Ok((Ending::Canceled("canceled before the command started".to_owned()), None));
    }
    if server.report("Running", None, None, None).await? {
        // Canceled while the environment was being prepared.
        return Ok((Ending::Canceled("canceled before the command started".to_owned()), None));
    }
    system(format!("running: {command}")).await;
    let start = processes::plan_start(&plan, &command, dir).await?;
    // A command the kernel kills for memory is told apart from one that failed.
    let memory_kills_before = telemetry::oom_kills();
    processes::check_launcher(&start, environment.get("PATH").map_or("", String::as_str))?;
    let start = Arc::new(start);
    let labelled = start.labelled();
    let count = start.processes.len();
    let mut children = Vec::new();
    let mut pgid: Option<i32> = None;
    let tail: Arc<std::sync::Mutex<VecDeque<String>>> = Arc::new(std::sync::Mutex::new(VecDeque::new()));
    let (done_reading, mut readers_done) = mpsc::channel::<()>(count * 2);
    for each in &start.processes {
        // Confined, the command sees its own job folder and the built environments, and
        // neither the server's home nor another process.
        let exposure = atelier_service::Exposure {
            read_write: vec![dir.to_path_buf()],
            read_only: [launch.envs_dir.clone()].into_iter().chain(interpreter_folders.iter().cloned()).collect(),
            read_write_on_node: start.node_folders.clone(),
            home: None,
        };
        let shell = (PathBuf::from("/bin/sh"), vec!["-c".to_owned(), each.command.clone()]);
        let (program, args) = match &launch.confinement {
            // mpirun on this machine: confined with every process it starts.
            Some(confinement) if start.confines_launcher() => {
                let (program, args) = start.launch(&plan, &wd, shell.0, shell.1);
                confinement.wrap(&program, &args, &exposure)
            }
            Some(confinement) => {
                let (program, args) = confinement.wrap(&shell.0, &shell.1, &exposure);
                start.launch(&plan, &wd, program, args)
            }
            None => start.launch(&plan, &wd, shell.0, shell.1),
        };
        let mut process = tokio::process::Command::new(&program);
        process
            .args(&args)
            .current_dir(&wd)
            .env_clear()
            .envs(
                // On a cluster, the allocation Slurm gave (SLURM_JOB_ID, SLURM_CPUS_PER_TASK, …).
                std::env::vars().filter(|(key, _)| {
                    matches!(key.as_str(), "HOME" | "USER" | "LANG" | "TERM" | "TMPDIR" | "LC_ALL")
                        || key.starts_with("SLURM_")
                }),
            )
            .envs(&environment)
            .envs(each.env.iter().cloned())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(pgid.unwrap_or(0));
        let mut child =
            process.spawn().with_context(|| format!("cannot start the command with {}", program.display()))?;
        let pid = child.id().context("the command ended before it could be watched")? as i32;
        pgid.get_or_insert(pid);
        let files = each.files.clone();
        for (stream, is_err) in [
            (child.stdout.take().map(|out| Box::new(out) as Box<dyn tokio::io::AsyncRead + Unpin + Send>), false),
            (child.stderr.take().map(|err| Box::new(err) as Box<dyn tokio::io::AsyncRead + Unpin + Send>), true),
        ] {
            let Some(mut stream) = stream else { continue };
            let shipper = shipper.clone();
            let start = start.clone();
            let files = files.clone();
            let tail = tail.clone();
            let done = done_reading.clone();
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                let mut carry: Vec<u8> = Vec::new();
                loop {
                    let read = stream.read(&mut buffer).await.unwrap_or(0);
                    if read == 0 {
                        break;
                    }
                    carry.extend_from_slice(&buffer[..read]);
                    // Hold back an incomplete UTF-8 character (or, for lines labelled by rank,
                    // an incomplete line) for the next read.
                    let valid = if labelled {
                        carry.iter().rposition(|byte| *byte == b'\n').map_or(0, |at| at + 1)
                    } else {
                        match std::str::from_utf8(&carry) {
                            Ok(_) => carry.len(),
                            Err(error) if error.error_len().is_none() => error.valid_up_to(),
                            Err(_) => carry.len(),
                        }
                    };
                    let text = String::from_utf8_lossy(&carry[..valid]).into_owned();
                    carry.drain(..valid);
                    if is_err && let Ok(mut lines) = tail.lock() {
                        for line in text.lines().filter(|line| !line.trim().is_empty()) {
                            lines.push_back(line.to_owned());
                            if lines.len() > 20 {
                                lines.pop_front();
                            }
                        }
                    }
                    if labelled {
                        start.ship(&shipper, &text).await;
                    }
                    for file in &files {
                        shipper.push(file, &text).await;
                    }
                }
                if !carry.is_empty() {
                    let mut text = String::from_utf8_lossy(&carry).into_owned();
                    if labelled {
                        text.push('\n');
                        start.ship(&shipper, &text).await;
                    }
                    for file in &files {
                        shipper.push(file, &text).await;
                    }
                }
                let _ = done.send(()).await;
            });
        }
        children.push(child);
    }
    drop(done_reading);
    let pgid = pgid.context("no process started")?;
    let started = Instant::now();
    let timeout = plan.timeout_seconds.map(|seconds| Duration::from_secs(seconds as u64));
    let mut sampler = Sampler::new(pgid);
    let mut last_sample = Instant::now() - Duration::from_secs(10);
    let mut last_flush = Instant::now();
    let mut exit_codes: Vec<Option<i32>> = vec![None; children.len()];
    let mut ending: Option<Ending> = None;
    let mut stopping_since: Option<Instant> = None;
    loop {
        for (index, child) in children.iter_mut().enumerate() {
            if exit_codes[index].is_none()
                && let Ok(Some(status)) = child.try_wait()
            {
                use std::os::unix::process::ExitStatusExt;
                exit_codes[index] = Some(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)));
            }
        }
        if exit_codes.iter().all(Option::is_some) {
            break;
        }
        if ending.is_none() {
            if cancel.load(Ordering::SeqCst) {
                let reason = if TERMINATED.load(Ordering::SeqCst) {
                    processes::terminated_reason().await
                } else {
                    "canceled on request".to_owned()
                };
                ending = Some(Ending::Canceled(reason));
            } else if let Some(limit) = timeout
                && started.elapsed() > limit
            {
                ending = Some(Ending::Canceled(format!(
                    "the job ran past its limits.timeout of {} seconds",
                    limit.as_secs()
                )));
            }
            if ending.is_some() {
                let _ = killpg(Pid::from_raw(pgid), Signal::SIGTERM);
                stopping_since = Some(Instant::now());
            }
        }
        if let Some(since) = stopping_since
            && since.elapsed() > Duration::from_secs(launch.grace_seconds)
        {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
        if last_sample.elapsed() >= Duration::from_secs(5) {
            sampler.sample();
            sampler.send(server, &plan.job).await;
            last_sample = Instant::now();
        }
        if last_flush.elapsed() >= Duration::from_millis(700) {
            let flushing = shipper.clone();
            // A slow server must not hold the watch on the command: flush in the background.
            if let Ok(Err(error)) = tokio::time::timeout(Duration::from_secs(2), flushing.flush()).await {
                tracing::warn!(error = %error, "shipping logs failed");
            }
            last_flush = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Whatever the command left behind in its group goes with it.
    let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    while tokio::time::timeout(Duration::from_secs(5), readers_done.recv()).await.ok().flatten().is_some() {}

    // Finalize: outputs, logs and named outputs.
    server.report("Finalizing", None, None, None).await?;
    let artifacts = atelier_core::limits::normalize_artifact_path(
        plan.artifact_uri.strip_prefix("mlflow-artifacts:").unwrap_or(&plan.artifact_uri).trim_start_matches('/'),
    )
    .map_err(|error| anyhow::anyhow!("{}", error.message))?;
    let artifact_url = |path: &str| {
        format!("{}/api/2.0/mlflow-artifacts/artifacts/{artifacts}/{}", server.mlflow_root(), url_path(path))
    };
    for folder in ["outputs", "logs"] {
        for (relative, path) in files_under(&wd.join(folder)) {
            server.upload(&artifact_url(&format!("{folder}/{relative}")), &path).await?;
        }
    }
    for name in plan.outputs.keys() {
        for (relative, path) in files_under(&dir.join("outputs").join(name)) {
            server.upload(&format!("{}/outputs/{name}/files/{}", server.base, url_path(&relative)), &path).await?;
        }
    }
    shipper.flush().await?;
    for (relative, path) in files_under(&dir.join("logs")) {
        server.upload(&artifact_url(&relative), &path).await?;
    }
    while !sampler.pending.is_empty() {
        sampler.send(server, &plan.job).await;
        if !sampler.pending.is_empty() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    if let Some(ending) = ending {
        return Ok((ending, None));
    }
    let code = exit_codes.iter().flatten().copied().find(|code| *code != 0).unwrap_or(0);
    let summary = (code != 0).then(|| {
        let lines = tail.lock().map(|lines| lines.iter().cloned().collect::<Vec<_>>()).unwrap_or_default();
        let last: Vec<String> = lines.into_iter().rev().take(10).collect::<Vec<_>>().into_iter().rev().collect();
        let killed_for_memory = matches!((memory_kills_before, telemetry::oom_kills()), (Some(before), Some(after)) if after > before);
        let ending = if killed_for_memory {
            format!(
                "the command was killed for memory (OUT_OF_MEMORY): it went past the job's memory limit, and exited with code {code}"
            )
        } else {
            format!("the command exited with code {code}")
        };
        if last.is_empty() { ending } else { format!("{ending}:\n{}", last.join("\n")) }
    });
    Ok((Ending::Exited(code), summary))
}

/// `root` joined with a relative path from the server, refusing any that would leave it.
fn safe_join(root: &Path, relative: &str) -> anyhow::Result<PathBuf> {
    let normalized = atelier_core::limits::normalize_artifact_path(relative)
        .map_err(|error| anyhow::anyhow!("{}", error.message))?;
    if normalized.is_empty() {
        bail!("the server named an empty path");
    }
    Ok(root.join(normalized))
}

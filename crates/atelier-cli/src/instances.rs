//! Compute instances on this machine: the host that starts, follows and stops each instance's
//! server (`atelier instance-runtime`, detached, as jobs' runtimes are), and that server: it
//! builds the instance's uv environment with JupyterLab and the workspace's clients, runs the
//! setup scripts, then JupyterLab on a loopback port with a token only the Atelier server
//! knows, confined like a job, with the instance's home folder as its home. On a Slurm node
//! (`crate::slurm_instances`) the same server listens on the node's address that reaches the
//! Atelier server, on a port it picks, and writes where into `address.json`.
//!
//! An instance's folder (`$ATELIER_HOME/instances/<workspace>/<name>/`, or under a Slurm
//! compute's `job_folder`): `launch.json` and `connection.json` (mode 0600: the tokens),
//! `runtime.log` (`slurm.out` on a node), `python/` (the SDK) and `home/`, which lasts from one
//! start to the next and goes only with the instance.

use anyhow::Context;
use atelier_core::Error;
use atelier_core::names::WorkspaceName;
use atelier_service::{
    InstanceHost, InstanceLaunch, InstancePlace, InstanceProcess, InstanceRun, JupyterConnection, PortFuture,
    instance_folder,
};
use serde::{Deserialize, Serialize};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What an instance's server reads from its launch file.
#[derive(Serialize, Deserialize)]
pub(crate) struct RuntimeLaunch {
    pub launch: InstanceLaunch,
    pub server_url: String,
    pub envs_dir: PathBuf,
    pub uv: PathBuf,
    pub confinement: Option<atelier_service::Confinement>,
    /// Its JupyterLab's token, and where it listens on this machine; on a cluster's node the
    /// server picks the address and port itself and writes them into `address.json`.
    pub jupyter: JupyterConnection,
    #[serde(default)]
    pub on_node: bool,
}

/// Where a node's JupyterLab listens, written by its server once it starts.
pub(crate) const ADDRESS_FILE: &str = "address.json";

/// Makes an instance's folder (mode 0700) and writes its launch and connection files, fresh.
pub(crate) fn prepare_folder(dir: &Path, runtime: &RuntimeLaunch) -> atelier_core::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|error| failed("cannot create the instance's folder", error))?;
    // Where an earlier start listened says nothing of where this one will.
    match std::fs::remove_file(dir.join(ADDRESS_FILE)) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            return Err(failed("cannot remove the instance's old address", error));
        }
        _ => {}
    }
    let connection =
        serde_json::to_vec(&runtime.jupyter).map_err(|error| failed("cannot write the connection", error))?;
    write_private(&dir.join("connection.json"), &connection)?;
    let text = serde_json::to_vec(runtime).map_err(|error| failed("cannot write the launch file", error))?;
    write_private(&dir.join("launch.json"), &text)
}

/// Where the JupyterLab of the instance in `dir` listens: its connection file, and on a node
/// the address its server wrote.
pub(crate) fn read_connection(dir: &Path, on_node: bool) -> Option<JupyterConnection> {
    let mut connection: JupyterConnection =
        serde_json::from_slice(&std::fs::read(dir.join("connection.json")).ok()?).ok()?;
    if on_node {
        let address: NodeAddress = serde_json::from_slice(&std::fs::read(dir.join(ADDRESS_FILE)).ok()?).ok()?;
        (connection.host, connection.port) = (address.host, address.port);
    }
    Some(connection)
}

#[derive(Serialize, Deserialize)]
struct NodeAddress {
    host: String,
    port: u16,
}

/// Removes an instance's folder, home included.
pub(crate) fn remove_folder(dir: &Path) -> atelier_core::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(failed("cannot remove the instance's folder", error)),
    }
}

/// The host of this machine's compute instances.
pub struct LocalInstances {
    pub exe: PathBuf,
    /// The URL notebooks reach the server at.
    pub server_url: String,
    pub instances_dir: PathBuf,
    pub envs_dir: PathBuf,
    pub uv: PathBuf,
    pub confinement: Option<atelier_service::Confinement>,
}

pub(crate) fn failed(what: &str, error: impl std::fmt::Display) -> Error {
    Error::internal(format!("{what}: {error}"))
}

/// Writes a file only its owner reads.
fn write_private(path: &Path, bytes: &[u8]) -> atelier_core::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|error| failed(&format!("cannot write {}", path.display()), error))?;
    std::io::Write::write_all(&mut file, bytes)
        .map_err(|error| failed(&format!("cannot write {}", path.display()), error))
}

/// A loopback port nothing listens on now.
fn free_port() -> atelier_core::Result<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|error| failed("cannot find a free port", error))?;
    Ok(listener.local_addr().map_err(|error| failed("cannot find a free port", error))?.port())
}

/// A JupyterLab token: only the Atelier server knows it.
pub(crate) fn jupyter_token() -> String {
    hex::encode(rand::random::<[u8; 24]>())
}

impl LocalInstances {
    fn folder(&self, workspace: &WorkspaceName, name: &str) -> PathBuf {
        instance_folder(&self.instances_dir, workspace, name)
    }

    fn start_now(&self, place: &InstancePlace, launch: &InstanceLaunch) -> atelier_core::Result<InstanceProcess> {
        let dir = self.folder(&place.workspace, &place.name);
        let jupyter = JupyterConnection { host: "127.0.0.1".to_owned(), port: free_port()?, token: jupyter_token() };
        let runtime = RuntimeLaunch {
            launch: launch.clone(),
            server_url: self.server_url.clone(),
            envs_dir: self.envs_dir.clone(),
            uv: self.uv.clone(),
            confinement: self.confinement.clone(),
            jupyter,
            on_node: false,
        };
        prepare_folder(&dir, &runtime)?;
        let (pid, start) = crate::launcher::spawn_detached(&self.exe, "instance-runtime", &dir, false)
            .map_err(|error| failed("cannot start the instance's server", error))?;
        Ok(InstanceProcess { pid, start })
    }
}

fn is_alive(process: InstanceProcess) -> bool {
    matches!(crate::launcher::process_start(process.pid), Some((start, false)) if start == process.start)
}

impl InstanceHost for LocalInstances {
    fn kinds(&self) -> &'static [&'static str] {
        &["local"]
    }

    fn start<'a>(
        &'a self,
        place: &'a InstancePlace,
        launch: &'a InstanceLaunch,
    ) -> PortFuture<'a, atelier_core::Result<InstanceProcess>> {
        Box::pin(async move { self.start_now(place, launch) })
    }

    fn survey<'a>(
        &'a self,
        servers: &'a [(InstancePlace, InstanceProcess)],
    ) -> PortFuture<'a, atelier_core::Result<Vec<InstanceRun>>> {
        Box::pin(async move {
            Ok(servers
                .iter()
                .map(|(_, process)| match is_alive(*process) {
                    true => InstanceRun::Alive,
                    false => InstanceRun::Ended(None),
                })
                .collect())
        })
    }

    fn stop<'a>(
        &'a self,
        _place: &'a InstancePlace,
        process: InstanceProcess,
        grace: u64,
    ) -> PortFuture<'a, atelier_core::Result<()>> {
        Box::pin(async move {
            stop_process(process, grace);
            Ok(())
        })
    }

    fn follows(&self, place: &InstancePlace) -> bool {
        self.folder(&place.workspace, &place.name).join("connection.json").exists()
    }

    fn connection(&self, place: &InstancePlace) -> Option<JupyterConnection> {
        read_connection(&self.folder(&place.workspace, &place.name), false)
    }

    fn log_tail(&self, place: &InstancePlace) -> Option<String> {
        crate::launcher::file_tail(&self.folder(&place.workspace, &place.name).join("runtime.log"))
    }

    fn remove(&self, place: &InstancePlace) -> atelier_core::Result<()> {
        remove_folder(&self.folder(&place.workspace, &place.name))
    }
}

/// Asks a server on this machine to stop (SIGTERM to its process group), and kills it after
/// `grace` seconds if it has not.
fn stop_process(process: InstanceProcess, grace: u64) {
    let Ok(pid) = i32::try_from(process.pid) else { return };
    if !is_alive(process) {
        return;
    }
    let group = nix::unistd::Pid::from_raw(-pid);
    let _ = nix::sys::signal::kill(group, nix::sys::signal::SIGTERM);
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(grace);
        while is_alive(process) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        if is_alive(process) {
            let _ = nix::sys::signal::kill(group, nix::sys::signal::SIGKILL);
        }
    });
}

/// Runs a setup script in the instance's environment, confined as JupyterLab will be, within
/// its time limit; its output goes to the instance's log.
async fn run_script(
    what: &str,
    script: &atelier_service::ScriptText,
    runtime: &RuntimeLaunch,
    exposure: &atelier_service::Exposure,
    home: &Path,
    environment: &[(String, String)],
) -> anyhow::Result<()> {
    println!("running the {what} script");
    let shell = (PathBuf::from("/bin/sh"), vec!["-c".to_owned(), script.text.clone()]);
    let (program, args) = match &runtime.confinement {
        Some(confinement) => confinement.wrap(&shell.0, &shell.1, exposure),
        None => shell,
    };
    let mut child = tokio::process::Command::new(&program)
        .args(&args)
        .current_dir(home)
        .env_clear()
        .envs(environment.iter().cloned())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start the {what} script"))?;
    let limit = Duration::from_secs(u64::from(script.timeout_minutes) * 60);
    match tokio::time::timeout(limit, child.wait()).await {
        Ok(status) => {
            let status = status?;
            anyhow::ensure!(status.success(), "the {what} script failed ({status})");
            Ok(())
        }
        Err(_) => anyhow::bail!("the {what} script ran past its {} minutes", script.timeout_minutes),
    }
}

/// JupyterLab's own defaults for a new instance: no prompt to fetch news from the internet, which
/// the machine may not reach. Written once, into the new home; the user may change it.
fn quiet_jupyterlab(home: &Path) {
    let folder = home.join(".jupyter/lab/user-settings/@jupyterlab/apputils-extension");
    let file = folder.join("notification.jupyterlab-settings");
    if file.exists() {
        return;
    }
    if std::fs::create_dir_all(&folder).and_then(|()| std::fs::write(&file, br#"{"fetchNews": "false"}"#)).is_err() {
        println!("could not turn JupyterLab's news prompt off in {}", folder.display());
    }
}

/// `atelier instance-runtime <folder>`: the instance's server, until it is stopped.
pub async fn run(dir: &Path) -> anyhow::Result<()> {
    let text = std::fs::read(dir.join("launch.json")).context("cannot read the instance's launch file")?;
    let runtime: RuntimeLaunch = serde_json::from_slice(&text).context("the instance's launch file is not valid")?;
    let launch = &runtime.launch;
    println!("instance {} of workspace {} starting", launch.name, launch.workspace);

    // The environment: the instance's packages, JupyterLab and the workspace's clients.
    let planned = &launch.definition.environment;
    let mut requirements = planned.requirements.clone();
    for extra in atelier_service::INSTANCE_REQUIREMENTS {
        let package = extra.split("==").next().unwrap_or(extra);
        let named = |requirement: &String| {
            let name = requirement.split(['=', '<', '>', '!', '~', ';', '[', ' ']).next().unwrap_or_default();
            name.eq_ignore_ascii_case(package) || (package == "mlflow-skinny" && name.eq_ignore_ascii_case("mlflow"))
        };
        if !requirements.iter().any(named) {
            requirements.push((*extra).to_owned());
        }
    }
    let spec = atelier_core::environment::EnvironmentSpec {
        python: planned.python.clone(),
        requirements,
        image: planned.image.clone(),
        channels: Vec::new(),
    };
    let builder = atelier_service::EnvironmentBuilder::new(runtime.envs_dir.clone(), runtime.uv.clone());
    println!("building the environment ({})", planned.name);
    let build = builder
        .build(&spec)
        .await
        .map_err(|error| anyhow::anyhow!("the environment did not build: {}", error.message))?;
    let python = build.python.context("the environment has no Python")?;
    let bin = python.parent().map(Path::to_path_buf).unwrap_or_default();
    println!("environment ready at {}{}", bin.display(), if build.cached { " (cached)" } else { "" });

    // The SDK beside the notebooks, and the home that lasts.
    let sdk = dir.join("python");
    crate::sdk_files::write_sdk(&sdk).context("cannot write the SDK")?;
    let home = dir.join("home");
    std::fs::create_dir_all(&home).context("cannot create the instance's home")?;
    let root = runtime.server_url.trim_end_matches('/');
    let mlflow =
        if launch.workspace == "default" { root.to_owned() } else { format!("{root}/ws/{}", launch.workspace) };
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    // On a node, what Slurm says of the allocation (its job id, the GPUs it gave) too.
    let passed = |key: &str| {
        matches!(key, "LANG" | "LC_ALL" | "TERM" | "TZ")
            || (runtime.on_node && (key.starts_with("SLURM_") || key == "CUDA_VISIBLE_DEVICES"))
    };
    let mut environment: Vec<(String, String)> = std::env::vars().filter(|(key, _)| passed(key)).collect();
    environment.extend(
        [
            ("HOME", home.display().to_string()),
            ("PATH", path),
            ("VIRTUAL_ENV", bin.parent().map(|root| root.display().to_string()).unwrap_or_default()),
            ("PYTHONPATH", sdk.display().to_string()),
            ("MLFLOW_TRACKING_URI", mlflow),
            ("MLFLOW_TRACKING_TOKEN", launch.token.clone()),
            ("ATELIER_URL", root.to_owned()),
            ("ATELIER_TOKEN", launch.token.clone()),
            ("ATELIER_WORKSPACE", launch.workspace.clone()),
            ("ATELIER_COMPUTE_INSTANCE", launch.name.clone()),
            ("USER", launch.owner.clone()),
        ]
        .map(|(key, value)| (key.to_owned(), value)),
    );
    let exposure = atelier_service::Exposure {
        read_write: vec![home.clone()],
        read_only: [runtime.envs_dir.clone(), sdk.clone()]
            .into_iter()
            .chain(atelier_service::Confinement::interpreter_folders(&python))
            .collect(),
        read_write_on_node: Vec::new(),
        home: Some(home.clone()),
    };

    let created_marker = dir.join(".created");
    if !created_marker.exists() {
        // Before any of the user's code has run: the home holds nothing this process (root,
        // where the server is) could be led astray by.
        quiet_jupyterlab(&home);
        if let Some(script) = &launch.definition.creation_script {
            run_script("creation", script, &runtime, &exposure, &home, &environment).await?;
        }
    }
    std::fs::write(&created_marker, b"").context("cannot mark the instance created")?;
    if let Some(script) = &launch.definition.startup_script {
        run_script("startup", script, &runtime, &exposure, &home, &environment).await?;
    }

    // JupyterLab, on a loopback port (on a node: the address that reaches the Atelier server),
    // with the token the Atelier server adds to what it proxies.
    let (host, port) = match runtime.on_node {
        true => node_address(&runtime.server_url)?,
        false => (runtime.jupyter.host.clone(), runtime.jupyter.port),
    };
    let args: Vec<String> = [
        "-m",
        "jupyterlab",
        "--no-browser",
        &format!("--ip={host}"),
        &format!("--port={port}"),
        "--ServerApp.port_retries=0",
        &format!("--ServerApp.base_url={}", launch.base_url),
        &format!("--ServerApp.root_dir={}", home.display()),
        // Requests come through Atelier's proxy, under its host name; they still need the token.
        "--ServerApp.allow_remote_access=True",
        "--ServerApp.trust_xheaders=True",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    .map(str::to_owned)
    .to_vec();
    let (program, args) = match &runtime.confinement {
        Some(confinement) => confinement.wrap(&python, &args, &exposure),
        None => (python.clone(), args),
    };
    let mut child = tokio::process::Command::new(&program)
        .args(&args)
        .current_dir(&home)
        .env_clear()
        .envs(environment.iter().cloned())
        // The token in its environment, not on its command line.
        .env("JUPYTER_TOKEN", &runtime.jupyter.token)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start JupyterLab")?;
    println!("JupyterLab starting on {host}:{port} under {}", launch.base_url);
    if runtime.on_node {
        let address = serde_json::to_vec(&NodeAddress { host, port })?;
        write_private(&dir.join(ADDRESS_FILE), &address).map_err(|error| anyhow::anyhow!(error.message))?;
    }

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        status = child.wait() => {
            let status = status?;
            anyhow::bail!("JupyterLab ended on its own ({status})");
        }
        _ = terminate.recv() => {
            println!("stopping JupyterLab");
            if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGTERM);
            }
            let grace = Duration::from_secs(atelier_service::STOP_GRACE_SECONDS.saturating_sub(2));
            if tokio::time::timeout(grace, child.wait()).await.is_err() {
                let _ = child.kill().await;
            }
            println!("stopped");
            Ok(())
        }
    }
}

/// The address of this node that reaches the Atelier server at `server_url` (so the server
/// reaches it back), and a port free on it now.
fn node_address(server_url: &str) -> anyhow::Result<(String, u16)> {
    let url =
        reqwest::Url::parse(server_url).with_context(|| format!("the server's URL '{server_url}' is not valid"))?;
    let server = url
        .socket_addrs(|| None)
        .with_context(|| format!("cannot resolve the server's address in '{server_url}'"))?
        .into_iter()
        .next()
        .with_context(|| format!("'{server_url}' resolves to no address"))?;
    let any: std::net::SocketAddr = if server.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let probe = std::net::UdpSocket::bind(any).context("cannot open a socket")?;
    probe.connect(server).with_context(|| format!("no route from this node to {server}"))?;
    let ip = probe.local_addr()?.ip();
    let listener = std::net::TcpListener::bind((ip, 0)).with_context(|| format!("cannot listen on {ip}"))?;
    Ok((ip.to_string(), listener.local_addr()?.port()))
}

//! `atelier server`: wires the store, the blob store, the service and the HTTP router, creates
//! the first-start secrets, and shuts down gracefully on SIGTERM or SIGINT.

use anyhow::Context;
use atelier_blob::BlobStore;
use atelier_http::AppState;
use atelier_service::Service;
use atelier_store::SqlStore;
use axum::serve::ListenerExt;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

#[derive(clap::Args, Debug)]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(long, env = "ATELIER_ADDR", default_value = "127.0.0.1:7420")]
    addr: String,
    /// Where Atelier keeps its files (default: ~/.atelier).
    #[arg(long, env = "ATELIER_HOME")]
    home: Option<PathBuf>,
    /// Metadata store URL: sqlite://PATH or postgres://USER@HOST/DB (default: SQLite under home).
    #[arg(long, env = "ATELIER_STORE", hide_env_values = true)]
    store: Option<String>,
    /// Blob store: a folder, or s3://BUCKET/PREFIX, az://CONTAINER/PREFIX, gs://BUCKET/PREFIX
    /// (default: the folder blobs/ under home).
    #[arg(long, env = "ATELIER_BLOBS")]
    blobs: Option<String>,
    /// The uv that builds environments (a path, or a name looked up on PATH).
    #[arg(long, env = "ATELIER_UV", default_value = "uv")]
    uv: PathBuf,
    /// Refuse to build environments that name a container image (no container runtime is
    /// configured) instead of running them on the host with a warning.
    #[arg(long, env = "ATELIER_REFUSE_IMAGES")]
    refuse_images: bool,
    /// Minutes between garbage collections (what no record references, untouched for an hour);
    /// 0 turns the periodic sweep off (`atelier gc` still works).
    #[arg(long, env = "ATELIER_GC_INTERVAL_MINUTES", default_value_t = 60)]
    gc_interval_minutes: u64,
    /// Record every change, denial and sign-in in the audit log (`atelier audit list`).
    #[arg(long, env = "ATELIER_AUDIT", default_value = "on", value_parser = ["on", "off"])]
    audit: String,
    /// Days an audit record is kept; older ones are deleted by an hourly sweep (0 keeps them
    /// forever).
    #[arg(long, env = "ATELIER_AUDIT_RETENTION_DAYS", default_value_t = 365)]
    audit_retention_days: u64,
    /// CPUs the local compute hands to jobs (default: this machine's).
    #[arg(long, env = "ATELIER_LOCAL_CPUS")]
    local_cpus: Option<f64>,
    /// Memory in GB the local compute hands to jobs (default: this machine's).
    #[arg(long, env = "ATELIER_LOCAL_MEMORY_GB")]
    local_memory_gb: Option<f64>,
    /// GPUs the local compute hands to jobs (default: those nvidia-smi lists).
    #[arg(long, env = "ATELIER_LOCAL_GPUS")]
    local_gpus: Option<u32>,
    /// The most a job's code snapshot may hold, in MB (Azure ML's limit by default).
    #[arg(long, env = "ATELIER_MAX_SNAPSHOT_MB", default_value_t = 300)]
    max_snapshot_mb: u64,
    /// Seconds a canceled job's processes get between SIGTERM and SIGKILL.
    #[arg(long, env = "ATELIER_CANCEL_GRACE_SECONDS", default_value_t = 10)]
    cancel_grace_seconds: u64,
    /// A second address that serves only scoring (`/endpoints/<name>/score`), for callers that
    /// should not reach the API; scoring URIs then name it.
    #[arg(long, env = "ATELIER_INFERENCE_ADDR")]
    inference_addr: Option<String>,
    /// Run jobs and deployments of users who are not administrators even where this machine
    /// cannot confine them (no user namespaces): their code can then read the server's secrets.
    #[arg(long, env = "ATELIER_ALLOW_UNCONFINED_JOBS")]
    allow_unconfined_jobs: bool,
    /// The unprivileged user that jobs and deployments run as when the server runs as root: a
    /// user name, or `UID[:GID]` (default: the user `atelier-job` where it exists, else uid and
    /// gid 61184, which need no entry in /etc/passwd).
    #[arg(long, env = "ATELIER_JOB_USER")]
    job_user: Option<String>,
    /// The `unshare` program that confines jobs and deployments (default: found on PATH).
    #[arg(long, env = "ATELIER_UNSHARE", hide = true)]
    unshare: Option<PathBuf>,
    /// The most a scoring request's body may hold, in MB.
    #[arg(long, env = "ATELIER_MAX_SCORE_MB", default_value_t = 5.0)]
    max_score_mb: f64,
    /// The URL users' browsers and a cluster's nodes reach this server at, behind a proxy
    /// (default: the address it listens on); single sign-on sends browsers back to it, and jobs
    /// on a Slurm compute report to it.
    #[arg(long, env = "ATELIER_PUBLIC_URL")]
    public_url: Option<String>,
    #[command(flatten)]
    oidc: crate::sso::OidcArgs,
}

/// The user jobs run as where the server runs as root (`None` elsewhere): `--job-user`, else
/// `atelier-job` where that user exists, else uid and gid 61184 (the first of the range that
/// systemd gives to users made on the fly, so no account of the machine has it).
fn job_user(requested: Option<&str>) -> anyhow::Result<Option<atelier_service::JobUser>> {
    if !nix::unistd::geteuid().is_root() {
        if requested.is_some() {
            anyhow::bail!("--job-user needs a server that runs as root (it switches to that user)");
        }
        return Ok(None);
    }
    const DEFAULT_ID: u32 = 61184;
    let from_passwd = |name: &str| -> anyhow::Result<Option<atelier_service::JobUser>> {
        Ok(nix::unistd::User::from_name(name)
            .with_context(|| format!("cannot look user '{name}' up"))?
            .map(|user| atelier_service::JobUser { uid: user.uid.as_raw(), gid: user.gid.as_raw(), name: user.name }))
    };
    let user = match requested {
        None => from_passwd("atelier-job")?.unwrap_or(atelier_service::JobUser {
            uid: DEFAULT_ID,
            gid: DEFAULT_ID,
            name: "atelier-job".to_owned(),
        }),
        Some(text) if text.starts_with(|c: char| c.is_ascii_digit()) => {
            let (uid, gid) = text.split_once(':').unwrap_or((text, text));
            let number = |part: &str| {
                part.parse::<u32>().with_context(|| format!("--job-user: expected UID[:GID], got '{text}'"))
            };
            let (uid, gid) = (number(uid)?, number(gid)?);
            if uid == 0 || gid == 0 {
                anyhow::bail!("--job-user: jobs must not run as root (uid and gid 0)");
            }
            atelier_service::JobUser { uid, gid, name: format!("uid-{uid}") }
        }
        Some(name) => from_passwd(name)?
            .with_context(|| format!("--job-user: no user '{name}' on this machine; give a name or UID[:GID]"))?,
    };
    if user.uid == 0 {
        anyhow::bail!("--job-user: jobs must not run as root");
    }
    Ok(Some(user))
}

/// How this server confines users' code: PID and mount namespaces through `unshare` (and a user
/// namespace, or the job user where the server runs as root), hiding the home (and the local
/// blob folder and SQLite file's folder when they lie outside it). `None`, with a warning, where
/// the probe fails.
fn confinement(
    home: &Path,
    store_url: &str,
    blobs_location: &str,
    unshare: Option<PathBuf>,
    user: Option<atelier_service::JobUser>,
    allow_unconfined: bool,
) -> anyhow::Result<Option<atelier_service::Confinement>> {
    let mut extra = Vec::new();
    let blobs = Path::new(blobs_location);
    if blobs.is_absolute() && !blobs.starts_with(home) {
        extra.push(blobs.to_path_buf());
    }
    if let Some(file) = store_url.strip_prefix("sqlite://").map(|rest| rest.split('?').next().unwrap_or(rest))
        && let Some(folder) =
            Path::new(file).parent().filter(|folder| folder.is_absolute() && !folder.starts_with(home))
    {
        extra.push(folder.to_path_buf());
    }
    let Some(unshare) = unshare.or_else(|| crate::launcher::find_program("unshare")) else {
        warn_unconfined("util-linux's unshare is not installed", allow_unconfined);
        return Ok(None);
    };
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let landlock = crate::sandbox::landlock_version().map_or_else(
        || "no Landlock in this kernel: writes are not restricted".to_owned(),
        |v| format!("Landlock ABI {v}"),
    );
    if let Some(job_user) = &user {
        let policy = atelier_service::Confinement::new(unshare.clone(), exe.clone(), home, &extra, user.clone());
        match policy.probe() {
            Ok(()) => {
                tracing::info!(
                    hidden = ?policy.hidden,
                    uid = job_user.uid,
                    %landlock,
                    "jobs and deployments run confined (PID and mount namespaces, as an unprivileged user)"
                );
                return Ok(Some(policy));
            }
            Err(reason) => tracing::warn!(
                %reason,
                "jobs cannot run as an unprivileged user here; trying a user namespace instead"
            ),
        }
    }
    let policy = atelier_service::Confinement::new(unshare, exe, home, &extra, None);
    match policy.probe() {
        Ok(()) => {
            tracing::info!(
                hidden = ?policy.hidden,
                %landlock,
                "jobs and deployments run confined (user, PID and mount namespaces)"
            );
            Ok(Some(policy))
        }
        Err(reason) => {
            warn_unconfined(&reason, allow_unconfined);
            Ok(None)
        }
    }
}

fn warn_unconfined(reason: &str, allow_unconfined: bool) {
    if allow_unconfined {
        tracing::warn!(
            %reason,
            "users' code cannot be confined here; --allow-unconfined-jobs runs it anyway, able to read this server's secrets"
        );
    } else {
        tracing::warn!(
            %reason,
            "users' code cannot be confined here: only server administrators may run jobs and deployments \
             (start with --allow-unconfined-jobs to let every user run them unconfined)"
        );
    }
}

/// The key that seals datastore credentials: `ATELIER_MASTER_KEY` (32 bytes, base64), else the
/// file `$ATELIER_HOME/master-key`, created with mode 0600 at first start. Losing it makes the
/// stored credentials unreadable (datastores must then be registered again).
fn master_key(home: &Path) -> anyhow::Result<[u8; 32]> {
    use base64::Engine;
    let decode = |text: &str, from: &str| -> anyhow::Result<[u8; 32]> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .with_context(|| format!("{from} is not base64"))?;
        bytes.try_into().map_err(|_| anyhow::anyhow!("{from} must hold exactly 32 bytes"))
    };
    if let Ok(text) = std::env::var("ATELIER_MASTER_KEY") {
        return decode(&text, "ATELIER_MASTER_KEY");
    }
    let path = home.join("master-key");
    match std::fs::read_to_string(&path) {
        Ok(text) => decode(&text, &path.display().to_string()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let key: [u8; 32] = rand::random();
            write_secret(&path, &base64::engine::general_purpose::STANDARD.encode(key))?;
            Ok(key)
        }
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// The URL a cluster's nodes reach this server at: `--public-url`, else the address it listens
/// on when that is not a loopback one (the machine's host name for every interface); `None`
/// when nodes elsewhere could not reach it.
fn cluster_url(public_url: Option<&str>, local: std::net::SocketAddr) -> Option<String> {
    if let Some(url) = public_url {
        return Some(url.trim_end_matches('/').to_owned());
    }
    if local.ip().is_loopback() {
        return None;
    }
    if local.ip().is_unspecified() {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?.trim().to_owned();
        return Some(format!("http://{host}:{}", local.port()));
    }
    Some(format!("http://{local}"))
}

/// This server's id among the servers of one database, kept in `$ATELIER_HOME/server-id` so that
/// a restarted server takes its own leader's lease back at once.
fn server_id(home: &Path) -> anyhow::Result<String> {
    let path = home.join("server-id");
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => Ok(text.trim().to_owned()),
        Ok(_) => write_new_server_id(&path),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => write_new_server_id(&path),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn write_new_server_id(path: &Path) -> anyhow::Result<String> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    std::fs::write(path, format!("{id}\n")).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(id)
}

/// Writes a secret file readable by its owner only.
fn write_secret(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    Ok(())
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ATELIER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    let home = crate::home::home_folder(args.home)?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&home)
        .with_context(|| format!("cannot create the home folder {}", home.display()))?;
    // The home holds the server's secrets: only its owner enters it, also when it existed.
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot make the home folder {} private", home.display()))?;
    let store_url = match args.store {
        Some(url) => url,
        None => format!("sqlite://{}?mode=rwc", home.join("atelier.db").display()),
    };
    let blobs_location = args.blobs.unwrap_or_else(|| home.join("blobs").display().to_string());

    let store = SqlStore::connect(&store_url)
        .await
        .map_err(|error| anyhow::anyhow!("cannot open the metadata store: {error}"))?;
    let blobs = BlobStore::open(&blobs_location).context("cannot open the blob store")?;
    tracing::info!(dialect = ?store.dialect(), blobs = ?blobs, "stores open");
    let master_key = master_key(&home)?;
    let builder = atelier_service::EnvironmentBuilder::new(home.join("envs"), args.uv.clone());
    if let Some(notice) = builder.uv_provisioning_notice() {
        tracing::info!("{notice}, when an environment is first built");
    }

    let listener =
        tokio::net::TcpListener::bind(&args.addr).await.with_context(|| format!("cannot listen on {}", args.addr))?;
    let local = listener.local_addr()?;
    let url = format!("http://{local}");
    // Job runtimes on this machine reach the server on the loopback interface when it listens
    // on every interface.
    let runtime_url =
        if local.ip().is_unspecified() { format!("http://127.0.0.1:{}", local.port()) } else { url.clone() };
    let confinement = confinement(
        &home,
        &store_url,
        &blobs_location,
        args.unshare.clone(),
        job_user(args.job_user.as_deref())?,
        args.allow_unconfined_jobs,
    )?;
    let capacity = crate::launcher::machine_capacity(args.local_cpus, args.local_memory_gb, args.local_gpus);
    let launcher = crate::launcher::LocalLauncher {
        exe: std::env::current_exe().context("cannot find this program's path")?,
        server_url: runtime_url.clone(),
        jobs_dir: home.join("jobs"),
        envs_dir: home.join("envs"),
        uv: args.uv.clone(),
        grace_seconds: args.cancel_grace_seconds,
        confinement: confinement.clone(),
        capacity: capacity.clone(),
    };
    tracing::info!(cpus = capacity.cpus, memory_mb = capacity.memory_mb, gpus = capacity.gpus.len(), "local compute");
    let public_url = args.public_url.clone().unwrap_or_else(|| runtime_url.clone());
    let oidc = args.oidc.provider(&public_url)?;
    let cluster = Arc::new(crate::slurm::SlurmBackend {
        local: launcher.clone(),
        server_url: cluster_url(args.public_url.as_deref(), local),
        http: reqwest::Client::new(),
    });
    let cluster_instances = crate::slurm_instances::SlurmInstances::new(cluster.clone(), home.join("instances"));
    let instances = crate::instances::LocalInstances {
        exe: std::env::current_exe().context("cannot find this program's path")?,
        server_url: runtime_url.clone(),
        instances_dir: home.join("instances"),
        envs_dir: home.join("envs"),
        uv: args.uv.clone(),
        confinement: confinement.clone(),
    };
    let service = Arc::new(
        Service::new(Arc::new(store.clone()), blobs)
            .with_instance_host(Arc::new(instances))
            .with_instance_host(Arc::new(cluster_instances))
            .with_oidc(oidc)
            .with_master_key(master_key)
            .with_environment_builder(builder)
            .refusing_images(args.refuse_images)
            .with_backend(Arc::new(launcher))
            .with_backend(cluster)
            .with_snapshot_limit(args.max_snapshot_mb * 1024 * 1024)
            .with_audit(args.audit == "on")
            .with_confinement(confinement, args.allow_unconfined_jobs)
            .with_server_id(server_id(&home)?),
    );

    if let Some(secrets) =
        service.bootstrap().await.map_err(|error| anyhow::anyhow!("first-start setup failed: {error}"))?
    {
        write_secret(&home.join("admin-password"), &secrets.admin_password)?;
        write_secret(&home.join("token"), &secrets.admin_token)?;
        // Where the secrets are, never the secrets: standard output ends up in service logs.
        println!("Atelier created workspace 'default' and user 'admin'.");
        println!("  admin password: saved in {} (readable by its owner only)", home.join("admin-password").display());
        println!("  API token:      saved in {} (readable by its owner only)", home.join("token").display());
    }

    // Lead before the periodic work first looks, where no other server leads.
    if let Err(error) = service.renew_leadership().await {
        tracing::warn!(%error, "cannot take the leader's lease");
    }
    tokio::spawn(service.clone().run_leadership());

    if args.gc_interval_minutes > 0 {
        let sweeper = service.clone();
        let every = std::time::Duration::from_secs(args.gc_interval_minutes * 60);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                if !sweeper.is_leader() {
                    continue;
                }
                if let Err(error) = sweeper.collect_garbage_now(std::time::Duration::from_secs(3600)).await {
                    tracing::warn!(%error, "garbage collection failed");
                }
            }
        });
    }

    if args.audit_retention_days > 0 {
        let sweeper = service.clone();
        let days = args.audit_retention_days;
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                ticks.tick().await;
                if !sweeper.is_leader() {
                    continue;
                }
                if let Err(error) = sweeper.apply_audit_retention(days).await {
                    tracing::warn!(%error, "the audit log's retention sweep failed");
                }
            }
        });
    }

    tokio::spawn(service.clone().run_series_summaries());
    tokio::spawn(crate::memory::return_freed_memory());
    tokio::spawn(service.clone().run_scheduler());
    tokio::spawn(service.clone().run_schedules());
    tokio::spawn(service.clone().run_instances());

    std::fs::write(home.join("url"), format!("{url}\n"))
        .with_context(|| format!("cannot write {}", home.join("url").display()))?;
    println!("Atelier is listening on {url} (MLflow tracking URI: {url})");

    let serving = atelier_serving::Serving::new(service.clone(), home.join("serving"))
        .context("cannot prepare the serving folder")?;
    service.attach_serving(serving.clone());
    tokio::spawn(serving.clone().run());
    let stepping_down = service.clone();
    let mut state = AppState::new(service).with_serving(serving);
    state.max_score_bytes = (args.max_score_mb.max(0.0) * 1024.0 * 1024.0) as usize;
    if let Some(address) = &args.inference_addr {
        let inference = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address} (--inference-addr)"))?;
        let inference_url = format!("http://{}", inference.local_addr()?);
        println!("Scoring is also served on {inference_url}");
        state.scoring_base = Some(inference_url);
        let inference_app = atelier_http::inference_router(state.clone());
        let inference = inference.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tokio::spawn(async move {
            if let Err(error) = axum::serve(inference, inference_app).await {
                tracing::error!(%error, "the inference listener failed");
            }
        });
    }
    let ready = state.ready.clone();
    let app = atelier_http::router(state);
    // Small responses go out at once instead of waiting on the client's delayed ACK.
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::warn!(%error, "cannot set TCP_NODELAY");
        }
    });
    // Each request knows its peer's address: failed sign-ins are counted by it.
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            ready.store(false, Ordering::SeqCst);
            tracing::info!("shutting down: finishing in-flight requests");
        })
        .await
        .context("the server failed")?;
    stepping_down.step_down().await;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(stream) => stream,
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGTERM");
            std::future::pending::<()>().await;
            return;
        }
    };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

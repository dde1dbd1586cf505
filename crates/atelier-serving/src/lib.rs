//! Atelier's online endpoints at run time.
//!
//! The service keeps endpoint and deployment records; this crate runs them. [`Serving`] holds
//! one routing table (endpoint → credentials, traffic, deployments) and one pool of supervised
//! worker processes per deployment. Each change of the records wakes it; it then brings the
//! pools and the table in line with them ([`Serving::reconcile`]). On start it does the same,
//! so every deployment comes back after a restart.
//!
//! A request ([`Serving::score`]) is authenticated against the endpoint's key digests or token,
//! sent to the deployment its `azureml-model-deployment` header names or to one drawn by the
//! traffic weights, queued for a free instance slot at most `max_queue_wait_ms` (else 429),
//! and answered within `request_timeout_ms` (else 408). A share of live requests is copied to
//! the mirror deployment, whose answers are dropped.
//!
//! A new generation of a deployment (a new model, code, environment or instance count) is a
//! rollout: the new workers start beside the old ones, and only when every one of them is
//! ready do they take over; the old ones finish their requests and stop. A rollout whose
//! workers never get ready leaves the old ones serving and marks the deployment `Failed`.

mod metrics;
#[cfg(feature = "onnx")]
mod onnx;
mod worker;

pub use metrics::Metrics;

use atelier_core::endpoint::{AuthMode, Deployment, ProvisioningState, pick_by_weight};
use atelier_service::{ScoringAuth, Service, key_digest};
use atelier_spec::endpoint::{DataCollection, DeploymentPlan, RequestSettings, Serving as ServingKind};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, oneshot, watch};
use worker::{Instance, Launch, Supervision};

/// The scoring host each script or MLflow instance runs.
const SCORING_HOST: &str = include_str!("../python/atelier_scoring_host.py");

/// The most of a request's or response's body the request log keeps, when collected.
const PAYLOAD_LOG_BYTES: usize = 64 << 10;

/// The most of a log `get-logs` returns.
const LOG_TAIL_MAX_LINES: usize = 10_000;

/// Why a request got no answer from a model.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("the deployment's worker failed while handling the request: {0}")]
    WorkerFailed(String),
}

impl RouterError {
    pub fn status(&self) -> u16 {
        match self {
            RouterError::Unauthorized(_) => 401,
            RouterError::NotFound(_) => 404,
            RouterError::TooManyRequests(_) => 429,
            RouterError::Timeout(_) => 408,
            RouterError::Unavailable(_) => 503,
            RouterError::WorkerFailed(_) => 502,
        }
    }
}

/// A scoring request as the HTTP layer hands it over.
pub struct ScoreRequest {
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// The `azureml-model-deployment` header.
    pub deployment: Option<String>,
    pub body: Bytes,
}

/// The answer to a scoring request.
pub struct ScoreResponse {
    pub status: u16,
    pub content_type: String,
    /// Extra headers (the deployment that answered, the model's own status on a 424).
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
    pub request_id: String,
}

impl ScoreResponse {
    fn error(request_id: String, deployment: Option<&str>, error: &RouterError) -> Self {
        let body = serde_json::json!({ "error": { "code": error.status(), "message": error.to_string() } });
        let mut headers = Vec::new();
        if let Some(deployment) = deployment {
            headers.push(("azureml-model-deployment", deployment.to_owned()));
        }
        ScoreResponse {
            status: error.status(),
            content_type: "application/json".to_owned(),
            headers,
            body: Bytes::from(body.to_string()),
            request_id,
        }
    }
}

/// An append-only log file (worker output, request records). At [`LOG_ROTATE_BYTES`] it is
/// renamed to `<name>.1` (replacing the one before) and started afresh, so a busy endpoint's
/// request log stays bounded on disk.
pub struct LogFile {
    path: PathBuf,
    file: Mutex<Option<(std::fs::File, u64)>>,
}

/// The size at which a log file is rotated.
const LOG_ROTATE_BYTES: u64 = 64 << 20;

/// The most of a log's end `tail` reads.
const LOG_TAIL_MAX_BYTES: u64 = 4 << 20;

impl LogFile {
    fn open(path: PathBuf) -> Arc<Self> {
        let file = Self::open_file(&path);
        Arc::new(LogFile { path, file: Mutex::new(file) })
    }

    fn open_file(path: &Path) -> Option<(std::fs::File, u64)> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path).ok()?;
        let size = file.metadata().map(|metadata| metadata.len()).unwrap_or(0);
        Some((file, size))
    }

    /// Appends a line with the time in front.
    pub fn line(&self, text: &str) {
        let time = atelier_core::time::format_rfc3339(atelier_service::now_millis());
        self.raw(&format!("{time} {text}\n"));
    }

    fn raw(&self, text: &str) {
        let Ok(mut guard) = self.file.lock() else { return };
        if guard.as_ref().is_some_and(|(_, size)| *size >= LOG_ROTATE_BYTES) {
            let mut rotated = self.path.clone().into_os_string();
            rotated.push(".1");
            let _ = std::fs::rename(&self.path, rotated);
            *guard = Self::open_file(&self.path);
        }
        if let Some((file, size)) = guard.as_mut()
            && file.write_all(text.as_bytes()).is_ok()
        {
            *size += text.len() as u64;
        }
    }

    /// The last `lines` lines (at most the last few MB of the file).
    pub fn tail(&self, lines: usize) -> String {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut file) = std::fs::File::open(&self.path) else { return String::new() };
        let size = file.metadata().map(|metadata| metadata.len()).unwrap_or(0);
        let start = size.saturating_sub(LOG_TAIL_MAX_BYTES);
        let mut bytes = Vec::new();
        if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
            return String::new();
        }
        let text = String::from_utf8_lossy(&bytes);
        // A read that starts mid-file starts mid-line: drop that first piece.
        let text = if start > 0 { text.split_once('\n').map_or("", |(_, rest)| rest) } else { &text };
        let all: Vec<&str> = text.lines().collect();
        let from = all.len().saturating_sub(lines.min(LOG_TAIL_MAX_LINES));
        all[from..].iter().map(|line| format!("{line}\n")).collect()
    }
}

/// Which log `get-logs` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    /// The workers' standard output and error, and their starts, stops and restarts.
    InferenceServer,
    /// Fetching the model and code, and building the environment.
    StorageInitializer,
    /// One line per request: time, request id, status, latency.
    Requests,
}

impl LogKind {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "inference-server" => Some(LogKind::InferenceServer),
            "storage-initializer" => Some(LogKind::StorageInitializer),
            "requests" => Some(LogKind::Requests),
            _ => None,
        }
    }
}

/// The running side of one deployment: its instances (of the generation that serves), its
/// request settings, metrics and logs, and the supervisor that rolls out new generations.
struct Pool {
    endpoint: String,
    name: String,
    dir: PathBuf,
    serving: RwLock<Arc<ServingSet>>,
    settings: RwLock<RequestSettings>,
    /// Which payloads the request log keeps (`data_collector`).
    collection: RwLock<DataCollection>,
    cursor: AtomicUsize,
    /// Woken when a slot frees up or the instances change.
    wake: Arc<Notify>,
    metrics: Arc<Metrics>,
    worker_log: Arc<LogFile>,
    setup_log: Arc<LogFile>,
    request_log: Arc<LogFile>,
    desired: watch::Sender<Option<Deployment>>,
}

/// The instances that serve a deployment now, with the queue in front of them: one admission
/// permit per slot of every instance, handed out first come, first served. When a rollout
/// replaces the set, the old queue is closed and its waiters move to the new one.
struct ServingSet {
    instances: Vec<Arc<Instance>>,
    admission: Arc<tokio::sync::Semaphore>,
}

impl ServingSet {
    fn new(instances: Vec<Arc<Instance>>) -> Arc<Self> {
        let slots = instances.iter().map(|instance| instance.max_concurrent as usize).sum();
        Arc::new(ServingSet { instances, admission: Arc::new(tokio::sync::Semaphore::new(slots)) })
    }
}

/// A slot on an instance; freeing it wakes queued requests.
struct Slot<'a> {
    _permit: tokio::sync::SemaphorePermit<'a>,
    wake: &'a Notify,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.wake.notify_waiters();
    }
}

impl Pool {
    fn serving_set(&self) -> Arc<ServingSet> {
        self.serving.read().map(|serving| serving.clone()).unwrap_or_else(|_| ServingSet::new(Vec::new()))
    }

    /// Makes `instances` the serving set; returns the instances it replaces.
    fn replace_set(&self, instances: Vec<Arc<Instance>>) -> Vec<Arc<Instance>> {
        let old = {
            let mut serving = self.serving.write().unwrap_or_else(|poisoned| poisoned.into_inner());
            std::mem::replace(&mut *serving, ServingSet::new(instances))
        };
        old.admission.close();
        for instance in &old.instances {
            instance.retire(&self.metrics, &self.wake);
        }
        self.wake.notify_waiters();
        old.instances.clone()
    }

    fn request_settings(&self) -> RequestSettings {
        self.settings.read().map(|settings| *settings).unwrap_or_default()
    }

    /// A free slot on a ready instance, trying instances in turn.
    fn try_slot<'a>(&'a self, instances: &'a [Arc<Instance>]) -> Option<(&'a Arc<Instance>, Slot<'a>)> {
        if instances.is_empty() {
            return None;
        }
        let start = self.cursor.fetch_add(1, Ordering::Relaxed);
        (0..instances.len()).map(|offset| &instances[(start + offset) % instances.len()]).find_map(|instance| {
            if !instance.is_ready() {
                return None;
            }
            let permit = instance.slots.try_acquire().ok()?;
            Some((instance, Slot { _permit: permit, wake: &self.wake }))
        })
    }

    fn queue_expired(&self, set: &ServingSet, settings: &RequestSettings) -> RouterError {
        if set.instances.iter().any(|instance| instance.is_ready()) {
            RouterError::TooManyRequests(format!(
                "deployment '{}' is busy: no instance was free within max_queue_wait_ms ({} ms)",
                self.name, settings.max_queue_wait_ms
            ))
        } else {
            RouterError::Unavailable(format!("deployment '{}' has no ready instance", self.name))
        }
    }

    /// Sends a request to a free instance. Requests queue in arrival order for at most
    /// `max_queue_wait_ms`; the answer may take at most `request_timeout_ms`.
    async fn call(&self, body: &[u8]) -> Result<worker::Answer, RouterError> {
        let settings = self.request_settings();
        let arrived = Instant::now();
        let queue_deadline = arrived + Duration::from_millis(settings.max_queue_wait_ms.max(0) as u64);
        let request_deadline = arrived + Duration::from_millis(settings.request_timeout_ms.max(1) as u64);
        let queued = QueuedGauge::new(&self.metrics);
        // Admission, in arrival order; a rollout closes the old queue and the request moves on.
        let (set, _admitted) = loop {
            let set = self.serving_set();
            let admitted = match set.admission.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(tokio::sync::TryAcquireError::Closed) => continue,
                Err(tokio::sync::TryAcquireError::NoPermits) => None,
            };
            if let Some(permit) = admitted {
                break (set, permit);
            }
            queued.enter();
            match tokio::time::timeout_at(queue_deadline.into(), set.admission.clone().acquire_owned()).await {
                Ok(Ok(permit)) => break (set, permit),
                Ok(Err(_closed)) => continue,
                Err(_) => return Err(self.queue_expired(&set, &settings)),
            }
        };
        // A slot on a ready instance: there is one unless an instance is restarting.
        loop {
            let notified = self.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some((instance, slot)) = self.try_slot(&set.instances) {
                drop(queued);
                let answer = tokio::time::timeout_at(request_deadline.into(), instance.call("score", body)).await;
                drop(slot);
                return match answer {
                    Ok(Ok(answer)) => Ok(answer),
                    Ok(Err(error)) => Err(worker::call_error(error)),
                    Err(_) => Err(RouterError::Timeout(format!(
                        "the model took longer than request_timeout_ms ({} ms)",
                        settings.request_timeout_ms
                    ))),
                };
            }
            queued.enter();
            if tokio::time::timeout_at(queue_deadline.into(), notified).await.is_err() {
                return Err(self.queue_expired(&set, &settings));
            }
        }
    }

    fn log_request(&self, request_id: &str, status: u16, latency: Duration, mirrored: bool, payloads: (&[u8], &[u8])) {
        let mut record = serde_json::json!({
            "time": atelier_core::time::format_rfc3339(atelier_service::now_millis()),
            "request_id": request_id,
            "deployment": self.name,
            "status": status,
            "latency_ms": (latency.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
            "mirrored": mirrored,
        });
        let collection = self.collection.read().map(|collection| *collection).unwrap_or_default();
        if (collection.request || collection.response) && rand::random::<f64>() < collection.sampling_rate {
            let text =
                |bytes: &[u8]| String::from_utf8_lossy(&bytes[..bytes.len().min(PAYLOAD_LOG_BYTES)]).into_owned();
            if collection.request {
                record["request"] = serde_json::Value::String(text(payloads.0));
            }
            if collection.response {
                record["response"] = serde_json::Value::String(text(payloads.1));
            }
        }
        self.request_log.raw(&format!("{record}\n"));
    }
}

/// Counts a request in the queue-length gauge while it waits, once.
struct QueuedGauge<'a> {
    metrics: &'a Metrics,
    counted: std::cell::Cell<bool>,
}

impl<'a> QueuedGauge<'a> {
    fn new(metrics: &'a Metrics) -> Self {
        QueuedGauge { metrics, counted: std::cell::Cell::new(false) }
    }

    fn enter(&self) {
        if !self.counted.replace(true) {
            self.metrics.queued.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for QueuedGauge<'_> {
    fn drop(&mut self) {
        if self.counted.get() {
            self.metrics.queued.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// What the router knows of one endpoint.
struct Route {
    name: String,
    traffic: BTreeMap<String, u32>,
    mirror: Option<(String, u32)>,
    auth: ScoringAuth,
    pools: HashMap<String, Arc<Pool>>,
    /// Requests that reached no deployment (401, 404, …).
    metrics: Arc<Metrics>,
}

/// Endpoints at run time: the routing table and the deployments' worker pools.
pub struct Serving {
    service: Arc<Service>,
    root: PathBuf,
    sockets: tempfile::TempDir,
    host: PathBuf,
    routes: RwLock<Arc<HashMap<String, Arc<Route>>>>,
    pools: tokio::sync::Mutex<HashMap<(String, String), Arc<Pool>>>,
    endpoint_metrics: Mutex<HashMap<String, Arc<Metrics>>>,
}

fn percent_ticket() -> u32 {
    rand::random_range(0..100)
}

impl Serving {
    /// Serving with its files under `root` (`$ATELIER_HOME/serving`).
    pub fn new(service: Arc<Service>, root: PathBuf) -> std::io::Result<Arc<Self>> {
        std::fs::create_dir_all(&root)?;
        let host = root.join("atelier_scoring_host.py");
        std::fs::write(&host, SCORING_HOST)?;
        // Unix socket paths are short (108 bytes): they live in a fresh folder under /tmp.
        let sockets = tempfile::Builder::new().prefix("atelier-serving-").tempdir()?;
        Ok(Arc::new(Serving {
            service,
            root,
            sockets,
            host,
            routes: RwLock::new(Arc::new(HashMap::new())),
            pools: tokio::sync::Mutex::new(HashMap::new()),
            endpoint_metrics: Mutex::new(HashMap::new()),
        }))
    }

    /// Brings every deployment up, then follows changes until the process ends.
    pub async fn run(self: Arc<Self>) {
        loop {
            if let Err(error) = self.reconcile().await {
                tracing::warn!(%error, "bringing endpoints in line with their records failed");
            }
            let _ = tokio::time::timeout(Duration::from_secs(5), self.service.endpoint_changes().notified()).await;
        }
    }

    /// Brings the pools and the routing table in line with the records.
    pub async fn reconcile(self: &Arc<Self>) -> atelier_core::Result<()> {
        // The records are read under the lock: two passes at once must not apply an older
        // reading after a newer one (which once took a just-created deployment for a deleted
        // one and stopped it).
        let mut pools = self.pools.lock().await;
        let served = self.service.served_endpoints().await?;
        let mut wanted = HashSet::new();
        let mut routes = HashMap::new();
        for endpoint in served {
            let mut endpoint_pools = HashMap::new();
            for deployment in endpoint.deployments {
                let key = (deployment.endpoint.clone(), deployment.name.clone());
                wanted.insert(key.clone());
                let pool = match pools.get(&key) {
                    Some(pool) => pool.clone(),
                    None => {
                        let pool = self.start_pool(&deployment)?;
                        pools.insert(key, pool.clone());
                        pool
                    }
                };
                pool.desired.send_if_modified(|current| {
                    let changed = current.as_ref().map(|current| current.generation) != Some(deployment.generation);
                    if changed {
                        *current = Some(deployment.clone());
                    }
                    changed
                });
                endpoint_pools.insert(deployment.name.clone(), pool);
            }
            let name = endpoint.endpoint.name.clone();
            let metrics = self
                .endpoint_metrics
                .lock()
                .map(|mut metrics| metrics.entry(name.clone()).or_default().clone())
                .unwrap_or_default();
            let route = Route {
                name: name.clone(),
                traffic: endpoint.endpoint.traffic.clone(),
                mirror: endpoint.endpoint.mirror_traffic.iter().next().map(|(name, percent)| (name.clone(), *percent)),
                auth: endpoint.auth,
                pools: endpoint_pools,
                metrics,
            };
            routes.insert(name, Arc::new(route));
        }
        if let Ok(mut table) = self.routes.write() {
            *table = Arc::new(routes);
        }
        pools.retain(|key, pool| {
            let keep = wanted.contains(key);
            if !keep {
                pool.desired.send_replace(None);
            }
            keep
        });
        if let Ok(mut metrics) = self.endpoint_metrics.lock() {
            let names: HashSet<&String> = wanted.iter().map(|(endpoint, _)| endpoint).collect();
            metrics.retain(|name, _| names.contains(name));
        }
        Ok(())
    }

    fn start_pool(self: &Arc<Self>, deployment: &Deployment) -> atelier_core::Result<Arc<Pool>> {
        let dir = self.root.join(&deployment.endpoint).join(&deployment.name);
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs)
            .map_err(|error| atelier_core::Error::internal(format!("cannot create {}: {error}", logs.display())))?;
        let (desired, receiver) = watch::channel(None);
        let pool = Arc::new(Pool {
            endpoint: deployment.endpoint.clone(),
            name: deployment.name.clone(),
            dir,
            serving: RwLock::new(ServingSet::new(Vec::new())),
            settings: RwLock::new(RequestSettings::default()),
            collection: RwLock::new(DataCollection::default()),
            cursor: AtomicUsize::new(0),
            wake: Arc::new(Notify::new()),
            metrics: Arc::new(Metrics::default()),
            worker_log: LogFile::open(logs.join("inference-server.log")),
            setup_log: LogFile::open(logs.join("storage-initializer.log")),
            request_log: LogFile::open(logs.join("requests.log")),
            desired,
        });
        tokio::spawn(self.clone().supervise(pool.clone(), receiver));
        Ok(pool)
    }

    /// Rolls out each new generation of a deployment, and stops it when it is deleted.
    async fn supervise(self: Arc<Self>, pool: Arc<Pool>, mut desired: watch::Receiver<Option<Deployment>>) {
        let mut current_generation = 0;
        loop {
            let wanted = desired.borrow_and_update().clone();
            let Some(deployment) = wanted else { break };
            if deployment.generation != current_generation {
                current_generation = deployment.generation;
                self.roll_out(&pool, &deployment).await;
            }
            if desired.changed().await.is_err() {
                break;
            }
        }
        // Deleted: drain and stop what serves, then remove the files.
        let old = pool.replace_set(Vec::new());
        drain(old, pool.request_settings()).await;
        // The files go unless a deployment of the same name was created meanwhile.
        let pools = self.pools.lock().await;
        if !pools.contains_key(&(pool.endpoint.clone(), pool.name.clone())) {
            let _ = std::fs::remove_dir_all(&pool.dir);
        }
    }

    async fn roll_out(&self, pool: &Arc<Pool>, deployment: &Deployment) {
        let generation = deployment.generation;
        let state = match self.start_generation(pool, deployment).await {
            Ok((instances, settings)) => {
                if let Ok(mut current) = pool.settings.write() {
                    *current = settings;
                }
                if let Ok(plan) = Service::deployment_plan(deployment)
                    && let Ok(mut current) = pool.collection.write()
                {
                    *current = plan.data_collection;
                }
                let old = pool.replace_set(instances);
                pool.worker_log.line(&format!("generation {generation} serves"));
                let old_settings = settings;
                let dir = pool.dir.clone();
                tokio::spawn(async move {
                    let generations: HashSet<i64> = old.iter().map(|instance| instance.generation).collect();
                    drain(old, old_settings).await;
                    for old_generation in generations.into_iter().filter(|old| *old != generation) {
                        let _ = std::fs::remove_dir_all(dir.join(format!("g{old_generation}")));
                    }
                });
                Ok(())
            }
            Err(message) => {
                pool.worker_log.line(&format!("generation {generation} failed: {message}"));
                Err(message)
            }
        };
        let (state, error) = match &state {
            Ok(()) => (ProvisioningState::Succeeded, None),
            Err(message) => (ProvisioningState::Failed, Some(message.as_str())),
        };
        if let Err(error) = self.service.record_rollout(&pool.endpoint, &pool.name, generation, state, error).await {
            tracing::warn!(%error, endpoint = %pool.endpoint, deployment = %pool.name, "recording a rollout failed");
        }
    }

    /// Prepares a generation's files and environment and starts its instances; returns them
    /// once every one is ready.
    async fn start_generation(
        &self,
        pool: &Arc<Pool>,
        deployment: &Deployment,
    ) -> Result<(Vec<Arc<Instance>>, RequestSettings), String> {
        let generation = deployment.generation;
        let log = &pool.setup_log;
        let plan = Service::deployment_plan(deployment).map_err(|error| error.message)?;
        let gen_dir = pool.dir.join(format!("g{generation}"));
        let model_dir = gen_dir.join("model");
        let code_dir = gen_dir.join("code");
        let _ = std::fs::remove_dir_all(&gen_dir);
        for dir in [&model_dir, &code_dir] {
            std::fs::create_dir_all(dir).map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
        }
        log.line(&format!("generation {generation}: fetching the model and the code"));
        self.service
            .fetch_deployment_files(deployment, &plan, &model_dir, &code_dir)
            .await
            .map_err(|error| format!("fetching the model and code failed: {}", error.message))?;
        if plan.serving == ServingKind::Onnx {
            return self.start_onnx(pool, &plan, generation, &model_dir).await;
        }
        let python = self.python_for(&plan, log).await?;
        let launch = self.launch_for(&plan, python, &model_dir, &code_dir)?;
        log.line(&format!("generation {generation}: starting {} instance(s)", plan.instance_count));
        let mut instances = Vec::new();
        let mut firsts = Vec::new();
        for index in 0..plan.instance_count.max(1) as usize {
            let socket = self.sockets.path().join(format!("{}.sock", uuid::Uuid::new_v4().simple()));
            let instance = Instance::new(index, generation, socket, &plan.request_settings);
            let mut launch = launch.clone();
            launch.args.extend(["--socket".to_owned(), instance.socket_path().display().to_string()]);
            let (first, ready) = oneshot::channel();
            let supervision = Supervision {
                launch,
                readiness: plan.readiness_probe,
                liveness: plan.liveness_probe,
                log: pool.worker_log.clone(),
                metrics: pool.metrics.clone(),
                wake: pool.wake.clone(),
            };
            tokio::spawn(worker::supervise(instance.clone(), supervision, first));
            instances.push(instance);
            firsts.push(ready);
        }
        let mut failure = None;
        for ready in firsts {
            match ready.await {
                Ok(Ok(())) => {}
                Ok(Err(message)) => {
                    failure.get_or_insert(message);
                }
                Err(_) => {
                    failure.get_or_insert_with(|| "the worker's supervisor ended".to_owned());
                }
            }
        }
        if let Some(message) = failure {
            for instance in &instances {
                instance.stop();
            }
            return Err(message);
        }
        Ok((instances, plan.request_settings))
    }

    /// Loads an ONNX model once and serves it from `instance_count` in-process instances.
    #[cfg(feature = "onnx")]
    async fn start_onnx(
        &self,
        pool: &Arc<Pool>,
        plan: &DeploymentPlan,
        generation: i64,
        model_dir: &Path,
    ) -> Result<(Vec<Arc<Instance>>, RequestSettings), String> {
        let path = onnx::find_onnx(model_dir)?;
        pool.setup_log.line(&format!("generation {generation}: loading {}", path.display()));
        let model = tokio::task::spawn_blocking(move || onnx::OnnxModel::load(&path))
            .await
            .map_err(|error| format!("loading the ONNX model failed: {error}"))??;
        let model = Arc::new(model);
        pool.worker_log.line(&format!("generation {generation}: ONNX model loaded; serving in process"));
        let instances = (0..plan.instance_count.max(1) as usize)
            .map(|index| {
                let model = model.clone();
                let score: worker::InProcess = Arc::new(move |body: &[u8]| model.score(body));
                Instance::in_process(index, generation, &plan.request_settings, score, &pool.metrics)
            })
            .collect();
        Ok((instances, plan.request_settings))
    }

    #[cfg(not(feature = "onnx"))]
    async fn start_onnx(
        &self,
        _pool: &Arc<Pool>,
        _plan: &DeploymentPlan,
        _generation: i64,
        _model_dir: &Path,
    ) -> Result<(Vec<Arc<Instance>>, RequestSettings), String> {
        Err("this server was built without ONNX support (the cargo feature 'onnx')".to_owned())
    }

    /// The Python an instance runs: the machine's for the built-in environment, else the built
    /// environment's.
    async fn python_for(&self, plan: &DeploymentPlan, log: &LogFile) -> Result<PathBuf, String> {
        if plan.environment.builtin {
            return Ok(PathBuf::from("python3"));
        }
        let builder = self.service.environment_builder().ok_or("this server does not build environments")?;
        let spec = atelier_core::environment::EnvironmentSpec {
            python: plan.environment.python.clone(),
            requirements: plan.environment.requirements.clone(),
            image: plan.environment.image.clone(),
            ..Default::default()
        };
        log.line(&format!("building environment {}", plan.environment.name));
        let build = builder.build(&spec).await.map_err(|error| {
            log.line(&format!("environment {} failed: {}", plan.environment.name, error.message));
            format!("environment {} failed to build: {}", plan.environment.name, error.message)
        })?;
        if let Some(text) = &build.log {
            log.raw(text);
        }
        let python = build.python.ok_or("the environment has no Python")?;
        log.line(&format!("environment {} ready at {}", plan.environment.name, python.display()));
        Ok(python)
    }

    fn launch_for(
        &self,
        plan: &DeploymentPlan,
        python: PathBuf,
        model_dir: &Path,
        code_dir: &Path,
    ) -> Result<Launch, String> {
        let mut env: Vec<(String, String)> =
            std::env::vars().filter(|(key, _)| atelier_service::inheritable_variable(key)).collect();
        env.extend(plan.environment_variables.iter().map(|(key, value)| (key.clone(), value.clone())));
        env.push(("AZUREML_MODEL_DIR".to_owned(), model_dir.display().to_string()));
        env.push(("PYTHONUNBUFFERED".to_owned(), "1".to_owned()));
        let mut args = vec![self.host.display().to_string()];
        match plan.serving {
            ServingKind::Script => {
                let script = plan.scoring_script.as_deref().ok_or("the deployment has no scoring script")?;
                let script = atelier_core::limits::normalize_artifact_path(script).map_err(|error| error.message)?;
                let path = code_dir.join(&script);
                env.push(("AZUREML_ENTRY_SCRIPT".to_owned(), path.display().to_string()));
                env.push(("AML_APP_ROOT".to_owned(), code_dir.display().to_string()));
                args.extend([
                    "--script".to_owned(),
                    path.display().to_string(),
                    "--app-root".to_owned(),
                    code_dir.display().to_string(),
                ]);
            }
            ServingKind::Mlflow => {
                let mlmodel = find_mlmodel(model_dir).ok_or("the model has no MLmodel file")?;
                args.extend(["--mlflow-model".to_owned(), mlmodel.display().to_string()]);
            }
            ServingKind::Onnx => return Err("ONNX deployments are not served by the scoring host".to_owned()),
        }
        Ok(Launch { program: python, args, env, cwd: code_dir.to_path_buf() })
    }

    /// Answers a scoring request to endpoint `name`.
    pub async fn score(&self, name: &str, request: ScoreRequest) -> ScoreResponse {
        let arrived = Instant::now();
        let request_id = uuid::Uuid::new_v4().to_string();
        let route = self.routes.read().ok().and_then(|routes| routes.get(name).cloned());
        let Some(route) = route else {
            let error = RouterError::NotFound(format!("online endpoint '{name}' not found"));
            return ScoreResponse::error(request_id, None, &error);
        };
        if let Err(error) = self.authenticate(&route, request.authorization.as_deref()) {
            route.metrics.record(error.status(), arrived.elapsed());
            return ScoreResponse::error(request_id, None, &error);
        }
        let (pool, live) = match self.choose(&route, request.deployment.as_deref()) {
            Ok(chosen) => chosen,
            Err(error) => {
                route.metrics.record(error.status(), arrived.elapsed());
                return ScoreResponse::error(request_id, None, &error);
            }
        };
        if live
            && let Some((mirror, percent)) = &route.mirror
            && percent_ticket() < *percent
            && let Some(mirror_pool) = route.pools.get(mirror)
        {
            let mirror_pool = mirror_pool.clone();
            let body = request.body.clone();
            let mirror_id = request_id.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                mirror_pool.metrics.mirrored.fetch_add(1, Ordering::Relaxed);
                let status = match mirror_pool.call(&body).await {
                    Ok(answer) => answer.status,
                    Err(error) => error.status(),
                };
                mirror_pool.metrics.record(status, started.elapsed());
                mirror_pool.log_request(&mirror_id, status, started.elapsed(), true, (&body, b""));
            });
        }
        let response = match pool.call(&request.body).await {
            Ok(answer) if answer.status == 200 => ScoreResponse {
                status: 200,
                content_type: answer.content_type,
                headers: vec![("azureml-model-deployment", pool.name.clone())],
                body: answer.body,
                request_id,
            },
            Ok(answer) => ScoreResponse {
                // The model answered with an error: Azure's front end says 424 and passes the
                // model's status and body on.
                status: 424,
                content_type: answer.content_type,
                headers: vec![
                    ("azureml-model-deployment", pool.name.clone()),
                    ("ms-azureml-model-error-statuscode", answer.status.to_string()),
                    ("ms-azureml-model-error-reason", reason_phrase(answer.status).to_owned()),
                ],
                body: answer.body,
                request_id,
            },
            Err(error) => ScoreResponse::error(request_id, Some(&pool.name), &error),
        };
        let latency = arrived.elapsed();
        pool.metrics.record(response.status, latency);
        pool.log_request(&response.request_id, response.status, latency, false, (&request.body, &response.body));
        response
    }

    fn authenticate(&self, route: &Route, authorization: Option<&str>) -> Result<(), RouterError> {
        let Some(header) = authorization else {
            return Err(RouterError::Unauthorized(format!(
                "online endpoint '{}' needs an Authorization header: Bearer <key or token>",
                route.name
            )));
        };
        let credential = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|credential| !credential.is_empty())
            .ok_or_else(|| {
                RouterError::Unauthorized("the Authorization header must be 'Bearer <key or token>'".to_owned())
            })?;
        let valid = match route.auth.mode {
            AuthMode::Key => route.auth.key_digests.contains(&key_digest(credential)),
            AuthMode::AmlToken => self.service.verify_endpoint_token(&route.name, credential),
        };
        if valid {
            Ok(())
        } else {
            Err(RouterError::Unauthorized(match route.auth.mode {
                AuthMode::Key => format!("the key is not a key of online endpoint '{}'", route.name),
                AuthMode::AmlToken => {
                    format!("the token is not a valid, unexpired token of online endpoint '{}'", route.name)
                }
            }))
        }
    }

    /// The pool a request goes to, and whether it is live traffic (which may be mirrored).
    fn choose<'a>(&self, route: &'a Route, header: Option<&str>) -> Result<(&'a Arc<Pool>, bool), RouterError> {
        if let Some(wanted) = header.map(str::trim).filter(|wanted| !wanted.is_empty()) {
            return route.pools.get(wanted).map(|pool| (pool, false)).ok_or_else(|| {
                let mut names: Vec<&str> = route.pools.keys().map(String::as_str).collect();
                names.sort_unstable();
                RouterError::NotFound(format!(
                    "online endpoint '{}' has no deployment '{wanted}' (named by the azureml-model-deployment header); it has: {}",
                    route.name,
                    if names.is_empty() { "none".to_owned() } else { names.join(", ") }
                ))
            });
        }
        let chosen = pick_by_weight(&route.traffic, percent_ticket()).ok_or_else(|| {
            RouterError::NotFound(format!(
                "online endpoint '{}' sends no traffic to any deployment: set traffic (online-endpoint update --traffic), or name a deployment in the azureml-model-deployment header",
                route.name
            ))
        })?;
        route.pools.get(chosen).map(|pool| (pool, true)).ok_or_else(|| {
            RouterError::NotFound(format!("online endpoint '{}' has no deployment '{chosen}'", route.name))
        })
    }

    /// The last `lines` lines of a deployment's log.
    pub async fn logs(&self, endpoint: &str, deployment: &str, kind: LogKind, lines: usize) -> Option<String> {
        let pools = self.pools.lock().await;
        let pool = pools.get(&(endpoint.to_owned(), deployment.to_owned()))?;
        let log = match kind {
            LogKind::InferenceServer => &pool.worker_log,
            LogKind::StorageInitializer => &pool.setup_log,
            LogKind::Requests => &pool.request_log,
        };
        Some(log.tail(lines))
    }

    /// The live figures of a deployment: ready instances, queued requests, restarts, and
    /// requests by status.
    pub async fn deployment_metrics(&self, endpoint: &str, deployment: &str) -> Option<Arc<Metrics>> {
        let pools = self.pools.lock().await;
        pools.get(&(endpoint.to_owned(), deployment.to_owned())).map(|pool| pool.metrics.clone())
    }

    /// Every endpoint's and deployment's metrics in Prometheus's text format.
    pub async fn prometheus(&self) -> String {
        let mut series = Vec::new();
        if let Ok(metrics) = self.endpoint_metrics.lock() {
            for (endpoint, metrics) in metrics.iter() {
                series.push((endpoint.clone(), String::new(), metrics.clone()));
            }
        }
        for ((endpoint, deployment), pool) in self.pools.lock().await.iter() {
            series.push((endpoint.clone(), deployment.clone(), pool.metrics.clone()));
        }
        series.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        metrics::render(&series)
    }
}

/// Waits for instances to finish what they are doing (at most their request timeout), then
/// stops them.
async fn drain(instances: Vec<Arc<Instance>>, settings: RequestSettings) {
    let limit = Duration::from_millis(settings.request_timeout_ms.max(1) as u64) + Duration::from_secs(1);
    for instance in instances {
        let _ = tokio::time::timeout(limit, instance.slots.acquire_many(instance.max_concurrent)).await;
        instance.stop();
    }
}

/// The folder holding `MLmodel` under a model folder (the model itself, or one level down).
fn find_mlmodel(model_dir: &Path) -> Option<PathBuf> {
    if model_dir.join("MLmodel").is_file() {
        return Some(model_dir.to_path_buf());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(model_dir).ok()?.flatten().map(|entry| entry.path()).collect();
    entries.sort();
    entries.into_iter().find(|path| path.join("MLmodel").is_file())
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        404 => "Not Found",
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_rotate_and_tail_reads_only_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let log = LogFile::open(dir.path().join("requests.log"));
        let line = "x".repeat(1023);
        for _ in 0..(LOG_ROTATE_BYTES / 1024 + 10) {
            log.raw(&format!("{line}\n"));
        }
        let rotated = std::fs::metadata(dir.path().join("requests.log.1")).unwrap().len();
        assert_eq!(rotated, LOG_ROTATE_BYTES, "rotated at the limit");
        assert_eq!(std::fs::metadata(dir.path().join("requests.log")).unwrap().len(), 10 * 1024);
        log.raw("last\n");
        let tail = log.tail(2);
        assert_eq!(tail, format!("{line}\nlast\n"));
    }
}

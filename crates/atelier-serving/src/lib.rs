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

mod logs;
mod metrics;
#[cfg(feature = "onnx")]
mod onnx;
mod pool;
mod rollout;
mod router;
mod worker;

pub use atelier_service::LogKind;
pub use logs::LogFile;
pub use metrics::Metrics;
use pool::Pool;
use router::Route;
pub use router::{RouterError, ScoreRequest, ScoreResponse};

use atelier_service::{EndpointFilter, PortFuture, Service, ServingPort};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// The scoring host each script or MLflow instance runs.
const SCORING_HOST: &str = include_str!("../python/atelier_scoring_host.py");

/// Endpoints at run time: the routing table and the deployments' worker pools.
pub struct Serving {
    /// Itself, for the port: applying a change starts supervisors that hold the serving layer.
    me: std::sync::Weak<Serving>,
    service: Arc<Service>,
    root: PathBuf,
    sockets: tempfile::TempDir,
    host: PathBuf,
    routes: RwLock<Arc<HashMap<String, Arc<Route>>>>,
    pools: tokio::sync::Mutex<HashMap<(String, String), Arc<Pool>>>,
    endpoint_metrics: Mutex<HashMap<String, Arc<Metrics>>>,
}

impl Serving {
    /// Serving with its files under `root` (`$ATELIER_HOME/serving`).
    pub fn new(service: Arc<Service>, root: PathBuf) -> std::io::Result<Arc<Self>> {
        // The scoring host has a folder of its own, which confined workers see read-only.
        std::fs::create_dir_all(root.join("host"))?;
        let host = root.join("host").join("atelier_scoring_host.py");
        std::fs::write(&host, SCORING_HOST)?;
        // Unix socket paths are short (108 bytes): they live in a fresh folder under /tmp.
        let sockets = tempfile::Builder::new().prefix("atelier-serving-").tempdir()?;
        Ok(Arc::new_cyclic(|me| Serving {
            me: me.clone(),
            service,
            root,
            sockets,
            host,
            routes: RwLock::new(Arc::new(HashMap::new())),
            pools: tokio::sync::Mutex::new(HashMap::new()),
            endpoint_metrics: Mutex::new(HashMap::new()),
        }))
    }

    /// The folder of the scoring host's script.
    fn host_dir(&self) -> PathBuf {
        self.host.parent().map(Path::to_path_buf).unwrap_or_else(|| self.root.clone())
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
        // Every endpoint keeps its own counters (401s, 404s), with or without deployments.
        let endpoint_names: HashSet<String> = routes.keys().cloned().collect();
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
            metrics.retain(|name, _| endpoint_names.contains(name));
        }
        Ok(())
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

    /// The metrics of the endpoints `filter` shows (the service decides which), and of their
    /// deployments, in Prometheus's text format.
    pub async fn prometheus(&self, filter: &EndpointFilter) -> String {
        let mut series = Vec::new();
        if let Ok(metrics) = self.endpoint_metrics.lock() {
            for (endpoint, metrics) in metrics.iter().filter(|(endpoint, _)| filter.shows(endpoint)) {
                series.push((endpoint.clone(), String::new(), metrics.clone()));
            }
        }
        for ((endpoint, deployment), pool) in self.pools.lock().await.iter() {
            if filter.shows(endpoint) {
                series.push((endpoint.clone(), deployment.clone(), pool.metrics.clone()));
            }
        }
        series.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        metrics::render(&series)
    }
}

/// What the service reads through its port: logs and counters, as the service authorized.
impl ServingPort for Serving {
    fn deployment_logs<'a>(
        &'a self,
        endpoint: &'a str,
        deployment: &'a str,
        kind: LogKind,
        lines: usize,
    ) -> PortFuture<'a, Option<String>> {
        Box::pin(self.logs(endpoint, deployment, kind, lines))
    }

    fn prometheus<'a>(&'a self, filter: &'a EndpointFilter) -> PortFuture<'a, String> {
        Box::pin(Serving::prometheus(self, filter))
    }

    fn apply(&self) -> PortFuture<'_, atelier_core::Result<()>> {
        Box::pin(async move {
            match self.me.upgrade() {
                Some(me) => me.reconcile().await,
                None => Ok(()),
            }
        })
    }
}

//! The port to the serving layer: what the service asks of the endpoints that run (a
//! deployment's logs, the Prometheus counters), defined here and implemented by
//! `atelier-serving`, so that reading them is an authorized operation like every other read.
//! The serving layer decides nothing: the service says which endpoints a caller may see.

use crate::{Principal, Service, Target};
use atelier_core::authz::Action;
use atelier_core::names::WorkspaceName;
use atelier_core::{Error, Result};
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};

/// What a port's method returns: a future that may be sent between threads.
pub type PortFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Which log of a deployment `get-logs` reads.
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

/// Which endpoints' counters a caller sees at `/metrics`, as the service decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointFilter {
    /// Every endpoint's, also those no record names any more (a server administrator).
    All,
    /// Only these endpoints' (names are unique on the server).
    Only(BTreeSet<String>),
}

impl EndpointFilter {
    /// Whether the counters of `endpoint` are shown.
    pub fn shows(&self, endpoint: &str) -> bool {
        match self {
            EndpointFilter::All => true,
            EndpointFilter::Only(names) => names.contains(endpoint),
        }
    }
}

/// The serving layer, as the service sees it.
pub trait ServingPort: Send + Sync {
    /// The last `lines` lines of one log of a deployment; `None` when it does not run here.
    fn deployment_logs<'a>(
        &'a self,
        endpoint: &'a str,
        deployment: &'a str,
        kind: LogKind,
        lines: usize,
    ) -> PortFuture<'a, Option<String>>;

    /// The counters of the endpoints `filter` shows, in Prometheus's text format.
    fn prometheus<'a>(&'a self, filter: &'a EndpointFilter) -> PortFuture<'a, String>;

    /// Brings the running endpoints in line with the records now (a change was just written).
    fn apply(&self) -> PortFuture<'_, Result<()>>;
}

impl Service {
    /// Connects the serving layer. It holds the service, so the service keeps only a weak
    /// reference to it; the first connection stays.
    pub fn attach_serving(&self, port: Arc<dyn ServingPort>) {
        let _ = self.serving.set(Arc::downgrade(&port));
    }

    pub(crate) fn serving_port(&self) -> Option<Arc<dyn ServingPort>> {
        self.serving.get().and_then(Weak::upgrade)
    }

    /// The end of one log of a deployment, for those who may read the deployment.
    pub async fn deployment_logs(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        endpoint: &str,
        deployment: &str,
        kind: LogKind,
        lines: usize,
    ) -> Result<String> {
        self.get_deployment(principal, workspace, endpoint, deployment).await?;
        let port = self.serving_port().ok_or_else(|| Error::invalid("this server runs no endpoints"))?;
        Ok(port.deployment_logs(endpoint, deployment, kind, lines).await.unwrap_or_default())
    }

    /// The Prometheus counters `principal` may see: every endpoint's for an administrator, else
    /// those of the workspaces where they may read endpoints. A job's token may not read them; a
    /// token scoped to metrics sees what its user sees.
    pub async fn endpoint_metrics(&self, principal: &Principal) -> Result<String> {
        let filter = self.endpoint_filter(principal).await?;
        match self.serving_port() {
            Some(port) => Ok(port.prometheus(&filter).await),
            None => Ok(String::new()),
        }
    }

    /// Which endpoints' counters `principal` may see.
    async fn endpoint_filter(&self, principal: &Principal) -> Result<EndpointFilter> {
        if self.authorize_server_on(principal, Action::ServerAdmin, Target::Metrics).is_ok() {
            return Ok(EndpointFilter::All);
        }
        let mut names = BTreeSet::new();
        for workspace in self.permitted_workspaces(principal, Action::EndpointsRead, Target::Metrics).await? {
            for (endpoint, _) in self.store.list_endpoints(Some(&workspace.name)).await? {
                names.insert(endpoint.name);
            }
        }
        Ok(EndpointFilter::Only(names))
    }
}

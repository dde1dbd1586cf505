//! A deployment's pool: the instances of the generation that serves, their slots in arrival order,
//! the queue gauge, the call to a worker, and draining an old generation.

use crate::*;
use atelier_core::endpoint::Deployment;
use atelier_spec::endpoint::{DataCollection, RequestSettings};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};
use worker::Instance;

/// The running side of one deployment: its instances (of the generation that serves), its
/// request settings, metrics and logs, and the supervisor that rolls out new generations.
pub(crate) struct Pool {
    pub(crate) endpoint: String,
    pub(crate) name: String,
    pub(crate) dir: PathBuf,
    pub(crate) serving: RwLock<Arc<ServingSet>>,
    pub(crate) settings: RwLock<RequestSettings>,
    /// Which payloads the request log keeps (`data_collector`).
    pub(crate) collection: RwLock<DataCollection>,
    pub(crate) cursor: AtomicUsize,
    /// Woken when a slot frees up or the instances change.
    pub(crate) wake: Arc<Notify>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) worker_log: Arc<LogFile>,
    pub(crate) setup_log: Arc<LogFile>,
    pub(crate) request_log: Arc<LogFile>,
    pub(crate) desired: watch::Sender<Option<Deployment>>,
}

/// The instances that serve a deployment now, with the queue in front of them: one admission
/// permit per slot of every instance, handed out first come, first served. When a rollout
/// replaces the set, the old queue is closed and its waiters move to the new one.
pub(crate) struct ServingSet {
    pub(crate) instances: Vec<Arc<Instance>>,
    pub(crate) admission: Arc<tokio::sync::Semaphore>,
}

impl ServingSet {
    pub(crate) fn new(instances: Vec<Arc<Instance>>) -> Arc<Self> {
        let slots = instances.iter().map(|instance| instance.max_concurrent as usize).sum();
        Arc::new(ServingSet { instances, admission: Arc::new(tokio::sync::Semaphore::new(slots)) })
    }
}

/// A slot on an instance; freeing it wakes queued requests.
pub(crate) struct Slot<'a> {
    pub(crate) _permit: tokio::sync::SemaphorePermit<'a>,
    pub(crate) wake: &'a Notify,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.wake.notify_waiters();
    }
}

impl Pool {
    pub(crate) fn serving_set(&self) -> Arc<ServingSet> {
        self.serving.read().map(|serving| serving.clone()).unwrap_or_else(|_| ServingSet::new(Vec::new()))
    }

    /// Makes `instances` the serving set; returns the instances it replaces.
    pub(crate) fn replace_set(&self, instances: Vec<Arc<Instance>>) -> Vec<Arc<Instance>> {
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

    pub(crate) fn request_settings(&self) -> RequestSettings {
        self.settings.read().map(|settings| *settings).unwrap_or_default()
    }

    /// A free slot on a ready instance, trying instances in turn.
    pub(crate) fn try_slot<'a>(&'a self, instances: &'a [Arc<Instance>]) -> Option<(&'a Arc<Instance>, Slot<'a>)> {
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

    pub(crate) fn queue_expired(&self, set: &ServingSet, settings: &RequestSettings) -> RouterError {
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
    pub(crate) async fn call(&self, body: &[u8]) -> Result<worker::Answer, RouterError> {
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

    pub(crate) fn log_request(
        &self,
        request_id: &str,
        status: u16,
        latency: Duration,
        mirrored: bool,
        payloads: (&[u8], &[u8]),
    ) {
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
pub(crate) struct QueuedGauge<'a> {
    pub(crate) metrics: &'a Metrics,
    pub(crate) counted: std::cell::Cell<bool>,
}

impl<'a> QueuedGauge<'a> {
    pub(crate) fn new(metrics: &'a Metrics) -> Self {
        QueuedGauge { metrics, counted: std::cell::Cell::new(false) }
    }

    pub(crate) fn enter(&self) {
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

/// Waits for instances to finish what they are doing (at most their request timeout), then
/// stops them.
pub(crate) async fn drain(instances: Vec<Arc<Instance>>, settings: RequestSettings) {
    let limit = Duration::from_millis(settings.request_timeout_ms.max(1) as u64) + Duration::from_secs(1);
    for instance in instances {
        let _ = tokio::time::timeout(limit, instance.slots.acquire_many(instance.max_concurrent)).await;
        instance.stop();
    }
}

/// The most of a request's or response's body the request log keeps, when collected.
pub(crate) const PAYLOAD_LOG_BYTES: usize = 64 << 10;

//! Several servers on one database: one of them, the leader, does the periodic work that must
//! happen once (starting queued jobs, driving sweeps and pipelines, reconciling with clusters,
//! collecting garbage, the audit log's retention). Every server serves requests.
//!
//! Leadership is a lease in the store ([`atelier_store::LeaseStore`]), taken for
//! [`LEASE_FOR`] and renewed every [`RENEW_EVERY`]. A server counts itself leader only until
//! its last renewal's lease would expire, less a margin, so a server cut off from the database
//! stops acting before another can take over. A server that stops gives the lease up, and
//! another takes it on its next try.

use crate::{Service, now_millis};
use atelier_core::Result;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The lease's name in the store.
const LEADER_LEASE: &str = "leader";
/// How long a taken lease lasts.
pub const LEASE_FOR: Duration = Duration::from_secs(10);
/// How often the leader renews it, and the others try to take it.
pub const RENEW_EVERY: Duration = Duration::from_secs(3);
/// A leader stops counting itself leader this long before its lease expires.
const MARGIN: Duration = Duration::from_secs(2);

impl Service {
    /// Names this server among the servers of one database (default: random). A server that
    /// keeps its id across restarts (the binary keeps it in its home) takes its own lease back
    /// at once after a crash instead of waiting for it to expire.
    pub fn with_server_id(mut self, id: String) -> Self {
        self.server_id = id;
        self
    }

    /// This server's id among the servers of one database.
    pub fn server_id(&self) -> &str {
        &self.server_id
    }

    /// Whether this server holds the leader's lease now.
    pub fn is_leader(&self) -> bool {
        now_millis() < self.leader_until.load(Ordering::SeqCst)
    }

    /// Takes or renews the leader's lease once; returns whether this server leads.
    pub async fn renew_leadership(&self) -> Result<bool> {
        let now = now_millis();
        let until = now + LEASE_FOR.as_millis() as i64;
        let taken = self.store.take_lease(LEADER_LEASE, &self.server_id, now, until).await?;
        let was = self.is_leader();
        if taken {
            self.leader_until.store(until - MARGIN.as_millis() as i64, Ordering::SeqCst);
            if !was {
                tracing::info!(server = %self.server_id, "this server leads: it runs the scheduler and the periodic work");
                self.wake_scheduler();
            }
        } else {
            self.leader_until.store(0, Ordering::SeqCst);
            if was {
                tracing::warn!(server = %self.server_id, "another server took the lead");
            }
        }
        Ok(taken)
    }

    /// Keeps trying to lead, until the process ends.
    pub async fn run_leadership(self: Arc<Self>) {
        loop {
            if let Err(error) = self.renew_leadership().await {
                tracing::warn!(%error, "cannot renew the leader's lease");
            }
            tokio::time::sleep(RENEW_EVERY).await;
        }
    }

    /// Gives the lead up (at shutdown), so another server takes it at once.
    pub async fn step_down(&self) {
        self.leader_until.store(0, Ordering::SeqCst);
        if let Err(error) = self.store.release_lease(LEADER_LEASE, &self.server_id).await {
            tracing::warn!(%error, "cannot give the leader's lease up");
        }
    }
}

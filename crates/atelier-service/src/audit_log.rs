//! Reading and keeping the audit log. Records are written by the store, in the transaction of
//! the change they describe (see `atelier_store::audit`), and by the HTTP layer after an answer
//! that no transaction recorded ([`Service::append_audit`]).

use crate::{Principal, Service, Target};
use atelier_core::audit::{AuditPage, AuditParams, AuditQuery, AuditRecord};
use atelier_core::authz::Action;
use atelier_core::names::WorkspaceName;
use atelier_core::{Error, Result};

/// The most records one page holds.
pub const MAX_AUDIT_PAGE: i64 = 1_000;

impl Service {
    /// Whether calls are audited (on unless the server was started without it).
    pub fn auditing(&self) -> bool {
        self.audit_enabled
    }

    /// A page of the audit log, newest first, selected by what the caller wrote (`since` as a
    /// window such as `1h` or epoch milliseconds, an action pattern, a page token…). A
    /// workspace's records are read by those who may assign its roles (its Owners, and custom
    /// roles that grant `Microsoft.Authorization/roleAssignments/write`): who did what is access
    /// management's business. The whole log, sign-ins and server administration included, is the
    /// server administrators'.
    pub async fn list_audit(&self, principal: &Principal, params: &AuditParams<'_>) -> Result<AuditPage> {
        let query = AuditQuery::parse(params, crate::now_millis())?;
        if !(1..=MAX_AUDIT_PAGE).contains(&query.limit) {
            return Err(Error::invalid(format!(
                "invalid limit {}: a page holds 1 to {MAX_AUDIT_PAGE} records",
                query.limit
            )));
        }
        match &query.workspace {
            Some(workspace) => {
                let workspace = WorkspaceName::parse(workspace)?;
                self.authorize_on(principal, &workspace, Action::RoleAssignmentsWrite, Target::Account).await?;
            }
            None => self.authorize_server_on(principal, Action::ServerAdmin, Target::Account)?,
        }
        let records = self.store.list_audit(&query).await?;
        // A full page may have older records after it; a short one is the last.
        let next_page_token =
            records.last().filter(|_| records.len() as i64 == query.limit).map(|record| record.id.to_string());
        Ok(AuditPage { records, next_page_token })
    }

    /// Appends a record that no transaction carried: a denial, a failure, or a change outside
    /// the metadata store. A failure to append is logged, never answered: the call's own answer
    /// stands.
    pub async fn append_audit(&self, record: &AuditRecord) {
        if let Err(error) = self.store.append_audit(record).await {
            tracing::error!(%error, request_id = %record.request_id, "an audit record could not be written");
        }
    }

    /// Deletes the records older than `days`; for the server's periodic sweep.
    pub async fn apply_audit_retention(&self, days: u64) -> Result<u64> {
        let days = days.min(100 * 365);
        let cutoff = crate::now_millis().saturating_sub(days as i64 * 86_400_000);
        let purged = self.store.purge_audit(cutoff).await?;
        if purged > 0 {
            tracing::info!(records = purged, days, "audit records past their retention deleted");
        }
        Ok(purged)
    }
}

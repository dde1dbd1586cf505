//! The audit log, newest first, a page at a time: the whole log for server administrators, a
//! workspace's for those who may assign its roles.

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::wire::MultiQuery;
use atelier_core::audit::{AuditParams, AuditRecord};
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/audit", get(list_audit)).route("/workspaces/{ws}/audit", get(list_workspace_audit))
}

#[derive(OpenApi)]
#[openapi(paths(list_audit, list_workspace_audit), components(schemas(AuditPage, AuditRecordDto)))]
pub(super) struct Doc;

/// Which records: every filter is optional; `since` and `until` are epoch milliseconds or a
/// window back from now (`30m`, `1h`, `7d`).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditFilter {
    /// Only this workspace's records (on `/api/v1/audit`).
    workspace: Option<String>,
    since: Option<String>,
    until: Option<String>,
    /// Only this user's calls.
    user: Option<String>,
    /// An action string with `*` wildcards, without regard to case (`*/delete`).
    action: Option<String>,
    /// `succeeded`, `failed` or `denied`.
    outcome: Option<String>,
    /// Records per page, 1 to 1,000 (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// The previous page's `next_page_token`.
    page_token: Option<String>,
}

impl AuditFilter {
    fn params<'a>(&'a self, workspace: Option<&'a str>) -> AuditParams<'a> {
        AuditParams {
            workspace: workspace.or(self.workspace.as_deref()),
            since: self.since.as_deref(),
            until: self.until.as_deref(),
            user: self.user.as_deref(),
            action: self.action.as_deref(),
            outcome: self.outcome.as_deref(),
            limit: self.limit.as_deref(),
            page_token: self.page_token.as_deref(),
        }
    }
}

/// One audited call. Never a secret, never a body.
#[derive(Serialize, ToSchema)]
pub struct AuditRecordDto {
    id: i64,
    /// When the call arrived, in milliseconds since the epoch.
    time: i64,
    user: Option<String>,
    token_id: Option<String>,
    job: Option<String>,
    address: Option<String>,
    workspace: Option<String>,
    /// Azure's action string, `Atelier/users/signIn/action` or `Atelier/users/self/write`.
    action: String,
    /// The method and path, and the object acted on where the path does not name it.
    target: String,
    /// `succeeded`, `failed` or `denied`.
    outcome: String,
    /// The error code of a failure or a denial.
    error: Option<String>,
    request_id: String,
}

impl From<AuditRecord> for AuditRecordDto {
    fn from(record: AuditRecord) -> Self {
        AuditRecordDto {
            id: record.id,
            time: record.at,
            user: record.user,
            token_id: record.token_id,
            job: record.job,
            address: record.address,
            workspace: record.workspace,
            action: record.action,
            target: record.target,
            outcome: record.outcome.as_str().to_owned(),
            error: record.error,
            request_id: record.request_id,
        }
    }
}

/// A page of records, newest first.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    records: Vec<AuditRecordDto>,
    /// Pass as `page_token` for the next page; absent on the last.
    next_page_token: Option<String>,
}

impl From<atelier_core::audit::AuditPage> for AuditPage {
    fn from(page: atelier_core::audit::AuditPage) -> Self {
        AuditPage {
            records: page.records.into_iter().map(AuditRecordDto::from).collect(),
            next_page_token: page.next_page_token,
        }
    }
}

/// The audit log of the whole server (server administrators).
#[utoipa::path(get, path = "/api/v1/audit", params(AuditFilter), responses((status = 200, body = AuditPage)))]
pub(crate) async fn list_audit(
    State(state): State<AppState>,
    Caller(principal): Caller,
    MultiQuery(filter): MultiQuery<AuditFilter>,
) -> ApiResult<Json<AuditPage>> {
    Ok(Json(state.service.list_audit(&principal, &filter.params(None)).await?.into()))
}

/// A workspace's audit log (its Owners, and roles that may assign its roles).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/audit", params(("ws" = String, Path), AuditFilter),
    responses((status = 200, body = AuditPage)))]
pub(crate) async fn list_workspace_audit(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    MultiQuery(filter): MultiQuery<AuditFilter>,
) -> ApiResult<Json<AuditPage>> {
    let workspace = super::workspace(&ws)?;
    Ok(Json(state.service.list_audit(&principal, &filter.params(Some(workspace.as_str()))).await?.into()))
}

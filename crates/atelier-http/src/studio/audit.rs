//! The audit log's pages: a workspace's for its Owners (`/w/{ws}/audit`), the whole server's for
//! administrators (`/audit`), newest first, filtered by the query string.

use super::common::*;
use super::session::{Browser, Layout, render, urlencode};
use crate::AppState;
use askama::Template;
use atelier_core::Error;
use atelier_core::audit::{AuditParams, AuditRecord, Outcome};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "audit.html")]
pub(super) struct AuditPage {
    layout: Layout,
    /// The workspace whose log this is; empty for the whole server's.
    workspace: String,
    filter: AuditFilter,
    outcomes: Vec<&'static str>,
    rows: Vec<AuditRow>,
    /// The link to the next (older) page.
    older: Option<String>,
}

pub(super) struct AuditRow {
    pub(super) time: String,
    pub(super) principal: String,
    pub(super) address: String,
    pub(super) workspace: String,
    pub(super) action: String,
    pub(super) target: String,
    pub(super) outcome: &'static str,
    pub(super) error: String,
}

impl From<AuditRecord> for AuditRow {
    fn from(record: AuditRecord) -> Self {
        let user = record.user.unwrap_or_default();
        let principal = match (&record.job, &record.token_id) {
            (Some(job), _) => format!("{user} (job {job})"),
            (None, Some(token)) => format!("{user} (token {token})"),
            (None, None) => user,
        };
        AuditRow {
            time: when(Some(record.at)),
            principal,
            address: record.address.unwrap_or_default(),
            workspace: record.workspace.unwrap_or_default(),
            action: record
                .action
                .strip_prefix("Microsoft.MachineLearningServices/")
                .unwrap_or(&record.action)
                .to_owned(),
            target: record.target,
            outcome: record.outcome.as_str(),
            error: record.error.unwrap_or_default(),
        }
    }
}

#[derive(Deserialize, Default, Clone)]
pub(crate) struct AuditFilter {
    #[serde(default)]
    pub(super) since: String,
    #[serde(default)]
    pub(super) user: String,
    #[serde(default)]
    pub(super) action: String,
    #[serde(default)]
    pub(super) outcome: String,
    #[serde(default)]
    pub(super) page_token: String,
}

impl AuditFilter {
    fn params<'a>(&'a self, workspace: Option<&'a str>) -> AuditParams<'a> {
        AuditParams {
            workspace,
            since: Some(self.since.as_str()),
            user: Some(self.user.as_str()),
            action: Some(self.action.as_str()),
            outcome: Some(self.outcome.as_str()),
            page_token: Some(self.page_token.as_str()),
            limit: Some("100"),
            ..AuditParams::default()
        }
    }

    /// This filter's query string, for the page that `page_token` starts.
    fn older_than(&self, page_token: &str) -> String {
        format!(
            "?since={}&user={}&action={}&outcome={}&page_token={}",
            urlencode(&self.since),
            urlencode(&self.user),
            urlencode(&self.action),
            urlencode(&self.outcome),
            urlencode(page_token)
        )
    }
}

/// The records of a workspace, or of the whole server, that `filter` selects.
pub(super) async fn audit_rows(
    state: &AppState,
    browser: &Browser,
    workspace: Option<&str>,
    filter: &AuditFilter,
) -> Result<(Vec<AuditRow>, Option<String>), Error> {
    let page = state.service.list_audit(&browser.session.principal, &filter.params(workspace)).await?;
    let older = page.next_page_token.as_deref().map(|token| filter.older_than(token));
    Ok((page.records.into_iter().map(AuditRow::from).collect(), older))
}

async fn page(state: AppState, browser: Browser, workspace: Option<String>, filter: AuditFilter) -> Response {
    let crumbs = match &workspace {
        Some(name) => vec![crumb(name.clone(), format!("/w/{name}")), crumb("audit log", format!("/w/{name}/audit"))],
        None => vec![crumb("audit log", "/audit")],
    };
    let (rows, older) = match audit_rows(&state, &browser, workspace.as_deref(), &filter).await {
        Ok(found) => found,
        Err(error) => return error_page(&browser, error),
    };
    let page = AuditPage {
        layout: Layout::for_browser(&browser, crumbs),
        workspace: workspace.unwrap_or_default(),
        filter,
        outcomes: Outcome::ALL.iter().map(|outcome| outcome.as_str()).collect(),
        rows,
        older,
    };
    render(page, StatusCode::OK)
}

/// `/audit`: every record (server administrators).
pub(crate) async fn server_audit(
    State(state): State<AppState>,
    browser: Browser,
    Query(filter): Query<AuditFilter>,
) -> Response {
    page(state, browser, None, filter).await
}

/// `/w/{ws}/audit`: a workspace's records (its Owners).
pub(crate) async fn workspace_audit(
    State(state): State<AppState>,
    browser: Browser,
    Path(ws): Path<String>,
    Query(filter): Query<AuditFilter>,
) -> Response {
    match crate::wire::workspace_in_path(&ws) {
        Ok(workspace) => page(state, browser, Some(workspace.to_string()), filter).await,
        Err(error) => error_page(&browser, error),
    }
}

//! The audit log's pages: a workspace's for its Owners (`/w/{ws}/audit`), the whole server's for
//! administrators (`/audit`), newest first, filtered by the query string.

use super::common::*;
use super::session::{Browser, Layout, render, urlencode};
use crate::AppState;
use askama::Template;
use atelier_core::Error;
use atelier_core::audit::{AuditParams, AuditQuery, AuditRecord, Outcome};
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
    fn query(&self, workspace: Option<&str>) -> Result<AuditQuery, Error> {
        let given = |text: &str| Some(text.to_owned()).filter(|text| !text.is_empty());
        let (since, user, action, outcome, page_token) =
            (given(&self.since), given(&self.user), given(&self.action), given(&self.outcome), given(&self.page_token));
        AuditQuery::parse(
            &AuditParams {
                workspace,
                since: since.as_deref(),
                user: user.as_deref(),
                action: action.as_deref(),
                outcome: outcome.as_deref(),
                page_token: page_token.as_deref(),
                limit: Some("100"),
                ..AuditParams::default()
            },
            crate::audit::now_millis(),
        )
    }

    /// This filter's query string, from the record after which the next page starts.
    fn older_than(&self, id: i64) -> String {
        format!(
            "?since={}&user={}&action={}&outcome={}&page_token={id}",
            urlencode(&self.since),
            urlencode(&self.user),
            urlencode(&self.action),
            urlencode(&self.outcome)
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
    let query = filter.query(workspace)?;
    let records = state.service.list_audit(&browser.session.principal, &query).await?;
    let older = records.last().filter(|_| records.len() as i64 == query.limit).map(|last| filter.older_than(last.id));
    Ok((records.into_iter().map(AuditRow::from).collect(), older))
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

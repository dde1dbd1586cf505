//! The workspaces list, a workspace's home, and the experiment actions on it (rename, delete,
//! restore).

use super::common::*;
use super::session::{Browser, Layout, forged_form, render, urlencode};
use crate::AppState;
use askama::Template;
use atelier_core::Error;
use atelier_core::model::ViewType;
use atelier_core::names::WorkspaceName;
use atelier_core::time::format_utc;
use atelier_service::RunSearch;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

// Workspaces.

pub(super) struct WorkspaceRow {
    name: String,
    description: String,
    tracking_uri: String,
    created: String,
}

#[derive(Template)]
#[template(path = "workspaces.html")]
pub(super) struct WorkspacesPage {
    layout: Layout,
    workspaces: Vec<WorkspaceRow>,
    can_create: bool,
    error: Option<String>,
}

pub(super) fn server_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|value| value.to_str().ok()).unwrap_or("127.0.0.1:7420");
    format!("http://{host}")
}

pub(super) async fn workspaces_page(
    state: &AppState,
    browser: &Browser,
    headers: &HeaderMap,
    error: Option<Error>,
) -> Response {
    let workspaces = match state.service.list_workspaces(&browser.session.principal).await {
        Ok(workspaces) => workspaces,
        Err(error) => return error_page(browser, error),
    };
    let base = server_url(headers);
    let rows = workspaces
        .into_iter()
        .map(|workspace| WorkspaceRow {
            tracking_uri: if workspace.name == WorkspaceName::default_workspace() {
                base.clone()
            } else {
                format!("{base}/ws/{}", workspace.name)
            },
            name: workspace.name.to_string(),
            description: workspace.description,
            created: format_utc(workspace.created_at),
        })
        .collect();
    // A refused or mistaken form is shown again with its error, under the error's own status.
    let status = error.as_ref().map_or(StatusCode::OK, |error| {
        StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
    });
    let page = WorkspacesPage {
        layout: Layout::for_browser(browser, Vec::new()),
        workspaces: rows,
        can_create: state.service.may_on_server(&browser.session.principal, atelier_core::authz::Action::ServerAdmin),
        error: error.map(|error| error.message),
    };
    render(page, status)
}

pub(crate) async fn workspaces(State(state): State<AppState>, browser: Browser, headers: HeaderMap) -> Response {
    workspaces_page(&state, &browser, &headers, None).await
}

#[derive(Deserialize)]
pub(crate) struct NewWorkspaceForm {
    #[serde(default)]
    csrf: String,
    name: String,
    #[serde(default)]
    description: String,
}

pub(crate) async fn create_workspace(
    State(state): State<AppState>,
    browser: Browser,
    headers: HeaderMap,
    Form(form): Form<NewWorkspaceForm>,
) -> Response {
    if !browser.csrf_matches(&form.csrf) {
        return forged_form();
    }
    let name = form.name.trim();
    match state
        .service
        .create_workspace(&browser.session.principal, name, form.description.trim(), Default::default())
        .await
    {
        Ok(workspace) => Redirect::to(&format!("/w/{}", workspace.name)).into_response(),
        Err(error) => workspaces_page(&state, &browser, &headers, Some(error)).await,
    }
}

// A workspace's home.

pub(super) struct ExperimentRow {
    id: i64,
    name: String,
    runs: i64,
    last_activity: String,
    created: String,
}

pub(super) struct RecentRun {
    id: String,
    name: String,
    experiment: String,
    status: &'static str,
    start: String,
    user: String,
}

#[derive(Template)]
#[template(path = "workspace.html")]
pub(super) struct WorkspacePage {
    layout: Layout,
    workspace: String,
    description: String,
    error: Option<String>,
    can_write: bool,
    can_manage: bool,
    showing_deleted: bool,
    experiment_count: usize,
    run_count: i64,
    experiments: Vec<ExperimentRow>,
    recent: Vec<RecentRun>,
}

#[derive(Deserialize, Default)]
pub(crate) struct WorkspaceQuery {
    #[serde(default)]
    view: String,
    #[serde(default)]
    pub(super) error: Option<String>,
}

pub(crate) async fn workspace(
    State(state): State<AppState>,
    browser: Browser,
    Path(ws): Path<String>,
    Query(query): Query<WorkspaceQuery>,
) -> Response {
    let principal = &browser.session.principal;
    let showing_deleted = query.view == "deleted";
    let result = async {
        let details = state.service.get_workspace(principal, &ws).await?;
        let workspace = details.name.clone();
        let mut summaries = state.service.experiment_summaries(principal, &workspace).await?;
        let active_count = summaries.len();
        let active_runs: i64 = summaries.iter().map(|summary| summary.runs).sum();
        if showing_deleted {
            let search = atelier_service::ExperimentSearch { view: ViewType::DeletedOnly, ..Default::default() };
            summaries = state
                .service
                .search_experiments(principal, &workspace, &search)
                .await?
                .items
                .into_iter()
                .map(|experiment| atelier_service::ExperimentSummary { experiment, runs: 0, last_run_start: None })
                .collect();
        }
        let search = RunSearch {
            experiment_ids: summaries.iter().map(|summary| summary.experiment.experiment_id.to_string()).collect(),
            max_results: Some(10),
            ..RunSearch::default()
        };
        let recent = state.service.search_runs(principal, &workspace, &search).await?.items;
        let can_write = state.service.may(principal, &workspace, atelier_core::authz::Action::ExperimentsWrite).await;
        let can_manage =
            state.service.may(principal, &workspace, atelier_core::authz::Action::RoleAssignmentsWrite).await;
        Ok::<_, Error>((details, summaries, recent, active_count, active_runs, can_write, can_manage))
    }
    .await;
    let (details, summaries, recent, active_count, active_runs, can_write, can_manage) = match result {
        Ok(found) => found,
        Err(error) => return error_page(&browser, error),
    };
    let experiment_name = |id: i64| {
        summaries
            .iter()
            .find(|summary| summary.experiment.experiment_id == id)
            .map(|summary| summary.experiment.name.clone())
    };
    let recent = recent
        .iter()
        .map(|run| RecentRun {
            id: run.info.run_id.to_string(),
            name: run.info.run_name.clone(),
            experiment: experiment_name(run.info.experiment_id).unwrap_or_default(),
            status: run.info.status.as_str(),
            start: when(run.info.start_time),
            user: run.info.user_id.clone(),
        })
        .collect();
    let page = WorkspacePage {
        layout: Layout::for_browser(&browser, vec![crumb(details.name.to_string(), format!("/w/{}", details.name))]),
        workspace: details.name.to_string(),
        description: details.description,
        error: query.error,
        can_write,
        can_manage,
        showing_deleted,
        experiment_count: active_count,
        run_count: active_runs,
        experiments: summaries
            .iter()
            .map(|summary| ExperimentRow {
                id: summary.experiment.experiment_id,
                name: summary.experiment.name.clone(),
                runs: summary.runs,
                last_activity: when(summary.last_run_start.or(Some(summary.experiment.last_update_time))),
                created: format_utc(summary.experiment.creation_time),
            })
            .collect(),
        recent,
    };
    render(page, StatusCode::OK)
}

// Experiment actions (rename, delete, restore) and members.

#[derive(Deserialize)]
pub(crate) struct ExperimentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

/// After a form: back to the workspace page, with the error (if any) shown there.
pub(super) fn back_to_workspace(ws: &str, outcome: Result<(), Error>, view: &str) -> Response {
    let mut target = format!("/w/{}", urlencode(ws));
    let mut separator = '?';
    if !view.is_empty() {
        target.push_str(&format!("{separator}view={view}"));
        separator = '&';
    }
    if let Err(error) = outcome {
        // The page shows the error; the audit log records it.
        atelier_service::audit::note_failure(error.code.as_str());
        target.push_str(&format!("{separator}error={}", urlencode(&error.message)));
    }
    Redirect::to(&target).into_response()
}

pub(crate) async fn experiment_action(
    State(state): State<AppState>,
    browser: Browser,
    Path((ws, id, action)): Path<(String, String, String)>,
    Form(form): Form<ExperimentForm>,
) -> Response {
    if !browser.csrf_matches(&form.csrf) {
        return forged_form();
    }
    let principal = &browser.session.principal;
    let workspace = match crate::wire::workspace_in_path(&ws) {
        Ok(workspace) => workspace,
        Err(error) => return error_page(&browser, error),
    };
    let outcome = match action.as_str() {
        "rename" => state.service.rename_experiment(principal, &workspace, &id, form.name.trim()).await,
        "delete" => state.service.delete_experiment(principal, &workspace, &id).await,
        "restore" => state.service.restore_experiment(principal, &workspace, &id).await,
        other => Err(Error::not_found(format!("no experiment action '{other}'"))),
    };
    back_to_workspace(&ws, outcome, if action == "restore" { "deleted" } else { "" })
}

/// `/ws/<workspace>/`: the tracking URI of a workspace, where the links MLflow's client prints
/// lead (`…/ws/<workspace>/#/experiments/1/runs/<id>`). The fragment reaches only the browser:
/// the studio's script opens the page it names; without script, a link to the workspace.
pub(crate) async fn tracking_uri_page(Path(ws): Path<String>) -> Response {
    let workspace = match crate::wire::workspace_in_path(&ws) {
        Ok(workspace) => workspace,
        Err(error) => return crate::error::ApiError::from(error).into_response(),
    };
    // A workspace name is lowercase letters, digits and dashes: nothing to escape.
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Atelier</title>\
         <script src=\"/static/studio.js\" defer></script></head><body>\
         <p>This is the MLflow tracking URI of workspace {workspace}. \
         <a href=\"/w/{workspace}\">Open it in the studio</a>.</p></body></html>"
    );
    axum::response::Html(html).into_response()
}

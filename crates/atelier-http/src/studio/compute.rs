//! The studio's Compute page: the computes jobs run on, with their use, and the compute
//! instances, with their state, owner, idle time left, start and stop buttons for those who
//! may, and a link to open each one's JupyterLab.

use super::common::{crumb, error_page, when};
use super::session::{Browser, Layout, forged_form, render, urlencode};
use crate::AppState;
use askama::Template;
use atelier_core::Error;
use atelier_core::instance::InstanceState;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

struct ComputeRow {
    name: String,
    kind: String,
    size: String,
    running: usize,
    queued: usize,
}

struct InstanceRow {
    name: String,
    state: String,
    reason: String,
    owner: String,
    size: String,
    /// Where it runs: this server's machine, or a Slurm compute's node.
    runs_on: String,
    idle_left: String,
    since: String,
    /// Whether the visitor opens its JupyterLab (theirs, or shared with them).
    opens: bool,
    may_start: bool,
    may_stop: bool,
    url: String,
}

#[derive(Template)]
#[template(path = "compute.html")]
struct ComputePage {
    layout: Layout,
    workspace: String,
    computes: Vec<ComputeRow>,
    instances: Vec<InstanceRow>,
}

pub(crate) async fn compute(State(state): State<AppState>, browser: Browser, Path(ws): Path<String>) -> Response {
    let principal = &browser.session.principal;
    let loaded = async {
        let workspace = crate::wire::workspace_in_path(&ws)?;
        let computes = state.service.list_computes(principal, &workspace).await?;
        let instances = state.service.list_instances(principal, &workspace).await?;
        Ok::<_, Error>((workspace, computes, instances))
    }
    .await;
    let (workspace, computes, instances) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return error_page(&browser, error),
    };
    let me = principal.user().as_str();
    let computes = computes
        .into_iter()
        .map(|compute| ComputeRow {
            size: compute.size.unwrap_or_default(),
            running: compute.running.len(),
            queued: compute.queued.len(),
            name: compute.name,
            kind: compute.kind,
        })
        .collect();
    let instances = instances
        .into_iter()
        .map(|view| {
            let instance = view.instance;
            let own = instance.owner == me;
            InstanceRow {
                opens: own || instance.shared_with.iter().any(|user| user == me),
                may_start: own && matches!(instance.state, InstanceState::Stopped | InstanceState::Failed),
                may_stop: own && matches!(instance.state, InstanceState::Running),
                state: instance.state.as_str().to_owned(),
                reason: instance.reason.unwrap_or_default(),
                size: instance.size.unwrap_or_default(),
                runs_on: match view.compute.as_str() {
                    "local" => "this server".to_owned(),
                    compute => compute.to_owned(),
                },
                idle_left: view.idle_minutes_left.map(|minutes| format!("{minutes} min")).unwrap_or_default(),
                since: when(Some(instance.state_since)),
                url: view.url,
                owner: instance.owner,
                name: instance.name,
            }
        })
        .collect();
    let page = ComputePage {
        layout: Layout::for_browser(
            &browser,
            vec![
                crumb(workspace.to_string(), format!("/w/{workspace}")),
                crumb("compute", format!("/w/{workspace}/compute")),
            ],
        ),
        workspace: workspace.to_string(),
        computes,
        instances,
    };
    render(page, StatusCode::OK)
}

#[derive(Deserialize)]
pub(crate) struct InstanceForm {
    #[serde(default)]
    csrf: String,
}

/// An instance's Start button.
pub(crate) async fn start_instance(
    State(state): State<AppState>,
    browser: Browser,
    Path((ws, name)): Path<(String, String)>,
    Form(form): Form<InstanceForm>,
) -> Response {
    instance_action(state, browser, ws, name, form, true).await
}

/// An instance's Stop button.
pub(crate) async fn stop_instance(
    State(state): State<AppState>,
    browser: Browser,
    Path((ws, name)): Path<(String, String)>,
    Form(form): Form<InstanceForm>,
) -> Response {
    instance_action(state, browser, ws, name, form, false).await
}

async fn instance_action(
    state: AppState,
    browser: Browser,
    ws: String,
    name: String,
    form: InstanceForm,
    start: bool,
) -> Response {
    if !browser.csrf_matches(&form.csrf) {
        return forged_form();
    }
    let principal = &browser.session.principal;
    let outcome = async {
        let workspace = crate::wire::workspace_in_path(&ws)?;
        match start {
            true => state.service.start_instance(principal, &workspace, &name).await,
            false => state.service.stop_instance(principal, &workspace, &name).await,
        }
    }
    .await;
    match outcome {
        Ok(_) => Redirect::to(&format!("/w/{}/compute", urlencode(&ws))).into_response(),
        Err(error) => error_page(&browser, error),
    }
}

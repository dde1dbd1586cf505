//! The studio's endpoint pages: a workspace's online endpoints, and one endpoint with its
//! deployments (state, live request counts, logs), its traffic and mirror traffic (editable by
//! those who may), its keys (for those who may read them) and a test console.

use super::common::{crumb, error_page, when};
use super::session::{Browser, Layout, forged_form, render, urlencode};
use crate::AppState;
use askama::Template;
use atelier_core::Error;
use atelier_core::authz::Action;
use atelier_core::names::WorkspaceName;
use atelier_service::{Credentials, EndpointUpdate, LogKind};
use atelier_serving::ScoreRequest;
use axum::Json;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

fn workspace_of(ws: &str) -> Result<WorkspaceName, Error> {
    crate::wire::workspace_in_path(ws)
}

fn weights_text(weights: &BTreeMap<String, u32>) -> String {
    weights.iter().map(|(name, weight)| format!("{name} {weight}%")).collect::<Vec<_>>().join(" · ")
}

struct EndpointRow {
    name: String,
    auth_mode: &'static str,
    traffic: String,
    mirror: String,
    deployments: usize,
    created: String,
}

#[derive(Template)]
#[template(path = "endpoints.html")]
struct EndpointsPage {
    layout: Layout,
    workspace: String,
    endpoints: Vec<EndpointRow>,
}

pub(crate) async fn endpoints(State(state): State<AppState>, browser: Browser, Path(ws): Path<String>) -> Response {
    let principal = &browser.session.principal;
    let loaded = async {
        let workspace = workspace_of(&ws)?;
        let mut rows = Vec::new();
        for endpoint in state.service.list_endpoints(principal, &workspace).await? {
            let deployments = state.service.list_deployments(principal, &workspace, &endpoint.name).await?.len();
            rows.push(EndpointRow {
                auth_mode: endpoint.auth_mode.as_str(),
                traffic: weights_text(&endpoint.traffic),
                mirror: weights_text(&endpoint.mirror_traffic),
                deployments,
                created: when(Some(endpoint.created_at)),
                name: endpoint.name,
            });
        }
        Ok::<_, Error>((workspace, rows))
    }
    .await;
    let (workspace, endpoints) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return error_page(&browser, error),
    };
    let page = EndpointsPage {
        layout: Layout::for_browser(
            &browser,
            vec![
                crumb(workspace.to_string(), format!("/w/{workspace}")),
                crumb("endpoints", format!("/w/{workspace}/endpoints")),
            ],
        ),
        workspace: workspace.to_string(),
        endpoints,
    };
    render(page, StatusCode::OK)
}

struct DeploymentRow {
    name: String,
    state: &'static str,
    error: String,
    model: Option<(String, String)>,
    serving: String,
    environment: String,
    instances: i64,
    ready: i64,
    queued: i64,
    restarts: u64,
    requests: Vec<(u16, u64)>,
    traffic: u32,
    mirror: u32,
    generation: i64,
    updated: String,
    log: String,
    setup_log: String,
    request_log: String,
}

#[derive(Template)]
#[template(path = "endpoint.html")]
struct EndpointPage {
    layout: Layout,
    workspace: String,
    name: String,
    description: String,
    auth_mode: &'static str,
    scoring_uri: String,
    created: String,
    created_by: String,
    deployments: Vec<DeploymentRow>,
    mirror_target: String,
    mirror_percent: u32,
    may_write: bool,
    keys: Option<(String, String)>,
    may_test: bool,
    live: bool,
}

/// Log lines each deployment shows on the page.
const PAGE_LOG_LINES: usize = 200;

pub(crate) async fn endpoint(
    State(state): State<AppState>,
    browser: Browser,
    headers: axum::http::HeaderMap,
    Path((ws, name)): Path<(String, String)>,
) -> Response {
    let principal = &browser.session.principal;
    let loaded = async {
        let workspace = workspace_of(&ws)?;
        let endpoint = state.service.get_endpoint(principal, &workspace, &name).await?;
        let deployments = state.service.list_deployments(principal, &workspace, &name).await?;
        let may_write = state.service.may(principal, &workspace, Action::EndpointsWrite).await;
        let keys = match state.service.endpoint_credentials(principal, &workspace, &name).await {
            Ok(Credentials::Keys { primary, secondary }) => Some((primary, secondary)),
            _ => None,
        };
        let may_test = state.service.may(principal, &workspace, Action::EndpointsListKeys).await;
        Ok::<_, Error>((workspace, endpoint, deployments, may_write, keys, may_test))
    }
    .await;
    let (workspace, endpoint, deployments, may_write, keys, may_test) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return error_page(&browser, error),
    };
    let mut rows = Vec::new();
    for deployment in deployments {
        let plan = atelier_service::Service::deployment_plan(&deployment).ok();
        let metrics = match &state.serving {
            Some(serving) => serving.deployment_metrics(&endpoint.name, &deployment.name).await,
            None => None,
        };
        let log_of = |kind| {
            state.service.deployment_logs(principal, &workspace, &endpoint.name, &deployment.name, kind, PAGE_LOG_LINES)
        };
        let log = log_of(LogKind::InferenceServer).await.ok();
        let setup_log = log_of(LogKind::StorageInitializer).await.ok();
        let request_log = log_of(LogKind::Requests).await.ok();
        rows.push(DeploymentRow {
            state: deployment.state.as_str(),
            error: deployment.error.clone().unwrap_or_default(),
            model: deployment.model_name.clone().zip(deployment.model_version.clone()),
            serving: plan.as_ref().map(|plan| format!("{:?}", plan.serving).to_lowercase()).unwrap_or_default(),
            environment: plan.as_ref().map(|plan| plan.environment.name.clone()).unwrap_or_default(),
            instances: deployment.instance_count,
            ready: metrics.as_ref().map_or(0, |metrics| metrics.ready.load(Ordering::Relaxed)),
            queued: metrics.as_ref().map_or(0, |metrics| metrics.queued.load(Ordering::Relaxed)),
            restarts: metrics.as_ref().map_or(0, |metrics| metrics.restarts.load(Ordering::Relaxed)),
            requests: metrics.as_ref().map(|metrics| metrics.statuses().into_iter().collect()).unwrap_or_default(),
            traffic: endpoint.traffic.get(&deployment.name).copied().unwrap_or(0),
            mirror: endpoint.mirror_traffic.get(&deployment.name).copied().unwrap_or(0),
            generation: deployment.generation,
            updated: when(Some(deployment.updated_at)),
            log: log.unwrap_or_default(),
            setup_log: setup_log.unwrap_or_default(),
            request_log: request_log.unwrap_or_default(),
            name: deployment.name,
        });
    }
    // Deployments' states and request counts refresh while the page is open.
    let live = !rows.is_empty();
    let (mirror_target, mirror_percent) =
        endpoint.mirror_traffic.iter().next().map(|(name, percent)| (name.clone(), *percent)).unwrap_or_default();
    let page = EndpointPage {
        layout: Layout::for_browser(
            &browser,
            vec![
                crumb(workspace.to_string(), format!("/w/{workspace}")),
                crumb("endpoints", format!("/w/{workspace}/endpoints")),
                crumb(endpoint.name.clone(), format!("/w/{workspace}/endpoints/{}", urlencode(&endpoint.name))),
            ],
        ),
        workspace: workspace.to_string(),
        description: endpoint.description.clone().unwrap_or_default(),
        auth_mode: endpoint.auth_mode.as_str(),
        scoring_uri: crate::native::endpoints::scoring_uri(&state, &headers, &endpoint.name),
        created: when(Some(endpoint.created_at)),
        created_by: endpoint.created_by.clone(),
        deployments: rows,
        mirror_target,
        mirror_percent,
        may_write,
        keys,
        may_test,
        live,
        name: endpoint.name,
    };
    render(page, StatusCode::OK)
}

/// Traffic as the page's form sends it: `traffic.<deployment>` fields, a mirror target and
/// percent, and the CSRF token.
pub(crate) async fn set_traffic(
    State(state): State<AppState>,
    browser: Browser,
    Path((ws, name)): Path<(String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let field = |key: &str| form.iter().find(|(name, _)| name == key).map(|(_, value)| value.trim().to_owned());
    if !field("csrf").is_some_and(|csrf| browser.csrf_matches(&csrf)) {
        return forged_form();
    }
    let principal = &browser.session.principal;
    let outcome = async {
        let workspace = workspace_of(&ws)?;
        let mut traffic = BTreeMap::new();
        for (key, value) in &form {
            if let Some(deployment) = key.strip_prefix("traffic.") {
                let percent: u32 = value.trim().parse().map_err(|_| {
                    Error::invalid(format!("traffic of '{deployment}': '{value}' is not a whole percent"))
                })?;
                traffic.insert(deployment.to_owned(), percent);
            }
        }
        // The mirror the form names replaces whatever was mirrored before.
        let mut mirror = BTreeMap::new();
        if let Some(target) = field("mirror_deployment").filter(|target| !target.is_empty()) {
            let percent = field("mirror_percent").unwrap_or_default();
            let percent: u32 = percent
                .parse()
                .map_err(|_| Error::invalid(format!("mirror traffic: '{percent}' is not a whole percent")))?;
            mirror.insert(target, percent);
        }
        let update =
            EndpointUpdate { traffic: Some(traffic), mirror_traffic: Some(mirror), ..EndpointUpdate::default() };
        let updated = state.service.update_endpoint(principal, &workspace, &name, update).await?;
        Ok::<_, Error>(updated)
    }
    .await;
    match outcome {
        Ok(_) => Redirect::to(&format!("/w/{}/endpoints/{}", urlencode(&ws), urlencode(&name))).into_response(),
        Err(error) => error_page(&browser, error),
    }
}

#[derive(Deserialize)]
pub(crate) struct TestForm {
    csrf: String,
    body: String,
    #[serde(default)]
    deployment: String,
}

/// The test console: sends a body to the endpoint with its own credentials, through the same
/// router callers use, and answers with what came back.
pub(crate) async fn test_request(
    State(state): State<AppState>,
    browser: Browser,
    Path((ws, name)): Path<(String, String)>,
    Form(form): Form<TestForm>,
) -> Response {
    if !browser.csrf_matches(&form.csrf) {
        return forged_form();
    }
    let principal = &browser.session.principal;
    let credential = async {
        let workspace = workspace_of(&ws)?;
        Ok::<_, Error>(match state.service.endpoint_credentials(principal, &workspace, &name).await? {
            Credentials::Keys { primary, .. } => primary,
            Credentials::Token { access_token, .. } => access_token,
        })
    }
    .await;
    let credential = match credential {
        Ok(credential) => credential,
        // Refused, or no such endpoint: the studio's own answer, with the error's status.
        Err(error) => return crate::error::ApiError::from(error).into_response(),
    };
    let Some(serving) = state.serving.clone() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "this server runs no endpoints").into_response();
    };
    let request = ScoreRequest {
        authorization: Some(format!("Bearer {credential}")),
        deployment: (!form.deployment.is_empty()).then_some(form.deployment),
        body: bytes::Bytes::from(form.body),
    };
    let answer = serving.score(&name, request).await;
    let deployment =
        answer.headers.iter().find(|(header, _)| *header == "azureml-model-deployment").map(|(_, value)| value.clone());
    Json(serde_json::json!({
        "status": answer.status,
        "request_id": answer.request_id,
        "deployment": deployment,
        "body": String::from_utf8_lossy(&answer.body),
    }))
    .into_response()
}

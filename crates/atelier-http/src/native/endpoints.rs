//! Online endpoints: the native API that manages them (endpoints, deployments, keys, logs),
//! the scoring route callers use (`POST /endpoints/{name}/score`, authenticated by the
//! endpoint's own keys or tokens, not by users' tokens), and `/metrics`.

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::native::jobs::InlineEnvironmentDto;
use crate::native::workspace;
use atelier_core::Error;
use atelier_core::endpoint::{Deployment, Endpoint};
use atelier_service::{Credentials, DeploymentSubmission, EndpointUpdate, LogKind};
use atelier_serving::ScoreRequest;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use utoipa::{IntoParams, OpenApi, ToSchema};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspaces/{ws}/online-endpoints", get(list_endpoints).post(create_endpoint))
        .route(
            "/workspaces/{ws}/online-endpoints/{name}",
            get(get_endpoint).patch(update_endpoint).delete(delete_endpoint),
        )
        .route("/workspaces/{ws}/online-endpoints/{name}/get-credentials", post(get_credentials))
        .route("/workspaces/{ws}/online-endpoints/{name}/regenerate-keys", post(regenerate_keys))
        .route("/workspaces/{ws}/online-endpoints/{name}/deployments", get(list_deployments).post(create_deployment))
        .route(
            "/workspaces/{ws}/online-endpoints/{name}/deployments/{deployment}",
            get(get_deployment).put(update_deployment).delete(delete_deployment),
        )
        .route("/workspaces/{ws}/online-endpoints/{name}/deployments/{deployment}/logs", get(deployment_logs))
        .route("/workspaces/{ws}/models/{name}/deployments", get(model_deployments))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        list_endpoints,
        create_endpoint,
        get_endpoint,
        update_endpoint,
        delete_endpoint,
        get_credentials,
        regenerate_keys,
        list_deployments,
        create_deployment,
        get_deployment,
        update_deployment,
        delete_deployment,
        deployment_logs,
        model_deployments,
        score,
    ),
    components(schemas(
        EndpointDto,
        NewEndpointDto,
        EndpointUpdateDto,
        CredentialsDto,
        RegenerateDto,
        DeploymentDto,
        NewDeploymentDto,
        LiveDto,
        LogsDto
    ))
)]
pub(crate) struct EndpointsApiDoc;

/// An online endpoint, shaped like `az ml online-endpoint show`.
#[derive(Serialize, ToSchema)]
pub struct EndpointDto {
    name: String,
    description: Option<String>,
    tags: BTreeMap<String, String>,
    /// `key` or `aml_token`.
    auth_mode: String,
    traffic: BTreeMap<String, u32>,
    mirror_traffic: BTreeMap<String, u32>,
    /// Where callers send requests.
    scoring_uri: String,
    provisioning_state: String,
    created_by: String,
    created_at: i64,
    updated_at: i64,
}

pub(crate) fn scoring_uri(state: &AppState, headers: &HeaderMap, name: &str) -> String {
    let base = match &state.scoring_base {
        Some(base) => base.trim_end_matches('/').to_owned(),
        None => {
            let host = headers.get(header::HOST).and_then(|host| host.to_str().ok()).unwrap_or("127.0.0.1:7420");
            format!("http://{host}")
        }
    };
    format!("{base}/endpoints/{name}/score")
}

fn endpoint_dto(state: &AppState, headers: &HeaderMap, endpoint: Endpoint) -> EndpointDto {
    EndpointDto {
        scoring_uri: scoring_uri(state, headers, &endpoint.name),
        name: endpoint.name,
        description: endpoint.description,
        tags: endpoint.tags,
        auth_mode: endpoint.auth_mode.as_str().to_owned(),
        traffic: endpoint.traffic,
        mirror_traffic: endpoint.mirror_traffic,
        provisioning_state: "Succeeded".to_owned(),
        created_by: endpoint.created_by,
        created_at: endpoint.created_at,
        updated_at: endpoint.updated_at,
    }
}

/// An endpoint to create.
#[derive(Deserialize, ToSchema)]
pub struct NewEndpointDto {
    /// The endpoint file (Azure ML's `managedOnlineEndpoint` YAML).
    yaml: String,
}

/// Changes to an endpoint; fields left out stay as they are.
#[derive(Deserialize, ToSchema)]
pub struct EndpointUpdateDto {
    description: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    /// Percent per deployment, summing to 100 (or 0).
    traffic: Option<BTreeMap<String, u32>>,
    /// One deployment at most, at most 50; `{"green": 0}` turns mirroring off.
    mirror_traffic: Option<BTreeMap<String, u32>>,
}

/// `get-credentials`: keys, or a token for `aml_token` endpoints (Azure's field names).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum CredentialsDto {
    Keys {
        #[serde(rename = "primaryKey")]
        primary_key: String,
        #[serde(rename = "secondaryKey")]
        secondary_key: String,
    },
    Token {
        #[serde(rename = "accessToken")]
        access_token: String,
        #[serde(rename = "tokenType")]
        token_type: String,
        #[serde(rename = "expiryTimeUtc")]
        expiry_time_utc: i64,
        #[serde(rename = "refreshAfterTimeUtc")]
        refresh_after_time_utc: i64,
    },
}

/// Which key to replace.
#[derive(Deserialize, ToSchema)]
pub struct RegenerateDto {
    /// `primary` (the default) or `secondary`.
    #[serde(default)]
    key_type: Option<String>,
}

/// What a deployment is doing now.
#[derive(Serialize, ToSchema)]
pub struct LiveDto {
    ready_instances: i64,
    queued_requests: i64,
    worker_restarts: u64,
    /// Requests answered so far, by HTTP status.
    requests: BTreeMap<String, u64>,
}

/// A deployment, shaped like `az ml online-deployment show`.
#[derive(Serialize, ToSchema)]
pub struct DeploymentDto {
    name: String,
    endpoint_name: String,
    description: Option<String>,
    tags: BTreeMap<String, String>,
    /// `Creating`, `Updating`, `Succeeded`, `Failed` or `Deleting`.
    provisioning_state: String,
    /// Why the last rollout failed.
    error: Option<String>,
    /// `azureml:<name>:<version>`.
    model: Option<String>,
    instance_count: i64,
    /// Counts the deployment's rollouts.
    generation: i64,
    /// The resolved plan: serving kind, model, environment, request settings, probes.
    plan: serde_json::Value,
    /// The YAML as submitted.
    yaml: String,
    created_by: String,
    created_at: i64,
    updated_at: i64,
    live: Option<LiveDto>,
}

async fn deployment_dto(state: &AppState, deployment: Deployment) -> DeploymentDto {
    let live = match &state.serving {
        Some(serving) => {
            serving.deployment_metrics(&deployment.endpoint, &deployment.name).await.map(|metrics| LiveDto {
                ready_instances: metrics.ready.load(Ordering::Relaxed),
                queued_requests: metrics.queued.load(Ordering::Relaxed),
                worker_restarts: metrics.restarts.load(Ordering::Relaxed),
                requests: metrics.statuses().into_iter().map(|(status, count)| (status.to_string(), count)).collect(),
            })
        }
        None => None,
    };
    DeploymentDto {
        model: match (&deployment.model_name, &deployment.model_version) {
            (Some(name), Some(version)) => Some(format!("azureml:{name}:{version}")),
            _ => None,
        },
        plan: serde_json::from_str(&deployment.plan).unwrap_or(serde_json::Value::Null),
        name: deployment.name,
        endpoint_name: deployment.endpoint,
        description: deployment.description,
        tags: deployment.tags,
        provisioning_state: deployment.state.as_str().to_owned(),
        error: deployment.error,
        instance_count: deployment.instance_count,
        generation: deployment.generation,
        yaml: deployment.spec_yaml,
        created_by: deployment.created_by,
        created_at: deployment.created_at,
        updated_at: deployment.updated_at,
        live,
    }
}

/// A deployment to create or update.
#[derive(Deserialize, ToSchema)]
pub struct NewDeploymentDto {
    /// The deployment file (Azure ML's `managedOnlineDeployment` YAML).
    yaml: String,
    /// The uploaded code snapshot holding the scoring script (see `code-uploads`).
    #[serde(default)]
    snapshot: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    inline_environment: Option<InlineEnvironmentDto>,
}

fn submission(body: NewDeploymentDto) -> DeploymentSubmission {
    DeploymentSubmission {
        yaml: body.yaml,
        snapshot: body.snapshot,
        inline_environment: body.inline_environment.map(InlineEnvironmentDto::into_spec),
    }
}

#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/online-endpoints", params(("ws" = String, Path)),
    responses((status = 200, body = [EndpointDto])))]
async fn list_endpoints(
    State(state): State<AppState>,
    Caller(principal): Caller,
    headers: HeaderMap,
    Path(ws): Path<String>,
) -> ApiResult<Json<Vec<EndpointDto>>> {
    let endpoints = state.service.list_endpoints(&principal, &workspace(&ws)?).await?;
    Ok(Json(endpoints.into_iter().map(|endpoint| endpoint_dto(&state, &headers, endpoint)).collect()))
}

/// Creates an endpoint (Contributors). Its keys are made with it.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/online-endpoints", params(("ws" = String, Path)),
    request_body = NewEndpointDto, responses((status = 200, body = EndpointDto)))]
async fn create_endpoint(
    State(state): State<AppState>,
    Caller(principal): Caller,
    headers: HeaderMap,
    Path(ws): Path<String>,
    Json(body): Json<NewEndpointDto>,
) -> ApiResult<Json<EndpointDto>> {
    let endpoint = state.service.create_endpoint(&principal, &workspace(&ws)?, &body.yaml).await?;
    Ok(Json(endpoint_dto(&state, &headers, endpoint)))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/online-endpoints/{name}",
    params(("ws" = String, Path), ("name" = String, Path)), responses((status = 200, body = EndpointDto)))]
async fn get_endpoint(
    State(state): State<AppState>,
    Caller(principal): Caller,
    headers: HeaderMap,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<Json<EndpointDto>> {
    let endpoint = state.service.get_endpoint(&principal, &workspace(&ws)?, &name).await?;
    Ok(Json(endpoint_dto(&state, &headers, endpoint)))
}

/// Changes traffic, mirror traffic, description or tags.
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}/online-endpoints/{name}",
    params(("ws" = String, Path), ("name" = String, Path)), request_body = EndpointUpdateDto,
    responses((status = 200, body = EndpointDto)))]
async fn update_endpoint(
    State(state): State<AppState>,
    Caller(principal): Caller,
    headers: HeaderMap,
    Path((ws, name)): Path<(String, String)>,
    Json(body): Json<EndpointUpdateDto>,
) -> ApiResult<Json<EndpointDto>> {
    let update = EndpointUpdate {
        description: body.description,
        tags: body.tags,
        traffic: body.traffic,
        mirror_traffic: body.mirror_traffic,
    };
    let endpoint = state.service.update_endpoint(&principal, &workspace(&ws)?, &name, update).await?;
    Ok(Json(endpoint_dto(&state, &headers, endpoint)))
}

/// Deletes an endpoint and its deployments.
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/online-endpoints/{name}",
    params(("ws" = String, Path), ("name" = String, Path)), responses((status = 200)))]
async fn delete_endpoint(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<Json<serde_json::Value>> {
    state.service.delete_endpoint(&principal, &workspace(&ws)?, &name).await?;
    Ok(Json(serde_json::json!({})))
}

/// The endpoint's keys, or a fresh token (Contributors).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/online-endpoints/{name}/get-credentials",
    params(("ws" = String, Path), ("name" = String, Path)), responses((status = 200, body = CredentialsDto)))]
async fn get_credentials(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<Json<CredentialsDto>> {
    Ok(Json(match state.service.endpoint_credentials(&principal, &workspace(&ws)?, &name).await? {
        Credentials::Keys { primary, secondary } => {
            CredentialsDto::Keys { primary_key: primary, secondary_key: secondary }
        }
        Credentials::Token { access_token, expiry, refresh_after } => CredentialsDto::Token {
            access_token,
            token_type: "Bearer".to_owned(),
            expiry_time_utc: expiry,
            refresh_after_time_utc: refresh_after,
        },
    }))
}

/// Replaces a key; the old one stops working at once.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/online-endpoints/{name}/regenerate-keys",
    params(("ws" = String, Path), ("name" = String, Path)), request_body = RegenerateDto, responses((status = 200)))]
async fn regenerate_keys(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
    Json(body): Json<RegenerateDto>,
) -> ApiResult<Json<serde_json::Value>> {
    let key_type = body.key_type.unwrap_or_else(|| "primary".to_owned());
    state.service.regenerate_endpoint_key(&principal, &workspace(&ws)?, &name, &key_type).await?;
    Ok(Json(serde_json::json!({})))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/online-endpoints/{name}/deployments",
    params(("ws" = String, Path), ("name" = String, Path)), responses((status = 200, body = [DeploymentDto])))]
async fn list_deployments(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<Json<Vec<DeploymentDto>>> {
    let deployments = state.service.list_deployments(&principal, &workspace(&ws)?, &name).await?;
    let mut out = Vec::with_capacity(deployments.len());
    for deployment in deployments {
        out.push(deployment_dto(&state, deployment).await);
    }
    Ok(Json(out))
}

/// Creates a deployment; it is rolled out in the background (`provisioning_state` says how
/// far it got).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/online-endpoints/{name}/deployments",
    params(("ws" = String, Path), ("name" = String, Path)), request_body = NewDeploymentDto,
    responses((status = 200, body = DeploymentDto)))]
async fn create_deployment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
    Json(body): Json<NewDeploymentDto>,
) -> ApiResult<Json<DeploymentDto>> {
    let deployment = state.service.put_deployment(&principal, &workspace(&ws)?, &name, submission(body), false).await?;
    Ok(Json(deployment_dto(&state, deployment).await))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/online-endpoints/{name}/deployments/{deployment}",
    params(("ws" = String, Path), ("name" = String, Path), ("deployment" = String, Path)),
    responses((status = 200, body = DeploymentDto)))]
async fn get_deployment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, deployment)): Path<(String, String, String)>,
) -> ApiResult<Json<DeploymentDto>> {
    let deployment = state.service.get_deployment(&principal, &workspace(&ws)?, &name, &deployment).await?;
    Ok(Json(deployment_dto(&state, deployment).await))
}

/// Replaces a deployment's spec: a rollout that keeps serving until the new workers are ready.
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/online-endpoints/{name}/deployments/{deployment}",
    params(("ws" = String, Path), ("name" = String, Path), ("deployment" = String, Path)), request_body = NewDeploymentDto,
    responses((status = 200, body = DeploymentDto)))]
async fn update_deployment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, deployment)): Path<(String, String, String)>,
    Json(body): Json<NewDeploymentDto>,
) -> ApiResult<Json<DeploymentDto>> {
    let stored = state.service.put_deployment(&principal, &workspace(&ws)?, &name, submission(body), true).await?;
    if stored.name != deployment {
        return Err(Error::invalid(format!(
            "the file names deployment '{}', but the request is for '{deployment}'",
            stored.name
        ))
        .into());
    }
    Ok(Json(deployment_dto(&state, stored).await))
}

/// Deletes a deployment that takes no traffic.
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/online-endpoints/{name}/deployments/{deployment}",
    params(("ws" = String, Path), ("name" = String, Path), ("deployment" = String, Path)), responses((status = 200)))]
async fn delete_deployment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, deployment)): Path<(String, String, String)>,
) -> ApiResult<Json<serde_json::Value>> {
    state.service.delete_deployment(&principal, &workspace(&ws)?, &name, &deployment).await?;
    Ok(Json(serde_json::json!({})))
}

/// The deployments that serve versions of a registered model.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/models/{name}/deployments",
    params(("ws" = String, Path), ("name" = String, Path)), responses((status = 200, body = [DeploymentDto])))]
async fn model_deployments(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<Json<Vec<DeploymentDto>>> {
    let deployments = state.service.model_deployments(&principal, &workspace(&ws)?, &name).await?;
    let mut out = Vec::with_capacity(deployments.len());
    for deployment in deployments {
        out.push(deployment_dto(&state, deployment).await);
    }
    Ok(Json(out))
}

#[derive(Deserialize, IntoParams)]
pub struct LogsQuery {
    /// How many lines from the end (default 5000).
    lines: Option<usize>,
    /// `inference-server` (the default: the workers' output), `storage-initializer` (fetching
    /// the model and code, building the environment) or `requests` (one line per request).
    container: Option<String>,
}

/// The end of a deployment's log.
#[derive(Serialize, ToSchema)]
pub struct LogsDto {
    logs: String,
}

#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/online-endpoints/{name}/deployments/{deployment}/logs",
    params(("ws" = String, Path), ("name" = String, Path), ("deployment" = String, Path), LogsQuery),
    responses((status = 200, body = LogsDto)))]
async fn deployment_logs(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, deployment)): Path<(String, String, String)>,
    Query(query): Query<LogsQuery>,
) -> ApiResult<Json<LogsDto>> {
    let container = query.container.as_deref().unwrap_or("inference-server");
    let kind = LogKind::parse(container).ok_or_else(|| {
        Error::invalid(format!("container '{container}': expected inference-server, storage-initializer or requests"))
    })?;
    let lines = query.lines.unwrap_or(5000);
    let logs = state.service.deployment_logs(&principal, &workspace(&ws)?, &name, &deployment, kind, lines).await?;
    Ok(Json(LogsDto { logs }))
}

/// Scores a request: `Authorization: Bearer <key or token>`, optional
/// `azureml-model-deployment: <deployment>`, the body as the model expects it. Answers carry
/// `x-request-id`; a model's own error is a 424 with `ms-azureml-model-error-statuscode`.
#[utoipa::path(post, path = "/endpoints/{name}/score", params(("name" = String, Path)),
    responses((status = 200), (status = 401), (status = 404), (status = 408), (status = 413), (status = 424), (status = 429)))]
pub(crate) async fn score(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(serving) = state.serving.clone() else {
        let body = serde_json::json!({ "error": { "code": 503, "message": "this server runs no endpoints" } });
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    };
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_owned);
    let body = match axum::body::to_bytes(body, state.max_score_bytes).await {
        Ok(body) => body,
        Err(_) => {
            let message = format!("the request body is over the limit of {} bytes", state.max_score_bytes);
            let body = serde_json::json!({ "error": { "code": 413, "message": message } }).to_string();
            let mut response = (StatusCode::PAYLOAD_TOO_LARGE, body).into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
                response.headers_mut().insert("x-request-id", id);
            }
            return response;
        }
    };
    let request = ScoreRequest {
        authorization: text(header::AUTHORIZATION.as_str()),
        deployment: text("azureml-model-deployment"),
        body,
    };
    let answer = serving.score(&name, request).await;
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let response_headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&answer.content_type) {
        response_headers.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&answer.request_id) {
        response_headers.insert("x-request-id", value);
    }
    if let Some(client_id) = headers.get("x-ms-client-request-id") {
        response_headers.insert("x-ms-client-request-id", client_id.clone());
    }
    for (name, value) in answer.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response_headers.insert(name, value);
        }
    }
    if answer.status == 401 {
        response_headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// Prometheus metrics of the endpoints and deployments the caller may see (every one for an
/// administrator, else those of the workspaces they may read; a token scoped to metrics sees
/// what its user sees, a job's token nothing).
pub(crate) async fn metrics(State(state): State<AppState>, Caller(principal): Caller) -> ApiResult<Response> {
    let text = state.service.endpoint_metrics(&principal).await?;
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    Ok(response)
}

//! The native API's compute instances: create from Azure's YAML, list, show, start, stop,
//! restart, share, delete. JupyterLab itself is reached through `/ci/<workspace>/<name>/`.

use super::*;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use atelier_service::{InstanceScripts, InstanceView};
use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{OpenApi, ToSchema};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspaces/{ws}/compute-instances", get(list_instances).post(create_instance))
        .route("/workspaces/{ws}/compute-instances/{name}", get(get_instance).delete(delete_instance))
        .route("/workspaces/{ws}/compute-instances/{name}/start", post(start_instance))
        .route("/workspaces/{ws}/compute-instances/{name}/stop", post(stop_instance))
        .route("/workspaces/{ws}/compute-instances/{name}/restart", post(restart_instance))
        .route("/workspaces/{ws}/compute-instances/{name}/sharing", put(share_instance))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        list_instances,
        create_instance,
        get_instance,
        delete_instance,
        start_instance,
        stop_instance,
        restart_instance,
        share_instance
    ),
    components(schemas(InstanceDto, NewInstanceDto, SetupScriptsDto, SharingDto))
)]
pub(super) struct Doc;

/// A compute instance, shaped like `az ml compute show` of one.
#[derive(Serialize, ToSchema)]
pub struct InstanceDto {
    name: String,
    /// Always `computeinstance`.
    #[serde(rename = "type")]
    kind: &'static str,
    /// `Creating`, `Starting`, `Running`, `Stopping`, `Stopped` or `Failed`.
    state: String,
    /// Why it is in its state (a failure, a stop for idleness or by schedule).
    reason: Option<String>,
    /// Since when (epoch milliseconds).
    state_since: i64,
    /// The user it belongs to.
    owner: String,
    /// Users its owner shares it with.
    shared_with: Vec<String>,
    size: Option<String>,
    description: String,
    tags: BTreeMap<String, String>,
    /// The environment its notebooks run in (`atelier-python` is the built-in one).
    environment: String,
    idle_time_before_shutdown_minutes: Option<u32>,
    /// Minutes before it stops for idleness, while it runs.
    idle_minutes_left: Option<i64>,
    /// The last kernel activity seen (epoch milliseconds).
    last_activity: Option<i64>,
    /// Its JupyterLab, on this server.
    jupyterlab_url: String,
    /// Where it runs: `local` (the server's machine) or the Slurm compute whose node runs it.
    compute: String,
    created_by: String,
    created_at: i64,
}

impl From<InstanceView> for InstanceDto {
    fn from(view: InstanceView) -> Self {
        let instance = view.instance;
        InstanceDto {
            name: instance.name,
            kind: "computeinstance",
            state: instance.state.as_str().to_owned(),
            reason: instance.reason,
            state_since: instance.state_since,
            owner: instance.owner,
            shared_with: instance.shared_with,
            size: instance.size,
            description: instance.description,
            tags: instance.tags,
            environment: view.environment,
            idle_time_before_shutdown_minutes: view.idle_minutes,
            idle_minutes_left: view.idle_minutes_left,
            last_activity: instance.last_activity,
            jupyterlab_url: view.url,
            compute: view.compute,
            created_by: instance.created_by,
            created_at: instance.created_at,
        }
    }
}

/// The texts of the setup scripts the file names by `path` (the client reads them).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct SetupScriptsDto {
    #[serde(default)]
    creation_script: Option<String>,
    #[serde(default)]
    startup_script: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInstanceDto {
    /// The compute instance file (Azure's `type: computeinstance` YAML); a mistake is a 400
    /// naming the field and its line.
    yaml: String,
    #[serde(default)]
    setup_scripts: Option<SetupScriptsDto>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SharingDto {
    /// Who besides its owner may open it (replaces the list).
    users: Vec<String>,
}

/// Lists the workspace's compute instances.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/compute-instances", params(("ws" = String, Path)),
    responses((status = 200, body = Vec<InstanceDto>)))]
async fn list_instances(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
) -> ApiResult<Json<Vec<InstanceDto>>> {
    let instances = state.service.list_instances(&principal, &workspace(&ws)?).await?;
    Ok(Json(instances.into_iter().map(InstanceDto::from).collect()))
}

/// Creates a compute instance and starts it (Owners, Contributors, Compute Operators).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/compute-instances", params(("ws" = String, Path)),
    request_body = NewInstanceDto, responses((status = 200, body = InstanceDto)))]
async fn create_instance(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    Json(body): Json<NewInstanceDto>,
) -> ApiResult<Json<InstanceDto>> {
    let scripts = body.setup_scripts.unwrap_or_default();
    let scripts = InstanceScripts { creation_script: scripts.creation_script, startup_script: scripts.startup_script };
    let created = state.service.create_instance_from_yaml(&principal, &workspace(&ws)?, &body.yaml, &scripts).await?;
    Ok(Json(created.into()))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/compute-instances/{name}",
    params(("ws" = String, Path), ("name" = String, Path)), responses((status = 200, body = InstanceDto)))]
async fn get_instance(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<Json<InstanceDto>> {
    Ok(Json(state.service.get_instance(&principal, &workspace(&ws)?, &name).await?.into()))
}

/// Deletes a compute instance, its home folder included.
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/compute-instances/{name}",
    params(("ws" = String, Path), ("name" = String, Path)), responses((status = 200)))]
async fn delete_instance(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<Json<serde_json::Value>> {
    state.service.delete_instance(&principal, &workspace(&ws)?, &name).await?;
    Ok(Json(serde_json::json!({})))
}

/// Starts a stopped or failed compute instance (its owner, or those who may change computes).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/compute-instances/{name}/start",
    params(("ws" = String, Path), ("name" = String, Path)), responses((status = 200, body = InstanceDto)))]
async fn start_instance(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<Json<InstanceDto>> {
    Ok(Json(state.service.start_instance(&principal, &workspace(&ws)?, &name).await?.into()))
}

/// Stops a compute instance; its home folder stays.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/compute-instances/{name}/stop",
    params(("ws" = String, Path), ("name" = String, Path)), responses((status = 200, body = InstanceDto)))]
async fn stop_instance(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<Json<InstanceDto>> {
    Ok(Json(state.service.stop_instance(&principal, &workspace(&ws)?, &name).await?.into()))
}

/// Stops a compute instance and starts it again.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/compute-instances/{name}/restart",
    params(("ws" = String, Path), ("name" = String, Path)), responses((status = 200, body = InstanceDto)))]
async fn restart_instance(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<Json<InstanceDto>> {
    Ok(Json(state.service.restart_instance(&principal, &workspace(&ws)?, &name).await?.into()))
}

/// Sets who besides its owner may open a compute instance (its owner only).
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/compute-instances/{name}/sharing",
    params(("ws" = String, Path), ("name" = String, Path)), request_body = SharingDto,
    responses((status = 200, body = InstanceDto)))]
async fn share_instance(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
    Json(body): Json<SharingDto>,
) -> ApiResult<Json<InstanceDto>> {
    Ok(Json(state.service.share_instance(&principal, &workspace(&ws)?, &name, &body.users).await?.into()))
}

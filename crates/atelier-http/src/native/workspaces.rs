//! Workspaces: list, create, read, update and delete.

use super::*;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use atelier_core::model::*;
use atelier_core::names::WorkspaceName;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{OpenApi, ToSchema};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspaces", get(list_workspaces).post(create_workspace))
        .route("/workspaces/{ws}", get(get_workspace).patch(update_workspace).delete(delete_workspace))
}

#[derive(OpenApi)]
#[openapi(
    paths(list_workspaces, create_workspace, get_workspace, update_workspace, delete_workspace),
    components(schemas(WorkspaceDto, NewWorkspace, WorkspacePatch))
)]
pub(super) struct Doc;

// Workspaces.

#[derive(Serialize, ToSchema)]
pub struct WorkspaceDto {
    name: String,
    description: String,
    tags: BTreeMap<String, String>,
    created_at: i64,
    updated_at: i64,
    /// The path to append to the server URL to get this workspace's MLflow tracking URI.
    mlflow_tracking_path: String,
}

impl From<Workspace> for WorkspaceDto {
    fn from(workspace: Workspace) -> Self {
        let mlflow_tracking_path = if workspace.name == WorkspaceName::default_workspace() {
            String::new()
        } else {
            format!("/ws/{}", workspace.name)
        };
        WorkspaceDto {
            name: workspace.name.to_string(),
            description: workspace.description,
            tags: workspace.tags,
            created_at: workspace.created_at,
            updated_at: workspace.updated_at,
            mlflow_tracking_path,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWorkspace {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspacePatch {
    description: Option<String>,
    tags: Option<BTreeMap<String, String>>,
}

/// Lists the workspaces the caller can see.
#[utoipa::path(get, path = "/api/v1/workspaces", responses((status = 200, body = Vec<WorkspaceDto>)))]
pub(crate) async fn list_workspaces(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> ApiResult<Json<Vec<WorkspaceDto>>> {
    let workspaces = state.service.list_workspaces(&principal).await?;
    Ok(Json(workspaces.into_iter().map(WorkspaceDto::from).collect()))
}

/// Creates a workspace (server administrators); the creator becomes its Owner.
#[utoipa::path(post, path = "/api/v1/workspaces", request_body = NewWorkspace,
    responses((status = 201, body = WorkspaceDto), (status = 400, body = ErrorBody)))]
pub(crate) async fn create_workspace(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Json(request): Json<NewWorkspace>,
) -> ApiResult<(StatusCode, Json<WorkspaceDto>)> {
    let workspace =
        state.service.create_workspace(&principal, &request.name, &request.description, request.tags).await?;
    Ok((StatusCode::CREATED, Json(workspace.into())))
}

/// Shows one workspace.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}", params(("ws" = String, Path)),
    responses((status = 200, body = WorkspaceDto), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_workspace(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
) -> ApiResult<Json<WorkspaceDto>> {
    Ok(Json(state.service.get_workspace(&principal, &ws).await?.into()))
}

/// Updates a workspace's description and tags (Owners and Contributors).
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}", params(("ws" = String, Path)), request_body = WorkspacePatch,
    responses((status = 200, body = WorkspaceDto)))]
pub(crate) async fn update_workspace(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    Json(request): Json<WorkspacePatch>,
) -> ApiResult<Json<WorkspaceDto>> {
    let workspace =
        state.service.update_workspace(&principal, &ws, request.description.as_deref(), request.tags.as_ref()).await?;
    Ok(Json(workspace.into()))
}

/// Deletes a workspace and everything in it (Owners and Contributors).
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}", params(("ws" = String, Path)), responses((status = 204)))]
pub(crate) async fn delete_workspace(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
) -> ApiResult<StatusCode> {
    state.service.delete_workspace(&principal, &ws).await?;
    Ok(StatusCode::NO_CONTENT)
}

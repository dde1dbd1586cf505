//! The `mlflow-artifacts` proxy: `mlflow-artifacts:/<path>` URIs resolve to these routes under
//! the tracking URI. Bodies stream in both directions; an upload that breaks off stores nothing.

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::wire::{MultiQuery, Ws};
use atelier_core::names::WorkspaceName;
use atelier_service::{ArtifactEntry, Principal};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::{Value, json};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/artifacts", get(list))
        .route("/artifacts/", get(list))
        .route("/artifacts/{*path}", get(download).put(upload).delete(delete))
}

/// The `{*path}` of a route; a struct so that the `/ws/{workspace}` prefix's parameter is ignored.
#[derive(Deserialize)]
pub(crate) struct FilePath {
    pub(crate) path: String,
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    path: Option<String>,
}

pub(crate) fn entries_json(entries: &[ArtifactEntry]) -> Value {
    if entries.is_empty() {
        return json!({});
    }
    let files: Vec<Value> = entries
        .iter()
        .map(|entry| {
            let mut file = json!({ "path": entry.name, "is_dir": entry.is_dir });
            if let Some(size) = entry.size {
                file["file_size"] = json!(size);
            }
            file
        })
        .collect();
    json!({ "files": files })
}

async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MultiQuery(query): MultiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    let entries =
        state.service.list_artifacts(&principal, &workspace, query.path.as_deref().unwrap_or_default()).await?;
    Ok(Json(entries_json(&entries)))
}

/// Streams a file's bytes with its length; shared with the native API.
pub(crate) async fn download_response(
    state: &AppState,
    principal: &Principal,
    workspace: &WorkspaceName,
    path: &str,
) -> ApiResult<Response> {
    let download = state.service.download_artifact(principal, workspace, path).await?;
    let body = Body::from_stream(download.stream.map_err(std::io::Error::other));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(download.size));
    Ok(response)
}

async fn download(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    Path(FilePath { path }): Path<FilePath>,
) -> ApiResult<Response> {
    download_response(&state, &principal, &workspace, &path).await
}

/// Streams a request body into a file; shared with the native API.
pub(crate) async fn upload_body(
    state: &AppState,
    principal: &Principal,
    workspace: &WorkspaceName,
    path: &str,
    body: Body,
) -> ApiResult<u64> {
    let stream = body.into_data_stream().map(|chunk| chunk.map_err(|error| error.to_string())).boxed();
    Ok(state.service.upload_artifact(principal, workspace, path, stream).await?)
}

async fn upload(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    Path(FilePath { path }): Path<FilePath>,
    body: Body,
) -> ApiResult<Json<Value>> {
    upload_body(&state, &principal, &workspace, &path, body).await?;
    Ok(Json(json!({})))
}

async fn delete(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    Path(FilePath { path }): Path<FilePath>,
) -> ApiResult<Json<Value>> {
    state.service.delete_artifact(&principal, &workspace, &path).await?;
    Ok(Json(json!({})))
}

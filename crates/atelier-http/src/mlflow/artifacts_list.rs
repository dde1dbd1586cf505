//! `artifacts/list`: a run's artifacts, and the listing under an artifact root that it shares
//! with a logged model's `artifacts/directories`.

use super::run_id_of;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::wire::{MultiQuery, Ws};
use atelier_core::Error;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/artifacts/list", get(list_run_artifacts))
}

#[derive(Deserialize)]
struct ListArtifactsQuery {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    run_uuid: Option<String>,
    #[serde(default)]
    path: Option<String>,
}

/// `artifacts/list`: a run's artifacts by run id, with paths relative to the run's root.
async fn list_run_artifacts(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MultiQuery(query): MultiQuery<ListArtifactsQuery>,
) -> ApiResult<Json<Value>> {
    let run_id = run_id_of(query.run_id, query.run_uuid)?;
    let run = state.service.get_run(&principal, &workspace, &run_id).await?;
    let files = list_under_root(&state, &principal, &workspace, &run.info.artifact_uri, query.path.as_deref()).await?;
    Ok(Json(json!({ "root_uri": run.info.artifact_uri, "files": files })))
}

/// Lists a folder under a `mlflow-artifacts:` root, with paths relative to that root, as
/// `artifacts/list` and `logged-models/{id}/artifacts/directories` answer.
pub(super) async fn list_under_root(
    state: &AppState,
    principal: &atelier_service::Principal,
    workspace: &atelier_core::names::WorkspaceName,
    root_uri: &str,
    folder: Option<&str>,
) -> Result<Vec<Value>, Error> {
    let folder = atelier_core::limits::normalize_artifact_path(folder.unwrap_or_default())?;
    let listed = atelier_service::Service::artifact_path_under(root_uri, &folder)?;
    let entries = state.service.list_artifacts(principal, workspace, &listed).await?;
    Ok(entries
        .iter()
        .map(|entry| {
            let path = if folder.is_empty() { entry.name.clone() } else { format!("{folder}/{}", entry.name) };
            let mut file = json!({ "path": path, "is_dir": entry.is_dir });
            if let Some(size) = entry.size {
                file["file_size"] = json!(size);
            }
            file
        })
        .collect())
}

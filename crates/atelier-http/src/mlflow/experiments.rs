//! MLflow's experiments: create, get (by id or name), search, update, delete, restore and
//! experiment tags.

use super::{KeyValue, required, tags_json, view_type};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::wire::{MlflowJson, MultiQuery, Ws, opt_i64, opt_string, string_list};
use atelier_core::model::{Experiment, Tag};
use atelier_service::ExperimentSearch;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/experiments/create", post(create_experiment))
        .route("/experiments/get", get(get_experiment))
        .route("/experiments/get-by-name", get(get_experiment_by_name))
        .route("/experiments/search", post(search_experiments_post).get(search_experiments_get))
        .route("/experiments/update", post(update_experiment))
        .route("/experiments/delete", post(delete_experiment))
        .route("/experiments/restore", post(restore_experiment))
        .route("/experiments/set-experiment-tag", post(set_experiment_tag))
        .route("/experiments/delete-experiment-tag", post(delete_experiment_tag))
}

pub(crate) fn experiment_json(experiment: &Experiment) -> Value {
    let mut value = json!({
        "experiment_id": experiment.experiment_id.to_string(),
        "name": experiment.name,
        "artifact_location": experiment.artifact_location,
        "lifecycle_stage": experiment.lifecycle_stage.as_str(),
        "creation_time": experiment.creation_time,
        "last_update_time": experiment.last_update_time,
        "workspace": experiment.workspace.as_str(),
    });
    if !experiment.tags.is_empty() {
        value["tags"] = tags_json(&experiment.tags);
    }
    value
}

#[derive(Deserialize)]
struct CreateExperiment {
    name: Option<String>,
    #[serde(default)]
    artifact_location: Option<String>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

async fn create_experiment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MlflowJson(request): MlflowJson<CreateExperiment>,
) -> ApiResult<Json<Value>> {
    let name = required(request.name, "name")?;
    let tags = request.tags.into_iter().map(|tag| tag.into_tag("tags")).collect::<Result<Vec<_>, _>>()?;
    let id = state
        .service
        .create_experiment(&principal, &workspace, &name, request.artifact_location.as_deref(), tags)
        .await?;
    Ok(Json(json!({ "experiment_id": id.to_string() })))
}

#[derive(Deserialize)]
struct ExperimentIdQuery {
    #[serde(default, deserialize_with = "opt_string")]
    experiment_id: Option<String>,
}

async fn get_experiment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MultiQuery(query): MultiQuery<ExperimentIdQuery>,
) -> ApiResult<Json<Value>> {
    let id = required(query.experiment_id, "experiment_id")?;
    let experiment = state.service.get_experiment(&principal, &workspace, &id).await?;
    Ok(Json(json!({ "experiment": experiment_json(&experiment) })))
}

#[derive(Deserialize)]
struct ExperimentNameQuery {
    experiment_name: Option<String>,
}

async fn get_experiment_by_name(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MultiQuery(query): MultiQuery<ExperimentNameQuery>,
) -> ApiResult<Json<Value>> {
    let name = required(query.experiment_name, "experiment_name")?;
    let experiment = state.service.get_experiment_by_name(&principal, &workspace, &name).await?;
    Ok(Json(json!({ "experiment": experiment_json(&experiment) })))
}

#[derive(Deserialize)]
struct SearchExperiments {
    #[serde(default, deserialize_with = "opt_i64")]
    max_results: Option<i64>,
    #[serde(default)]
    page_token: Option<String>,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default, deserialize_with = "string_list")]
    order_by: Vec<String>,
    #[serde(default, deserialize_with = "opt_string")]
    view_type: Option<String>,
}

async fn search_experiments(
    state: AppState,
    principal: atelier_service::Principal,
    workspace: atelier_core::names::WorkspaceName,
    request: SearchExperiments,
) -> ApiResult<Json<Value>> {
    let search = ExperimentSearch {
        view: view_type(request.view_type.as_deref())?,
        filter: request.filter,
        order_by: request.order_by,
        max_results: request.max_results,
        page_token: request.page_token,
    };
    let page = state.service.search_experiments(&principal, &workspace, &search).await?;
    let mut body = json!({ "experiments": page.items.iter().map(experiment_json).collect::<Vec<_>>() });
    if let Some(token) = page.next_page_token {
        body["next_page_token"] = json!(token);
    }
    Ok(Json(body))
}

async fn search_experiments_post(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MlflowJson(request): MlflowJson<SearchExperiments>,
) -> ApiResult<Json<Value>> {
    search_experiments(state, principal, workspace, request).await
}

async fn search_experiments_get(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MultiQuery(request): MultiQuery<SearchExperiments>,
) -> ApiResult<Json<Value>> {
    search_experiments(state, principal, workspace, request).await
}

#[derive(Deserialize)]
struct UpdateExperiment {
    #[serde(default, deserialize_with = "opt_string")]
    experiment_id: Option<String>,
    new_name: Option<String>,
}

async fn update_experiment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MlflowJson(request): MlflowJson<UpdateExperiment>,
) -> ApiResult<Json<Value>> {
    let id = required(request.experiment_id, "experiment_id")?;
    if let Some(new_name) = request.new_name {
        state.service.rename_experiment(&principal, &workspace, &id, &new_name).await?;
    }
    Ok(Json(json!({})))
}

async fn delete_experiment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MlflowJson(request): MlflowJson<ExperimentIdQuery>,
) -> ApiResult<Json<Value>> {
    let id = required(request.experiment_id, "experiment_id")?;
    state.service.delete_experiment(&principal, &workspace, &id).await?;
    Ok(Json(json!({})))
}

async fn restore_experiment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MlflowJson(request): MlflowJson<ExperimentIdQuery>,
) -> ApiResult<Json<Value>> {
    let id = required(request.experiment_id, "experiment_id")?;
    state.service.restore_experiment(&principal, &workspace, &id).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct ExperimentTagRequest {
    #[serde(default, deserialize_with = "opt_string")]
    experiment_id: Option<String>,
    key: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    value: Option<String>,
}

async fn set_experiment_tag(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MlflowJson(request): MlflowJson<ExperimentTagRequest>,
) -> ApiResult<Json<Value>> {
    let id = required(request.experiment_id, "experiment_id")?;
    let tag = Tag { key: required(request.key, "key")?, value: request.value.unwrap_or_default() };
    state.service.set_experiment_tag(&principal, &workspace, &id, tag).await?;
    Ok(Json(json!({})))
}

async fn delete_experiment_tag(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MlflowJson(request): MlflowJson<ExperimentTagRequest>,
) -> ApiResult<Json<Value>> {
    let id = required(request.experiment_id, "experiment_id")?;
    let key = required(request.key, "key")?;
    state.service.delete_experiment_tag(&principal, &workspace, &id, &key).await?;
    Ok(Json(json!({})))
}

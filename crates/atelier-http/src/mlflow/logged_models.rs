//! MLflow 3's logged models: create, get, finalize, delete, search, tags, params and the listing
//! of a logged model's files.

use super::artifacts_list::list_under_root;
use super::{KeyValue, required, tags_json};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::wire::{MlflowJson, MultiQuery, Ws, opt_i64, opt_string, string_list};
use atelier_core::Error;
use atelier_core::model::{LoggedModel, Param};
use atelier_service::{LoggedModelSearch, NewLoggedModel};
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/logged-models", post(create_logged_model))
        .route("/logged-models/search", post(search_logged_models))
        .route(
            "/logged-models/{model_id}",
            get(get_logged_model).patch(finalize_logged_model).delete(delete_logged_model),
        )
        .route("/logged-models/{model_id}/tags", axum::routing::patch(set_logged_model_tags))
        .route("/logged-models/{model_id}/tags/{tag_key}", axum::routing::delete(delete_logged_model_tag))
        .route("/logged-models/{model_id}/params", post(log_logged_model_params))
        .route("/logged-models/{model_id}/artifacts/directories", get(list_logged_model_artifacts))
}

pub(crate) fn logged_model_json(model: &LoggedModel) -> Value {
    let mut info = json!({
        "model_id": model.model_id,
        "experiment_id": model.experiment_id.to_string(),
        "name": model.name,
        "creation_timestamp_ms": model.creation_time,
        "last_updated_timestamp_ms": model.last_updated_time,
        "artifact_uri": model.artifact_location,
        "status": model.status,
        "status_message": model.status_message,
        "tags": tags_json(&model.tags),
    });
    if !model.model_type.is_empty() {
        info["model_type"] = json!(model.model_type);
    }
    if let Some(run_id) = &model.source_run_id {
        info["source_run_id"] = json!(run_id);
    }
    json!({
        "info": info,
        "data": { "params": model.params.iter().map(|param| json!({ "key": param.key, "value": param.value })).collect::<Vec<_>>() },
    })
}

#[derive(Deserialize)]
struct ModelIdPath {
    model_id: String,
}

#[derive(Deserialize)]
struct ModelTagPath {
    model_id: String,
    tag_key: String,
}

#[derive(Deserialize)]
struct CreateLoggedModelRequest {
    #[serde(default, deserialize_with = "opt_string")]
    experiment_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    model_type: Option<String>,
    #[serde(default)]
    source_run_id: Option<String>,
    #[serde(default)]
    params: Vec<KeyValue>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

async fn create_logged_model(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MlflowJson(request): MlflowJson<CreateLoggedModelRequest>,
) -> ApiResult<Json<Value>> {
    let params = request
        .params
        .into_iter()
        .map(|param| param.into_tag("params").map(|tag| Param { key: tag.key, value: tag.value }))
        .collect::<Result<Vec<_>, _>>()?;
    let tags = request.tags.into_iter().map(|tag| tag.into_tag("tags")).collect::<Result<Vec<_>, _>>()?;
    let new_model = NewLoggedModel {
        experiment_id: required(request.experiment_id, "experiment_id")?,
        name: request.name,
        model_type: request.model_type,
        source_run_id: request.source_run_id,
        params,
        tags,
    };
    let model = state.service.create_logged_model(&principal, &workspace, new_model).await?;
    Ok(Json(json!({ "model": logged_model_json(&model) })))
}

async fn get_logged_model(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    Path(path): Path<ModelIdPath>,
) -> ApiResult<Json<Value>> {
    let model = state.service.get_logged_model(&principal, &workspace, &path.model_id).await?;
    Ok(Json(json!({ "model": logged_model_json(&model) })))
}

#[derive(Deserialize)]
struct FinalizeRequest {
    #[serde(default, deserialize_with = "opt_string")]
    status: Option<String>,
}

async fn finalize_logged_model(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    Path(path): Path<ModelIdPath>,
    MlflowJson(request): MlflowJson<FinalizeRequest>,
) -> ApiResult<Json<Value>> {
    let status = required(request.status, "status")?;
    // Proto enums may arrive by number.
    let status = match status.as_str() {
        "1" => "LOGGED_MODEL_PENDING".to_owned(),
        "2" => "LOGGED_MODEL_READY".to_owned(),
        "3" => "LOGGED_MODEL_UPLOAD_FAILED".to_owned(),
        _ => status,
    };
    let model = state.service.finalize_logged_model(&principal, &workspace, &path.model_id, &status).await?;
    Ok(Json(json!({ "model": logged_model_json(&model) })))
}

async fn delete_logged_model(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    Path(path): Path<ModelIdPath>,
) -> ApiResult<Json<Value>> {
    state.service.delete_logged_model(&principal, &workspace, &path.model_id).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct ModelTagsRequest {
    #[serde(default)]
    tags: Vec<KeyValue>,
}

async fn set_logged_model_tags(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    Path(path): Path<ModelIdPath>,
    MlflowJson(request): MlflowJson<ModelTagsRequest>,
) -> ApiResult<Json<Value>> {
    let tags = request.tags.into_iter().map(|tag| tag.into_tag("tags")).collect::<Result<Vec<_>, _>>()?;
    let model = state.service.set_logged_model_tags(&principal, &workspace, &path.model_id, tags).await?;
    Ok(Json(json!({ "model": logged_model_json(&model) })))
}

async fn delete_logged_model_tag(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    Path(path): Path<ModelTagPath>,
) -> ApiResult<Json<Value>> {
    state.service.delete_logged_model_tag(&principal, &workspace, &path.model_id, &path.tag_key).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct ModelParamsRequest {
    #[serde(default)]
    params: Vec<KeyValue>,
}

async fn log_logged_model_params(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    Path(path): Path<ModelIdPath>,
    MlflowJson(request): MlflowJson<ModelParamsRequest>,
) -> ApiResult<Json<Value>> {
    let params = request
        .params
        .into_iter()
        .map(|param| param.into_tag("params").map(|tag| Param { key: tag.key, value: tag.value }))
        .collect::<Result<Vec<_>, _>>()?;
    state.service.log_logged_model_params(&principal, &workspace, &path.model_id, params).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct OrderByMessage {
    field_name: Option<String>,
    #[serde(default)]
    ascending: Option<bool>,
}

#[derive(Deserialize)]
struct SearchLoggedModelsRequest {
    #[serde(default, deserialize_with = "string_list")]
    experiment_ids: Vec<String>,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    max_results: Option<i64>,
    #[serde(default)]
    order_by: Vec<OrderByMessage>,
    #[serde(default)]
    page_token: Option<String>,
}

async fn search_logged_models(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MlflowJson(request): MlflowJson<SearchLoggedModelsRequest>,
) -> ApiResult<Json<Value>> {
    let order_by = request
        .order_by
        .into_iter()
        .map(|order| Ok((required(order.field_name, "order_by.field_name")?, order.ascending.unwrap_or(true))))
        .collect::<Result<Vec<_>, Error>>()?;
    let search = LoggedModelSearch {
        experiment_ids: request.experiment_ids,
        filter: request.filter,
        order_by,
        max_results: request.max_results,
        page_token: request.page_token,
    };
    let page = state.service.search_logged_models(&principal, &workspace, &search).await?;
    let mut body = json!({ "models": page.items.iter().map(logged_model_json).collect::<Vec<_>>() });
    if let Some(token) = page.next_page_token {
        body["next_page_token"] = json!(token);
    }
    Ok(Json(body))
}

#[derive(Deserialize)]
struct ModelArtifactsQuery {
    #[serde(default)]
    artifact_directory_path: Option<String>,
}

/// `logged-models/{id}/artifacts/directories`: a logged model's files.
async fn list_logged_model_artifacts(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    Path(path): Path<ModelIdPath>,
    MultiQuery(query): MultiQuery<ModelArtifactsQuery>,
) -> ApiResult<Json<Value>> {
    let model = state.service.get_logged_model(&principal, &workspace, &path.model_id).await?;
    let files = list_under_root(
        &state,
        &principal,
        &workspace,
        &model.artifact_location,
        query.artifact_directory_path.as_deref(),
    )
    .await?;
    Ok(Json(json!({ "root_uri": model.artifact_location, "files": files })))
}

//! Tracking: experiments, runs, their metrics, params and tags, and run artifacts.

use super::*;
use crate::AppState;
use crate::artifacts::{download_response, upload_body};
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::wire::{MultiQuery, double_json, opt_i64, string_list};
use atelier_core::Error;
use atelier_core::authz::Action;
use atelier_core::model::*;
use atelier_core::names::WorkspaceName;
use atelier_service::{ExperimentSearch, LoggedRun, RunSearch, Service};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::{OpenApi, ToSchema};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspaces/{ws}/experiments", get(list_experiments).post(create_experiment))
        .route(
            "/workspaces/{ws}/experiments/{id}",
            get(get_experiment).patch(rename_experiment).delete(delete_experiment),
        )
        .route("/workspaces/{ws}/experiments/{id}/restore", post(restore_experiment))
        .route("/workspaces/{ws}/runs", get(search_runs).post(create_run))
        .route("/workspaces/{ws}/runs/{run_id}", get(get_run).patch(update_run).delete(delete_run))
        .route("/workspaces/{ws}/runs/{run_id}/restore", post(restore_run))
        .route("/workspaces/{ws}/runs/{run_id}/log", post(log_to_run))
        .route("/workspaces/{ws}/runs/{run_id}/metrics/{key}", get(metric_history))
        .route("/workspaces/{ws}/runs/{run_id}/artifacts", get(list_run_artifacts))
        .route("/workspaces/{ws}/runs/{run_id}/artifacts/{*path}", get(download_run_artifact).put(upload_run_artifact))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        list_experiments,
        create_experiment,
        get_experiment,
        rename_experiment,
        delete_experiment,
        restore_experiment,
        search_runs,
        create_run,
        get_run,
        update_run,
        delete_run,
        restore_run,
        log_to_run,
        metric_history,
        list_run_artifacts,
        download_run_artifact,
        upload_run_artifact
    ),
    components(schemas(
        ExperimentDto,
        NewExperiment,
        ExperimentPatch,
        ExperimentPage,
        RunDto,
        RunPage,
        NewRun,
        RunPatch,
        LogRequest,
        MetricDto,
        MetricPage,
        ArtifactDto,
        DatasetInputDto
    ))
)]
pub(super) struct Doc;

// Experiments.

#[derive(Serialize, ToSchema)]
pub struct ExperimentDto {
    experiment_id: String,
    name: String,
    artifact_location: String,
    lifecycle_stage: String,
    creation_time: i64,
    last_update_time: i64,
    tags: BTreeMap<String, String>,
}

impl From<Experiment> for ExperimentDto {
    fn from(experiment: Experiment) -> Self {
        ExperimentDto {
            experiment_id: experiment.experiment_id.to_string(),
            name: experiment.name,
            artifact_location: experiment.artifact_location,
            lifecycle_stage: experiment.lifecycle_stage.as_str().to_owned(),
            creation_time: experiment.creation_time,
            last_update_time: experiment.last_update_time,
            tags: experiment.tags.into_iter().map(|tag| (tag.key, tag.value)).collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ExperimentPage {
    items: Vec<ExperimentDto>,
    next_page_token: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewExperiment {
    name: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExperimentPatch {
    name: String,
}

pub(crate) fn parse_view(text: Option<&str>) -> Result<ViewType, Error> {
    match text.map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("active") | Some("active_only") => Ok(ViewType::ActiveOnly),
        Some("deleted") | Some("deleted_only") => Ok(ViewType::DeletedOnly),
        Some("all") => Ok(ViewType::All),
        Some(other) => Err(Error::invalid(format!("invalid view '{other}': expected active, deleted or all"))),
    }
}

#[derive(Deserialize)]
pub(crate) struct ExperimentListQuery {
    filter: Option<String>,
    #[serde(default, deserialize_with = "string_list")]
    order_by: Vec<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    max_results: Option<i64>,
    page_token: Option<String>,
    view: Option<String>,
}

/// Lists or searches experiments, with MLflow's filter language.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/experiments",
    params(("ws" = String, Path), ("filter" = Option<String>, Query), ("order_by" = Option<Vec<String>>, Query),
           ("max_results" = Option<i64>, Query), ("page_token" = Option<String>, Query), ("view" = Option<String>, Query, description = "active, deleted or all")),
    responses((status = 200, body = ExperimentPage)))]
pub(crate) async fn list_experiments(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    MultiQuery(query): MultiQuery<ExperimentListQuery>,
) -> ApiResult<Json<ExperimentPage>> {
    let search = ExperimentSearch {
        view: parse_view(query.view.as_deref())?,
        filter: query.filter,
        order_by: query.order_by,
        max_results: query.max_results,
        page_token: query.page_token,
    };
    let page = state.service.search_experiments(&principal, &workspace(&ws)?, &search).await?;
    Ok(Json(ExperimentPage {
        items: page.items.into_iter().map(Into::into).collect(),
        next_page_token: page.next_page_token,
    }))
}

/// Creates an experiment.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/experiments", params(("ws" = String, Path)), request_body = NewExperiment,
    responses((status = 201, body = ExperimentDto)))]
pub(crate) async fn create_experiment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    Json(request): Json<NewExperiment>,
) -> ApiResult<(StatusCode, Json<ExperimentDto>)> {
    let ws = workspace(&ws)?;
    let tags = request.tags.into_iter().map(|(key, value)| Tag { key, value }).collect();
    let id = state.service.create_experiment(&principal, &ws, &request.name, None, tags).await?;
    let experiment = state.service.get_experiment(&principal, &ws, &id.to_string()).await?;
    Ok((StatusCode::CREATED, Json(experiment.into())))
}

/// Resolves `{id}`: an experiment id, or a name.
pub(crate) async fn find_experiment(
    service: &Service,
    principal: &atelier_service::Principal,
    ws: &WorkspaceName,
    id: &str,
) -> Result<Experiment, Error> {
    match atelier_service::parse_experiment_id(id) {
        Ok(_) => service.get_experiment(principal, ws, id).await,
        Err(_) => service.get_experiment_by_name(principal, ws, id).await,
    }
}

/// Shows an experiment, by id or by name.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/experiments/{id}", params(("ws" = String, Path), ("id" = String, Path, description = "id or name")),
    responses((status = 200, body = ExperimentDto), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_experiment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<Json<ExperimentDto>> {
    Ok(Json(find_experiment(&state.service, &principal, &workspace(&ws)?, &id).await?.into()))
}

/// Renames an experiment.
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}/experiments/{id}", params(("ws" = String, Path), ("id" = String, Path)),
    request_body = ExperimentPatch, responses((status = 200, body = ExperimentDto)))]
pub(crate) async fn rename_experiment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, id)): Path<(String, String)>,
    Json(request): Json<ExperimentPatch>,
) -> ApiResult<Json<ExperimentDto>> {
    let ws = workspace(&ws)?;
    state.service.rename_experiment(&principal, &ws, &id, &request.name).await?;
    Ok(Json(state.service.get_experiment(&principal, &ws, &id).await?.into()))
}

/// Deletes an experiment and its runs (restorable).
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/experiments/{id}", params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 204)))]
pub(crate) async fn delete_experiment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.service.delete_experiment(&principal, &workspace(&ws)?, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Restores a deleted experiment and its runs.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/experiments/{id}/restore", params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 204)))]
pub(crate) async fn restore_experiment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.service.restore_experiment(&principal, &workspace(&ws)?, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// Runs.

#[derive(Serialize, ToSchema)]
pub struct DatasetInputDto {
    name: String,
    digest: String,
    source_type: String,
    source: String,
    tags: BTreeMap<String, String>,
}

#[derive(Serialize, ToSchema)]
pub struct RunDto {
    run_id: String,
    run_name: String,
    experiment_id: String,
    user_id: String,
    status: String,
    start_time: Option<i64>,
    end_time: Option<i64>,
    artifact_uri: String,
    lifecycle_stage: String,
    /// The latest value of each metric (NaN as the string "NaN").
    #[schema(value_type = BTreeMap<String, super::Double>)]
    metrics: BTreeMap<String, Value>,
    params: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
    inputs: Vec<DatasetInputDto>,
}

impl From<Run> for RunDto {
    fn from(run: Run) -> Self {
        let info = run.info;
        RunDto {
            run_id: info.run_id.to_string(),
            run_name: info.run_name,
            experiment_id: info.experiment_id.to_string(),
            user_id: info.user_id,
            status: info.status.as_str().to_owned(),
            start_time: info.start_time,
            end_time: info.end_time,
            artifact_uri: info.artifact_uri,
            lifecycle_stage: info.lifecycle_stage.as_str().to_owned(),
            metrics: run.metrics.into_iter().map(|metric| (metric.key, double_json(metric.value))).collect(),
            params: run.params.into_iter().map(|param| (param.key, param.value)).collect(),
            tags: run.tags.into_iter().map(|tag| (tag.key, tag.value)).collect(),
            inputs: run
                .inputs
                .into_iter()
                .map(|input| DatasetInputDto {
                    name: input.dataset.name,
                    digest: input.dataset.digest,
                    source_type: input.dataset.source_type,
                    source: input.dataset.source,
                    tags: input.tags.into_iter().map(|tag| (tag.key, tag.value)).collect(),
                })
                .collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RunPage {
    items: Vec<RunDto>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct RunSearchQuery {
    #[serde(default, deserialize_with = "string_list")]
    experiment_id: Vec<String>,
    #[serde(default, deserialize_with = "string_list")]
    experiment_name: Vec<String>,
    filter: Option<String>,
    #[serde(default, deserialize_with = "string_list")]
    order_by: Vec<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    max_results: Option<i64>,
    page_token: Option<String>,
    view: Option<String>,
}

/// Searches runs of one or more experiments (by id or name) with MLflow's filter language.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/runs",
    params(("ws" = String, Path), ("experiment_id" = Option<Vec<String>>, Query), ("experiment_name" = Option<Vec<String>>, Query),
           ("filter" = Option<String>, Query), ("order_by" = Option<Vec<String>>, Query), ("max_results" = Option<i64>, Query),
           ("page_token" = Option<String>, Query), ("view" = Option<String>, Query)),
    responses((status = 200, body = RunPage), (status = 400, body = ErrorBody)))]
pub(crate) async fn search_runs(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    MultiQuery(query): MultiQuery<RunSearchQuery>,
) -> ApiResult<Json<RunPage>> {
    let ws = workspace(&ws)?;
    let mut experiment_ids = query.experiment_id;
    for name in &query.experiment_name {
        let experiment = state.service.get_experiment_by_name(&principal, &ws, name).await?;
        experiment_ids.push(experiment.experiment_id.to_string());
    }
    let search = RunSearch {
        experiment_ids,
        filter: query.filter,
        view: parse_view(query.view.as_deref())?,
        order_by: query.order_by,
        max_results: query.max_results,
        page_token: query.page_token,
    };
    let page = state.service.search_runs(&principal, &ws, &search).await?;
    Ok(Json(RunPage { items: page.items.into_iter().map(Into::into).collect(), next_page_token: page.next_page_token }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRun {
    experiment_id: Option<String>,
    run_name: Option<String>,
    start_time: Option<i64>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// Creates a run.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/runs", params(("ws" = String, Path)), request_body = NewRun,
    responses((status = 201, body = RunDto)))]
pub(crate) async fn create_run(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    Json(request): Json<NewRun>,
) -> ApiResult<(StatusCode, Json<RunDto>)> {
    let new_run = LoggedRun {
        experiment_id: request.experiment_id,
        user_id: None,
        start_time: request.start_time,
        run_name: request.run_name,
        tags: request.tags.into_iter().map(|(key, value)| Tag { key, value }).collect(),
    };
    let run = state.service.create_run(&principal, &workspace(&ws)?, new_run).await?;
    Ok((StatusCode::CREATED, Json(run.into())))
}

/// Shows a run with its latest metrics, params, tags and inputs.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/runs/{run_id}", params(("ws" = String, Path), ("run_id" = String, Path)),
    responses((status = 200, body = RunDto), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_run(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, run_id)): Path<(String, String)>,
) -> ApiResult<Json<RunDto>> {
    Ok(Json(state.service.get_run(&principal, &workspace(&ws)?, &run_id).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunPatch {
    status: Option<String>,
    end_time: Option<i64>,
    run_name: Option<String>,
}

/// Updates a run's status, end time or name.
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}/runs/{run_id}", params(("ws" = String, Path), ("run_id" = String, Path)),
    request_body = RunPatch, responses((status = 200, body = RunDto)))]
pub(crate) async fn update_run(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, run_id)): Path<(String, String)>,
    Json(request): Json<RunPatch>,
) -> ApiResult<Json<RunDto>> {
    let ws = workspace(&ws)?;
    state
        .service
        .update_run(&principal, &ws, &run_id, request.status.as_deref(), request.end_time, request.run_name.as_deref())
        .await?;
    Ok(Json(state.service.get_run(&principal, &ws, &run_id).await?.into()))
}

/// Deletes a run (restorable).
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/runs/{run_id}", params(("ws" = String, Path), ("run_id" = String, Path)),
    responses((status = 204)))]
pub(crate) async fn delete_run(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, run_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.service.delete_run(&principal, &workspace(&ws)?, &run_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Restores a deleted run.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/runs/{run_id}/restore", params(("ws" = String, Path), ("run_id" = String, Path)),
    responses((status = 204)))]
pub(crate) async fn restore_run(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, run_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.service.restore_run(&principal, &workspace(&ws)?, &run_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricDto {
    key: String,
    /// A number, or "NaN", "Infinity" or "-Infinity".
    #[schema(value_type = super::Double)]
    #[serde(deserialize_with = "crate::wire::opt_f64", serialize_with = "serialize_double")]
    value: Option<f64>,
    timestamp: i64,
    #[serde(default)]
    step: i64,
}

pub(crate) fn serialize_double<S: serde::Serializer>(value: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
    double_json(value.unwrap_or(f64::NAN)).serialize(serializer)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogRequest {
    #[serde(default)]
    metrics: Vec<MetricDto>,
    #[serde(default)]
    params: BTreeMap<String, String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// Logs metrics, params and tags to a run, all or nothing (MLflow's limits apply).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/runs/{run_id}/log", params(("ws" = String, Path), ("run_id" = String, Path)),
    request_body = LogRequest, responses((status = 204), (status = 400, body = ErrorBody)))]
pub(crate) async fn log_to_run(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, run_id)): Path<(String, String)>,
    Json(request): Json<LogRequest>,
) -> ApiResult<StatusCode> {
    let metrics = request
        .metrics
        .into_iter()
        .map(|metric| {
            Ok(Metric {
                value: metric.value.ok_or_else(|| Error::invalid(format!("metric '{}' has no value", metric.key)))?,
                key: metric.key,
                timestamp: metric.timestamp,
                step: metric.step,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let params = request.params.into_iter().map(|(key, value)| Param { key, value }).collect();
    let tags = request.tags.into_iter().map(|(key, value)| Tag { key, value }).collect();
    state.service.log_batch(&principal, &workspace(&ws)?, &run_id, metrics, params, tags).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct MetricPage {
    items: Vec<MetricDto>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct HistoryQuery {
    #[serde(default, deserialize_with = "opt_i64")]
    max_results: Option<i64>,
    page_token: Option<String>,
}

/// The full history of one metric, by step.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/runs/{run_id}/metrics/{key}",
    params(("ws" = String, Path), ("run_id" = String, Path), ("key" = String, Path), ("max_results" = Option<i64>, Query), ("page_token" = Option<String>, Query)),
    responses((status = 200, body = MetricPage)))]
pub(crate) async fn metric_history(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, run_id, key)): Path<(String, String, String)>,
    MultiQuery(query): MultiQuery<HistoryQuery>,
) -> ApiResult<Json<MetricPage>> {
    let page = state
        .service
        .get_metric_history(&principal, &workspace(&ws)?, &run_id, &key, query.max_results, query.page_token.as_deref())
        .await?;
    let items = page
        .points
        .into_iter()
        .map(|point| MetricDto {
            key: page.key.clone(),
            value: Some(point.value),
            timestamp: point.timestamp,
            step: point.step,
        })
        .collect();
    Ok(Json(MetricPage { items, next_page_token: page.next_page_token }))
}

#[derive(Deserialize)]
pub(crate) struct ArtifactListQuery {
    path: Option<String>,
}

pub(crate) fn join_path(root: &str, path: &str) -> String {
    match (root.is_empty(), path.is_empty()) {
        (_, true) => root.to_owned(),
        (true, false) => path.to_owned(),
        (false, false) => format!("{root}/{path}"),
    }
}

/// Lists a folder of a run's artifacts.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/runs/{run_id}/artifacts",
    params(("ws" = String, Path), ("run_id" = String, Path), ("path" = Option<String>, Query)), responses((status = 200, body = Vec<ArtifactDto>)))]
pub(crate) async fn list_run_artifacts(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, run_id)): Path<(String, String)>,
    MultiQuery(query): MultiQuery<ArtifactListQuery>,
) -> ApiResult<Json<Vec<ArtifactDto>>> {
    let ws = workspace(&ws)?;
    let folder = atelier_core::limits::normalize_artifact_path(query.path.as_deref().unwrap_or_default())?;
    let (_, listed) =
        state.service.run_artifact_path(&principal, &ws, &run_id, &folder, Action::ExperimentsRead).await?;
    let entries = state.service.list_artifacts(&principal, &ws, &listed).await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|entry| ArtifactDto { path: join_path(&folder, &entry.name), is_dir: entry.is_dir, size: entry.size })
            .collect(),
    ))
}

/// Downloads one file of a run's artifacts.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/runs/{run_id}/artifacts/{path}",
    params(("ws" = String, Path), ("run_id" = String, Path), ("path" = String, Path)), responses((status = 200, content_type = "application/octet-stream")))]
pub(crate) async fn download_run_artifact(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, run_id, path)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let ws = workspace(&ws)?;
    let (_, file) = state.service.run_artifact_path(&principal, &ws, &run_id, &path, Action::ExperimentsRead).await?;
    download_response(&state, &principal, &ws, &file).await
}

/// Uploads one file to a run's artifacts (the body is the file, streamed).
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/runs/{run_id}/artifacts/{path}",
    params(("ws" = String, Path), ("run_id" = String, Path), ("path" = String, Path)), responses((status = 204)))]
pub(crate) async fn upload_run_artifact(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, run_id, path)): Path<(String, String, String)>,
    body: Body,
) -> ApiResult<StatusCode> {
    let ws = workspace(&ws)?;
    if atelier_core::limits::normalize_artifact_path(&path)?.is_empty() {
        return Err(Error::invalid("an artifact upload needs a file path").into());
    }
    let (_, file) = state.service.run_artifact_path(&principal, &ws, &run_id, &path, Action::ExperimentsWrite).await?;
    upload_body(&state, &principal, &ws, &file, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

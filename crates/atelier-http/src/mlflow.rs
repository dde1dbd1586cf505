//! The MLflow-compatible tracking API (`/api/2.0/mlflow/...`): MLflow's request and response
//! JSON, translated to and from service operations. MLflow compatibility is an adapter here,
//! never a second data model.

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::wire::{MlflowJson, MultiQuery, Ws, double_json, opt_f64, opt_i64, opt_string, string_list};
use atelier_core::Error;
use atelier_core::model::*;
use atelier_service::{ExperimentSearch, LoggedModelSearch, LoggedRun, NewLoggedModel, RunSearch};
use axum::extract::Path;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub(crate) fn routes() -> Router<AppState> {
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
        .route("/runs/create", post(create_run))
        .route("/runs/get", get(get_run))
        .route("/runs/update", post(update_run))
        .route("/runs/delete", post(delete_run))
        .route("/runs/restore", post(restore_run))
        .route("/runs/search", post(search_runs))
        .route("/runs/log-metric", post(log_metric))
        .route("/runs/log-parameter", post(log_param))
        .route("/runs/log-batch", post(log_batch))
        .route("/runs/set-tag", post(set_tag))
        .route("/runs/delete-tag", post(delete_tag))
        .route("/runs/log-inputs", post(log_inputs))
        .route("/metrics/get-history", get(get_metric_history))
        .route("/runs/outputs", post(log_outputs))
        .route("/runs/log-model", post(log_model))
        .route("/metrics/get-history-bulk-interval", get(get_metric_history_bulk_interval))
        .route("/artifacts/list", get(list_run_artifacts))
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
        .merge(crate::mlflow_registry::routes())
}

// Conversions to MLflow's JSON.

fn tags_json(tags: &[Tag]) -> Value {
    Value::Array(tags.iter().map(|tag| json!({ "key": tag.key, "value": tag.value })).collect())
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

pub(crate) fn metric_json(metric: &Metric) -> Value {
    json!({ "key": metric.key, "value": double_json(metric.value), "timestamp": metric.timestamp, "step": metric.step })
}

pub(crate) fn run_info_json(info: &RunInfo) -> Value {
    serde_json::to_value(RunInfoOut::from(info)).unwrap_or(Value::Null)
}

pub(crate) fn run_json(run: &Run) -> Value {
    serde_json::to_value(RunOut::from(run)).unwrap_or(Value::Null)
}

// Typed views of runs for serialisation: a search returns thousands of these, and building
// them as `serde_json::Value` maps cost more than the query.

#[derive(serde::Serialize)]
struct KeyValueOut<'a> {
    key: &'a str,
    value: &'a str,
}

fn tags_out(tags: &[Tag]) -> Vec<KeyValueOut<'_>> {
    tags.iter().map(|tag| KeyValueOut { key: &tag.key, value: &tag.value }).collect()
}

#[derive(serde::Serialize)]
struct RunInfoOut<'a> {
    run_id: &'a str,
    run_uuid: &'a str,
    run_name: &'a str,
    experiment_id: String,
    user_id: &'a str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_time: Option<i64>,
    artifact_uri: &'a str,
    lifecycle_stage: &'static str,
}

impl<'a> From<&'a RunInfo> for RunInfoOut<'a> {
    fn from(info: &'a RunInfo) -> Self {
        RunInfoOut {
            run_id: info.run_id.as_str(),
            run_uuid: info.run_id.as_str(),
            run_name: &info.run_name,
            experiment_id: info.experiment_id.to_string(),
            user_id: &info.user_id,
            status: info.status.as_str(),
            start_time: info.start_time,
            end_time: info.end_time,
            artifact_uri: &info.artifact_uri,
            lifecycle_stage: info.lifecycle_stage.as_str(),
        }
    }
}

#[derive(serde::Serialize)]
struct RunDataOut<'a> {
    metrics: Vec<MetricOut<'a>>,
    params: Vec<KeyValueOut<'a>>,
    tags: Vec<KeyValueOut<'a>>,
}

#[derive(serde::Serialize)]
struct DatasetOut<'a> {
    name: &'a str,
    digest: &'a str,
    source_type: &'a str,
    source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    schema: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct DatasetInputOut<'a> {
    tags: Vec<KeyValueOut<'a>>,
    dataset: DatasetOut<'a>,
}

#[derive(serde::Serialize)]
struct RunInputsOut<'a> {
    dataset_inputs: Vec<DatasetInputOut<'a>>,
}

#[derive(serde::Serialize)]
struct ModelOutputOut<'a> {
    model_id: &'a str,
    step: i64,
}

#[derive(serde::Serialize)]
struct RunOutputsOut<'a> {
    model_outputs: Vec<ModelOutputOut<'a>>,
}

#[derive(serde::Serialize)]
struct RunOut<'a> {
    info: RunInfoOut<'a>,
    data: RunDataOut<'a>,
    inputs: RunInputsOut<'a>,
    outputs: RunOutputsOut<'a>,
}

impl<'a> From<&'a Run> for RunOut<'a> {
    fn from(run: &'a Run) -> Self {
        RunOut {
            info: RunInfoOut::from(&run.info),
            data: RunDataOut {
                metrics: run
                    .metrics
                    .iter()
                    .map(|metric| MetricOut {
                        key: &metric.key,
                        value: Double(metric.value),
                        timestamp: metric.timestamp,
                        step: metric.step,
                    })
                    .collect(),
                params: run.params.iter().map(|param| KeyValueOut { key: &param.key, value: &param.value }).collect(),
                tags: tags_out(&run.tags),
            },
            inputs: RunInputsOut {
                dataset_inputs: run
                    .inputs
                    .iter()
                    .map(|input| DatasetInputOut {
                        tags: tags_out(&input.tags),
                        dataset: DatasetOut {
                            name: &input.dataset.name,
                            digest: &input.dataset.digest,
                            source_type: &input.dataset.source_type,
                            source: &input.dataset.source,
                            schema: input.dataset.schema.as_deref(),
                            profile: input.dataset.profile.as_deref(),
                        },
                    })
                    .collect(),
            },
            outputs: RunOutputsOut {
                model_outputs: run
                    .outputs
                    .iter()
                    .map(|output| ModelOutputOut { model_id: &output.model_id, step: output.step })
                    .collect(),
            },
        }
    }
}

#[derive(serde::Serialize)]
struct SearchRunsOut<'a> {
    runs: Vec<RunOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

fn view_type(text: Option<&str>) -> Result<ViewType, Error> {
    match text {
        None | Some("") | Some("ACTIVE_ONLY") | Some("1") => Ok(ViewType::ActiveOnly),
        Some("DELETED_ONLY") | Some("2") => Ok(ViewType::DeletedOnly),
        Some("ALL") | Some("3") => Ok(ViewType::All),
        Some(other) => {
            Err(Error::invalid(format!("invalid view_type '{other}': expected ACTIVE_ONLY, DELETED_ONLY or ALL")))
        }
    }
}

fn required<T>(value: Option<T>, field: &str) -> Result<T, Error> {
    value.ok_or_else(|| Error::invalid(format!("missing value for required parameter '{field}'")))
}

/// The run id of a request: MLflow clients send `run_id` and, for old servers, `run_uuid`.
fn run_id_of(run_id: Option<String>, run_uuid: Option<String>) -> Result<String, Error> {
    run_id
        .filter(|id| !id.is_empty())
        .or(run_uuid.filter(|id| !id.is_empty()))
        .ok_or_else(|| Error::invalid("missing value for required parameter 'run_id'"))
}

// Request messages.

#[derive(Deserialize)]
struct KeyValue {
    #[serde(default)]
    key: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    value: Option<String>,
}

impl KeyValue {
    fn into_tag(self, field: &str) -> Result<Tag, Error> {
        Ok(Tag { key: required(self.key, &format!("{field}.key"))?, value: self.value.unwrap_or_default() })
    }
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

#[derive(Deserialize)]
struct CreateRun {
    #[serde(default, deserialize_with = "opt_string")]
    experiment_id: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    start_time: Option<i64>,
    #[serde(default)]
    run_name: Option<String>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

async fn create_run(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MlflowJson(request): MlflowJson<CreateRun>,
) -> ApiResult<Json<Value>> {
    let tags = request.tags.into_iter().map(|tag| tag.into_tag("tags")).collect::<Result<Vec<_>, _>>()?;
    let new_run = LoggedRun {
        experiment_id: request.experiment_id,
        user_id: request.user_id,
        start_time: request.start_time,
        run_name: request.run_name,
        tags,
    };
    let run = state.service.create_run(&principal, &workspace, new_run).await?;
    Ok(Json(json!({ "run": run_json(&run) })))
}

#[derive(Deserialize)]
struct RunIdRequest {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    run_uuid: Option<String>,
}

async fn get_run(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MultiQuery(query): MultiQuery<RunIdRequest>,
) -> ApiResult<Json<Value>> {
    let run_id = run_id_of(query.run_id, query.run_uuid)?;
    let run = state.service.get_run(&principal, &workspace, &run_id).await?;
    Ok(Json(json!({ "run": run_json(&run) })))
}

#[derive(Deserialize)]
struct UpdateRun {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    run_uuid: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    end_time: Option<i64>,
    #[serde(default)]
    run_name: Option<String>,
}

async fn update_run(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MlflowJson(request): MlflowJson<UpdateRun>,
) -> ApiResult<Json<Value>> {
    let run_id = run_id_of(request.run_id, request.run_uuid)?;
    let info = state
        .service
        .update_run(
            &principal,
            &workspace,
            &run_id,
            request.status.as_deref(),
            request.end_time,
            request.run_name.as_deref(),
        )
        .await?;
    Ok(Json(json!({ "run_info": run_info_json(&info) })))
}

async fn delete_run(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MlflowJson(request): MlflowJson<RunIdRequest>,
) -> ApiResult<Json<Value>> {
    let run_id = run_id_of(request.run_id, request.run_uuid)?;
    state.service.delete_run(&principal, &workspace, &run_id).await?;
    Ok(Json(json!({})))
}

async fn restore_run(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MlflowJson(request): MlflowJson<RunIdRequest>,
) -> ApiResult<Json<Value>> {
    let run_id = run_id_of(request.run_id, request.run_uuid)?;
    state.service.restore_run(&principal, &workspace, &run_id).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct SearchRuns {
    #[serde(default, deserialize_with = "string_list")]
    experiment_ids: Vec<String>,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    run_view_type: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    max_results: Option<i64>,
    #[serde(default, deserialize_with = "string_list")]
    order_by: Vec<String>,
    #[serde(default)]
    page_token: Option<String>,
}

async fn search_runs(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MlflowJson(request): MlflowJson<SearchRuns>,
) -> ApiResult<axum::response::Response> {
    let search = RunSearch {
        experiment_ids: request.experiment_ids,
        filter: request.filter,
        view: view_type(request.run_view_type.as_deref())?,
        order_by: request.order_by,
        max_results: request.max_results,
        page_token: request.page_token,
    };
    let page = state.service.search_runs(&principal, &workspace, &search).await?;
    let body =
        SearchRunsOut { runs: page.items.iter().map(RunOut::from).collect(), next_page_token: page.next_page_token };
    Ok(Json(body).into_response())
}

#[derive(Deserialize)]
struct MetricMessage {
    key: Option<String>,
    #[serde(default, deserialize_with = "opt_f64")]
    value: Option<f64>,
    #[serde(default, deserialize_with = "opt_i64")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "opt_i64")]
    step: Option<i64>,
}

impl MetricMessage {
    fn into_metric(self, field: &str) -> Result<Metric, Error> {
        Ok(Metric {
            key: required(self.key, &format!("{field}key"))?,
            value: required(self.value, &format!("{field}value"))?,
            timestamp: required(self.timestamp, &format!("{field}timestamp"))?,
            step: self.step.unwrap_or(0),
        })
    }
}

#[derive(Deserialize)]
struct LogMetric {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    run_uuid: Option<String>,
    #[serde(flatten)]
    metric: MetricMessage,
}

async fn log_metric(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MlflowJson(request): MlflowJson<LogMetric>,
) -> ApiResult<Json<Value>> {
    let run_id = run_id_of(request.run_id, request.run_uuid)?;
    let metric = request.metric.into_metric("")?;
    state.service.log_batch(&principal, &workspace, &run_id, vec![metric], Vec::new(), Vec::new()).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct LogKeyValue {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    run_uuid: Option<String>,
    key: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    value: Option<String>,
}

async fn log_param(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MlflowJson(request): MlflowJson<LogKeyValue>,
) -> ApiResult<Json<Value>> {
    let run_id = run_id_of(request.run_id, request.run_uuid)?;
    let param = Param { key: required(request.key, "key")?, value: required(request.value, "value")? };
    state.service.log_batch(&principal, &workspace, &run_id, Vec::new(), vec![param], Vec::new()).await?;
    Ok(Json(json!({})))
}

async fn set_tag(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MlflowJson(request): MlflowJson<LogKeyValue>,
) -> ApiResult<Json<Value>> {
    let run_id = run_id_of(request.run_id, request.run_uuid)?;
    let tag = Tag { key: required(request.key, "key")?, value: request.value.unwrap_or_default() };
    state.service.log_batch(&principal, &workspace, &run_id, Vec::new(), Vec::new(), vec![tag]).await?;
    Ok(Json(json!({})))
}

async fn delete_tag(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MlflowJson(request): MlflowJson<LogKeyValue>,
) -> ApiResult<Json<Value>> {
    let run_id = run_id_of(request.run_id, request.run_uuid)?;
    let key = required(request.key, "key")?;
    state.service.delete_run_tag(&principal, &workspace, &run_id, &key).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct LogBatch {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    run_uuid: Option<String>,
    #[serde(default)]
    metrics: Vec<MetricMessage>,
    #[serde(default)]
    params: Vec<KeyValue>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

async fn log_batch(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MlflowJson(request): MlflowJson<LogBatch>,
) -> ApiResult<Json<Value>> {
    let run_id = run_id_of(request.run_id, request.run_uuid)?;
    let metrics = request
        .metrics
        .into_iter()
        .enumerate()
        .map(|(index, metric)| metric.into_metric(&format!("metrics[{index}].")))
        .collect::<Result<Vec<_>, _>>()?;
    let params = request
        .params
        .into_iter()
        .enumerate()
        .map(|(index, param)| {
            Ok(Param {
                key: required(param.key, &format!("params[{index}].key"))?,
                value: required(param.value, &format!("params[{index}].value"))?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let tags = request.tags.into_iter().map(|tag| tag.into_tag("tags")).collect::<Result<Vec<_>, _>>()?;
    state.service.log_batch(&principal, &workspace, &run_id, metrics, params, tags).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct DatasetMessage {
    name: Option<String>,
    digest: Option<String>,
    source_type: Option<String>,
    source: Option<String>,
    #[serde(default)]
    schema: Option<String>,
    #[serde(default)]
    profile: Option<String>,
}

#[derive(Deserialize)]
struct DatasetInputMessage {
    #[serde(default)]
    tags: Vec<KeyValue>,
    dataset: Option<DatasetMessage>,
}

#[derive(Deserialize)]
struct LogInputs {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    datasets: Vec<DatasetInputMessage>,
}

async fn log_inputs(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MlflowJson(request): MlflowJson<LogInputs>,
) -> ApiResult<Json<Value>> {
    let run_id = run_id_of(request.run_id, None)?;
    let mut inputs = Vec::with_capacity(request.datasets.len());
    for (index, input) in request.datasets.into_iter().enumerate() {
        let dataset = required(input.dataset, &format!("datasets[{index}].dataset"))?;
        let field = |name: &str| format!("datasets[{index}].dataset.{name}");
        inputs.push(DatasetInput {
            tags: input
                .tags
                .into_iter()
                .map(|tag| tag.into_tag(&format!("datasets[{index}].tags")))
                .collect::<Result<_, _>>()?,
            dataset: Dataset {
                name: required(dataset.name, &field("name"))?,
                digest: required(dataset.digest, &field("digest"))?,
                source_type: required(dataset.source_type, &field("source_type"))?,
                source: required(dataset.source, &field("source"))?,
                schema: dataset.schema,
                profile: dataset.profile,
            },
        });
    }
    state.service.log_inputs(&principal, &workspace, &run_id, inputs).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct MetricHistoryQuery {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    run_uuid: Option<String>,
    metric_key: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    max_results: Option<i64>,
    #[serde(default)]
    page_token: Option<String>,
}

async fn get_metric_history(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MultiQuery(query): MultiQuery<MetricHistoryQuery>,
) -> ApiResult<axum::response::Response> {
    let run_id = run_id_of(query.run_id, query.run_uuid)?;
    let key = required(query.metric_key, "metric_key")?;
    let page = state
        .service
        .get_metric_history(&principal, &workspace, &run_id, &key, query.max_results, query.page_token.as_deref())
        .await?;
    // Histories run to hundreds of thousands of points, so they are written with typed
    // serialisation rather than through `serde_json::Value`.
    let body = HistoryPage {
        metrics: page
            .items
            .iter()
            .map(|metric| MetricOut {
                key: &metric.key,
                value: Double(metric.value),
                timestamp: metric.timestamp,
                step: metric.step,
            })
            .collect(),
        next_page_token: page.next_page_token,
    };
    Ok(Json(body).into_response())
}

/// A double as MLflow's JSON writes it: NaN and infinities as strings.
struct Double(f64);

impl serde::Serialize for Double {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0.is_nan() {
            serializer.serialize_str("NaN")
        } else if self.0.is_infinite() {
            serializer.serialize_str(if self.0 > 0.0 { "Infinity" } else { "-Infinity" })
        } else {
            serializer.serialize_f64(self.0)
        }
    }
}

#[derive(serde::Serialize)]
struct MetricOut<'a> {
    key: &'a str,
    value: Double,
    timestamp: i64,
    step: i64,
}

#[derive(serde::Serialize)]
struct HistoryPage<'a> {
    metrics: Vec<MetricOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

/// MLflow 3's capability probe. Multipart uploads are not offered: uploads stream through the
/// server instead.
pub(crate) async fn server_info() -> Json<Value> {
    Json(json!({ "store_type": "SqlStore", "multipart_uploads_enabled": false, "workspaces_enabled": false }))
}

// Logged models (MLflow 3).

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
struct ModelOutputMessage {
    model_id: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    step: Option<i64>,
}

#[derive(Deserialize)]
struct LogOutputsRequest {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    models: Vec<ModelOutputMessage>,
}

async fn log_outputs(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MlflowJson(request): MlflowJson<LogOutputsRequest>,
) -> ApiResult<Json<Value>> {
    let run_id = run_id_of(request.run_id, None)?;
    let outputs = request
        .models
        .into_iter()
        .map(|model| {
            Ok(ModelOutput { model_id: required(model.model_id, "models.model_id")?, step: model.step.unwrap_or(0) })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    state.service.log_outputs(&principal, &workspace, &run_id, outputs).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct LogModelRequest {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    model_json: Option<String>,
}

async fn log_model(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MlflowJson(request): MlflowJson<LogModelRequest>,
) -> ApiResult<Json<Value>> {
    let run_id = run_id_of(request.run_id, None)?;
    let model_json = required(request.model_json, "model_json")?;
    state.service.record_logged_model(&principal, &workspace, &run_id, &model_json).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct BulkIntervalQuery {
    #[serde(default, deserialize_with = "string_list")]
    run_ids: Vec<String>,
    metric_key: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    start_step: Option<i64>,
    #[serde(default, deserialize_with = "opt_i64")]
    end_step: Option<i64>,
    #[serde(default, deserialize_with = "opt_i64")]
    max_results: Option<i64>,
}

async fn get_metric_history_bulk_interval(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Ws(workspace): Ws,
    MultiQuery(query): MultiQuery<BulkIntervalQuery>,
) -> ApiResult<Json<Value>> {
    let key = required(query.metric_key, "metric_key")?;
    let points = state
        .service
        .get_metric_history_bulk_interval(
            &principal,
            &workspace,
            &query.run_ids,
            &key,
            atelier_service::StepInterval {
                start_step: query.start_step,
                end_step: query.end_step,
                max_results: query.max_results,
            },
        )
        .await?;
    let metrics: Vec<Value> = points
        .iter()
        .map(|(run_id, metric)| {
            let mut value = metric_json(metric);
            value["run_id"] = json!(run_id.as_str());
            value
        })
        .collect();
    Ok(Json(json!({ "metrics": metrics })))
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
async fn list_under_root(
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

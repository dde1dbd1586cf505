//! MLflow's runs: create, get, update, delete, restore and search, and the typed JSON views of a
//! run that a search serialises.

use super::{Double, KeyValue, KeyValueOut, MetricOut, run_id_of, tags_out, view_type};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::wire::{MlflowJson, MultiQuery, Ws, opt_i64, opt_string, string_list};
use atelier_core::model::{Run, RunInfo};
use atelier_service::{LoggedRun, RunSearch};
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/runs/create", post(create_run))
        .route("/runs/get", get(get_run))
        .route("/runs/update", post(update_run))
        .route("/runs/delete", post(delete_run))
        .route("/runs/restore", post(restore_run))
        .route("/runs/search", post(search_runs))
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

//! What a run logs: metrics, params and tags (one at a time or in a batch), dataset inputs,
//! model outputs and `log-model`, and metric histories (one run's, or several runs' by step
//! interval).

use super::history_body::history_body;
use super::{KeyValue, required, run_id_of};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::wire::{MlflowJson, MultiQuery, Ws, double_json, opt_f64, opt_i64, opt_string, string_list};
use atelier_core::Error;
use atelier_core::model::{Dataset, DatasetInput, Metric, ModelOutput, Param, Tag};
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
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
}

pub(crate) fn metric_json(metric: &Metric) -> Value {
    json!({ "key": metric.key, "value": double_json(metric.value), "timestamp": metric.timestamp, "step": metric.step })
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
    // Histories run to hundreds of thousands of points: written straight into one buffer.
    let body = history_body(&page.key, &page.points, page.next_page_token.as_deref())
        .map_err(|error| Error::internal(format!("writing the history failed: {error}")))?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
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

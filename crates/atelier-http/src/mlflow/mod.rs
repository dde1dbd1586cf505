//! The MLflow-compatible tracking API (`/api/2.0/mlflow/...`): MLflow's request and response
//! JSON, translated to and from service operations. MLflow compatibility is an adapter here,
//! never a second data model.
//!
//! One file per resource, each with its routes, merged here with the wire helpers they share:
//! [`experiments`], [`runs`], [`logging`] (what a run logs), [`logged_models`] (MLflow 3) and
//! [`artifacts_list`]. The model registry's routes are in `mlflow_registry`.

mod artifacts_list;
mod experiments;
mod history_body;
mod logged_models;
mod logging;
mod runs;

use crate::AppState;
use crate::wire::opt_string;
use atelier_core::Error;
use atelier_core::model::{Tag, ViewType};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(experiments::routes())
        .merge(runs::routes())
        .merge(logging::routes())
        .merge(artifacts_list::routes())
        .merge(logged_models::routes())
        .merge(crate::mlflow_registry::routes())
}

/// MLflow 3's capability probe. Multipart uploads are not offered: uploads stream through the
/// server instead.
pub(crate) async fn server_info() -> Json<Value> {
    Json(json!({ "store_type": "SqlStore", "multipart_uploads_enabled": false, "workspaces_enabled": false }))
}

// Conversions to MLflow's JSON.

fn tags_json(tags: &[Tag]) -> Value {
    Value::Array(tags.iter().map(|tag| json!({ "key": tag.key, "value": tag.value })).collect())
}

// Typed views for serialisation, shared by runs (`runs.rs`) and metric histories (`logging.rs`).

#[derive(serde::Serialize)]
struct KeyValueOut<'a> {
    key: &'a str,
    value: &'a str,
}

fn tags_out(tags: &[Tag]) -> Vec<KeyValueOut<'_>> {
    tags.iter().map(|tag| KeyValueOut { key: &tag.key, value: &tag.value }).collect()
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

// Request fields.

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

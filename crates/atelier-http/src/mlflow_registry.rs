//! MLflow's model registry API (`/api/2.0/mlflow/registered-models/...` and
//! `/model-versions/...`): MLflow's JSON, translated to and from the service's registry
//! operations.

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::wire::{MlflowArgs, Ws, opt_i64, opt_string, string_list};
use atelier_core::Error;
use atelier_core::model::Tag;
use atelier_core::registry::{ModelVersion, RegisteredModel};
use atelier_service::{NewModelVersion, RegistrySearch};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::{Value, json};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/registered-models/create", post(create_registered_model))
        .route("/registered-models/get", get(get_registered_model))
        .route("/registered-models/search", get(search_registered_models).post(search_registered_models))
        .route("/registered-models/rename", post(rename_registered_model))
        .route("/registered-models/update", axum::routing::patch(update_registered_model))
        .route("/registered-models/delete", axum::routing::delete(delete_registered_model))
        .route("/registered-models/get-latest-versions", post(get_latest_versions).get(get_latest_versions))
        .route("/registered-models/set-tag", post(set_registered_model_tag))
        .route("/registered-models/delete-tag", axum::routing::delete(delete_registered_model_tag))
        .route(
            "/registered-models/alias",
            post(set_model_alias).get(get_model_version_by_alias).delete(delete_model_alias),
        )
        .route("/model-versions/create", post(create_model_version))
        .route("/model-versions/get", get(get_model_version))
        .route("/model-versions/search", get(search_model_versions).post(search_model_versions))
        .route("/model-versions/update", axum::routing::patch(update_model_version))
        .route("/model-versions/delete", axum::routing::delete(delete_model_version))
        .route("/model-versions/transition-stage", post(transition_stage))
        .route("/model-versions/get-download-uri", get(get_download_uri))
        .route("/model-versions/set-tag", post(set_model_version_tag))
        .route("/model-versions/delete-tag", axum::routing::delete(delete_model_version_tag))
}

// Conversions to MLflow's JSON.

fn tags_json(tags: &[Tag]) -> Value {
    Value::Array(tags.iter().map(|tag| json!({ "key": tag.key, "value": tag.value })).collect())
}

pub(crate) fn model_version_json(version: &ModelVersion) -> Value {
    let mut value = json!({
        "name": version.name,
        "version": version.version.to_string(),
        "creation_timestamp": version.creation_time,
        "last_updated_timestamp": version.last_updated_time,
        "user_id": version.user_id,
        "current_stage": version.current_stage,
        "description": version.description,
        "source": version.source,
        "status": version.status,
        "tags": tags_json(&version.tags),
        "aliases": version.aliases,
    });
    if let Some(run_id) = &version.run_id {
        value["run_id"] = json!(run_id);
    }
    if !version.run_link.is_empty() {
        value["run_link"] = json!(version.run_link);
    }
    if !version.status_message.is_empty() {
        value["status_message"] = json!(version.status_message);
    }
    if let Some(model_id) = &version.model_id {
        value["model_id"] = json!(model_id);
    }
    value
}

pub(crate) fn registered_model_json(model: &RegisteredModel) -> Value {
    json!({
        "name": model.name,
        "creation_timestamp": model.creation_time,
        "last_updated_timestamp": model.last_updated_time,
        "description": model.description,
        "latest_versions": model.latest_versions.iter().map(model_version_json).collect::<Vec<_>>(),
        "tags": tags_json(&model.tags),
        "aliases": model
            .aliases
            .iter()
            .map(|alias| json!({ "alias": alias.alias, "version": alias.version.to_string() }))
            .collect::<Vec<_>>(),
    })
}

fn required(value: Option<String>, field: &str) -> Result<String, Error> {
    value
        .filter(|value| !value.is_empty())
        .ok_or_else(|| Error::invalid(format!("Missing value for required parameter '{field}'.")))
}

/// A bool given as JSON `true`/`false` or as the strings `"true"`/`"false"` (from a query).
fn opt_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(flag)),
        Some(Value::String(text)) if text.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(text)) if text.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(de::Error::custom(format!("expected true or false, got {other}"))),
    }
}

#[derive(Deserialize)]
struct KeyValue {
    #[serde(default)]
    key: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    value: Option<String>,
}

fn tags_in(tags: Vec<KeyValue>) -> Result<Vec<Tag>, Error> {
    tags.into_iter().map(|tag| Ok(Tag::new(required(tag.key, "tags.key")?, tag.value.unwrap_or_default()))).collect()
}

/// The arguments every registry call draws from; each handler reads the ones it needs.
#[derive(Deserialize, Default)]
struct Args {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    new_name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    version: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    alias: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    value: Option<String>,
    #[serde(default)]
    tags: Vec<KeyValue>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    run_link: Option<String>,
    #[serde(default)]
    model_id: Option<String>,
    #[serde(default)]
    stage: Option<String>,
    #[serde(default, deserialize_with = "opt_bool")]
    archive_existing_versions: Option<bool>,
    #[serde(default, deserialize_with = "string_list")]
    stages: Vec<String>,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    max_results: Option<i64>,
    #[serde(default, deserialize_with = "string_list")]
    order_by: Vec<String>,
    #[serde(default)]
    page_token: Option<String>,
}

impl Args {
    fn name(&self) -> Result<String, Error> {
        required(self.name.clone(), "name")
    }

    fn version(&self) -> Result<String, Error> {
        required(self.version.clone(), "version")
    }

    fn search(self) -> RegistrySearch {
        RegistrySearch {
            filter: self.filter,
            max_results: self.max_results,
            order_by: self.order_by,
            page_token: self.page_token,
        }
    }
}

type Call = (State<AppState>, Caller, Ws);

async fn create_registered_model(
    (State(state), Caller(principal), Ws(workspace)): Call,
    MlflowArgs(args): MlflowArgs<Args>,
) -> ApiResult<Json<Value>> {
    let name = args.name()?;
    let tags = tags_in(args.tags)?;
    let model =
        state.service.create_registered_model(&principal, &workspace, &name, args.description.as_deref(), tags).await?;
    Ok(Json(json!({ "registered_model": registered_model_json(&model) })))
}

async fn get_registered_model(
    (State(state), Caller(principal), Ws(workspace)): Call,
    MlflowArgs(args): MlflowArgs<Args>,
) -> ApiResult<Json<Value>> {
    let model = state.service.get_registered_model(&principal, &workspace, &args.name()?).await?;
    Ok(Json(json!({ "registered_model": registered_model_json(&model) })))
}

async fn search_registered_models(
    (State(state), Caller(principal), Ws(workspace)): Call,
    MlflowArgs(args): MlflowArgs<Args>,
) -> ApiResult<Json<Value>> {
    let page = state.service.search_registered_models(&principal, &workspace, &args.search()).await?;
    let mut body = json!({ "registered_models": page.items.iter().map(registered_model_json).collect::<Vec<_>>() });
    if let Some(token) = page.next_page_token {
        body["next_page_token"] = json!(token);
    }
    Ok(Json(body))
}

async fn rename_registered_model(
    (State(state), Caller(principal), Ws(workspace)): Call,
    MlflowArgs(args): MlflowArgs<Args>,
) -> ApiResult<Json<Value>> {
    let new_name = required(args.new_name.clone(), "new_name")?;
    let model = state.service.rename_registered_model(&principal, &workspace, &args.name()?, &new_name).await?;
    Ok(Json(json!({ "registered_model": registered_model_json(&model) })))
}

async fn update_registered_model(
    (State(state), Caller(principal), Ws(workspace)): Call,
    MlflowArgs(args): MlflowArgs<Args>,
) -> ApiResult<Json<Value>> {
    let description = args.description.clone().unwrap_or_default();
    let model = state.service.update_registered_model(&principal, &workspace, &args.name()?, &description).await?;
    Ok(Json(json!({ "registered_model": registered_model_json(&model) })))
}

async fn delete_registered_model(
    (State(state), Caller(principal), Ws(workspace)): Call,
    MlflowArgs(args): MlflowArgs<Args>,
) -> ApiResult<Json<Value>> {
    state.service.delete_registered_model(&principal, &workspace, &args.name()?).await?;
    Ok(Json(json!({})))
}

async fn get_latest_versions(
    (State(state), Caller(principal), Ws(workspace)): Call,
    MlflowArgs(args): MlflowArgs<Args>,
) -> ApiResult<Json<Value>> {
    let versions = state.service.get_latest_versions(&principal, &workspace, &args.name()?, &args.stages).await?;
    Ok(Json(json!({ "model_versions": versions.iter().map(model_version_json).collect::<Vec<_>>() })))
}

async fn set_registered_model_tag(
    (State(state), Caller(principal), Ws(workspace)): Call,
    MlflowArgs(args): MlflowArgs<Args>,
) -> ApiResult<Json<Value>> {
    let tag = Tag::new(required(args.key.clone(), "key")?, args.value.clone().unwrap_or_default());
    state.service.set_registered_model_tag(&principal, &workspace, &args.name()?, tag).await?;
    Ok(Json(json!({})))
}

async fn delete_registered_model_tag(
    (State(state), Caller(principal), Ws(workspace)): Call,
    MlflowArgs(args): MlflowArgs<Args>,
) -> ApiResult<Json<Value>> {
    let key = required(args.key.clone(), "key")?;
    state.service.delete_registered_model_tag(&principal, &workspace, &args.name()?, &key).await?;
    Ok(Json(json!({})))
}

async fn set_model_alias(
    (State(state), Caller(principal), Ws(workspace)): Call,
    MlflowArgs(args): MlflowArgs<Args>,
) -> ApiResult<Json<Value>> {
    let alias = required(args.alias.clone(), "alias")?;
    state.service.set_model_alias(&principal, &workspace, &args.name()?, &alias, &args.version()?).await?;
    Ok(Json(json!({})))
}

async fn delete_model_alias(
    (State(state), Caller(principal), Ws(workspace)): Call,
    MlflowArgs(args): MlflowArgs<Args>,
) -> ApiResult<Json<Value>> {
    let alias = required(args.alias.clone(), "alias")?;
    state.service.delete_model_alias(&principal, &workspace, &args.name()?, &alias).await?;
    Ok(Json(json!({})))
}

async fn get_model_version_by_alias(
    (State(state), Caller(principal), Ws(workspace)): Call,
    MlflowArgs(args): MlflowArgs<Args>,
) -> ApiResult<Json<Value>> {
    let alias = required(args.alias.clone(), "alias")?;
    let version = state.service.get_model_version_by_alias(&principal, &workspace, &args.name()?, &alias).await?;
    Ok(Json(json!({ "model_version": model_version_json(&version) })))
}

async fn create_model_version(
    (State(state), Caller(principal), Ws(workspace)): Call,
    MlflowArgs(args): MlflowArgs<Args>,
) -> ApiResult<Json<Value>> {
    let new_version = NewModelVersion {
        name: args.name()?,
        source: required(args.source, "source")?,
        run_id: args.run_id,
        run_link: args.run_link,
        description: args.description,
        model_id: args.model_id,
        tags: tags_in(args.tags)?,
        ..NewModelVersion::default()
    };
    let version = state.service.create_model_version(&principal, &workspace, new_version).await?;
    Ok(Json(json!({ "model_version": model_version_json(&version) })))
}

async fn get_model_version(
    (State(state), Caller(principal), Ws(workspace)): Call,
    MlflowArgs(args): MlflowArgs<Args>,
) -> ApiResult<Json<Value>> {
    let version = state.service.get_model_version(&principal, &workspace, &args.name()?, &args.version()?).await?;
    Ok(Json(json!({ "model_version": model_version_json(&version) })))
}

async fn search_model_versions(
    (State(state), Caller(principal), Ws(workspace)): Call,
    MlflowArgs(args): MlflowArgs<Args>,
) -> ApiResult<Json<Value>> {
    let page = state.service.search_model_versions(&principal, &workspace, &args.search()).await?;
    let mut body = json!({ "model_versions": page.items.iter().map(model_version_json).collect::<Vec<_>>() });
    if let Some(token) = page.next_page_token {
        body["next_page_token"] = json!(token);
    }
    Ok(Json(body))
}

async fn update_model_version(
    (State(state), Caller(principal), Ws(workspace)): Call,
    MlflowArgs(args): MlflowArgs<Args>,
) -> ApiResult<Json<Value>> {
    let description = args.description.clone().unwrap_or_default();
    let version = state
        .service
        .update_model_version(&principal, &workspace, &args.name()?, &args.version()?, &description)
        .await?;
    Ok(Json(json!({ "model_version": model_version_json(&version) })))
}

async fn delete_model_version(
    (State(state), Caller(principal), Ws(workspace)): Call,
    MlflowArgs(args): MlflowArgs<Args>,
) -> ApiResult<Json<Value>> {
    state.service.delete_model_version(&principal, &workspace, &args.name()?, &args.version()?).await?;
    Ok(Json(json!({})))
}

async fn transition_stage(
    (State(state), Caller(principal), Ws(workspace)): Call,
    MlflowArgs(args): MlflowArgs<Args>,
) -> ApiResult<Json<Value>> {
    let stage = required(args.stage.clone(), "stage")?;
    let version = state
        .service
        .transition_model_version_stage(
            &principal,
            &workspace,
            &args.name()?,
            &args.version()?,
            &stage,
            args.archive_existing_versions.unwrap_or(false),
        )
        .await?;
    Ok(Json(json!({ "model_version": model_version_json(&version) })))
}

/// The version's `source` as it was registered, as MLflow answers; a job's output is served
/// through the artifact proxy.
async fn get_download_uri(
    (State(state), Caller(principal), Ws(workspace)): Call,
    MlflowArgs(args): MlflowArgs<Args>,
) -> ApiResult<Json<Value>> {
    let version = state.service.get_model_version(&principal, &workspace, &args.name()?, &args.version()?).await?;
    Ok(Json(json!({ "artifact_uri": atelier_service::Service::model_download_uri(&version) })))
}

async fn set_model_version_tag(
    (State(state), Caller(principal), Ws(workspace)): Call,
    MlflowArgs(args): MlflowArgs<Args>,
) -> ApiResult<Json<Value>> {
    let tag = Tag::new(required(args.key.clone(), "key")?, args.value.clone().unwrap_or_default());
    state.service.set_model_version_tag(&principal, &workspace, &args.name()?, &args.version()?, tag).await?;
    Ok(Json(json!({})))
}

async fn delete_model_version_tag(
    (State(state), Caller(principal), Ws(workspace)): Call,
    MlflowArgs(args): MlflowArgs<Args>,
) -> ApiResult<Json<Value>> {
    let key = required(args.key.clone(), "key")?;
    state.service.delete_model_version_tag(&principal, &workspace, &args.name()?, &args.version()?, &key).await?;
    Ok(Json(json!({})))
}

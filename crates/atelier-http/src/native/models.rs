//! Models: registered model versions as Azure ML model assets, their files and uploads.

use super::*;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::wire::{MultiQuery, opt_i64};
use atelier_core::model::*;
use atelier_core::registry::ModelVersion;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{OpenApi, ToSchema};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspaces/{ws}/models", get(list_models).post(create_model))
        .route("/workspaces/{ws}/models/{name}/versions", get(list_model_versions))
        .route("/workspaces/{ws}/models/{name}/versions/{version}", get(get_model_version).patch(update_model_version))
        .route("/workspaces/{ws}/models/{name}/versions/{version}/archive", post(archive_model_version))
        .route("/workspaces/{ws}/models/{name}/versions/{version}/restore", post(restore_model_version))
        .route("/workspaces/{ws}/models/{name}/versions/{version}/files", get(list_model_files))
        .route("/workspaces/{ws}/models/{name}/versions/{version}/files/{*path}", get(download_model_file))
        .route("/workspaces/{ws}/models/{name}/uploads/{upload}/{*path}", axum::routing::put(upload_model_file))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        list_models,
        create_model,
        list_model_versions,
        get_model_version,
        update_model_version,
        archive_model_version,
        restore_model_version,
        list_model_files,
        download_model_file,
        upload_model_file
    ),
    components(schemas(ModelVersionDto, NewModelAsset, ModelVersionPatch, UploadedDto))
)]
pub(super) struct Doc;

// Models: registered model versions as Azure ML model assets.

/// A model version as an asset.
#[derive(Serialize, ToSchema)]
pub struct ModelVersionDto {
    name: String,
    version: i64,
    /// `custom_model`, `mlflow_model` or `triton_model`.
    model_type: String,
    /// Where the files are: `mlflow-artifacts:/…`, `runs:/<run>/<path>` or `models:/m-…`.
    path: String,
    description: String,
    tags: BTreeMap<String, String>,
    properties: BTreeMap<String, String>,
    /// `None`, `Staging`, `Production` or `Archived`.
    stage: String,
    aliases: Vec<String>,
    /// The run that produced it, when known.
    run_id: Option<String>,
    created_by: String,
    created_at: i64,
    updated_at: i64,
    archived: bool,
}

impl From<atelier_core::registry::ModelVersion> for ModelVersionDto {
    fn from(version: atelier_core::registry::ModelVersion) -> Self {
        ModelVersionDto {
            name: version.name,
            version: version.version,
            model_type: version.model_type,
            path: version.source,
            description: version.description,
            tags: version.tags.into_iter().map(|tag| (tag.key, tag.value)).collect(),
            properties: version.properties,
            stage: version.current_stage,
            aliases: version.aliases,
            run_id: version.run_id,
            created_by: version.user_id,
            created_at: version.creation_time,
            updated_at: version.last_updated_time,
            archived: version.archived,
        }
    }
}

/// A model version to register: its fields, or its model YAML file. `path` is a URI the server
/// stores or can reach (`mlflow-artifacts:/…`, `runs:/<run>/<path>`, `models:/m-…`); local files
/// are uploaded first with `PUT …/models/{name}/uploads/{upload}/{path}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewModelAsset {
    /// Required unless `yaml` is given.
    #[serde(default)]
    name: String,
    /// The model's YAML file (Azure ML's model schema, with the CLI's `--set` applied). When
    /// given, the server reads it as `atelier model create` does (a mistake is a 400 naming the
    /// field and its line) and registers what it says; the other fields are then ignored but
    /// `upload_uri`.
    #[serde(default)]
    yaml: Option<String>,
    /// With `yaml` whose `path` is a local file or folder: the URI of its upload (what
    /// `PUT …/uploads/{upload}/{path}` returned, cut after the file's or folder's name), which
    /// the version is registered with.
    #[serde(default)]
    upload_uri: Option<String>,
    /// A number; the next free one when absent.
    #[serde(default, deserialize_with = "opt_i64")]
    version: Option<i64>,
    #[serde(default, rename = "type")]
    model_type: Option<String>,
    /// Required unless `yaml` is given.
    #[serde(default)]
    path: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    properties: BTreeMap<String, String>,
    #[serde(default)]
    stage: Option<String>,
}

/// Changes to a model version; absent fields are left as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelVersionPatch {
    #[serde(default)]
    description: Option<String>,
    /// Tags to set; other tags are kept.
    #[serde(default)]
    tags: BTreeMap<String, String>,
    /// Properties to set; other properties are kept.
    #[serde(default)]
    properties: BTreeMap<String, String>,
    #[serde(default)]
    stage: Option<String>,
}

/// The newest version of each model (archived ones with `archived=true`).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/models",
    params(("ws" = String, Path), ("archived" = Option<bool>, Query)), responses((status = 200, body = Vec<ModelVersionDto>)))]
pub(crate) async fn list_models(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    MultiQuery(query): MultiQuery<ArchivedQuery>,
) -> ApiResult<Json<Vec<ModelVersionDto>>> {
    let ws = workspace(&ws)?;
    let versions = state.service.list_model_assets(&principal, &ws, query.include()).await?;
    Ok(Json(versions.into_iter().map(ModelVersionDto::from).collect()))
}

/// Registers a model version, creating the model if it is new.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/models", params(("ws" = String, Path)),
    request_body = NewModelAsset, responses((status = 201, body = ModelVersionDto), (status = 400, body = ErrorBody)))]
pub(crate) async fn create_model(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    Json(request): Json<NewModelAsset>,
) -> ApiResult<(StatusCode, Json<ModelVersionDto>)> {
    let ws = workspace(&ws)?;
    if let Some(yaml) = &request.yaml {
        let upload_uri = request.upload_uri.as_deref();
        let version = state.service.create_model_version_from_yaml(&principal, &ws, yaml, upload_uri).await?;
        return Ok((StatusCode::CREATED, Json(version.into())));
    }
    let new_version = atelier_service::NewModelVersion {
        name: request.name,
        source: request.path,
        tags: request.tags.into_iter().map(|(key, value)| Tag::new(key, value)).collect(),
        version: request.version,
        model_type: Some(request.model_type.unwrap_or_else(|| "custom_model".to_owned())),
        properties: request.properties,
        stage: request.stage,
        ..atelier_service::NewModelVersion::default()
    };
    let version =
        state.service.create_model_asset(&principal, &ws, request.description.as_deref(), new_version).await?;
    Ok((StatusCode::CREATED, Json(version.into())))
}

/// The versions of a model, newest first.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/models/{name}/versions",
    params(("ws" = String, Path), ("name" = String, Path), ("archived" = Option<bool>, Query)),
    responses((status = 200, body = Vec<ModelVersionDto>)))]
pub(crate) async fn list_model_versions(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
    MultiQuery(query): MultiQuery<ArchivedQuery>,
) -> ApiResult<Json<Vec<ModelVersionDto>>> {
    let ws = workspace(&ws)?;
    let versions = state.service.list_model_versions(&principal, &ws, &name, query.include()).await?;
    Ok(Json(versions.into_iter().map(ModelVersionDto::from).collect()))
}

/// One version: by number, `latest`, or `@alias`.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/models/{name}/versions/{version}",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = ModelVersionDto), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_model_version(
    State(state): State<AppState>,
    Caller(principal): Caller,
    version: AssetVersion,
) -> ApiResult<Json<ModelVersionDto>> {
    version.show::<ModelVersion, _>(&state, &principal).await
}

/// Changes a version's description, tags, properties or stage.
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}/models/{name}/versions/{version}",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    request_body = ModelVersionPatch, responses((status = 200, body = ModelVersionDto)))]
pub(crate) async fn update_model_version(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, version)): Path<(String, String, String)>,
    Json(patch): Json<ModelVersionPatch>,
) -> ApiResult<Json<ModelVersionDto>> {
    let ws = workspace(&ws)?;
    let update = atelier_service::ModelVersionUpdate {
        description: patch.description,
        tags: patch.tags.into_iter().map(|(key, value)| Tag::new(key, value)).collect(),
        properties: patch.properties,
        stage: patch.stage,
    };
    Ok(Json(state.service.update_model_asset(&principal, &ws, &name, &version, update).await?.into()))
}

/// Archives a version: it leaves lists but still loads.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/models/{name}/versions/{version}/archive",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = ModelVersionDto)))]
pub(crate) async fn archive_model_version(
    State(state): State<AppState>,
    Caller(principal): Caller,
    version: AssetVersion,
) -> ApiResult<Json<ModelVersionDto>> {
    version.set_archived::<ModelVersion, _>(&state, &principal, true).await
}

/// Restores an archived version.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/models/{name}/versions/{version}/restore",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = ModelVersionDto)))]
pub(crate) async fn restore_model_version(
    State(state): State<AppState>,
    Caller(principal): Caller,
    version: AssetVersion,
) -> ApiResult<Json<ModelVersionDto>> {
    version.set_archived::<ModelVersion, _>(&state, &principal, false).await
}

/// Every file of a version, with paths that start with the name of the folder (or file) it was
/// registered from.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/models/{name}/versions/{version}/files",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = Vec<ArtifactDto>)))]
pub(crate) async fn list_model_files(
    State(state): State<AppState>,
    Caller(principal): Caller,
    version: AssetVersion,
) -> ApiResult<Json<Vec<ArtifactDto>>> {
    version.files::<ModelVersion>(&state, &principal).await
}

/// Downloads one file of a version, by a path from its file list.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/models/{name}/versions/{version}/files/{path}",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path), ("path" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream")))]
pub(crate) async fn download_model_file(
    State(state): State<AppState>,
    Caller(principal): Caller,
    version: AssetVersion,
) -> ApiResult<Response> {
    version.download::<ModelVersion>(&state, &principal).await
}

/// Uploads one local file of a model before it is registered (the body is the file, streamed).
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/models/{name}/uploads/{upload}/{path}",
    params(("ws" = String, Path), ("name" = String, Path), ("upload" = String, Path), ("path" = String, Path)),
    responses((status = 200, body = UploadedDto)))]
pub(crate) async fn upload_model_file(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, upload, path)): Path<(String, String, String, String)>,
    body: Body,
) -> ApiResult<Json<UploadedDto>> {
    use futures::{StreamExt, TryStreamExt};
    let ws = workspace(&ws)?;
    let stream = body.into_data_stream().map_err(|error| error.to_string()).boxed();
    let (stored, size) = state.service.upload_model_file(&principal, &ws, &name, &upload, &path, stream).await?;
    Ok(Json(UploadedDto { uri: format!("mlflow-artifacts:/{stored}"), size }))
}

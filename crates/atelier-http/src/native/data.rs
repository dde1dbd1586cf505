//! Data assets: versions, their files, and uploads to the default datastore.

use super::*;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::wire::MultiQuery;
use atelier_core::data::DataAsset;
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
        .route("/workspaces/{ws}/data", get(list_data).post(create_data))
        .route("/workspaces/{ws}/data/{name}/versions", get(list_data_versions))
        .route("/workspaces/{ws}/data/{name}/versions/{version}", get(get_data).patch(update_data))
        .route("/workspaces/{ws}/data/{name}/versions/{version}/archive", post(archive_data))
        .route("/workspaces/{ws}/data/{name}/versions/{version}/restore", post(restore_data))
        .route("/workspaces/{ws}/data/{name}/versions/{version}/files", get(list_data_files))
        .route("/workspaces/{ws}/data/{name}/versions/{version}/files/{*path}", get(download_data_file))
        .route("/workspaces/{ws}/data-uploads/{upload}/{*path}", axum::routing::put(upload_data_file))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        list_data,
        create_data,
        list_data_versions,
        get_data,
        update_data,
        archive_data,
        restore_data,
        list_data_files,
        download_data_file,
        upload_data_file
    ),
    components(schemas(DataAssetDto, NewDataAssetDto, DataAssetPatch))
)]
pub(super) struct Doc;

// Data assets.

/// A data asset version.
#[derive(Serialize, ToSchema)]
pub struct DataAssetDto {
    name: String,
    version: String,
    /// `uri_file`, `uri_folder` or `mltable`.
    #[serde(rename = "type")]
    data_type: String,
    /// `azureml://datastores/<datastore>/paths/<path>`, or a URI the server only records.
    path: String,
    description: String,
    tags: BTreeMap<String, String>,
    properties: BTreeMap<String, String>,
    /// For an `mltable`: the `paths` of its MLTable file, each `{"file"|"folder"|"pattern": value}`.
    mltable_paths: Vec<BTreeMap<String, String>>,
    archived: bool,
    created_by: String,
    created_at: i64,
    updated_at: i64,
}

impl From<atelier_core::data::DataAsset> for DataAssetDto {
    fn from(asset: atelier_core::data::DataAsset) -> Self {
        DataAssetDto {
            name: asset.name,
            version: asset.version,
            data_type: asset.data_type,
            path: asset.path,
            description: asset.description,
            tags: asset.tags,
            properties: asset.properties,
            mltable_paths: asset
                .mltable_paths
                .into_iter()
                .map(|(kind, value)| BTreeMap::from([(kind, value)]))
                .collect(),
            archived: asset.archived,
            created_by: asset.created_by,
            created_at: asset.creation_time,
            updated_at: asset.last_updated_time,
        }
    }
}

/// A data asset version to register: its fields, or its data YAML file; local files are
/// uploaded first with `PUT …/data-uploads/{upload}/{path}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDataAssetDto {
    /// Required unless `yaml` is given.
    #[serde(default)]
    name: String,
    /// The data asset's YAML file (Azure ML's data schema, with the CLI's `--set` applied). When
    /// given, the server reads it as `atelier data create` does (a mistake is a 400 naming the
    /// field and its line) and registers what it says; the other fields are then ignored but
    /// `upload_uri`.
    #[serde(default)]
    yaml: Option<String>,
    /// With `yaml` whose `path` is a local file or folder: the URI of its upload (what
    /// `PUT …/data-uploads/{upload}/{path}` returned, cut after the file's or folder's name),
    /// which the version is registered with.
    #[serde(default)]
    upload_uri: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default, rename = "type")]
    data_type: Option<String>,
    /// Required unless `yaml` is given.
    #[serde(default)]
    path: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    properties: BTreeMap<String, String>,
}

/// Changes to a data asset version; a version's data cannot change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DataAssetPatch {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    properties: BTreeMap<String, String>,
}

/// The newest version of each data asset (archived ones with `archived=true`).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/data",
    params(("ws" = String, Path), ("archived" = Option<bool>, Query)), responses((status = 200, body = Vec<DataAssetDto>)))]
pub(crate) async fn list_data(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    MultiQuery(query): MultiQuery<ArchivedQuery>,
) -> ApiResult<Json<Vec<DataAssetDto>>> {
    let ws = workspace(&ws)?;
    let assets = state.service.list_data_assets(&principal, &ws, None, query.include()).await?;
    Ok(Json(assets.into_iter().map(DataAssetDto::from).collect()))
}

/// Registers a data asset version.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/data", params(("ws" = String, Path)),
    request_body = NewDataAssetDto, responses((status = 201, body = DataAssetDto), (status = 400, body = ErrorBody)))]
pub(crate) async fn create_data(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    Json(request): Json<NewDataAssetDto>,
) -> ApiResult<(StatusCode, Json<DataAssetDto>)> {
    let ws = workspace(&ws)?;
    if let Some(yaml) = &request.yaml {
        let asset = state.service.create_data_from_yaml(&principal, &ws, yaml, request.upload_uri.as_deref()).await?;
        return Ok((StatusCode::CREATED, Json(asset.into())));
    }
    let new_asset = atelier_service::NewDataAsset {
        name: request.name,
        version: request.version,
        data_type: request.data_type,
        path: request.path,
        description: request.description,
        tags: request.tags,
        properties: request.properties,
    };
    let asset = state.service.create_data_asset(&principal, &ws, new_asset).await?;
    Ok((StatusCode::CREATED, Json(asset.into())))
}

/// The versions of a data asset, newest first.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/data/{name}/versions",
    params(("ws" = String, Path), ("name" = String, Path), ("archived" = Option<bool>, Query)),
    responses((status = 200, body = Vec<DataAssetDto>)))]
pub(crate) async fn list_data_versions(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
    MultiQuery(query): MultiQuery<ArchivedQuery>,
) -> ApiResult<Json<Vec<DataAssetDto>>> {
    let ws = workspace(&ws)?;
    let assets = state.service.list_data_assets(&principal, &ws, Some(&name), query.include()).await?;
    Ok(Json(assets.into_iter().map(DataAssetDto::from).collect()))
}

/// One version, or `latest`.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/data/{name}/versions/{version}",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = DataAssetDto), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_data(
    State(state): State<AppState>,
    Caller(principal): Caller,
    version: AssetVersion,
) -> ApiResult<Json<DataAssetDto>> {
    version.show::<DataAsset, _>(&state, &principal).await
}

/// Changes a version's description, tags or properties.
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}/data/{name}/versions/{version}",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    request_body = DataAssetPatch, responses((status = 200, body = DataAssetDto)))]
pub(crate) async fn update_data(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, version)): Path<(String, String, String)>,
    Json(patch): Json<DataAssetPatch>,
) -> ApiResult<Json<DataAssetDto>> {
    let ws = workspace(&ws)?;
    let update = atelier_service::DataAssetUpdate {
        description: patch.description,
        tags: patch.tags,
        properties: patch.properties,
    };
    Ok(Json(state.service.update_data_asset(&principal, &ws, &name, &version, update).await?.into()))
}

/// Archives a version: it leaves lists and `latest`, but stays readable.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/data/{name}/versions/{version}/archive",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = DataAssetDto)))]
pub(crate) async fn archive_data(
    State(state): State<AppState>,
    Caller(principal): Caller,
    version: AssetVersion,
) -> ApiResult<Json<DataAssetDto>> {
    version.set_archived::<DataAsset, _>(&state, &principal, true).await
}

/// Restores an archived version.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/data/{name}/versions/{version}/restore",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = DataAssetDto)))]
pub(crate) async fn restore_data(
    State(state): State<AppState>,
    Caller(principal): Caller,
    version: AssetVersion,
) -> ApiResult<Json<DataAssetDto>> {
    version.set_archived::<DataAsset, _>(&state, &principal, false).await
}

/// Every file of a version on the workspace's datastore, with paths that start with the name
/// of its file or folder.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/data/{name}/versions/{version}/files",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = Vec<ArtifactDto>)))]
pub(crate) async fn list_data_files(
    State(state): State<AppState>,
    Caller(principal): Caller,
    version: AssetVersion,
) -> ApiResult<Json<Vec<ArtifactDto>>> {
    version.files::<DataAsset>(&state, &principal).await
}

/// Downloads one file of a version.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/data/{name}/versions/{version}/files/{path}",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path), ("path" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream")))]
pub(crate) async fn download_data_file(
    State(state): State<AppState>,
    Caller(principal): Caller,
    version: AssetVersion,
) -> ApiResult<Response> {
    version.download::<DataAsset>(&state, &principal).await
}

/// Uploads one local file to the workspace's default datastore before a data asset is
/// registered (the body is the file, streamed).
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/data-uploads/{upload}/{path}",
    params(("ws" = String, Path), ("upload" = String, Path), ("path" = String, Path)),
    responses((status = 200, body = UploadedDto)))]
pub(crate) async fn upload_data_file(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, upload, path)): Path<(String, String, String)>,
    body: Body,
) -> ApiResult<Json<UploadedDto>> {
    use futures::{StreamExt, TryStreamExt};
    let ws = workspace(&ws)?;
    let stream = body.into_data_stream().map_err(|error| error.to_string()).boxed();
    let (uri, size) = state.service.upload_data_file(&principal, &ws, &upload, &path, stream).await?;
    Ok(Json(UploadedDto { uri, size }))
}

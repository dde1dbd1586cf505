//! Named datastores: register (probed first), list, read and delete.

use super::*;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{OpenApi, ToSchema};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspaces/{ws}/datastores", get(list_datastores).post(create_datastore))
        .route("/workspaces/{ws}/datastores/{name}", get(get_datastore).delete(delete_datastore))
}

#[derive(OpenApi)]
#[openapi(
    paths(list_datastores, create_datastore, get_datastore, delete_datastore),
    components(schemas(DatastoreDto, NewDatastoreDto))
)]
pub(super) struct Doc;

// Datastores.

/// A datastore. Its credentials are never returned: `credentials` only names their kind.
#[derive(Serialize, ToSchema)]
pub struct DatastoreDto {
    name: String,
    /// `default` (the workspace's own), `azure_blob`, `s3`, `gcs` or `local`.
    #[serde(rename = "type")]
    kind: String,
    description: String,
    tags: BTreeMap<String, String>,
    /// The non-secret settings (account, container, bucket, endpoint, path).
    settings: BTreeMap<String, String>,
    /// `account_key`, `sas_token`, `access_key` or `service_account_key`; absent for none.
    credentials: Option<String>,
    created_by: String,
    created_at: i64,
}

impl From<atelier_core::data::Datastore> for DatastoreDto {
    fn from(datastore: atelier_core::data::Datastore) -> Self {
        DatastoreDto {
            name: datastore.name,
            kind: datastore.kind,
            description: datastore.description,
            tags: datastore.tags,
            settings: datastore.settings,
            credentials: datastore.credential_kind,
            created_by: datastore.created_by,
            created_at: datastore.creation_time,
        }
    }
}

/// A datastore to register: its kind's settings and a `credentials` block, or its YAML file.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDatastoreDto {
    /// Required unless `yaml` is given.
    #[serde(default)]
    name: String,
    /// Required unless `yaml` is given.
    #[serde(rename = "type", default)]
    kind: String,
    /// The datastore's YAML file. When given, the server reads it as `atelier datastore create`
    /// does (a mistake is a 400 naming the field and its line) and registers what it says; the
    /// other fields are then ignored.
    #[serde(default)]
    yaml: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    settings: BTreeMap<String, String>,
    #[serde(default)]
    credentials: BTreeMap<String, String>,
}

/// The workspace's datastores, its own (`workspaceblobstore`) first.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/datastores", params(("ws" = String, Path)),
    responses((status = 200, body = Vec<DatastoreDto>)))]
pub(crate) async fn list_datastores(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
) -> ApiResult<Json<Vec<DatastoreDto>>> {
    let ws = workspace(&ws)?;
    Ok(Json(state.service.list_datastores(&principal, &ws).await?.into_iter().map(DatastoreDto::from).collect()))
}

/// Registers a datastore (Owners, Contributors, Data Scientists; `local` ones server administrators only) after checking that
/// it answers with the credentials given, which are then kept encrypted.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/datastores", params(("ws" = String, Path)),
    request_body = NewDatastoreDto, responses((status = 201, body = DatastoreDto), (status = 400, body = ErrorBody)))]
pub(crate) async fn create_datastore(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    Json(request): Json<NewDatastoreDto>,
) -> ApiResult<(StatusCode, Json<DatastoreDto>)> {
    let ws = workspace(&ws)?;
    if let Some(yaml) = &request.yaml {
        let datastore = state.service.create_datastore_from_yaml(&principal, &ws, yaml).await?;
        return Ok((StatusCode::CREATED, Json(datastore.into())));
    }
    let new_datastore = atelier_service::NewDatastore {
        name: request.name,
        kind: request.kind,
        description: request.description,
        tags: request.tags,
        settings: request.settings,
        credentials: request.credentials,
    };
    let datastore = state.service.create_datastore(&principal, &ws, new_datastore).await?;
    Ok((StatusCode::CREATED, Json(datastore.into())))
}

/// One datastore.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/datastores/{name}", params(("ws" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = DatastoreDto), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_datastore(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<Json<DatastoreDto>> {
    let ws = workspace(&ws)?;
    Ok(Json(state.service.get_datastore(&principal, &ws, &name).await?.into()))
}

/// Removes a datastore's registration (the data stays where it is).
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/datastores/{name}", params(("ws" = String, Path), ("name" = String, Path)),
    responses((status = 204)))]
pub(crate) async fn delete_datastore(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let ws = workspace(&ws)?;
    state.service.delete_datastore(&principal, &ws, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

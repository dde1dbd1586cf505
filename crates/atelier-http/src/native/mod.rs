//! The native REST API under `/api/v1`, in Atelier's own JSON: one file per resource
//! (workspaces, access, audit, roles, tracking, models, data, datastores, environments, components,
//! gc, jobs, endpoints),
//! each with its routes and the OpenAPI document of its handlers, merged here. The OpenAPI document
//! at
//! `/api/v1/openapi.json` is generated from the annotations on these handlers.

mod access;
mod audit;
mod components;
mod data;
mod datastores;
pub(crate) mod endpoints;
mod environments;
mod gc;
mod instances;
mod job_children;
pub(crate) mod jobs;
mod models;
mod roles;
mod schedules;
pub(crate) mod sso;
mod tracking;
mod workspaces;

use crate::AppState;
use crate::error::ApiResult;
use atelier_core::Error;
use atelier_core::names::WorkspaceName;
use atelier_service::Principal;
use axum::body::Body;
use axum::response::Response;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(jobs::routes())
        .merge(endpoints::routes())
        .merge(workspaces::routes())
        .merge(access::routes())
        .merge(audit::routes())
        .merge(roles::routes())
        .merge(tracking::routes())
        .merge(models::routes())
        .merge(data::routes())
        .merge(datastores::routes())
        .merge(environments::routes())
        .merge(components::routes())
        .merge(schedules::routes())
        .merge(gc::routes())
        .merge(instances::routes())
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Atelier API",
        description = "Atelier's native REST API. Every request needs `Authorization: Bearer <token>` or basic credentials."
    ),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

/// The OpenAPI document of the native API.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let mut document = ApiDoc::openapi();
    document.merge(workspaces::Doc::openapi());
    document.merge(access::Doc::openapi());
    document.merge(sso::Doc::openapi());
    document.merge(audit::Doc::openapi());
    document.merge(roles::Doc::openapi());
    document.merge(tracking::Doc::openapi());
    document.merge(models::Doc::openapi());
    document.merge(data::Doc::openapi());
    document.merge(datastores::Doc::openapi());
    document.merge(environments::Doc::openapi());
    document.merge(components::Doc::openapi());
    document.merge(schedules::Doc::openapi());
    document.merge(gc::Doc::openapi());
    document.merge(instances::Doc::openapi());
    document.merge(jobs::JobsApiDoc::openapi());
    document.merge(endpoints::EndpointsApiDoc::openapi());
    document_errors(&mut document);
    document
}

/// Lists, for every operation, the errors any of them may answer (each in [`ErrorBody`]'s
/// shape): 400 for an invalid argument or body, 401 without valid credentials, 403 where the
/// caller may not, 404 for what does not exist, 415 for a body that is not JSON, 429 while
/// failed sign-ins make the caller wait, and 405 for a method the path does not take.
fn document_errors(document: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let error = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                )
                .build(),
        )
    };
    let common = [
        ("400", "an invalid argument or body (`INVALID_PARAMETER_VALUE`)"),
        ("401", "no valid credentials (`UNAUTHENTICATED`)"),
        ("403", "the caller may not (`PERMISSION_DENIED`)"),
        ("404", "what the request names does not exist (`RESOURCE_DOES_NOT_EXIST`)"),
        ("405", "the path does not take this method"),
        ("429", "failed sign-ins make the caller wait (`REQUEST_LIMIT_EXCEEDED`)"),
    ];
    for item in document.paths.paths.values_mut() {
        let operations =
            [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten();
        for operation in operations {
            for (status, description) in common {
                operation.responses.responses.entry(status.to_owned()).or_insert_with(|| error(description));
            }
            if operation.request_body.is_some() {
                operation
                    .responses
                    .responses
                    .entry("415".to_owned())
                    .or_insert_with(|| error("a body that is not of the type the operation takes"));
                operation
                    .responses
                    .responses
                    .entry("413".to_owned())
                    .or_insert_with(|| error("a body larger than the API takes (`PAYLOAD_TOO_LARGE`)"));
            }
        }
    }
}

pub(crate) async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi_document())
}

/// The workspace a path names (see [`crate::wire::workspace_in_path`]).
pub(crate) fn workspace(name: &str) -> Result<WorkspaceName, Error> {
    crate::wire::workspace_in_path(name)
}

/// A double as the API writes one: a JSON number, or one of the strings `"NaN"`, `"Infinity"` and
/// `"-Infinity"`, which JSON numbers cannot be.
pub(crate) struct Double;

impl utoipa::PartialSchema for Double {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .item(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["NaN", "Infinity", "-Infinity"])))
            .description(Some("a number, or \"NaN\", \"Infinity\" or \"-Infinity\""))
            .into()
    }
}

impl ToSchema for Double {}

/// The error body every endpoint returns on failure.
#[derive(Serialize, ToSchema)]
struct ErrorBody {
    error_code: String,
    message: String,
}

/// A download as an `application/octet-stream` response with its length.
pub(crate) fn stream_response(download: atelier_blob::Download) -> Response {
    use axum::response::IntoResponse;
    use futures::TryStreamExt;
    let mut response = Body::from_stream(download.stream.map_err(std::io::Error::other)).into_response();
    let headers = response.headers_mut();
    headers.insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/octet-stream"));
    headers.insert(axum::http::header::CONTENT_LENGTH, axum::http::HeaderValue::from(download.size));
    response
}

/// `?archived=true` on a versioned asset's listing: archived versions are included.
#[derive(Deserialize)]
pub(crate) struct ArchivedQuery {
    #[serde(default)]
    archived: Option<String>,
}

impl ArchivedQuery {
    pub(crate) fn include(&self) -> bool {
        matches!(self.archived.as_deref(), Some("true" | "1"))
    }
}

#[derive(Serialize, ToSchema)]
pub struct UploadedDto {
    /// The `mlflow-artifacts:` URI of the uploaded file.
    pub(crate) uri: String,
    pub(crate) size: u64,
}

#[derive(Serialize, ToSchema)]
pub struct ArtifactDto {
    /// The path relative to the run's artifact root.
    pub(crate) path: String,
    pub(crate) is_dir: bool,
    pub(crate) size: Option<u64>,
}

/// `…/{ws}/{models|data|environments|components}/{name}/versions/{version}[/…]` of a versioned asset:
/// the workspace and the asset reference, parsed once (a version, `latest`, or for models an
/// `@alias`), whatever the kind. The kind is the collection the matched route names.
pub(crate) struct AssetVersion {
    pub(crate) workspace: WorkspaceName,
    pub(crate) asset: atelier_core::asset::AssetRef,
    /// The file a `…/files/{*path}` route names inside the version.
    pub(crate) file: String,
}

/// The operations every kind of versioned asset answers the same way: only the kind (`A`) and
/// the shape it is returned in (`D`) differ between models, data and environments.
impl AssetVersion {
    /// The version, resolved.
    pub(crate) async fn show<A, D>(&self, state: &AppState, principal: &Principal) -> ApiResult<Json<D>>
    where
        A: atelier_service::VersionedAsset,
        D: From<A>,
    {
        Ok(Json(state.service.resolve_label::<A>(principal, &self.workspace, &self.asset).await?.into()))
    }

    /// Archives the version (it leaves lists but still loads), or restores it.
    pub(crate) async fn set_archived<A, D>(
        &self,
        state: &AppState,
        principal: &Principal,
        archived: bool,
    ) -> ApiResult<Json<D>>
    where
        A: atelier_service::VersionedAsset,
        D: From<A>,
    {
        let service = &state.service;
        Ok(Json(service.set_asset_archived::<A>(principal, &self.workspace, &self.asset, archived).await?.into()))
    }

    /// Every file of the version.
    pub(crate) async fn files<A: atelier_service::AssetWithFiles>(
        &self,
        state: &AppState,
        principal: &Principal,
    ) -> ApiResult<Json<Vec<ArtifactDto>>> {
        let files = state.service.asset_version_files::<A>(principal, &self.workspace, &self.asset).await?;
        Ok(Json(files.into_iter().map(|(path, size)| ArtifactDto { path, is_dir: false, size: Some(size) }).collect()))
    }

    /// The file a `…/files/{*path}` route names, streamed.
    pub(crate) async fn download<A: atelier_service::AssetWithFiles>(
        &self,
        state: &AppState,
        principal: &Principal,
    ) -> ApiResult<Response> {
        let service = &state.service;
        let download =
            service.download_asset_version_file::<A>(principal, &self.workspace, &self.asset, &self.file).await?;
        Ok(stream_response(download))
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for AssetVersion {
    type Rejection = crate::error::ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        use atelier_core::asset::{AssetKind, AssetRef};
        let axum::extract::Path(params) =
            axum::extract::Path::<std::collections::BTreeMap<String, String>>::from_request_parts(parts, state)
                .await
                .map_err(|error| Error::invalid(format!("invalid path: {error}")))?;
        let route = parts.extensions.get::<axum::extract::MatchedPath>().map(|path| path.as_str().to_owned());
        let collection = route.as_deref().and_then(|route| route.split('/').skip_while(|part| *part != "{ws}").nth(1));
        let kind = match collection {
            Some("models") => AssetKind::Model,
            Some("data") => AssetKind::Data,
            Some("environments") => AssetKind::Environment,
            Some("components") => AssetKind::Component,
            _ => return Err(Error::internal("a versioned-asset path on a route of no asset kind").into()),
        };
        let part = |key: &str| params.get(key).map(String::as_str).unwrap_or_default();
        Ok(AssetVersion {
            workspace: workspace(part("ws"))?,
            asset: AssetRef::new(kind, part("name"), part("version"))?,
            file: part("path").to_owned(),
        })
    }
}

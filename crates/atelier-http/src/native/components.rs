//! Components: registration from Azure ML's command component YAML, versions with their
//! interface, their code, archive and restore.

use super::*;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::wire::MultiQuery;
use atelier_core::component::Component;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{OpenApi, ToSchema};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspaces/{ws}/components", get(list_components).post(create_component))
        .route("/workspaces/{ws}/components/{name}/versions", get(list_component_versions))
        .route("/workspaces/{ws}/components/{name}/versions/{version}", get(get_component))
        .route("/workspaces/{ws}/components/{name}/versions/{version}/archive", post(archive_component))
        .route("/workspaces/{ws}/components/{name}/versions/{version}/restore", post(restore_component))
        .route("/workspaces/{ws}/components/{name}/versions/{version}/files", get(list_component_files))
        .route("/workspaces/{ws}/components/{name}/versions/{version}/files/{*path}", get(download_component_file))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        list_components,
        create_component,
        list_component_versions,
        get_component,
        archive_component,
        restore_component,
        list_component_files,
        download_component_file
    ),
    components(schemas(ComponentDto, ComponentInputDto, ComponentOutputDto, NewComponentDto))
)]
pub(super) struct Doc;

/// An input of a component's interface.
#[derive(Serialize, ToSchema)]
pub struct ComponentInputDto {
    #[serde(rename = "type")]
    kind: String,
    description: Option<String>,
    default: Option<String>,
    optional: bool,
    min: Option<f64>,
    max: Option<f64>,
    #[serde(rename = "enum", skip_serializing_if = "Vec::is_empty")]
    allowed: Vec<String>,
}

/// An output of a component's interface.
#[derive(Serialize, ToSchema)]
pub struct ComponentOutputDto {
    #[serde(rename = "type")]
    kind: String,
    description: Option<String>,
    mode: String,
}

/// A component version: its interface, what it runs and in which environment.
#[derive(Serialize, ToSchema)]
pub struct ComponentDto {
    name: String,
    version: String,
    /// Always `command`.
    #[serde(rename = "type")]
    kind: String,
    display_name: String,
    description: String,
    tags: BTreeMap<String, String>,
    is_deterministic: bool,
    command: String,
    inputs: BTreeMap<String, ComponentInputDto>,
    outputs: BTreeMap<String, ComponentOutputDto>,
    /// The environment it resolved to when registered: `name:version`, `inline`, or
    /// `atelier-python` (the built-in one).
    environment: String,
    /// The environment's Python and pip requirements, as registered.
    python: Option<String>,
    requirements: Vec<String>,
    environment_variables: BTreeMap<String, String>,
    instance_count: i64,
    /// How its processes are started, when distributed: `pytorch`, `mpi` or `tensorflow`.
    distribution: Option<&'static str>,
    /// `pytorch` or `mpi` processes per instance, when distributed.
    process_count_per_instance: Option<i64>,
    /// The hash of the code's content; absent when the component has no code.
    code_hash: Option<String>,
    archived: bool,
    created_by: String,
    created_at: i64,
}

impl ComponentDto {
    fn new(service: &atelier_service::Service, component: Component) -> atelier_core::Result<Self> {
        let definition = service.component_definition(&component)?;
        let body = definition.body;
        let distribution = body.distribution_type();
        Ok(ComponentDto {
            name: component.name,
            version: component.version,
            kind: "command".to_owned(),
            display_name: component.display_name,
            description: component.description,
            tags: component.tags,
            is_deterministic: component.is_deterministic,
            command: body.command,
            inputs: body
                .inputs
                .into_iter()
                .map(|(name, input)| {
                    let dto = ComponentInputDto {
                        kind: input.kind,
                        description: input.description,
                        default: input.default,
                        optional: input.optional,
                        min: input.min,
                        max: input.max,
                        allowed: input.allowed,
                    };
                    (name, dto)
                })
                .collect(),
            outputs: body
                .outputs
                .into_iter()
                .map(|(name, output)| {
                    (name, ComponentOutputDto { kind: output.kind, description: output.description, mode: output.mode })
                })
                .collect(),
            environment: definition.environment.name,
            python: definition.environment.python,
            requirements: definition.environment.requirements,
            environment_variables: body.environment_variables,
            instance_count: body.instance_count,
            distribution,
            process_count_per_instance: body.process_count_per_instance,
            code_hash: component.code_hash,
            archived: component.archived,
            created_by: component.created_by,
            created_at: component.creation_time,
        })
    }

    fn all(service: &atelier_service::Service, components: Vec<Component>) -> ApiResult<Json<Vec<Self>>> {
        let dtos = components.into_iter().map(|component| Self::new(service, component)).collect::<Result<_, _>>()?;
        Ok(Json(dtos))
    }
}

/// A component to register: its YAML file, and what the client uploaded for it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComponentDto {
    /// The component file (Azure ML's command component YAML). A mistake is a 400 naming the
    /// field and its line.
    yaml: String,
    /// Overrides the file's `version`.
    #[serde(default)]
    version: Option<String>,
    /// The uploaded code snapshot (see `code-uploads`), when the file has `code`.
    #[serde(default)]
    snapshot: Option<String>,
    /// An inline environment, as the client read it from its conda file.
    #[serde(default)]
    inline_environment: Option<super::jobs::InlineEnvironmentDto>,
}

/// The newest version of each component.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/components",
    params(("ws" = String, Path), ("archived" = Option<bool>, Query)), responses((status = 200, body = Vec<ComponentDto>)))]
pub(crate) async fn list_components(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    MultiQuery(query): MultiQuery<ArchivedQuery>,
) -> ApiResult<Json<Vec<ComponentDto>>> {
    let ws = workspace(&ws)?;
    let components = state.service.list_latest_assets::<Component>(&principal, &ws, query.include()).await?;
    ComponentDto::all(&state.service, components)
}

/// Registers a component version. Registering the same content again answers the version
/// that has it.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/components", params(("ws" = String, Path)),
    request_body = NewComponentDto, responses((status = 201, body = ComponentDto), (status = 400, body = ErrorBody)))]
pub(crate) async fn create_component(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    Json(request): Json<NewComponentDto>,
) -> ApiResult<(StatusCode, Json<ComponentDto>)> {
    let ws = workspace(&ws)?;
    let submission = atelier_service::ComponentSubmission {
        yaml: request.yaml,
        version: request.version,
        snapshot: request.snapshot,
        inline_environment: request.inline_environment.map(super::jobs::InlineEnvironmentDto::into_spec),
    };
    let component = state.service.create_component(&principal, &ws, submission).await?;
    Ok((StatusCode::CREATED, Json(ComponentDto::new(&state.service, component)?)))
}

/// The versions of a component, newest first.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/components/{name}/versions",
    params(("ws" = String, Path), ("name" = String, Path), ("archived" = Option<bool>, Query)),
    responses((status = 200, body = Vec<ComponentDto>)))]
pub(crate) async fn list_component_versions(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
    MultiQuery(query): MultiQuery<ArchivedQuery>,
) -> ApiResult<Json<Vec<ComponentDto>>> {
    let ws = workspace(&ws)?;
    let versions = state.service.list_asset_versions::<Component>(&principal, &ws, &name, query.include()).await?;
    ComponentDto::all(&state.service, versions)
}

/// One version, or `latest`.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/components/{name}/versions/{version}",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = ComponentDto), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_component(
    State(state): State<AppState>,
    Caller(principal): Caller,
    version: AssetVersion,
) -> ApiResult<Json<ComponentDto>> {
    let component = state.service.resolve_label::<Component>(&principal, &version.workspace, &version.asset).await?;
    Ok(Json(ComponentDto::new(&state.service, component)?))
}

/// Archives a version: it leaves lists and `latest`, but pipelines that name it still run.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/components/{name}/versions/{version}/archive",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = ComponentDto)))]
pub(crate) async fn archive_component(
    State(state): State<AppState>,
    Caller(principal): Caller,
    version: AssetVersion,
) -> ApiResult<Json<ComponentDto>> {
    set_archived(&state, &principal, &version, true).await
}

/// Restores an archived version.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/components/{name}/versions/{version}/restore",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = ComponentDto)))]
pub(crate) async fn restore_component(
    State(state): State<AppState>,
    Caller(principal): Caller,
    version: AssetVersion,
) -> ApiResult<Json<ComponentDto>> {
    set_archived(&state, &principal, &version, false).await
}

async fn set_archived(
    state: &AppState,
    principal: &Principal,
    version: &AssetVersion,
    archived: bool,
) -> ApiResult<Json<ComponentDto>> {
    let service = &state.service;
    let component =
        service.set_asset_archived::<Component>(principal, &version.workspace, &version.asset, archived).await?;
    Ok(Json(ComponentDto::new(service, component)?))
}

/// Every file of a version's code.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/components/{name}/versions/{version}/files",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = Vec<ArtifactDto>)))]
pub(crate) async fn list_component_files(
    State(state): State<AppState>,
    Caller(principal): Caller,
    version: AssetVersion,
) -> ApiResult<Json<Vec<ArtifactDto>>> {
    version.files::<Component>(&state, &principal).await
}

/// Downloads one file of a version's code.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/components/{name}/versions/{version}/files/{path}",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path), ("path" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream")))]
pub(crate) async fn download_component_file(
    State(state): State<AppState>,
    Caller(principal): Caller,
    version: AssetVersion,
) -> ApiResult<Response> {
    version.download::<Component>(&state, &principal).await
}

//! Environments: versions, archive and restore, and their builds.

use super::*;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::wire::MultiQuery;
use atelier_core::environment::Environment;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{OpenApi, ToSchema};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspaces/{ws}/environments", get(list_environments).post(create_environment))
        .route("/workspaces/{ws}/environments/{name}/versions", get(list_environment_versions))
        .route("/workspaces/{ws}/environments/{name}/versions/{version}", get(get_environment))
        .route("/workspaces/{ws}/environments/{name}/versions/{version}/archive", post(archive_environment))
        .route("/workspaces/{ws}/environments/{name}/versions/{version}/restore", post(restore_environment))
        .route(
            "/workspaces/{ws}/environments/{name}/versions/{version}/build",
            get(environment_build_status).post(build_environment),
        )
}

#[derive(OpenApi)]
#[openapi(
    paths(
        list_environments,
        create_environment,
        list_environment_versions,
        get_environment,
        archive_environment,
        restore_environment,
        build_environment,
        environment_build_status
    ),
    components(schemas(EnvironmentDto, NewEnvironmentDto, EnvironmentBuildDto))
)]
pub(super) struct Doc;

// Environments.

/// An environment version.
#[derive(Serialize, ToSchema)]
pub struct EnvironmentDto {
    name: String,
    version: String,
    image: Option<String>,
    /// The Python version; absent for the machine's Python.
    python: Option<String>,
    requirements: Vec<String>,
    channels: Vec<String>,
    description: String,
    tags: BTreeMap<String, String>,
    archived: bool,
    created_by: String,
    created_at: i64,
}

impl From<atelier_core::environment::Environment> for EnvironmentDto {
    fn from(environment: atelier_core::environment::Environment) -> Self {
        EnvironmentDto {
            name: environment.name,
            version: environment.version,
            image: environment.spec.image,
            python: environment.spec.python,
            requirements: environment.spec.requirements,
            channels: environment.spec.channels,
            description: environment.description,
            tags: environment.tags,
            archived: environment.archived,
            created_by: environment.created_by,
            created_at: environment.creation_time,
        }
    }
}

/// An environment to register, as the CLI reduces an environment YAML (and its conda or
/// requirements file) to it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEnvironmentDto {
    /// Required unless `yaml` is given.
    #[serde(default)]
    name: String,
    /// The environment's YAML file. When given, the server reads it as `atelier environment
    /// create` does (a mistake is a 400 naming the field and its line) and registers what it
    /// says; `version` still overrides its version, and `python`, `requirements` and `channels`
    /// stand for the conda or requirements file it names by path. The other fields are ignored.
    #[serde(default)]
    yaml: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    python: Option<String>,
    #[serde(default)]
    requirements: Vec<String>,
    #[serde(default)]
    channels: Vec<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// An environment's build.
#[derive(Serialize, ToSchema)]
pub struct EnvironmentBuildDto {
    /// `ready`, `failed` or `not built`.
    state: String,
    /// The environment's Python, when ready.
    python: Option<String>,
    /// Whether the build was already made.
    cached: bool,
    warnings: Vec<String>,
    /// The end of the build log.
    log: Option<String>,
}

impl From<atelier_service::EnvironmentBuild> for EnvironmentBuildDto {
    fn from(build: atelier_service::EnvironmentBuild) -> Self {
        EnvironmentBuildDto {
            state: build.state.to_owned(),
            python: build.python.map(|path| path.display().to_string()),
            cached: build.cached,
            warnings: build.warnings,
            log: build.log,
        }
    }
}

/// The newest version of each environment.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/environments",
    params(("ws" = String, Path), ("archived" = Option<bool>, Query)), responses((status = 200, body = Vec<EnvironmentDto>)))]
pub(crate) async fn list_environments(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    MultiQuery(query): MultiQuery<ArchivedQuery>,
) -> ApiResult<Json<Vec<EnvironmentDto>>> {
    let ws = workspace(&ws)?;
    let environments = state.service.list_environments(&principal, &ws, None, query.include()).await?;
    Ok(Json(environments.into_iter().map(EnvironmentDto::from).collect()))
}

/// Registers an environment version.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/environments", params(("ws" = String, Path)),
    request_body = NewEnvironmentDto, responses((status = 201, body = EnvironmentDto), (status = 400, body = ErrorBody)))]
pub(crate) async fn create_environment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    Json(request): Json<NewEnvironmentDto>,
) -> ApiResult<(StatusCode, Json<EnvironmentDto>)> {
    let ws = workspace(&ws)?;
    let spec = atelier_core::environment::EnvironmentSpec {
        image: request.image,
        python: request.python,
        requirements: request.requirements,
        channels: request.channels,
    };
    let environment = match request.yaml {
        Some(yaml) => state.service.create_environment_from_yaml(&principal, &ws, &yaml, request.version, spec).await?,
        None => {
            let new_environment = atelier_service::NewEnvironment {
                name: request.name,
                version: request.version,
                description: request.description,
                tags: request.tags,
                spec,
            };
            state.service.create_environment(&principal, &ws, new_environment).await?
        }
    };
    Ok((StatusCode::CREATED, Json(environment.into())))
}

/// The versions of an environment, newest first.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/environments/{name}/versions",
    params(("ws" = String, Path), ("name" = String, Path), ("archived" = Option<bool>, Query)),
    responses((status = 200, body = Vec<EnvironmentDto>)))]
pub(crate) async fn list_environment_versions(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
    MultiQuery(query): MultiQuery<ArchivedQuery>,
) -> ApiResult<Json<Vec<EnvironmentDto>>> {
    let ws = workspace(&ws)?;
    let environments = state.service.list_environments(&principal, &ws, Some(&name), query.include()).await?;
    Ok(Json(environments.into_iter().map(EnvironmentDto::from).collect()))
}

/// One version, or `latest`.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/environments/{name}/versions/{version}",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = EnvironmentDto), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_environment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    version: AssetVersion,
) -> ApiResult<Json<EnvironmentDto>> {
    version.show::<Environment, _>(&state, &principal).await
}

/// Archives a version.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/environments/{name}/versions/{version}/archive",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = EnvironmentDto)))]
pub(crate) async fn archive_environment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    version: AssetVersion,
) -> ApiResult<Json<EnvironmentDto>> {
    version.set_archived::<Environment, _>(&state, &principal, true).await
}

/// Restores an archived version.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/environments/{name}/versions/{version}/restore",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = EnvironmentDto)))]
pub(crate) async fn restore_environment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    version: AssetVersion,
) -> ApiResult<Json<EnvironmentDto>> {
    version.set_archived::<Environment, _>(&state, &principal, false).await
}

/// Builds a version's environment (or finds it built).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/environments/{name}/versions/{version}/build",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = EnvironmentBuildDto), (status = 400, body = ErrorBody)))]
pub(crate) async fn build_environment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, version)): Path<(String, String, String)>,
) -> ApiResult<Json<EnvironmentBuildDto>> {
    let ws = workspace(&ws)?;
    Ok(Json(state.service.build_environment(&principal, &ws, &name, &version).await?.into()))
}

/// Where a version's build stands, with the end of its log.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/environments/{name}/versions/{version}/build",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = EnvironmentBuildDto)))]
pub(crate) async fn environment_build_status(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, version)): Path<(String, String, String)>,
) -> ApiResult<Json<EnvironmentBuildDto>> {
    let ws = workspace(&ws)?;
    Ok(Json(state.service.environment_build_status(&principal, &ws, &name, &version).await?.into()))
}

//! The native REST API under `/api/v1`: workspaces, users, tokens, roles, experiments, runs,
//! metrics and artifacts, in Atelier's own JSON. The OpenAPI document at
//! `/api/v1/openapi.json` is generated from the annotations on these handlers.

use crate::AppState;
use crate::artifacts::{download_response, upload_body};
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::wire::{MultiQuery, double_json, opt_i64, string_list};
use atelier_core::Error;
use atelier_core::authz::Action;
use atelier_core::model::*;
use atelier_core::names::WorkspaceName;
use atelier_service::{ExperimentSearch, LoggedRun, RunSearch, Service};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::{OpenApi, ToSchema};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(crate::jobs_api::routes())
        .merge(crate::endpoints_api::routes())
        .route("/whoami", get(whoami))
        .route("/workspaces", get(list_workspaces).post(create_workspace))
        .route("/workspaces/{ws}", get(get_workspace).patch(update_workspace).delete(delete_workspace))
        .route("/workspaces/{ws}/roles", get(list_roles).put(assign_role))
        .route("/workspaces/{ws}/roles/{user}", delete(remove_role))
        .route("/users", get(list_users).post(create_user))
        .route("/tokens", get(list_tokens).post(create_token))
        .route("/tokens/{id}", delete(revoke_token))
        .route("/workspaces/{ws}/experiments", get(list_experiments).post(create_experiment))
        .route(
            "/workspaces/{ws}/experiments/{id}",
            get(get_experiment).patch(rename_experiment).delete(delete_experiment),
        )
        .route("/workspaces/{ws}/experiments/{id}/restore", post(restore_experiment))
        .route("/workspaces/{ws}/runs", get(search_runs).post(create_run))
        .route("/workspaces/{ws}/runs/{run_id}", get(get_run).patch(update_run).delete(delete_run))
        .route("/workspaces/{ws}/runs/{run_id}/restore", post(restore_run))
        .route("/workspaces/{ws}/runs/{run_id}/log", post(log_to_run))
        .route("/workspaces/{ws}/runs/{run_id}/metrics/{key}", get(metric_history))
        .route("/workspaces/{ws}/runs/{run_id}/artifacts", get(list_run_artifacts))
        .route("/workspaces/{ws}/runs/{run_id}/artifacts/{*path}", get(download_run_artifact).put(upload_run_artifact))
        .route("/workspaces/{ws}/models", get(list_models).post(create_model))
        .route("/workspaces/{ws}/models/{name}/versions", get(list_model_versions))
        .route("/workspaces/{ws}/models/{name}/versions/{version}", get(get_model_version).patch(update_model_version))
        .route("/workspaces/{ws}/models/{name}/versions/{version}/archive", post(archive_model_version))
        .route("/workspaces/{ws}/models/{name}/versions/{version}/restore", post(restore_model_version))
        .route("/workspaces/{ws}/models/{name}/versions/{version}/files", get(list_model_files))
        .route("/workspaces/{ws}/models/{name}/versions/{version}/files/{*path}", get(download_model_file))
        .route("/workspaces/{ws}/models/{name}/uploads/{upload}/{*path}", axum::routing::put(upload_model_file))
        .route("/workspaces/{ws}/data", get(list_data).post(create_data))
        .route("/workspaces/{ws}/data/{name}/versions", get(list_data_versions))
        .route("/workspaces/{ws}/data/{name}/versions/{version}", get(get_data).patch(update_data))
        .route("/workspaces/{ws}/data/{name}/versions/{version}/archive", post(archive_data))
        .route("/workspaces/{ws}/data/{name}/versions/{version}/restore", post(restore_data))
        .route("/workspaces/{ws}/data/{name}/versions/{version}/files", get(list_data_files))
        .route("/workspaces/{ws}/data/{name}/versions/{version}/files/{*path}", get(download_data_file))
        .route("/workspaces/{ws}/data-uploads/{upload}/{*path}", axum::routing::put(upload_data_file))
        .route("/workspaces/{ws}/datastores", get(list_datastores).post(create_datastore))
        .route("/workspaces/{ws}/datastores/{name}", get(get_datastore).delete(delete_datastore))
        .route("/gc", post(collect_garbage))
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
    info(
        title = "Atelier API",
        description = "Atelier's native REST API. Every request needs `Authorization: Bearer <token>` or basic credentials."
    ),
    paths(
        whoami,
        list_workspaces,
        create_workspace,
        get_workspace,
        update_workspace,
        delete_workspace,
        list_roles,
        assign_role,
        remove_role,
        list_users,
        create_user,
        list_tokens,
        create_token,
        revoke_token,
        list_experiments,
        create_experiment,
        get_experiment,
        rename_experiment,
        delete_experiment,
        restore_experiment,
        search_runs,
        create_run,
        get_run,
        update_run,
        delete_run,
        restore_run,
        log_to_run,
        metric_history,
        list_run_artifacts,
        download_run_artifact,
        upload_run_artifact,
        list_models,
        create_model,
        list_model_versions,
        get_model_version,
        update_model_version,
        archive_model_version,
        restore_model_version,
        list_model_files,
        download_model_file,
        upload_model_file,
        list_data,
        create_data,
        list_data_versions,
        get_data,
        update_data,
        archive_data,
        restore_data,
        list_data_files,
        download_data_file,
        upload_data_file,
        list_datastores,
        create_datastore,
        get_datastore,
        delete_datastore,
        list_environments,
        create_environment,
        list_environment_versions,
        get_environment,
        archive_environment,
        restore_environment,
        build_environment,
        environment_build_status,
        collect_garbage,
    ),
    components(schemas(
        WorkspaceDto,
        NewWorkspace,
        WorkspacePatch,
        RoleDto,
        RoleAssignment,
        UserDto,
        NewUser,
        TokenDto,
        NewToken,
        CreatedToken,
        ExperimentDto,
        NewExperiment,
        ExperimentPatch,
        ExperimentPage,
        RunDto,
        RunPage,
        NewRun,
        RunPatch,
        LogRequest,
        MetricDto,
        MetricPage,
        ArtifactDto,
        ErrorBody,
        DatasetInputDto,
        ModelVersionDto,
        NewModelAsset,
        ModelVersionPatch,
        UploadedDto,
        DataAssetDto,
        NewDataAssetDto,
        DataAssetPatch,
        DatastoreDto,
        NewDatastoreDto,
        EnvironmentDto,
        NewEnvironmentDto,
        EnvironmentBuildDto,
        GcReportDto,
    ))
)]
struct ApiDoc;

/// The OpenAPI document of the native API.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let mut document = ApiDoc::openapi();
    document.merge(crate::jobs_api::JobsApiDoc::openapi());
    document.merge(crate::endpoints_api::EndpointsApiDoc::openapi());
    document
}

pub(crate) async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi_document())
}

pub(crate) fn workspace(name: &str) -> Result<WorkspaceName, Error> {
    WorkspaceName::parse(name)
}

/// The error body every endpoint returns on failure.
#[derive(Serialize, ToSchema)]
struct ErrorBody {
    error_code: String,
    message: String,
}

#[derive(Serialize, ToSchema)]
struct Whoami {
    user: String,
    is_admin: bool,
}

/// Who the caller is.
#[utoipa::path(get, path = "/api/v1/whoami", responses((status = 200, body = Whoami)))]
async fn whoami(Caller(principal): Caller) -> Json<Whoami> {
    Json(Whoami { user: principal.user.to_string(), is_admin: principal.is_admin })
}

// Workspaces.

#[derive(Serialize, ToSchema)]
pub struct WorkspaceDto {
    name: String,
    description: String,
    tags: BTreeMap<String, String>,
    created_at: i64,
    updated_at: i64,
    /// The path to append to the server URL to get this workspace's MLflow tracking URI.
    mlflow_tracking_path: String,
}

impl From<Workspace> for WorkspaceDto {
    fn from(workspace: Workspace) -> Self {
        let mlflow_tracking_path = if workspace.name == WorkspaceName::default_workspace() {
            String::new()
        } else {
            format!("/ws/{}", workspace.name)
        };
        WorkspaceDto {
            name: workspace.name.to_string(),
            description: workspace.description,
            tags: workspace.tags,
            created_at: workspace.created_at,
            updated_at: workspace.updated_at,
            mlflow_tracking_path,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWorkspace {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspacePatch {
    description: Option<String>,
    tags: Option<BTreeMap<String, String>>,
}

/// Lists the workspaces the caller can see.
#[utoipa::path(get, path = "/api/v1/workspaces", responses((status = 200, body = Vec<WorkspaceDto>)))]
async fn list_workspaces(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> ApiResult<Json<Vec<WorkspaceDto>>> {
    let workspaces = state.service.list_workspaces(&principal).await?;
    Ok(Json(workspaces.into_iter().map(WorkspaceDto::from).collect()))
}

/// Creates a workspace (server administrators); the creator becomes its Owner.
#[utoipa::path(post, path = "/api/v1/workspaces", request_body = NewWorkspace,
    responses((status = 201, body = WorkspaceDto), (status = 400, body = ErrorBody)))]
async fn create_workspace(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Json(request): Json<NewWorkspace>,
) -> ApiResult<(StatusCode, Json<WorkspaceDto>)> {
    let workspace =
        state.service.create_workspace(&principal, &request.name, &request.description, request.tags).await?;
    Ok((StatusCode::CREATED, Json(workspace.into())))
}

/// Shows one workspace.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}", params(("ws" = String, Path)),
    responses((status = 200, body = WorkspaceDto), (status = 404, body = ErrorBody)))]
async fn get_workspace(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
) -> ApiResult<Json<WorkspaceDto>> {
    Ok(Json(state.service.get_workspace(&principal, &ws).await?.into()))
}

/// Updates a workspace's description and tags (Owners).
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}", params(("ws" = String, Path)), request_body = WorkspacePatch,
    responses((status = 200, body = WorkspaceDto)))]
async fn update_workspace(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    Json(request): Json<WorkspacePatch>,
) -> ApiResult<Json<WorkspaceDto>> {
    let workspace =
        state.service.update_workspace(&principal, &ws, request.description.as_deref(), request.tags.as_ref()).await?;
    Ok(Json(workspace.into()))
}

/// Deletes a workspace and everything in it (Owners).
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}", params(("ws" = String, Path)), responses((status = 204)))]
async fn delete_workspace(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
) -> ApiResult<StatusCode> {
    state.service.delete_workspace(&principal, &ws).await?;
    Ok(StatusCode::NO_CONTENT)
}

// Roles.

#[derive(Serialize, ToSchema)]
pub struct RoleDto {
    user: String,
    role: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleAssignment {
    user: String,
    /// Owner, Contributor or Reader.
    role: String,
}

/// Lists the role assignments of a workspace.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/roles", params(("ws" = String, Path)), responses((status = 200, body = Vec<RoleDto>)))]
async fn list_roles(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
) -> ApiResult<Json<Vec<RoleDto>>> {
    let roles = state.service.list_roles(&principal, &ws).await?;
    Ok(Json(
        roles
            .into_iter()
            .map(|(user, role)| RoleDto { user: user.to_string(), role: role.as_str().to_owned() })
            .collect(),
    ))
}

/// Assigns a role on a workspace (Owners), replacing the user's previous role there.
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/roles", params(("ws" = String, Path)), request_body = RoleAssignment,
    responses((status = 204)))]
async fn assign_role(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    Json(request): Json<RoleAssignment>,
) -> ApiResult<StatusCode> {
    state.service.assign_role(&principal, &ws, &request.user, &request.role).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a user's role from a workspace (Owners).
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/roles/{user}", params(("ws" = String, Path), ("user" = String, Path)),
    responses((status = 204)))]
async fn remove_role(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.service.remove_role(&principal, &ws, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

// Users and tokens.

#[derive(Serialize, ToSchema)]
pub struct UserDto {
    name: String,
    is_admin: bool,
    created_at: i64,
}

impl From<User> for UserDto {
    fn from(user: User) -> Self {
        UserDto { name: user.name.to_string(), is_admin: user.is_admin, created_at: user.created_at }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    name: String,
    /// At least 8 characters; without one the user signs in with tokens only.
    password: Option<String>,
    #[serde(default)]
    is_admin: bool,
}

/// Lists users (server administrators).
#[utoipa::path(get, path = "/api/v1/users", responses((status = 200, body = Vec<UserDto>)))]
async fn list_users(State(state): State<AppState>, Caller(principal): Caller) -> ApiResult<Json<Vec<UserDto>>> {
    Ok(Json(state.service.list_users(&principal).await?.into_iter().map(UserDto::from).collect()))
}

/// Creates a user (server administrators).
#[utoipa::path(post, path = "/api/v1/users", request_body = NewUser, responses((status = 201, body = UserDto)))]
async fn create_user(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Json(request): Json<NewUser>,
) -> ApiResult<(StatusCode, Json<UserDto>)> {
    let user =
        state.service.create_user(&principal, &request.name, request.password.as_deref(), request.is_admin).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

#[derive(Serialize, ToSchema)]
pub struct TokenDto {
    id: String,
    user: String,
    description: String,
    created_at: i64,
    expires_at: Option<i64>,
}

impl From<TokenInfo> for TokenDto {
    fn from(token: TokenInfo) -> Self {
        TokenDto {
            id: token.id,
            user: token.user.to_string(),
            description: token.description,
            created_at: token.created_at,
            expires_at: token.expires_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Whose token; default the caller. Only administrators create tokens for others.
    user: Option<String>,
    #[serde(default)]
    description: String,
    expires_in_days: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    /// The secret: shown this once, stored only as a hash.
    token: String,
    id: String,
    user: String,
    expires_at: Option<i64>,
}

#[derive(Deserialize)]
struct TokenListQuery {
    user: Option<String>,
}

/// Lists API tokens: the caller's, or for administrators everyone's (or one user's).
#[utoipa::path(get, path = "/api/v1/tokens", params(("user" = Option<String>, Query)), responses((status = 200, body = Vec<TokenDto>)))]
async fn list_tokens(
    State(state): State<AppState>,
    Caller(principal): Caller,
    MultiQuery(query): MultiQuery<TokenListQuery>,
) -> ApiResult<Json<Vec<TokenDto>>> {
    let tokens = state.service.list_tokens(&principal, query.user.as_deref()).await?;
    Ok(Json(tokens.into_iter().map(TokenDto::from).collect()))
}

/// Creates an API token.
#[utoipa::path(post, path = "/api/v1/tokens", request_body = NewToken, responses((status = 201, body = CreatedToken)))]
async fn create_token(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Json(request): Json<NewToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let token = state
        .service
        .create_token(&principal, request.user.as_deref(), &request.description, request.expires_in_days)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token: token.secret,
            id: token.info.id,
            user: token.info.user.to_string(),
            expires_at: token.info.expires_at,
        }),
    ))
}

/// Revokes an API token.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", params(("id" = String, Path)), responses((status = 204)))]
async fn revoke_token(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.service.revoke_token(&principal, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// Experiments.

#[derive(Serialize, ToSchema)]
pub struct ExperimentDto {
    experiment_id: String,
    name: String,
    artifact_location: String,
    lifecycle_stage: String,
    creation_time: i64,
    last_update_time: i64,
    tags: BTreeMap<String, String>,
}

impl From<Experiment> for ExperimentDto {
    fn from(experiment: Experiment) -> Self {
        ExperimentDto {
            experiment_id: experiment.experiment_id.to_string(),
            name: experiment.name,
            artifact_location: experiment.artifact_location,
            lifecycle_stage: experiment.lifecycle_stage.as_str().to_owned(),
            creation_time: experiment.creation_time,
            last_update_time: experiment.last_update_time,
            tags: experiment.tags.into_iter().map(|tag| (tag.key, tag.value)).collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ExperimentPage {
    items: Vec<ExperimentDto>,
    next_page_token: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewExperiment {
    name: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExperimentPatch {
    name: String,
}

fn parse_view(text: Option<&str>) -> Result<ViewType, Error> {
    match text.map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("active") | Some("active_only") => Ok(ViewType::ActiveOnly),
        Some("deleted") | Some("deleted_only") => Ok(ViewType::DeletedOnly),
        Some("all") => Ok(ViewType::All),
        Some(other) => Err(Error::invalid(format!("invalid view '{other}': expected active, deleted or all"))),
    }
}

#[derive(Deserialize)]
struct ExperimentListQuery {
    filter: Option<String>,
    #[serde(default, deserialize_with = "string_list")]
    order_by: Vec<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    max_results: Option<i64>,
    page_token: Option<String>,
    view: Option<String>,
}

/// Lists or searches experiments, with MLflow's filter language.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/experiments",
    params(("ws" = String, Path), ("filter" = Option<String>, Query), ("order_by" = Option<Vec<String>>, Query),
           ("max_results" = Option<i64>, Query), ("page_token" = Option<String>, Query), ("view" = Option<String>, Query, description = "active, deleted or all")),
    responses((status = 200, body = ExperimentPage)))]
async fn list_experiments(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    MultiQuery(query): MultiQuery<ExperimentListQuery>,
) -> ApiResult<Json<ExperimentPage>> {
    let search = ExperimentSearch {
        view: parse_view(query.view.as_deref())?,
        filter: query.filter,
        order_by: query.order_by,
        max_results: query.max_results,
        page_token: query.page_token,
    };
    let page = state.service.search_experiments(&principal, &workspace(&ws)?, &search).await?;
    Ok(Json(ExperimentPage {
        items: page.items.into_iter().map(Into::into).collect(),
        next_page_token: page.next_page_token,
    }))
}

/// Creates an experiment.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/experiments", params(("ws" = String, Path)), request_body = NewExperiment,
    responses((status = 201, body = ExperimentDto)))]
async fn create_experiment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    Json(request): Json<NewExperiment>,
) -> ApiResult<(StatusCode, Json<ExperimentDto>)> {
    let ws = workspace(&ws)?;
    let tags = request.tags.into_iter().map(|(key, value)| Tag { key, value }).collect();
    let id = state.service.create_experiment(&principal, &ws, &request.name, None, tags).await?;
    let experiment = state.service.get_experiment(&principal, &ws, &id.to_string()).await?;
    Ok((StatusCode::CREATED, Json(experiment.into())))
}

/// Resolves `{id}`: an experiment id, or a name.
async fn find_experiment(
    service: &Service,
    principal: &atelier_service::Principal,
    ws: &WorkspaceName,
    id: &str,
) -> Result<Experiment, Error> {
    match atelier_service::parse_experiment_id(id) {
        Ok(_) => service.get_experiment(principal, ws, id).await,
        Err(_) => service.get_experiment_by_name(principal, ws, id).await,
    }
}

/// Shows an experiment, by id or by name.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/experiments/{id}", params(("ws" = String, Path), ("id" = String, Path, description = "id or name")),
    responses((status = 200, body = ExperimentDto), (status = 404, body = ErrorBody)))]
async fn get_experiment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<Json<ExperimentDto>> {
    Ok(Json(find_experiment(&state.service, &principal, &workspace(&ws)?, &id).await?.into()))
}

/// Renames an experiment.
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}/experiments/{id}", params(("ws" = String, Path), ("id" = String, Path)),
    request_body = ExperimentPatch, responses((status = 200, body = ExperimentDto)))]
async fn rename_experiment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, id)): Path<(String, String)>,
    Json(request): Json<ExperimentPatch>,
) -> ApiResult<Json<ExperimentDto>> {
    let ws = workspace(&ws)?;
    state.service.rename_experiment(&principal, &ws, &id, &request.name).await?;
    Ok(Json(state.service.get_experiment(&principal, &ws, &id).await?.into()))
}

/// Deletes an experiment and its runs (restorable).
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/experiments/{id}", params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 204)))]
async fn delete_experiment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.service.delete_experiment(&principal, &workspace(&ws)?, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Restores a deleted experiment and its runs.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/experiments/{id}/restore", params(("ws" = String, Path), ("id" = String, Path)),
    responses((status = 204)))]
async fn restore_experiment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.service.restore_experiment(&principal, &workspace(&ws)?, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// Runs.

#[derive(Serialize, ToSchema)]
pub struct DatasetInputDto {
    name: String,
    digest: String,
    source_type: String,
    source: String,
    tags: BTreeMap<String, String>,
}

#[derive(Serialize, ToSchema)]
pub struct RunDto {
    run_id: String,
    run_name: String,
    experiment_id: String,
    user_id: String,
    status: String,
    start_time: Option<i64>,
    end_time: Option<i64>,
    artifact_uri: String,
    lifecycle_stage: String,
    /// The latest value of each metric (NaN as the string "NaN").
    #[schema(value_type = Object)]
    metrics: BTreeMap<String, Value>,
    params: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
    inputs: Vec<DatasetInputDto>,
}

impl From<Run> for RunDto {
    fn from(run: Run) -> Self {
        let info = run.info;
        RunDto {
            run_id: info.run_id.to_string(),
            run_name: info.run_name,
            experiment_id: info.experiment_id.to_string(),
            user_id: info.user_id,
            status: info.status.as_str().to_owned(),
            start_time: info.start_time,
            end_time: info.end_time,
            artifact_uri: info.artifact_uri,
            lifecycle_stage: info.lifecycle_stage.as_str().to_owned(),
            metrics: run.metrics.into_iter().map(|metric| (metric.key, double_json(metric.value))).collect(),
            params: run.params.into_iter().map(|param| (param.key, param.value)).collect(),
            tags: run.tags.into_iter().map(|tag| (tag.key, tag.value)).collect(),
            inputs: run
                .inputs
                .into_iter()
                .map(|input| DatasetInputDto {
                    name: input.dataset.name,
                    digest: input.dataset.digest,
                    source_type: input.dataset.source_type,
                    source: input.dataset.source,
                    tags: input.tags.into_iter().map(|tag| (tag.key, tag.value)).collect(),
                })
                .collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RunPage {
    items: Vec<RunDto>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct RunSearchQuery {
    #[serde(default, deserialize_with = "string_list")]
    experiment_id: Vec<String>,
    #[serde(default, deserialize_with = "string_list")]
    experiment_name: Vec<String>,
    filter: Option<String>,
    #[serde(default, deserialize_with = "string_list")]
    order_by: Vec<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    max_results: Option<i64>,
    page_token: Option<String>,
    view: Option<String>,
}

/// Searches runs of one or more experiments (by id or name) with MLflow's filter language.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/runs",
    params(("ws" = String, Path), ("experiment_id" = Option<Vec<String>>, Query), ("experiment_name" = Option<Vec<String>>, Query),
           ("filter" = Option<String>, Query), ("order_by" = Option<Vec<String>>, Query), ("max_results" = Option<i64>, Query),
           ("page_token" = Option<String>, Query), ("view" = Option<String>, Query)),
    responses((status = 200, body = RunPage), (status = 400, body = ErrorBody)))]
async fn search_runs(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    MultiQuery(query): MultiQuery<RunSearchQuery>,
) -> ApiResult<Json<RunPage>> {
    let ws = workspace(&ws)?;
    let mut experiment_ids = query.experiment_id;
    for name in &query.experiment_name {
        let experiment = state.service.get_experiment_by_name(&principal, &ws, name).await?;
        experiment_ids.push(experiment.experiment_id.to_string());
    }
    let search = RunSearch {
        experiment_ids,
        filter: query.filter,
        view: parse_view(query.view.as_deref())?,
        order_by: query.order_by,
        max_results: query.max_results,
        page_token: query.page_token,
    };
    let page = state.service.search_runs(&principal, &ws, &search).await?;
    Ok(Json(RunPage { items: page.items.into_iter().map(Into::into).collect(), next_page_token: page.next_page_token }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRun {
    experiment_id: Option<String>,
    run_name: Option<String>,
    start_time: Option<i64>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// Creates a run.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/runs", params(("ws" = String, Path)), request_body = NewRun,
    responses((status = 201, body = RunDto)))]
async fn create_run(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    Json(request): Json<NewRun>,
) -> ApiResult<(StatusCode, Json<RunDto>)> {
    let new_run = LoggedRun {
        experiment_id: request.experiment_id,
        user_id: None,
        start_time: request.start_time,
        run_name: request.run_name,
        tags: request.tags.into_iter().map(|(key, value)| Tag { key, value }).collect(),
    };
    let run = state.service.create_run(&principal, &workspace(&ws)?, new_run).await?;
    Ok((StatusCode::CREATED, Json(run.into())))
}

/// Shows a run with its latest metrics, params, tags and inputs.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/runs/{run_id}", params(("ws" = String, Path), ("run_id" = String, Path)),
    responses((status = 200, body = RunDto), (status = 404, body = ErrorBody)))]
async fn get_run(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, run_id)): Path<(String, String)>,
) -> ApiResult<Json<RunDto>> {
    Ok(Json(state.service.get_run(&principal, &workspace(&ws)?, &run_id).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunPatch {
    status: Option<String>,
    end_time: Option<i64>,
    run_name: Option<String>,
}

/// Updates a run's status, end time or name.
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}/runs/{run_id}", params(("ws" = String, Path), ("run_id" = String, Path)),
    request_body = RunPatch, responses((status = 200, body = RunDto)))]
async fn update_run(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, run_id)): Path<(String, String)>,
    Json(request): Json<RunPatch>,
) -> ApiResult<Json<RunDto>> {
    let ws = workspace(&ws)?;
    state
        .service
        .update_run(&principal, &ws, &run_id, request.status.as_deref(), request.end_time, request.run_name.as_deref())
        .await?;
    Ok(Json(state.service.get_run(&principal, &ws, &run_id).await?.into()))
}

/// Deletes a run (restorable).
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/runs/{run_id}", params(("ws" = String, Path), ("run_id" = String, Path)),
    responses((status = 204)))]
async fn delete_run(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, run_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.service.delete_run(&principal, &workspace(&ws)?, &run_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Restores a deleted run.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/runs/{run_id}/restore", params(("ws" = String, Path), ("run_id" = String, Path)),
    responses((status = 204)))]
async fn restore_run(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, run_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.service.restore_run(&principal, &workspace(&ws)?, &run_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricDto {
    key: String,
    /// A number, or "NaN".
    #[schema(value_type = f64)]
    #[serde(deserialize_with = "crate::wire::opt_f64", serialize_with = "serialize_double")]
    value: Option<f64>,
    timestamp: i64,
    #[serde(default)]
    step: i64,
}

fn serialize_double<S: serde::Serializer>(value: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
    double_json(value.unwrap_or(f64::NAN)).serialize(serializer)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogRequest {
    #[serde(default)]
    metrics: Vec<MetricDto>,
    #[serde(default)]
    params: BTreeMap<String, String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

/// Logs metrics, params and tags to a run, all or nothing (MLflow's limits apply).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/runs/{run_id}/log", params(("ws" = String, Path), ("run_id" = String, Path)),
    request_body = LogRequest, responses((status = 204), (status = 400, body = ErrorBody)))]
async fn log_to_run(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, run_id)): Path<(String, String)>,
    Json(request): Json<LogRequest>,
) -> ApiResult<StatusCode> {
    let metrics = request
        .metrics
        .into_iter()
        .map(|metric| {
            Ok(Metric {
                value: metric.value.ok_or_else(|| Error::invalid(format!("metric '{}' has no value", metric.key)))?,
                key: metric.key,
                timestamp: metric.timestamp,
                step: metric.step,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let params = request.params.into_iter().map(|(key, value)| Param { key, value }).collect();
    let tags = request.tags.into_iter().map(|(key, value)| Tag { key, value }).collect();
    state.service.log_batch(&principal, &workspace(&ws)?, &run_id, metrics, params, tags).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct MetricPage {
    items: Vec<MetricDto>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct HistoryQuery {
    #[serde(default, deserialize_with = "opt_i64")]
    max_results: Option<i64>,
    page_token: Option<String>,
}

/// The full history of one metric, by step.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/runs/{run_id}/metrics/{key}",
    params(("ws" = String, Path), ("run_id" = String, Path), ("key" = String, Path), ("max_results" = Option<i64>, Query), ("page_token" = Option<String>, Query)),
    responses((status = 200, body = MetricPage)))]
async fn metric_history(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, run_id, key)): Path<(String, String, String)>,
    MultiQuery(query): MultiQuery<HistoryQuery>,
) -> ApiResult<Json<MetricPage>> {
    let page = state
        .service
        .get_metric_history(&principal, &workspace(&ws)?, &run_id, &key, query.max_results, query.page_token.as_deref())
        .await?;
    let items = page
        .items
        .into_iter()
        .map(|metric| MetricDto {
            key: metric.key,
            value: Some(metric.value),
            timestamp: metric.timestamp,
            step: metric.step,
        })
        .collect();
    Ok(Json(MetricPage { items, next_page_token: page.next_page_token }))
}

#[derive(Serialize, ToSchema)]
pub struct ArtifactDto {
    /// The path relative to the run's artifact root.
    path: String,
    is_dir: bool,
    size: Option<u64>,
}

#[derive(Deserialize)]
struct ArtifactListQuery {
    path: Option<String>,
}

fn join_path(root: &str, path: &str) -> String {
    match (root.is_empty(), path.is_empty()) {
        (_, true) => root.to_owned(),
        (true, false) => path.to_owned(),
        (false, false) => format!("{root}/{path}"),
    }
}

/// Lists a folder of a run's artifacts.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/runs/{run_id}/artifacts",
    params(("ws" = String, Path), ("run_id" = String, Path), ("path" = Option<String>, Query)), responses((status = 200, body = Vec<ArtifactDto>)))]
async fn list_run_artifacts(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, run_id)): Path<(String, String)>,
    MultiQuery(query): MultiQuery<ArtifactListQuery>,
) -> ApiResult<Json<Vec<ArtifactDto>>> {
    let ws = workspace(&ws)?;
    let folder = atelier_core::limits::normalize_artifact_path(query.path.as_deref().unwrap_or_default())?;
    let (_, listed) = state.service.run_artifact_path(&principal, &ws, &run_id, &folder, Action::WorkspaceRead).await?;
    let entries = state.service.list_artifacts(&principal, &ws, &listed).await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|entry| ArtifactDto { path: join_path(&folder, &entry.name), is_dir: entry.is_dir, size: entry.size })
            .collect(),
    ))
}

/// Downloads one file of a run's artifacts.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/runs/{run_id}/artifacts/{path}",
    params(("ws" = String, Path), ("run_id" = String, Path), ("path" = String, Path)), responses((status = 200, content_type = "application/octet-stream")))]
async fn download_run_artifact(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, run_id, path)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let ws = workspace(&ws)?;
    let (_, file) = state.service.run_artifact_path(&principal, &ws, &run_id, &path, Action::WorkspaceRead).await?;
    download_response(&state, &principal, &ws, &file).await
}

/// Uploads one file to a run's artifacts (the body is the file, streamed).
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/runs/{run_id}/artifacts/{path}",
    params(("ws" = String, Path), ("run_id" = String, Path), ("path" = String, Path)), responses((status = 204)))]
async fn upload_run_artifact(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, run_id, path)): Path<(String, String, String)>,
    body: Body,
) -> ApiResult<StatusCode> {
    let ws = workspace(&ws)?;
    if atelier_core::limits::normalize_artifact_path(&path)?.is_empty() {
        return Err(Error::invalid("an artifact upload needs a file path").into());
    }
    let (_, file) = state.service.run_artifact_path(&principal, &ws, &run_id, &path, Action::TrackingWrite).await?;
    upload_body(&state, &principal, &ws, &file, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

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

/// A model version to register. `path` is a URI the server stores or can reach
/// (`mlflow-artifacts:/…`, `runs:/<run>/<path>`, `models:/m-…`); local files are uploaded first
/// with `PUT …/models/{name}/uploads/{upload}/{path}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewModelAsset {
    name: String,
    /// A number; the next free one when absent.
    #[serde(default, deserialize_with = "opt_i64")]
    version: Option<i64>,
    #[serde(default, rename = "type")]
    model_type: Option<String>,
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

#[derive(Deserialize)]
struct ArchivedQuery {
    #[serde(default)]
    archived: Option<String>,
}

impl ArchivedQuery {
    fn include(&self) -> bool {
        matches!(self.archived.as_deref(), Some("true" | "1"))
    }
}

/// The newest version of each model (archived ones with `archived=true`).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/models",
    params(("ws" = String, Path), ("archived" = Option<bool>, Query)), responses((status = 200, body = Vec<ModelVersionDto>)))]
async fn list_models(
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
async fn create_model(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    Json(request): Json<NewModelAsset>,
) -> ApiResult<(StatusCode, Json<ModelVersionDto>)> {
    let ws = workspace(&ws)?;
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
async fn list_model_versions(
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
async fn get_model_version(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, version)): Path<(String, String, String)>,
) -> ApiResult<Json<ModelVersionDto>> {
    let ws = workspace(&ws)?;
    Ok(Json(state.service.resolve_model_version(&principal, &ws, &name, &version).await?.into()))
}

/// Changes a version's description, tags, properties or stage.
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}/models/{name}/versions/{version}",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    request_body = ModelVersionPatch, responses((status = 200, body = ModelVersionDto)))]
async fn update_model_version(
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

async fn set_archived(
    state: &AppState,
    principal: &atelier_service::Principal,
    ws: &str,
    name: &str,
    version: &str,
    archived: bool,
) -> ApiResult<Json<ModelVersionDto>> {
    let ws = workspace(ws)?;
    Ok(Json(state.service.set_model_version_archived(principal, &ws, name, version, archived).await?.into()))
}

/// Archives a version: it leaves lists but still loads.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/models/{name}/versions/{version}/archive",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = ModelVersionDto)))]
async fn archive_model_version(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, version)): Path<(String, String, String)>,
) -> ApiResult<Json<ModelVersionDto>> {
    set_archived(&state, &principal, &ws, &name, &version, true).await
}

/// Restores an archived version.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/models/{name}/versions/{version}/restore",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = ModelVersionDto)))]
async fn restore_model_version(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, version)): Path<(String, String, String)>,
) -> ApiResult<Json<ModelVersionDto>> {
    set_archived(&state, &principal, &ws, &name, &version, false).await
}

/// Every file of a version, with paths that start with the name of the folder (or file) it was
/// registered from.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/models/{name}/versions/{version}/files",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = Vec<ArtifactDto>)))]
async fn list_model_files(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, version)): Path<(String, String, String)>,
) -> ApiResult<Json<Vec<ArtifactDto>>> {
    let ws = workspace(&ws)?;
    let resolved = state.service.resolve_model_version(&principal, &ws, &name, &version).await?;
    let files = state.service.model_version_files(&principal, &ws, &resolved).await?;
    Ok(Json(files.into_iter().map(|(path, size)| ArtifactDto { path, is_dir: false, size: Some(size) }).collect()))
}

/// Downloads one file of a version, by a path from its file list.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/models/{name}/versions/{version}/files/{path}",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path), ("path" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream")))]
async fn download_model_file(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, version, path)): Path<(String, String, String, String)>,
) -> ApiResult<Response> {
    let ws = workspace(&ws)?;
    let resolved = state.service.resolve_model_version(&principal, &ws, &name, &version).await?;
    let download = state.service.download_model_file(&principal, &ws, &resolved, &path).await?;
    Ok(stream_response(download))
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

#[derive(Serialize, ToSchema)]
pub struct UploadedDto {
    /// The `mlflow-artifacts:` URI of the uploaded file.
    uri: String,
    size: u64,
}

/// Uploads one local file of a model before it is registered (the body is the file, streamed).
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/models/{name}/uploads/{upload}/{path}",
    params(("ws" = String, Path), ("name" = String, Path), ("upload" = String, Path), ("path" = String, Path)),
    responses((status = 200, body = UploadedDto)))]
async fn upload_model_file(
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

/// A data asset version to register; local files are uploaded first with
/// `PUT …/data-uploads/{upload}/{path}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDataAssetDto {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default, rename = "type")]
    data_type: Option<String>,
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
async fn list_data(
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
async fn create_data(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    Json(request): Json<NewDataAssetDto>,
) -> ApiResult<(StatusCode, Json<DataAssetDto>)> {
    let ws = workspace(&ws)?;
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
async fn list_data_versions(
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
async fn get_data(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, version)): Path<(String, String, String)>,
) -> ApiResult<Json<DataAssetDto>> {
    let ws = workspace(&ws)?;
    Ok(Json(state.service.get_data_asset(&principal, &ws, &name, &version).await?.into()))
}

/// Changes a version's description, tags or properties.
#[utoipa::path(patch, path = "/api/v1/workspaces/{ws}/data/{name}/versions/{version}",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    request_body = DataAssetPatch, responses((status = 200, body = DataAssetDto)))]
async fn update_data(
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
async fn archive_data(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, version)): Path<(String, String, String)>,
) -> ApiResult<Json<DataAssetDto>> {
    let ws = workspace(&ws)?;
    Ok(Json(state.service.set_data_asset_archived(&principal, &ws, &name, &version, true).await?.into()))
}

/// Restores an archived version.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/data/{name}/versions/{version}/restore",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = DataAssetDto)))]
async fn restore_data(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, version)): Path<(String, String, String)>,
) -> ApiResult<Json<DataAssetDto>> {
    let ws = workspace(&ws)?;
    Ok(Json(state.service.set_data_asset_archived(&principal, &ws, &name, &version, false).await?.into()))
}

/// Every file of a version on the workspace's datastore, with paths that start with the name
/// of its file or folder.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/data/{name}/versions/{version}/files",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = Vec<ArtifactDto>)))]
async fn list_data_files(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, version)): Path<(String, String, String)>,
) -> ApiResult<Json<Vec<ArtifactDto>>> {
    let ws = workspace(&ws)?;
    let asset = state.service.get_data_asset(&principal, &ws, &name, &version).await?;
    let files = state.service.data_asset_files(&principal, &ws, &asset).await?;
    Ok(Json(files.into_iter().map(|(path, size)| ArtifactDto { path, is_dir: false, size: Some(size) }).collect()))
}

/// Downloads one file of a version.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/data/{name}/versions/{version}/files/{path}",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path), ("path" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream")))]
async fn download_data_file(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, version, path)): Path<(String, String, String, String)>,
) -> ApiResult<Response> {
    let ws = workspace(&ws)?;
    let asset = state.service.get_data_asset(&principal, &ws, &name, &version).await?;
    let download = state.service.download_data_file(&principal, &ws, &asset, &path).await?;
    Ok(stream_response(download))
}

/// Uploads one local file to the workspace's default datastore before a data asset is
/// registered (the body is the file, streamed).
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/data-uploads/{upload}/{path}",
    params(("ws" = String, Path), ("upload" = String, Path), ("path" = String, Path)),
    responses((status = 200, body = UploadedDto)))]
async fn upload_data_file(
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

/// A datastore to register: its kind's settings and a `credentials` block.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDatastoreDto {
    name: String,
    #[serde(rename = "type")]
    kind: String,
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
async fn list_datastores(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
) -> ApiResult<Json<Vec<DatastoreDto>>> {
    let ws = workspace(&ws)?;
    Ok(Json(state.service.list_datastores(&principal, &ws).await?.into_iter().map(DatastoreDto::from).collect()))
}

/// Registers a datastore (Owners; `local` ones server administrators only) after checking that
/// it answers with the credentials given, which are then kept encrypted.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/datastores", params(("ws" = String, Path)),
    request_body = NewDatastoreDto, responses((status = 201, body = DatastoreDto), (status = 400, body = ErrorBody)))]
async fn create_datastore(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    Json(request): Json<NewDatastoreDto>,
) -> ApiResult<(StatusCode, Json<DatastoreDto>)> {
    let ws = workspace(&ws)?;
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
async fn get_datastore(
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
async fn delete_datastore(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let ws = workspace(&ws)?;
    state.service.delete_datastore(&principal, &ws, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

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
    name: String,
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
async fn list_environments(
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
async fn create_environment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    Json(request): Json<NewEnvironmentDto>,
) -> ApiResult<(StatusCode, Json<EnvironmentDto>)> {
    let ws = workspace(&ws)?;
    let new_environment = atelier_service::NewEnvironment {
        name: request.name,
        version: request.version,
        description: request.description,
        tags: request.tags,
        spec: atelier_core::environment::EnvironmentSpec {
            image: request.image,
            python: request.python,
            requirements: request.requirements,
            channels: request.channels,
        },
    };
    let environment = state.service.create_environment(&principal, &ws, new_environment).await?;
    Ok((StatusCode::CREATED, Json(environment.into())))
}

/// The versions of an environment, newest first.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/environments/{name}/versions",
    params(("ws" = String, Path), ("name" = String, Path), ("archived" = Option<bool>, Query)),
    responses((status = 200, body = Vec<EnvironmentDto>)))]
async fn list_environment_versions(
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
async fn get_environment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, version)): Path<(String, String, String)>,
) -> ApiResult<Json<EnvironmentDto>> {
    let ws = workspace(&ws)?;
    Ok(Json(state.service.get_environment(&principal, &ws, &name, &version).await?.into()))
}

/// Archives a version.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/environments/{name}/versions/{version}/archive",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = EnvironmentDto)))]
async fn archive_environment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, version)): Path<(String, String, String)>,
) -> ApiResult<Json<EnvironmentDto>> {
    let ws = workspace(&ws)?;
    Ok(Json(state.service.set_environment_archived(&principal, &ws, &name, &version, true).await?.into()))
}

/// Restores an archived version.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/environments/{name}/versions/{version}/restore",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = EnvironmentDto)))]
async fn restore_environment(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, version)): Path<(String, String, String)>,
) -> ApiResult<Json<EnvironmentDto>> {
    let ws = workspace(&ws)?;
    Ok(Json(state.service.set_environment_archived(&principal, &ws, &name, &version, false).await?.into()))
}

/// Builds a version's environment (or finds it built).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/environments/{name}/versions/{version}/build",
    params(("ws" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = EnvironmentBuildDto), (status = 400, body = ErrorBody)))]
async fn build_environment(
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
async fn environment_build_status(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, version)): Path<(String, String, String)>,
) -> ApiResult<Json<EnvironmentBuildDto>> {
    let ws = workspace(&ws)?;
    Ok(Json(state.service.environment_build_status(&principal, &ws, &name, &version).await?.into()))
}

// Garbage collection.

/// What a garbage collection freed.
#[derive(Serialize, ToSchema)]
pub struct GcReportDto {
    runs_purged: u64,
    uploads_removed: u64,
    files_removed: u64,
    bytes_freed: u64,
}

#[derive(Deserialize)]
struct GcQuery {
    #[serde(default, deserialize_with = "opt_i64")]
    grace_minutes: Option<i64>,
}

/// Frees what no record references (server administrators): deleted runs that no model version
/// names, with their artifacts, and local uploads that no model version or data asset points
/// into, once untouched for `grace_minutes` (default 60).
#[utoipa::path(post, path = "/api/v1/gc", params(("grace_minutes" = Option<i64>, Query)),
    responses((status = 200, body = GcReportDto), (status = 403, body = ErrorBody)))]
async fn collect_garbage(
    State(state): State<AppState>,
    Caller(principal): Caller,
    MultiQuery(query): MultiQuery<GcQuery>,
) -> ApiResult<Json<GcReportDto>> {
    let minutes = query.grace_minutes.unwrap_or(60);
    if minutes < 0 {
        return Err(Error::invalid(format!("grace_minutes must not be negative, got {minutes}")).into());
    }
    let report = state.service.collect_garbage(&principal, std::time::Duration::from_secs(minutes as u64 * 60)).await?;
    Ok(Json(GcReportDto {
        runs_purged: report.runs_purged,
        uploads_removed: report.uploads_removed,
        files_removed: report.files_removed,
        bytes_freed: report.bytes_freed,
    }))
}

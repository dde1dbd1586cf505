//! Role definitions: Azure's built-in roles and the custom roles server administrators define,
//! in Azure's JSON role-definition shape (a shown role can be edited and sent back).

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use atelier_service::RoleView;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/role-definitions", get(list_role_definitions).post(create_role_definition)).route(
        "/role-definitions/{name}",
        get(get_role_definition).put(update_role_definition).delete(delete_role_definition),
    )
}

#[derive(OpenApi)]
#[openapi(
    paths(
        list_role_definitions,
        create_role_definition,
        get_role_definition,
        update_role_definition,
        delete_role_definition
    ),
    components(schemas(RoleDefinitionDto))
)]
pub(super) struct Doc;

/// A role in Azure's JSON role-definition shape. Action strings are Azure ML's
/// (`Microsoft.MachineLearningServices/workspaces/models/read`), with `*` wildcards; scopes are
/// `/` (every workspace) or `/workspaces/<name>`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct RoleDefinitionDto {
    name: String,
    is_custom: bool,
    description: String,
    actions: Vec<String>,
    not_actions: Vec<String>,
    data_actions: Vec<String>,
    not_data_actions: Vec<String>,
    assignable_scopes: Vec<String>,
    /// Who defined a custom role.
    #[serde(skip_serializing_if = "Option::is_none")]
    created_by: Option<String>,
    /// When a custom role last changed, in milliseconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_at: Option<i64>,
}

impl From<RoleView> for RoleDefinitionDto {
    fn from(view: RoleView) -> Self {
        let role = view.definition;
        RoleDefinitionDto {
            name: role.name,
            is_custom: !role.built_in,
            description: role.description,
            actions: role.actions,
            not_actions: role.not_actions,
            data_actions: Vec::new(),
            not_data_actions: Vec::new(),
            assignable_scopes: role.assignable_scopes.iter().map(ToString::to_string).collect(),
            created_by: view.created_by,
            updated_at: view.updated_at,
        }
    }
}

/// Lists every role: the built-in ones, then the custom ones.
#[utoipa::path(get, path = "/api/v1/role-definitions", responses((status = 200, body = Vec<RoleDefinitionDto>)))]
pub(crate) async fn list_role_definitions(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> ApiResult<Json<Vec<RoleDefinitionDto>>> {
    let roles = state.service.list_role_definitions(&principal).await?;
    Ok(Json(roles.into_iter().map(RoleDefinitionDto::from).collect()))
}

/// Defines a custom role (server administrators). The body is Azure's role-definition JSON;
/// a mistake names its field and line.
#[utoipa::path(post, path = "/api/v1/role-definitions", request_body = RoleDefinitionDto,
    responses((status = 201, body = RoleDefinitionDto)))]
pub(crate) async fn create_role_definition(
    State(state): State<AppState>,
    Caller(principal): Caller,
    body: String,
) -> ApiResult<(StatusCode, Json<RoleDefinitionDto>)> {
    let role = state.service.create_role_definition_from_json(&principal, &body).await?;
    Ok((StatusCode::CREATED, Json(role.into())))
}

/// Shows a role, built-in or custom, by name (without regard to case).
#[utoipa::path(get, path = "/api/v1/role-definitions/{name}", params(("name" = String, Path)),
    responses((status = 200, body = RoleDefinitionDto)))]
pub(crate) async fn get_role_definition(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<RoleDefinitionDto>> {
    Ok(Json(state.service.get_role_definition(&principal, &name).await?.into()))
}

/// Replaces a custom role's description, actions and scopes (server administrators).
#[utoipa::path(put, path = "/api/v1/role-definitions/{name}", params(("name" = String, Path)),
    request_body = RoleDefinitionDto, responses((status = 200, body = RoleDefinitionDto)))]
pub(crate) async fn update_role_definition(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(name): Path<String>,
    body: String,
) -> ApiResult<Json<RoleDefinitionDto>> {
    Ok(Json(state.service.update_role_definition_from_json(&principal, &name, &body).await?.into()))
}

/// Deletes a custom role (server administrators); refused while it is assigned.
#[utoipa::path(delete, path = "/api/v1/role-definitions/{name}", params(("name" = String, Path)),
    responses((status = 204)))]
pub(crate) async fn delete_role_definition(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    state.service.delete_role_definition(&principal, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

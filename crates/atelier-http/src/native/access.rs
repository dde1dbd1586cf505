//! Who may do what: the caller (`whoami`), role assignments, users and API tokens.

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::wire::MultiQuery;
use atelier_core::model::*;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, patch};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/whoami", get(whoami))
        .route("/workspaces/{ws}/roles", get(list_roles).put(assign_role))
        .route("/workspaces/{ws}/roles/{user}", delete(remove_role))
        .route("/users", get(list_users).post(create_user))
        .route("/users/{name}", patch(update_user))
        .route("/tokens", get(list_tokens).post(create_token))
        .route("/tokens/{id}", delete(revoke_token))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        whoami,
        list_roles,
        assign_role,
        remove_role,
        list_users,
        create_user,
        update_user,
        list_tokens,
        create_token,
        revoke_token
    ),
    components(schemas(RoleDto, RoleAssignment, UserDto, NewUser, UserUpdate, TokenDto, NewToken, CreatedToken))
)]
pub(super) struct Doc;

#[derive(Serialize, ToSchema)]
pub(crate) struct Whoami {
    user: String,
    is_admin: bool,
}

/// Who the caller is.
#[utoipa::path(get, path = "/api/v1/whoami", responses((status = 200, body = Whoami)))]
pub(crate) async fn whoami(Caller(principal): Caller) -> Json<Whoami> {
    Json(Whoami { user: principal.user().to_string(), is_admin: principal.is_admin() })
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
    /// A role's name: built-in (Owner, Contributor, Reader, AzureML Data Scientist, AzureML
    /// Compute Operator) or custom (`GET /api/v1/role-definitions`).
    role: String,
}

#[derive(Deserialize)]
pub(crate) struct RemoveRoleQuery {
    role: Option<String>,
}

/// Lists the role assignments of a workspace.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/roles", params(("ws" = String, Path)), responses((status = 200, body = Vec<RoleDto>)))]
pub(crate) async fn list_roles(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
) -> ApiResult<Json<Vec<RoleDto>>> {
    let roles = state.service.list_roles(&principal, &ws).await?;
    Ok(Json(roles.into_iter().map(|(user, role)| RoleDto { user: user.to_string(), role }).collect()))
}

/// Assigns a role on a workspace (Owners), in addition to any the user holds there.
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/roles", params(("ws" = String, Path)), request_body = RoleAssignment,
    responses((status = 204)))]
pub(crate) async fn assign_role(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    Json(request): Json<RoleAssignment>,
) -> ApiResult<StatusCode> {
    state.service.assign_role(&principal, &ws, &request.user, &request.role).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a user's role from a workspace (Owners): the one `role` names, or all of theirs.
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/roles/{user}",
    params(("ws" = String, Path), ("user" = String, Path), ("role" = Option<String>, Query)),
    responses((status = 204)))]
pub(crate) async fn remove_role(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, user)): Path<(String, String)>,
    MultiQuery(query): MultiQuery<RemoveRoleQuery>,
) -> ApiResult<StatusCode> {
    state.service.remove_role(&principal, &ws, &user, query.role.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

// Users and tokens.

#[derive(Serialize, ToSchema)]
pub struct UserDto {
    name: String,
    is_admin: bool,
    created_at: i64,
    /// Whether the user is disabled: their passwords, tokens and sessions are refused.
    disabled: bool,
    /// When they were disabled.
    disabled_at: Option<i64>,
}

impl From<User> for UserDto {
    fn from(user: User) -> Self {
        UserDto {
            name: user.name.to_string(),
            is_admin: user.is_admin,
            created_at: user.created_at,
            disabled: user.disabled_at.is_some(),
            disabled_at: user.disabled_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    /// `true` disables the user (never oneself), `false` enables them again.
    disabled: bool,
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
pub(crate) async fn list_users(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> ApiResult<Json<Vec<UserDto>>> {
    Ok(Json(state.service.list_users(&principal).await?.into_iter().map(UserDto::from).collect()))
}

/// Creates a user (server administrators).
#[utoipa::path(post, path = "/api/v1/users", request_body = NewUser, responses((status = 201, body = UserDto)))]
pub(crate) async fn create_user(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Json(request): Json<NewUser>,
) -> ApiResult<(StatusCode, Json<UserDto>)> {
    let user =
        state.service.create_user(&principal, &request.name, request.password.as_deref(), request.is_admin).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Disables a user or enables them again (server administrators).
#[utoipa::path(patch, path = "/api/v1/users/{name}", params(("name" = String, Path)), request_body = UserUpdate,
    responses((status = 200, body = UserDto)))]
pub(crate) async fn update_user(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(name): Path<String>,
    Json(request): Json<UserUpdate>,
) -> ApiResult<Json<UserDto>> {
    Ok(Json(state.service.set_user_disabled(&principal, &name, request.disabled).await?.into()))
}

#[derive(Serialize, ToSchema)]
pub struct TokenDto {
    id: String,
    user: String,
    description: String,
    created_at: i64,
    expires_at: Option<i64>,
    /// `all`, or `metrics` for a token that only reads `/metrics`.
    scope: String,
    /// When the token last authenticated a request, to within a minute; `null`: never.
    last_used_at: Option<i64>,
}

impl From<TokenInfo> for TokenDto {
    fn from(token: TokenInfo) -> Self {
        TokenDto {
            id: token.id,
            user: token.user.to_string(),
            description: token.description,
            created_at: token.created_at,
            expires_at: token.expires_at,
            scope: token.scope.as_str().to_owned(),
            last_used_at: token.last_used_at,
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
    /// `all` (the default), or `metrics`: a token for Prometheus that reads `/metrics` (what its
    /// user may see there) and nothing else.
    scope: Option<String>,
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
pub(crate) struct TokenListQuery {
    user: Option<String>,
}

/// Lists API tokens: the caller's, or for administrators everyone's (or one user's).
#[utoipa::path(get, path = "/api/v1/tokens", params(("user" = Option<String>, Query)), responses((status = 200, body = Vec<TokenDto>)))]
pub(crate) async fn list_tokens(
    State(state): State<AppState>,
    Caller(principal): Caller,
    MultiQuery(query): MultiQuery<TokenListQuery>,
) -> ApiResult<Json<Vec<TokenDto>>> {
    let tokens = state.service.list_tokens(&principal, query.user.as_deref()).await?;
    Ok(Json(tokens.into_iter().map(TokenDto::from).collect()))
}

/// Creates an API token.
#[utoipa::path(post, path = "/api/v1/tokens", request_body = NewToken, responses((status = 201, body = CreatedToken)))]
pub(crate) async fn create_token(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Json(request): Json<NewToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let scope = request.scope.as_deref().map(TokenScope::parse).transpose()?.unwrap_or_default();
    let token = state
        .service
        .create_token(&principal, request.user.as_deref(), &request.description, request.expires_in_days, scope)
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
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.service.revoke_token(&principal, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

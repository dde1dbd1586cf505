//! Single sign-on for programs: what the CLI needs for the provider's device flow, and the
//! exchange of an ID token from that flow for an API token. Both answer without credentials
//! (the ID token is the credential); where the server has no OpenID provider, both are 404.

use crate::AppState;
use crate::error::ApiResult;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

/// Mounted under `/api/v1`, outside authentication.
pub(crate) fn public_routes() -> Router<AppState> {
    Router::new().route("/auth/oidc", get(device_settings)).route("/auth/oidc/token", post(exchange_id_token))
}

#[derive(OpenApi)]
#[openapi(
    paths(device_settings, exchange_id_token),
    components(schemas(DeviceSettings, IdTokenExchange, SignedInToken))
)]
pub(super) struct Doc;

#[derive(Serialize, ToSchema)]
pub struct DeviceSettings {
    issuer: String,
    /// The public client the CLI signs in as.
    client_id: String,
    device_authorization_endpoint: String,
    token_endpoint: String,
}

/// What `atelier login` needs to sign in with the provider's device flow.
#[utoipa::path(get, path = "/api/v1/auth/oidc", responses((status = 200, body = DeviceSettings)), security(()))]
pub(crate) async fn device_settings(State(state): State<AppState>) -> ApiResult<Json<DeviceSettings>> {
    let settings = state.service.device_sign_in().await?;
    Ok(Json(DeviceSettings {
        issuer: settings.issuer,
        client_id: settings.client_id,
        device_authorization_endpoint: settings.device_authorization_endpoint,
        token_endpoint: settings.token_endpoint,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdTokenExchange {
    /// An ID token the OpenID provider issued to this server's studio or CLI client.
    id_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct SignedInToken {
    /// The API token: shown this once, stored only as a hash.
    token: String,
    id: String,
    user: String,
    expires_at: Option<i64>,
}

/// Exchanges an ID token (from `atelier login`'s device flow) for an API token of its user,
/// valid for 12 hours. Its signature, issuer, audience and expiry are checked.
#[utoipa::path(post, path = "/api/v1/auth/oidc/token", request_body = IdTokenExchange,
    responses((status = 200, body = SignedInToken)), security(()))]
pub(crate) async fn exchange_id_token(
    State(state): State<AppState>,
    Json(request): Json<IdTokenExchange>,
) -> ApiResult<Json<SignedInToken>> {
    let token = state.service.exchange_id_token(&request.id_token).await?;
    Ok(Json(SignedInToken {
        token: token.secret,
        id: token.info.id,
        user: token.info.user.to_string(),
        expires_at: token.info.expires_at,
    }))
}

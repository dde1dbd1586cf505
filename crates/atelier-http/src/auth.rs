//! Authentication: every request outside the health endpoints carries an API token
//! (`Authorization: Bearer`, which is what `MLFLOW_TRACKING_TOKEN` sends) or HTTP basic
//! credentials (`MLFLOW_TRACKING_USERNAME`/`PASSWORD`). The resolved [`Principal`] goes into the
//! request's extensions; authorization happens later, in the service layer.

use crate::AppState;
use crate::error::ApiError;
use atelier_core::Error;
use atelier_service::Principal;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;

#[tracing::instrument(skip_all)]
pub(crate) async fn require_principal(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = request.headers().get(AUTHORIZATION).and_then(|value| value.to_str().ok()).map(str::to_owned);
    let Some(header) = header else {
        return Err(Error::unauthenticated(
            "authentication required: send 'Authorization: Bearer <token>' or basic credentials",
        )
        .into());
    };
    let principal = if let Some(token) = header.strip_prefix("Bearer ").or_else(|| header.strip_prefix("bearer ")) {
        state.service.authenticate_token(token.trim()).await?
    } else if let Some(encoded) = header.strip_prefix("Basic ").or_else(|| header.strip_prefix("basic ")) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| Error::unauthenticated("malformed basic credentials"))?;
        let (user, password) =
            decoded.split_once(':').ok_or_else(|| Error::unauthenticated("malformed basic credentials"))?;
        let address = client_address(request.extensions());
        state.service.authenticate_password(user, password, address).await?
    } else {
        return Err(Error::unauthenticated("unsupported authorization scheme: use Bearer or Basic").into());
    };
    request.extensions_mut().insert(principal);
    Ok(next.run(request).await)
}

/// The address a request came from, where the listener records it (failed sign-ins are
/// counted by it). Behind a reverse proxy it is the proxy's.
pub(crate) fn client_address(extensions: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    extensions.get::<ConnectInfo<std::net::SocketAddr>>().map(|info| info.0.ip())
}

/// The address a request came from, as an extractor (see [`client_address`]).
pub(crate) struct ClientAddress(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(client_address(&parts.extensions)))
    }
}

/// The authenticated caller, as put there by [`require_principal`].
pub(crate) struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| ApiError(Error::unauthenticated("authentication required")))
    }
}

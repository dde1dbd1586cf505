//! Errors on the wire: `{"error_code": "...", "message": "..."}` with the status from the one
//! code table in `atelier_core::error`. MLflow's client reads `error_code`; the native API uses
//! the same body.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub struct ApiError(pub atelier_core::Error);

impl From<atelier_core::Error> for ApiError {
    fn from(error: atelier_core::Error) -> Self {
        ApiError(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::json!({ "error_code": self.0.code.as_str(), "message": self.0.message });
        let mut response = (status, Json(body)).into_response();
        // The audit layer records the code of a failure.
        response.extensions_mut().insert(self.0.code);
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"atelier\""),
            );
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The one error shape for what the framework answers before a handler runs (a body that is not
/// JSON or not the expected JSON, a wrong content type, a method the route does not have): its
/// text becomes the message of `{"error_code", "message"}`. A body the handler could not read
/// is a 400, as every invalid argument is (axum says 422). Applied to the APIs, not the studio.
pub(crate) async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, 64 * 1024).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    let (status, code) = match status {
        StatusCode::UNPROCESSABLE_ENTITY => (StatusCode::BAD_REQUEST, atelier_core::ErrorCode::InvalidParameterValue),
        StatusCode::UNAUTHORIZED => (status, atelier_core::ErrorCode::Unauthenticated),
        StatusCode::FORBIDDEN => (status, atelier_core::ErrorCode::PermissionDenied),
        StatusCode::NOT_FOUND => (status, atelier_core::ErrorCode::ResourceDoesNotExist),
        StatusCode::TOO_MANY_REQUESTS => (status, atelier_core::ErrorCode::RequestLimitExceeded),
        StatusCode::PAYLOAD_TOO_LARGE => (status, atelier_core::ErrorCode::PayloadTooLarge),
        status if status.is_server_error() => (status, atelier_core::ErrorCode::InternalError),
        status => (status, atelier_core::ErrorCode::InvalidParameterValue),
    };
    let message = match (text.is_empty(), status) {
        (false, _) => text,
        (true, StatusCode::METHOD_NOT_ALLOWED) => {
            let allowed = parts.headers.get(axum::http::header::ALLOW).and_then(|value| value.to_str().ok());
            format!(
                "this path does not take that method{}",
                allowed.map(|allow| format!(": it takes {allow}")).unwrap_or_default()
            )
        }
        (true, status) => status.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let mut response =
        (status, Json(serde_json::json!({ "error_code": code.as_str(), "message": message }))).into_response();
    response.extensions_mut().insert(code);
    for (name, value) in parts
        .headers
        .iter()
        .filter(|(name, _)| *name == axum::http::header::ALLOW || *name == axum::http::header::WWW_AUTHENTICATE)
    {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

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

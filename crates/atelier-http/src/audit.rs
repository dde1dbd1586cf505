//! The audit layer: every request runs inside an audit context (see `atelier_store::audit`),
//! which the service fills as it authenticates and authorizes and which the store's
//! transactions record with their changes. After the answer, this layer appends what no
//! transaction recorded (a denial, a failure, a change outside the metadata store), and answers
//! the request's id in `x-request-id`.

use crate::AppState;
use crate::auth::client_address;
use atelier_core::ErrorCode;
use atelier_service::audit::AuditContext;
use atelier_service::now_millis;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

const REQUEST_ID: &str = "x-request-id";

pub(crate) async fn audit_calls(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !state.service.auditing() {
        return next.run(request).await;
    }
    let request_id = uuid::Uuid::new_v4().to_string();
    let address = client_address(request.extensions()).map(|address| address.to_string());
    let context =
        AuditContext::new(request_id.clone(), address, request.method().as_str(), request.uri().path(), now_millis());
    let mut response = context.within(next.run(request)).await;
    let code = response.extensions().get::<ErrorCode>().map(|code| code.as_str());
    if let Some(mut record) = context.finish(response.status().as_u16(), code, now_millis()) {
        // Scoring answers its own request id; the record carries the one the caller saw.
        if let Some(answered) = response.headers().get(REQUEST_ID).and_then(|value| value.to_str().ok()) {
            record.request_id = answered.to_owned();
        }
        state.service.append_audit(&record).await;
    }
    if !response.headers().contains_key(REQUEST_ID)
        && let Ok(value) = HeaderValue::from_str(&request_id)
    {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

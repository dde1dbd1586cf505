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
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A new request id: unique, in a UUID's shape, without a system call for randomness on every
/// request (ids identify requests; nothing relies on them being unguessable). Its first half is
/// drawn at random once per process, its second half counts.
fn next_request_id() -> uuid::Uuid {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair().0);
    let count = COUNT.fetch_add(1, Ordering::Relaxed);
    uuid::Builder::from_random_bytes(uuid::Uuid::from_u64_pair(prefix, count).into_bytes()).into_uuid()
}

pub(crate) async fn audit_calls(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !state.service.auditing() {
        return next.run(request).await;
    }
    let request_id = next_request_id();
    let request_id = request_id.hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()).to_owned();
    let address = client_address(request.extensions()).map(|address| address.to_string());
    let context =
        AuditContext::new(request_id.clone(), address, request.method().as_str(), request.uri().path(), now_millis());
    let mut response = context.within(next.run(request)).await;
    let code = response.extensions().get::<ErrorCode>().map(|code| code.as_str());
    if let Some(mut record) = context.finish(response.status().as_u16(), code, now_millis()) {
        // Scoring answers its own request id; the record carries the one the caller saw.
        if let Some(answered) = response.headers().get(&REQUEST_ID).and_then(|value| value.to_str().ok()) {
            record.request_id = answered.to_owned();
        }
        state.service.append_audit(&record).await;
    }
    if !response.headers().contains_key(&REQUEST_ID)
        && let Ok(value) = HeaderValue::from_str(&request_id)
    {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

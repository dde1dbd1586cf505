//! Atelier's HTTP layer: one [`router`] with the health endpoints, the native API under
//! `/api/v1`, the MLflow-compatible tracking API and the `mlflow-artifacts` proxy.
//!
//! The decision that shaped this crate: handlers are thin. Each one extracts its input, calls one
//! service operation and maps the result to its wire format; MLflow's JSON quirks live in
//! [`mlflow`], the native JSON in [`native`], and neither knows SQL or decides permissions.
//!
//! The studio (`studio`) is served by the same router: HTML pages at `/`, `/w/<workspace>/...`.
//!
//! Workspaces: the server root serves workspace `default`; `/ws/<name>/...` serves the same
//! routes for workspace `<name>`, so `http://host:7420/ws/<name>` is that workspace's MLflow
//! tracking URI.

mod artifacts;
mod audit;
mod auth;
mod error;
mod instance_proxy;
mod mlflow;
mod mlflow_registry;
mod native;
mod studio;
mod wire;

use atelier_service::Service;
use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::get;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use error::ApiError;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub service: Arc<Service>,
    /// Runs online endpoints; without it, scoring answers 503.
    pub serving: Option<Arc<atelier_serving::Serving>>,
    /// The base of scoring URIs (the inference listener's URL), when it is not this listener.
    pub scoring_base: Option<String>,
    /// The most a scoring request's body may hold.
    pub max_score_bytes: usize,
    /// False once shutdown has begun, so that `/readyz` tells load balancers to stop sending.
    pub ready: Arc<AtomicBool>,
}

impl AppState {
    pub fn new(service: Arc<Service>) -> Self {
        AppState {
            service,
            serving: None,
            scoring_base: None,
            max_score_bytes: DEFAULT_MAX_SCORE_BYTES,
            ready: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Serves online endpoints with `serving`.
    pub fn with_serving(mut self, serving: Arc<atelier_serving::Serving>) -> Self {
        self.serving = Some(serving);
        self
    }
}

/// The default limit of a scoring request's body: 5 MiB.
pub const DEFAULT_MAX_SCORE_BYTES: usize = 5 << 20;

/// The routes of the inference listener (`--inference-addr`): scoring and health only.
pub fn inference_router(state: AppState) -> Router {
    Router::new()
        .route("/endpoints/{name}/score", axum::routing::post(native::endpoints::score))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), audit::audit_calls))
        .with_state(state)
}

/// The routes one workspace serves: MLflow tracking (also under `/ajax-api`, as MLflow's UI
/// uses it) and the artifact proxy.
fn workspace_routes() -> Router<AppState> {
    Router::new()
        .nest("/api/2.0/mlflow", mlflow::routes())
        .nest("/ajax-api/2.0/mlflow", mlflow::routes())
        .nest("/api/2.0/mlflow-artifacts", artifacts::routes())
        .nest("/ajax-api/2.0/mlflow-artifacts", artifacts::routes())
        .route("/api/3.0/mlflow/server-info", get(mlflow::server_info))
        .route("/ajax-api/3.0/mlflow/server-info", get(mlflow::server_info))
}

/// Builds the whole application.
pub fn router(state: AppState) -> Router {
    let authenticated = Router::new()
        .merge(workspace_routes())
        .nest("/ws/{workspace}", workspace_routes())
        .nest("/api/v1", native::routes())
        .route("/metrics", get(native::endpoints::metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::require_principal))
        .layer(middleware::map_response(error::json_errors));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/health", get(|| async { "OK" }))
        .route("/version", get(|| async { env!("CARGO_PKG_VERSION") }))
        .route("/readyz", get(readyz))
        .route("/api/v1/openapi.json", get(native::openapi_json))
        .route("/endpoints/{name}/score", axum::routing::post(native::endpoints::score))
        .merge(studio::routes())
        .route("/ci/{ws}/{name}", get(instance_proxy::instance_root))
        .route("/ci/{ws}/{name}/", get(instance_proxy::instance_root))
        .route(
            "/ci/{ws}/{name}/{*rest}",
            get(instance_proxy::proxy)
                .post(instance_proxy::proxy)
                .put(instance_proxy::proxy)
                .patch(instance_proxy::proxy)
                .delete(instance_proxy::proxy),
        )
        .nest("/api/v1", native::sso::public_routes().layer(middleware::map_response(error::json_errors)))
        .merge(authenticated)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), audit::audit_calls))
        .with_state(state)
}

async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> impl IntoResponse {
    if state.ready.load(Ordering::SeqCst) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down")
    }
}

async fn not_found(request: Request) -> ApiError {
    ApiError(atelier_core::Error::new(
        atelier_core::ErrorCode::ResourceDoesNotExist,
        format!("no such endpoint: {} {}", request.method(), request.uri().path()),
    ))
}

//! The studio: server-rendered HTML pages over the same service operations as the APIs.
//!
//! The decision that shaped it: no JavaScript build step. Pages are askama templates, charts are
//! SVG drawn by the server (`atelier-charts`), every view has a URL with its filters and sort in
//! the query string, and pages read fine without JavaScript. Sign-in opens a session held in an
//! HttpOnly, SameSite cookie; every form carries the session's CSRF token.

mod account;
mod artifacts;
mod assets;
mod audit;
mod common;
mod compare;
mod components;
mod compute;
mod endpoints;
mod jobs;
mod models;
mod pipelines;
mod roles;
mod run;
mod runs;
mod schedules;
mod session;
pub(crate) use session::{session_secret, urlencode};
mod sweeps;
mod workspaces;

use crate::AppState;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(workspaces::workspaces))
        .route("/login", get(session::login_page).post(session::login))
        .route("/login/oidc", get(session::oidc_begin))
        .route("/login/oidc/callback", get(session::oidc_callback))
        .route("/logout", post(session::logout))
        .route("/workspaces", post(workspaces::create_workspace))
        .route("/w/{ws}", get(workspaces::workspace))
        .route("/ws/{ws}/", get(workspaces::tracking_uri_page))
        .route("/w/{ws}/experiments/{id}", get(runs::runs))
        .route("/w/{ws}/experiments/{id}/{action}", post(workspaces::experiment_action))
        .route("/w/{ws}/compare", get(compare::compare))
        .route("/w/{ws}/roles", get(roles::roles).post(roles::assign_role))
        .route("/w/{ws}/roles/{user}/remove", post(roles::remove_role))
        .route("/w/{ws}/audit", get(audit::workspace_audit))
        .route("/audit", get(audit::server_audit))
        .route("/account", get(account::account))
        .route("/account/tokens", post(account::create_own_token))
        .route("/account/password", post(account::change_password))
        .route("/tokens/{id}/revoke", post(account::revoke_token))
        .route("/users", get(account::users).post(account::create_user))
        .route("/users/tokens", post(account::create_user_token))
        .route("/users/{name}/password", post(account::reset_password))
        .route("/users/{name}/disabled", post(account::set_disabled))
        .route("/w/{ws}/data", get(assets::data_assets))
        .route("/w/{ws}/data/{name}", get(assets::data_asset))
        .route("/w/{ws}/datastores", get(assets::datastores))
        .route("/w/{ws}/environments", get(assets::environments))
        .route("/w/{ws}/environments/{name}", get(assets::environment))
        .route("/w/{ws}/components", get(components::components))
        .route("/w/{ws}/schedules", get(schedules::schedules))
        .route("/w/{ws}/compute", get(compute::compute))
        .route("/w/{ws}/compute/{name}/start", post(compute::start_instance))
        .route("/w/{ws}/compute/{name}/stop", post(compute::stop_instance))
        .route("/w/{ws}/schedules/{name}", get(schedules::schedule))
        .route("/w/{ws}/components/{name}", get(components::component))
        .route("/w/{ws}/components/{name}/versions/{version}/files/{*path}", get(components::file))
        .route("/w/{ws}/jobs", get(jobs::jobs))
        .route("/w/{ws}/jobs/{name}", get(jobs::job))
        .route("/w/{ws}/jobs/{name}/cancel", post(jobs::cancel))
        .route("/w/{ws}/jobs/{name}/log-stream", get(jobs::log_stream))
        .route("/w/{ws}/jobs/{name}/files/{kind}/{*path}", get(jobs::file))
        .route("/w/{ws}/endpoints", get(endpoints::endpoints))
        .route("/w/{ws}/endpoints/{name}", get(endpoints::endpoint))
        .route("/w/{ws}/endpoints/{name}/traffic", post(endpoints::set_traffic))
        .route("/w/{ws}/endpoints/{name}/test", post(endpoints::test_request))
        .route("/w/{ws}/models", get(models::models))
        .route("/w/{ws}/models/{name}", get(models::model))
        .route("/w/{ws}/models/{name}/versions/{version}", get(models::model_version))
        .route("/w/{ws}/runs/{run_id}", get(run::run))
        .route("/w/{ws}/runs/{run_id}/artifacts/{*path}", get(artifacts::artifact))
        .route("/w/{ws}/runs/{run_id}/folder", get(artifacts::folder_download))
        .route("/static/studio.css", get(stylesheet))
        .route("/static/studio.js", get(script))
        .route("/static/favicon.svg", get(favicon))
        .route("/favicon.ico", get(favicon))
}

async fn stylesheet() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("../../static/studio.css"))
}

/// The studio's icon (browsers ask for `/favicon.ico` whatever the page says; an SVG answers).
async fn favicon() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=86400")],
        include_str!("../../static/favicon.svg"),
    )
}

async fn script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("../../static/studio.js"))
}

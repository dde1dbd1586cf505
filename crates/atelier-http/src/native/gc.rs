//! Garbage collection, on request.

use super::*;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::wire::{MultiQuery, opt_i64};
use atelier_core::Error;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/gc", post(collect_garbage))
}

#[derive(OpenApi)]
#[openapi(paths(collect_garbage), components(schemas(GcReportDto)))]
pub(super) struct Doc;

// Garbage collection.

/// What a garbage collection freed.
#[derive(Serialize, ToSchema)]
pub struct GcReportDto {
    runs_purged: u64,
    uploads_removed: u64,
    files_removed: u64,
    bytes_freed: u64,
}

/// The longest grace period: ten years, in minutes.
const MAX_GRACE_MINUTES: u64 = 10 * 365 * 24 * 60;

#[derive(Deserialize)]
pub(crate) struct GcQuery {
    #[serde(default, deserialize_with = "opt_i64")]
    grace_minutes: Option<i64>,
}

/// Frees what no record references (server administrators): deleted runs that no model version
/// names, with their artifacts, and local uploads that no model version or data asset points
/// into, once untouched for `grace_minutes` (default 60).
#[utoipa::path(post, path = "/api/v1/gc", params(("grace_minutes" = Option<i64>, Query)),
    responses((status = 200, body = GcReportDto), (status = 403, body = ErrorBody)))]
pub(crate) async fn collect_garbage(
    State(state): State<AppState>,
    Caller(principal): Caller,
    MultiQuery(query): MultiQuery<GcQuery>,
) -> ApiResult<Json<GcReportDto>> {
    let minutes = query.grace_minutes.unwrap_or(60);
    let minutes = u64::try_from(minutes).ok().filter(|minutes| *minutes <= MAX_GRACE_MINUTES).ok_or_else(|| {
        Error::invalid(format!("grace_minutes: expected 0 to {MAX_GRACE_MINUTES} (ten years), got {minutes}"))
    })?;
    let report = state.service.collect_garbage(&principal, std::time::Duration::from_secs(minutes * 60)).await?;
    Ok(Json(GcReportDto {
        runs_purged: report.runs_purged,
        uploads_removed: report.uploads_removed,
        files_removed: report.files_removed,
        bytes_freed: report.bytes_freed,
    }))
}

//! Schedules: Azure ML's schedule files, which submit a job at each fire time; their last and
//! next fires and the jobs they made; enable, disable and trigger now.

use super::*;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use atelier_core::schedule::{Schedule, parse_rfc3339};
use atelier_service::{FIRE_TIME_TAG, ScheduleSubmission, ScheduleView};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{OpenApi, ToSchema};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspaces/{ws}/schedules", get(list_schedules).post(create_schedule))
        .route("/workspaces/{ws}/schedules/{name}", get(get_schedule).put(update_schedule).delete(delete_schedule))
        .route("/workspaces/{ws}/schedules/{name}/enable", post(enable_schedule))
        .route("/workspaces/{ws}/schedules/{name}/disable", post(disable_schedule))
        .route("/workspaces/{ws}/schedules/{name}/trigger", post(trigger_schedule))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        list_schedules,
        create_schedule,
        get_schedule,
        update_schedule,
        delete_schedule,
        enable_schedule,
        disable_schedule,
        trigger_schedule
    ),
    components(schemas(ScheduleDto, ScheduleJobDto, NewScheduleDto))
)]
pub(super) struct Doc;

/// A job a schedule's fire submitted.
#[derive(Serialize, ToSchema)]
pub struct ScheduleJobDto {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    status: String,
    /// The fire time it was submitted for (epoch milliseconds).
    fire_time: Option<i64>,
    created_at: i64,
}

/// A schedule, shaped like `az ml schedule show`.
#[derive(Serialize, ToSchema)]
pub struct ScheduleDto {
    name: String,
    display_name: Option<String>,
    description: Option<String>,
    tags: BTreeMap<String, String>,
    /// Whether it fires (Azure's `is_enabled`).
    is_enabled: bool,
    /// `Enabled` or `Disabled`, as Azure's `provisioning_state` reads in the studio.
    status: String,
    /// The trigger in words: `cron 0 3 * * *`, `every 1 day at …`.
    trigger: Option<String>,
    time_zone: Option<String>,
    /// Epoch milliseconds, as every time of the native API.
    last_fire_time: Option<i64>,
    next_fire_time: Option<i64>,
    /// Why the latest fire submitted no job.
    last_error: Option<String>,
    created_by: String,
    creation_time: i64,
    /// The schedule file as written.
    yaml: String,
    /// The jobs its fires submitted, newest first (`show` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    jobs: Option<Vec<ScheduleJobDto>>,
}

impl ScheduleDto {
    fn of(schedule: Schedule) -> Self {
        ScheduleDto {
            status: if schedule.enabled { "Enabled" } else { "Disabled" }.to_owned(),
            name: schedule.name,
            display_name: schedule.display_name,
            description: schedule.description,
            tags: schedule.tags,
            is_enabled: schedule.enabled,
            trigger: None,
            time_zone: None,
            last_fire_time: schedule.last_fire,
            next_fire_time: schedule.next_fire,
            last_error: schedule.last_error,
            created_by: schedule.created_by,
            creation_time: schedule.creation_time,
            yaml: schedule.yaml,
            jobs: None,
        }
    }
}

impl From<ScheduleView> for ScheduleDto {
    fn from(view: ScheduleView) -> Self {
        let jobs = view
            .jobs
            .into_iter()
            .map(|job| ScheduleJobDto {
                fire_time: job.tags.get(FIRE_TIME_TAG).and_then(|time| parse_rfc3339(time)),
                name: job.name,
                kind: job.kind.as_str().to_owned(),
                status: job.status.as_str().to_owned(),
                created_at: job.created_at,
            })
            .collect();
        ScheduleDto {
            trigger: Some(view.trigger),
            time_zone: Some(view.time_zone),
            jobs: Some(jobs),
            ..ScheduleDto::of(view.schedule)
        }
    }
}

/// A schedule to create or update: its file, and the job its `create_job` file makes.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewScheduleDto {
    /// The schedule file (Azure ML's schedule YAML). A mistake is a 400 naming the field and
    /// its line.
    yaml: String,
    /// The job file `create_job` names, read and uploaded by the client as for `POST jobs`;
    /// absent for `create_job: azureml:<job>`.
    #[serde(default)]
    job: Option<super::jobs::NewJobDto>,
}

impl NewScheduleDto {
    fn into_submission(self) -> ScheduleSubmission {
        ScheduleSubmission { yaml: self.yaml, job: self.job.map(super::jobs::NewJobDto::into_submission) }
    }
}

/// The workspace's schedules, by name.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/schedules", params(("ws" = String, Path)),
    responses((status = 200, body = Vec<ScheduleDto>)))]
pub(crate) async fn list_schedules(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
) -> ApiResult<Json<Vec<ScheduleDto>>> {
    let schedules = state.service.list_schedules(&principal, &workspace(&ws)?).await?;
    Ok(Json(schedules.into_iter().map(ScheduleDto::of).collect()))
}

/// Creates a schedule, enabled. The job it submits is checked now, as its creator, as its
/// first fire will be.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/schedules", params(("ws" = String, Path)),
    request_body = NewScheduleDto,
    responses((status = 201, body = ScheduleDto), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn create_schedule(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    Json(request): Json<NewScheduleDto>,
) -> ApiResult<(StatusCode, Json<ScheduleDto>)> {
    let view = state.service.create_schedule(&principal, &workspace(&ws)?, request.into_submission()).await?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

/// A schedule with its trigger, last and next fire times and the jobs it submitted.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/schedules/{name}",
    params(("ws" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = ScheduleDto), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_schedule(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<Json<ScheduleDto>> {
    Ok(Json(state.service.get_schedule(&principal, &workspace(&ws)?, &name).await?.into()))
}

/// Replaces a schedule's file and job; it keeps its fires and whether it is enabled.
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/schedules/{name}",
    params(("ws" = String, Path), ("name" = String, Path)), request_body = NewScheduleDto,
    responses((status = 200, body = ScheduleDto), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn update_schedule(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
    Json(request): Json<NewScheduleDto>,
) -> ApiResult<Json<ScheduleDto>> {
    let view = state.service.update_schedule(&principal, &workspace(&ws)?, &name, request.into_submission()).await?;
    Ok(Json(view.into()))
}

/// Deletes a schedule; the jobs it submitted stay.
#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/schedules/{name}",
    params(("ws" = String, Path), ("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_schedule(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.service.delete_schedule(&principal, &workspace(&ws)?, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Enables a schedule: it fires from its next time after now.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/schedules/{name}/enable",
    params(("ws" = String, Path), ("name" = String, Path)), responses((status = 200, body = ScheduleDto)))]
pub(crate) async fn enable_schedule(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<Json<ScheduleDto>> {
    Ok(Json(state.service.set_schedule_enabled(&principal, &workspace(&ws)?, &name, true).await?.into()))
}

/// Disables a schedule: it does not fire until enabled again.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/schedules/{name}/disable",
    params(("ws" = String, Path), ("name" = String, Path)), responses((status = 200, body = ScheduleDto)))]
pub(crate) async fn disable_schedule(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<Json<ScheduleDto>> {
    Ok(Json(state.service.set_schedule_enabled(&principal, &workspace(&ws)?, &name, false).await?.into()))
}

/// Submits the schedule's job now (`trigger-now`); its fire times do not change.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/schedules/{name}/trigger",
    params(("ws" = String, Path), ("name" = String, Path)),
    responses((status = 201, body = super::jobs::JobDto), (status = 400, body = ErrorBody)))]
pub(crate) async fn trigger_schedule(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<super::jobs::JobDto>)> {
    let job = state.service.trigger_schedule(&principal, &workspace(&ws)?, &name).await?;
    Ok((StatusCode::CREATED, Json(job.into())))
}

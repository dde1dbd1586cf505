//! The studio's schedule pages: a workspace's schedules with their last and next fire times,
//! and one schedule with its trigger, file and the jobs its fires submitted.

use super::common::{crumb, error_page, when};
use super::session::{Browser, Layout, render};
use crate::AppState;
use askama::Template;
use atelier_core::Error;
use atelier_core::schedule::parse_rfc3339;
use atelier_service::{FIRE_TIME_TAG, ScheduleView};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

struct ScheduleRow {
    name: String,
    display_name: String,
    enabled: bool,
    last_fire: String,
    next_fire: String,
    last_error: String,
}

#[derive(Template)]
#[template(path = "schedules.html")]
struct SchedulesPage {
    layout: Layout,
    workspace: String,
    schedules: Vec<ScheduleRow>,
}

pub(crate) async fn schedules(State(state): State<AppState>, browser: Browser, Path(ws): Path<String>) -> Response {
    let principal = &browser.session.principal;
    let loaded = async {
        let workspace = crate::wire::workspace_in_path(&ws)?;
        let schedules = state.service.list_schedules(principal, &workspace).await?;
        Ok::<_, Error>((workspace, schedules))
    }
    .await;
    let (workspace, schedules) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return error_page(&browser, error),
    };
    let schedules = schedules
        .into_iter()
        .map(|schedule| ScheduleRow {
            display_name: schedule.display_name.unwrap_or_default(),
            enabled: schedule.enabled,
            last_fire: when(schedule.last_fire),
            next_fire: when(schedule.next_fire),
            last_error: schedule.last_error.unwrap_or_default(),
            name: schedule.name,
        })
        .collect();
    let page = SchedulesPage {
        layout: Layout::for_browser(
            &browser,
            vec![
                crumb(workspace.to_string(), format!("/w/{workspace}")),
                crumb("schedules", format!("/w/{workspace}/schedules")),
            ],
        ),
        workspace: workspace.to_string(),
        schedules,
    };
    render(page, StatusCode::OK)
}

/// A job a fire submitted, as the page lists it.
struct FiredJob {
    name: String,
    kind: String,
    status: String,
    fire_time: String,
}

#[derive(Template)]
#[template(path = "schedule.html")]
struct SchedulePage {
    layout: Layout,
    workspace: String,
    name: String,
    display_name: String,
    description: String,
    enabled: bool,
    trigger: String,
    time_zone: String,
    last_fire: String,
    next_fire: String,
    last_error: String,
    created_by: String,
    created: String,
    yaml: String,
    jobs: Vec<FiredJob>,
}

pub(crate) async fn schedule(
    State(state): State<AppState>,
    browser: Browser,
    Path((ws, name)): Path<(String, String)>,
) -> Response {
    let principal = &browser.session.principal;
    let loaded = async {
        let workspace = crate::wire::workspace_in_path(&ws)?;
        let view = state.service.get_schedule(principal, &workspace, &name).await?;
        Ok::<_, Error>((workspace, view))
    }
    .await;
    let (workspace, ScheduleView { schedule, trigger, time_zone, jobs }) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return error_page(&browser, error),
    };
    let jobs = jobs
        .into_iter()
        .map(|job| FiredJob {
            fire_time: when(job.tags.get(FIRE_TIME_TAG).and_then(|time| parse_rfc3339(time))),
            kind: job.kind.as_str().to_owned(),
            status: job.status.as_str().to_owned(),
            name: job.name,
        })
        .collect();
    let page = SchedulePage {
        layout: Layout::for_browser(
            &browser,
            vec![
                crumb(workspace.to_string(), format!("/w/{workspace}")),
                crumb("schedules", format!("/w/{workspace}/schedules")),
                crumb(schedule.name.clone(), format!("/w/{workspace}/schedules/{}", schedule.name)),
            ],
        ),
        workspace: workspace.to_string(),
        display_name: schedule.display_name.unwrap_or_default(),
        description: schedule.description.unwrap_or_default(),
        enabled: schedule.enabled,
        trigger,
        time_zone,
        last_fire: when(schedule.last_fire),
        next_fire: when(schedule.next_fire),
        last_error: schedule.last_error.unwrap_or_default(),
        created_by: schedule.created_by,
        created: when(Some(schedule.creation_time)),
        yaml: schedule.yaml,
        name: schedule.name,
        jobs,
    };
    render(page, StatusCode::OK)
}

//! The studio's job pages: a workspace's jobs, and one job with its status, timeline, live log,
//! outputs, code snapshot, the YAML as submitted, and a Cancel button for those who may.

use super::common::{crumb, error_page, file_response, when};
use super::session::{Browser, Layout, forged_form, render, urlencode};
use crate::AppState;
use askama::Template;
use atelier_core::Error;
use atelier_core::authz::Action;
use atelier_core::job::{JobKind, JobStatus};
use atelier_core::names::WorkspaceName;
use atelier_service::JobFilter;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

struct JobRow {
    name: String,
    display_name: String,
    /// `command`, `sweep`, `pipeline · 3 steps`, `step of <pipeline>`.
    kind: String,
    status: &'static str,
    experiment: String,
    compute: String,
    created: String,
    duration: String,
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    layout: Layout,
    workspace: String,
    status: String,
    statuses: Vec<&'static str>,
    jobs: Vec<JobRow>,
}

#[derive(Deserialize, Default)]
pub(crate) struct JobsQuery {
    #[serde(default)]
    status: String,
}

/// A span of time as "1m 05s".
pub(super) fn duration(millis: i64) -> String {
    let seconds = millis.max(0) / 1000;
    match seconds {
        0..=59 => format!("{}.{}s", seconds, (millis.max(0) % 1000) / 100),
        60..=3599 => format!("{}m {:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h {:02}m", seconds / 3600, (seconds % 3600) / 60),
    }
}

fn workspace_of(ws: &str) -> Result<WorkspaceName, Error> {
    crate::wire::workspace_in_path(ws)
}

pub(crate) async fn jobs(
    State(state): State<AppState>,
    browser: Browser,
    Path(ws): Path<String>,
    Query(query): Query<JobsQuery>,
) -> Response {
    let principal = &browser.session.principal;
    let workspace = match workspace_of(&ws) {
        Ok(workspace) => workspace,
        Err(error) => return error_page(&browser, error),
    };
    let filter = JobFilter {
        status: (!query.status.is_empty()).then(|| query.status.clone()),
        max_results: Some(500),
        ..JobFilter::default()
    };
    let jobs = match state.service.list_jobs(principal, &workspace, &filter).await {
        Ok(jobs) => jobs,
        Err(error) => return error_page(&browser, error),
    };
    let page = JobsPage {
        layout: Layout::for_browser(
            &browser,
            vec![
                crumb(workspace.to_string(), format!("/w/{workspace}")),
                crumb("jobs", format!("/w/{workspace}/jobs")),
            ],
        ),
        workspace: workspace.to_string(),
        status: query.status,
        statuses: JobStatus::ALL.iter().map(|status| status.as_str()).collect(),
        jobs: jobs
            .into_iter()
            .map(|job| {
                let started = job.time_of(JobStatus::Running);
                let ended = job.events.iter().find(|event| event.status.is_terminal()).map(|event| event.time);
                let kind = match (job.kind, &job.parent) {
                    (JobKind::Pipeline, _) => match state.service.pipeline_plan_of(&job) {
                        Ok(plan) => format!("pipeline · {} steps", plan.steps.len()),
                        Err(_) => "pipeline".to_owned(),
                    },
                    (_, Some(parent)) if job.step.is_some() => format!("step of {parent}"),
                    (_, Some(parent)) => format!("trial of {parent}"),
                    (kind, None) => kind.as_str().to_owned(),
                };
                JobRow {
                    kind,
                    duration: match (started, ended) {
                        (Some(start), Some(end)) => duration(end - start),
                        (Some(start), None) => duration(atelier_service::now_millis() - start),
                        _ => String::new(),
                    },
                    display_name: job.display_name.clone().unwrap_or_default(),
                    status: job.status.as_str(),
                    experiment: job.experiment_name,
                    compute: job.compute,
                    created: when(Some(job.created_at)),
                    name: job.name,
                }
            })
            .collect(),
    };
    render(page, StatusCode::OK)
}

struct EventRow {
    status: &'static str,
    time: String,
    after: String,
    message: String,
}

#[derive(Template)]
#[template(path = "job.html")]
struct JobPage {
    layout: Layout,
    workspace: String,
    name: String,
    display_name: String,
    status: &'static str,
    ended: bool,
    experiment: String,
    experiment_id: i64,
    compute: String,
    command: String,
    environment: String,
    created: String,
    created_by: String,
    exit_code: String,
    error: String,
    warnings: Vec<String>,
    /// On a cluster: what the cluster last said of the job.
    cluster_state: String,
    events: Vec<EventRow>,
    log: String,
    log_offset: i64,
    log_files: Vec<(String, i64)>,
    outputs: Vec<(String, Vec<(String, u64)>)>,
    snapshot: Vec<(String, u64)>,
    yaml: String,
    may_cancel: bool,
    /// The run's latest metric values and its params.
    metrics: Vec<(String, String)>,
    params: Vec<(String, String)>,
    /// A sweep's trials and charts.
    sweep: Option<super::sweeps::SweepSection>,
    /// A pipeline's graph and steps.
    pipeline: Option<super::pipelines::PipelineSection>,
    /// A pipeline step's pipeline and step name, and the job it reused.
    step: Option<(String, String)>,
    reused_from: String,
}

/// The log shown when the page is rendered: its last 256 KiB (the live part follows).
const LOG_TAIL: i64 = 256 * 1024;

pub(crate) async fn job(
    State(state): State<AppState>,
    browser: Browser,
    Path((ws, name)): Path<(String, String)>,
    Query(trials): Query<super::sweeps::TrialsQuery>,
) -> Response {
    let principal = &browser.session.principal;
    let loaded = async {
        let workspace = workspace_of(&ws)?;
        let job = state.service.get_job(principal, &workspace, &name).await?;
        let log_files = state.service.job_log_files(principal, &workspace, &name).await?;
        let size = log_files.iter().find(|(file, _)| file == atelier_service::STD_LOG).map(|(_, size)| *size);
        let from = (size.unwrap_or(0) - LOG_TAIL).max(0);
        let (piece, _) = state
            .service
            .read_job_log(principal, &workspace, &name, atelier_service::STD_LOG, from, LOG_TAIL * 2)
            .await?;
        let plan = state.service.plan_of(&job)?;
        let mut outputs = Vec::new();
        for output in plan.outputs.keys().cloned() {
            let files = if job.status == JobStatus::Completed {
                state.service.job_output_files(principal, &workspace, &name, &output).await?
            } else {
                Vec::new()
            };
            outputs.push((output, files));
        }
        let snapshot = state.service.job_snapshot_files(principal, &workspace, &name).await?;
        let run = state.service.get_run(principal, &workspace, &name).await?;
        let mut metrics: Vec<(String, String)> =
            run.metrics.iter().map(|metric| (metric.key.clone(), format!("{}", metric.value))).collect();
        metrics.sort();
        let params: Vec<(String, String)> =
            run.params.iter().map(|param| (param.key.clone(), param.value.clone())).collect();
        let may_cancel =
            !job.status.is_terminal() && state.service.may(principal, &workspace, Action::JobsCancel).await;
        let sweep = match job.kind {
            JobKind::Sweep => {
                Some(super::sweeps::sweep_section(&state.service, principal, &workspace, &job, &trials).await?)
            }
            JobKind::Command | JobKind::Pipeline => None,
        };
        let pipeline = match job.kind {
            JobKind::Pipeline => {
                Some(super::pipelines::pipeline_section(&state.service, principal, &workspace, &job).await?)
            }
            JobKind::Command | JobKind::Sweep => None,
        };
        Ok::<_, Error>((
            workspace, job, log_files, piece, plan, outputs, snapshot, may_cancel, metrics, params, sweep, pipeline,
        ))
    }
    .await;
    let (workspace, job, log_files, piece, plan, outputs, snapshot, may_cancel, metrics, params, sweep, pipeline) =
        match loaded {
            Ok(loaded) => loaded,
            Err(error) => return error_page(&browser, error),
        };
    let mut previous: Option<i64> = None;
    let events = job
        .events
        .iter()
        .map(|event| {
            let after = previous.map(|then| format!("+{}", duration(event.time - then))).unwrap_or_default();
            previous = Some(event.time);
            EventRow {
                status: event.status.as_str(),
                time: when(Some(event.time)),
                after,
                message: event.message.clone().unwrap_or_default(),
            }
        })
        .collect();
    let page = JobPage {
        layout: Layout::for_browser(
            &browser,
            vec![
                crumb(workspace.to_string(), format!("/w/{workspace}")),
                crumb("jobs", format!("/w/{workspace}/jobs")),
                crumb(job.name.clone(), format!("/w/{workspace}/jobs/{}", urlencode(&job.name))),
            ],
        ),
        workspace: workspace.to_string(),
        display_name: job.display_name.clone().unwrap_or_default(),
        status: job.status.as_str(),
        ended: job.status.is_terminal(),
        experiment: job.experiment_name.clone(),
        experiment_id: job.experiment_id,
        compute: job.compute.clone(),
        command: plan.command,
        environment: plan.environment.name,
        created: when(Some(job.created_at)),
        created_by: job.created_by.clone(),
        exit_code: job.exit_code.map(|code| code.to_string()).unwrap_or_default(),
        error: job.error.clone().unwrap_or_default(),
        warnings: job.warnings.clone(),
        cluster_state: job.cluster_state.clone().unwrap_or_default(),
        events,
        log: piece.text,
        log_offset: piece.next_offset,
        log_files,
        outputs,
        snapshot,
        yaml: job.spec_yaml.clone(),
        may_cancel,
        metrics,
        params,
        sweep,
        pipeline,
        step: job.parent.clone().zip(job.step.clone()),
        reused_from: job.reused_from.clone().unwrap_or_default(),
        name: job.name,
    };
    render(page, StatusCode::OK)
}

#[derive(Deserialize)]
pub(crate) struct CancelForm {
    csrf: String,
}

pub(crate) async fn cancel(
    State(state): State<AppState>,
    browser: Browser,
    Path((ws, name)): Path<(String, String)>,
    Form(form): Form<CancelForm>,
) -> Response {
    if !browser.csrf_matches(&form.csrf) {
        return forged_form();
    }
    let principal = &browser.session.principal;
    let outcome = async { state.service.cancel_job(principal, &workspace_of(&ws)?, &name).await }.await;
    match outcome {
        Ok(_) => Redirect::to(&format!("/w/{}/jobs/{}", urlencode(&ws), urlencode(&name))).into_response(),
        Err(error) => error_page(&browser, error),
    }
}

#[derive(Deserialize)]
pub(crate) struct StreamQuery {
    #[serde(default)]
    from: i64,
    #[serde(default)]
    file: Option<String>,
}

/// The live log, as server-sent events (see `native::jobs::log_events`).
pub(crate) async fn log_stream(
    State(state): State<AppState>,
    browser: Browser,
    Path((ws, name)): Path<(String, String)>,
    Query(query): Query<StreamQuery>,
) -> Response {
    let principal = browser.session.principal.clone();
    let workspace = match workspace_of(&ws) {
        Ok(workspace) => workspace,
        Err(error) => return error_page(&browser, error),
    };
    if let Err(error) = state.service.get_job(&principal, &workspace, &name).await {
        return error_page(&browser, error);
    }
    let file = query.file.unwrap_or_else(|| atelier_service::STD_LOG.to_owned());
    let events = crate::native::jobs::log_events(state.clone(), principal, workspace, name, file, query.from);
    axum::response::sse::Sse::new(events).keep_alive(axum::response::sse::KeepAlive::default()).into_response()
}

/// Downloads a file of a job's code snapshot, or of one of its named outputs.
pub(crate) async fn file(
    State(state): State<AppState>,
    browser: Browser,
    Path((ws, name, kind, path)): Path<(String, String, String, String)>,
) -> Response {
    let principal = &browser.session.principal;
    let result = async {
        let workspace = workspace_of(&ws)?;
        match kind.as_str() {
            "snapshot" => state.service.open_snapshot_file(principal, &workspace, &name, &path).await,
            "outputs" => {
                let (output, rest) = path.split_once('/').unwrap_or((path.as_str(), ""));
                let relative = if rest.is_empty() { output.to_owned() } else { format!("{output}/{rest}") };
                state.service.open_job_output_file(principal, &workspace, &name, output, &relative).await
            }
            other => Err(Error::not_found(format!("a job has no '{other}' files"))),
        }
    }
    .await;
    match result {
        Ok(download) => file_response(download, &path, None),
        Err(error) => error_page(&browser, error),
    }
}

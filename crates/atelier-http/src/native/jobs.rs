//! The native API's jobs and computes: what users do (submit, list, show, cancel, archive,
//! read logs, browse snapshots and outputs) and what a job's runtime does with its token (read
//! its plan, snapshot and inputs, ship logs, upload outputs, report its status).

use super::job_children::{BestTrialDto, PipelineDto, PipelineEdgeDto, PipelineStepDto, SweepDto};
use crate::auth::Caller;
use crate::error::ApiResult;
use atelier_core::environment::EnvironmentSpec;
use atelier_core::job::{Job, JobKind, JobStatus};
use atelier_service::{ComputeView, JobFilter, JobSubmission, NewCompute, StatusReport};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::AppState;
use crate::native::{ErrorBody, stream_response, workspace};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/workspaces/{ws}/jobs", get(list_jobs).post(create_job))
        .route("/workspaces/{ws}/job-checks", post(check_job))
        .route("/workspaces/{ws}/jobs/{name}", get(get_job))
        .route("/workspaces/{ws}/jobs/{name}/cancel", post(cancel_job))
        .route("/workspaces/{ws}/jobs/{name}/archive", post(archive_job))
        .route("/workspaces/{ws}/jobs/{name}/restore", post(restore_job))
        .route("/workspaces/{ws}/jobs/{name}/logs", get(read_log).post(append_log))
        .route("/workspaces/{ws}/jobs/{name}/logs/stream", get(stream_log))
        .route("/workspaces/{ws}/jobs/{name}/snapshot", get(list_snapshot))
        .route("/workspaces/{ws}/jobs/{name}/snapshot/{*path}", get(download_snapshot_file))
        .route("/workspaces/{ws}/jobs/{name}/outputs/{output}", get(list_output))
        .route(
            "/workspaces/{ws}/jobs/{name}/outputs/{output}/files/{*path}",
            get(download_output_file).put(upload_output_file),
        )
        .route("/workspaces/{ws}/jobs/{name}/inputs/{input}", get(list_input))
        .route("/workspaces/{ws}/jobs/{name}/inputs/{input}/files/{*path}", get(download_input_file))
        .route("/workspaces/{ws}/jobs/{name}/plan", get(get_plan))
        .route("/workspaces/{ws}/jobs/{name}/status", post(report_status))
        .route("/workspaces/{ws}/code-uploads/{snapshot}/{*path}", put(upload_code_file))
        .route("/workspaces/{ws}/computes", get(list_computes).post(create_compute))
        .route("/workspaces/{ws}/computes/{name}", get(get_compute).delete(delete_compute))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        list_jobs,
        create_job,
        check_job,
        get_job,
        cancel_job,
        archive_job,
        restore_job,
        read_log,
        stream_log,
        append_log,
        list_snapshot,
        download_snapshot_file,
        list_output,
        download_output_file,
        upload_output_file,
        list_input,
        download_input_file,
        get_plan,
        report_status,
        upload_code_file,
        list_computes,
        create_compute,
        get_compute,
        delete_compute,
    ),
    components(schemas(
        JobDto,
        JobEventDto,
        SweepDto,
        PipelineDto,
        PipelineStepDto,
        PipelineEdgeDto,
        StepUploadDto,
        BestTrialDto,
        NewJobDto,
        InlineEnvironmentDto,
        LogDto,
        LogPieceDto,
        LogAcceptedDto,
        FileListDto,
        FileDto,
        StatusReportDto,
        ControlDto,
        ComputeDto,
        NewComputeDto,
    ))
)]
pub(crate) struct JobsApiDoc;

/// A status a job reached.
#[derive(Serialize, ToSchema)]
pub struct JobEventDto {
    status: String,
    time: i64,
    message: Option<String>,
}

/// A job, shaped like `az ml job show`.
#[derive(Serialize, ToSchema)]
pub struct JobDto {
    name: String,
    display_name: Option<String>,
    description: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    /// `NotStarted`, `Queued`, `Preparing`, `Running`, `Finalizing`, `CancelRequested`,
    /// `Completed`, `Failed` or `Canceled`.
    status: String,
    experiment_name: String,
    experiment_id: String,
    compute: String,
    priority: i64,
    cpus: f64,
    memory_mb: u64,
    gpus: u32,
    tags: BTreeMap<String, String>,
    /// The job's resolved plan: command, inputs, outputs, environment.
    plan: serde_json::Value,
    /// The YAML as submitted.
    yaml: String,
    snapshot: Option<String>,
    created_by: String,
    created_at: i64,
    start_time: Option<i64>,
    end_time: Option<i64>,
    exit_code: Option<i64>,
    error: Option<String>,
    warnings: Vec<String>,
    /// On a cluster: what the cluster last said of the job (`PENDING (Resources)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_state: Option<String>,
    archived: bool,
    /// Every status the job reached, with its time.
    events: Vec<JobEventDto>,
    /// The sweep a trial belongs to (`--parent-job-name` lists a sweep's trials).
    parent_job_name: Option<String>,
    /// A trial's index in its sweep, from 0.
    trial_index: Option<i64>,
    /// A sweep's objective, trials and best trial (on `show`).
    #[serde(skip_serializing_if = "Option::is_none")]
    sweep: Option<SweepDto>,
    /// A pipeline step's name in its pipeline.
    step_name: Option<String>,
    /// A pipeline step that did not run: the job whose outputs it reused.
    reused_from: Option<String>,
    /// A pipeline's steps and the edges between them (on `show`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pipeline: Option<PipelineDto>,
}

impl From<Job> for JobDto {
    fn from(job: Job) -> Self {
        let start_time = job.time_of(JobStatus::Running);
        let end_time = job.events.iter().find(|event| event.status.is_terminal()).map(|event| event.time);
        JobDto {
            plan: serde_json::from_str(&job.plan).unwrap_or(serde_json::Value::Null),
            name: job.name,
            display_name: job.display_name,
            description: job.description,
            kind: job.kind.as_str().to_owned(),
            status: job.status.as_str().to_owned(),
            experiment_name: job.experiment_name,
            experiment_id: job.experiment_id.to_string(),
            compute: job.compute,
            priority: job.priority,
            cpus: job.resources.cpus,
            memory_mb: job.resources.memory_mb,
            gpus: job.resources.gpus,
            tags: job.tags,
            yaml: job.spec_yaml,
            snapshot: job.snapshot,
            created_by: job.created_by,
            created_at: job.created_at,
            start_time,
            end_time,
            exit_code: job.exit_code,
            error: job.error,
            warnings: job.warnings,
            cluster_state: job.cluster_state,
            archived: job.archived,
            parent_job_name: job.parent,
            trial_index: job.trial,
            sweep: None,
            step_name: job.step,
            reused_from: job.reused_from,
            pipeline: None,
            events: job
                .events
                .into_iter()
                .map(|event| JobEventDto {
                    status: event.status.as_str().to_owned(),
                    time: event.time,
                    message: event.message,
                })
                .collect(),
        }
    }
}

/// An inline environment, as the client read it from its conda file.
#[derive(Deserialize, ToSchema)]
pub struct InlineEnvironmentDto {
    python: Option<String>,
    #[serde(default)]
    requirements: Vec<String>,
    image: Option<String>,
    #[serde(default)]
    channels: Vec<String>,
}

impl InlineEnvironmentDto {
    pub(crate) fn into_spec(self) -> EnvironmentSpec {
        EnvironmentSpec {
            python: self.python,
            requirements: self.requirements,
            image: self.image,
            channels: self.channels,
        }
    }
}

/// A job to submit.
#[derive(Deserialize, ToSchema)]
pub struct NewJobDto {
    /// The job file (Azure ML's command job YAML).
    yaml: String,
    /// The job file's folder name: the experiment when the file names none.
    #[serde(default)]
    folder_name: Option<String>,
    /// Overrides the file's `name`.
    #[serde(default)]
    name: Option<String>,
    /// The uploaded code snapshot (see `code-uploads`).
    #[serde(default)]
    snapshot: Option<String>,
    /// Uploaded local inputs: `inputs.<name>` → the `azureml://datastores/…` URI.
    #[serde(default)]
    uploads: BTreeMap<String, String>,
    #[serde(default)]
    inline_environment: Option<InlineEnvironmentDto>,
    /// A pipeline's steps: what the client read and uploaded for each.
    #[serde(default)]
    steps: BTreeMap<String, StepUploadDto>,
}

/// What the client sends for a pipeline step: its component file's text (when `component`
/// names a file), the code snapshot it uploaded for it, an inline environment's spec.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepUploadDto {
    #[serde(default)]
    component_yaml: Option<String>,
    #[serde(default)]
    snapshot: Option<String>,
    #[serde(default)]
    inline_environment: Option<InlineEnvironmentDto>,
}

#[derive(Deserialize, IntoParams)]
pub struct JobListQuery {
    status: Option<String>,
    experiment_name: Option<String>,
    compute: Option<String>,
    /// Only the trials of this sweep.
    parent_job_name: Option<String>,
    #[serde(default)]
    include_archived: bool,
    #[serde(default)]
    archived_only: bool,
    max_results: Option<i64>,
}

/// Lists a workspace's jobs, newest first.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/jobs", params(("ws" = String, Path), JobListQuery),
    responses((status = 200, body = [JobDto])))]
async fn list_jobs(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    Query(query): Query<JobListQuery>,
) -> ApiResult<Json<Vec<JobDto>>> {
    let ws = workspace(&ws)?;
    let filter = JobFilter {
        status: query.status,
        experiment_name: query.experiment_name,
        compute: query.compute,
        parent: query.parent_job_name,
        include_archived: query.include_archived,
        archived_only: query.archived_only,
        max_results: query.max_results,
    };
    let jobs = state.service.list_jobs(&principal, &ws, &filter).await?;
    Ok(Json(jobs.into_iter().map(JobDto::from).collect()))
}

impl NewJobDto {
    pub(crate) fn into_submission(self) -> JobSubmission {
        JobSubmission {
            yaml: self.yaml,
            folder_name: self.folder_name.unwrap_or_else(|| "Default".to_owned()),
            name: self.name,
            snapshot: self.snapshot,
            uploads: self.uploads,
            inline_environment: self.inline_environment.map(InlineEnvironmentDto::into_spec),
            steps: self
                .steps
                .into_iter()
                .map(|(name, step)| {
                    let upload = atelier_service::StepUpload {
                        component_yaml: step.component_yaml,
                        snapshot: step.snapshot,
                        inline_environment: step.inline_environment.map(InlineEnvironmentDto::into_spec),
                    };
                    (name, upload)
                })
                .collect(),
            schedule: None,
        }
    }
}

/// Checks a job as its submission will be checked, before its code and local inputs are
/// uploaded (their paths stand for what will be uploaded): 204 when it would be accepted, else
/// the 400 or 404 its submission would get, naming the field and its line.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/job-checks", params(("ws" = String, Path)), request_body = NewJobDto,
    responses((status = 204), (status = 400, body = ErrorBody)))]
async fn check_job(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    Json(body): Json<NewJobDto>,
) -> ApiResult<StatusCode> {
    state.service.check_job(&principal, &workspace(&ws)?, body.into_submission()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Submits a job: checked and resolved at once (a mistake is a 400 naming the field and its
/// line), then queued.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/jobs", params(("ws" = String, Path)), request_body = NewJobDto,
    responses((status = 200, body = JobDto)))]
async fn create_job(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    Json(body): Json<NewJobDto>,
) -> ApiResult<Json<JobDto>> {
    Ok(Json(state.service.create_job(&principal, &workspace(&ws)?, body.into_submission()).await?.into()))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/jobs/{name}", params(("ws" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = JobDto)))]
async fn get_job(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<Json<JobDto>> {
    let ws = workspace(&ws)?;
    let job = state.service.get_job(&principal, &ws, &name).await?;
    let sweep = match job.kind {
        JobKind::Sweep => Some(state.service.get_sweep(&principal, &ws, &name).await?.into()),
        JobKind::Command | JobKind::Pipeline => None,
    };
    let pipeline = match job.kind {
        JobKind::Pipeline => Some(state.service.get_pipeline(&principal, &ws, &name).await?.into()),
        JobKind::Command | JobKind::Sweep => None,
    };
    Ok(Json(JobDto { sweep, pipeline, ..job.into() }))
}

/// Cancels a job: one that has not started ends at once; a running one gets SIGTERM, then
/// SIGKILL after a grace period.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/jobs/{name}/cancel", params(("ws" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = JobDto)))]
async fn cancel_job(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<Json<JobDto>> {
    Ok(Json(state.service.cancel_job(&principal, &workspace(&ws)?, &name).await?.into()))
}

/// Hides an ended job from listings.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/jobs/{name}/archive", params(("ws" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = JobDto)))]
async fn archive_job(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<Json<JobDto>> {
    Ok(Json(state.service.set_job_archived(&principal, &workspace(&ws)?, &name, true).await?.into()))
}

#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/jobs/{name}/restore", params(("ws" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = JobDto)))]
async fn restore_job(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<Json<JobDto>> {
    Ok(Json(state.service.set_job_archived(&principal, &workspace(&ws)?, &name, false).await?.into()))
}

#[derive(Deserialize, IntoParams)]
pub struct LogQuery {
    /// The log file (default `user_logs/std_log.txt`).
    file: Option<String>,
    /// The byte offset to read from (a `next_offset` of an earlier answer).
    #[serde(default)]
    from: i64,
    /// Wait up to this many seconds for new text while the job runs (long polling).
    #[serde(default)]
    wait: u64,
}

/// A piece of a job's log, with the job's status.
#[derive(Serialize, ToSchema)]
pub struct LogDto {
    text: String,
    next_offset: i64,
    status: String,
    /// Whether the job has ended (no more text will come).
    ended: bool,
    /// The job's log files and their sizes.
    files: BTreeMap<String, i64>,
}

/// Reads a job's log from an offset; with `wait`, holds the request until there is new text or
/// the job ends.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/jobs/{name}/logs", params(("ws" = String, Path), ("name" = String, Path), LogQuery),
    responses((status = 200, body = LogDto)))]
async fn read_log(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
    Query(query): Query<LogQuery>,
) -> ApiResult<Json<LogDto>> {
    let ws = workspace(&ws)?;
    let file = query.file.unwrap_or_else(|| atelier_service::STD_LOG.to_owned());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(query.wait.min(30));
    loop {
        let (piece, job) = state.service.read_job_log(&principal, &ws, &name, &file, query.from, 1024 * 1024).await?;
        let ended = job.status.is_terminal();
        if !piece.text.is_empty() || ended || std::time::Instant::now() >= deadline {
            let files = state.service.job_log_files(&principal, &ws, &name).await?.into_iter().collect();
            return Ok(Json(LogDto {
                text: piece.text,
                next_offset: piece.next_offset,
                status: job.status.as_str().to_owned(),
                ended,
                files,
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

#[derive(Deserialize, IntoParams)]
pub struct StreamQuery {
    /// The log file (default `user_logs/std_log.txt`).
    file: Option<String>,
    /// The byte offset to start from.
    #[serde(default)]
    from: i64,
}

/// Server-sent events of a job's log: `log` events carry text (their `id` is the offset after
/// it), a `status` event comes with each change of status, and an `end` event when the job has
/// ended and every piece was sent.
pub(crate) fn log_events(
    state: AppState,
    principal: atelier_service::Principal,
    workspace: atelier_core::names::WorkspaceName,
    name: String,
    file: String,
    from: i64,
) -> impl futures::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>> {
    use axum::response::sse::Event;
    struct Follow {
        offset: i64,
        status: Option<String>,
        done: bool,
    }
    futures::stream::unfold(Follow { offset: from.max(0), status: None, done: false }, move |mut follow| {
        let (state, principal, workspace, name, file) =
            (state.clone(), principal.clone(), workspace.clone(), name.clone(), file.clone());
        async move {
            if follow.done {
                return None;
            }
            loop {
                let read =
                    state.service.read_job_log(&principal, &workspace, &name, &file, follow.offset, 256 * 1024).await;
                let (piece, job) = match read {
                    Ok(found) => found,
                    Err(error) => {
                        follow.done = true;
                        return Some((Ok(Event::default().event("error").data(error.message)), follow));
                    }
                };
                if !piece.text.is_empty() {
                    follow.offset = piece.next_offset;
                    let event = Event::default().event("log").id(piece.next_offset.to_string()).data(piece.text);
                    return Some((Ok(event), follow));
                }
                let status = job.status.as_str().to_owned();
                if follow.status.as_deref() != Some(status.as_str()) {
                    follow.status = Some(status.clone());
                    return Some((Ok(Event::default().event("status").data(status)), follow));
                }
                if job.status.is_terminal() {
                    follow.done = true;
                    return Some((Ok(Event::default().event("end").data(status)), follow));
                }
                tokio::time::sleep(std::time::Duration::from_millis(400)).await;
            }
        }
    })
}

/// Follows a job's log as server-sent events until the job ends (`log`, `status` and `end`
/// events).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/jobs/{name}/logs/stream",
    params(("ws" = String, Path), ("name" = String, Path), StreamQuery), responses((status = 200, content_type = "text/event-stream")))]
async fn stream_log(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
    Query(query): Query<StreamQuery>,
) -> ApiResult<Response> {
    use axum::response::IntoResponse;
    let ws = workspace(&ws)?;
    // Check access (and that the job exists) before the stream starts.
    state.service.get_job(&principal, &ws, &name).await?;
    let file = query.file.unwrap_or_else(|| atelier_service::STD_LOG.to_owned());
    let events = log_events(state, principal, ws, name, file, query.from);
    Ok(axum::response::sse::Sse::new(events).keep_alive(axum::response::sse::KeepAlive::default()).into_response())
}

/// A piece of log text from a job's runtime.
#[derive(Deserialize, ToSchema)]
pub struct LogPieceDto {
    file: String,
    offset: i64,
    text: String,
}

#[derive(Serialize, ToSchema)]
pub struct LogAcceptedDto {
    size: i64,
    cancel_requested: bool,
}

/// Appends to a job's log (its runtime, with the job's token); also its heartbeat.
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/jobs/{name}/logs", params(("ws" = String, Path), ("name" = String, Path)),
    request_body = LogPieceDto, responses((status = 200, body = LogAcceptedDto)))]
async fn append_log(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
    Json(body): Json<LogPieceDto>,
) -> ApiResult<Json<LogAcceptedDto>> {
    let ws = workspace(&ws)?;
    let (size, control) =
        state.service.append_job_log(&principal, &ws, &name, &body.file, body.offset, &body.text).await?;
    Ok(Json(LogAcceptedDto { size, cancel_requested: control.cancel_requested }))
}

#[derive(Serialize, ToSchema)]
pub struct FileDto {
    path: String,
    size: u64,
}

#[derive(Serialize, ToSchema)]
pub struct FileListDto {
    files: Vec<FileDto>,
}

fn file_list(files: Vec<(String, u64)>) -> Json<FileListDto> {
    Json(FileListDto { files: files.into_iter().map(|(path, size)| FileDto { path, size }).collect() })
}

fn body_stream(body: Body) -> futures::stream::BoxStream<'static, Result<bytes::Bytes, String>> {
    use futures::{StreamExt, TryStreamExt};
    body.into_data_stream().map_err(|error| error.to_string()).boxed()
}

/// The files of a job's code snapshot.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/jobs/{name}/snapshot", params(("ws" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = FileListDto)))]
async fn list_snapshot(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<Json<FileListDto>> {
    Ok(file_list(state.service.job_snapshot_files(&principal, &workspace(&ws)?, &name).await?))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/jobs/{name}/snapshot/{path}",
    params(("ws" = String, Path), ("name" = String, Path), ("path" = String, Path)), responses((status = 200)))]
async fn download_snapshot_file(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, path)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    Ok(stream_response(state.service.open_snapshot_file(&principal, &workspace(&ws)?, &name, &path).await?))
}

/// The files of a job's named output (paths start with the output's name).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/jobs/{name}/outputs/{output}",
    params(("ws" = String, Path), ("name" = String, Path), ("output" = String, Path)), responses((status = 200, body = FileListDto)))]
async fn list_output(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, output)): Path<(String, String, String)>,
) -> ApiResult<Json<FileListDto>> {
    Ok(file_list(state.service.job_output_files(&principal, &workspace(&ws)?, &name, &output).await?))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/jobs/{name}/outputs/{output}/files/{path}",
    params(("ws" = String, Path), ("name" = String, Path), ("output" = String, Path), ("path" = String, Path)),
    responses((status = 200)))]
async fn download_output_file(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, output, path)): Path<(String, String, String, String)>,
) -> ApiResult<Response> {
    Ok(stream_response(state.service.open_job_output_file(&principal, &workspace(&ws)?, &name, &output, &path).await?))
}

/// Uploads a file of a job's named output (its runtime, with the job's token).
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/jobs/{name}/outputs/{output}/files/{path}",
    params(("ws" = String, Path), ("name" = String, Path), ("output" = String, Path), ("path" = String, Path)),
    responses((status = 200, body = FileDto)))]
async fn upload_output_file(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, output, path)): Path<(String, String, String, String)>,
    body: Body,
) -> ApiResult<Json<FileDto>> {
    let ws = workspace(&ws)?;
    let size = state.service.upload_job_output_file(&principal, &ws, &name, &output, &path, body_stream(body)).await?;
    Ok(Json(FileDto { path, size }))
}

/// The files of a job's input (its runtime, with the job's token).
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/jobs/{name}/inputs/{input}",
    params(("ws" = String, Path), ("name" = String, Path), ("input" = String, Path)), responses((status = 200, body = FileListDto)))]
async fn list_input(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, input)): Path<(String, String, String)>,
) -> ApiResult<Json<FileListDto>> {
    Ok(file_list(state.service.job_input_files(&principal, &workspace(&ws)?, &name, &input).await?))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/jobs/{name}/inputs/{input}/files/{path}",
    params(("ws" = String, Path), ("name" = String, Path), ("input" = String, Path), ("path" = String, Path)),
    responses((status = 200)))]
async fn download_input_file(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name, input, path)): Path<(String, String, String, String)>,
) -> ApiResult<Response> {
    Ok(stream_response(state.service.open_job_input_file(&principal, &workspace(&ws)?, &name, &input, &path).await?))
}

/// The job's resolved plan, for its runtime.
#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/jobs/{name}/plan", params(("ws" = String, Path), ("name" = String, Path)),
    responses((status = 200)))]
async fn get_plan(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<Json<atelier_spec::JobPlan>> {
    Ok(Json(state.service.job_plan(&principal, &workspace(&ws)?, &name).await?))
}

/// A status the runtime reports.
#[derive(Deserialize, ToSchema)]
pub struct StatusReportDto {
    status: String,
    exit_code: Option<i64>,
    error: Option<String>,
    message: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ControlDto {
    cancel_requested: bool,
}

/// Records a status of a job (its runtime, with the job's token).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/jobs/{name}/status", params(("ws" = String, Path), ("name" = String, Path)),
    request_body = StatusReportDto, responses((status = 200, body = ControlDto)))]
async fn report_status(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
    Json(body): Json<StatusReportDto>,
) -> ApiResult<Json<ControlDto>> {
    let report = StatusReport {
        status: JobStatus::parse(&body.status)?,
        exit_code: body.exit_code,
        error: body.error,
        message: body.message,
    };
    let control = state.service.report_job_status(&principal, &workspace(&ws)?, &name, report).await?;
    Ok(Json(ControlDto { cancel_requested: control.cancel_requested }))
}

/// Uploads one file of a code snapshot before the job is submitted (the body is the file).
#[utoipa::path(put, path = "/api/v1/workspaces/{ws}/code-uploads/{snapshot}/{path}",
    params(("ws" = String, Path), ("snapshot" = String, Path), ("path" = String, Path)), responses((status = 200, body = FileDto)))]
async fn upload_code_file(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, snapshot, path)): Path<(String, String, String)>,
    body: Body,
) -> ApiResult<Json<FileDto>> {
    let ws = workspace(&ws)?;
    let size = state.service.upload_code_file(&principal, &ws, &snapshot, &path, body_stream(body)).await?;
    Ok(Json(FileDto { path, size }))
}

/// A compute: what it is, what it has, what it runs and what waits.
#[derive(Serialize, ToSchema)]
pub struct ComputeDto {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    size: Option<String>,
    max_instances: Option<i64>,
    description: String,
    /// What one job may use.
    per_job: BTreeMap<String, f64>,
    /// What the machine has, and what is in use.
    capacity: BTreeMap<String, f64>,
    in_use: BTreeMap<String, f64>,
    running: Vec<String>,
    queued: Vec<String>,
    /// For a Slurm compute: `partition`, `account`, `qos`, `max_nodes_per_job`,
    /// `default_time_limit_minutes`, `job_folder`, `atelier_path`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    slurm: Option<serde_json::Value>,
}

impl From<ComputeView> for ComputeDto {
    fn from(view: ComputeView) -> Self {
        ComputeDto {
            name: view.name,
            kind: view.kind,
            size: view.size,
            max_instances: view.max_instances,
            description: view.description,
            per_job: BTreeMap::from([
                ("cpus".to_owned(), view.per_job.cpus),
                ("memory_mb".to_owned(), view.per_job.memory_mb as f64),
                ("gpus".to_owned(), f64::from(view.per_job.gpus)),
            ]),
            capacity: BTreeMap::from([
                ("cpus".to_owned(), view.capacity.cpus),
                ("memory_mb".to_owned(), view.capacity.memory_mb as f64),
                ("gpus".to_owned(), view.capacity.gpus.len() as f64),
            ]),
            in_use: BTreeMap::from([
                ("cpus".to_owned(), view.in_use.cpus),
                ("memory_mb".to_owned(), view.in_use.memory_mb as f64),
                ("gpus".to_owned(), view.in_use.gpus.len() as f64),
                ("jobs".to_owned(), view.in_use.jobs as f64),
            ]),
            running: view.running,
            queued: view.queued,
            slurm: view.cluster.and_then(|settings| serde_json::to_value(settings).ok()),
        }
    }
}

/// A compute to define, from Azure's compute YAML.
#[derive(Deserialize, ToSchema)]
pub struct NewComputeDto {
    /// Required unless `yaml` is given.
    #[serde(default)]
    name: String,
    /// Required unless `yaml` is given.
    #[serde(rename = "type", default)]
    kind: String,
    /// The compute's YAML file. When given, the server reads it as `atelier compute create`
    /// does (a mistake is a 400 naming the field and its line) and defines what it says; the
    /// other fields are then ignored.
    #[serde(default)]
    yaml: Option<String>,
    size: Option<String>,
    min_instances: Option<i64>,
    max_instances: Option<i64>,
    description: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/computes", params(("ws" = String, Path)),
    responses((status = 200, body = [ComputeDto])))]
async fn list_computes(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
) -> ApiResult<Json<Vec<ComputeDto>>> {
    let computes = state.service.list_computes(&principal, &workspace(&ws)?).await?;
    Ok(Json(computes.into_iter().map(ComputeDto::from).collect()))
}

/// Defines a compute (Owners, Contributors and AzureML Compute Operators).
#[utoipa::path(post, path = "/api/v1/workspaces/{ws}/computes", params(("ws" = String, Path)), request_body = NewComputeDto,
    responses((status = 200, body = ComputeDto)))]
async fn create_compute(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(ws): Path<String>,
    Json(body): Json<NewComputeDto>,
) -> ApiResult<Json<ComputeDto>> {
    let ws = workspace(&ws)?;
    if let Some(yaml) = &body.yaml {
        return Ok(Json(state.service.create_compute_from_yaml(&principal, &ws, yaml).await?.into()));
    }
    let new_compute = NewCompute {
        name: body.name,
        kind: body.kind,
        size: body.size,
        min_instances: body.min_instances,
        max_instances: body.max_instances,
        description: body.description,
        tags: body.tags,
        slurm: None,
    };
    Ok(Json(state.service.create_compute(&principal, &ws, new_compute).await?.into()))
}

#[utoipa::path(get, path = "/api/v1/workspaces/{ws}/computes/{name}", params(("ws" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = ComputeDto)))]
async fn get_compute(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<Json<ComputeDto>> {
    Ok(Json(state.service.get_compute(&principal, &workspace(&ws)?, &name).await?.into()))
}

#[utoipa::path(delete, path = "/api/v1/workspaces/{ws}/computes/{name}", params(("ws" = String, Path), ("name" = String, Path)),
    responses((status = 200)))]
async fn delete_compute(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path((ws, name)): Path<(String, String)>,
) -> ApiResult<Json<serde_json::Value>> {
    state.service.delete_compute(&principal, &workspace(&ws)?, &name).await?;
    Ok(Json(serde_json::json!({})))
}

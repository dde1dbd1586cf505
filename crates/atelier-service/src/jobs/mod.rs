//! Jobs: submission (checked and resolved before anything runs), their lifecycle, logs, code
//! snapshots, inputs and outputs, and what a job's runtime reports.
//!
//! A submission carries the YAML as written. The server parses it again (the CLI checked it
//! already, to fail fast), resolves every reference (data assets, models, datastores, other
//! jobs' outputs, runs, the environment, the compute), and stores the job together with its run
//! and a *plan*: the resolved spec the runtime executes. Local files a job names (its `code`,
//! local input paths, an inline environment's conda file) are uploaded by the client before the
//! submission and named in it; the server never reads the client's disk.

use crate::paths::AREA_DATA;
use crate::uploads::Location;
use crate::{Principal, Service, Target, now_millis};
use atelier_blob::Download;
use atelier_core::authz::Action;
use atelier_core::data::DEFAULT_DATASTORE;
use atelier_core::environment::EnvironmentSpec;
use atelier_core::job::{Job, JobStatus};
use atelier_core::limits::normalize_artifact_path;
use atelier_core::model::Tag;
use atelier_core::names::WorkspaceName;
use atelier_core::{Error, Result};
use atelier_spec::{CommandJob, JobPlan, PlannedInput};
use atelier_store::{JobQuery, JobTransition, LogPiece};
use std::collections::BTreeMap;

mod pipeline;
mod pipeline_run;
mod saved;
mod submit;
mod sweep;

pub use pipeline_run::PipelineView;
pub(crate) use submit::inline_environment;
pub use sweep::{BEST_TRIAL_TAG, SweepView, TrialView};

/// Output files as listed under the name `from` (their first path segment), named `to`.
fn renamed(files: Vec<(String, u64)>, from: &str, to: &str) -> Vec<(String, u64)> {
    if from == to {
        return files;
    }
    files
        .into_iter()
        .map(|(path, size)| match path.strip_prefix(from) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => (format!("{to}{rest}"), size),
            _ => (path, size),
        })
        .collect()
}

/// The reference a job made by a schedule's fire holds, by which the schedule lists its jobs.
pub(crate) fn schedule_reference(schedule: &str) -> String {
    format!("schedule:{schedule}")
}

/// The area of the upload index that holds code snapshots (`<snapshot>/<path>`).
pub(crate) const AREA_CODE: &str = "code";

/// The most a code snapshot may hold by default, as on Azure ML (`Service::with_snapshot_limit`
/// changes it).
pub const SNAPSHOT_LIMIT_BYTES: u64 = 300 * 1024 * 1024;

/// The log file a job's command writes, as Azure ML names it.
pub const STD_LOG: &str = "user_logs/std_log.txt";

/// A job to submit.
#[derive(Debug, Clone, Default)]
pub struct JobSubmission {
    /// The job file as written (after `--set`).
    pub yaml: String,
    /// The name of the job file's folder: the experiment when the file names none.
    pub folder_name: String,
    /// Overrides the file's `name`.
    pub name: Option<String>,
    /// The uploaded code snapshot, when the job has `code`.
    pub snapshot: Option<String>,
    /// Local input paths the client uploaded: `inputs.<name>` → the `azureml://datastores/…` URI
    /// they went to.
    pub uploads: BTreeMap<String, String>,
    /// An inline environment's spec, read by the client from its conda file.
    pub inline_environment: Option<EnvironmentSpec>,
    /// A pipeline's steps: what the client read and uploaded for each (a component file, the
    /// code of a component file or an inline command, an inline environment's spec).
    pub steps: BTreeMap<String, StepUpload>,
    /// The schedule whose fire submits it: the job is listed among the schedule's jobs.
    pub schedule: Option<String>,
}

/// What the client sends for one step of a pipeline.
#[derive(Debug, Clone, Default)]
pub struct StepUpload {
    /// The component file's text, for a step whose `component` is a file.
    pub component_yaml: Option<String>,
    /// The uploaded code snapshot of the step's component or inline command.
    pub snapshot: Option<String>,
    /// An inline environment's spec, read from its conda file.
    pub inline_environment: Option<EnvironmentSpec>,
}

/// A listing's filters.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub status: Option<String>,
    pub experiment_name: Option<String>,
    pub compute: Option<String>,
    /// Only the trials of this sweep (`--parent-job-name`).
    pub parent: Option<String>,
    pub include_archived: bool,
    pub archived_only: bool,
    pub max_results: Option<i64>,
}

/// What the server tells a runtime with every answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobControl {
    pub cancel_requested: bool,
}

/// What a runtime reports.
#[derive(Debug, Clone)]
pub struct StatusReport {
    pub status: JobStatus,
    pub exit_code: Option<i64>,
    pub error: Option<String>,
    pub message: Option<String>,
}

pub(crate) fn spec_error(error: atelier_spec::SpecError) -> Error {
    Error::invalid(error.to_string())
}

/// A mistake about a field of the job file, with its line.
pub(crate) fn field_error(job: &CommandJob, field: &str, message: impl std::fmt::Display) -> Error {
    let line = job.line_of(field);
    if line > 0 {
        Error::invalid(format!("line {line}: {field}: {message}"))
    } else {
        Error::invalid(format!("{field}: {message}"))
    }
}

pub(crate) use atelier_spec::is_local_path;

/// The default datastore URI of a job's named output.
pub(crate) fn output_uri(job: &str, output: &str) -> String {
    format!("azureml://datastores/{DEFAULT_DATASTORE}/paths/azureml/{job}/{output}")
}

/// The tags of a job's run: the file's tags, then MLflow's run name, user and source type, and
/// the job's name.
pub(crate) fn job_run_tags(tags: &BTreeMap<String, String>, run_name: &str, user: &str, job: &str) -> Vec<Tag> {
    let mut run_tags: Vec<Tag> = tags.iter().map(|(key, value)| Tag::new(key, value)).collect();
    run_tags.push(Tag::new("mlflow.runName", run_name));
    run_tags.push(Tag::new("mlflow.user", user));
    run_tags.push(Tag::new("mlflow.source.type", "JOB"));
    run_tags.push(Tag::new("atelier.job", job));
    run_tags
}

/// The timeline of a job queued at `now`.
pub(crate) fn queued_events(now: i64) -> Vec<atelier_core::job::JobEvent> {
    [JobStatus::NotStarted, JobStatus::Queued]
        .into_iter()
        .map(|status| atelier_core::job::JobEvent { status, time: now, message: None })
        .collect()
}

pub(crate) fn check_snapshot_id(snapshot: &str) -> Result<()> {
    if snapshot.len() != 32 || !snapshot.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::invalid(format!("snapshot id '{snapshot}' must be 32 hexadecimal characters")));
    }
    Ok(())
}

impl Service {
    /// The submitter of a job, as the principal that acts for it where the job's own token may
    /// not (fetching its inputs, registering its outputs).
    async fn submitter(&self, job: &Job) -> Result<Principal> {
        let name = atelier_core::names::UserName::parse(&job.created_by)?;
        let user = self.store.get_user(&name).await?;
        Ok(Principal::signed_in(user.user.name, user.user.is_admin))
    }

    /// A job of `workspace`, authorizing `action` on it.
    async fn job_in_workspace(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        action: Action,
    ) -> Result<Job> {
        self.job_for(principal, workspace, name, action, Target::Job(name)).await
    }

    /// A job of `workspace` for what only its runtime does.
    async fn job_for_runtime(&self, principal: &Principal, workspace: &WorkspaceName, name: &str) -> Result<Job> {
        self.job_for(principal, workspace, name, Action::JobsWrite, Target::Runtime(name)).await
    }

    async fn job_for(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        action: Action,
        target: Target<'_>,
    ) -> Result<Job> {
        self.authorize_on(principal, workspace, action, target).await?;
        let job = self.store.get_job(name).await?;
        if job.workspace != *workspace {
            return Err(Error::not_found(format!("job '{name}' not found")));
        }
        Ok(job)
    }

    /// The resolved plan stored with a job.
    pub fn plan_of(&self, job: &Job) -> Result<JobPlan> {
        if job.kind == atelier_core::job::JobKind::Pipeline {
            return self.pipeline_plan_of(job).map(|plan| pipeline::as_job_plan(&plan));
        }
        serde_json::from_str(&job.plan)
            .map_err(|error| Error::internal(format!("the plan of job '{}' is unreadable: {error}", job.name)))
    }

    pub async fn get_job(&self, principal: &Principal, workspace: &WorkspaceName, name: &str) -> Result<Job> {
        self.job_in_workspace(principal, workspace, name, Action::JobsRead).await
    }

    /// The plan of a job, for its runtime.
    pub async fn job_plan(&self, principal: &Principal, workspace: &WorkspaceName, name: &str) -> Result<JobPlan> {
        let job = self.job_in_workspace(principal, workspace, name, Action::JobsRead).await?;
        self.plan_of(&job)
    }

    pub async fn list_jobs(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        filter: &JobFilter,
    ) -> Result<Vec<Job>> {
        self.authorize(principal, workspace, Action::JobsRead).await?;
        let status = filter.status.as_deref().map(JobStatus::parse).transpose()?;
        let limit = filter.max_results.unwrap_or(1000);
        if !(1..=10_000).contains(&limit) {
            return Err(Error::invalid(format!("max_results must be between 1 and 10000, got {limit}")));
        }
        let archived = match (filter.archived_only, filter.include_archived) {
            (true, _) => Some(true),
            (false, true) => None,
            (false, false) => Some(false),
        };
        let compute = filter.compute.as_deref().map(|compute| compute.trim_start_matches("azureml:"));
        let query = JobQuery {
            workspace,
            status,
            experiment_name: filter.experiment_name.as_deref(),
            compute,
            parent: filter.parent.as_deref(),
            archived,
            limit,
        };
        self.store.list_jobs(&query).await
    }

    /// Asks a job to stop. A job that has not started ends at once; a running one is told
    /// through its runtime, which stops the command's whole process tree.
    pub async fn cancel_job(&self, principal: &Principal, workspace: &WorkspaceName, name: &str) -> Result<Job> {
        let job = self.job_in_workspace(principal, workspace, name, Action::JobsCancel).await?;
        if job.status.is_terminal() {
            return Err(Error::invalid(format!("job '{name}' has already ended ({})", job.status.as_str())));
        }
        let by = format!("canceled by {}", principal.user);
        let next = if job.runtime_pid.is_none() && !job.status.holds_resources() {
            JobStatus::Canceled
        } else {
            JobStatus::CancelRequested
        };
        self.transition(name, next, Some(&by), None, None).await?;
        self.store.get_job(name).await
    }

    pub async fn set_job_archived(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        archived: bool,
    ) -> Result<Job> {
        let job = self.job_in_workspace(principal, workspace, name, Action::JobsWrite).await?;
        if archived && !job.status.is_terminal() {
            return Err(Error::invalid(format!(
                "job '{name}' is {}: only jobs that have ended can be archived",
                job.status.as_str()
            )));
        }
        self.store.set_job_archived(name, archived).await?;
        self.store.get_job(name).await
    }

    /// Moves a job on, ending its token and waking the scheduler when it ends.
    pub(crate) async fn transition(
        &self,
        name: &str,
        status: JobStatus,
        message: Option<&str>,
        exit_code: Option<i64>,
        error: Option<&str>,
    ) -> Result<Option<Job>> {
        let transition = JobTransition { status, at: now_millis(), message, exit_code, error };
        let moved = self.store.transition_job(name, &transition).await?;
        if let Some(job) = &moved
            && status.is_terminal()
        {
            // The job's token ends with it; forget any cached answer about it.
            self.auth_cache.tokens.clear();
            self.wake_scheduler();
            if job.trial.is_some() {
                self.note_trial_end(job).await;
            }
        }
        Ok(moved)
    }

    /// A piece of a job's log from `from` on (at most about `max_bytes`).
    pub async fn read_job_log(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        file: &str,
        from: i64,
        max_bytes: i64,
    ) -> Result<(LogPiece, Job)> {
        let job = self.job_in_workspace(principal, workspace, name, Action::JobsRead).await?;
        let file = normalize_artifact_path(file)?;
        let piece = self.store.read_job_log(name, &file, from.max(0), max_bytes.clamp(1, 4 * 1024 * 1024)).await?;
        Ok((piece, job))
    }

    /// The log files of a job and their sizes.
    pub async fn job_log_files(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
    ) -> Result<Vec<(String, i64)>> {
        self.job_in_workspace(principal, workspace, name, Action::JobsRead).await?;
        self.store.job_log_files(name).await
    }

    /// The files of a job's code snapshot, with sizes.
    pub async fn job_snapshot_files(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
    ) -> Result<Vec<(String, u64)>> {
        let job = self.job_in_workspace(principal, workspace, name, Action::JobsRead).await?;
        match &job.snapshot {
            Some(snapshot) => self.snapshot_files(workspace, snapshot).await,
            None => Ok(Vec::new()),
        }
    }

    /// The files of a code snapshot, with paths inside it and sizes.
    pub(crate) async fn snapshot_files(&self, workspace: &WorkspaceName, snapshot: &str) -> Result<Vec<(String, u64)>> {
        let strip = snapshot.len() + 1;
        Ok(self
            .store
            .upload_files_under(workspace, AREA_CODE, snapshot)
            .await?
            .into_iter()
            .map(|file| (file.path[strip..].to_owned(), file.size as u64))
            .collect())
    }

    /// One file of a code snapshot; `missing` is the error when there is no such file.
    pub(crate) async fn open_snapshot_path(
        &self,
        workspace: &WorkspaceName,
        snapshot: Option<&str>,
        path: &str,
        missing: impl Fn(&str) -> Error,
    ) -> Result<Download> {
        let relative = normalize_artifact_path(path)?;
        let Some(snapshot) = snapshot else { return Err(missing(&relative)) };
        let full = format!("{snapshot}/{relative}");
        let file = self
            .store
            .upload_files_under(workspace, AREA_CODE, &full)
            .await?
            .into_iter()
            .find(|file| file.path == full)
            .ok_or_else(|| missing(&relative))?;
        self.open_upload(workspace, &file).await
    }

    /// One file of a job's code snapshot.
    pub async fn open_snapshot_file(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        path: &str,
    ) -> Result<Download> {
        let job = self.job_in_workspace(principal, workspace, name, Action::JobsRead).await?;
        self.open_snapshot_path(workspace, job.snapshot.as_deref(), path, |relative| {
            Error::not_found(format!("the code snapshot of job '{name}' has no file '{relative}'"))
        })
        .await
    }

    /// The job whose outputs a job's outputs are: the job itself, a sweep's best trial, or the
    /// job a reused pipeline step was reused from.
    pub(crate) async fn outputs_job(&self, job: Job) -> Result<Job> {
        if let Some(original) = &job.reused_from {
            return self.store.get_job(original).await;
        }
        if job.kind != atelier_core::job::JobKind::Sweep {
            return Ok(job);
        }
        let view = self.sweep_view(&job).await?;
        match view.best_trial() {
            Some(best) => Ok(best.job.clone()),
            None => Err(Error::not_found(format!(
                "sweep '{}' has no best trial yet: no trial has logged its primary metric '{}'",
                job.name, view.settings.primary_metric
            ))),
        }
    }

    /// The job that holds a job's named output, and the output's name there: a pipeline's
    /// output is the output of the step bound to it (or of the job that step reused); other
    /// jobs' are [`Service::outputs_job`]'s.
    pub(crate) async fn output_owner(&self, job: Job, output: &str) -> Result<(Job, String)> {
        if job.kind != atelier_core::job::JobKind::Pipeline {
            return Ok((self.outputs_job(job).await?, output.to_owned()));
        }
        let plan = self.pipeline_plan_of(&job)?;
        let steps = self.pipeline_steps(&job).await?;
        for (step_name, step) in &plan.steps {
            for (step_output, planned) in &step.outputs {
                if planned.pipeline_output.as_deref() != Some(output) {
                    continue;
                }
                let Some(step_job) = steps.get(step_name) else {
                    return Err(Error::not_found(format!(
                        "output '{output}' of pipeline '{}' is step '{step_name}''s, which has not run",
                        job.name
                    )));
                };
                return Ok((self.outputs_job(step_job.clone()).await?, step_output.clone()));
            }
        }
        Err(Error::not_found(format!("pipeline '{}' has no output '{output}'", job.name)))
    }

    /// Where a job's named output is.
    fn output_location(&self, job: &Job, output: &str) -> Location {
        Location::Uploads { area: AREA_DATA, prefix: format!("azureml/{}/{output}", job.name) }
    }

    /// The files of a job's named output, with paths that start with the output's name.
    pub async fn job_output_files(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        output: &str,
    ) -> Result<Vec<(String, u64)>> {
        let job = self.job_in_workspace(principal, workspace, name, Action::JobsRead).await?;
        if !self.plan_of(&job)?.outputs.contains_key(output) {
            return Err(Error::not_found(format!("job '{name}' has no output '{output}'")));
        }
        let (job, owned) = self.output_owner(job, output).await?;
        let files = self.list_at(workspace, &self.output_location(&job, &owned)).await?;
        Ok(renamed(files, &owned, output))
    }

    /// One file of a job's named output, by a path from [`Service::job_output_files`].
    pub async fn open_job_output_file(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        output: &str,
        path: &str,
    ) -> Result<Download> {
        let job = self.job_in_workspace(principal, workspace, name, Action::JobsRead).await?;
        let (job, owned) = self.output_owner(job, output).await?;
        let what = format!("output '{output}' of job '{}'", job.name);
        // Paths start with the output's name as the caller knows it.
        let path = match path.strip_prefix(output) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("{owned}{rest}"),
            _ => path.to_owned(),
        };
        self.open_at(workspace, &self.output_location(&job, &owned), &path, &what).await
    }

    // What the runtime does, with the job's token.

    /// Where an input of a job is, read as the job's submitter.
    async fn input_location(&self, job: &Job, input: &str) -> Result<(Location, Principal)> {
        let plan = self.plan_of(job)?;
        let Some(PlannedInput::Data { uri: Some(uri), .. }) = plan.inputs.get(input) else {
            return Err(Error::not_found(format!("job '{}' has no data input '{input}' with a value", job.name)));
        };
        let submitter = self.submitter(job).await?;
        let workspace = &job.workspace;
        if let Some(rest) = uri.strip_prefix("runs:/") {
            let (run_id, relative) = rest.split_once('/').unwrap_or((rest, ""));
            let (_, path) =
                self.run_artifact_path(&submitter, workspace, run_id, relative, Action::ExperimentsRead).await?;
            let key = crate::paths::blob_key(workspace, &path);
            return Ok((Location::Blob(self.blobs().clone(), key), submitter));
        }
        if uri.starts_with("azureml:") && !uri.starts_with("azureml://") {
            // The plan holds a model input resolved to `azureml:<name>:<version>`.
            let reference = atelier_core::asset::AssetRef::parse_azureml(atelier_core::asset::AssetKind::Model, uri)?;
            let version: atelier_core::registry::ModelVersion =
                self.resolve_label(&submitter, workspace, &reference).await?;
            let location = self.model_version_location(&submitter, workspace, &version).await?;
            return Ok((location, submitter));
        }
        self.authorize_on(&submitter, workspace, Action::DataRead, Target::Assets).await?;
        Ok((self.data_location(workspace, uri).await?, submitter))
    }

    /// The files of a job's input (paths start with the name of the input's folder or file),
    /// for its runtime.
    pub async fn job_input_files(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        input: &str,
    ) -> Result<Vec<(String, u64)>> {
        let job = self.job_in_workspace(principal, workspace, name, Action::JobsRead).await?;
        let (location, _) = self.input_location(&job, input).await?;
        self.list_at(workspace, &location).await
    }

    /// One file of a job's input, for its runtime.
    pub async fn open_job_input_file(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        input: &str,
        path: &str,
    ) -> Result<Download> {
        let job = self.job_in_workspace(principal, workspace, name, Action::JobsRead).await?;
        let (location, _) = self.input_location(&job, input).await?;
        let what = format!("input '{input}' of job '{name}'");
        self.open_at(workspace, &location, path, &what).await
    }

    /// Stores a file of a job's named output, from its runtime.
    pub async fn upload_job_output_file(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        output: &str,
        path: &str,
        body: futures::stream::BoxStream<'_, std::result::Result<bytes::Bytes, String>>,
    ) -> Result<u64> {
        let job = self.job_for_runtime(principal, workspace, name).await?;
        if job.status.is_terminal() {
            return Err(Error::invalid(format!("job '{name}' has ended; its outputs cannot change")));
        }
        if !self.plan_of(&job)?.outputs.contains_key(output) {
            return Err(Error::not_found(format!("job '{name}' has no output '{output}'")));
        }
        let relative = normalize_artifact_path(path)?;
        if relative.is_empty() {
            return Err(Error::invalid("an output upload needs a file path"));
        }
        self.store_upload(workspace, AREA_DATA, &format!("azureml/{name}/{output}/{relative}"), body).await
    }

    /// Appends a piece of a job's log, from its runtime; also a heartbeat.
    pub async fn append_job_log(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        file: &str,
        offset: i64,
        text: &str,
    ) -> Result<(i64, JobControl)> {
        let job = self.job_for_runtime(principal, workspace, name).await?;
        let file = normalize_artifact_path(file)?;
        if file.is_empty() {
            return Err(Error::invalid("a log piece needs a file name"));
        }
        let size = self.store.append_job_log(name, &file, offset, text).await?;
        self.store.touch_job(name, now_millis()).await?;
        Ok((size, JobControl { cancel_requested: job.status == JobStatus::CancelRequested }))
    }

    /// Records a status the runtime reports. A report that comes late or twice changes
    /// nothing. When the runtime reports `Completed`, the outputs named for registration are
    /// registered first (as the submitter); if that fails, the job fails.
    pub async fn report_job_status(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        report: StatusReport,
    ) -> Result<JobControl> {
        let job = self.job_for_runtime(principal, workspace, name).await?;
        self.store.touch_job(name, now_millis()).await?;
        let mut report = report;
        if report.status == JobStatus::Completed
            && job.status.may_become(JobStatus::Completed)
            && let Err(error) = self.register_outputs(&job).await
        {
            report = StatusReport {
                status: JobStatus::Failed,
                exit_code: report.exit_code,
                error: Some(format!("registering the job's outputs failed: {}", error.message)),
                message: None,
            };
        }
        let moved = self
            .transition(name, report.status, report.message.as_deref(), report.exit_code, report.error.as_deref())
            .await?;
        let status = moved.map(|job| job.status).unwrap_or(job.status);
        Ok(JobControl { cancel_requested: status == JobStatus::CancelRequested })
    }

    /// Registers the outputs that name an asset: data outputs as data assets, model outputs as
    /// model versions whose run is the job's.
    async fn register_outputs(&self, job: &Job) -> Result<()> {
        self.register_outputs_of(job, &self.plan_of(job)?).await
    }

    /// Registers the outputs `plan` names an asset for, from `job`'s outputs (a sweep's plan,
    /// with its best trial's outputs).
    async fn register_outputs_of(&self, job: &Job, plan: &JobPlan) -> Result<()> {
        let submitter = self.submitter(job).await?;
        let workspace = &job.workspace;
        for (output, planned) in &plan.outputs {
            let Some(asset) = &planned.register_name else { continue };
            let files = self.list_at(workspace, &self.output_location(job, output)).await?;
            let mut uri = output_uri(&job.name, output);
            if planned.data_type == "uri_file" {
                match files.as_slice() {
                    [(path, _)] => {
                        let inner = path.split_once('/').map(|(_, rest)| rest).unwrap_or(path);
                        uri = format!("{uri}/{inner}");
                    }
                    _ => {
                        return Err(Error::invalid(format!(
                            "output '{output}' is a uri_file and the job wrote {} files there",
                            files.len()
                        )));
                    }
                }
            } else if files.is_empty() {
                return Err(Error::invalid(format!("output '{output}' is empty: the job wrote nothing there")));
            } else if planned.data_type == "uri_folder" {
                uri.push('/');
            }
            let description = Some(format!("output '{output}' of job {}", job.name));
            if matches!(planned.data_type.as_str(), "mlflow_model" | "custom_model") {
                let version = match &planned.register_version {
                    Some(text) => Some(text.parse::<i64>().map_err(|_| {
                        Error::invalid(format!(
                            "output '{output}': a model version must be a whole number, got '{text}'"
                        ))
                    })?),
                    None => None,
                };
                let new_version = crate::NewModelVersion {
                    name: asset.clone(),
                    source: uri,
                    run_id: Some(job.name.clone()),
                    version,
                    model_type: Some(planned.data_type.clone()),
                    ..Default::default()
                };
                self.create_model_asset(&submitter, workspace, description.as_deref(), new_version).await?;
            } else {
                let new_asset = crate::NewDataAsset {
                    name: asset.clone(),
                    version: planned.register_version.clone(),
                    data_type: Some(planned.data_type.clone()),
                    path: uri,
                    description,
                    ..Default::default()
                };
                self.create_data_asset(&submitter, workspace, new_asset).await?;
            }
        }
        Ok(())
    }
}

impl Service {
    /// Drives every sweep and pipeline that has not ended, from the store alone: what a pass
    /// of the scheduler does first, so that a trial or step queued now starts in the same pass.
    pub(crate) async fn drive_parents(&self) -> Result<()> {
        let statuses = [JobStatus::Queued, JobStatus::Running, JobStatus::CancelRequested];
        for parent in self.store.jobs_in_status(&statuses).await? {
            let driven = match parent.kind {
                atelier_core::job::JobKind::Sweep => self.drive_sweep(&parent).await,
                atelier_core::job::JobKind::Pipeline => self.drive_pipeline(&parent).await,
                atelier_core::job::JobKind::Command => continue,
            };
            if let Err(error) = driven {
                tracing::warn!(job = %parent.name, kind = parent.kind.as_str(), error = %error, "driving a job's children failed");
            }
        }
        Ok(())
    }
}

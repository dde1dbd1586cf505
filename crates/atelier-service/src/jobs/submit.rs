//! Submitting a job: the file parsed again, then each reference resolved in its own step (the
//! compute and resources, the code snapshot, inputs, outputs, the environment, the experiment)
//! before the job, its run and its plan are stored together.

use super::{AREA_CODE, JobSubmission, check_snapshot_id, field_error, is_local_path, output_uri, spec_error};
use crate::{Principal, Service, now_millis};
use atelier_core::asset::{AssetKind, AssetRef};
use atelier_core::authz::Action;
use atelier_core::data::DataAsset;
use atelier_core::data::{DEFAULT_DATASTORE, parse_datastore_uri};
use atelier_core::environment::EnvironmentSpec;
use atelier_core::job::{Job, JobKind, JobStatus, ResourceRequest, job_name_from_random, validate_job_name, vm_size};
use atelier_core::limits::normalize_artifact_path;
use atelier_core::model::{LifecycleStage, RunId, RunInfo, RunStatus};
use atelier_core::names::WorkspaceName;
use atelier_core::registry::ModelVersion;
use atelier_core::{Error, ErrorCode, Result};
use atelier_spec::{
    BUILTIN_ENVIRONMENT, CommandJob, JobInput, JobPlan, JobSpec, PlannedEnvironment, PlannedInput, PlannedOutput,
    parse_job,
};
use std::collections::BTreeMap;

impl Service {
    /// Stores one file of a code snapshot (`snapshot`: 32 hexadecimal characters the client
    /// chose); a snapshot a job already uses cannot change.
    pub async fn upload_code_file(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        snapshot: &str,
        path: &str,
        body: futures::stream::BoxStream<'_, std::result::Result<bytes::Bytes, String>>,
    ) -> Result<u64> {
        self.authorize(principal, workspace, Action::JobsWrite).await?;
        check_snapshot_id(snapshot)?;
        let relative = normalize_artifact_path(path)?;
        if relative.is_empty() {
            return Err(Error::invalid("a code upload needs a file path"));
        }
        if self.store.snapshot_in_use(workspace, snapshot).await? {
            return Err(Error::invalid(format!("snapshot {snapshot} belongs to a submitted job and cannot change")));
        }
        self.store_upload(workspace, AREA_CODE, &format!("{snapshot}/{relative}"), body).await
    }

    /// Checks a job before its files are uploaded, as [`Service::create_job`] will: the file,
    /// its name, compute and resources, every asset and output it refers to, its environment
    /// and experiment. Its local paths (code, inputs) are taken as the client will upload them.
    pub async fn check_job(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        submission: JobSubmission,
    ) -> Result<()> {
        self.authorize(principal, workspace, Action::JobsWrite).await?;
        self.require_confinement(principal, "jobs")?;
        if atelier_spec::is_pipeline(&submission.yaml) {
            return self.check_pipeline_job(principal, workspace, &submission).await;
        }
        let parsed = parse_job(&submission.yaml, &submission.folder_name).map_err(spec_error)?;
        let spec = parsed.command();
        let name = match submission.name.clone().or_else(|| spec.name.clone()) {
            Some(name) => {
                validate_job_name(&name)?;
                check_sweep_name(&parsed, &name)?;
                if self.store.get_job(&name).await.is_ok() {
                    return Err(Error::already_exists(format!(
                        "a job named '{name}' already exists: job names are unique on a server"
                    )));
                }
                name
            }
            None => job_name_from_random(rand::random()),
        };
        let compute = self.resolve_compute(workspace, spec).await?;
        self.resolve_resources(spec, &compute)?;
        let mut references = Vec::new();
        self.resolve_inputs(principal, workspace, spec, &submission, &mut references, Checking::BeforeUploads).await?;
        resolve_outputs(spec, &name, &mut references)?;
        self.resolve_job_environment(principal, workspace, spec, &submission).await?;
        self.job_experiment_exists_or_free(workspace, &spec.experiment_name).await
    }

    /// Checks that a job's experiment is active, or free to be created.
    pub(super) async fn job_experiment_exists_or_free(&self, workspace: &WorkspaceName, name: &str) -> Result<()> {
        match self.store.get_experiment_by_name(workspace, name).await {
            Ok(experiment) if experiment.lifecycle_stage != LifecycleStage::Active => Err(Error::invalid(format!(
                "experiment '{}' is deleted; restore it or name another experiment",
                experiment.name
            ))),
            Ok(_) => Ok(()),
            Err(error) if error.code == ErrorCode::ResourceDoesNotExist => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Checks, resolves and queues a job.
    pub async fn create_job(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        submission: JobSubmission,
    ) -> Result<Job> {
        self.authorize(principal, workspace, Action::JobsWrite).await?;
        self.require_confinement(principal, "jobs")?;
        if atelier_spec::is_pipeline(&submission.yaml) {
            return self.create_pipeline_job(principal, workspace, submission).await;
        }
        let parsed = parse_job(&submission.yaml, &submission.folder_name).map_err(spec_error)?;
        let spec = parsed.command();
        let name = match submission.name.clone().or_else(|| spec.name.clone()) {
            Some(name) => {
                validate_job_name(&name)?;
                check_sweep_name(&parsed, &name)?;
                name
            }
            None => job_name_from_random(rand::random()),
        };
        let compute = self.resolve_compute(workspace, spec).await?;
        let resources = self.resolve_resources(spec, &compute)?;
        let compute = compute.definition.name;
        // What the job points into, so that garbage collection keeps it while the job exists.
        let mut references = Vec::new();
        if let Some(schedule) = &submission.schedule {
            references.push(super::schedule_reference(schedule));
        }
        let snapshot = self.resolve_snapshot(workspace, spec, submission.snapshot.as_ref(), &mut references).await?;
        let inputs =
            self.resolve_inputs(principal, workspace, spec, &submission, &mut references, Checking::Uploaded).await?;
        let outputs = resolve_outputs(spec, &name, &mut references)?;
        let (environment, warnings) = self.resolve_job_environment(principal, workspace, spec, &submission).await?;
        let experiment = self.job_experiment(principal, workspace, spec).await?;

        let artifact_uri = format!("{}/{name}/artifacts", experiment.artifact_location);
        let plan = JobPlan {
            artifact_uri: artifact_uri.clone(),
            job: name.clone(),
            workspace: workspace.to_string(),
            experiment_id: experiment.experiment_id.to_string(),
            experiment_name: experiment.name.clone(),
            command: spec.command.clone(),
            inputs,
            outputs,
            environment,
            environment_variables: spec.environment_variables.clone(),
            process_count: processes_of(spec.instance_count, spec.process_count_per_instance, spec.tensorflow.as_ref())
                .0,
            tensorflow: processes_of(spec.instance_count, spec.process_count_per_instance, spec.tensorflow.as_ref()).1,
            instance_count: spec.instance_count,
            distributed: spec.process_count_per_instance.is_some() && !spec.mpi,
            mpi: spec.mpi,
            timeout_seconds: spec.timeout,
            snapshot: snapshot.clone(),
        };
        let plan_text = serde_json::to_string(&plan)
            .map_err(|error| Error::internal(format!("encoding a plan failed: {error}")))?;
        let now = now_millis();
        let run_id = RunId::parse(&name)?;
        let run = RunInfo {
            artifact_uri,
            run_id,
            workspace: workspace.clone(),
            experiment_id: experiment.experiment_id,
            run_name: spec.display_name.clone().unwrap_or_else(|| name.clone()),
            user_id: principal.user.to_string(),
            status: RunStatus::Scheduled,
            start_time: Some(now),
            end_time: None,
            lifecycle_stage: LifecycleStage::Active,
        };
        let run_tags = super::job_run_tags(&spec.tags, &run.run_name, &principal.user.to_string(), &name);
        let kind = match parsed {
            JobSpec::Command(_) => JobKind::Command,
            JobSpec::Sweep(_) => JobKind::Sweep,
        };
        let job = Job {
            workspace: workspace.clone(),
            name: name.clone(),
            display_name: spec.display_name.clone(),
            description: spec.description.clone(),
            kind,
            parent: None,
            trial: None,
            step: None,
            reused_from: None,
            reuse_key: None,
            experiment_id: experiment.experiment_id,
            experiment_name: experiment.name.clone(),
            compute,
            status: JobStatus::Queued,
            priority: spec.priority,
            resources,
            tags: spec.tags.clone(),
            spec_yaml: submission.yaml.clone(),
            submission: Some(submission.saved()?),
            plan: plan_text,
            snapshot,
            created_by: principal.user.to_string(),
            created_at: now,
            exit_code: None,
            error: None,
            warnings,
            archived: false,
            runtime_pid: None,
            runtime_start: None,
            assigned_gpus: Vec::new(),
            heartbeat_at: None,
            cluster_state: None,
            events: super::queued_events(now),
        };
        // No one holds this token: the runtime gets a fresh one when it is launched.
        let unusable = hex::encode(rand::random::<[u8; 32]>());
        let job = self.store.create_job(&job, &run, &run_tags, &[], &unusable, &references).await?;
        self.wake_scheduler();
        Ok(job)
    }

    /// What the job asks of its compute: an Azure VM size, then Atelier's own fields, within
    /// what its compute allows each job; an error if the machine could never run it (on a
    /// cluster, the cluster decides, within the compute's nodes per job).
    pub(super) fn resolve_resources(&self, spec: &CommandJob, compute: &JobCompute) -> Result<ResourceRequest> {
        let per_job_limit = compute.per_job_limit;
        if let Some(tensorflow) = &spec.tensorflow {
            tensorflow.processes(spec.instance_count).map_err(|message| field_error(spec, "distribution", message))?;
        }
        let mut resources = ResourceRequest::default();
        if let Some(size) = &spec.instance_type {
            resources = vm_size(size).map_err(|error| field_error(spec, "resources.instance_type", error.message))?;
        }
        if let Some(cpu) = spec.cpu {
            resources.cpus = cpu;
        }
        if let Some(memory) = spec.memory_gb {
            resources.memory_mb = (memory * 1024.0).round() as u64;
        }
        if let Some(gpus) = spec.gpu_count {
            resources.gpus = u32::try_from(gpus).unwrap_or(u32::MAX);
        }
        if let Some(limit) = per_job_limit {
            resources.cpus = resources.cpus.min(limit.cpus);
            if limit.memory_mb > 0 && (resources.memory_mb == 0 || resources.memory_mb > limit.memory_mb) {
                resources.memory_mb = limit.memory_mb;
            }
        }
        // The compute's backend knows what shapes it runs (a cluster's nodes per job).
        if let Some(backend) = self.backend_of(&compute.definition.kind) {
            let shape = crate::backends::JobShape { instance_count: spec.instance_count, mpi: spec.mpi };
            let admitted = backend.admit(&compute.definition, &shape);
            admitted.map_err(|refusal| field_error(spec, refusal.field, refusal.message))?;
            if let crate::backends::Placement::Own = backend.placement() {
                // Its own scheduler decides where the job fits.
                return Ok(resources);
            }
        }
        let capacity = self.compute_capacity();
        capacity.could_fit(&resources).map_err(|why| {
            field_error(
                spec,
                "resources",
                format!("the job can never start on compute '{}': {why}", compute.definition.name),
            )
        })?;
        Ok(resources)
    }

    /// The job's code snapshot, which the client uploaded before submitting: it must be there
    /// and within this server's limit.
    async fn resolve_snapshot(
        &self,
        workspace: &WorkspaceName,
        spec: &CommandJob,
        uploaded: Option<&String>,
        references: &mut Vec<String>,
    ) -> Result<Option<String>> {
        let snapshot = match (&spec.code, uploaded) {
            (None, _) => None,
            (Some(code), None) => {
                return Err(field_error(
                    spec,
                    "code",
                    format!("the folder '{code}' must be uploaded with the job (atelier job create does it)"),
                ));
            }
            (Some(_), Some(snapshot)) => {
                check_snapshot_id(snapshot)?;
                let files = self.store.upload_files_under(workspace, AREA_CODE, snapshot).await?;
                let size: i64 = files.iter().map(|file| file.size).sum();
                let limit = self.snapshot_limit;
                if size as u64 > limit {
                    return Err(field_error(
                        spec,
                        "code",
                        format!(
                            "the code snapshot holds {size} bytes, over this server's limit of {limit}: list large files in .amlignore or .gitignore"
                        ),
                    ));
                }
                references.push(format!("code:{snapshot}/"));
                Some(snapshot.clone())
            }
        };

        Ok(snapshot)
    }

    /// Each input as the runtime receives it: literals as given, uploaded local paths on the
    /// default datastore, references resolved to what they name.
    pub(super) async fn resolve_inputs(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        spec: &CommandJob,
        submission: &JobSubmission,
        references: &mut Vec<String>,
        checking: Checking,
    ) -> Result<BTreeMap<String, PlannedInput>> {
        let mut inputs = BTreeMap::new();
        for (input_name, input) in &spec.inputs {
            let field = format!("inputs.{input_name}");
            let planned = match input {
                JobInput::Literal { value, .. } => PlannedInput::Literal { value: value.clone() },
                JobInput::Asset { kind, path, mode, .. } => {
                    let uri = match path {
                        None => None,
                        Some(_) if is_local_path_before_upload(input, checking) => None,
                        Some(path) if is_local_path(path) => {
                            let uploaded = submission.uploads.get(&field).ok_or_else(|| {
                                field_error(
                                    spec,
                                    &field,
                                    format!(
                                        "the local path '{path}' must be uploaded with the job (atelier job create does it)"
                                    ),
                                )
                            })?;
                            if parse_datastore_uri(uploaded).is_none_or(|(store, _)| store != DEFAULT_DATASTORE) {
                                return Err(field_error(
                                    spec,
                                    &field,
                                    "an uploaded path must be on the default datastore",
                                ));
                            }
                            references.push(uploaded.clone());
                            Some(uploaded.clone())
                        }
                        Some(path) => Some(
                            self.resolve_input(principal, workspace, kind, path)
                                .await
                                .map_err(|error| field_error(spec, &format!("{field}.path"), error.message))?,
                        ),
                    };
                    PlannedInput::Data { data_type: kind.clone(), mode: mode.clone(), uri }
                }
            };
            inputs.insert(input_name.clone(), planned);
        }

        Ok(inputs)
    }

    /// The job's experiment, created on first use; a deleted one is an error.
    pub(super) async fn job_experiment(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        spec: &CommandJob,
    ) -> Result<atelier_core::model::Experiment> {
        let experiment = match self.store.get_experiment_by_name(workspace, &spec.experiment_name).await {
            Ok(experiment) => experiment,
            Err(error) if error.code == ErrorCode::ResourceDoesNotExist => {
                let created =
                    self.create_experiment(principal, workspace, &spec.experiment_name, None, Vec::new()).await;
                match created {
                    Ok(id) => self.store.get_experiment(workspace, id).await?,
                    Err(error) if error.code == ErrorCode::ResourceAlreadyExists => {
                        self.store.get_experiment_by_name(workspace, &spec.experiment_name).await?
                    }
                    Err(error) => return Err(error),
                }
            }
            Err(error) => return Err(error),
        };
        if experiment.lifecycle_stage != LifecycleStage::Active {
            return Err(Error::invalid(format!(
                "experiment '{}' is deleted; restore it or name another experiment",
                experiment.name
            )));
        }

        Ok(experiment)
    }

    /// The compute a job names, and the most each of its jobs may use (a named compute's size).
    pub(super) async fn resolve_compute(&self, workspace: &WorkspaceName, spec: &CommandJob) -> Result<JobCompute> {
        if spec.compute == "local" {
            let definition = crate::compute::builtin_local(workspace);
            return Ok(JobCompute { per_job_limit: None, definition });
        }
        match self.store.get_compute(workspace, &spec.compute).await {
            Ok(compute) => Ok(JobCompute { per_job_limit: Some(vm_size(&compute.size)?), definition: compute }),
            Err(error) if error.code == ErrorCode::ResourceDoesNotExist => {
                let known: Vec<String> = std::iter::once("local".to_owned())
                    .chain(self.store.list_computes(Some(workspace)).await?.into_iter().map(|compute| compute.name))
                    .collect();
                Err(field_error(
                    spec,
                    "compute",
                    format!("unknown compute '{}': this workspace has {}", spec.compute, known.join(", ")),
                ))
            }
            Err(error) => Err(error),
        }
    }

    /// Resolves an input's path to what the runtime fetches: a datastore URI, a `runs:/` URI,
    /// or `azureml:<model>:<version>` for a model.
    pub(super) async fn resolve_input(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        kind: &str,
        path: &str,
    ) -> Result<String> {
        let is_model = matches!(kind, "mlflow_model" | "custom_model");
        if path.starts_with("azureml:") && !path.starts_with("azureml://") {
            let kind = if is_model { AssetKind::Model } else { AssetKind::Data };
            let reference = AssetRef::parse_azureml(kind, path)?;
            if is_model {
                let version: ModelVersion = self.resolve_label(principal, workspace, &reference).await?;
                return Ok(format!("azureml:{}:{}", version.name, version.version));
            }
            let asset: DataAsset = self.resolve_label(principal, workspace, &reference).await?;
            let name = &reference.name;
            if parse_datastore_uri(&asset.path).is_none() && !asset.path.starts_with("runs:/") {
                return Err(Error::invalid(format!(
                    "data asset '{name}' version {} points at '{}', which this server cannot fetch",
                    asset.version, asset.path
                )));
            }
            return Ok(asset.path);
        }
        let resolved = self.resolve_job_uri(principal, workspace, path).await?;
        if let Some(rest) = resolved.strip_prefix("runs:/") {
            let (run_id, relative) = rest.split_once('/').unwrap_or((rest, ""));
            self.run_artifact_path(principal, workspace, run_id, relative, Action::ExperimentsRead).await?;
            return Ok(resolved);
        }
        if parse_datastore_uri(&resolved).is_some() {
            let location = self.data_location(workspace, &resolved).await?;
            if self.list_at(workspace, &location).await?.is_empty() {
                return Err(Error::invalid(format!("nothing is stored at '{path}'")));
            }
            return Ok(resolved);
        }
        Err(Error::invalid(format!(
            "'{path}' cannot be fetched: expected a local path, azureml:<name>:<version>, azureml:<name>@latest, azureml://datastores/<name>/paths/<path>, azureml://jobs/<job>/outputs/<output> or runs:/<run>/<path>"
        )))
    }

    /// Rewrites `azureml://jobs/<job>/outputs/<output>[/paths/<path>]` as the URI it stands
    /// for: the job's run artifacts for the output `artifacts` (or `default`), the job's named
    /// output on the default datastore otherwise. Other URIs come back unchanged.
    pub(crate) async fn resolve_job_uri(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        uri: &str,
    ) -> Result<String> {
        let Some(rest) = uri.strip_prefix("azureml://jobs/") else { return Ok(uri.to_owned()) };
        let shape = || {
            Error::invalid(format!(
                "'{uri}': expected azureml://jobs/<job>/outputs/<output> or azureml://jobs/<job>/outputs/<output>/paths/<path>"
            ))
        };
        let (job_name, rest) = rest.split_once('/').ok_or_else(shape)?;
        let rest = rest.strip_prefix("outputs/").ok_or_else(shape)?;
        let (output, path) = match rest.split_once('/') {
            Some((output, paths)) => {
                (output, paths.strip_prefix("paths/").or((paths == "paths").then_some("")).ok_or_else(shape)?)
            }
            None => (rest, ""),
        };
        let path = normalize_artifact_path(path)?;
        let job = self.job_in_workspace(principal, workspace, job_name, Action::JobsRead).await?;
        if matches!(output, "artifacts" | "default") {
            return Ok(if path.is_empty() {
                format!("runs:/{}", job.name)
            } else {
                format!("runs:/{}/{path}", job.name)
            });
        }
        let plan = self.plan_of(&job)?;
        if !plan.outputs.contains_key(output) {
            return Err(Error::invalid(format!("job '{}' has no output '{output}'", job.name)));
        }
        if job.status != JobStatus::Completed {
            return Err(Error::invalid(format!(
                "job '{}' is {}: its output '{output}' is there once it has completed",
                job.name,
                job.status.as_str()
            )));
        }
        // A sweep's outputs are its best trial's, a pipeline's its steps'.
        let (job, output) = self.output_owner(job, output).await?;
        let base = output_uri(&job.name, &output);
        Ok(if path.is_empty() { base } else { format!("{base}/{path}") })
    }

    async fn resolve_job_environment(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        spec: &CommandJob,
        submission: &JobSubmission,
    ) -> Result<(PlannedEnvironment, Vec<String>)> {
        let inline = inline_environment(&spec.inline_environment, &submission.inline_environment)
            .map_err(|error| field_error(spec, "environment", error.message))?;
        self.resolve_environment(
            principal,
            workspace,
            spec.environment.as_deref(),
            inline.as_ref(),
            "atelier job create",
        )
        .await
        .map_err(|error| field_error(spec, "environment", error.message))
    }

    /// Resolves the environment of a job or a deployment: a reference (`azureml:name:version`,
    /// `azureml:name@latest`), an inline one (`Some`, holding the spec the client read from its
    /// conda file, if it sent it), or neither, which is the built-in environment. Also says
    /// whether an image is ignored; `client` names the command that sends inline specs.
    pub(crate) async fn resolve_environment(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        reference: Option<&str>,
        inline: Option<&Option<EnvironmentSpec>>,
        client: &str,
    ) -> Result<(PlannedEnvironment, Vec<String>)> {
        let (name, environment_spec) = match (reference, inline) {
            (Some(reference), _) => {
                let reference = AssetRef::parse_azureml(AssetKind::Environment, reference)?;
                let environment: atelier_core::environment::Environment =
                    self.resolve_label(principal, workspace, &reference).await?;
                (format!("{}:{}", environment.name, environment.version), environment.spec)
            }
            (None, Some(inline)) => {
                let inline = inline.clone().ok_or_else(|| {
                    Error::invalid(format!(
                        "an inline environment's conda_file must be sent with the spec ({client} does it)"
                    ))
                })?;
                for requirement in &inline.requirements {
                    atelier_core::environment::validate_requirement(requirement)?;
                }
                ("inline".to_owned(), inline)
            }
            (None, None) => {
                let planned = PlannedEnvironment {
                    name: BUILTIN_ENVIRONMENT.to_owned(),
                    builtin: true,
                    python: None,
                    requirements: Vec::new(),
                    image: None,
                };
                return Ok((planned, Vec::new()));
            }
        };
        let mut warnings = Vec::new();
        if let Some(image) = &environment_spec.image {
            if self.refuse_images {
                return Err(Error::invalid(format!(
                    "the environment names the image '{image}', and this server runs no containers and refuses to run it on the host instead"
                )));
            }
            warnings.push(format!(
                "image '{image}' is not used: no container runtime is configured, so it runs on the host with {}",
                if environment_spec.python.is_some() || !environment_spec.requirements.is_empty() {
                    "the environment's conda_file packages"
                } else {
                    "the machine's Python"
                }
            ));
        }
        let builtin = environment_spec.python.is_none() && environment_spec.requirements.is_empty();
        let planned = PlannedEnvironment {
            name,
            builtin,
            python: environment_spec.python,
            requirements: environment_spec.requirements,
            image: environment_spec.image,
        };
        Ok((planned, warnings))
    }
}

/// The spec of a file's inline environment (`declared`: its image and `conda_file`, as the spec
/// keeps them): the one the client sent, else the one the file holds whole (an image, a conda
/// environment written inline); `None` where the file declares none. A conda file named by path
/// and not sent is left for `resolve_environment` to refuse.
pub(crate) fn inline_environment(
    declared: &Option<(Option<String>, Option<serde_json::Value>)>,
    sent: &Option<EnvironmentSpec>,
) -> Result<Option<Option<EnvironmentSpec>>> {
    let Some((image, conda_file)) = declared else { return Ok(None) };
    if sent.is_some() {
        return Ok(Some(sent.clone()));
    }
    let spec = atelier_spec::assets::inline_environment_spec(image.as_ref(), conda_file.as_ref())
        .map_err(|error| Error::invalid(error.message))?;
    Ok(Some(spec))
}

/// The longest name a sweep may have: its trials are named `<sweep>_<index>`, within a job
/// name's 255 characters.
const MAX_SWEEP_NAME: usize = 250;

fn check_sweep_name(parsed: &JobSpec, name: &str) -> Result<()> {
    if matches!(parsed, JobSpec::Sweep(_)) && name.len() > MAX_SWEEP_NAME {
        return Err(Error::invalid(format!(
            "a sweep's name may have at most {MAX_SWEEP_NAME} characters, so that its trials' names (<sweep>_<index>) fit"
        )));
    }
    Ok(())
}

/// Each output as the runtime writes it (on the default datastore at `azureml/<job>/<output>/`),
/// with the asset it is registered as when the job completes.
/// Whether a job's local paths are uploaded yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Checking {
    /// Before the client uploads them: a local path stands for what it will upload.
    BeforeUploads,
    /// The submission itself: each local path must name an upload.
    Uploaded,
}

fn is_local_path_before_upload(input: &JobInput, checking: Checking) -> bool {
    let JobInput::Asset { path: Some(path), .. } = input else { return false };
    checking == Checking::BeforeUploads && is_local_path(path)
}

fn resolve_outputs(
    spec: &CommandJob,
    name: &str,
    references: &mut Vec<String>,
) -> Result<BTreeMap<String, PlannedOutput>> {
    let mut outputs = BTreeMap::new();
    for (output_name, output) in &spec.outputs {
        if let Some(register) = &output.name {
            atelier_core::data::validate_asset_name("output asset", register)
                .map_err(|error| field_error(spec, &format!("outputs.{output_name}"), error.message))?;
        }
        outputs.insert(
            output_name.clone(),
            PlannedOutput {
                data_type: output.kind.clone(),
                mode: output.mode.clone(),
                register_name: output.name.clone(),
                register_version: output.version.clone(),
            },
        );
    }
    if !outputs.is_empty() {
        references.push(format!("azureml://datastores/{DEFAULT_DATASTORE}/paths/azureml/{name}/"));
    }

    Ok(outputs)
}

/// The compute a job runs on, as its submission is checked against it.
pub(super) struct JobCompute {
    /// The most each of its jobs may use (a named compute's size).
    pub(super) per_job_limit: Option<ResourceRequest>,
    /// Its definition, which its backend checks the job's shape against.
    pub(super) definition: atelier_store::Compute,
}

/// The processes a job starts, and a tensorflow job's cluster: `pytorch` processes per instance
/// on each instance, or a tensorflow job's workers and parameter servers (checked to spread
/// evenly over the instances when the job was submitted), or one per instance.
pub(super) fn processes_of(
    instance_count: i64,
    per_instance: Option<i64>,
    tensorflow: Option<&atelier_spec::TensorflowDistribution>,
) -> (i64, Option<atelier_spec::TensorflowPlan>) {
    match tensorflow {
        Some(tensorflow) => {
            let workers = tensorflow.workers(instance_count);
            let plan = atelier_spec::TensorflowPlan { workers, parameter_servers: tensorflow.parameter_server_count };
            (workers + tensorflow.parameter_server_count, Some(plan))
        }
        None => (per_instance.unwrap_or(1) * instance_count, None),
    }
}

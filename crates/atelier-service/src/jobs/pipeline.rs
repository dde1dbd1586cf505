//! Submitting a pipeline job: the file read again, each step's component resolved (a file the
//! client sent, a registered version, or the step's own command), the whole checked against
//! the components' interfaces, each step's compute, resources and submitted inputs resolved,
//! and the pipeline stored as a parent job with its run and its [`PipelinePlan`]. Its steps
//! become jobs as they become ready (`pipeline_run.rs`).

use super::submit::Checking;
use super::{JobSubmission, queued_events, spec_error};
use crate::{ComponentSubmission, Principal, Service, now_millis};
use atelier_core::asset::{AssetKind, AssetRef, VersionSelector};
use atelier_core::component::Component;
use atelier_core::job::{Job, JobKind, JobStatus, ResourceRequest, job_name_from_random, validate_job_name};
use atelier_core::model::{LifecycleStage, RunId, RunInfo, RunStatus};
use atelier_core::names::WorkspaceName;
use atelier_core::{Error, Result};
use atelier_spec::component::{ComponentBody, ComponentDefinition, ComponentSpec, parse_component};
use atelier_spec::pipeline::{
    Binding, OutputBinding, PipelineJob, PipelineOutputPlan, PipelinePlan, PlannedStep, StepComponent, StepInput,
    StepOutput, check_pipeline, parse_pipeline_job,
};
use atelier_spec::{CommandJob, JobInput, PlannedInput};
use std::collections::BTreeMap;

/// The longest name a pipeline may have with its longest step's: its steps are named
/// `<pipeline>_<step>`, within a job name's 255 characters.
const MAX_STEP_JOB_NAME: usize = 255;

/// The name of a step's job.
pub(crate) fn step_job_name(pipeline: &str, step: &str) -> String {
    format!("{pipeline}_{step}")
}

/// A step's component, resolved.
struct Resolved {
    /// `name:version`, for a registered component.
    registered: Option<String>,
    definition: ComponentDefinition,
    is_deterministic: bool,
    snapshot: Option<String>,
    code_hash: Option<String>,
}

/// A pipeline, resolved: what is stored for it.
pub(super) struct ResolvedPipeline {
    pub job: PipelineJob,
    pub steps: BTreeMap<String, PlannedStep>,
    pub dag: atelier_spec::pipeline::Dag,
}

fn step_error(step: &str, error: Error) -> Error {
    let message = &error.message;
    if message.starts_with("line ") || message.starts_with("jobs.") {
        return Error { message: message.clone(), ..error };
    }
    Error { message: format!("jobs.{step}: {message}"), ..error }
}

fn at_line(job: &PipelineJob, field: &str, message: impl std::fmt::Display) -> Error {
    Error::invalid(job.error(field, message.to_string()).to_string())
}

impl Service {
    /// Reads and resolves a pipeline; `checking` says whether its local files are uploaded.
    pub(super) async fn resolve_pipeline(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        submission: &JobSubmission,
        checking: Checking,
        references: &mut Vec<String>,
    ) -> Result<ResolvedPipeline> {
        let job = parse_pipeline_job(&submission.yaml, &submission.folder_name).map_err(spec_error)?;
        let uploaded = checking == Checking::Uploaded;

        // The components of the steps that run one, then the whole against their interfaces.
        let mut resolved: BTreeMap<String, Resolved> = BTreeMap::new();
        let mut interfaces: BTreeMap<String, ComponentBody> = BTreeMap::new();
        for (name, step) in &job.steps {
            let upload = submission.steps.get(name).cloned().unwrap_or_default();
            let field = format!("jobs.{name}.component");
            let one = match &step.component {
                StepComponent::Inline(_) => continue,
                StepComponent::File(path) => {
                    let Some(yaml) = &upload.component_yaml else {
                        return Err(at_line(
                            &job,
                            &field,
                            format!(
                                "the component file '{path}' must be sent with the pipeline (atelier job create does it)"
                            ),
                        ));
                    };
                    let spec: ComponentSpec =
                        parse_component(yaml).map_err(|error| at_line(&job, &field, format!("{path}: {error}")))?;
                    let component_submission = ComponentSubmission {
                        yaml: yaml.clone(),
                        version: None,
                        snapshot: upload.snapshot.clone(),
                        inline_environment: upload.inline_environment.clone(),
                    };
                    let (component, definition) = self
                        .resolve_component(principal, workspace, &spec, &component_submission, uploaded)
                        .await
                        .map_err(|error| at_line(&job, &field, format!("{path}: {}", error.message)))?;
                    Resolved {
                        registered: None,
                        definition,
                        is_deterministic: component.is_deterministic,
                        snapshot: component.snapshot,
                        code_hash: component.code_hash,
                    }
                }
                StepComponent::Registered(text) => {
                    let component = self
                        .registered_component(principal, workspace, text)
                        .await
                        .map_err(|error| at_line(&job, &field, error.message))?;
                    let definition = self.component_definition(&component)?;
                    Resolved {
                        registered: Some(format!("{}:{}", component.name, component.version)),
                        definition,
                        is_deterministic: component.is_deterministic,
                        snapshot: component.snapshot,
                        code_hash: component.code_hash,
                    }
                }
            };
            interfaces.insert(name.clone(), one.definition.body.clone());
            resolved.insert(name.clone(), one);
        }
        let (dag, bodies) = check_pipeline(&job, &interfaces).map_err(spec_error)?;

        // The inline steps: their environment and code.
        for (name, step) in &job.steps {
            let StepComponent::Inline(inline) = &step.component else { continue };
            let upload = submission.steps.get(name).cloned().unwrap_or_default();
            let inline_spec = super::inline_environment(&inline.inline_environment, &upload.inline_environment)
                .map_err(|error| at_line(&job, &format!("jobs.{name}.environment"), error.message))?;
            let inline_spec = inline_spec.as_ref();
            let (environment, _) = self
                .resolve_environment(
                    principal,
                    workspace,
                    inline.environment.as_deref(),
                    inline_spec,
                    "atelier job create",
                )
                .await
                .map_err(|error| at_line(&job, &format!("jobs.{name}.environment"), error.message))?;
            let (snapshot, code_hash) = match (&inline.code, &upload.snapshot) {
                (Some(_), _) if !uploaded => (None, None),
                (Some(code), None) => {
                    return Err(at_line(
                        &job,
                        &format!("jobs.{name}.code"),
                        format!("the folder '{code}' must be uploaded with the pipeline (atelier job create does it)"),
                    ));
                }
                (Some(_), Some(snapshot)) => {
                    let hash = self
                        .snapshot_hash(workspace, snapshot)
                        .await
                        .map_err(|error| at_line(&job, &format!("jobs.{name}.code"), error.message))?;
                    (Some(snapshot.clone()), Some(hash))
                }
                (None, Some(_)) => {
                    return Err(Error::invalid(format!(
                        "jobs.{name}: a code snapshot was sent for a step without code"
                    )));
                }
                (None, None) => (None, None),
            };
            let body = bodies[name].clone();
            resolved.insert(
                name.clone(),
                Resolved {
                    registered: None,
                    definition: ComponentDefinition { body, environment },
                    is_deterministic: true,
                    snapshot,
                    code_hash,
                },
            );
        }

        // The pipeline's own inputs, as a command job's are resolved.
        let pipeline_inputs = self
            .resolve_inputs(
                principal,
                workspace,
                &inputs_job(&job, job.inputs.clone()),
                submission,
                references,
                checking,
            )
            .await?;

        let mut steps = BTreeMap::new();
        for (name, step) in &job.steps {
            let Some(one) = resolved.remove(name) else {
                return Err(Error::internal(format!("step '{name}' was not resolved")));
            };
            let body = &one.definition.body;
            let request = step.as_command_job(&job, body);
            let compute = self.resolve_compute(workspace, &request).await.map_err(|error| step_error(name, error))?;
            let resources: ResourceRequest =
                self.resolve_resources(&request, &compute).map_err(|error| step_error(name, error))?;
            let compute = compute.definition.name;
            if let Some(reference) = &one.registered {
                references.push(format!("component:{reference}"));
            }
            if let Some(snapshot) = &one.snapshot {
                references.push(format!("code:{snapshot}/"));
            }

            // The step's data inputs given in the step itself, resolved as a command job's are,
            // with the uploads the client made for them.
            let mut data = BTreeMap::new();
            for (input_name, binding) in &step.inputs {
                if let Binding::Data { kind, path, mode } = binding {
                    let input = JobInput::Asset {
                        kind: kind.clone(),
                        path: Some(path.clone()),
                        mode: mode.clone(),
                        optional: false,
                    };
                    data.insert(input_name.clone(), input);
                }
            }
            let step_submission = JobSubmission {
                uploads: submission
                    .uploads
                    .iter()
                    .filter_map(|(key, uri)| {
                        key.strip_prefix(&format!("jobs.{name}.")).map(|rest| (rest.to_owned(), uri.clone()))
                    })
                    .collect(),
                ..JobSubmission::default()
            };
            let mut step_data = self
                .resolve_inputs(principal, workspace, &inputs_job(&job, data), &step_submission, references, checking)
                .await
                .map_err(|error| step_error(name, error))?;

            let mut inputs = BTreeMap::new();
            for (input_name, input) in &body.inputs {
                let planned = match step.inputs.get(input_name) {
                    Some(Binding::Literal(value)) => {
                        let value = input.check_value(value).map_err(Error::invalid)?;
                        StepInput::Submitted { input: PlannedInput::Literal { value: Some(value) } }
                    }
                    Some(Binding::Data { .. }) => StepInput::Submitted {
                        input: step_data.remove(input_name).ok_or_else(|| {
                            Error::internal(format!("input '{input_name}' of step '{name}' was not resolved"))
                        })?,
                    },
                    Some(Binding::ParentInput(parent)) => {
                        let planned = pipeline_inputs.get(parent).cloned().ok_or_else(|| {
                            Error::internal(format!("the pipeline's input '{parent}' was not resolved"))
                        })?;
                        let planned = match planned {
                            PlannedInput::Literal { value: Some(value) } if !input.is_data() => PlannedInput::Literal {
                                value: Some(input.check_value(&value).map_err(|message| {
                                    step_error(name, Error::invalid(format!("inputs.{input_name}: {message}")))
                                })?),
                            },
                            other => other,
                        };
                        StepInput::Submitted { input: planned }
                    }
                    Some(Binding::StepOutput { step: upstream, output }) => {
                        let producer = &resolved_kind(&bodies, upstream, output);
                        StepInput::Step {
                            step: upstream.clone(),
                            output: output.clone(),
                            data_type: producer.clone(),
                            mode: "ro_mount".to_owned(),
                        }
                    }
                    None if input.is_data() => StepInput::Submitted {
                        input: PlannedInput::Data {
                            data_type: input.kind.clone(),
                            mode: "ro_mount".to_owned(),
                            uri: None,
                        },
                    },
                    None => StepInput::Submitted { input: PlannedInput::Literal { value: input.default.clone() } },
                };
                inputs.insert(input_name.clone(), planned);
            }
            let outputs = body
                .outputs
                .iter()
                .map(|(output_name, output)| {
                    let (mode, pipeline_output) = match step.outputs.get(output_name) {
                        Some(OutputBinding::Own { mode: Some(mode), .. }) => (mode.clone(), None),
                        Some(OutputBinding::ParentOutput(parent)) => (
                            job.outputs.get(parent).map_or(output.mode.clone(), |o| o.mode.clone()),
                            Some(parent.clone()),
                        ),
                        _ => (output.mode.clone(), None),
                    };
                    (output_name.clone(), StepOutput { data_type: output.kind.clone(), mode, pipeline_output })
                })
                .collect();
            steps.insert(
                name.clone(),
                PlannedStep {
                    display_name: step.display_name.clone(),
                    component: one.registered.clone(),
                    is_deterministic: one.is_deterministic,
                    snapshot: one.snapshot.clone(),
                    code_hash: one.code_hash.clone(),
                    inputs,
                    outputs,
                    compute,
                    cpus: resources.cpus,
                    memory_mb: resources.memory_mb,
                    gpus: resources.gpus,
                    environment_variables: request.environment_variables.clone(),
                    timeout_seconds: step.timeout,
                    tags: step.tags.clone(),
                    definition: one.definition,
                    search_space: step
                        .sweep
                        .as_ref()
                        .map(|sweep| sweep.search_space.keys().cloned().collect())
                        .unwrap_or_default(),
                },
            );
        }
        Ok(ResolvedPipeline { job, steps, dag })
    }

    /// A registered component a step names: `azureml:name:version`, `azureml:name@latest`, or
    /// `azureml:name` (its newest version).
    async fn registered_component(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        text: &str,
    ) -> Result<Component> {
        let reference = match AssetRef::parse_azureml(AssetKind::Component, text) {
            Ok(reference) => reference,
            Err(_) => {
                let name = text.strip_prefix("azureml:").unwrap_or(text);
                AssetRef { kind: AssetKind::Component, name: name.to_owned(), version: VersionSelector::Latest }
            }
        };
        self.resolve_label(principal, workspace, &reference).await
    }

    /// Checks a pipeline before its files are uploaded, as [`Service::create_pipeline_job`]
    /// will.
    pub(super) async fn check_pipeline_job(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        submission: &JobSubmission,
    ) -> Result<()> {
        let mut references = Vec::new();
        let resolved =
            self.resolve_pipeline(principal, workspace, submission, Checking::BeforeUploads, &mut references).await?;
        let name = submission.name.clone().or_else(|| resolved.job.name.clone());
        if let Some(name) = name {
            check_pipeline_name(&resolved.job, &name)?;
            if self.store.get_job(&name).await.is_ok() {
                return Err(Error::already_exists(format!(
                    "a job named '{name}' already exists: job names are unique on a server"
                )));
            }
            self.check_step_names_free(&resolved.job, &name).await?;
        }
        self.job_experiment_exists_or_free(workspace, &resolved.job.experiment_name).await
    }

    /// Checks, resolves and stores a pipeline; its first steps are queued by the scheduler's
    /// next pass.
    pub(super) async fn create_pipeline_job(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        submission: JobSubmission,
    ) -> Result<Job> {
        let mut references = Vec::new();
        if let Some(schedule) = &submission.schedule {
            references.push(super::schedule_reference(schedule));
        }
        let resolved =
            self.resolve_pipeline(principal, workspace, &submission, Checking::Uploaded, &mut references).await?;
        let job_spec = &resolved.job;
        let name = match submission.name.clone().or_else(|| job_spec.name.clone()) {
            Some(name) => name,
            None => job_name_from_random(rand::random()),
        };
        validate_job_name(&name)?;
        check_pipeline_name(job_spec, &name)?;
        self.check_step_names_free(job_spec, &name).await?;
        let experiment = self.job_experiment(principal, workspace, &inputs_job(job_spec, BTreeMap::new())).await?;
        let artifact_uri = format!("{}/{name}/artifacts", experiment.artifact_location);
        let plan = PipelinePlan {
            job: name.clone(),
            workspace: workspace.to_string(),
            experiment_id: experiment.experiment_id.to_string(),
            experiment_name: experiment.name.clone(),
            artifact_uri: artifact_uri.clone(),
            continue_on_step_failure: job_spec.continue_on_step_failure,
            force_rerun: job_spec.force_rerun,
            outputs: job_spec
                .outputs
                .iter()
                .map(|(output_name, output)| {
                    let planned = PipelineOutputPlan {
                        data_type: output.kind.clone(),
                        register_name: output.name.clone(),
                        register_version: output.version.clone(),
                    };
                    (output_name.clone(), planned)
                })
                .collect(),
            steps: resolved.steps,
            order: resolved.dag.order.clone(),
            edges: resolved.dag.edges.clone(),
            depth: resolved.dag.depth.clone(),
        };
        let plan_text = serde_json::to_string(&plan)
            .map_err(|error| Error::internal(format!("encoding a plan failed: {error}")))?;
        let now = now_millis();
        let run = RunInfo {
            artifact_uri,
            run_id: RunId::parse(&name)?,
            workspace: workspace.clone(),
            experiment_id: experiment.experiment_id,
            run_name: job_spec.display_name.clone().unwrap_or_else(|| name.clone()),
            user_id: principal.user.to_string(),
            status: RunStatus::Scheduled,
            start_time: Some(now),
            end_time: None,
            lifecycle_stage: LifecycleStage::Active,
        };
        let run_tags = super::job_run_tags(&job_spec.tags, &run.run_name, &principal.user.to_string(), &name);
        let job = Job {
            workspace: workspace.clone(),
            name: name.clone(),
            display_name: job_spec.display_name.clone(),
            description: job_spec.description.clone(),
            kind: JobKind::Pipeline,
            parent: None,
            trial: None,
            step: None,
            reused_from: None,
            reuse_key: None,
            experiment_id: experiment.experiment_id,
            experiment_name: experiment.name.clone(),
            compute: job_spec.default_compute.clone().unwrap_or_else(|| "local".to_owned()),
            status: JobStatus::Queued,
            priority: 2,
            resources: ResourceRequest::default(),
            tags: job_spec.tags.clone(),
            spec_yaml: submission.yaml.clone(),
            submission: Some(submission.saved()?),
            plan: plan_text,
            snapshot: None,
            created_by: principal.user.to_string(),
            created_at: now,
            exit_code: None,
            error: None,
            warnings: Vec::new(),
            archived: false,
            runtime_pid: None,
            runtime_start: None,
            assigned_gpus: Vec::new(),
            heartbeat_at: None,
            cluster_state: None,
            events: queued_events(now),
        };
        references.sort();
        references.dedup();
        let unusable = hex::encode(rand::random::<[u8; 32]>());
        let job = self.store.create_job(&job, &run, &run_tags, &[], &unusable, &references).await?;
        self.wake_scheduler();
        Ok(job)
    }

    /// The plan of a pipeline job.
    pub fn pipeline_plan_of(&self, job: &Job) -> Result<PipelinePlan> {
        serde_json::from_str(&job.plan)
            .map_err(|error| Error::internal(format!("the plan of pipeline '{}' is unreadable: {error}", job.name)))
    }
}

/// A pipeline's plan as a job plan, for what every job answers (its outputs): no command,
/// no inputs.
pub(crate) fn as_job_plan(plan: &PipelinePlan) -> atelier_spec::JobPlan {
    atelier_spec::JobPlan {
        job: plan.job.clone(),
        workspace: plan.workspace.clone(),
        experiment_id: plan.experiment_id.clone(),
        experiment_name: plan.experiment_name.clone(),
        artifact_uri: plan.artifact_uri.clone(),
        command: String::new(),
        inputs: BTreeMap::new(),
        outputs: plan
            .outputs
            .iter()
            .map(|(name, output)| {
                let planned = atelier_spec::PlannedOutput {
                    data_type: output.data_type.clone(),
                    mode: "rw_mount".to_owned(),
                    register_name: output.register_name.clone(),
                    register_version: output.register_version.clone(),
                };
                (name.clone(), planned)
            })
            .collect(),
        environment: atelier_spec::PlannedEnvironment {
            name: atelier_spec::BUILTIN_ENVIRONMENT.to_owned(),
            builtin: true,
            python: None,
            requirements: Vec::new(),
            image: None,
        },
        environment_variables: BTreeMap::new(),
        process_count: 0,
        tensorflow: None,
        instance_count: 1,
        distributed: false,
        mpi: false,
        timeout_seconds: None,
        snapshot: None,
    }
}

/// The type of the output `output` of step `step`, from the interfaces checked.
fn resolved_kind(bodies: &BTreeMap<String, ComponentBody>, step: &str, output: &str) -> String {
    bodies
        .get(step)
        .and_then(|body| body.outputs.get(output))
        .map_or_else(|| "uri_folder".to_owned(), |produced| produced.kind.clone())
}

impl Service {
    /// Checks that no job has the name one of a pipeline's steps will take.
    async fn check_step_names_free(&self, job: &PipelineJob, name: &str) -> Result<()> {
        for step in job.steps.keys() {
            let step_name = step_job_name(name, step);
            if self.store.get_job(&step_name).await.is_ok() {
                return Err(Error::already_exists(format!(
                    "a job named '{step_name}' already exists: the pipeline's steps are named <pipeline>_<step>, so name the pipeline otherwise"
                )));
            }
        }
        Ok(())
    }
}

fn check_pipeline_name(job: &PipelineJob, name: &str) -> Result<()> {
    let longest = job.steps.keys().map(String::len).max().unwrap_or(0);
    if name.len() + 1 + longest > MAX_STEP_JOB_NAME {
        return Err(Error::invalid(format!(
            "the pipeline's name and its longest step's name are too long together: its steps' jobs are named \
             <pipeline>_<step>, at most {MAX_STEP_JOB_NAME} characters"
        )));
    }
    Ok(())
}

/// A command job that holds only `inputs` (and the pipeline's experiment), so that they are
/// resolved as a command job's are.
fn inputs_job(job: &PipelineJob, inputs: BTreeMap<String, JobInput>) -> CommandJob {
    let lines =
        job.lines.iter().filter(|(field, _)| field.starts_with("inputs.")).map(|(k, v)| (k.clone(), *v)).collect();
    CommandJob {
        name: None,
        display_name: None,
        experiment_name: job.experiment_name.clone(),
        description: None,
        tags: BTreeMap::new(),
        code: None,
        command: String::new(),
        inputs,
        outputs: BTreeMap::new(),
        environment: None,
        inline_environment: None,
        environment_variables: BTreeMap::new(),
        compute: "local".to_owned(),
        instance_count: 1,
        instance_type: None,
        cpu: None,
        memory_gb: None,
        gpu_count: None,
        priority: 2,
        process_count_per_instance: None,
        tensorflow: None,
        mpi: false,
        timeout: None,
        lines,
    }
}

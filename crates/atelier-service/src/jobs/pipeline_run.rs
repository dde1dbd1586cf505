//! Running a pipeline: each scheduler pass drives every pipeline from the store alone. A step
//! becomes a job (`<pipeline>_<step>`, a child run of the pipeline's) once every step it
//! depends on has completed; a deterministic step whose component, code, environment, inputs
//! and settings equal an earlier completed step's is not run but reuses that step's outputs.
//! A failed step stops the pipeline and cancels what runs, unless `continue_on_step_failure`;
//! the pipeline ends once nothing more can run. A step's name is unique in its pipeline in the
//! store, so a restarted server never runs a step twice.

use super::pipeline::step_job_name;
use super::{job_run_tags, output_uri, queued_events};
use crate::{Service, now_millis};
use atelier_core::job::{Job, JobEvent, JobKind, JobStatus, ResourceRequest};
use atelier_core::model::{LifecycleStage, RunId, RunInfo, RunStatus, Tag};
use atelier_core::{Error, ErrorCode, Result};
use atelier_spec::pipeline::{PipelinePlan, PlannedStep, StepInput};
use atelier_spec::{JobPlan, PlannedInput, PlannedOutput};
use std::collections::BTreeMap;

/// A pipeline's plan, and the steps that have become jobs.
#[derive(Debug, Clone)]
pub struct PipelineView {
    pub plan: PipelinePlan,
    /// By step name.
    pub steps: BTreeMap<String, Job>,
}

impl Service {
    /// A pipeline's view for those who may read its jobs.
    pub async fn get_pipeline(
        &self,
        principal: &crate::Principal,
        workspace: &atelier_core::names::WorkspaceName,
        name: &str,
    ) -> Result<PipelineView> {
        let pipeline = self.job_in_workspace(principal, workspace, name, atelier_core::authz::Action::JobsRead).await?;
        if pipeline.kind != JobKind::Pipeline {
            return Err(Error::invalid(format!("job '{name}' is not a pipeline")));
        }
        Ok(PipelineView { plan: self.pipeline_plan_of(&pipeline)?, steps: self.pipeline_steps(&pipeline).await? })
    }

    /// The steps of a pipeline that have become jobs, by step name.
    pub(crate) async fn pipeline_steps(&self, pipeline: &Job) -> Result<BTreeMap<String, Job>> {
        Ok(self
            .store
            .sweep_trials(&pipeline.name)
            .await?
            .into_iter()
            .filter_map(|job| job.step.clone().map(|step| (step, job)))
            .collect())
    }

    pub(super) async fn drive_pipeline(&self, pipeline: &Job) -> Result<()> {
        let plan = self.pipeline_plan_of(pipeline)?;
        let steps = self.pipeline_steps(pipeline).await?;
        let broken: Vec<&Job> =
            steps.values().filter(|job| matches!(job.status, JobStatus::Failed | JobStatus::Canceled)).collect();
        let canceling = pipeline.status == JobStatus::CancelRequested;
        if canceling || (!broken.is_empty() && !plan.continue_on_step_failure) {
            return self.stop_pipeline(pipeline, &steps, &broken, canceling).await;
        }

        let mut queued = 0;
        for step in &plan.order {
            if steps.contains_key(step) {
                continue;
            }
            let upstream: Vec<&str> =
                plan.edges.iter().filter(|edge| edge.to == *step).map(|edge| edge.from.as_str()).collect();
            let ready =
                upstream.iter().all(|name| steps.get(*name).is_some_and(|job| job.status == JobStatus::Completed));
            if !ready {
                continue;
            }
            match self.start_step(pipeline, &plan, step, &steps).await {
                Ok(job) => {
                    queued += 1;
                    let line = match &job.reused_from {
                        Some(original) => format!("{step}: reused from job {original}"),
                        None => format!("{step}: queued as job {}", job.name),
                    };
                    self.sweep_log(pipeline, &line).await;
                }
                // Another pass (or server) made it first, or another job took its name.
                Err(error) if error.code == ErrorCode::ResourceAlreadyExists => {
                    let name = step_job_name(&pipeline.name, step);
                    let ours = self.store.get_job(&name).await.is_ok_and(|job| {
                        job.parent.as_deref() == Some(pipeline.name.as_str()) && job.step.as_deref() == Some(step)
                    });
                    if !ours {
                        let message = format!("step '{step}' could not start: another job is named '{name}'");
                        self.sweep_log(pipeline, &message).await;
                        self.cancel_steps(&steps, &message).await?;
                        self.transition(&pipeline.name, JobStatus::Failed, Some(&message), None, Some(&message))
                            .await?;
                        return Ok(());
                    }
                }
                Err(error) => {
                    // Nothing of this pipeline may run on: what runs is canceled with it.
                    let message = format!("step '{step}' could not start: {}", error.message);
                    self.sweep_log(pipeline, &message).await;
                    self.cancel_steps(&steps, &message).await?;
                    self.transition(&pipeline.name, JobStatus::Failed, Some(&message), None, Some(&message)).await?;
                    return Ok(());
                }
            }
        }
        if pipeline.status == JobStatus::Queued && (queued > 0 || !steps.is_empty()) {
            self.transition(&pipeline.name, JobStatus::Running, Some("running its steps"), None, None).await?;
        }
        if queued > 0 {
            // The state read at the start of this pass is old now; the next pass decides.
            self.wake_scheduler();
            return Ok(());
        }

        // Nothing more to start: the pipeline ends once nothing runs.
        if steps.values().any(|job| !job.status.is_terminal()) {
            return Ok(());
        }
        if steps.len() == plan.steps.len() && broken.is_empty() {
            return self.complete_pipeline(pipeline, &plan, &steps).await;
        }
        let message = not_completed(&broken);
        self.sweep_log(pipeline, &format!("failed: {message}")).await;
        self.transition(&pipeline.name, JobStatus::Failed, Some(&message), None, Some(&message)).await?;
        Ok(())
    }

    /// A canceled pipeline, or one whose step failed: what runs is asked to stop, and the
    /// pipeline ends once it has.
    async fn stop_pipeline(
        &self,
        pipeline: &Job,
        steps: &BTreeMap<String, Job>,
        broken: &[&Job],
        canceling: bool,
    ) -> Result<()> {
        let reason = if canceling { "the pipeline was canceled".to_owned() } else { not_completed(broken) };
        let running = self.cancel_steps(steps, &reason).await?;
        if running > 0 {
            if !canceling && pipeline.status != JobStatus::CancelRequested {
                self.sweep_log(pipeline, &format!("{reason}: canceling the steps that run")).await;
            }
            return Ok(());
        }
        let (status, error) =
            if canceling { (JobStatus::Canceled, None) } else { (JobStatus::Failed, Some(reason.as_str())) };
        if self.transition(&pipeline.name, status, Some(&reason), None, error).await?.is_some() {
            self.sweep_log(pipeline, &format!("{}: {reason}", status.as_str())).await;
        }
        Ok(())
    }

    /// Asks every step that has not ended to stop: at once if it never launched, else through
    /// its runtime. Returns how many have not ended.
    async fn cancel_steps(&self, steps: &BTreeMap<String, Job>, reason: &str) -> Result<usize> {
        let mut running = 0;
        for job in steps.values().filter(|job| !job.status.is_terminal()) {
            running += 1;
            if job.status == JobStatus::CancelRequested {
                continue;
            }
            let next = if job.runtime_pid.is_none() && !job.status.holds_resources() {
                JobStatus::Canceled
            } else {
                JobStatus::CancelRequested
            };
            self.transition(&job.name, next, Some(reason), None, Some(reason)).await?;
        }
        Ok(running)
    }

    /// Every step completed: the pipeline's named outputs are registered, and it completes.
    async fn complete_pipeline(
        &self,
        pipeline: &Job,
        plan: &PipelinePlan,
        steps: &BTreeMap<String, Job>,
    ) -> Result<()> {
        for (step_name, step) in &plan.steps {
            let Some(job) = steps.get(step_name) else { continue };
            let mut outputs = BTreeMap::new();
            for (output_name, output) in &step.outputs {
                let Some(pipeline_output) = &output.pipeline_output else { continue };
                let Some(planned) = plan.outputs.get(pipeline_output) else { continue };
                outputs.insert(
                    output_name.clone(),
                    PlannedOutput {
                        data_type: planned.data_type.clone(),
                        mode: output.mode.clone(),
                        register_name: planned.register_name.clone(),
                        register_version: planned.register_version.clone(),
                    },
                );
            }
            if outputs.values().all(|output| output.register_name.is_none()) {
                continue;
            }
            let owner = self.outputs_job(job.clone()).await?;
            let registering = JobPlan { outputs, ..self.plan_of(job)? };
            if let Err(error) = self.register_outputs_of(&owner, &registering).await {
                let message = format!("registering the pipeline's outputs failed: {}", error.message);
                self.sweep_log(pipeline, &format!("failed: {message}")).await;
                self.transition(&pipeline.name, JobStatus::Failed, Some(&message), None, Some(&message)).await?;
                return Ok(());
            }
        }
        let reused = steps.values().filter(|job| job.reused_from.is_some()).count();
        let message = format!("{} steps completed ({reused} reused)", steps.len());
        if self.transition(&pipeline.name, JobStatus::Completed, Some(&message), None, None).await?.is_some() {
            self.sweep_log(pipeline, &format!("Completed: {message}")).await;
        }
        Ok(())
    }

    /// Makes a step's job: queued, or completed at once when an earlier run can stand for it.
    async fn start_step(
        &self,
        pipeline: &Job,
        plan: &PipelinePlan,
        step_name: &str,
        steps: &BTreeMap<String, Job>,
    ) -> Result<Job> {
        let step = plan.steps.get(step_name).ok_or_else(|| Error::internal(format!("no step '{step_name}'")))?;
        let name = step_job_name(&pipeline.name, step_name);
        let mut inputs = BTreeMap::new();
        for (input_name, input) in &step.inputs {
            let planned = match input {
                StepInput::Submitted { input } => input.clone(),
                StepInput::Step { step: upstream, output, data_type, mode } => {
                    let job = steps.get(upstream).ok_or_else(|| {
                        Error::internal(format!("step '{step_name}' started before step '{upstream}'"))
                    })?;
                    let owner = self.outputs_job(job.clone()).await?;
                    PlannedInput::Data {
                        data_type: data_type.clone(),
                        mode: mode.clone(),
                        uri: Some(output_uri(&owner.name, output)),
                    }
                }
            };
            inputs.insert(input_name.clone(), planned);
        }
        let base = plan.artifact_uri.strip_suffix(&format!("{}/artifacts", pipeline.name)).ok_or_else(|| {
            Error::internal(format!("pipeline '{}' has an unexpected artifact location", pipeline.name))
        })?;
        let body = &step.definition.body;
        let job_plan = JobPlan {
            job: name.clone(),
            workspace: plan.workspace.clone(),
            experiment_id: plan.experiment_id.clone(),
            experiment_name: plan.experiment_name.clone(),
            artifact_uri: format!("{base}{name}/artifacts"),
            // A sweep step's plan is its trials' template: the searched inputs are its search space.
            command: match step.is_sweep() {
                true => atelier_spec::search_inputs(&body.command, &step.search_space),
                false => body.command.clone(),
            },
            inputs,
            outputs: step
                .outputs
                .iter()
                .map(|(output_name, output)| {
                    let planned = PlannedOutput {
                        data_type: output.data_type.clone(),
                        mode: output.mode.clone(),
                        register_name: None,
                        register_version: None,
                    };
                    (output_name.clone(), planned)
                })
                .collect(),
            environment: step.definition.environment.clone(),
            environment_variables: step.environment_variables.clone(),
            process_count: super::submit::processes_of(
                body.instance_count,
                body.process_count_per_instance,
                body.tensorflow.as_ref(),
            )
            .0,
            tensorflow: super::submit::processes_of(
                body.instance_count,
                body.process_count_per_instance,
                body.tensorflow.as_ref(),
            )
            .1,
            instance_count: body.instance_count,
            distributed: body.process_count_per_instance.is_some() && !body.mpi,
            mpi: body.mpi,
            timeout_seconds: step.timeout_seconds,
            snapshot: step.snapshot.clone(),
        };
        // A sweep's trials are drawn afresh: a sweep step is never reused.
        let reuse_key = match step.is_deterministic && !plan.force_rerun && !step.is_sweep() {
            true => Some(self.reuse_key(&pipeline.workspace, step, &job_plan).await?),
            false => None,
        };
        let reused = match &reuse_key {
            Some(key) => self.store.reusable_job(&pipeline.workspace, key).await?,
            None => None,
        };
        self.create_step_job(pipeline, step_name, step, &job_plan, reuse_key, reused.as_ref()).await
    }

    /// Stores a step's job and its run (a child of the pipeline's). A reused step is stored
    /// completed, naming the job whose outputs it has.
    async fn create_step_job(
        &self,
        pipeline: &Job,
        step_name: &str,
        step: &PlannedStep,
        plan: &JobPlan,
        reuse_key: Option<String>,
        reused: Option<&Job>,
    ) -> Result<Job> {
        let name = plan.job.clone();
        let plan_text =
            serde_json::to_string(plan).map_err(|error| Error::internal(format!("encoding a plan failed: {error}")))?;
        let now = now_millis();
        let display = step.display_name.clone().unwrap_or_else(|| step_name.to_owned());
        let original = reused.map(|job| self.original_of(job));
        let (status, run_status, events) = match &original {
            Some(original) => {
                let message = format!("reused from job {original}");
                let mut events = queued_events(now);
                events.push(JobEvent { status: JobStatus::Completed, time: now, message: Some(message) });
                (JobStatus::Completed, RunStatus::Finished, events)
            }
            None => (JobStatus::Queued, RunStatus::Scheduled, queued_events(now)),
        };
        let run = RunInfo {
            artifact_uri: plan.artifact_uri.clone(),
            run_id: RunId::parse(&name)?,
            workspace: pipeline.workspace.clone(),
            experiment_id: pipeline.experiment_id,
            run_name: display.clone(),
            user_id: pipeline.created_by.clone(),
            status: run_status,
            start_time: Some(now),
            end_time: original.as_ref().map(|_| now),
            lifecycle_stage: LifecycleStage::Active,
        };
        let mut tags = pipeline.tags.clone();
        tags.extend(step.tags.clone());
        let mut run_tags = job_run_tags(&tags, &display, &pipeline.created_by, &name);
        run_tags.push(Tag::new("mlflow.parentRunId", pipeline.name.clone()));
        run_tags.push(Tag::new("azureml.pipeline_step", step_name));
        if let Some(original) = &original {
            run_tags.push(Tag::new("azureml.reused_from", original.clone()));
        }
        let job = Job {
            name: name.clone(),
            display_name: Some(display),
            description: None,
            kind: if step.is_sweep() { JobKind::Sweep } else { JobKind::Command },
            parent: Some(pipeline.name.clone()),
            trial: None,
            step: Some(step_name.to_owned()),
            reused_from: original.clone(),
            reuse_key,
            compute: step.compute.clone(),
            status,
            priority: pipeline.priority,
            resources: ResourceRequest { cpus: step.cpus, memory_mb: step.memory_mb, gpus: step.gpus },
            tags,
            plan: plan_text,
            snapshot: step.snapshot.clone(),
            created_at: now,
            exit_code: original.as_ref().map(|_| 0),
            error: None,
            warnings: Vec::new(),
            archived: false,
            runtime_pid: None,
            runtime_start: None,
            assigned_gpus: Vec::new(),
            heartbeat_at: None,
            cluster_state: None,
            events,
            submission: None,
            ..pipeline.clone()
        };
        let mut references = Vec::new();
        if original.is_none() && !plan.outputs.is_empty() {
            references.push(format!("{}/", output_uri(&name, "").trim_end_matches('/')));
        }
        if let Some(snapshot) = &step.snapshot {
            references.push(format!("code:{snapshot}/"));
        }
        let unusable = hex::encode(rand::random::<[u8; 32]>());
        let job = self.store.create_job(&job, &run, &run_tags, &[], &unusable, &references).await?;
        if original.is_none() {
            self.wake_scheduler();
        }
        Ok(job)
    }

    /// The job that ran for `job`: itself, or the job it was reused from.
    fn original_of(&self, job: &Job) -> String {
        job.reused_from.clone().unwrap_or_else(|| job.name.clone())
    }

    /// A step's reuse key ([`PlannedStep::reuse_key`]) over the identity of each input the
    /// step's job receives.
    async fn reuse_key(
        &self,
        workspace: &atelier_core::names::WorkspaceName,
        step: &PlannedStep,
        plan: &JobPlan,
    ) -> Result<String> {
        let mut identities = BTreeMap::new();
        for (name, input) in &plan.inputs {
            let identity = match input {
                PlannedInput::Literal { value } => format!("literal:{value:?}"),
                PlannedInput::Data { data_type, mode, uri: None } => format!("data:{data_type}:{mode}:none"),
                PlannedInput::Data { data_type, mode, uri: Some(uri) } => {
                    format!("data:{data_type}:{mode}:{}", self.data_identity(workspace, uri).await?)
                }
            };
            identities.insert(name.clone(), identity);
        }
        Ok(step.reuse_key(&identities))
    }

    /// What identifies the data at a URI: the content hash of each file where the server
    /// stored them (uploads and jobs' outputs), else each file's path and size; a model by its
    /// (immutable) version.
    async fn data_identity(&self, workspace: &atelier_core::names::WorkspaceName, uri: &str) -> Result<String> {
        if uri.starts_with("azureml:") && !uri.starts_with("azureml://") {
            return Ok(uri.to_owned());
        }
        if let Some(rest) = uri.strip_prefix("runs:/") {
            // A run's artifacts are taken as they were when it ended.
            let run_id = RunId::parse(rest.split_once('/').map_or(rest, |(run, _)| run))?;
            let run = self.store.get_run(&run_id).await?;
            return Ok(format!("{uri}|{:?}|{:?}", run.info.status, run.info.end_time));
        }
        let location = self.data_location(workspace, uri).await?;
        let files = self.located_file_hashes(workspace, &location).await?;
        Ok(format!("{files:?}"))
    }
}

/// Why a pipeline failed: the steps that failed, else those canceled (by someone else than
/// the pipeline, which cancels its steps only after one has failed).
fn not_completed(broken: &[&Job]) -> String {
    let failed: Vec<&str> =
        broken.iter().filter(|job| job.status == JobStatus::Failed).filter_map(|job| job.step.as_deref()).collect();
    let names: Vec<&str> =
        if failed.is_empty() { broken.iter().filter_map(|job| job.step.as_deref()).collect() } else { failed };
    let noun = if names.len() == 1 { "step" } else { "steps" };
    format!("{noun} {} did not complete", names.join(", "))
}

//! What `show` adds to a parent job's answer: a sweep's progress and best trial, a pipeline's
//! steps and the edges between them.

use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A pipeline's graph and where each step stands.
#[derive(Serialize, ToSchema)]
pub struct PipelineDto {
    /// How many steps are in each status (`NotStarted` for those that have no job yet).
    steps_by_status: BTreeMap<String, usize>,
    steps: BTreeMap<String, PipelineStepDto>,
    edges: Vec<PipelineEdgeDto>,
}

/// One step of a pipeline.
#[derive(Serialize, ToSchema)]
pub struct PipelineStepDto {
    /// The step's job, once it has one.
    job: Option<String>,
    /// The job's status, or `NotStarted`.
    status: String,
    /// The job whose outputs the step reused, when it did not run.
    reused_from: Option<String>,
    /// The registered component it runs (`name:version`), if any.
    component: Option<String>,
    /// Its depth in the graph: 0 for a step that depends on none.
    depth: usize,
}

/// A step's output bound to another step's input.
#[derive(Serialize, ToSchema)]
pub struct PipelineEdgeDto {
    from: String,
    output: String,
    to: String,
    input: String,
}

impl From<atelier_service::PipelineView> for PipelineDto {
    fn from(view: atelier_service::PipelineView) -> Self {
        let mut steps = BTreeMap::new();
        let mut steps_by_status: BTreeMap<String, usize> = BTreeMap::new();
        for (name, step) in &view.plan.steps {
            let job = view.steps.get(name);
            let status = job.map_or("NotStarted", |job| job.status.as_str()).to_owned();
            *steps_by_status.entry(status.clone()).or_default() += 1;
            let dto = PipelineStepDto {
                job: job.map(|job| job.name.clone()),
                status,
                reused_from: job.and_then(|job| job.reused_from.clone()),
                component: step.component.clone(),
                depth: view.plan.depth.get(name).copied().unwrap_or(0),
            };
            steps.insert(name.clone(), dto);
        }
        let edges = view
            .plan
            .edges
            .iter()
            .map(|edge| PipelineEdgeDto {
                from: edge.from.clone(),
                output: edge.output.clone(),
                to: edge.to.clone(),
                input: edge.input.clone(),
            })
            .collect();
        PipelineDto { steps_by_status, steps, edges }
    }
}

/// A sweep's progress and its best trial.
#[derive(Serialize, ToSchema)]
pub struct SweepDto {
    primary_metric: String,
    /// `maximize` or `minimize`.
    goal: String,
    max_total_trials: u32,
    max_concurrent_trials: u32,
    /// How many trials are in each status.
    trials: BTreeMap<String, usize>,
    best_trial: Option<BestTrialDto>,
}

/// The trial with the best primary metric so far.
#[derive(Serialize, ToSchema)]
pub struct BestTrialDto {
    name: String,
    /// Its primary metric's latest value.
    value: f64,
    /// Its sampled values.
    values: BTreeMap<String, String>,
}

impl From<atelier_service::SweepView> for SweepDto {
    fn from(view: atelier_service::SweepView) -> Self {
        let mut trials: BTreeMap<String, usize> = BTreeMap::new();
        for trial in &view.trials {
            *trials.entry(trial.job.status.as_str().to_owned()).or_default() += 1;
        }
        let best_trial = view.best_trial().map(|best| BestTrialDto {
            name: best.job.name.clone(),
            value: best.objective.unwrap_or(f64::NAN),
            values: best.values.clone(),
        });
        let settings = view.settings;
        SweepDto {
            primary_metric: settings.primary_metric,
            goal: settings.goal.as_str().to_owned(),
            max_total_trials: settings.max_total_trials,
            max_concurrent_trials: settings.max_concurrent_trials,
            trials,
            best_trial,
        }
    }
}

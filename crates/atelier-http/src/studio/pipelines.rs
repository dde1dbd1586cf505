//! The pipeline part of a job's page: the graph of its steps (left to right by depth, each
//! coloured by its status, reused steps marked, edges labelled by the output and input they
//! join), and a table of the steps with their jobs. Refreshed live while the pipeline runs.

use super::session::urlencode;
use atelier_charts::{DagEdge, DagNode, render_dag};
use atelier_core::Error;
use atelier_core::job::Job;
use atelier_core::names::WorkspaceName;
use atelier_service::{Principal, Service};

pub(crate) struct StepRow {
    pub name: String,
    pub job: String,
    pub status: String,
    pub component: String,
    /// The job it reused, when it did not run.
    pub reused_from: String,
}

pub(crate) struct PipelineSection {
    pub graph: String,
    pub steps: Vec<StepRow>,
    /// `3 of 5 steps completed (1 reused)`.
    pub summary: String,
}

pub(crate) async fn pipeline_section(
    service: &Service,
    principal: &Principal,
    workspace: &WorkspaceName,
    job: &Job,
) -> Result<PipelineSection, Error> {
    let view = service.get_pipeline(principal, workspace, &job.name).await?;
    let mut nodes = Vec::new();
    let mut steps = Vec::new();
    for name in &view.plan.order {
        let step_job = view.steps.get(name);
        let status = step_job.map_or("NotStarted", |job| job.status.as_str()).to_owned();
        nodes.push(DagNode {
            name: name.clone(),
            depth: view.plan.depth.get(name).copied().unwrap_or(0),
            status: status.clone(),
            link: step_job.map(|job| format!("/w/{workspace}/jobs/{}", urlencode(&job.name))),
            reused: step_job.is_some_and(|job| job.reused_from.is_some()),
        });
        steps.push(StepRow {
            name: name.clone(),
            job: step_job.map(|job| job.name.clone()).unwrap_or_default(),
            status,
            component: view.plan.steps.get(name).and_then(|step| step.component.clone()).unwrap_or_default(),
            reused_from: step_job.and_then(|job| job.reused_from.clone()).unwrap_or_default(),
        });
    }
    let edges: Vec<DagEdge> = view
        .plan
        .edges
        .iter()
        .map(|edge| DagEdge {
            from: edge.from.clone(),
            output: edge.output.clone(),
            to: edge.to.clone(),
            input: edge.input.clone(),
        })
        .collect();
    let completed = steps.iter().filter(|step| step.status == "Completed").count();
    let reused = steps.iter().filter(|step| !step.reused_from.is_empty()).count();
    Ok(PipelineSection {
        graph: render_dag(&nodes, &edges, &format!("the steps of pipeline {}", job.name)),
        summary: format!("{completed} of {} steps completed ({reused} reused)", steps.len()),
        steps,
    })
}

//! What a pipeline's DAG and its steps' components must agree on: the order the steps run in,
//! and each binding's type against the input or output it feeds.

use super::{Binding, Dag, Edge, InlineCommand, OutputBinding, PipelineJob, Step, StepComponent, known};
use crate::SpecError;
use crate::component::{ComponentBody, ComponentInput, ComponentOutput};
use crate::job::JobInput;
use std::collections::{BTreeMap, BTreeSet};

/// The DAG of a pipeline: a topological order (steps of equal depth by name), or the cycle.
pub(super) fn dag_of(job: &PipelineJob) -> Result<Dag, SpecError> {
    let mut edges = Vec::new();
    for step in job.steps.values() {
        for (input, binding) in &step.inputs {
            if let Binding::StepOutput { step: from, output } = binding {
                edges.push(Edge {
                    from: from.clone(),
                    output: output.clone(),
                    to: step.name.clone(),
                    input: input.clone(),
                });
            }
        }
    }
    edges.sort();
    let mut depth: BTreeMap<String, usize> = BTreeMap::new();
    let mut order = Vec::new();
    let mut remaining: BTreeSet<&str> = job.steps.keys().map(String::as_str).collect();
    while !remaining.is_empty() {
        let ready: Vec<&str> = remaining
            .iter()
            .copied()
            .filter(|step| edges.iter().filter(|edge| edge.to == *step).all(|edge| depth.contains_key(&edge.from)))
            .collect();
        if ready.is_empty() {
            return Err(cycle_error(job, &edges, &remaining));
        }
        for step in ready {
            let level =
                edges.iter().filter(|edge| edge.to == step).map(|edge| depth[&edge.from] + 1).max().unwrap_or(0);
            depth.insert(step.to_owned(), level);
            remaining.remove(step);
            order.push(step.to_owned());
        }
    }
    order.sort_by_key(|step| (depth[step], step.clone()));
    Ok(Dag { order, edges, depth })
}

/// The error for a cycle among `remaining`: the steps on it, in order, at the input that
/// closes it.
fn cycle_error(job: &PipelineJob, edges: &[Edge], remaining: &BTreeSet<&str>) -> SpecError {
    // Walk back from any remaining step along edges between remaining steps until a step repeats.
    let Some(start) = remaining.iter().next() else { return job.error("jobs", "the steps form a cycle") };
    let mut path: Vec<&str> = vec![start];
    loop {
        let current = path[path.len() - 1];
        let Some(edge) = edges.iter().find(|edge| edge.to == current && remaining.contains(edge.from.as_str())) else {
            return job.error("jobs", "the steps form a cycle");
        };
        if let Some(at) = path.iter().position(|step| *step == edge.from) {
            let mut cycle: Vec<&str> = path[at..].to_vec();
            cycle.reverse();
            cycle.push(cycle[0]);
            let field = format!("jobs.{}.inputs.{}", edge.to, edge.input);
            return job.error(&field, format!("the steps {} form a cycle", cycle.join(" → ")));
        }
        path.push(&edge.from);
    }
}

/// Whether an output of type `output` may feed an input of type `input`: the same type, or a
/// folder into a folder-shaped input (`uri_folder`, `mltable`, a model).
fn fits(output: &str, input: &str) -> bool {
    const FOLDERS: [&str; 4] = ["uri_folder", "mltable", "mlflow_model", "custom_model"];
    output == input || (FOLDERS.contains(&output) && FOLDERS.contains(&input))
}

/// Checks a pipeline against its steps' components: `interfaces` holds the component of every
/// step that runs one (file or registered). Returns the DAG, and each step's interface (an
/// inline step's inferred from its bindings).
pub fn check_pipeline(
    job: &PipelineJob,
    interfaces: &BTreeMap<String, ComponentBody>,
) -> Result<(Dag, BTreeMap<String, ComponentBody>), SpecError> {
    let dag = dag_of(job)?;
    let mut resolved: BTreeMap<String, ComponentBody> = BTreeMap::new();
    for step_name in &dag.order {
        let step = &job.steps[step_name];
        let prefix = format!("jobs.{step_name}");
        let body = match &step.component {
            StepComponent::Inline(inline) => infer_interface(job, step, inline, &resolved)?,
            _ => interfaces
                .get(step_name)
                .cloned()
                .ok_or_else(|| job.error(&format!("{prefix}.component"), "the step's component was not read"))?,
        };
        for (input_name, binding) in &step.inputs {
            let field = format!("{prefix}.inputs.{input_name}");
            let Some(input) = body.inputs.get(input_name) else {
                return Err(job.error(
                    &field,
                    format!("the step's component has no input '{input_name}'{}", known(body.inputs.keys())),
                ));
            };
            check_binding(job, &field, input, binding, &resolved)?;
        }
        let searched = |name: &str| step.sweep.as_ref().is_some_and(|sweep| sweep.search_space.contains_key(name));
        if let Some(sweep) = &step.sweep {
            super::sweep_step::check_search_space(step, sweep, &body, |field, message| job.error(field, message))?;
        }
        for (input_name, input) in &body.inputs {
            if !input.optional
                && input.default.is_none()
                && !step.inputs.contains_key(input_name)
                && !searched(input_name)
            {
                return Err(job.error(
                    &prefix,
                    format!("the component's required input '{input_name}' ({}) has no value in this step", input.kind),
                ));
            }
        }
        for (output_name, binding) in &step.outputs {
            let field = format!("{prefix}.outputs.{output_name}");
            let Some(output) = body.outputs.get(output_name) else {
                return Err(job.error(
                    &field,
                    format!("the step's component has no output '{output_name}'{}", known(body.outputs.keys())),
                ));
            };
            if let OutputBinding::ParentOutput(name) = binding
                && let Some(parent) = job.outputs.get(name)
                && !fits(&output.kind, &parent.kind)
            {
                return Err(job.error(
                    &field,
                    format!("a {} output cannot be the pipeline's {} output '{name}'", output.kind, parent.kind),
                ));
            }
        }
        resolved.insert(step_name.clone(), body);
    }
    // Every pipeline output is some step's.
    for name in job.outputs.keys() {
        let bound = job
            .steps
            .values()
            .any(|step| step.outputs.values().any(|binding| *binding == OutputBinding::ParentOutput(name.clone())));
        if !bound {
            return Err(job.error(
                &format!("outputs.{name}"),
                "no step's output is bound to it: bind one with ${{parent.outputs.<name>}}",
            ));
        }
    }
    Ok((dag, resolved))
}

fn check_binding(
    job: &PipelineJob,
    field: &str,
    input: &ComponentInput,
    binding: &Binding,
    resolved: &BTreeMap<String, ComponentBody>,
) -> Result<(), SpecError> {
    let mismatch = |what: &str| job.error(field, format!("{what} cannot feed the {} input", input.kind));
    match binding {
        Binding::Literal(value) => {
            if input.is_data() {
                return Err(job.error(
                    field,
                    format!(
                        "the {} input takes data (a data object, ${{{{parent.inputs.<name>}}}} or a step's output), not the value '{value}'",
                        input.kind
                    ),
                ));
            }
            input.check_value(value).map(|_| ()).map_err(|message| job.error(field, message))
        }
        Binding::Data { kind, .. } => {
            if !input.is_data() || !fits(kind, &input.kind) {
                return Err(mismatch(&format!("a {kind} data input")));
            }
            Ok(())
        }
        Binding::ParentInput(name) => match &job.inputs[name] {
            JobInput::Literal { value, .. } => {
                if input.is_data() {
                    return Err(mismatch(&format!("the pipeline's literal input '{name}'")));
                }
                match value {
                    Some(value) => input
                        .check_value(value)
                        .map(|_| ())
                        .map_err(|message| job.error(field, format!("the pipeline's input '{name}': {message}"))),
                    None => Ok(()),
                }
            }
            JobInput::Asset { kind, .. } => {
                if !input.is_data() || !fits(kind, &input.kind) {
                    return Err(mismatch(&format!("the pipeline's {kind} input '{name}'")));
                }
                Ok(())
            }
        },
        Binding::StepOutput { step, output } => {
            let Some(upstream) = resolved.get(step) else {
                return Err(job.error(field, format!("step '{step}' is not read yet")));
            };
            let Some(produced) = upstream.outputs.get(output) else {
                return Err(job.error(
                    field,
                    format!("step '{step}' has no output '{output}'{}", known(upstream.outputs.keys())),
                ));
            };
            if !input.is_data() || !fits(&produced.kind, &input.kind) {
                return Err(mismatch(&format!("step '{step}''s {} output '{output}'", produced.kind)));
            }
            Ok(())
        }
    }
}

/// An inline step's interface: each input typed by what it is bound to, each output a
/// `uri_folder` unless its object says otherwise.
fn infer_interface(
    job: &PipelineJob,
    step: &Step,
    inline: &InlineCommand,
    resolved: &BTreeMap<String, ComponentBody>,
) -> Result<ComponentBody, SpecError> {
    let mut inputs = BTreeMap::new();
    for (name, binding) in &step.inputs {
        let field = format!("jobs.{}.inputs.{name}", step.name);
        let kind = match binding {
            Binding::Literal(_) => "string".to_owned(),
            Binding::Data { kind, .. } => kind.clone(),
            Binding::ParentInput(parent) => match &job.inputs[parent] {
                JobInput::Literal { .. } => "string".to_owned(),
                JobInput::Asset { kind, .. } => kind.clone(),
            },
            Binding::StepOutput { step: upstream, output } => resolved
                .get(upstream)
                .and_then(|body| body.outputs.get(output))
                .map(|produced| produced.kind.clone())
                .ok_or_else(|| job.error(&field, format!("step '{upstream}' has no output '{output}'")))?,
        };
        let optional = matches!(binding, Binding::ParentInput(parent) if job.inputs[parent].optional());
        let input = ComponentInput {
            kind,
            description: None,
            default: None,
            optional,
            min: None,
            max: None,
            allowed: Vec::new(),
        };
        inputs.insert(name.clone(), input);
    }
    let outputs = step
        .outputs
        .iter()
        .map(|(name, binding)| {
            let (kind, mode) = match binding {
                OutputBinding::Own { kind, mode } => (kind.clone(), mode.clone()),
                OutputBinding::ParentOutput(parent) => (
                    job.outputs.get(parent).map(|output| output.kind.clone()),
                    job.outputs.get(parent).map(|o| o.mode.clone()),
                ),
                OutputBinding::Default => (None, None),
            };
            let output = ComponentOutput {
                kind: kind.unwrap_or_else(|| "uri_folder".to_owned()),
                description: None,
                mode: mode.unwrap_or_else(|| "rw_mount".to_owned()),
            };
            (name.clone(), output)
        })
        .collect();
    Ok(ComponentBody {
        command: inline.command.clone(),
        inputs,
        outputs,
        environment_variables: BTreeMap::new(),
        instance_count: 1,
        instance_type: None,
        cpu: None,
        memory_gb: None,
        gpu_count: None,
        process_count_per_instance: inline.process_count_per_instance,
        tensorflow: inline.tensorflow,
        mpi: inline.mpi,
    })
}

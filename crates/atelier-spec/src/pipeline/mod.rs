//! The pipeline job (`type: pipeline`) of Azure ML's CLI v2 YAML: steps (`jobs.<step>`) that
//! run a component (a file, a registered version, or an inline command), wired together by
//! bindings.
//!
//! ```text
//! step input   := literal | data object | "${{parent.inputs." NAME "}}"
//!                 | "${{parent.jobs." STEP ".outputs." NAME "}}"
//! step output  := (empty) | output object | "${{parent.outputs." NAME "}}"
//! ```
//!
//! The DAG comes from the bindings alone. Reading a file ([`parse_pipeline_job`]) checks what the
//! file says by itself: fields, binding syntax, names of steps and of the pipeline's inputs and
//! outputs, and cycles. What needs the components' interfaces (an input the component lacks, a
//! required input without a value, a `uri_folder` output bound to an `integer` input) is
//! checked by [`check_pipeline`] once the caller has them: the CLI for the files it reads, the
//! server for every step. Each mistake names the step, the field and its line.

use crate::component::ComponentBody;
use crate::fields::{check_input, check_output, distribution_of, environment_of, resources_of};
use crate::job::{
    JobInput, JobOutput, RawDistribution, RawEnvironment, RawInput, RawOutput, RawResources, placeholders, positive,
};
use crate::{Scalar, SpecError};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::{BTreeMap, BTreeSet};

mod check;
mod plan;
mod sweep_step;

pub use check::check_pipeline;
use check::dag_of;
pub use plan::{PipelineOutputPlan, PipelinePlan, PlannedStep, StepInput, StepOutput};

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    #[serde(default)]
    default_compute: Option<Spanned<String>>,
    #[serde(default)]
    default_datastore: Option<Spanned<String>>,
    #[serde(default)]
    continue_on_step_failure: Option<bool>,
    #[serde(default)]
    force_rerun: Option<bool>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    #[serde(rename = "type")]
    kind: Spanned<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    experiment_name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, Scalar>,
    #[serde(default)]
    compute: Option<Spanned<String>>,
    #[serde(default)]
    settings: Option<RawSettings>,
    #[serde(default)]
    inputs: BTreeMap<String, Spanned<RawInput>>,
    #[serde(default)]
    outputs: BTreeMap<String, Spanned<Option<RawOutput>>>,
    #[serde(default)]
    jobs: BTreeMap<String, Spanned<RawStep>>,
}

#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum RawStepOutput {
    Binding(String),
    Object(RawOutput),
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawStep {
    #[serde(rename = "type", default)]
    kind: Option<Spanned<String>>,
    #[serde(default)]
    component: Option<Spanned<String>>,
    #[serde(default)]
    command: Option<Spanned<String>>,
    #[serde(default)]
    code: Option<Spanned<String>>,
    #[serde(default)]
    environment: Option<Spanned<RawEnvironment>>,
    #[serde(default)]
    inputs: BTreeMap<String, Spanned<RawInput>>,
    #[serde(default)]
    outputs: BTreeMap<String, Spanned<Option<RawStepOutput>>>,
    #[serde(default)]
    compute: Option<Spanned<String>>,
    #[serde(default)]
    resources: Option<RawResources>,
    #[serde(default)]
    distribution: Option<Spanned<RawDistribution>>,
    #[serde(default)]
    environment_variables: BTreeMap<String, Scalar>,
    #[serde(default)]
    limits: Option<crate::sweep::RawLimits>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, Scalar>,
    // A sweep step's.
    #[serde(default)]
    trial: Option<Spanned<String>>,
    #[serde(default)]
    search_space: Option<Spanned<BTreeMap<String, Spanned<crate::sweep::RawExpression>>>>,
    #[serde(default)]
    sampling_algorithm: Option<Spanned<crate::sweep::RawSampling>>,
    #[serde(default)]
    objective: Option<Spanned<crate::sweep::RawObjective>>,
    #[serde(default)]
    early_termination: Option<Spanned<crate::sweep::RawTermination>>,
}

/// Where a step's component comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum StepComponent {
    /// A component file, relative to the pipeline file (`./train.yml`, `file:./train.yml`).
    File(String),
    /// A registered version: `azureml:name:version`, `azureml:name@latest` or `azureml:name`.
    Registered(String),
    /// A command written in the step itself; its interface is inferred from its bindings.
    Inline(InlineCommand),
}

/// An inline step's command, as a command job writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct InlineCommand {
    pub command: String,
    pub code: Option<String>,
    pub environment: Option<String>,
    pub inline_environment: Option<(Option<String>, Option<serde_json::Value>)>,
    pub process_count_per_instance: Option<i64>,
    pub tensorflow: Option<crate::fields::TensorflowDistribution>,
    pub mpi: bool,
}

/// What a step input is bound to.
#[derive(Debug, Clone, PartialEq)]
pub enum Binding {
    /// A literal value.
    Literal(String),
    /// `${{parent.inputs.<name>}}`.
    ParentInput(String),
    /// `${{parent.jobs.<step>.outputs.<output>}}`: an edge of the DAG.
    StepOutput { step: String, output: String },
    /// A data object (`{type: uri_folder, path: azureml:iris@latest}`).
    Data { kind: String, path: String, mode: String },
}

/// What a step output is bound to.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputBinding {
    /// Empty: a folder of the step's own, on the default datastore.
    Default,
    /// An output object: its type and mode.
    Own { kind: Option<String>, mode: Option<String> },
    /// `${{parent.outputs.<name>}}`: the pipeline's output is this step's.
    ParentOutput(String),
}

/// A step of a pipeline, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub name: String,
    pub component: StepComponent,
    pub inputs: BTreeMap<String, Binding>,
    pub outputs: BTreeMap<String, OutputBinding>,
    /// The compute, overriding `settings.default_compute`.
    pub compute: Option<String>,
    pub instance_count: Option<i64>,
    pub instance_type: Option<String>,
    pub cpu: Option<f64>,
    pub memory_gb: Option<f64>,
    pub gpu_count: Option<i64>,
    pub environment_variables: BTreeMap<String, String>,
    /// `limits.timeout`, seconds; for a sweep step, `limits.trial_timeout` (each trial's).
    pub timeout: Option<i64>,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// A sweep step's settings (`type: sweep`): its component runs as the trials of a sweep,
    /// with the search space's values as inputs; `None` for a command step.
    pub sweep: Option<crate::sweep::SweepSettings>,
}

impl Step {
    /// The step as a command job, for the checks a command job's compute and resources get:
    /// its compute (the step's, else the pipeline's default, else `local`), its resources over
    /// its component's, its command and environment variables. Lines are the step's.
    pub fn as_command_job(&self, job: &PipelineJob, body: &ComponentBody) -> crate::CommandJob {
        let prefix = format!("jobs.{}", self.name);
        let mut lines = BTreeMap::new();
        for field in ["compute", "resources", "resources.instance_type"] {
            let line = match job.line_of(&format!("{prefix}.{field}")) {
                0 => job.line_of(&prefix),
                line => line,
            };
            lines.insert(field.to_owned(), line);
        }
        let mut environment_variables = body.environment_variables.clone();
        environment_variables.extend(self.environment_variables.clone());
        crate::CommandJob {
            name: None,
            display_name: self.display_name.clone(),
            experiment_name: job.experiment_name.clone(),
            description: self.description.clone(),
            tags: self.tags.clone(),
            code: None,
            command: body.command.clone(),
            inputs: BTreeMap::new(),
            outputs: BTreeMap::new(),
            environment: None,
            inline_environment: None,
            environment_variables,
            compute: self.compute.clone().or_else(|| job.default_compute.clone()).unwrap_or_else(|| "local".to_owned()),
            instance_count: self.instance_count.unwrap_or(body.instance_count),
            instance_type: self.instance_type.clone().or_else(|| body.instance_type.clone()),
            cpu: self.cpu.or(body.cpu),
            memory_gb: self.memory_gb.or(body.memory_gb),
            gpu_count: self.gpu_count.or(body.gpu_count),
            priority: 2,
            process_count_per_instance: body.process_count_per_instance,
            tensorflow: body.tensorflow,
            mpi: body.mpi,
            timeout: self.timeout,
            lines,
        }
    }
}

/// A pipeline job file, read.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineJob {
    pub name: Option<String>,
    pub display_name: Option<String>,
    /// The file's folder name when the file names none, as Azure ML does.
    pub experiment_name: String,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// `settings.default_compute` (or the top-level `compute`), without `azureml:`.
    pub default_compute: Option<String>,
    pub default_datastore: Option<String>,
    /// Whether independent steps keep running after a step fails (default: no, the pipeline
    /// stops and cancels what runs).
    pub continue_on_step_failure: bool,
    /// No step is reused, and this pipeline's steps are never reused later.
    pub force_rerun: bool,
    pub inputs: BTreeMap<String, JobInput>,
    pub outputs: BTreeMap<String, JobOutput>,
    pub steps: BTreeMap<String, Step>,
    /// The line of each field (`jobs.<step>`, `jobs.<step>.inputs.<name>`, `inputs.<name>`, …).
    pub lines: BTreeMap<String, u64>,
}

impl PipelineJob {
    /// The line a field is on, 0 when unknown.
    pub fn line_of(&self, field: &str) -> u64 {
        self.lines.get(field).copied().unwrap_or(0)
    }

    /// A mistake about a field, with its line.
    pub fn error(&self, field: &str, message: impl Into<String>) -> SpecError {
        SpecError::new(field, self.line_of(field), message)
    }
}

/// An edge of a pipeline's DAG: a step's output bound to another step's input.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Edge {
    pub from: String,
    pub output: String,
    pub to: String,
    pub input: String,
}

/// A pipeline's graph: its steps in an order where each comes after those it depends on, the
/// edges, and each step's depth (0 for a step that depends on none).
#[derive(Debug, Clone, PartialEq)]
pub struct Dag {
    pub order: Vec<String>,
    pub edges: Vec<Edge>,
    pub depth: BTreeMap<String, usize>,
}

impl Dag {
    /// The steps a step waits for.
    pub fn upstream(&self, step: &str) -> BTreeSet<&str> {
        self.edges.iter().filter(|edge| edge.to == step).map(|edge| edge.from.as_str()).collect()
    }
}

fn valid_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 255
}

/// Reads a `${{…}}` binding; `None` for text that is not one.
fn binding_of(text: &str) -> Option<Result<Vec<&str>, String>> {
    let inner = text.trim().strip_prefix("${{")?.strip_suffix("}}")?.trim();
    let parts: Vec<&str> = inner.split('.').collect();
    if parts.first() != Some(&"parent") {
        return Some(Err(format!(
            "'{text}': a binding in a pipeline step is ${{{{parent.inputs.<name>}}}}, ${{{{parent.outputs.<name>}}}} or ${{{{parent.jobs.<step>.outputs.<name>}}}}"
        )));
    }
    Some(Ok(parts))
}

fn compute_name(spanned: &Spanned<String>, field: &str) -> Result<String, SpecError> {
    let text = spanned.value.trim();
    let name = text.strip_prefix("azureml:").unwrap_or(text);
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(SpecError::new(
            field,
            spanned.referenced.line(),
            format!("compute '{text}': expected a compute's name, as azureml:<name> or <name>"),
        ));
    }
    Ok(name.to_owned())
}

/// Reads a pipeline job file: every field, every binding's syntax and target, and the DAG's
/// shape (no cycle).
pub fn parse_pipeline_job(text: &str, folder_name: &str) -> Result<PipelineJob, SpecError> {
    let raw: RawPipeline = serde_saphyr::from_str(text).map_err(|error| SpecError::from_yaml(error, "pipeline"))?;
    if raw.kind.value != "pipeline" {
        return Err(SpecError::new("type", raw.kind.referenced.line(), "expected 'pipeline'"));
    }
    let mut lines = BTreeMap::new();
    let settings = raw.settings.unwrap_or_default();
    let default_compute = match settings.default_compute.as_ref().or(raw.compute.as_ref()) {
        Some(spanned) => {
            lines.insert("settings.default_compute".to_owned(), spanned.referenced.line());
            Some(compute_name(spanned, "settings.default_compute")?)
        }
        None => None,
    };
    let default_datastore = match &settings.default_datastore {
        Some(spanned) => {
            let text = spanned.value.trim();
            let name = text.strip_prefix("azureml:").unwrap_or(text);
            if name != atelier_core::data::DEFAULT_DATASTORE {
                return Err(SpecError::new(
                    "settings.default_datastore",
                    spanned.referenced.line(),
                    format!(
                        "datastore '{text}': pipeline outputs are kept on the workspace's default datastore, azureml:{}",
                        atelier_core::data::DEFAULT_DATASTORE
                    ),
                ));
            }
            Some(name.to_owned())
        }
        None => None,
    };

    let mut inputs = BTreeMap::new();
    for (name, spanned) in &raw.inputs {
        let field = format!("inputs.{name}");
        lines.insert(field.clone(), spanned.referenced.line());
        if !valid_name(name) {
            return Err(SpecError::new(&field, spanned.referenced.line(), "expected letters, digits and _"));
        }
        inputs.insert(name.clone(), check_input(&field, spanned)?);
    }
    let mut outputs = BTreeMap::new();
    for (name, spanned) in &raw.outputs {
        let field = format!("outputs.{name}");
        let line = spanned.referenced.line();
        lines.insert(field.clone(), line);
        if !valid_name(name) {
            return Err(SpecError::new(&field, line, "expected letters, digits and _"));
        }
        let output = match &spanned.value {
            Some(raw_output) => check_output(&field, line, raw_output)?,
            None => check_output(
                &field,
                line,
                &RawOutput { kind: None, path: None, mode: None, name: None, version: None, description: None },
            )?,
        };
        outputs.insert(name.clone(), output);
    }

    if raw.jobs.is_empty() {
        return Err(SpecError::new("jobs", 0, "a pipeline needs at least one step under 'jobs'"));
    }
    let step_names: Vec<String> = raw.jobs.keys().cloned().collect();
    let mut steps = BTreeMap::new();
    for (step_name, spanned) in raw.jobs {
        let prefix = format!("jobs.{step_name}");
        lines.insert(prefix.clone(), key_line_at_or_before(text, spanned.referenced.line(), &step_name));
        if !valid_name(&step_name) {
            return Err(SpecError::new(
                &prefix,
                spanned.referenced.line(),
                format!("invalid step name '{step_name}': expected a letter or _, then letters, digits and _"),
            ));
        }
        let step = read_step(&step_name, spanned.value, spanned.referenced.line(), &mut lines)?;
        for (input_name, binding) in &step.inputs {
            let field = format!("{prefix}.inputs.{input_name}");
            let line = lines.get(&field).copied().unwrap_or(0);
            match binding {
                Binding::ParentInput(name) if !inputs.contains_key(name) => {
                    return Err(SpecError::new(
                        field,
                        line,
                        format!("the pipeline has no input '{name}'{}", known(inputs.keys())),
                    ));
                }
                Binding::StepOutput { step, .. } if !step_names.contains(step) => {
                    return Err(SpecError::new(
                        field,
                        line,
                        format!("the pipeline has no step '{step}' (its steps: {})", step_names.join(", ")),
                    ));
                }
                Binding::StepOutput { step, .. } if *step == step_name => {
                    return Err(SpecError::new(field, line, "a step cannot take its own output"));
                }
                _ => {}
            }
        }
        for (output_name, binding) in &step.outputs {
            let field = format!("{prefix}.outputs.{output_name}");
            if let OutputBinding::ParentOutput(name) = binding
                && !outputs.contains_key(name)
            {
                return Err(SpecError::new(
                    &field,
                    lines.get(&field).copied().unwrap_or(0),
                    format!("the pipeline has no output '{name}'{}", known(outputs.keys())),
                ));
            }
        }
        steps.insert(step_name.clone(), step);
    }
    // A pipeline output is one step's.
    let mut bound: BTreeMap<&str, &str> = BTreeMap::new();
    for step in steps.values() {
        for (output_name, binding) in &step.outputs {
            if let OutputBinding::ParentOutput(name) = binding
                && let Some(other) = bound.insert(name, &step.name)
            {
                let field = format!("jobs.{}.outputs.{output_name}", step.name);
                return Err(SpecError::new(
                    &field,
                    lines.get(&field).copied().unwrap_or(0),
                    format!("the pipeline's output '{name}' is already step '{other}''s"),
                ));
            }
        }
    }

    let job = PipelineJob {
        name: raw.name,
        display_name: raw.display_name,
        experiment_name: raw.experiment_name.unwrap_or_else(|| folder_name.to_owned()),
        description: raw.description,
        tags: raw.tags.iter().map(|(key, value)| (key.clone(), value.text())).collect(),
        default_compute,
        default_datastore,
        continue_on_step_failure: settings.continue_on_step_failure.unwrap_or(false),
        force_rerun: settings.force_rerun.unwrap_or(false),
        inputs,
        outputs,
        steps,
        lines,
    };
    dag_of(&job)?;
    Ok(job)
}

/// The line of `key:` at or before `line` (where its value starts): a block mapping's value
/// starts on a line after its key.
fn key_line_at_or_before(text: &str, line: u64, key: &str) -> u64 {
    let prefix = format!("{key}:");
    let lines: Vec<&str> = text.lines().collect();
    let mut at = usize::try_from(line).unwrap_or(0).min(lines.len());
    while at > 0 {
        if lines[at - 1].trim_start().starts_with(&prefix) {
            return at as u64;
        }
        at -= 1;
    }
    line
}

fn known<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() { " (it has none)".to_owned() } else { format!(" (it has {})", names.join(", ")) }
}

fn read_step(
    step_name: &str,
    mut raw: RawStep,
    step_line: u64,
    lines: &mut BTreeMap<String, u64>,
) -> Result<Step, SpecError> {
    let prefix = format!("jobs.{step_name}");
    let field_of = |field: &str| format!("{prefix}.{field}");
    let is_sweep = match &raw.kind {
        None => false,
        Some(kind) => match kind.value.as_str() {
            "command" => false,
            "sweep" => true,
            other => {
                return Err(SpecError::new(
                    field_of("type"),
                    kind.referenced.line(),
                    format!("step type '{other}' is not supported: expected command or sweep"),
                ));
            }
        },
    };
    let sections = crate::sweep::SweepSections {
        search_space: raw.search_space.take(),
        sampling_algorithm: raw.sampling_algorithm.take(),
        objective: raw.objective.take(),
        limits: raw.limits.take(),
        early_termination: raw.early_termination.take(),
    };
    let timeout_of = |limits: Option<&crate::sweep::RawLimits>, field: &str| {
        let seconds = limits.and_then(|limits| match field {
            "limits.timeout" => limits.timeout.as_ref(),
            _ => limits.trial_timeout.as_ref(),
        });
        positive(&field_of(field), seconds)
    };
    // A sweep step's component is its `trial`; its own `limits.timeout` is the whole sweep's.
    let (sweep, timeout) = if is_sweep {
        for (present, field) in [(raw.component.is_some(), "component"), (raw.command.is_some(), "command")] {
            if present {
                return Err(SpecError::new(
                    field_of(field),
                    step_line,
                    format!("a sweep step runs the component its 'trial' names, not a {field}"),
                ));
            }
        }
        let Some(trial) = raw.trial.take() else {
            return Err(SpecError::new(&prefix, step_line, "a sweep step needs a 'trial': the component it tunes"));
        };
        raw.component = Some(trial);
        let timeout = timeout_of(sections.limits.as_ref(), "limits.trial_timeout")?;
        if let Some(space) = &sections.search_space {
            for (name, expression) in &space.value {
                lines.insert(field_of(&format!("search_space.{name}")), expression.referenced.line());
            }
        }
        (Some(sweep_step::sweep_settings(&prefix, sections)?), timeout)
    } else {
        if let Some(trial) = &raw.trial {
            return Err(SpecError::new(
                field_of("trial"),
                trial.referenced.line(),
                "only a sweep step (type: sweep) takes a trial: a command step names its 'component'",
            ));
        }
        sweep_step::refuse_sweep_sections(&prefix, step_line, &sections)?;
        (None, timeout_of(sections.limits.as_ref(), "limits.timeout")?)
    };
    let component = match (&raw.component, &raw.command) {
        (Some(_), Some(command)) => {
            return Err(SpecError::new(
                field_of("command"),
                command.referenced.line(),
                "a step runs either a component or its own command, not both",
            ));
        }
        (None, None) => {
            return Err(SpecError::new(&prefix, step_line, "a step needs a 'component' or a 'command'"));
        }
        (Some(component), None) => {
            lines.insert(field_of("component"), component.referenced.line());
            for (present, field) in [(raw.code.is_some(), "code"), (raw.environment.is_some(), "environment")] {
                if present {
                    return Err(SpecError::new(
                        field_of(field),
                        component.referenced.line(),
                        format!("a step that runs a component takes its {field} from the component"),
                    ));
                }
            }
            let text = component.value.trim();
            if text.starts_with("azureml:") {
                check_component_reference(text)
                    .map_err(|message| SpecError::new(field_of("component"), component.referenced.line(), message))?;
                StepComponent::Registered(text.to_owned())
            } else {
                let path = text.strip_prefix("file:").unwrap_or(text);
                if path.is_empty() || path.contains("://") {
                    return Err(SpecError::new(
                        field_of("component"),
                        component.referenced.line(),
                        format!(
                            "component '{text}': expected a component file (./train.yml) or azureml:<name>:<version>, azureml:<name>@latest"
                        ),
                    ));
                }
                StepComponent::File(path.to_owned())
            }
        }
        (None, Some(command)) => {
            lines.insert(field_of("command"), command.referenced.line());
            if let Some(code) = &raw.code {
                lines.insert(field_of("code"), code.referenced.line());
            }
            if let Some(environment) = &raw.environment {
                lines.insert(field_of("environment"), environment.referenced.line());
            }
            let (environment, inline_environment) = environment_of(raw.environment.as_ref())
                .map_err(|error| SpecError::new(field_of("environment"), error.line, error.message))?;
            let found = placeholders(&command.value)
                .map_err(|message| SpecError::new(field_of("command"), command.referenced.line(), message))?;
            for placeholder in &found {
                let known = match placeholder.section.as_str() {
                    "inputs" => raw.inputs.contains_key(&placeholder.name),
                    "outputs" => raw.outputs.contains_key(&placeholder.name),
                    _ => false,
                };
                if !known {
                    return Err(SpecError::new(
                        field_of("command"),
                        command.referenced.line(),
                        format!(
                            "${{{{{}.{}}}}} names no {} of this step",
                            placeholder.section,
                            placeholder.name,
                            placeholder.section.trim_end_matches('s')
                        ),
                    ));
                }
            }
            let distribution = distribution_of(raw.distribution.as_ref(), &field_of)?;
            StepComponent::Inline(InlineCommand {
                command: command.value.clone(),
                code: raw.code.as_ref().map(|code| code.value.clone()),
                environment,
                inline_environment,
                process_count_per_instance: distribution.process_count_per_instance,
                tensorflow: distribution.tensorflow,
                mpi: distribution.mpi,
            })
        }
    };
    if raw.component.is_some() && raw.distribution.is_some() {
        return Err(SpecError::new(
            field_of("distribution"),
            step_line,
            "a step that runs a component takes its distribution from the component",
        ));
    }

    let mut inputs = BTreeMap::new();
    for (input_name, spanned) in &raw.inputs {
        let field = field_of(&format!("inputs.{input_name}"));
        let line = spanned.referenced.line();
        lines.insert(field.clone(), line);
        let binding = match &spanned.value {
            RawInput::Literal(Scalar::Text(text)) if text.contains("${{") => match binding_of(text) {
                None => {
                    return Err(SpecError::new(
                        &field,
                        line,
                        format!("'{text}': a binding is the whole value, e.g. ${{{{parent.inputs.<name>}}}}"),
                    ));
                }
                Some(Err(message)) => return Err(SpecError::new(&field, line, message)),
                Some(Ok(parts)) => match parts.as_slice() {
                    ["parent", "inputs", name] => Binding::ParentInput((*name).to_owned()),
                    ["parent", "jobs", step, "outputs", output] => {
                        Binding::StepOutput { step: (*step).to_owned(), output: (*output).to_owned() }
                    }
                    _ => {
                        return Err(SpecError::new(
                            &field,
                            line,
                            format!(
                                "'{text}': a step input binds ${{{{parent.inputs.<name>}}}} or ${{{{parent.jobs.<step>.outputs.<name>}}}}"
                            ),
                        ));
                    }
                },
            },
            RawInput::Literal(value) => Binding::Literal(value.text()),
            RawInput::Typed(_) => match check_input(&field, spanned)? {
                JobInput::Literal { value: Some(value), .. } => Binding::Literal(value),
                JobInput::Literal { value: None, .. } => {
                    return Err(SpecError::new(&field, line, "a typed literal input of a step needs a default"));
                }
                JobInput::Asset { kind, path: Some(path), mode, .. } => Binding::Data { kind, path, mode },
                JobInput::Asset { .. } => {
                    return Err(SpecError::new(&field, line, "a data input of a step needs a path"));
                }
            },
        };
        inputs.insert(input_name.clone(), binding);
    }

    let mut outputs = BTreeMap::new();
    for (output_name, spanned) in &raw.outputs {
        let field = field_of(&format!("outputs.{output_name}"));
        let line = spanned.referenced.line();
        lines.insert(field.clone(), line);
        let binding = match &spanned.value {
            None => OutputBinding::Default,
            Some(RawStepOutput::Binding(text)) => match binding_of(text) {
                Some(Ok(parts)) => match parts.as_slice() {
                    ["parent", "outputs", name] => OutputBinding::ParentOutput((*name).to_owned()),
                    _ => {
                        return Err(SpecError::new(
                            &field,
                            line,
                            format!("'{text}': a step output binds ${{{{parent.outputs.<name>}}}}"),
                        ));
                    }
                },
                Some(Err(message)) => return Err(SpecError::new(&field, line, message)),
                None => {
                    return Err(SpecError::new(
                        &field,
                        line,
                        format!("'{text}': expected ${{{{parent.outputs.<name>}}}}, an output object, or nothing"),
                    ));
                }
            },
            Some(RawStepOutput::Object(object)) => {
                let checked = check_output(&field, line, object)?;
                if object.name.is_some() || object.version.is_some() {
                    return Err(SpecError::new(
                        &field,
                        line,
                        "a step output takes only a type, a mode and its default path: bind it to a pipeline output to register it",
                    ));
                }
                OutputBinding::Own {
                    kind: object.kind.as_ref().map(|_| checked.kind),
                    mode: object.mode.as_ref().map(|_| checked.mode),
                }
            }
        };
        outputs.insert(output_name.clone(), binding);
    }

    let compute = match &raw.compute {
        Some(spanned) => {
            lines.insert(field_of("compute"), spanned.referenced.line());
            Some(compute_name(spanned, &field_of("compute"))?)
        }
        None => None,
    };
    let resources = match raw.resources {
        Some(resources) => Some(resources_of(Some(resources), &field_of)?),
        None => None,
    };
    Ok(Step {
        name: step_name.to_owned(),
        component,
        inputs,
        outputs,
        compute,
        instance_count: resources.as_ref().map(|resources| resources.instance_count),
        instance_type: resources.as_ref().and_then(|resources| resources.instance_type.clone()),
        cpu: resources.as_ref().and_then(|resources| resources.cpu),
        memory_gb: resources.as_ref().and_then(|resources| resources.memory_gb),
        gpu_count: resources.as_ref().and_then(|resources| resources.gpu_count),
        environment_variables: raw
            .environment_variables
            .iter()
            .map(|(key, value)| (key.clone(), value.text()))
            .collect(),
        timeout,
        display_name: raw.display_name,
        description: raw.description,
        tags: raw.tags.iter().map(|(key, value)| (key.clone(), value.text())).collect(),
        sweep,
    })
}

/// Checks a reference to a registered component: `azureml:name:version`, `azureml:name@latest`
/// or `azureml:name` (its newest version).
pub fn check_component_reference(text: &str) -> Result<(), String> {
    let rest = text.strip_prefix("azureml:").filter(|rest| !rest.starts_with("//")).ok_or_else(|| {
        format!("component '{text}': expected azureml:<name>:<version>, azureml:<name>@latest or azureml:<name>")
    })?;
    let name = match (rest.split_once('@'), rest.split_once(':')) {
        (Some((name, "latest")), None) => name,
        (Some(_), _) => return Err(format!("component '{text}': the one label is @latest")),
        (None, Some((name, version))) if !version.is_empty() => name,
        (None, Some(_)) => return Err(format!("component '{text}': the version after ':' is missing")),
        (None, None) => rest,
    };
    crate::component::check_component_name(name).map_err(|message| format!("component '{text}': {message}"))
}

#[cfg(test)]
mod tests;

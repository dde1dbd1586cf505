//! The command job (`type: command`) of Azure ML's CLI v2 YAML.

use crate::fields::{check_input, check_output, distribution_of, environment_of, resources_of};
use crate::{Scalar, SpecError};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct TypedInput {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) path: Option<String>,
    #[serde(default)]
    pub(crate) mode: Option<String>,
    #[serde(default)]
    pub(crate) optional: Option<bool>,
    #[serde(default)]
    pub(crate) default: Option<Scalar>,
    /// Accepted, as Azure ML documents it; not used.
    #[serde(default, rename = "description")]
    pub(crate) _description: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(untagged)]
pub(crate) enum RawInput {
    Typed(TypedInput),
    Literal(Scalar),
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOutput {
    #[serde(rename = "type", default)]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) path: Option<String>,
    #[serde(default)]
    pub(crate) mode: Option<String>,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) version: Option<Scalar>,
    #[serde(default)]
    pub(crate) description: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct InlineEnvironment {
    #[serde(default)]
    pub(crate) image: Option<String>,
    #[serde(default)]
    pub(crate) conda_file: Option<serde_json::Value>,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) description: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(untagged)]
pub(crate) enum RawEnvironment {
    Reference(String),
    Inline(InlineEnvironment),
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawResources {
    #[serde(default)]
    pub(crate) instance_count: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) instance_type: Option<String>,
    #[serde(default)]
    pub(crate) properties: Option<serde_json::Value>,
    #[serde(default)]
    pub(crate) shm_size: Option<String>,
    /// Atelier's requests, for a compute on one machine: CPUs, memory and GPUs per job.
    #[serde(default)]
    pub(crate) cpu: Option<Spanned<f64>>,
    #[serde(default)]
    pub(crate) memory_gb: Option<Spanned<f64>>,
    #[serde(default)]
    pub(crate) gpu_count: Option<Spanned<i64>>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct RawQueueSettings {
    #[serde(default)]
    job_tier: Option<String>,
    #[serde(default)]
    priority: Option<Spanned<String>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDistribution {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) process_count_per_instance: Option<i64>,
    #[serde(default)]
    pub(crate) worker_count: Option<i64>,
    #[serde(default)]
    pub(crate) parameter_server_count: Option<i64>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    #[serde(default)]
    pub(crate) timeout: Option<Spanned<i64>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawJob {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    #[serde(rename = "type", default)]
    kind: Option<Spanned<String>>,
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
    code: Option<Spanned<String>>,
    #[serde(default)]
    command: Option<Spanned<String>>,
    #[serde(default)]
    inputs: BTreeMap<String, Spanned<RawInput>>,
    #[serde(default)]
    outputs: BTreeMap<String, Spanned<RawOutput>>,
    #[serde(default)]
    environment: Option<Spanned<RawEnvironment>>,
    #[serde(default)]
    environment_variables: BTreeMap<String, Scalar>,
    #[serde(default)]
    compute: Option<Spanned<String>>,
    #[serde(default)]
    resources: Option<RawResources>,
    #[serde(default)]
    distribution: Option<Spanned<RawDistribution>>,
    #[serde(default)]
    limits: Option<RawLimits>,
    #[serde(default)]
    queue_settings: Option<RawQueueSettings>,
}

/// An input of a job.
#[derive(Debug, Clone, PartialEq)]
pub enum JobInput {
    /// A literal value (`lr: 0.01`, or a typed `string`/`number`/`integer`/`boolean` input).
    Literal { value: Option<String>, optional: bool },
    /// Data or a model: `uri_file`, `uri_folder`, `mltable`, `mlflow_model`, `custom_model`.
    Asset { kind: String, path: Option<String>, mode: String, optional: bool },
}

impl JobInput {
    pub(crate) fn has_value(&self) -> bool {
        match self {
            JobInput::Literal { value, .. } => value.is_some(),
            JobInput::Asset { path, .. } => path.is_some(),
        }
    }

    pub(crate) fn optional(&self) -> bool {
        match self {
            JobInput::Literal { optional, .. } | JobInput::Asset { optional, .. } => *optional,
        }
    }
}

/// An output of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutput {
    /// `uri_folder` (the default), `uri_file`, `mlflow_model` or `custom_model`.
    pub kind: String,
    /// `rw_mount` (the default) or `upload`. (Its place is the job's folder on the default
    /// datastore: a `path` may only name that one.)
    pub mode: String,
    /// Register the output as this asset when the job completes.
    pub name: Option<String>,
    pub version: Option<String>,
}

/// A command job, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandJob {
    pub name: Option<String>,
    pub display_name: Option<String>,
    /// The file's folder name when the file names none, as Azure ML does.
    pub experiment_name: String,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub code: Option<String>,
    pub command: String,
    pub inputs: BTreeMap<String, JobInput>,
    pub outputs: BTreeMap<String, JobOutput>,
    /// `azureml:name:version`, `azureml:name@latest`, or `None` for the built-in environment.
    pub environment: Option<String>,
    /// An inline environment: its image and conda file.
    pub inline_environment: Option<(Option<String>, Option<serde_json::Value>)>,
    pub environment_variables: BTreeMap<String, String>,
    /// The compute's name: `local` unless the file names another (`azureml:<name>`).
    pub compute: String,
    pub instance_count: i64,
    /// `resources.instance_type`, an Azure VM size, when given.
    pub instance_type: Option<String>,
    /// `resources.cpu`, `resources.memory_gb`, `resources.gpu_count`.
    pub cpu: Option<f64>,
    pub memory_gb: Option<f64>,
    pub gpu_count: Option<i64>,
    /// `queue_settings.priority`: 1 (low), 2 (medium, the default) or 3 (high).
    pub priority: i64,
    /// `pytorch` (or `mpi`) processes per instance, when distributed.
    pub process_count_per_instance: Option<i64>,
    /// `distribution: tensorflow`.
    pub tensorflow: Option<crate::fields::TensorflowDistribution>,
    /// `distribution: mpi`: `mpirun` starts the processes.
    pub mpi: bool,
    /// Seconds.
    pub timeout: Option<i64>,
    /// The line each field's value starts on (`compute`, `environment`, `inputs.<name>`, …),
    /// for checks made after parsing (an unknown compute, an unresolvable reference).
    pub lines: BTreeMap<String, u64>,
}

impl CommandJob {
    /// The line a field is on, 0 when unknown.
    pub fn line_of(&self, field: &str) -> u64 {
        self.lines.get(field).copied().unwrap_or(0)
    }
}

/// The line of `key` in the block mapping whose first entry is on line `first` (1-based): the
/// entries at that entry's indentation, until the text leaves the mapping. A flow mapping
/// (`{type: uri_file, path: x}`) is one line.
pub(crate) fn key_line(text: &str, first: u64, key: &str) -> Option<u64> {
    let indentation = |line: &str| line.len() - line.trim_start().len();
    let mut entries = text.lines().enumerate().skip(usize::try_from(first).ok()?.checked_sub(1)?);
    let (_, first_text) = entries.next()?;
    let prefix = format!("{key}:");
    if first_text.trim_start().starts_with('{') || first_text.contains('{') {
        return first_text.contains(&prefix).then_some(first);
    }
    let base = indentation(first_text);
    if first_text.trim_start().starts_with(&prefix) {
        return Some(first);
    }
    for (index, line) in entries {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let at = indentation(line);
        if at < base {
            return None;
        }
        if at == base && trimmed.starts_with(&prefix) {
            return u64::try_from(index + 1).ok();
        }
    }
    None
}

pub(crate) const LITERAL_TYPES: [&str; 4] = ["string", "integer", "number", "boolean"];
pub(crate) const ASSET_INPUT_TYPES: [&str; 5] = ["uri_file", "uri_folder", "mltable", "mlflow_model", "custom_model"];
pub(crate) const INPUT_MODES: [&str; 5] = ["ro_mount", "download", "direct", "eval_mount", "eval_download"];
pub(crate) const OUTPUT_TYPES: [&str; 4] = ["uri_folder", "uri_file", "mlflow_model", "custom_model"];
pub(crate) const OUTPUT_MODES: [&str; 2] = ["rw_mount", "upload"];

/// A placeholder of a command: which section, which name, and whether it is inside `$[[ ]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placeholder {
    pub section: String,
    pub name: String,
    pub optional_block: bool,
}

/// The placeholders of a command, in order; an error for one that is not closed or names
/// neither inputs nor outputs.
pub(crate) fn placeholders(command: &str) -> Result<Vec<Placeholder>, String> {
    let mut found = Vec::new();
    let mut rest = command;
    let mut in_block = false;
    loop {
        let next_placeholder = rest.find("${{");
        let next_open = if in_block { None } else { rest.find("$[[") };
        let next_close = if in_block { rest.find("]]") } else { None };
        let candidates = [next_placeholder, next_open, next_close];
        let Some(at) = candidates.iter().flatten().min().copied() else {
            if in_block {
                return Err("an optional block '$[[' is not closed with ']]'".to_owned());
            }
            return Ok(found);
        };
        if Some(at) == next_open {
            in_block = true;
            rest = &rest[at + 3..];
        } else if Some(at) == next_close {
            in_block = false;
            rest = &rest[at + 2..];
        } else {
            let after = &rest[at + 3..];
            let end = after.find("}}").ok_or_else(|| "a placeholder '${{' is not closed with '}}'".to_owned())?;
            let inner = after[..end].trim();
            let (section, name) = inner.split_once('.').unwrap_or((inner, ""));
            if !matches!(section, "inputs" | "outputs" | "search_space") || name.is_empty() {
                return Err(format!(
                    "placeholder '${{{{{inner}}}}}' must be ${{{{inputs.<name>}}}}, ${{{{outputs.<name>}}}} or, in a sweep's trial, ${{{{search_space.<name>}}}}"
                ));
            }
            found.push(Placeholder { section: section.to_owned(), name: name.to_owned(), optional_block: in_block });
            rest = &after[end + 2..];
        }
    }
}

pub(crate) fn positive(field: &str, value: Option<&Spanned<i64>>) -> Result<Option<i64>, SpecError> {
    match value {
        Some(spanned) if spanned.value < 1 => Err(SpecError::new(
            field,
            spanned.referenced.line(),
            format!("must be a whole number of at least 1, got {}", spanned.value),
        )),
        Some(spanned) => Ok(Some(spanned.value)),
        None => Ok(None),
    }
}

/// Reads and checks a command job file. `folder_name` is the name of the file's folder, the
/// experiment name when the file gives none.
pub fn parse_command_job(text: &str, folder_name: &str) -> Result<CommandJob, SpecError> {
    let raw: RawJob = serde_saphyr::from_str(text).map_err(|error| SpecError::from_yaml(error, "job"))?;
    check_command_job(raw, text, folder_name, None)
}

/// The sections of a sweep job file that make its trials' command job: `trial` (the command,
/// code, environment, variables, resources and distribution) and the job's own names, inputs,
/// outputs and compute. The sweep's own sections are read by [`crate::sweep`].
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawSweepJob {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    #[serde(rename = "type")]
    _kind: String,
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
    trial: Option<Spanned<RawTrial>>,
    #[serde(default)]
    inputs: BTreeMap<String, Spanned<RawInput>>,
    #[serde(default)]
    outputs: BTreeMap<String, Spanned<RawOutput>>,
    #[serde(default)]
    compute: Option<Spanned<String>>,
    #[serde(default)]
    queue_settings: Option<RawQueueSettings>,
    /// Accepted as Azure writes it; jobs here run as their submitter.
    #[serde(default, rename = "identity")]
    _identity: Option<serde::de::IgnoredAny>,
    // Read by the sweep's own parser.
    #[serde(default, rename = "search_space")]
    _search_space: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "sampling_algorithm")]
    _sampling_algorithm: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "objective")]
    _objective: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "limits")]
    _limits: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "early_termination")]
    _early_termination: Option<serde::de::IgnoredAny>,
}

/// A sweep's `trial`: Azure's command-job template.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawTrial {
    #[serde(default)]
    code: Option<Spanned<String>>,
    #[serde(default)]
    command: Option<Spanned<String>>,
    #[serde(default)]
    environment: Option<Spanned<RawEnvironment>>,
    #[serde(default)]
    environment_variables: BTreeMap<String, Scalar>,
    #[serde(default)]
    resources: Option<RawResources>,
    #[serde(default)]
    distribution: Option<Spanned<RawDistribution>>,
}

/// Reads the command job each trial of a sweep runs: the `trial` section with the sweep's
/// names, inputs, outputs and compute, whose command may use `${{search_space.<name>}}` for
/// each hyperparameter of `search_space`. `trial_timeout` becomes each trial's timeout.
pub(crate) fn parse_sweep_trial(
    text: &str,
    folder_name: &str,
    search_space: &atelier_core::sweep::space::SearchSpace,
    trial_timeout: Option<u64>,
) -> Result<CommandJob, SpecError> {
    let raw: RawSweepJob = serde_saphyr::from_str(text).map_err(|error| SpecError::from_yaml(error, "job"))?;
    let Some(trial) = raw.trial else {
        return Err(SpecError::new("trial", 0, "a sweep job needs a 'trial': the command job each trial runs"));
    };
    let trial_line = trial.referenced.line();
    let trial = trial.value;
    let Some(command) = trial.command else {
        return Err(SpecError::new("trial.command", trial_line, "a sweep's trial needs a 'command'"));
    };
    let job = RawJob {
        _schema: None,
        kind: None,
        name: raw.name,
        display_name: raw.display_name,
        experiment_name: raw.experiment_name,
        description: raw.description,
        tags: raw.tags,
        code: trial.code,
        command: Some(command),
        inputs: raw.inputs,
        outputs: raw.outputs,
        environment: trial.environment,
        environment_variables: trial.environment_variables,
        compute: raw.compute,
        resources: trial.resources,
        distribution: trial.distribution,
        limits: None,
        queue_settings: raw.queue_settings,
    };
    let mut job = check_command_job(job, text, folder_name, Some(search_space))?;
    job.timeout = trial_timeout.map(|seconds| i64::try_from(seconds).unwrap_or(i64::MAX));
    Ok(job)
}

/// Checks a command job read from `text`; `search_space` is the sweep's when this is a trial.
fn check_command_job(
    raw: RawJob,
    text: &str,
    folder_name: &str,
    search_space: Option<&atelier_core::sweep::space::SearchSpace>,
) -> Result<CommandJob, SpecError> {
    let in_trial = search_space.is_some();
    let field_of = |field: &str| if in_trial { format!("trial.{field}") } else { field.to_owned() };

    if let Some(kind) = &raw.kind
        && kind.value != "command"
    {
        return Err(SpecError::new(
            "type",
            kind.referenced.line(),
            format!("job type '{}' is not supported here: expected 'command'", kind.value),
        ));
    }
    let Some(command) = raw.command else {
        return Err(SpecError::new("command", 0, "a command job needs a 'command'"));
    };

    let mut inputs = BTreeMap::new();
    for (name, spanned) in &raw.inputs {
        let input = check_input(&format!("inputs.{name}"), spanned)?;
        if !input.optional() && !input.has_value() {
            return Err(SpecError::new(
                format!("inputs.{name}"),
                spanned.referenced.line(),
                "a required input needs a value (or a path); mark it optional: true otherwise",
            ));
        }
        inputs.insert(name.clone(), input);
    }

    let mut outputs = BTreeMap::new();
    for (name, spanned) in &raw.outputs {
        outputs
            .insert(name.clone(), check_output(&format!("outputs.{name}"), spanned.referenced.line(), &spanned.value)?);
    }

    let command_line = command.referenced.line();
    let found =
        placeholders(&command.value).map_err(|message| SpecError::new(field_of("command"), command_line, message))?;
    for placeholder in &found {
        let what = format!("${{{{{}.{}}}}}", placeholder.section, placeholder.name);
        let command_field = field_of("command");
        if placeholder.section == "search_space" {
            match search_space {
                None => {
                    return Err(SpecError::new(
                        command_field,
                        command_line,
                        format!("{what} is for the trial command of a sweep job (type: sweep)"),
                    ));
                }
                Some(space) if !space.contains_key(&placeholder.name) => {
                    let names: Vec<&str> = space.keys().map(String::as_str).collect();
                    return Err(SpecError::new(
                        command_field,
                        command_line,
                        format!("{what} names no hyperparameter of search_space (it has {})", names.join(", ")),
                    ));
                }
                Some(_) => continue,
            }
        }
        if placeholder.section == "outputs" {
            if !outputs.contains_key(&placeholder.name) {
                return Err(SpecError::new(command_field, command_line, format!("{what} names no output of this job")));
            }
            continue;
        }
        match inputs.get(&placeholder.name) {
            None => {
                return Err(SpecError::new(command_field, command_line, format!("{what} names no input of this job")));
            }
            Some(input) if !input.has_value() && !placeholder.optional_block => {
                return Err(SpecError::new(
                    command_field,
                    command_line,
                    format!("{what} is an optional input without a value: put it inside $[[ ... ]]"),
                ));
            }
            Some(_) => {}
        }
    }

    let mut lines = BTreeMap::new();
    let compute = match &raw.compute {
        None => "local".to_owned(),
        Some(spanned) => {
            lines.insert("compute".to_owned(), spanned.referenced.line());
            let text = spanned.value.trim();
            let name = text.strip_prefix("azureml:").unwrap_or(text);
            let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid {
                return Err(SpecError::new(
                    "compute",
                    spanned.referenced.line(),
                    format!("compute '{text}': expected a compute's name, as azureml:<name> or <name>"),
                ));
            }
            name.to_owned()
        }
    };
    for (name, spanned) in &raw.inputs {
        let line = spanned.referenced.line();
        lines.insert(format!("inputs.{name}"), line);
        if let RawInput::Typed(TypedInput { path: Some(_), .. }) = &spanned.value
            && let Some(path_line) = key_line(text, line, "path")
        {
            lines.insert(format!("inputs.{name}.path"), path_line);
        }
    }
    for (name, spanned) in &raw.outputs {
        lines.insert(format!("outputs.{name}"), spanned.referenced.line());
    }
    if let Some(spanned) = &raw.environment {
        lines.insert("environment".to_owned(), spanned.referenced.line());
    }
    if let Some(spanned) = &raw.code {
        lines.insert("code".to_owned(), spanned.referenced.line());
    }

    let (environment, inline_environment) = environment_of(raw.environment.as_ref())?;
    let resources = resources_of(raw.resources, &field_of)?;
    let queue = raw.queue_settings.unwrap_or_default();
    let _ = &queue.job_tier;
    let priority = match &queue.priority {
        None => 2,
        Some(spanned) => match spanned.value.to_ascii_lowercase().as_str() {
            "low" => 1,
            "medium" => 2,
            "high" => 3,
            other => {
                return Err(SpecError::new(
                    "queue_settings.priority",
                    spanned.referenced.line(),
                    format!("invalid priority '{other}': expected low, medium or high"),
                ));
            }
        },
    };
    let distribution = distribution_of(raw.distribution.as_ref(), &field_of)?;
    let timeout = positive("limits.timeout", raw.limits.unwrap_or_default().timeout.as_ref())?;

    Ok(CommandJob {
        name: raw.name,
        display_name: raw.display_name,
        experiment_name: raw.experiment_name.unwrap_or_else(|| folder_name.to_owned()),
        description: raw.description,
        tags: raw.tags.iter().map(|(key, value)| (key.clone(), value.text())).collect(),
        code: raw.code.map(|code| code.value),
        command: command.value,
        inputs,
        outputs,
        environment,
        inline_environment,
        environment_variables: raw
            .environment_variables
            .iter()
            .map(|(key, value)| (key.clone(), value.text()))
            .collect(),
        compute,
        instance_count: resources.instance_count,
        instance_type: resources.instance_type,
        cpu: resources.cpu,
        memory_gb: resources.memory_gb,
        gpu_count: resources.gpu_count,
        priority,
        process_count_per_instance: distribution.process_count_per_instance,
        tensorflow: distribution.tensorflow,
        mpi: distribution.mpi,
        timeout,
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOB: &str = r#"$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
type: command
display_name: train
code: ./src
command: >-
  python train.py --data ${{inputs.training_data}} --lr ${{inputs.lr}}
  $[[--warm ${{inputs.warm_start}}]] --out ${{outputs.model}}
inputs:
  training_data:
    type: uri_folder
    path: azureml:iris@latest
    mode: download
  lr: 0.01
  warm_start:
    type: uri_file
    optional: true
outputs:
  model:
    type: mlflow_model
    name: iris-model
environment: azureml:pydata@latest
environment_variables:
  SEED: 7
compute: azureml:local
resources:
  instance_count: 1
distribution:
  type: pytorch
  process_count_per_instance: 2
limits:
  timeout: 3600
"#;

    #[test]
    fn a_full_command_job_reads() {
        let job = parse_command_job(JOB, "iris").unwrap();
        assert_eq!(job.experiment_name, "iris");
        assert_eq!(job.inputs["lr"], JobInput::Literal { value: Some("0.01".into()), optional: false });
        assert_eq!(
            job.inputs["training_data"],
            JobInput::Asset {
                kind: "uri_folder".into(),
                path: Some("azureml:iris@latest".into()),
                mode: "download".into(),
                optional: false
            }
        );
        assert_eq!(job.outputs["model"].mode, "rw_mount");
        assert_eq!(job.outputs["model"].name.as_deref(), Some("iris-model"));
        assert_eq!(job.environment.as_deref(), Some("azureml:pydata@latest"));
        assert_eq!(job.environment_variables["SEED"], "7");
        assert_eq!((job.compute.as_str(), job.process_count_per_instance, job.timeout), ("local", Some(2), Some(3600)));
    }

    fn error_of(text: &str) -> SpecError {
        parse_command_job(text, "folder").unwrap_err()
    }

    #[test]
    fn an_inputs_path_has_its_own_line() {
        let text = "command: python t.py --d ${{inputs.data}} --f ${{inputs.flow}}\ninputs:\n  data:\n    type: uri_file\n    # where it is\n    mode: download\n    path: azureml:iris-csv@latest\n  flow: {type: uri_file, path: ./x.csv}\n  other:\n    type: uri_folder\n    optional: true\n";
        let job = parse_command_job(text, "src").unwrap();
        assert_eq!(job.line_of("inputs.data"), 4, "the mapping's first entry");
        assert_eq!(job.line_of("inputs.data.path"), 7);
        assert_eq!(job.line_of("inputs.flow.path"), 8);
        assert_eq!(job.line_of("inputs.other.path"), 0, "no path, no line");
    }

    #[test]
    fn mistakes_name_the_field_and_the_line() {
        let unknown = error_of("type: command\ncommand: echo hi\ncomand_typo: 1\n");
        assert_eq!(unknown.line, 3, "{unknown}");
        assert!(unknown.message.contains("comand_typo"), "{unknown}");

        let undefined = error_of("type: command\ninputs:\n  a: 1\ncommand: echo ${{inputs.b}}\n");
        assert_eq!((undefined.field.as_str(), undefined.line), ("command", 4));
        assert!(undefined.message.contains("names no input"), "{undefined}");

        let output = error_of("command: echo ${{outputs.model}}\n");
        assert!(output.message.contains("names no output"), "{output}");

        let missing = error_of("command: echo ${{inputs.data}}\ninputs:\n  data:\n    type: uri_folder\n");
        assert_eq!((missing.field.as_str(), missing.line), ("inputs.data", 4), "the line where its definition starts");

        let optional =
            error_of("command: echo ${{inputs.data}}\ninputs:\n  data:\n    type: uri_folder\n    optional: true\n");
        assert!(optional.message.contains("$[["), "{optional}");

        let compute = error_of("command: echo hi\ncompute: azureml:gpu cluster\n");
        assert_eq!((compute.field.as_str(), compute.line), ("compute", 2));
        let named = parse_command_job("command: echo hi\ncompute: azureml:gpu-cluster\n", "f").unwrap();
        assert_eq!((named.compute.as_str(), named.line_of("compute")), ("gpu-cluster", 2));
        let ray = error_of("command: echo\ndistribution:\n  type: ray\n");
        assert_eq!((ray.field.as_str(), ray.line), ("distribution.type", 3));
        assert!(ray.message.contains("expected pytorch, mpi or tensorflow"), "{ray}");
        let bare_mpi = error_of("command: echo\ndistribution:\n  type: mpi\n");
        assert_eq!((bare_mpi.field.as_str(), bare_mpi.line), ("distribution.process_count_per_instance", 3));
        assert!(bare_mpi.message.contains("needs process_count_per_instance"), "{bare_mpi}");
        let mpi =
            parse_command_job("command: echo\ndistribution:\n  type: mpi\n  process_count_per_instance: 3\n", "f")
                .unwrap();
        assert_eq!((mpi.mpi, mpi.process_count_per_instance, mpi.tensorflow), (true, Some(3), None));
        let mixed = error_of("command: echo\ndistribution:\n  type: tensorflow\n  process_count_per_instance: 2\n");
        assert_eq!(mixed.field, "distribution.process_count_per_instance", "{mixed}");
        let tf = parse_command_job(
            "command: echo\ndistribution:\n  type: tensorflow\n  worker_count: 3\n  parameter_server_count: 1\n",
            "f",
        )
        .unwrap();
        let tensorflow = tf.tensorflow.unwrap();
        assert_eq!((tensorflow.workers(1), tensorflow.processes(2)), (3, Ok(4)));
        assert!(tensorflow.processes(3).is_err(), "4 processes do not spread over 3 instances");
        let priority = error_of("command: echo\nqueue_settings:\n  priority: urgent\n");
        assert_eq!((priority.field.as_str(), priority.line), ("queue_settings.priority", 3));
        let cpu = error_of("command: echo\nresources:\n  cpu: 0\n");
        assert_eq!((cpu.field.as_str(), cpu.line), ("resources.cpu", 3));

        let kind = error_of("type: sweep\ncommand: echo\n");
        assert_eq!((kind.field.as_str(), kind.line), ("type", 1));

        let mode = error_of("command: echo\ninputs:\n  d:\n    type: uri_file\n    path: x\n    mode: rw_mount\n");
        assert!(mode.message.contains("invalid mode"), "{mode}");

        let timeout = error_of("command: echo\nlimits:\n  timeout: 0\n");
        assert_eq!((timeout.field.as_str(), timeout.line), ("limits.timeout", 3));

        assert_eq!(error_of("type: command\n").field, "command");
        let environment = error_of("command: echo\nenvironment: pydata\n");
        assert!(environment.message.contains("azureml:<name>:<version>"), "{environment}");
        assert!(error_of("command: echo $[[ never closed\n").message.contains("not closed"));
    }

    #[test]
    fn placeholders_are_found_with_their_block() {
        let found = placeholders("a ${{inputs.x}} $[[b ${{inputs.y}}]] ${{outputs.z}}").unwrap();
        let summary: Vec<(&str, &str, bool)> =
            found.iter().map(|p| (p.section.as_str(), p.name.as_str(), p.optional_block)).collect();
        assert_eq!(summary, vec![("inputs", "x", false), ("inputs", "y", true), ("outputs", "z", false)]);
        assert!(placeholders("${{name}}").is_err());
        assert!(placeholders("${{inputs.x").is_err());
    }
}

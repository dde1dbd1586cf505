//! Azure ML CLI v2 YAML specs, read for Atelier: the command job, the plan a job runtime executes,
//! online endpoints and deployments, the versioned assets (models, data, environments with their
//! conda files), datastores, computes, and custom role definitions (Azure's JSON).
//!
//! The one decision that shaped this crate: every mistake in a spec is reported before anything
//! runs, with the field it is about and the line it is on. Unknown fields are errors (serde's
//! `deny_unknown_fields`, with serde-saphyr's positions), and the checks that serde cannot make
//! (a placeholder that names no input, a required input without a value, an unknown compute)
//! keep the position of the value they are about (`serde_saphyr::Spanned`).
//!
//! Placeholders in a command, as Azure ML writes them:
//!
//! ```text
//! command      := (text | placeholder | optional)*
//! placeholder  := "${{" ("inputs" | "outputs" | "search_space") "." NAME "}}"
//!                 (search_space only in a sweep's trial command)
//! optional     := "$[[" (text | placeholder)* "]]"     dropped when an input inside has no value
//! ```

use atelier_core::asset::{AssetKind, AssetRef};

pub mod assets;
pub mod component;
pub mod compute;
pub mod datastore;
pub mod endpoint;
mod fields;
pub mod instance;
pub mod job;
pub mod pipeline;
pub mod plan;
pub mod role;
pub mod schedule;
pub mod sweep;

pub use component::{ComponentDefinition, ComponentSpec, parse_component};
pub use fields::TensorflowDistribution;
pub use job::{CommandJob, JobInput, JobOutput, parse_command_job};
pub use plan::{
    BUILTIN_ENVIRONMENT, JobPlan, PlannedEnvironment, PlannedInput, PlannedOutput, TensorflowPlan, fill_search_space,
    render_command, search_inputs,
};
pub use sweep::{SweepJob, parse_sweep_job};

/// A job file of any type this server runs.
#[derive(Debug, Clone, PartialEq)]
pub enum JobSpec {
    Command(CommandJob),
    Sweep(SweepJob),
}

impl JobSpec {
    /// The command job that runs: the job itself, or a sweep's trial.
    pub fn command(&self) -> &CommandJob {
        match self {
            JobSpec::Command(job) => job,
            JobSpec::Sweep(sweep) => &sweep.trial,
        }
    }
}

/// A job file's `type`, when the text is YAML that names one.
pub fn job_type(text: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Kind {
        #[serde(rename = "type", default)]
        kind: Option<String>,
    }
    serde_saphyr::from_str::<Kind>(text).ok().and_then(|kind| kind.kind)
}

/// Whether a job file is a pipeline (`type: pipeline`), which `parse_pipeline_job` reads.
pub fn is_pipeline(text: &str) -> bool {
    job_type(text).as_deref() == Some("pipeline")
}

/// Sets the field at a dotted `path` (`inputs.lr`, `settings.default_compute`) of a YAML
/// document read as JSON, making mappings on the way (`--set`, a schedule's overrides). A
/// `tags.` path names one tag, whose key may hold dots itself.
pub fn set_field(document: &mut serde_json::Value, path: &str, value: serde_json::Value) -> Result<(), String> {
    let segments: Vec<&str> = match path.strip_prefix("tags.") {
        Some(key) => vec!["tags", key],
        None => path.split('.').collect(),
    };
    let mut current = document;
    for (index, segment) in segments.iter().enumerate() {
        let map = current
            .as_object_mut()
            .ok_or_else(|| format!("{path}: '{segment}' is inside a value that is not a mapping"))?;
        if index + 1 == segments.len() {
            map.insert((*segment).to_owned(), value);
            return Ok(());
        }
        current = map.entry((*segment).to_owned()).or_insert_with(|| serde_json::json!({}));
    }
    Ok(())
}

/// Whether a path a job file gives (an input's, a data object's) is on the client's disk,
/// to be uploaded, rather than a reference the server resolves.
pub fn is_local_path(path: &str) -> bool {
    !path.starts_with("azureml:") && !path.contains("://") && !path.starts_with("runs:/")
}

/// Reads a command or sweep job file by its `type`: `command` (the default) or `sweep`.
pub fn parse_job(text: &str, folder_name: &str) -> Result<JobSpec, SpecError> {
    match job_type(text).as_deref() {
        Some("sweep") => parse_sweep_job(text, folder_name).map(JobSpec::Sweep),
        // Anything else, a file that is not YAML included, is the command job's parser's to judge.
        _ => parse_command_job(text, folder_name).map(JobSpec::Command),
    }
}

/// A mistake in a spec: the field, the line (0 when the mistake is about the file as a whole)
/// and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{field}: {message}", if *.line > 0 { format!("line {}: ", .line) } else { String::new() })]
pub struct SpecError {
    pub field: String,
    pub line: u64,
    pub message: String,
}

impl SpecError {
    pub(crate) fn new(field: impl Into<String>, line: u64, message: impl Into<String>) -> Self {
        SpecError { field: field.into(), line, message: message.into() }
    }

    /// A file serde-saphyr could not read (bad YAML, an unknown field, a wrong type): its
    /// message's first line, which starts with "line N column M", and that line.
    pub(crate) fn from_yaml(error: serde_saphyr::Error, what: &str) -> Self {
        let message = error.to_string();
        let first = message.lines().next().unwrap_or_default().trim_start_matches("error: ").to_owned();
        let line = first
            .strip_prefix("line ")
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|digits| digits.parse().ok())
            .unwrap_or(0);
        SpecError::new(what, line, first)
    }
}

/// A YAML scalar read as text: `lr: 0.01` and `lr: "0.01"` mean the same.
#[derive(serde::Deserialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
pub(crate) enum Scalar {
    Text(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    pub(crate) fn text(&self) -> String {
        match self {
            Scalar::Text(text) => text.clone(),
            Scalar::Integer(number) => number.to_string(),
            Scalar::Float(number) => number.to_string(),
            Scalar::Bool(flag) => flag.to_string(),
        }
    }
}

/// Checks an environment reference: `azureml:<name>:<version>` or `azureml:<name>@latest`.
pub(crate) fn check_environment_reference(reference: &str, line: u64) -> Result<(), SpecError> {
    AssetRef::parse_azureml(AssetKind::Environment, reference)
        .map(|_| ())
        .map_err(|error| SpecError::new("environment", line, error.message))
}

/// Checks that each text fails to parse, naming the field and the line and saying the words.
#[cfg(test)]
pub(crate) fn assert_mistakes<T: std::fmt::Debug>(
    parse: impl Fn(&str) -> Result<T, SpecError>,
    cases: &[(&str, &str, u64, &str)],
) {
    for (text, field, line, words) in cases {
        let error = parse(text).unwrap_err();
        assert_eq!((error.field.as_str(), error.line), (*field, *line), "{text}: {error}");
        assert!(error.to_string().contains(words), "{text}: {error}");
    }
}

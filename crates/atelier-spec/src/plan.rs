//! The plan of a job: its spec with every reference resolved, as the server hands it to the job
//! runtime. It is the contract between the two (JSON on the wire, kept with the job), so a
//! runtime started on any compute needs nothing but the plan and its token.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a job runtime executes.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct JobPlan {
    /// The job's name, which is also its run's id.
    pub job: String,
    pub workspace: String,
    pub experiment_id: String,
    pub experiment_name: String,
    /// Where the job's run keeps its artifacts (`mlflow-artifacts:/<experiment>/<run>/artifacts`).
    pub artifact_uri: String,
    /// The command as written, with its `${{…}}` placeholders and `$[[…]]` blocks.
    pub command: String,
    pub inputs: BTreeMap<String, PlannedInput>,
    pub outputs: BTreeMap<String, PlannedOutput>,
    pub environment: PlannedEnvironment,
    pub environment_variables: BTreeMap<String, String>,
    /// Processes to start (`distribution.process_count_per_instance`, 1 when not distributed).
    pub process_count: i64,
    /// Nodes to run on (`resources.instance_count`; a cluster's nodes, or this machine).
    #[serde(default = "one_instance")]
    pub instance_count: i64,
    /// `distribution: tensorflow`: the workers and parameter servers (`process_count` is their
    /// sum), each process told the cluster in `TF_CONFIG`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensorflow: Option<TensorflowPlan>,
    /// Whether the job asked for `pytorch` distribution (its processes get `RANK`, …).
    pub distributed: bool,
    /// Whether the job asked for `mpi` distribution: one `mpirun` starts its `process_count`
    /// processes, over the instances.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mpi: bool,
    pub timeout_seconds: Option<i64>,
    /// The code snapshot's id, when the job has code.
    pub snapshot: Option<String>,
}

/// A tensorflow job's cluster: processes `0..workers` are its workers, the rest its parameter
/// servers.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorflowPlan {
    pub workers: i64,
    pub parameter_servers: i64,
}

fn one_instance() -> i64 {
    1
}

/// An input: a literal value, or data the runtime fetches.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlannedInput {
    Literal {
        value: Option<String>,
    },
    Data {
        /// `uri_file`, `uri_folder`, `mltable`, `mlflow_model` or `custom_model`.
        #[serde(rename = "type")]
        data_type: String,
        /// `download` or `ro_mount` (both are fetched; a mounted input is made read-only).
        mode: String,
        /// The resolved reference (`azureml://datastores/…`, `runs:/…`, `azureml:name:version`
        /// for a model), or `None` for an optional input left out.
        uri: Option<String>,
    },
}

/// An output: a folder (or file) the job writes, uploaded when it ends.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PlannedOutput {
    #[serde(rename = "type")]
    pub data_type: String,
    pub mode: String,
    /// Register the output under this asset name when the job completes.
    pub register_name: Option<String>,
    pub register_version: Option<String>,
}

/// The environment a job runs in.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PlannedEnvironment {
    /// `atelier-python` (the built-in one), `name:version`, or `inline`.
    pub name: String,
    /// Whether it is the built-in environment: the machine's Python, nothing to build.
    pub builtin: bool,
    pub python: Option<String>,
    pub requirements: Vec<String>,
    pub image: Option<String>,
}

/// The built-in environment's name.
pub const BUILTIN_ENVIRONMENT: &str = "atelier-python";

/// Writes a command's placeholders with their values: `values` maps `inputs.<name>` and
/// `outputs.<name>` to a value, or to `None` for an optional input left out. An optional block
/// `$[[ … ]]` is kept (without its brackets) when every placeholder inside has a value, and
/// dropped otherwise. The command must have been checked by [`crate::parse_command_job`].
pub fn render_command(command: &str, values: &BTreeMap<String, Option<String>>) -> String {
    let mut out = String::with_capacity(command.len());
    let mut rest = command;
    while let Some(open) = rest.find("$[[") {
        out.push_str(&fill(&rest[..open], values).unwrap_or_default());
        let after = &rest[open + 3..];
        let close = after.find("]]").unwrap_or(after.len());
        if let Some(text) = fill(&after[..close], values) {
            out.push_str(&text);
        }
        rest = after.get(close + 2..).unwrap_or_default();
    }
    out.push_str(&fill(rest, values).unwrap_or_default());
    out
}

/// Writes a sweep trial's values into its command: each `${{search_space.<name>}}` becomes the
/// value's text, in single quotes for the shell unless it is made only of letters, digits and
/// `.,:/=+-_@%`. The other placeholders stay for the runtime.
pub fn fill_search_space(command: &str, values: &BTreeMap<String, String>) -> String {
    rewrite_placeholders(command, |inner| {
        inner.strip_prefix("search_space.").and_then(|name| values.get(name)).map(|value| shell_word(value))
    })
}

/// A sweep step's trial command from its component's: each `${{inputs.<name>}}` of a searched
/// input becomes `${{search_space.<name>}}`, which [`fill_search_space`] writes for each trial.
pub fn search_inputs(command: &str, searched: &[String]) -> String {
    rewrite_placeholders(command, |inner| {
        inner
            .strip_prefix("inputs.")
            .filter(|name| searched.iter().any(|searched| searched == name))
            .map(|name| format!("${{{{search_space.{name}}}}}"))
    })
}

/// Replaces each `${{ … }}` whose trimmed inside `replace` answers for; the others stay as
/// written.
fn rewrite_placeholders(command: &str, replace: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(command.len());
    let mut rest = command;
    while let Some(at) = rest.find("${{") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 3..];
        let Some(end) = after.find("}}") else { break };
        match replace(after[..end].trim()) {
            Some(text) => out.push_str(&text),
            None => out.push_str(&rest[at..at + 3 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// A value as one shell word.
fn shell_word(value: &str) -> String {
    let plain = !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || ".,:/=+-_@%".contains(c));
    if plain { value.to_owned() } else { format!("'{}'", value.replace('\'', "'\\''")) }
}

/// Replaces the placeholders of a piece of command; `None` when one of them has no value.
fn fill(text: &str, values: &BTreeMap<String, Option<String>>) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("${{") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 3..];
        let end = after.find("}}")?;
        let key = after[..end].trim();
        out.push_str(values.get(key)?.as_deref()?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_blocks_go_with_their_inputs() {
        let command = "python t.py --lr ${{inputs.lr}} $[[--warm ${{inputs.warm}}]] --out ${{outputs.model}}";
        let mut values = BTreeMap::from([
            ("inputs.lr".to_owned(), Some("0.1".to_owned())),
            ("inputs.warm".to_owned(), None),
            ("outputs.model".to_owned(), Some("/o/model".to_owned())),
        ]);
        assert_eq!(render_command(command, &values), "python t.py --lr 0.1  --out /o/model");
        values.insert("inputs.warm".to_owned(), Some("/i/w".to_owned()));
        assert_eq!(render_command(command, &values), "python t.py --lr 0.1 --warm /i/w --out /o/model");
    }

    #[test]
    fn a_trials_values_fill_only_the_search_space() {
        let values = BTreeMap::from([
            ("lr".to_owned(), "0.01".to_owned()),
            ("kernel".to_owned(), "it's rbf; rm -rf /".to_owned()),
        ]);
        let command = "python t.py --lr ${{ search_space.lr }} --k ${{search_space.kernel}} --d ${{inputs.d}}";
        assert_eq!(
            fill_search_space(command, &values),
            "python t.py --lr 0.01 --k 'it'\\''s rbf; rm -rf /' --d ${{inputs.d}}"
        );
    }

    #[test]
    fn a_sweep_steps_searched_inputs_become_its_search_space() {
        let command =
            "python t.py --lr ${{ inputs.lr }} $[[--e ${{inputs.epochs}}]] --d ${{inputs.d}} --o ${{outputs.m}}";
        let searched = vec!["lr".to_owned(), "epochs".to_owned()];
        let trial = search_inputs(command, &searched);
        assert_eq!(
            trial,
            "python t.py --lr ${{search_space.lr}} $[[--e ${{search_space.epochs}}]] --d ${{inputs.d}} --o ${{outputs.m}}"
        );
        let values = BTreeMap::from([("lr".to_owned(), "0.1".to_owned()), ("epochs".to_owned(), "5".to_owned())]);
        let filled = fill_search_space(&trial, &values);
        let rendered = render_command(
            &filled,
            &BTreeMap::from([
                ("inputs.d".to_owned(), Some("/i/d".to_owned())),
                ("outputs.m".to_owned(), Some("/o/m".to_owned())),
            ]),
        );
        assert_eq!(rendered, "python t.py --lr 0.1 --e 5 --d /i/d --o /o/m");
    }

    #[test]
    fn the_plan_reads_back() {
        let plan = JobPlan {
            job: "j".into(),
            workspace: "default".into(),
            experiment_id: "1".into(),
            experiment_name: "e".into(),
            artifact_uri: "mlflow-artifacts:/1/j/artifacts".into(),
            command: "echo".into(),
            inputs: BTreeMap::from([(
                "d".to_owned(),
                PlannedInput::Data { data_type: "uri_file".into(), mode: "download".into(), uri: None },
            )]),
            outputs: BTreeMap::new(),
            environment: PlannedEnvironment {
                name: BUILTIN_ENVIRONMENT.into(),
                builtin: true,
                python: None,
                requirements: vec![],
                image: None,
            },
            environment_variables: BTreeMap::new(),
            process_count: 1,
            instance_count: 1,
            tensorflow: None,
            mpi: false,
            distributed: false,
            timeout_seconds: None,
            snapshot: None,
        };
        let text = serde_json::to_string(&plan).unwrap();
        assert!(text.contains(r#""kind":"data""#), "{text}");
        assert_eq!(serde_json::from_str::<JobPlan>(&text).unwrap(), plan);
    }
}

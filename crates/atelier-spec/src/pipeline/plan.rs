//! The plan of a pipeline: each step's component and bindings resolved when the pipeline is
//! submitted, kept with the pipeline's job. The server makes each step's [`JobPlan`] from it
//! when the step's upstream steps have completed.
//!
//! [`JobPlan`]: crate::JobPlan

use super::Edge;
use crate::component::ComponentDefinition;
use crate::plan::PlannedInput;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the server runs for a pipeline.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PipelinePlan {
    pub job: String,
    pub workspace: String,
    pub experiment_id: String,
    pub experiment_name: String,
    /// Where the pipeline's run keeps its artifacts; each step's run is beside it.
    pub artifact_uri: String,
    pub continue_on_step_failure: bool,
    pub force_rerun: bool,
    /// The pipeline's outputs: registered as assets, when named, once the pipeline completes.
    pub outputs: BTreeMap<String, PipelineOutputPlan>,
    pub steps: BTreeMap<String, PlannedStep>,
    /// The steps, each after those it depends on.
    pub order: Vec<String>,
    pub edges: Vec<Edge>,
    pub depth: BTreeMap<String, usize>,
}

/// A pipeline output: its type, and the asset it is registered as.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PipelineOutputPlan {
    #[serde(rename = "type")]
    pub data_type: String,
    pub register_name: Option<String>,
    pub register_version: Option<String>,
}

/// One step: what it runs, with what, where.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PlannedStep {
    pub display_name: Option<String>,
    /// The registered component it runs, as `name:version`; `None` for a file or an inline
    /// command.
    pub component: Option<String>,
    pub definition: ComponentDefinition,
    pub is_deterministic: bool,
    pub snapshot: Option<String>,
    pub code_hash: Option<String>,
    pub inputs: BTreeMap<String, StepInput>,
    pub outputs: BTreeMap<String, StepOutput>,
    pub compute: String,
    pub cpus: f64,
    pub memory_mb: u64,
    pub gpus: u32,
    pub environment_variables: BTreeMap<String, String>,
    pub timeout_seconds: Option<i64>,
    pub tags: BTreeMap<String, String>,
    /// A sweep step's searched inputs (its settings are read again from the pipeline's file);
    /// empty for a command step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search_space: Vec<String>,
}

impl PlannedStep {
    /// Whether the step is a sweep (`type: sweep`), whose trials run its component.
    pub fn is_sweep(&self) -> bool {
        !self.search_space.is_empty()
    }

    /// What decides whether an earlier run can stand for this step: its component's definition
    /// (command, interface, resolved environment), its code's content, each input's identity
    /// (`inputs`: a literal's value, data by the content of its files), its outputs' types and
    /// modes, its compute, resources, environment variables and time limit. Its display name,
    /// tags and the registered component's version number are not part of it: they change
    /// nothing the step computes.
    pub fn reuse_key(&self, inputs: &BTreeMap<String, String>) -> String {
        let mut hasher = blake3::Hasher::new();
        let mut part = |label: &str, text: &str| {
            hasher.update(label.as_bytes());
            hasher.update(b"=");
            hasher.update(&(text.len() as u64).to_le_bytes());
            hasher.update(text.as_bytes());
        };
        part("definition", &self.definition.to_text());
        part("code", self.code_hash.as_deref().unwrap_or("none"));
        for (name, identity) in inputs {
            part(&format!("input.{name}"), identity);
        }
        for (name, output) in &self.outputs {
            part(&format!("output.{name}"), &format!("{}:{}", output.data_type, output.mode));
        }
        part("compute", &self.compute);
        part("resources", &format!("{}:{}:{}", self.cpus, self.memory_mb, self.gpus));
        for (name, value) in &self.environment_variables {
            part(&format!("variable.{name}"), value);
        }
        part("timeout", &format!("{:?}", self.timeout_seconds));
        hasher.finalize().to_hex().to_string()
    }
}

/// A step's input: known when the pipeline was submitted, or another step's output.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum StepInput {
    Submitted {
        input: PlannedInput,
    },
    Step {
        step: String,
        output: String,
        #[serde(rename = "type")]
        data_type: String,
        mode: String,
    },
}

/// A step's output, and the pipeline output it is, if any.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StepOutput {
    #[serde(rename = "type")]
    pub data_type: String,
    pub mode: String,
    pub pipeline_output: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::{ComponentBody, ComponentInput, ComponentOutput};
    use crate::plan::PlannedEnvironment;

    fn step() -> PlannedStep {
        let input = ComponentInput {
            kind: "integer".into(),
            description: None,
            default: Some("3".into()),
            optional: false,
            min: None,
            max: None,
            allowed: Vec::new(),
        };
        let output = ComponentOutput { kind: "uri_folder".into(), description: None, mode: "rw_mount".into() };
        PlannedStep {
            display_name: Some("Train".into()),
            component: Some("train:1".into()),
            definition: ComponentDefinition {
                body: ComponentBody {
                    command: "python train.py --epochs ${{inputs.epochs}} --out ${{outputs.model}}".into(),
                    inputs: BTreeMap::from([("epochs".into(), input)]),
                    outputs: BTreeMap::from([("model".into(), output)]),
                    environment_variables: BTreeMap::new(),
                    instance_count: 1,
                    instance_type: None,
                    cpu: None,
                    memory_gb: None,
                    gpu_count: None,
                    process_count_per_instance: None,
                    tensorflow: None,
                    mpi: false,
                },
                environment: PlannedEnvironment {
                    name: "sklearn:1".into(),
                    builtin: false,
                    python: Some("3.11".into()),
                    requirements: vec!["scikit-learn==1.9.1".into()],
                    image: None,
                },
            },
            is_deterministic: true,
            snapshot: Some("0123456789abcdef0123456789abcdef".into()),
            code_hash: Some("c0de".into()),
            inputs: BTreeMap::new(),
            outputs: BTreeMap::from([(
                "model".into(),
                StepOutput { data_type: "uri_folder".into(), mode: "rw_mount".into(), pipeline_output: None },
            )]),
            compute: "local".into(),
            cpus: 1.0,
            memory_mb: 0,
            gpus: 0,
            environment_variables: BTreeMap::from([("SEED".into(), "7".into())]),
            timeout_seconds: None,
            tags: BTreeMap::new(),
            search_space: Vec::new(),
        }
    }

    fn inputs() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("epochs".into(), "literal:Some(\"3\")".into()),
            ("data".into(), "data:uri_folder:ro_mount:[(\"clean/x.csv\", \"ab12\")]".into()),
        ])
    }

    #[test]
    fn every_thing_a_step_computes_from_changes_its_reuse_key() {
        let base = step().reuse_key(&inputs());
        assert_eq!(base, step().reuse_key(&inputs()), "the same step has the same key");
        let mut same = step();
        same.display_name = Some("Another name".into());
        same.tags.insert("team".into(), "vision".into());
        same.component = Some("train:2".into());
        same.snapshot = Some("ffffffffffffffffffffffffffffffff".into());
        assert_eq!(same.reuse_key(&inputs()), base, "names, tags and where the code was uploaded change nothing");

        type Change = Box<dyn Fn(&mut PlannedStep, &mut BTreeMap<String, String>)>;
        let changes: Vec<(&str, Change)> = vec![
            ("the command", Box::new(|step, _| step.definition.body.command.push_str(" --fast"))),
            (
                "an input's default",
                Box::new(|step, _| {
                    step.definition.body.inputs.get_mut("epochs").unwrap().default = Some("4".into());
                }),
            ),
            (
                "the environment's packages",
                Box::new(|step, _| {
                    step.definition.environment.requirements = vec!["scikit-learn==1.9.2".into()];
                }),
            ),
            ("the environment's Python", Box::new(|step, _| step.definition.environment.python = Some("3.12".into()))),
            ("a byte of code", Box::new(|step, _| step.code_hash = Some("c0df".into()))),
            (
                "a parameter",
                Box::new(|_, inputs| {
                    inputs.insert("epochs".into(), "literal:Some(\"4\")".into());
                }),
            ),
            (
                "a byte of input data",
                Box::new(|_, inputs| {
                    inputs.insert("data".into(), "data:uri_folder:ro_mount:[(\"clean/x.csv\", \"ab13\")]".into());
                }),
            ),
            (
                "an input's mode",
                Box::new(|_, inputs| {
                    inputs.insert("data".into(), "data:uri_folder:download:[(\"clean/x.csv\", \"ab12\")]".into());
                }),
            ),
            (
                "an input more",
                Box::new(|_, inputs| {
                    inputs.insert("extra".into(), "literal:None".into());
                }),
            ),
            ("an output's mode", Box::new(|step, _| step.outputs.get_mut("model").unwrap().mode = "upload".into())),
            ("the compute", Box::new(|step, _| step.compute = "gpu".into())),
            ("the CPUs", Box::new(|step, _| step.cpus = 2.0)),
            ("the GPUs", Box::new(|step, _| step.gpus = 1)),
            (
                "an environment variable",
                Box::new(|step, _| {
                    step.environment_variables.insert("SEED".into(), "8".into());
                }),
            ),
            ("the time limit", Box::new(|step, _| step.timeout_seconds = Some(60))),
            ("distribution", Box::new(|step, _| step.definition.body.process_count_per_instance = Some(2))),
        ];
        for (what, change) in changes {
            let (mut changed, mut changed_inputs) = (step(), inputs());
            change(&mut changed, &mut changed_inputs);
            assert_ne!(changed.reuse_key(&changed_inputs), base, "{what} must change the key");
        }
    }
}

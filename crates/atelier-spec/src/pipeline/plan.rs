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

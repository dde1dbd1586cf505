//! `atelier job create` for a pipeline file: each step's component file read (and checked)
//! here, the whole checked by the server before anything is uploaded, then each step's code
//! and each local input uploaded, and the pipeline submitted with what was read for its steps.

use crate::OutputFormat;
use crate::assets::upload_tree;
use crate::client::{Client, segment};
use crate::jobs::upload_code;
use crate::output::{print_fields, print_rows};
use anyhow::{Context, bail};
use atelier_spec::component::parse_component;
use atelier_spec::pipeline::{Binding, StepComponent, check_pipeline, parse_pipeline_job};
use atelier_spec::{JobInput, is_local_path};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A local file or folder an input names, which must exist.
fn local_input(base: &Path, field: &str, kind: &str, path: &str) -> anyhow::Result<PathBuf> {
    let local = base.join(path).canonicalize().with_context(|| format!("{field}.path: '{path}' does not exist"))?;
    if kind == "uri_file" && !local.is_file() {
        bail!("{field}.path: '{path}' is a folder, but a uri_file names one file");
    }
    Ok(local)
}

/// Checks a pipeline file with the server and uploads what its steps need: the body of
/// `POST jobs`.
pub async fn prepare_pipeline(
    client: &Client,
    workspace: &str,
    text: &str,
    base: &Path,
    shown_as: &str,
    folder_name: &str,
    name: Option<String>,
) -> anyhow::Result<Value> {
    let job = parse_pipeline_job(text, folder_name).map_err(|error| anyhow::anyhow!("{shown_as}: {error}"))?;
    let mut steps = Map::new();
    let mut interfaces = BTreeMap::new();
    let mut code: Vec<(String, PathBuf, String)> = Vec::new();
    let mut all_read = true;
    for (step_name, step) in &job.steps {
        let mut entry = Map::new();
        match &step.component {
            StepComponent::File(path) => {
                let file = base.join(path);
                let field = format!("jobs.{step_name}.component");
                let yaml = std::fs::read_to_string(&file)
                    .with_context(|| format!("{shown_as}: {field}: cannot read {}", file.display()))?;
                let spec = parse_component(&yaml)
                    .map_err(|error| anyhow::anyhow!("{shown_as}: {field}: {}: {error}", file.display()))?;
                let component_base = file.parent().map(Path::to_path_buf).unwrap_or_else(|| base.to_path_buf());
                if let Some((image, conda_file)) = &spec.inline_environment {
                    entry.insert("inline_environment".into(), inline(&component_base, image, conda_file.as_ref())?);
                }
                if let Some(folder) = &spec.code {
                    code.push((step_name.clone(), component_base.join(folder), folder.clone()));
                }
                interfaces.insert(step_name.clone(), spec.body.clone());
                entry.insert("component_yaml".into(), json!(yaml));
            }
            StepComponent::Inline(inline_command) => {
                if let Some((image, conda_file)) = &inline_command.inline_environment {
                    entry.insert("inline_environment".into(), inline(base, image, conda_file.as_ref())?);
                }
                if let Some(folder) = &inline_command.code {
                    code.push((step_name.clone(), base.join(folder), folder.clone()));
                }
            }
            StepComponent::Registered(_) => all_read = false,
        }
        steps.insert(step_name.clone(), Value::Object(entry));
    }
    // With every component read here, the whole is checked before the server is asked.
    if all_read {
        check_pipeline(&job, &interfaces).map_err(|error| anyhow::anyhow!("{shown_as}: {error}"))?;
    }

    // Local inputs: the pipeline's, and data given in a step.
    let mut local_inputs: Vec<(String, PathBuf)> = Vec::new();
    for (input_name, input) in &job.inputs {
        if let JobInput::Asset { path: Some(path), kind, .. } = input
            && is_local_path(path)
        {
            let field = format!("inputs.{input_name}");
            local_inputs.push((field.clone(), local_input(base, &field, kind, path)?));
        }
    }
    for (step_name, step) in &job.steps {
        for (input_name, binding) in &step.inputs {
            if let Binding::Data { kind, path, .. } = binding
                && is_local_path(path)
            {
                let field = format!("jobs.{step_name}.inputs.{input_name}");
                local_inputs.push((field.clone(), local_input(base, &field, kind, path)?));
            }
        }
    }

    let ws = segment(workspace);
    let mut body = json!({ "yaml": text, "folder_name": folder_name, "steps": Value::Object(steps) });
    if let Some(name) = name {
        body["name"] = json!(name);
    }
    let _: Value = client
        .post(&format!("/workspaces/{ws}/job-checks"), &body)
        .await
        .map_err(|error| anyhow::anyhow!("{shown_as}: {error:#}"))?;
    for (step_name, folder, written) in &code {
        let snapshot = upload_code(client, workspace, folder, written).await?;
        body["steps"][step_name.as_str()]["snapshot"] = json!(snapshot);
    }
    let mut uploads = Map::new();
    for (field, local) in local_inputs {
        let upload = uuid::Uuid::new_v4().simple().to_string();
        let (top, count) = upload_tree(client, &local, &format!("/workspaces/{ws}/data-uploads/{upload}")).await?;
        eprintln!("Uploaded {field}: {count} files");
        uploads.insert(field, json!(top));
    }
    body["uploads"] = Value::Object(uploads);
    Ok(body)
}

fn inline(base: &Path, image: &Option<String>, conda_file: Option<&Value>) -> anyhow::Result<Value> {
    let spec = crate::environments::inline_spec(base, image.clone(), conda_file)
        .map_err(|error| anyhow::anyhow!("environment: {error:#}"))?;
    Ok(json!({
        "python": spec.python,
        "requirements": spec.requirements,
        "image": spec.image,
        "channels": spec.channels,
    }))
}

/// What `job show` prints of a pipeline.
const PIPELINE_FIELDS: [&str; 10] = [
    "name",
    "type",
    "display_name",
    "status",
    "experiment_name",
    "created_at",
    "start_time",
    "end_time",
    "error",
    "steps",
];

/// Prints a pipeline's `show` answer: its fields, then a table of its steps (in text output;
/// JSON output is the answer as it is).
pub fn print_pipeline(job: &Value, output: OutputFormat) -> anyhow::Result<()> {
    if output == OutputFormat::Json {
        return print_fields(job, &PIPELINE_FIELDS, output);
    }
    let pipeline = &job["pipeline"];
    let mut shown = job.clone();
    let counts: Vec<String> = pipeline["steps_by_status"]
        .as_object()
        .map(|counts| counts.iter().map(|(status, count)| format!("{status}: {count}")).collect())
        .unwrap_or_default();
    shown["steps"] = json!(counts.join(", "));
    print_fields(&shown, &PIPELINE_FIELDS, output)?;
    let rows: Vec<Value> = pipeline["steps"]
        .as_object()
        .map(|steps| {
            let mut rows: Vec<(u64, Value)> = steps
                .iter()
                .map(|(name, step)| {
                    let row = json!({
                        "step": name,
                        "status": step["status"],
                        "job": step["job"],
                        "component": step["component"],
                        "reused_from": step["reused_from"],
                    });
                    (step["depth"].as_u64().unwrap_or(0), row)
                })
                .collect();
            rows.sort_by_key(|(depth, _)| *depth);
            rows.into_iter().map(|(_, row)| row).collect()
        })
        .unwrap_or_default();
    println!();
    print_rows(&rows, &["step", "status", "job", "component", "reused_from"], output)
}

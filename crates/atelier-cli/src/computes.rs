//! `atelier compute`, shaped like `az ml compute`: computes that jobs run on (`amlcompute`,
//! `slurm`) and compute instances (`computeinstance`: a JupyterLab for one person), which share
//! their names and these commands.

use crate::client::{Client, segment};
use crate::output::{cell, print_fields, print_rows};
use crate::{ClientArgs, OutputFormat};
use anyhow::{Context, bail};
use atelier_spec::compute::parse_compute;
use atelier_spec::instance::{INSTANCE_TYPE, compute_file_type, parse_instance};
use clap::Subcommand;
use serde_json::{Value, json};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum ComputeCommand {
    /// List computes (capacity, use and queue) and compute instances (state, owner).
    List,
    /// Show a compute or a compute instance.
    Show {
        #[arg(short = 'n', long)]
        name: String,
    },
    /// Define a compute from Azure's compute YAML (`type: amlcompute`, Atelier's `type: slurm`),
    /// or create and start a compute instance (`type: computeinstance`).
    Create {
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// Delete a compute, or a compute instance with its home folder (asks first).
    Delete {
        #[arg(short = 'n', long)]
        name: String,
        /// Do not ask.
        #[arg(short = 'y', long)]
        yes: bool,
    },
    /// Start a stopped compute instance.
    Start {
        #[arg(short = 'n', long)]
        name: String,
    },
    /// Stop a compute instance (its home folder stays).
    Stop {
        #[arg(short = 'n', long)]
        name: String,
    },
    /// Stop a compute instance and start it again.
    Restart {
        #[arg(short = 'n', long)]
        name: String,
    },
    /// Set who besides its owner may open a compute instance (its owner only).
    Share {
        #[arg(short = 'n', long)]
        name: String,
        /// User names, comma-separated; none stops sharing it.
        #[arg(long, value_delimiter = ',', num_args = 0..)]
        users: Vec<String>,
    },
}

const COMPUTE_FIELDS: [&str; 10] =
    ["name", "type", "size", "max_instances", "per_job", "capacity", "in_use", "running", "queued", "slurm"];

const INSTANCE_FIELDS: [&str; 14] = [
    "name",
    "type",
    "compute",
    "state",
    "reason",
    "owner",
    "shared_with",
    "size",
    "environment",
    "idle_time_before_shutdown_minutes",
    "idle_minutes_left",
    "jupyterlab_url",
    "created_by",
    "created_at",
];

fn instance_path(workspace: &str, name: &str) -> String {
    format!("/workspaces/{}/compute-instances/{}", segment(workspace), segment(name))
}

/// A compute instance's file: checked here, with the setup scripts it names by path read from
/// beside it.
fn instance_body(file: &std::path::Path, text: &str) -> anyhow::Result<Value> {
    let now = atelier_service::now_millis();
    let spec = parse_instance(text, now).map_err(|error| anyhow::anyhow!("{}: {error}", file.display()))?;
    let base = file.parent().unwrap_or(std::path::Path::new("."));
    let mut scripts = serde_json::Map::new();
    for (field, script) in [("creation_script", &spec.creation_script), ("startup_script", &spec.startup_script)] {
        if let Some(path) = script.as_ref().and_then(|script| script.path.as_ref()) {
            let script_file = base.join(path);
            let text = std::fs::read_to_string(&script_file).with_context(|| {
                format!("{}: setup_scripts.{field}.path: cannot read {}", file.display(), script_file.display())
            })?;
            scripts.insert(field.to_owned(), json!(text));
        }
    }
    Ok(json!({ "yaml": text, "setup_scripts": scripts }))
}

/// Asks on the terminal whether to go on; `false` where there is no terminal to ask on.
fn confirmed(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

pub async fn compute(command: ComputeCommand, args: ClientArgs) -> anyhow::Result<()> {
    let client = Client::new(&args)?;
    let workspace = args.workspace();
    let ws = segment(workspace);
    match command {
        ComputeCommand::List => {
            let computes: Vec<Value> = client.get(&format!("/workspaces/{ws}/computes"), &[]).await?;
            let instances: Vec<Value> = client.get(&format!("/workspaces/{ws}/compute-instances"), &[]).await?;
            if args.output == OutputFormat::Json {
                let all: Vec<Value> = computes.into_iter().chain(instances).collect();
                return crate::output::print_json(&Value::Array(all));
            }
            let mut rows: Vec<Value> = computes
                .iter()
                .map(|compute| {
                    // A cluster's capacity is the cluster's to know: show what its jobs use.
                    let of = |key: &str| match compute["type"].as_str() {
                        Some("slurm") => format!("{} (Slurm)", cell(key, compute["in_use"].get(key))),
                        _ => format!(
                            "{}/{}",
                            cell(key, compute["in_use"].get(key)),
                            cell(key, compute["capacity"].get(key))
                        ),
                    };
                    json!({
                        "name": compute["name"],
                        "type": compute["type"],
                        "size": compute["size"],
                        "state": "",
                        "cpus": of("cpus"),
                        "gpus": of("gpus"),
                        "running": compute["running"].as_array().map(Vec::len).unwrap_or(0),
                        "queued": compute["queued"].as_array().map(Vec::len).unwrap_or(0),
                    })
                })
                .collect();
            rows.extend(instances.iter().map(|instance| {
                json!({
                    "name": instance["name"],
                    "type": instance["type"],
                    "size": instance["size"],
                    "state": instance["state"],
                    "owner": instance["owner"],
                })
            }));
            print_rows(
                &rows,
                &["name", "type", "size", "state", "owner", "cpus", "gpus", "running", "queued"],
                args.output,
            )
        }
        ComputeCommand::Show { name } => match client.get::<Value>(&instance_path(workspace, &name), &[]).await {
            Ok(instance) => print_fields(&instance, &INSTANCE_FIELDS, args.output),
            Err(_) => {
                let compute: Value = client.get(&format!("/workspaces/{ws}/computes/{}", segment(&name)), &[]).await?;
                print_fields(&compute, &COMPUTE_FIELDS, args.output)
            }
        },
        ComputeCommand::Create { file } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let kind = compute_file_type(&text).map_err(|error| anyhow::anyhow!("{}: {error}", file.display()))?;
            if kind == INSTANCE_TYPE {
                let body = instance_body(&file, &text)?;
                let created: Value = client.post(&format!("/workspaces/{ws}/compute-instances"), &body).await?;
                eprintln!(
                    "Compute instance {} is starting; `atelier compute show -n {}` follows it, and its JupyterLab opens at {}",
                    created["name"].as_str().unwrap_or_default(),
                    created["name"].as_str().unwrap_or_default(),
                    created["jupyterlab_url"].as_str().unwrap_or_default()
                );
                return print_fields(&created, &INSTANCE_FIELDS, args.output);
            }
            let spec = parse_compute(&text).map_err(|error| anyhow::anyhow!("{}: {error}", file.display()))?;
            let body = json!({
                "name": spec.name,
                "type": spec.kind,
                "size": spec.size,
                "min_instances": spec.min_instances,
                "max_instances": spec.max_instances,
                "description": spec.description,
                "tags": spec.tags,
                // The server reads the file again, with the same parser, and defines that.
                "yaml": text,
            });
            let created: Value = client.post(&format!("/workspaces/{ws}/computes"), &body).await?;
            print_fields(&created, &COMPUTE_FIELDS, args.output)
        }
        ComputeCommand::Delete { name, yes } => {
            if client.get::<Value>(&instance_path(workspace, &name), &[]).await.is_ok() {
                let question = format!("Delete compute instance {name} and its home folder, with every file in it?");
                if !yes && !confirmed(&question)? {
                    bail!("not deleted: confirm on a terminal, or pass --yes");
                }
                client.delete(&instance_path(workspace, &name)).await?;
                eprintln!("Deleted compute instance {name}");
                return Ok(());
            }
            client.delete(&format!("/workspaces/{ws}/computes/{}", segment(&name))).await?;
            eprintln!("Deleted compute {name}");
            Ok(())
        }
        ComputeCommand::Start { name } => instance_action(&client, workspace, &name, "start", args.output).await,
        ComputeCommand::Stop { name } => instance_action(&client, workspace, &name, "stop", args.output).await,
        ComputeCommand::Restart { name } => instance_action(&client, workspace, &name, "restart", args.output).await,
        ComputeCommand::Share { name, users } => {
            let shared: Value = client
                .put_json(&format!("{}/sharing", instance_path(workspace, &name)), &json!({ "users": users }))
                .await?;
            print_fields(&shared, &INSTANCE_FIELDS, args.output)
        }
    }
}

/// `start`, `stop` or `restart` of a compute instance.
async fn instance_action(
    client: &Client,
    workspace: &str,
    name: &str,
    action: &str,
    output: OutputFormat,
) -> anyhow::Result<()> {
    let instance: Value = client.post(&format!("{}/{action}", instance_path(workspace, name)), &json!({})).await?;
    print_fields(&instance, &INSTANCE_FIELDS, output)
}

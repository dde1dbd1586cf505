//! `atelier online-endpoint` and `atelier online-deployment`, shaped like `az ml
//! online-endpoint` and `az ml online-deployment`.
//!
//! `online-deployment create` checks the file here first, uploads the scoring code as a
//! snapshot, registers an inline model, reads an inline environment's conda file, and then
//! waits (unless `--no-wait`) until the rollout succeeded or failed, as `az ml` does.

use crate::assets::assignment;
use crate::client::{Client, segment};
use crate::jobs::{set_field, upload_code};
use crate::output::{print_fields, print_rows};
use crate::{ClientArgs, OutputFormat};
use anyhow::{Context, bail};
use atelier_spec::endpoint::{DeploymentModel, parse_deployment, parse_endpoint};
use clap::Subcommand;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Subcommand)]
pub enum EndpointCommand {
    /// Create an endpoint from a YAML file.
    Create {
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// The endpoint's name (default: the file's).
        #[arg(short = 'n', long)]
        name: Option<String>,
    },
    /// Show an endpoint.
    Show {
        #[arg(short = 'n', long)]
        name: String,
    },
    /// List endpoints.
    List,
    /// Change traffic, mirror traffic, description or tags.
    Update {
        #[arg(short = 'n', long)]
        name: String,
        /// An endpoint file whose description, tags, traffic and mirror_traffic are applied.
        #[arg(short = 'f', long = "file")]
        file: Option<PathBuf>,
        /// Percent per deployment: "blue=90 green=10" (summing to 100, or 0).
        #[arg(long)]
        traffic: Option<String>,
        /// One deployment and a percent up to 50: "green=10"; "green=0" stops mirroring.
        #[arg(long)]
        mirror_traffic: Option<String>,
    },
    /// Delete an endpoint and its deployments.
    Delete {
        #[arg(short = 'n', long)]
        name: String,
        /// Do not ask (nothing asks; accepted as `az ml` takes it).
        #[arg(short = 'y', long)]
        yes: bool,
    },
    /// Send a request file to the endpoint and print the answer.
    Invoke {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'r', long = "request-file")]
        request_file: PathBuf,
        /// Send it to this deployment, whatever the traffic split.
        #[arg(short = 'd', long = "deployment-name")]
        deployment_name: Option<String>,
    },
    /// Print the endpoint's keys, or a fresh token for aml_token endpoints.
    GetCredentials {
        #[arg(short = 'n', long)]
        name: String,
    },
    /// Replace the primary or the secondary key.
    RegenerateKeys {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(long = "key-type", default_value = "primary")]
        key_type: String,
    },
}

#[derive(Subcommand)]
pub enum DeploymentCommand {
    /// Create a deployment from a YAML file and wait until it serves or fails.
    Create {
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// The deployment's name (default: the file's).
        #[arg(short = 'n', long)]
        name: Option<String>,
        /// The endpoint (default: the file's endpoint_name).
        #[arg(short = 'e', long = "endpoint-name")]
        endpoint_name: Option<String>,
        /// Send all of the endpoint's traffic to it once it serves.
        #[arg(long)]
        all_traffic: bool,
        /// Set a field of the file: `--set instance_count=2` (repeatable); a relative path given
        /// here is relative to the current folder.
        #[arg(long = "set")]
        set: Vec<String>,
        /// Return at once instead of waiting for the rollout.
        #[arg(long)]
        no_wait: bool,
    },
    /// Roll out a new version of a deployment: from a file, or the current one with `--set`.
    Update {
        #[arg(short = 'f', long = "file")]
        file: Option<PathBuf>,
        #[arg(short = 'n', long)]
        name: Option<String>,
        #[arg(short = 'e', long = "endpoint-name")]
        endpoint_name: Option<String>,
        #[arg(long = "set")]
        set: Vec<String>,
        #[arg(long)]
        no_wait: bool,
    },
    /// Show a deployment.
    Show {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'e', long = "endpoint-name")]
        endpoint_name: String,
    },
    /// List an endpoint's deployments.
    List {
        #[arg(short = 'e', long = "endpoint-name")]
        endpoint_name: String,
    },
    /// Delete a deployment that takes no traffic.
    Delete {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'e', long = "endpoint-name")]
        endpoint_name: String,
        #[arg(short = 'y', long)]
        yes: bool,
    },
    /// Print the end of a deployment's log.
    GetLogs {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'e', long = "endpoint-name")]
        endpoint_name: String,
        /// How many lines from the end.
        #[arg(short = 'l', long, default_value_t = 5000)]
        lines: usize,
        /// inference-server (the workers' output), storage-initializer (model, code and
        /// environment) or requests (one line per request).
        #[arg(short = 'c', long, default_value = "inference-server")]
        container: String,
    },
}

const ENDPOINT_FIELDS: [&str; 7] =
    ["name", "auth_mode", "scoring_uri", "traffic", "mirror_traffic", "provisioning_state", "description"];
const DEPLOYMENT_FIELDS: [&str; 8] =
    ["name", "endpoint_name", "provisioning_state", "model", "instance_count", "generation", "error", "live"];

fn endpoint_path(workspace: &str, name: &str) -> String {
    format!("/workspaces/{}/online-endpoints/{}", segment(workspace), segment(name))
}

fn deployment_path(workspace: &str, endpoint: &str, name: &str) -> String {
    format!("{}/deployments/{}", endpoint_path(workspace, endpoint), segment(name))
}

fn read_yaml(file: &Path) -> anyhow::Result<(String, Value)> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let document: Value =
        serde_saphyr::from_str(&text).map_err(|error| anyhow::anyhow!("{}: {error}", file.display()))?;
    Ok((text, document))
}

fn weights(text: &str) -> anyhow::Result<Map<String, Value>> {
    let parsed = atelier_core::endpoint::parse_traffic_pairs(text).map_err(|error| anyhow::anyhow!("{error}"))?;
    Ok(parsed.into_iter().map(|(name, weight)| (name, json!(weight))).collect())
}

pub async fn endpoint(command: EndpointCommand, args: ClientArgs) -> anyhow::Result<()> {
    let client = Client::new(&args)?;
    let workspace = args.workspace();
    match command {
        EndpointCommand::Create { file, name } => {
            let (mut text, mut document) = read_yaml(&file)?;
            if let Some(name) = name {
                document["name"] = json!(name);
                text = serde_json::to_string_pretty(&document)?;
            }
            parse_endpoint(&text).map_err(|error| anyhow::anyhow!("{}: {error}", file.display()))?;
            let path = format!("/workspaces/{}/online-endpoints", segment(workspace));
            let created: Value = client.post(&path, &json!({ "yaml": text })).await?;
            print_fields(&created, &ENDPOINT_FIELDS, args.output)
        }
        EndpointCommand::Show { name } => {
            let endpoint: Value = client.get(&endpoint_path(workspace, &name), &[]).await?;
            print_fields(&endpoint, &ENDPOINT_FIELDS, args.output)
        }
        EndpointCommand::List => {
            let endpoints: Vec<Value> =
                client.get(&format!("/workspaces/{}/online-endpoints", segment(workspace)), &[]).await?;
            print_rows(&endpoints, &["name", "auth_mode", "traffic", "scoring_uri"], args.output)
        }
        EndpointCommand::Update { name, file, traffic, mirror_traffic } => {
            let mut body = Map::new();
            if let Some(file) = &file {
                let (text, _) = read_yaml(file)?;
                let spec = parse_endpoint(&text).map_err(|error| anyhow::anyhow!("{}: {error}", file.display()))?;
                if spec.name != name {
                    bail!("{} names endpoint '{}', not '{name}'", file.display(), spec.name);
                }
                if let Some(description) = spec.description {
                    body.insert("description".into(), json!(description));
                }
                body.insert("tags".into(), json!(spec.tags));
                if !spec.traffic.is_empty() {
                    body.insert("traffic".into(), json!(spec.traffic));
                }
                if !spec.mirror_traffic.is_empty() {
                    body.insert("mirror_traffic".into(), json!(spec.mirror_traffic));
                }
            }
            if let Some(traffic) = &traffic {
                body.insert("traffic".into(), Value::Object(weights(traffic)?));
            }
            if let Some(mirror) = &mirror_traffic {
                body.insert("mirror_traffic".into(), Value::Object(weights(mirror)?));
            }
            if body.is_empty() {
                bail!("nothing to update: give --traffic, --mirror-traffic or --file");
            }
            let updated: Value = client.patch(&endpoint_path(workspace, &name), &Value::Object(body)).await?;
            print_fields(&updated, &ENDPOINT_FIELDS, args.output)
        }
        EndpointCommand::Delete { name, yes: _ } => {
            client.delete(&endpoint_path(workspace, &name)).await?;
            eprintln!("Deleted online endpoint {name}.");
            Ok(())
        }
        EndpointCommand::Invoke { name, request_file, deployment_name } => {
            let body = std::fs::read(&request_file)
                .with_context(|| format!("cannot read the request file {}", request_file.display()))?;
            let endpoint: Value = client.get(&endpoint_path(workspace, &name), &[]).await?;
            let uri = endpoint["scoring_uri"].as_str().context("the endpoint has no scoring_uri")?.to_owned();
            let credentials: Value =
                client.post(&format!("{}/get-credentials", endpoint_path(workspace, &name)), &json!({})).await?;
            let secret = credentials["primaryKey"]
                .as_str()
                .or_else(|| credentials["accessToken"].as_str())
                .context("the endpoint returned no key or token")?;
            let mut request = client
                .http()
                .post(&uri)
                .bearer_auth(secret)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
            if let Some(deployment) = &deployment_name {
                request = request.header("azureml-model-deployment", deployment);
            }
            let response = request.send().await.with_context(|| format!("cannot reach {uri}"))?;
            let status = response.status();
            let text = response.text().await.context("cannot read the answer")?;
            if !status.is_success() {
                bail!("the endpoint answered HTTP {}: {text}", status.as_u16());
            }
            println!("{text}");
            Ok(())
        }
        EndpointCommand::GetCredentials { name } => {
            let credentials: Value =
                client.post(&format!("{}/get-credentials", endpoint_path(workspace, &name)), &json!({})).await?;
            if args.output == OutputFormat::Json {
                println!("{}", serde_json::to_string_pretty(&credentials)?);
                return Ok(());
            }
            let fields: Vec<&str> =
                credentials.as_object().map(|map| map.keys().map(String::as_str).collect()).unwrap_or_default();
            print_fields(&credentials, &fields, args.output)
        }
        EndpointCommand::RegenerateKeys { name, key_type } => {
            let path = format!("{}/regenerate-keys", endpoint_path(workspace, &name));
            let _: Value = client.post(&path, &json!({ "key_type": key_type })).await?;
            eprintln!("Regenerated the {key_type} key of online endpoint {name}.");
            Ok(())
        }
    }
}

/// Prepares a deployment file for the server: applies `--set` and the name flags, checks it,
/// uploads its code and inline model, and reads its inline environment.
async fn prepare(
    client: &Client,
    workspace: &str,
    file: Option<&Path>,
    text: String,
    mut document: Value,
    overrides: (Option<String>, Option<String>, &[String]),
    current: Option<&Value>,
) -> anyhow::Result<(String, String, Value)> {
    let (name, endpoint_name, set) = overrides;
    let shown = file.map_or_else(|| "the deployment".to_owned(), |file| file.display().to_string());
    let mut text = text;
    let mut changed = false;
    if let Some(name) = name {
        document["name"] = json!(name);
        changed = true;
    }
    if let Some(endpoint) = endpoint_name {
        document["endpoint_name"] = json!(endpoint);
        changed = true;
    }
    for item in set {
        let (path, value) = assignment(item)?;
        set_field(&mut document, path, &crate::assets::command_line_value(path, value)?)?;
        changed = true;
    }
    if changed {
        // JSON is YAML: the server reads the changed document as it reads the file.
        text = serde_json::to_string_pretty(&document)?;
    }
    let spec = parse_deployment(&text).map_err(|error| anyhow::anyhow!("{shown}: {error}"))?;
    let base = file.and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();
    let base = if base.as_os_str().is_empty() { PathBuf::from(".") } else { base };
    if let Some(DeploymentModel::Inline { path, name, version, model_type }) = &spec.model {
        let model_name = name.clone().unwrap_or_else(|| format!("{}-{}-model", spec.endpoint_name, spec.name));
        let local = base.join(path);
        let local = local.canonicalize().with_context(|| format!("model path '{path}' does not exist"))?;
        let source = crate::models::upload_model_files(client, workspace, &model_name, &local).await?;
        let mut body = json!({ "name": model_name, "path": source });
        if let Some(version) = version {
            body["version"] = json!(
                version.parse::<i64>().with_context(|| format!("model version '{version}' must be a whole number"))?
            );
        }
        if let Some(kind) = model_type {
            body["type"] = json!(kind);
        }
        let created: Value = client.post(&format!("/workspaces/{}/models", segment(workspace)), &body).await?;
        let version = created["version"]
            .as_i64()
            .map(|v| v.to_string())
            .or_else(|| created["version"].as_str().map(str::to_owned));
        let version = version.context("the registered model has no version")?;
        eprintln!("Registered model {model_name}:{version} from {}", local.display());
        document["model"] = json!(format!("azureml:{model_name}:{version}"));
        text = serde_json::to_string_pretty(&document)?;
    }
    let mut body = json!({ "yaml": text });
    if let Some(current) = current {
        // A change of the stored deployment (`update --set`): its code and inline environment
        // stay as they were uploaded.
        let plan = &current["plan"];
        if spec.code.is_some() {
            body["snapshot"] = plan["snapshot"].clone();
        }
        if spec.inline_environment.is_some() {
            body["inline_environment"] = json!({
                "python": plan["environment"]["python"],
                "requirements": plan["environment"]["requirements"],
                "image": plan["environment"]["image"],
            });
        }
        return Ok((spec.endpoint_name, spec.name, body));
    }
    if let Some(code) = &spec.code {
        body["snapshot"] = json!(upload_code(client, workspace, &base.join(code), code).await?);
    }
    if let Some((image, conda_file)) = &spec.inline_environment {
        let inline = crate::environments::inline_spec(&base, image.clone(), conda_file.as_ref())
            .map_err(|error| anyhow::anyhow!("{shown}: environment: {error:#}"))?;
        body["inline_environment"] = json!({
            "python": inline.python,
            "requirements": inline.requirements,
            "image": inline.image,
            "channels": inline.channels,
        });
    }
    Ok((spec.endpoint_name, spec.name, body))
}

/// Waits until a rollout ends; fails when it failed.
async fn wait_for(client: &Client, workspace: &str, endpoint: &str, name: &str) -> anyhow::Result<Value> {
    let path = deployment_path(workspace, endpoint, name);
    let mut announced = false;
    loop {
        let deployment: Value = client.get(&path, &[]).await?;
        match deployment["provisioning_state"].as_str().unwrap_or_default() {
            "Creating" | "Updating" => {
                if !announced {
                    eprintln!(
                        "Waiting for deployment {name} to be ready (fetching, building the environment, starting instances)…"
                    );
                    announced = true;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            "Failed" => bail!(
                "deployment {name} failed: {}\nSee: atelier online-deployment get-logs -e {endpoint} -n {name}",
                deployment["error"].as_str().unwrap_or("no reason recorded")
            ),
            _ => return Ok(deployment),
        }
    }
}

pub async fn deployment(command: DeploymentCommand, args: ClientArgs) -> anyhow::Result<()> {
    let client = Client::new(&args)?;
    let workspace = args.workspace();
    match command {
        DeploymentCommand::Create { file, name, endpoint_name, all_traffic, set, no_wait } => {
            let (text, document) = read_yaml(&file)?;
            let (endpoint, name, body) =
                prepare(&client, workspace, Some(&file), text, document, (name, endpoint_name, &set), None).await?;
            let path = format!("{}/deployments", endpoint_path(workspace, &endpoint));
            let mut created: Value = client.post(&path, &body).await?;
            if !no_wait {
                created = wait_for(&client, workspace, &endpoint, &name).await?;
                if all_traffic {
                    let current: Value = client.get(&endpoint_path(workspace, &endpoint), &[]).await?;
                    let mut traffic: Map<String, Value> = current["traffic"]
                        .as_object()
                        .cloned()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, _)| (k, json!(0)))
                        .collect();
                    traffic.insert(name.clone(), json!(100));
                    let _: Value =
                        client.patch(&endpoint_path(workspace, &endpoint), &json!({ "traffic": traffic })).await?;
                    eprintln!("All traffic of {endpoint} goes to {name}.");
                }
            }
            print_fields(&created, &DEPLOYMENT_FIELDS, args.output)
        }
        DeploymentCommand::Update { file, name, endpoint_name, set, no_wait } => {
            let (text, document, current) = match &file {
                Some(file) => {
                    let (text, document) = read_yaml(file)?;
                    (text, document, None)
                }
                None => {
                    let (Some(name), Some(endpoint)) = (&name, &endpoint_name) else {
                        bail!("give --file, or --name and --endpoint-name with --set");
                    };
                    let current: Value = client.get(&deployment_path(workspace, endpoint, name), &[]).await?;
                    let text = current["yaml"].as_str().context("the deployment has no YAML")?.to_owned();
                    let document: Value =
                        serde_saphyr::from_str(&text).map_err(|error| anyhow::anyhow!("the stored YAML: {error}"))?;
                    (text, document, Some(current))
                }
            };
            let overrides = (name, endpoint_name, set.as_slice());
            let (endpoint, name, body) =
                prepare(&client, workspace, file.as_deref(), text, document, overrides, current.as_ref()).await?;
            let mut updated: Value = client.put_json(&deployment_path(workspace, &endpoint, &name), &body).await?;
            if !no_wait {
                updated = wait_for(&client, workspace, &endpoint, &name).await?;
            }
            print_fields(&updated, &DEPLOYMENT_FIELDS, args.output)
        }
        DeploymentCommand::Show { name, endpoint_name } => {
            let deployment: Value = client.get(&deployment_path(workspace, &endpoint_name, &name), &[]).await?;
            print_fields(&deployment, &DEPLOYMENT_FIELDS, args.output)
        }
        DeploymentCommand::List { endpoint_name } => {
            let deployments: Vec<Value> =
                client.get(&format!("{}/deployments", endpoint_path(workspace, &endpoint_name)), &[]).await?;
            print_rows(
                &deployments,
                &["name", "provisioning_state", "model", "instance_count", "generation"],
                args.output,
            )
        }
        DeploymentCommand::Delete { name, endpoint_name, yes: _ } => {
            client.delete(&deployment_path(workspace, &endpoint_name, &name)).await?;
            eprintln!("Deleted deployment {name} of online endpoint {endpoint_name}.");
            Ok(())
        }
        DeploymentCommand::GetLogs { name, endpoint_name, lines, container } => {
            let path = format!("{}/logs", deployment_path(workspace, &endpoint_name, &name));
            let logs: Value = client.get(&path, &[("lines", lines.to_string()), ("container", container)]).await?;
            print!("{}", logs["logs"].as_str().unwrap_or_default());
            Ok(())
        }
    }
}

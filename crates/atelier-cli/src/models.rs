//! `atelier model`: model assets from Azure ML's model YAML (or flags): create (uploading local
//! files), list, show, download, archive, restore and update.
//!
//! The YAML is checked here before anything is sent, so that a mistake is reported with its line
//! (`serde-saphyr` keeps positions); the server checks the values again.

use crate::assets::{Scalar, Which, assignment, local_files, print_fields, print_rows};
use crate::client::{Client, segment};
use crate::{ClientArgs, OutputFormat};
use anyhow::{Context, bail};
use clap::Subcommand;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum ModelCommand {
    /// Register a model version from a model YAML file or from flags; local files are uploaded.
    Create {
        /// A model YAML file (Azure ML's model schema).
        #[arg(short = 'f', long = "file")]
        file: Option<PathBuf>,
        #[arg(short = 'n', long)]
        name: Option<String>,
        #[arg(short = 'v', long)]
        version: Option<String>,
        /// A local file or folder, runs:/<run>/<path>, azureml://jobs/<job>/outputs/<output>/paths/<path>,
        /// azureml://datastores/<name>/paths/<path>, models:/m-… or mlflow-artifacts:/….
        #[arg(short = 'p', long)]
        path: Option<String>,
        /// custom_model, mlflow_model or triton_model.
        #[arg(short = 't', long = "type")]
        model_type: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        stage: Option<String>,
        /// Override a field of the file, as FIELD=VALUE (e.g. version=3, tags.team=risk); repeatable.
        #[arg(long = "set")]
        set: Vec<String>,
        #[arg(short = 'w', long, env = "ATELIER_WORKSPACE", default_value = "default")]
        workspace: String,
    },
    /// List models (the newest version of each), or the versions of one model with --name.
    List {
        #[arg(short = 'n', long)]
        name: Option<String>,
        /// Include archived versions.
        #[arg(long)]
        include_archived: bool,
        #[arg(short = 'w', long, env = "ATELIER_WORKSPACE", default_value = "default")]
        workspace: String,
    },
    /// Show a model version.
    Show {
        #[arg(short = 'n', long)]
        name: String,
        #[command(flatten)]
        which: Which,
        #[arg(short = 'w', long, env = "ATELIER_WORKSPACE", default_value = "default")]
        workspace: String,
    },
    /// Download a model version's files to <download-path>/<name>/.
    Download {
        #[arg(short = 'n', long)]
        name: String,
        #[command(flatten)]
        which: Which,
        #[arg(short = 'p', long, default_value = ".")]
        download_path: PathBuf,
        #[arg(short = 'w', long, env = "ATELIER_WORKSPACE", default_value = "default")]
        workspace: String,
    },
    /// Archive a model version: it leaves lists but still loads.
    Archive {
        #[arg(short = 'n', long)]
        name: String,
        #[command(flatten)]
        which: Which,
        #[arg(short = 'w', long, env = "ATELIER_WORKSPACE", default_value = "default")]
        workspace: String,
    },
    /// Restore an archived model version.
    Restore {
        #[arg(short = 'n', long)]
        name: String,
        #[command(flatten)]
        which: Which,
        #[arg(short = 'w', long, env = "ATELIER_WORKSPACE", default_value = "default")]
        workspace: String,
    },
    /// Change a model version: --set description=…, --set stage=…, --set tags.K=V, --set properties.K=V.
    Update {
        #[arg(short = 'n', long)]
        name: String,
        #[command(flatten)]
        which: Which,
        #[arg(long = "set", required = true)]
        set: Vec<String>,
        #[arg(short = 'w', long, env = "ATELIER_WORKSPACE", default_value = "default")]
        workspace: String,
    },
}

/// Azure ML's model YAML. Unknown fields are errors, reported with their line.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version: Option<Scalar>,
    #[serde(rename = "type", default)]
    model_type: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, Scalar>,
    #[serde(default)]
    properties: BTreeMap<String, Scalar>,
    #[serde(default)]
    stage: Option<String>,
    /// MLflow flavors: accepted (Azure fills them from MLmodel) and not stored.
    #[serde(default)]
    flavors: Option<serde_json::Value>,
}

fn read_model_file(file: &Path) -> anyhow::Result<ModelFile> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    serde_saphyr::from_str::<ModelFile>(&text).map_err(|error| anyhow::anyhow!("{}: {error}", file.display()))
}

fn is_uri(path: &str) -> bool {
    [
        "runs:/",
        "models:/",
        "mlflow-artifacts:",
        "azureml:",
        "s3://",
        "gs://",
        "az://",
        "https://",
        "wasbs://",
        "abfss://",
    ]
    .iter()
    .any(|prefix| path.starts_with(prefix))
}

const VERSION_FIELDS: [&str; 12] = [
    "name",
    "version",
    "model_type",
    "path",
    "stage",
    "description",
    "run_id",
    "created_by",
    "archived",
    "tags",
    "properties",
    "aliases",
];

fn print_version(version: &Value, output: OutputFormat) -> anyhow::Result<()> {
    print_fields(version, &VERSION_FIELDS, output)
}

fn print_versions(versions: &[Value], output: OutputFormat) -> anyhow::Result<()> {
    print_rows(versions, &["name", "version", "model_type", "stage", "path", "archived"], output)
}

fn version_path(workspace: &str, name: &str, reference: &str) -> String {
    format!("/workspaces/{}/models/{}/versions/{}", segment(workspace), segment(name), segment(reference))
}

/// Uploads a local model file or folder for model `name`; returns the URI of its root, which
/// keeps its own name (a folder `model/` is `…/model`).
pub async fn upload_model_files(client: &Client, workspace: &str, name: &str, local: &Path) -> anyhow::Result<String> {
    let files = local_files(local)?;
    let upload = uuid::Uuid::new_v4().simple().to_string();
    let total = files.len();
    let mut top = String::new();
    for (index, (relative, file)) in files.iter().enumerate() {
        let target = format!(
            "/workspaces/{}/models/{}/uploads/{upload}/{}",
            segment(workspace),
            segment(name),
            relative.split('/').map(segment).collect::<Vec<_>>().join("/")
        );
        let uploaded: Value = client.put_file(&target, file).await?;
        eprintln!("uploaded {}/{total}: {relative} ({} bytes)", index + 1, uploaded["size"]);
        if top.is_empty() {
            // The uploaded root: the folder (or file) keeps its own name.
            let uri = uploaded["uri"].as_str().context("unexpected upload response")?;
            let cut = uri.len() - relative.len() + relative.split('/').next().unwrap_or("").len();
            top = uri[..cut].to_owned();
        }
    }
    Ok(top)
}

pub async fn model(command: ModelCommand, args: ClientArgs) -> anyhow::Result<()> {
    let client = Client::new(&args)?;
    match command {
        ModelCommand::Create { file, name, version, path, model_type, description, stage, set, workspace } => {
            let mut spec = match &file {
                Some(file) => read_model_file(file)?,
                None => ModelFile::default(),
            };
            // Flags and --set win over the file.
            if name.is_some() {
                spec.name = name;
            }
            if let Some(version) = version {
                spec.version = Some(Scalar::Text(version));
            }
            if path.is_some() {
                spec.path = path;
            }
            if model_type.is_some() {
                spec.model_type = model_type;
            }
            if description.is_some() {
                spec.description = description;
            }
            if stage.is_some() {
                spec.stage = stage;
            }
            for item in &set {
                let (field, value) = assignment(item)?;
                match field {
                    "name" => spec.name = Some(value.to_owned()),
                    "version" => spec.version = Some(Scalar::Text(value.to_owned())),
                    "path" => spec.path = Some(value.to_owned()),
                    "type" => spec.model_type = Some(value.to_owned()),
                    "description" => spec.description = Some(value.to_owned()),
                    "stage" => spec.stage = Some(value.to_owned()),
                    other => match other.split_once('.') {
                        Some(("tags", key)) => {
                            spec.tags.insert(key.to_owned(), Scalar::Text(value.to_owned()));
                        }
                        Some(("properties", key)) => {
                            spec.properties.insert(key.to_owned(), Scalar::Text(value.to_owned()));
                        }
                        _ => bail!(
                            "unknown field '{other}' in --set: expected name, version, path, type, description, stage, tags.KEY or properties.KEY"
                        ),
                    },
                }
            }
            let _ = spec.flavors.take();
            let Some(name) = spec.name.clone() else { bail!("a model needs a name: 'name:' in the file, or --name") };
            let Some(model_path) = spec.path.clone() else {
                bail!(
                    "a model needs a path: 'path:' in the file, or --path (a local file or folder, runs:/…, models:/…)"
                )
            };
            let version = match &spec.version {
                None => None,
                Some(scalar) => {
                    let text = scalar.text();
                    Some(text.trim().parse::<i64>().ok().filter(|number| *number > 0).with_context(|| {
                        format!("version '{text}' must be a positive whole number (versions are numbered as in MLflow)")
                    })?)
                }
            };
            // A taken number fails before anything is uploaded.
            if let Some(version) = version {
                let path = version_path(&workspace, &name, &version.to_string());
                if client.get::<Value>(&path, &[]).await.is_ok() {
                    bail!(
                        "Model Version (name={name}, version={version}) already exists (RESOURCE_ALREADY_EXISTS); nothing was uploaded"
                    );
                }
            }
            let source = if is_uri(&model_path) {
                if model_path.starts_with("azureml:")
                    && !model_path.starts_with("azureml://datastores/")
                    && !model_path.starts_with("azureml://jobs/")
                {
                    bail!(
                        "path '{model_path}': expected a local path, azureml://datastores/<name>/paths/<path>, \
                         azureml://jobs/<job>/outputs/<output>/paths/<path>, runs:/<run>/<path> or models:/<model_id>"
                    );
                }
                model_path
            } else {
                // A local path is read relative to the YAML file's folder, as Azure ML does.
                let base = file.as_ref().and_then(|file| file.parent()).map(Path::to_path_buf).unwrap_or_default();
                let local = if Path::new(&model_path).is_absolute() {
                    PathBuf::from(&model_path)
                } else {
                    base.join(&model_path)
                };
                let local = local.canonicalize().with_context(|| format!("path '{model_path}' does not exist"))?;
                upload_model_files(&client, &workspace, &name, &local).await?
            };
            let to_map = |map: &BTreeMap<String, Scalar>| -> Map<String, Value> {
                map.iter().map(|(key, value)| (key.clone(), Value::String(value.text()))).collect()
            };
            let mut body = json!({ "name": name, "path": source, "tags": to_map(&spec.tags), "properties": to_map(&spec.properties) });
            if let Some(version) = version {
                body["version"] = json!(version);
            }
            if let Some(kind) = spec.model_type {
                body["type"] = json!(kind);
            }
            if let Some(description) = spec.description {
                body["description"] = json!(description);
            }
            if let Some(stage) = spec.stage {
                body["stage"] = json!(stage);
            }
            let created: Value = client.post(&format!("/workspaces/{}/models", segment(&workspace)), &body).await?;
            print_version(&created, args.output)
        }
        ModelCommand::List { name, include_archived, workspace } => {
            let query = [("archived", include_archived.to_string())];
            let versions: Vec<Value> = match name {
                Some(name) => {
                    client
                        .get(&format!("/workspaces/{}/models/{}/versions", segment(&workspace), segment(&name)), &query)
                        .await?
                }
                None => client.get(&format!("/workspaces/{}/models", segment(&workspace)), &query).await?,
            };
            print_versions(&versions, args.output)
        }
        ModelCommand::Show { name, which, workspace } => {
            let version: Value = client.get(&version_path(&workspace, &name, &which.reference(true)?), &[]).await?;
            print_version(&version, args.output)
        }
        ModelCommand::Download { name, which, download_path, workspace } => {
            let path = version_path(&workspace, &name, &which.reference(true)?);
            // Paths start with the folder (or file) name the version was registered from, as on
            // Azure ML: <download-path>/<name>/<folder>/….
            let target = download_path.join(&name);
            let files: Vec<Value> = client.get(&format!("{path}/files"), &[]).await?;
            let mut total = 0u64;
            for file in &files {
                let relative = file["path"].as_str().context("unexpected file listing")?;
                if relative.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
                    bail!("the server listed an unsafe path '{relative}'");
                }
                let encoded = relative.split('/').map(segment).collect::<Vec<_>>().join("/");
                total += client.get_to_file(&format!("{path}/files/{encoded}"), &target.join(relative)).await?;
            }
            if args.output == OutputFormat::Json {
                println!("{}", json!({ "path": target, "files": files.len(), "bytes": total }));
            } else {
                println!("downloaded {} files ({total} bytes) to {}", files.len(), target.display());
            }
            Ok(())
        }
        ModelCommand::Archive { name, which, workspace } => {
            let path = format!("{}/archive", version_path(&workspace, &name, &which.reference(true)?));
            let archived: Value = client.post(&path, &json!({})).await?;
            print_version(&archived, args.output)
        }
        ModelCommand::Restore { name, which, workspace } => {
            let path = format!("{}/restore", version_path(&workspace, &name, &which.reference(true)?));
            let restored: Value = client.post(&path, &json!({})).await?;
            print_version(&restored, args.output)
        }
        ModelCommand::Update { name, which, set, workspace } => {
            let mut patch = json!({});
            let mut tags = Map::new();
            let mut properties = Map::new();
            for item in &set {
                let (field, value) = assignment(item)?;
                match field {
                    "description" => patch["description"] = json!(value),
                    "stage" => patch["stage"] = json!(value),
                    other => match other.split_once('.') {
                        Some(("tags", key)) if !key.is_empty() => {
                            tags.insert(key.to_owned(), json!(value));
                        }
                        Some(("properties", key)) if !key.is_empty() => {
                            properties.insert(key.to_owned(), json!(value));
                        }
                        _ => bail!(
                            "'{other}' cannot be changed: expected description, stage, tags.KEY or properties.KEY (a version's files and type are fixed)"
                        ),
                    },
                }
            }
            patch["tags"] = Value::Object(tags);
            patch["properties"] = Value::Object(properties);
            let updated: Value =
                client.patch(&version_path(&workspace, &name, &which.reference(true)?), &patch).await?;
            print_version(&updated, args.output)
        }
    }
}

//! `atelier data`: data assets from Azure ML's data YAML (or flags): create (a local file or
//! folder is uploaded to the workspace's default datastore), list, show, download, archive,
//! restore and update.

use crate::assets::{Scalar, Which, assignment, local_files, print_fields, print_rows};
use crate::client::{Client, segment};
use crate::{ClientArgs, OutputFormat};
use anyhow::{Context, bail};
use clap::Subcommand;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum DataCommand {
    /// Register a data asset from a data YAML file or from flags; a local path is uploaded.
    Create {
        /// A data YAML file (Azure ML's data schema).
        #[arg(short = 'f', long = "file")]
        file: Option<PathBuf>,
        #[arg(short = 'n', long)]
        name: Option<String>,
        #[arg(short = 'v', long)]
        version: Option<String>,
        /// A local file or folder, or azureml://datastores/<datastore>/paths/<path>.
        #[arg(short = 'p', long)]
        path: Option<String>,
        /// uri_file, uri_folder (the default) or mltable.
        #[arg(short = 't', long = "type")]
        data_type: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// Override a field of the file, as FIELD=VALUE (e.g. version=2, tags.source=crm); repeatable.
        #[arg(long = "set")]
        set: Vec<String>,
        #[arg(short = 'w', long, env = "ATELIER_WORKSPACE", default_value = "default")]
        workspace: String,
    },
    /// List data assets (the newest version of each), or the versions of one with --name.
    List {
        #[arg(short = 'n', long)]
        name: Option<String>,
        #[arg(long)]
        include_archived: bool,
        #[arg(short = 'w', long, env = "ATELIER_WORKSPACE", default_value = "default")]
        workspace: String,
    },
    /// Show a data asset version (`--version V` or `--label latest`).
    Show {
        #[arg(short = 'n', long)]
        name: String,
        #[command(flatten)]
        which: Which,
        #[arg(short = 'w', long, env = "ATELIER_WORKSPACE", default_value = "default")]
        workspace: String,
    },
    /// Download a data asset version's files to <download-path>/<name>/.
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
    /// Archive a version: it leaves lists and `latest`, but stays readable.
    Archive {
        #[arg(short = 'n', long)]
        name: String,
        #[command(flatten)]
        which: Which,
        #[arg(short = 'w', long, env = "ATELIER_WORKSPACE", default_value = "default")]
        workspace: String,
    },
    /// Restore an archived version.
    Restore {
        #[arg(short = 'n', long)]
        name: String,
        #[command(flatten)]
        which: Which,
        #[arg(short = 'w', long, env = "ATELIER_WORKSPACE", default_value = "default")]
        workspace: String,
    },
    /// Change a version: --set description=…, --set tags.K=V, --set properties.K=V.
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

/// Azure ML's data YAML. Unknown fields are errors, reported with their line.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct DataFile {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version: Option<Scalar>,
    #[serde(rename = "type", default)]
    data_type: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, Scalar>,
    #[serde(default)]
    properties: BTreeMap<String, Scalar>,
}

fn version_path(workspace: &str, name: &str, reference: &str) -> String {
    format!("/workspaces/{}/data/{}/versions/{}", segment(workspace), segment(name), segment(reference))
}

const ASSET_FIELDS: [&str; 10] =
    ["name", "version", "type", "path", "description", "created_by", "archived", "tags", "properties", "mltable_paths"];

fn print_asset(asset: &Value, output: OutputFormat) -> anyhow::Result<()> {
    print_fields(asset, &ASSET_FIELDS, output)
}

fn print_assets(assets: &[Value], output: OutputFormat) -> anyhow::Result<()> {
    print_rows(assets, &["name", "version", "type", "path", "archived"], output)
}

/// Shows upload progress on stderr: one line redrawn on a terminal, a line per file otherwise.
struct Progress {
    total_files: usize,
    total_bytes: u64,
    sent_bytes: u64,
    terminal: bool,
}

impl Progress {
    fn file_done(&mut self, index: usize, relative: &str, size: u64) {
        self.sent_bytes += size;
        let percent = (self.sent_bytes * 100).checked_div(self.total_bytes).unwrap_or(100);
        let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
        let line = format!(
            "uploading: {}/{} files, {:.1} of {:.1} MiB ({percent}%)",
            index + 1,
            self.total_files,
            mib(self.sent_bytes),
            mib(self.total_bytes)
        );
        let mut stderr = std::io::stderr();
        if self.terminal {
            let _ = write!(stderr, "\r{line}");
            if index + 1 == self.total_files {
                let _ = writeln!(stderr);
            }
        } else {
            let _ = writeln!(stderr, "{line} {relative}");
        }
    }
}

pub async fn data(command: DataCommand, args: ClientArgs) -> anyhow::Result<()> {
    let client = Client::new(&args)?;
    match command {
        DataCommand::Create { file, name, version, path, data_type, description, set, workspace } => {
            let mut spec = match &file {
                Some(file) => {
                    let text =
                        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
                    serde_saphyr::from_str::<DataFile>(&text)
                        .map_err(|error| anyhow::anyhow!("{}: {error}", file.display()))?
                }
                None => DataFile::default(),
            };
            if name.is_some() {
                spec.name = name;
            }
            if let Some(version) = version {
                spec.version = Some(Scalar::Text(version));
            }
            if path.is_some() {
                spec.path = path;
            }
            if data_type.is_some() {
                spec.data_type = data_type;
            }
            if description.is_some() {
                spec.description = description;
            }
            for item in &set {
                let (field, value) = assignment(item)?;
                match field {
                    "name" => spec.name = Some(value.to_owned()),
                    "version" => spec.version = Some(Scalar::Text(value.to_owned())),
                    "path" => spec.path = Some(value.to_owned()),
                    "type" => spec.data_type = Some(value.to_owned()),
                    "description" => spec.description = Some(value.to_owned()),
                    other => match other.split_once('.') {
                        Some(("tags", key)) if !key.is_empty() => {
                            spec.tags.insert(key.to_owned(), Scalar::Text(value.to_owned()));
                        }
                        Some(("properties", key)) if !key.is_empty() => {
                            spec.properties.insert(key.to_owned(), Scalar::Text(value.to_owned()));
                        }
                        _ => bail!(
                            "unknown field '{other}' in --set: expected name, version, path, type, description, tags.KEY or properties.KEY"
                        ),
                    },
                }
            }
            let Some(name) = spec.name.clone() else {
                bail!("a data asset needs a name: 'name:' in the file, or --name")
            };
            let Some(data_path) = spec.path.clone() else {
                bail!(
                    "a data asset needs a path: 'path:' in the file, or --path (a local file or folder, or azureml://datastores/…)"
                )
            };
            let version = spec.version.as_ref().map(Scalar::text);
            // A taken version fails before anything is uploaded.
            if let Some(version) = &version
                && client.get::<Value>(&version_path(&workspace, &name, version), &[]).await.is_ok()
            {
                bail!(
                    "data asset {name} version {version} already exists (RESOURCE_ALREADY_EXISTS); nothing was uploaded"
                );
            }
            let is_uri = data_path.contains("://");
            let source = if is_uri {
                data_path
            } else {
                let base = file.as_ref().and_then(|file| file.parent()).map(Path::to_path_buf).unwrap_or_default();
                let local =
                    if Path::new(&data_path).is_absolute() { PathBuf::from(&data_path) } else { base.join(&data_path) };
                let local = local.canonicalize().with_context(|| format!("path '{data_path}' does not exist"))?;
                let kind = spec.data_type.as_deref().unwrap_or("uri_folder");
                if kind == "uri_file" && !local.is_file() {
                    bail!("path '{data_path}' is a folder, but a uri_file names one file");
                }
                if kind != "uri_file" && !local.is_dir() {
                    bail!("path '{data_path}' is a file, but a {kind} names a folder");
                }
                let files = local_files(&local)?;
                let upload = uuid::Uuid::new_v4().simple().to_string();
                let mut sizes = Vec::with_capacity(files.len());
                for (_, file) in &files {
                    sizes.push(
                        std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?.len(),
                    );
                }
                let mut progress = Progress {
                    total_files: files.len(),
                    total_bytes: sizes.iter().sum(),
                    sent_bytes: 0,
                    terminal: std::io::stderr().is_terminal(),
                };
                let mut top = String::new();
                for (index, ((relative, file), size)) in files.iter().zip(&sizes).enumerate() {
                    let target = format!(
                        "/workspaces/{}/data-uploads/{upload}/{}",
                        segment(&workspace),
                        relative.split('/').map(segment).collect::<Vec<_>>().join("/")
                    );
                    let uploaded: Value = client.put_file(&target, file).await?;
                    progress.file_done(index, relative, *size);
                    if top.is_empty() {
                        let uri = uploaded["uri"].as_str().context("unexpected upload response")?;
                        let first = relative.split('/').next().unwrap_or_default();
                        top = format!("{}{first}", &uri[..uri.len() - relative.len()]);
                    }
                }
                if kind == "uri_file" { top } else { format!("{top}/") }
            };
            let to_map = |map: &BTreeMap<String, Scalar>| -> Map<String, Value> {
                map.iter().map(|(key, value)| (key.clone(), Value::String(value.text()))).collect()
            };
            let mut body = json!({ "name": name, "path": source, "tags": to_map(&spec.tags), "properties": to_map(&spec.properties) });
            if let Some(version) = version {
                body["version"] = json!(version);
            }
            if let Some(kind) = spec.data_type {
                body["type"] = json!(kind);
            }
            if let Some(description) = spec.description {
                body["description"] = json!(description);
            }
            let created: Value = client.post(&format!("/workspaces/{}/data", segment(&workspace)), &body).await?;
            print_asset(&created, args.output)
        }
        DataCommand::List { name, include_archived, workspace } => {
            let query = [("archived", include_archived.to_string())];
            let assets: Vec<Value> = match name {
                Some(name) => {
                    client
                        .get(&format!("/workspaces/{}/data/{}/versions", segment(&workspace), segment(&name)), &query)
                        .await?
                }
                None => client.get(&format!("/workspaces/{}/data", segment(&workspace)), &query).await?,
            };
            print_assets(&assets, args.output)
        }
        DataCommand::Show { name, which, workspace } => {
            let asset: Value = client.get(&version_path(&workspace, &name, &which.reference(false)?), &[]).await?;
            print_asset(&asset, args.output)
        }
        DataCommand::Download { name, which, download_path, workspace } => {
            let path = version_path(&workspace, &name, &which.reference(false)?);
            let files: Vec<Value> = client.get(&format!("{path}/files"), &[]).await?;
            let target = download_path.join(&name);
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
        DataCommand::Archive { name, which, workspace } => {
            let path = format!("{}/archive", version_path(&workspace, &name, &which.reference(false)?));
            let archived: Value = client.post(&path, &json!({})).await?;
            print_asset(&archived, args.output)
        }
        DataCommand::Restore { name, which, workspace } => {
            let path = format!("{}/restore", version_path(&workspace, &name, &which.reference(false)?));
            let restored: Value = client.post(&path, &json!({})).await?;
            print_asset(&restored, args.output)
        }
        DataCommand::Update { name, which, set, workspace } => {
            let mut patch = json!({});
            let mut tags = Map::new();
            let mut properties = Map::new();
            for item in &set {
                let (field, value) = assignment(item)?;
                match field {
                    "description" => patch["description"] = json!(value),
                    other => match other.split_once('.') {
                        Some(("tags", key)) if !key.is_empty() => {
                            tags.insert(key.to_owned(), json!(value));
                        }
                        Some(("properties", key)) if !key.is_empty() => {
                            properties.insert(key.to_owned(), json!(value));
                        }
                        _ => bail!(
                            "'{other}' cannot be changed: expected description, tags.KEY or properties.KEY (a version's data is fixed; register a new version)"
                        ),
                    },
                }
            }
            patch["tags"] = Value::Object(tags);
            patch["properties"] = Value::Object(properties);
            let updated: Value =
                client.patch(&version_path(&workspace, &name, &which.reference(false)?), &patch).await?;
            print_asset(&updated, args.output)
        }
    }
}

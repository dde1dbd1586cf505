//! What the asset commands (`model`, `data`, `environment`, `datastore`, `job`) share: the
//! subcommands of versioned assets ([`VersionCommand`]: list, show, archive, restore;
//! [`FilesCommand`]: download and update, for assets with files; [`CreateArgs`]: create from a
//! file or flags), run against the API by one [`AssetApi`] per kind; which version a command
//! means; `--set` assignments; uploading a local file tree; and printing.

use crate::OutputFormat;
use crate::client::{Client, segment};
use crate::output::{print_fields, print_rows};
use anyhow::{Context, bail};
use atelier_core::asset::{AssetKind, VersionSelector};
use atelier_spec::SpecError;
use atelier_spec::assets::{AssetSpec, parse_data, parse_model};
use clap::Subcommand;
use serde_json::{Map, Value, json};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// Which version: `--version V`, `--label latest`, or (models) `--label @alias`.
#[derive(clap::Args, Clone, Debug)]
pub struct Which {
    #[arg(short = 'v', long, conflicts_with = "label")]
    version: Option<String>,
    /// `latest` (the newest version that is not archived), or for models `@<alias>`.
    #[arg(short = 'l', long)]
    label: Option<String>,
}

impl Which {
    /// The version this means, read by the kind's rules.
    pub fn selector(&self, kind: AssetKind) -> anyhow::Result<VersionSelector> {
        match (&self.version, &self.label) {
            (Some(version), _) => {
                VersionSelector::parse(kind, version).map_err(|error| anyhow::anyhow!("--version: {error}"))
            }
            (None, Some(label)) => {
                VersionSelector::parse_label(kind, label).map_err(|error| anyhow::anyhow!("--label: {error}"))
            }
            (None, None) => bail!("say which version: --version V or --label latest"),
        }
    }
}

/// One version of a named asset: `-n NAME` and which version.
#[derive(clap::Args, Clone, Debug)]
pub struct Named {
    #[arg(short = 'n', long)]
    pub name: String,
    #[command(flatten)]
    pub which: Which,
}

/// The subcommands every versioned asset has.
#[derive(Subcommand)]
pub enum VersionCommand {
    /// List the newest version of each (not archived), or the versions of one with --name.
    List {
        #[arg(short = 'n', long)]
        name: Option<String>,
        /// Include archived versions.
        #[arg(long)]
        include_archived: bool,
    },
    /// Show a version (`--version V`, `--label latest`, for models `--label @alias`).
    Show(Named),
    /// Archive a version: it leaves lists and `latest`, but stays readable.
    Archive(Named),
    /// Restore an archived version.
    Restore(Named),
}

/// The subcommands of versioned assets with files (models and data).
#[derive(Subcommand)]
pub enum FilesCommand {
    /// Download a version's files to <download-path>/<name>/.
    Download {
        #[command(flatten)]
        named: Named,
        #[arg(short = 'p', long, default_value = ".")]
        download_path: PathBuf,
    },
    /// Change a version: --set description=…, --set tags.K=V, --set properties.K=V (models: also
    /// --set stage=…).
    Update {
        #[command(flatten)]
        named: Named,
        #[arg(long = "set", required = true)]
        set: Vec<String>,
    },
}

/// `create` of a model or a data asset: from its YAML file, from flags, or both (flags win).
#[derive(clap::Args)]
pub struct CreateArgs {
    /// A YAML file (Azure ML's model or data schema).
    #[arg(short = 'f', long = "file")]
    file: Option<PathBuf>,
    #[arg(short = 'n', long)]
    name: Option<String>,
    #[arg(short = 'v', long)]
    version: Option<String>,
    /// A local file or folder (uploaded), or azureml://datastores/<name>/paths/<path>; for models
    /// also runs:/<run>/<path>, azureml://jobs/<job>/outputs/<output>/paths/<path>, models:/m-…
    /// or mlflow-artifacts:/….
    #[arg(short = 'p', long)]
    path: Option<String>,
    /// Models: custom_model, mlflow_model or triton_model. Data: uri_file, uri_folder (the
    /// default) or mltable.
    #[arg(short = 't', long = "type")]
    asset_type: Option<String>,
    #[arg(long)]
    description: Option<String>,
    /// Override a field of the file, as FIELD=VALUE (e.g. version=3, tags.team=risk); repeatable. A
    /// relative path given here is relative to the current folder.
    #[arg(long = "set")]
    set: Vec<String>,
}

impl CreateArgs {
    /// The spec: the file's fields, then the flags (`extra`: the kind's own) and `--set`
    /// assignments, which win; checked whole before anything is uploaded. With it, the file's
    /// text for the server, which reads it again: the file as written, or the spec written out
    /// when flags or `--set` changed it (or there is no file).
    pub fn spec(&self, kind: AssetKind, extra: &[(&str, Option<&String>)]) -> anyhow::Result<(AssetSpec, String)> {
        let shown = |error: SpecError| match &self.file {
            Some(file) => anyhow::anyhow!("{}: {error}", file.display()),
            None => anyhow::anyhow!("{error}"),
        };
        let (mut spec, mut text) = match &self.file {
            Some(file) => {
                let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
                let parse = if kind == AssetKind::Model { parse_model } else { parse_data };
                (parse(&text).map_err(shown)?, Some(text))
            }
            None => (AssetSpec::new(kind), None),
        };
        let flags = [
            ("name", self.name.as_ref()),
            ("version", self.version.as_ref()),
            ("path", self.path.as_ref()),
            ("type", self.asset_type.as_ref()),
            ("description", self.description.as_ref()),
        ];
        for (field, value) in flags.iter().chain(extra) {
            if let Some(value) = value {
                spec.set(field, &command_line_value(field, value)?).map_err(shown)?;
                text = None;
            }
        }
        for item in &self.set {
            let (field, value) = assignment(item)?;
            let value = command_line_value(field, value)?;
            spec.set(field, &value).map_err(|error| anyhow::anyhow!("--set {item}: {}", error.message))?;
            text = None;
        }
        spec.check().map_err(shown)?;
        let text = text.unwrap_or_else(|| spec.to_yaml());
        Ok((spec, text))
    }

    /// The local file or folder a spec's path names, read relative to the YAML file's folder as
    /// Azure ML does.
    pub fn local(&self, path: &str) -> anyhow::Result<PathBuf> {
        let base = self.file.as_ref().and_then(|file| file.parent()).map(Path::to_path_buf).unwrap_or_default();
        let local = if Path::new(path).is_absolute() { PathBuf::from(path) } else { base.join(path) };
        local.canonicalize().with_context(|| format!("path '{path}' does not exist"))
    }
}

/// How the API serves one kind of versioned asset, and how the CLI prints it.
pub struct AssetApi {
    pub kind: AssetKind,
    /// The collection under a workspace: `models`, `data`, `environments`.
    pub collection: &'static str,
    /// What `show` prints, and the columns of `list`.
    pub fields: &'static [&'static str],
    pub columns: &'static [&'static str],
    /// What `update --set` changes besides tags.KEY and properties.KEY, and why the rest is fixed.
    pub settable: &'static [&'static str],
    pub fixed: &'static str,
    /// Environments: `show` adds the state of the version's build.
    pub shows_build: bool,
}

impl AssetApi {
    /// The API path of the kind's collection in a workspace.
    pub fn collection_path(&self, workspace: &str) -> String {
        format!("/workspaces/{}/{}", segment(workspace), self.collection)
    }

    fn version_path(&self, workspace: &str, name: &str, selector: &VersionSelector) -> String {
        format!("{}/{}/versions/{}", self.collection_path(workspace), segment(name), segment(&selector.to_string()))
    }

    /// The API path of the version `-n` and `-v`/`--label` name.
    pub fn named_path(&self, workspace: &str, named: &Named) -> anyhow::Result<String> {
        Ok(self.version_path(workspace, &named.name, &named.which.selector(self.kind)?))
    }

    pub fn print(&self, version: &Value, output: OutputFormat) -> anyhow::Result<()> {
        print_fields(version, self.fields, output)
    }

    /// Runs list, show, archive or restore.
    pub async fn run(
        &self,
        client: &Client,
        workspace: &str,
        command: VersionCommand,
        output: OutputFormat,
    ) -> anyhow::Result<()> {
        match command {
            VersionCommand::List { name, include_archived } => {
                let query = [("archived", include_archived.to_string())];
                let path = match name {
                    Some(name) => format!("{}/{}/versions", self.collection_path(workspace), segment(&name)),
                    None => self.collection_path(workspace),
                };
                let versions: Vec<Value> = client.get(&path, &query).await?;
                print_rows(&versions, self.columns, output)
            }
            VersionCommand::Show(named) => {
                let path = self.named_path(workspace, &named)?;
                let mut version: Value = client.get(&path, &[]).await?;
                if !self.shows_build {
                    return self.print(&version, output);
                }
                let build: Value = client.get(&format!("{path}/build"), &[]).await?;
                version["build"] = build.get("state").cloned().unwrap_or(Value::Null);
                print_fields(&version, &[self.fields, &["build"]].concat(), output)
            }
            VersionCommand::Archive(named) => self.post(client, workspace, &named, "archive", output).await,
            VersionCommand::Restore(named) => self.post(client, workspace, &named, "restore", output).await,
        }
    }

    async fn post(
        &self,
        client: &Client,
        workspace: &str,
        named: &Named,
        action: &str,
        output: OutputFormat,
    ) -> anyhow::Result<()> {
        let changed: Value =
            client.post(&format!("{}/{action}", self.named_path(workspace, named)?), &json!({})).await?;
        self.print(&changed, output)
    }

    /// Runs download or update.
    pub async fn run_files(
        &self,
        client: &Client,
        workspace: &str,
        command: FilesCommand,
        output: OutputFormat,
    ) -> anyhow::Result<()> {
        match command {
            FilesCommand::Download { named, download_path } => {
                let path = self.named_path(workspace, &named)?;
                // Paths start with the folder (or file) name the version was registered from, as
                // on Azure ML: <download-path>/<name>/<folder>/….
                let target = download_path.join(&named.name);
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
                if output == OutputFormat::Json {
                    println!("{}", json!({ "path": target, "files": files.len(), "bytes": total }));
                } else {
                    println!("downloaded {} files ({total} bytes) to {}", files.len(), target.display());
                }
                Ok(())
            }
            FilesCommand::Update { named, set } => {
                let mut patch = Map::new();
                let (mut tags, mut properties) = (Map::new(), Map::new());
                for item in &set {
                    let (field, value) = assignment(item)?;
                    match field.split_once('.') {
                        Some(("tags", key)) if !key.is_empty() => {
                            tags.insert(key.to_owned(), json!(value));
                        }
                        Some(("properties", key)) if !key.is_empty() => {
                            properties.insert(key.to_owned(), json!(value));
                        }
                        _ if self.settable.contains(&field) => {
                            patch.insert(field.to_owned(), json!(value));
                        }
                        _ => bail!(
                            "'{field}' cannot be changed: expected {}, tags.KEY or properties.KEY ({})",
                            self.settable.join(", "),
                            self.fixed
                        ),
                    }
                }
                patch.insert("tags".to_owned(), Value::Object(tags));
                patch.insert("properties".to_owned(), Value::Object(properties));
                let updated: Value = client.patch(&self.named_path(workspace, &named)?, &Value::Object(patch)).await?;
                self.print(&updated, output)
            }
        }
    }

    /// The version a spec asks for, as the API writes it (a model's is a number).
    fn version_text(spec: &AssetSpec) -> Option<String> {
        match spec.kind {
            AssetKind::Model => spec.version_number().map(|number| number.to_string()),
            _ => spec.version.clone(),
        }
    }

    /// Fails when the version a spec asks for is taken, before anything is uploaded.
    pub async fn ensure_free(&self, client: &Client, workspace: &str, spec: &AssetSpec) -> anyhow::Result<()> {
        let (Some(name), Some(version)) = (&spec.name, Self::version_text(spec)) else { return Ok(()) };
        let path = self.version_path(workspace, name, &VersionSelector::Version(version.clone()));
        if client.get::<Value>(&path, &[]).await.is_ok() {
            bail!(
                "{} '{name}' version {version} already exists (RESOURCE_ALREADY_EXISTS); nothing was uploaded",
                self.kind.noun()
            );
        }
        Ok(())
    }

    /// Registers a version from its file's text (`yaml`, from [`CreateArgs::spec`]), with
    /// `upload_uri` where a local `path`'s files were uploaded; the server reads the file again
    /// and registers what it says.
    pub async fn register(
        &self,
        client: &Client,
        workspace: &str,
        yaml: &str,
        upload_uri: Option<&str>,
        output: OutputFormat,
    ) -> anyhow::Result<()> {
        let mut body = json!({ "yaml": yaml });
        if let Some(uri) = upload_uri {
            body["upload_uri"] = json!(uri);
        }
        let created: Value = client.post(&self.collection_path(workspace), &body).await?;
        self.print(&created, output)
    }
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

/// Uploads a local file or folder, file by file, to `prefix` (an API path) with progress on
/// stderr. Returns the URI of its root, which keeps its own name (a folder `model/` is
/// `…/model`), and how many files were sent.
pub async fn upload_tree(client: &Client, local: &Path, prefix: &str) -> anyhow::Result<(String, usize)> {
    let files = local_files(local)?;
    let mut sizes = Vec::with_capacity(files.len());
    for (_, file) in &files {
        sizes.push(std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?.len());
    }
    let mut progress = Progress {
        total_files: files.len(),
        total_bytes: sizes.iter().sum(),
        sent_bytes: 0,
        terminal: std::io::stderr().is_terminal(),
    };
    let mut root = String::new();
    for (index, ((relative, file), size)) in files.iter().zip(&sizes).enumerate() {
        let target = format!("{prefix}/{}", relative.split('/').map(segment).collect::<Vec<_>>().join("/"));
        let uploaded: Value = client.put_file(&target, file).await?;
        progress.file_done(index, relative, *size);
        if root.is_empty() {
            let uri = uploaded["uri"].as_str().context("unexpected upload response")?;
            let first = relative.split('/').next().unwrap_or_default();
            root = format!("{}{first}", &uri[..uri.len() - relative.len()]);
        }
    }
    Ok((root, files.len()))
}

/// Splits `FIELD=VALUE`.
pub fn assignment(text: &str) -> anyhow::Result<(&str, &str)> {
    text.split_once('=').filter(|(field, _)| !field.is_empty()).with_context(|| {
        format!("'--set {text}' must be FIELD=VALUE, e.g. description=\"better model\" or tags.team=risk")
    })
}

/// The value of a field given on the command line (`--set FIELD=VALUE`, `-p`). A field that
/// names a local file or folder (`path`, `code`, or one ending in `.path` or `.code`) with a
/// relative path is relative to the current folder, as the shell completed it, not to the YAML
/// file's folder as paths written in the file are; it is made absolute here, so both rules hold.
/// URIs (`azureml:`, `runs:/`, `models:/`, `…://`) are kept as given.
pub fn command_line_value(field: &str, value: &str) -> anyhow::Result<String> {
    let names_a_path = matches!(field.rsplit('.').next(), Some("path" | "code"));
    let is_uri = value.contains("://")
        || ["azureml:", "runs:/", "models:/", "mlflow-artifacts:"].iter().any(|scheme| value.starts_with(scheme));
    if !names_a_path || is_uri || value.is_empty() || Path::new(value).is_absolute() {
        return Ok(value.to_owned());
    }
    let here = std::env::current_dir().context("cannot read the current folder")?;
    Ok(here.join(value).display().to_string())
}

/// The files under a local folder (or the file itself), as (path relative to the folder's
/// parent, so that the folder keeps its name; local path).
pub fn local_files(root: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let base = root.file_name().map(|name| name.to_string_lossy().into_owned()).context("the path has no name")?;
    if root.is_file() {
        return Ok(vec![(base, root.to_path_buf())]);
    }
    let mut files = Vec::new();
    let mut pending = vec![(base, root.to_path_buf())];
    while let Some((relative, folder)) = pending.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&folder)
            .with_context(|| format!("cannot read {}", folder.display()))?
            .collect::<Result<_, _>>()
            .with_context(|| format!("cannot read {}", folder.display()))?;
        entries.sort_by_key(|entry| entry.file_name());
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            let kind = entry.file_type().with_context(|| format!("cannot read {}", entry.path().display()))?;
            if kind.is_dir() {
                pending.push((format!("{relative}/{name}"), entry.path()));
            } else if kind.is_file() {
                files.push((format!("{relative}/{name}"), entry.path()));
            }
        }
    }
    if files.is_empty() {
        bail!("{} has no files to register", root.display());
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::command_line_value;

    #[test]
    fn paths_given_on_the_command_line_are_relative_to_the_current_folder() {
        let here = std::env::current_dir().expect("a current folder");
        let absolute = |relative: &str| here.join(relative).display().to_string();
        assert_eq!(command_line_value("inputs.notes.path", "README.md").unwrap(), absolute("README.md"));
        assert_eq!(command_line_value("path", "./model").unwrap(), absolute("./model"));
        assert_eq!(command_line_value("code_configuration.code", "src").unwrap(), absolute("src"));
        for kept in ["azureml:iris@latest", "https://host/x.csv", "runs:/abc/model", "/srv/data.csv", ""] {
            assert_eq!(command_line_value("inputs.x.path", kept).unwrap(), kept);
        }
        assert_eq!(command_line_value("inputs.lr", "0.1").unwrap(), "0.1", "not a path field");
        assert_eq!(command_line_value("description", "see docs/a.md").unwrap(), "see docs/a.md");
    }
}

//! `atelier component`: command components from Azure ML's component YAML: create (the file
//! checked here first, each mistake with its line, then its code uploaded as a snapshot), and
//! the subcommands every versioned asset has (`assets`): list, show, archive, restore.

use crate::ClientArgs;
use crate::assets::{AssetApi, VersionCommand, assignment, command_line_value};
use crate::client::Client;
use crate::jobs::{set_field, upload_code};
use anyhow::Context;
use atelier_core::asset::AssetKind;
use atelier_spec::parse_component;
use clap::Subcommand;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum ComponentCommand {
    /// Register a component version from a component YAML file. Registering the same content
    /// again gives the version that has it.
    Create {
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// Override the file's version.
        #[arg(short = 'v', long)]
        version: Option<String>,
        /// Override a field of the file, as FIELD=VALUE (e.g. version=4, tags.team=risk); repeatable.
        #[arg(long = "set")]
        set: Vec<String>,
    },
    #[command(flatten)]
    Versions(VersionCommand),
}

pub const COMPONENTS: AssetApi = AssetApi {
    kind: AssetKind::Component,
    collection: "components",
    fields: &[
        "name",
        "version",
        "display_name",
        "description",
        "is_deterministic",
        "command",
        "inputs",
        "outputs",
        "environment",
        "code_hash",
        "tags",
        "archived",
    ],
    columns: &["name", "version", "display_name", "environment", "is_deterministic", "archived"],
    settable: &[],
    fixed: "a component version is fixed; register a new version",
    shows_build: false,
};

/// The component file's text after `--set`, and the folder its paths are relative to.
pub fn component_text(file: &Path, set: &[String]) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    if set.is_empty() {
        return Ok(text);
    }
    let mut document: Value =
        serde_saphyr::from_str(&text).map_err(|error| anyhow::anyhow!("{}: {error}", file.display()))?;
    for assignment_text in set {
        let (path, value) = assignment(assignment_text)?;
        set_field(&mut document, path, &command_line_value(path, value)?)?;
    }
    // JSON is YAML: the server reads the changed document as it reads the file.
    Ok(serde_json::to_string_pretty(&document)?)
}

/// Checks a component file, uploads its code and registers it; returns the version the server
/// answered. `base` is the folder its relative paths are read from.
pub async fn register_component(
    client: &Client,
    workspace: &str,
    text: &str,
    base: &Path,
    shown_as: &str,
    version: Option<String>,
) -> anyhow::Result<Value> {
    let spec = parse_component(text).map_err(|error| anyhow::anyhow!("{shown_as}: {error}"))?;
    let mut body = json!({ "yaml": text });
    if let Some(version) = version {
        body["version"] = json!(version);
    }
    if let Some((image, conda_file)) = &spec.inline_environment {
        let inline = crate::environments::inline_spec(base, image.clone(), conda_file.as_ref())
            .map_err(|error| anyhow::anyhow!("{shown_as}: environment: {error:#}"))?;
        body["inline_environment"] = json!({
            "python": inline.python,
            "requirements": inline.requirements,
            "image": inline.image,
            "channels": inline.channels,
        });
    }
    if let Some(code) = &spec.code {
        let snapshot = upload_code(client, workspace, &base.join(code), code).await?;
        body["snapshot"] = json!(snapshot);
    }
    client
        .post(&COMPONENTS.collection_path(workspace), &body)
        .await
        .map_err(|error| anyhow::anyhow!("{shown_as}: {error:#}"))
}

pub async fn component(command: ComponentCommand, args: ClientArgs) -> anyhow::Result<()> {
    let client = Client::new(&args)?;
    let workspace = args.workspace();
    match command {
        ComponentCommand::Create { file, version, set } => {
            let text = component_text(&file, &set)?;
            let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
            let base = if base.as_os_str().is_empty() { PathBuf::from(".") } else { base };
            let shown_as = file.display().to_string();
            let created = register_component(&client, workspace, &text, &base, &shown_as, version).await?;
            COMPONENTS.print(&created, args.output)
        }
        ComponentCommand::Versions(command) => COMPONENTS.run(&client, workspace, command, args.output).await,
    }
}

//! `atelier environment`: environments from Azure ML's environment YAML (`image`, `conda_file`
//! as a path or inline) or a requirements file: create and build, and the subcommands every
//! versioned asset has (`assets`): list, show, archive, restore.
//!
//! The CLI reads the YAML and its conda file (`atelier_spec::assets`: each mistake reported with
//! its line) and sends the server what a build needs: the Python version, pip requirements, and
//! the image.

use crate::ClientArgs;
use crate::assets::{AssetApi, Named, VersionCommand};
use crate::client::Client;
use crate::output::print_fields;
use anyhow::Context;
use atelier_core::asset::AssetKind;
use atelier_core::environment::{EnvironmentSpec, requirements_from_text};
use atelier_spec::assets::{CondaSource, CondaSpec, build_spec, parse_conda, parse_environment};
use clap::Subcommand;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum EnvironmentCommand {
    /// Register an environment from an environment YAML file.
    Create {
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// Override the file's version.
        #[arg(short = 'v', long)]
        version: Option<String>,
    },
    /// Build an environment version now (jobs build it when they need it).
    Build(Named),
    #[command(flatten)]
    Versions(VersionCommand),
}

pub const ENVIRONMENTS: AssetApi = AssetApi {
    kind: AssetKind::Environment,
    collection: "environments",
    fields: &["name", "version", "image", "python", "requirements", "channels", "description", "tags", "archived"],
    columns: &["name", "version", "python", "image", "archived"],
    settable: &[],
    fixed: "an environment version is fixed; register a new version",
    shows_build: true,
};

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The conda environment a `conda_file` names: inline, or a file relative to `base`.
fn conda_of(base: &Path, source: Option<&CondaSource>) -> anyhow::Result<Option<CondaSpec>> {
    match source {
        None => Ok(None),
        Some(CondaSource::Inline(conda)) => Ok(Some(conda.clone())),
        Some(CondaSource::Path(path)) => {
            let path = base.join(path);
            let conda = parse_conda(&read(&path)?).map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?;
            Ok(Some(conda))
        }
    }
}

/// The spec of a job's inline environment: its `image` and `conda_file` (a path relative to
/// `base`, or the conda environment inline).
pub fn inline_spec(base: &Path, image: Option<String>, conda_file: Option<&Value>) -> anyhow::Result<EnvironmentSpec> {
    let source = conda_file.map(CondaSource::from_value).transpose()?;
    Ok(build_spec(conda_of(base, source.as_ref())?.as_ref(), image)?)
}

/// The request body for an environment file.
fn environment_body(file: &Path, version: Option<String>) -> anyhow::Result<Value> {
    let text = read(file)?;
    let environment = parse_environment(&text).map_err(|error| anyhow::anyhow!("{}: {error}", file.display()))?;
    let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let conda = conda_of(&base, environment.conda_file.as_ref())?;
    let mut spec = build_spec(conda.as_ref(), environment.image.clone())
        .map_err(|error| anyhow::anyhow!("{}: {error}", file.display()))?;
    if let Some(requirements) = &environment.requirements_file {
        let path = base.join(requirements);
        spec.requirements.extend(
            requirements_from_text(&read(&path)?)
                .map_err(|error| anyhow::anyhow!("{}: {}", path.display(), error.message))?,
        );
    }
    let mut body = json!({
        "name": environment.name,
        "python": spec.python,
        "requirements": spec.requirements,
        "channels": spec.channels,
        "image": spec.image,
        "tags": environment.tags,
        // The server reads the file again, with the same parser; `python`, `requirements` and
        // `channels` stand for the files it names by path, which only this machine has.
        "yaml": text,
    });
    if let Some(description) = environment.description {
        body["description"] = json!(description);
    }
    if let Some(version) = version.or(environment.version) {
        body["version"] = json!(version);
    }
    Ok(body)
}

pub async fn environment(command: EnvironmentCommand, args: ClientArgs) -> anyhow::Result<()> {
    let client = Client::new(&args)?;
    let workspace = args.workspace();
    match command {
        EnvironmentCommand::Create { file, version } => {
            let body = environment_body(&file, version)?;
            let created: Value = client.post(&ENVIRONMENTS.collection_path(workspace), &body).await?;
            ENVIRONMENTS.print(&created, args.output)
        }
        EnvironmentCommand::Build(named) => {
            let path = format!("{}/build", ENVIRONMENTS.named_path(workspace, &named)?);
            let build: Value = client.post(&path, &json!({})).await?;
            for warning in build["warnings"].as_array().into_iter().flatten() {
                eprintln!("warning: {}", warning.as_str().unwrap_or_default());
            }
            print_fields(&build, &["state", "python", "cached"], args.output)
        }
        EnvironmentCommand::Versions(command) => ENVIRONMENTS.run(&client, workspace, command, args.output).await,
    }
}

//! `atelier environment`: environments from Azure ML's environment YAML (`image`, `conda_file`
//! as a path or inline) or a requirements file: create, list, show, archive, restore, build.
//!
//! The CLI reads the YAML and its conda file (each mistake reported with its line) and sends the
//! server what a build needs: the Python version, pip requirements, and the image.

use crate::ClientArgs;
use crate::assets::{Scalar, Which, print_fields, print_rows};
use crate::client::{Client, segment};
use anyhow::{Context, bail};
use atelier_core::environment::{CondaDependency, requirements_from_text, spec_from_conda};
use clap::Subcommand;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
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
        #[arg(short = 'w', long, env = "ATELIER_WORKSPACE", default_value = "default")]
        workspace: String,
    },
    /// List environments (the newest version of each), or the versions of one with --name.
    List {
        #[arg(short = 'n', long)]
        name: Option<String>,
        #[arg(long)]
        include_archived: bool,
        #[arg(short = 'w', long, env = "ATELIER_WORKSPACE", default_value = "default")]
        workspace: String,
    },
    /// Show an environment version (`--version V` or `--label latest`) and its build.
    Show {
        #[arg(short = 'n', long)]
        name: String,
        #[command(flatten)]
        which: Which,
        #[arg(short = 'w', long, env = "ATELIER_WORKSPACE", default_value = "default")]
        workspace: String,
    },
    /// Build an environment version now (jobs build it when they need it).
    Build {
        #[arg(short = 'n', long)]
        name: String,
        #[command(flatten)]
        which: Which,
        #[arg(short = 'w', long, env = "ATELIER_WORKSPACE", default_value = "default")]
        workspace: String,
    },
    /// Archive a version: it leaves lists and `latest`.
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
}

/// Azure ML's environment YAML, with `requirements_file` as Atelier's addition.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct EnvironmentFile {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    name: String,
    #[serde(default)]
    version: Option<Scalar>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, Scalar>,
    #[serde(default)]
    image: Option<String>,
    /// A path to a conda YAML file, or the conda environment inline.
    #[serde(default)]
    conda_file: Option<CondaFileField>,
    /// A pip requirements file (Atelier's addition).
    #[serde(default)]
    requirements_file: Option<String>,
    #[serde(default)]
    os_type: Option<String>,
    #[serde(default)]
    build: Option<serde_json::Value>,
    #[serde(default)]
    inference_config: Option<serde_json::Value>,
}

#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum CondaFileField {
    Path(String),
    Inline(CondaFile),
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct CondaFile {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    channels: Vec<String>,
    #[serde(default)]
    dependencies: Vec<CondaEntry>,
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    variables: Option<serde_json::Value>,
}

#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum CondaEntry {
    Package(String),
    Pip { pip: Vec<String> },
}

fn read_yaml<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_saphyr::from_str::<T>(&text).map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))
}

/// The spec of a job's inline environment: its `image` and `conda_file` (a path relative to
/// `base`, or the conda environment inline).
pub fn inline_spec(
    base: &Path,
    image: Option<String>,
    conda_file: Option<&Value>,
) -> anyhow::Result<atelier_core::environment::EnvironmentSpec> {
    let conda = match conda_file {
        None => None,
        Some(value) => match serde_json::from_value::<CondaFileField>(value.clone())
            .context("environment.conda_file: expected a path or a conda environment")?
        {
            CondaFileField::Inline(conda) => Some(conda),
            CondaFileField::Path(path) => Some(read_yaml::<CondaFile>(&base.join(&path))?),
        },
    };
    match conda {
        Some(conda) => conda_spec(conda, image),
        None => Ok(atelier_core::environment::EnvironmentSpec { image, ..Default::default() }),
    }
}

fn conda_spec(conda: CondaFile, image: Option<String>) -> anyhow::Result<atelier_core::environment::EnvironmentSpec> {
    let _ = (&conda.name, &conda.prefix, &conda.variables);
    let dependencies: Vec<CondaDependency> = conda
        .dependencies
        .into_iter()
        .map(|entry| match entry {
            CondaEntry::Package(text) => CondaDependency::Package(text),
            CondaEntry::Pip { pip } => CondaDependency::Pip(pip),
        })
        .collect();
    spec_from_conda(&dependencies, conda.channels, image).map_err(|error| anyhow::anyhow!("{}", error.message))
}

/// The request body for an environment file.
fn environment_body(file: &Path, version: Option<String>) -> anyhow::Result<Value> {
    let spec_file: EnvironmentFile = read_yaml(file)?;
    let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
    if spec_file.build.is_some() {
        bail!(
            "{}: 'build' (an image built from a Dockerfile) is not supported; use 'image' and 'conda_file'",
            file.display()
        );
    }
    if spec_file.inference_config.is_some() {
        bail!("{}: 'inference_config' (custom serving containers) is not supported", file.display());
    }
    if let Some(os) = &spec_file.os_type
        && os != "linux"
    {
        bail!("{}: os_type '{os}' is not supported: environments run on Linux", file.display());
    }
    let conda = match spec_file.conda_file {
        None => None,
        Some(CondaFileField::Inline(conda)) => Some(conda),
        Some(CondaFileField::Path(path)) => Some(read_yaml::<CondaFile>(&base.join(&path))?),
    };
    let image = spec_file.image.clone();
    let mut spec = match conda {
        Some(conda) => {
            conda_spec(conda, image.clone()).map_err(|error| anyhow::anyhow!("{}: {error}", file.display()))?
        }
        None => atelier_core::environment::EnvironmentSpec { image: image.clone(), ..Default::default() },
    };
    if let Some(requirements) = &spec_file.requirements_file {
        let path = base.join(requirements);
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        spec.requirements.extend(
            requirements_from_text(&text).map_err(|error| anyhow::anyhow!("{}: {}", path.display(), error.message))?,
        );
    }
    let mut body = json!({
        "name": spec_file.name,
        "python": spec.python,
        "requirements": spec.requirements,
        "channels": spec.channels,
        "image": spec.image,
        "tags": spec_file.tags.iter().map(|(key, value)| (key.clone(), Value::String(value.text()))).collect::<serde_json::Map<_, _>>(),
    });
    if let Some(description) = spec_file.description {
        body["description"] = json!(description);
    }
    if let Some(version) = version.or_else(|| spec_file.version.map(|version| version.text())) {
        body["version"] = json!(version);
    }
    Ok(body)
}

const ENVIRONMENT_FIELDS: [&str; 9] =
    ["name", "version", "image", "python", "requirements", "channels", "description", "tags", "archived"];

fn version_path(workspace: &str, name: &str, reference: &str) -> String {
    format!("/workspaces/{}/environments/{}/versions/{}", segment(workspace), segment(name), segment(reference))
}

pub async fn environment(command: EnvironmentCommand, args: ClientArgs) -> anyhow::Result<()> {
    let client = Client::new(&args)?;
    match command {
        EnvironmentCommand::Create { file, version, workspace } => {
            let body = environment_body(&file, version)?;
            let created: Value =
                client.post(&format!("/workspaces/{}/environments", segment(&workspace)), &body).await?;
            print_fields(&created, &ENVIRONMENT_FIELDS, args.output)
        }
        EnvironmentCommand::List { name, include_archived, workspace } => {
            let query = [("archived", include_archived.to_string())];
            let environments: Vec<Value> = match name {
                Some(name) => {
                    client
                        .get(
                            &format!("/workspaces/{}/environments/{}/versions", segment(&workspace), segment(&name)),
                            &query,
                        )
                        .await?
                }
                None => client.get(&format!("/workspaces/{}/environments", segment(&workspace)), &query).await?,
            };
            print_rows(&environments, &["name", "version", "python", "image", "archived"], args.output)
        }
        EnvironmentCommand::Show { name, which, workspace } => {
            let path = version_path(&workspace, &name, &which.reference(false)?);
            let mut environment: Value = client.get(&path, &[]).await?;
            let build: Value = client.get(&format!("{path}/build"), &[]).await?;
            environment["build"] = build.get("state").cloned().unwrap_or(Value::Null);
            let mut fields = ENVIRONMENT_FIELDS.to_vec();
            fields.push("build");
            print_fields(&environment, &fields, args.output)
        }
        EnvironmentCommand::Build { name, which, workspace } => {
            let path = format!("{}/build", version_path(&workspace, &name, &which.reference(false)?));
            let build: Value = client.post(&path, &json!({})).await?;
            for warning in build["warnings"].as_array().into_iter().flatten() {
                eprintln!("warning: {}", warning.as_str().unwrap_or_default());
            }
            print_fields(&build, &["state", "python", "cached"], args.output)
        }
        EnvironmentCommand::Archive { name, which, workspace } => {
            let path = format!("{}/archive", version_path(&workspace, &name, &which.reference(false)?));
            let archived: Value = client.post(&path, &json!({})).await?;
            print_fields(&archived, &ENVIRONMENT_FIELDS, args.output)
        }
        EnvironmentCommand::Restore { name, which, workspace } => {
            let path = format!("{}/restore", version_path(&workspace, &name, &which.reference(false)?));
            let restored: Value = client.post(&path, &json!({})).await?;
            print_fields(&restored, &ENVIRONMENT_FIELDS, args.output)
        }
    }
}

//! `atelier datastore`: named datastores from Azure ML's datastore YAML (`azure_blob`) and
//! Atelier's own kinds (`s3`, `gcs`, `local`): create, list, show, delete. Credentials go to the
//! server once and are never shown again.

use crate::assets::{print_fields, print_rows};
use crate::client::{Client, segment};
use crate::{ClientArgs, OutputFormat};
use anyhow::{Context, bail};
use clap::Subcommand;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum DatastoreCommand {
    /// Register a datastore from a YAML file (Owners; `local` ones server administrators only).
    Create {
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        #[arg(short = 'w', long, env = "ATELIER_WORKSPACE", default_value = "default")]
        workspace: String,
    },
    /// List the workspace's datastores.
    List {
        #[arg(short = 'w', long, env = "ATELIER_WORKSPACE", default_value = "default")]
        workspace: String,
    },
    /// Show a datastore (never its credentials).
    Show {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'w', long, env = "ATELIER_WORKSPACE", default_value = "default")]
        workspace: String,
    },
    /// Remove a datastore's registration; the data stays where it is.
    Delete {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'w', long, env = "ATELIER_WORKSPACE", default_value = "default")]
        workspace: String,
    },
}

/// A datastore YAML: the fields of every kind; the server checks which ones a kind takes.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct DatastoreFile {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    // azure_blob
    #[serde(default)]
    account_name: Option<String>,
    #[serde(default)]
    container_name: Option<String>,
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    protocol: Option<String>,
    // s3, gcs
    #[serde(default)]
    bucket: Option<String>,
    #[serde(default)]
    endpoint_url: Option<String>,
    #[serde(default)]
    region: Option<String>,
    // local
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    credentials: BTreeMap<String, String>,
}

fn print_datastore(datastore: &Value, output: OutputFormat) -> anyhow::Result<()> {
    print_fields(datastore, &["name", "type", "description", "settings", "credentials", "tags", "created_by"], output)
}

pub async fn datastore(command: DatastoreCommand, args: ClientArgs) -> anyhow::Result<()> {
    let client = Client::new(&args)?;
    match command {
        DatastoreCommand::Create { file, workspace } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let spec: DatastoreFile =
                serde_saphyr::from_str(&text).map_err(|error| anyhow::anyhow!("{}: {error}", file.display()))?;
            let mut settings = Map::new();
            for (key, value) in [
                ("account_name", spec.account_name),
                ("container_name", spec.container_name),
                ("endpoint", spec.endpoint),
                ("protocol", spec.protocol),
                ("bucket", spec.bucket),
                ("endpoint_url", spec.endpoint_url),
                ("region", spec.region),
                ("path", spec.path),
            ] {
                if let Some(value) = value {
                    settings.insert(key.to_owned(), json!(value));
                }
            }
            if spec.kind == "local"
                && let Some(Value::String(path)) = settings.get("path")
                && !std::path::Path::new(path).is_absolute()
            {
                bail!("a local datastore's path must be an absolute folder on the server, got '{path}'");
            }
            let mut body = json!({
                "name": spec.name,
                "type": spec.kind,
                "tags": spec.tags,
                "settings": settings,
                "credentials": spec.credentials,
            });
            if let Some(description) = spec.description {
                body["description"] = json!(description);
            }
            let created: Value = client.post(&format!("/workspaces/{}/datastores", segment(&workspace)), &body).await?;
            print_datastore(&created, args.output)
        }
        DatastoreCommand::List { workspace } => {
            let datastores: Vec<Value> =
                client.get(&format!("/workspaces/{}/datastores", segment(&workspace)), &[]).await?;
            print_rows(&datastores, &["name", "type", "credentials", "description"], args.output)
        }
        DatastoreCommand::Show { name, workspace } => {
            let datastore: Value =
                client.get(&format!("/workspaces/{}/datastores/{}", segment(&workspace), segment(&name)), &[]).await?;
            print_datastore(&datastore, args.output)
        }
        DatastoreCommand::Delete { name, workspace } => {
            client.delete(&format!("/workspaces/{}/datastores/{}", segment(&workspace), segment(&name))).await?;
            if args.output == OutputFormat::Json {
                println!("{}", json!({ "deleted": name }));
            } else {
                println!("deleted datastore {name}");
            }
            Ok(())
        }
    }
}

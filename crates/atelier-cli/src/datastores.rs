//! `atelier datastore`: named datastores from Azure ML's datastore YAML (`azure_blob`) and
//! Atelier's own kinds (`s3`, `gcs`, `local`): create, list, show, delete. Credentials go to the
//! server once and are never shown again.

use crate::client::{Client, segment};
use crate::output::{print_fields, print_rows};
use crate::{ClientArgs, OutputFormat};
use anyhow::Context;
use atelier_spec::datastore::parse_datastore;
use clap::Subcommand;
use serde_json::{Value, json};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum DatastoreCommand {
    /// Register a datastore from a YAML file (Owners, Contributors, Data Scientists; `local` ones
    /// server administrators only).
    Create {
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// List the workspace's datastores.
    List,
    /// Show a datastore (never its credentials).
    Show {
        #[arg(short = 'n', long)]
        name: String,
    },
    /// Remove a datastore's registration; the data stays where it is.
    Delete {
        #[arg(short = 'n', long)]
        name: String,
    },
}

fn print_datastore(datastore: &Value, output: OutputFormat) -> anyhow::Result<()> {
    print_fields(datastore, &["name", "type", "description", "settings", "credentials", "tags", "created_by"], output)
}

pub async fn datastore(command: DatastoreCommand, args: ClientArgs) -> anyhow::Result<()> {
    let client = Client::new(&args)?;
    let workspace = args.workspace();
    match command {
        DatastoreCommand::Create { file } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let spec = parse_datastore(&text).map_err(|error| anyhow::anyhow!("{}: {error}", file.display()))?;
            let mut body = json!({
                "name": spec.name,
                "type": spec.kind,
                "tags": spec.tags,
                "settings": spec.settings,
                "credentials": spec.credentials,
                // The server reads the file again, with the same parser, and registers that.
                "yaml": text,
            });
            if let Some(description) = spec.description {
                body["description"] = json!(description);
            }
            let created: Value = client.post(&format!("/workspaces/{}/datastores", segment(workspace)), &body).await?;
            print_datastore(&created, args.output)
        }
        DatastoreCommand::List => {
            let datastores: Vec<Value> =
                client.get(&format!("/workspaces/{}/datastores", segment(workspace)), &[]).await?;
            print_rows(&datastores, &["name", "type", "credentials", "description"], args.output)
        }
        DatastoreCommand::Show { name } => {
            let datastore: Value =
                client.get(&format!("/workspaces/{}/datastores/{}", segment(workspace), segment(&name)), &[]).await?;
            print_datastore(&datastore, args.output)
        }
        DatastoreCommand::Delete { name } => {
            client.delete(&format!("/workspaces/{}/datastores/{}", segment(workspace), segment(&name))).await?;
            if args.output == OutputFormat::Json {
                println!("{}", json!({ "deleted": name }));
            } else {
                println!("deleted datastore {name}");
            }
            Ok(())
        }
    }
}

//! `atelier model`: model assets from Azure ML's model YAML (or flags): create (uploading local
//! files), and the subcommands every versioned asset has (`assets`): list, show, download,
//! update, archive, restore.
//!
//! The YAML is checked here before anything is uploaded, so that a mistake is reported with its
//! line (`atelier_spec::assets`); the server reads the file's text again with the same parser
//! and registers what it says, with the uploaded files' URI for a local `path`.

use crate::ClientArgs;
use crate::assets::{AssetApi, CreateArgs, FilesCommand, VersionCommand, upload_tree};
use crate::client::{Client, segment};
use atelier_core::asset::AssetKind;
use clap::Subcommand;
use std::path::Path;

#[derive(Subcommand)]
pub enum ModelCommand {
    /// Register a model version from a model YAML file or from flags; local files are uploaded.
    Create {
        #[command(flatten)]
        create: CreateArgs,
        #[arg(long)]
        stage: Option<String>,
    },
    #[command(flatten)]
    Versions(VersionCommand),
    #[command(flatten)]
    Files(FilesCommand),
}

pub const MODELS: AssetApi = AssetApi {
    kind: AssetKind::Model,
    collection: "models",
    fields: &[
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
    ],
    columns: &["name", "version", "model_type", "stage", "path", "archived"],
    settable: &["description", "stage"],
    fixed: "a version's files and type are fixed",
    shows_build: false,
};

/// Uploads a local model file or folder for model `name`; returns the URI of its root, which
/// keeps its own name (a folder `model/` is `…/model`).
pub async fn upload_model_files(client: &Client, workspace: &str, name: &str, local: &Path) -> anyhow::Result<String> {
    let upload = uuid::Uuid::new_v4().simple().to_string();
    let prefix = format!("/workspaces/{}/models/{}/uploads/{upload}", segment(workspace), segment(name));
    Ok(upload_tree(client, local, &prefix).await?.0)
}

pub async fn model(command: ModelCommand, args: ClientArgs) -> anyhow::Result<()> {
    let client = Client::new(&args)?;
    let workspace = args.workspace();
    match command {
        ModelCommand::Create { create, stage } => {
            let (spec, yaml) = create.spec(AssetKind::Model, &[("stage", stage.as_ref())])?;
            MODELS.ensure_free(&client, workspace, &spec).await?;
            let upload_uri = match spec.local_path() {
                None => None,
                Some(local) => {
                    let name = spec.name.as_deref().unwrap_or_default();
                    Some(upload_model_files(&client, workspace, name, &create.local(local)?).await?)
                }
            };
            MODELS.register(&client, workspace, &yaml, upload_uri.as_deref(), args.output).await
        }
        ModelCommand::Versions(command) => MODELS.run(&client, workspace, command, args.output).await,
        ModelCommand::Files(command) => MODELS.run_files(&client, workspace, command, args.output).await,
    }
}

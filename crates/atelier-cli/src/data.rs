//! `atelier data`: data assets from Azure ML's data YAML (or flags): create (a local file or
//! folder is uploaded to the workspace's default datastore), and the subcommands every versioned
//! asset has (`assets`): list, show, download, update, archive, restore.

use crate::ClientArgs;
use crate::assets::{AssetApi, CreateArgs, FilesCommand, VersionCommand, upload_tree};
use crate::client::{Client, segment};
use anyhow::bail;
use atelier_core::asset::AssetKind;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum DataCommand {
    /// Register a data asset from a data YAML file or from flags; a local path is uploaded.
    Create(CreateArgs),
    #[command(flatten)]
    Versions(VersionCommand),
    #[command(flatten)]
    Files(FilesCommand),
}

pub const DATA: AssetApi = AssetApi {
    kind: AssetKind::Data,
    collection: "data",
    fields: &[
        "name",
        "version",
        "type",
        "path",
        "description",
        "created_by",
        "archived",
        "tags",
        "properties",
        "mltable_paths",
    ],
    columns: &["name", "version", "type", "path", "archived"],
    settable: &["description"],
    fixed: "a version's data is fixed; register a new version",
    shows_build: false,
};

pub async fn data(command: DataCommand, args: ClientArgs) -> anyhow::Result<()> {
    let client = Client::new(&args)?;
    let workspace = args.workspace();
    match command {
        DataCommand::Create(create) => {
            let (spec, yaml) = create.spec(AssetKind::Data, &[])?;
            DATA.ensure_free(&client, workspace, &spec).await?;
            let upload_uri = match spec.local_path() {
                None => None,
                Some(path) => {
                    let local = create.local(path)?;
                    let kind = spec.asset_type.as_deref().unwrap_or("uri_folder");
                    if kind == "uri_file" && !local.is_file() {
                        bail!("path '{path}' is a folder, but a uri_file names one file");
                    }
                    if kind != "uri_file" && !local.is_dir() {
                        bail!("path '{path}' is a file, but a {kind} names a folder");
                    }
                    let upload = uuid::Uuid::new_v4().simple().to_string();
                    let prefix = format!("/workspaces/{}/data-uploads/{upload}", segment(workspace));
                    let (root, _) = upload_tree(&client, &local, &prefix).await?;
                    Some(if kind == "uri_file" { root } else { format!("{root}/") })
                }
            };
            DATA.register(&client, workspace, &yaml, upload_uri.as_deref(), args.output).await
        }
        DataCommand::Versions(command) => DATA.run(&client, workspace, command, args.output).await,
        DataCommand::Files(command) => DATA.run_files(&client, workspace, command, args.output).await,
    }
}

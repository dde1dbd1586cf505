//! Data assets (`uri_file`, `uri_folder`, `mltable`) and the workspace's default datastore,
//! `workspaceblobstore`: the server's own blob store, under `workspaces/<ws>/datastores/…`.
//!
//! A data asset is a pointer: registering one checks that the data is there (and, for an
//! `mltable`, reads the `paths` of its MLTable file) but copies nothing. Local files reach the
//! default datastore first, through [`Service::upload_data_file`].

use crate::paths::AREA_DATA;
use crate::paths::blob_error;
use crate::uploads::Location;
use crate::{Principal, Service, Target, now_millis};
use atelier_blob::Download;
use atelier_core::asset::{AssetKind, AssetRef};
use atelier_core::authz::Action;
use atelier_core::data::{self, DEFAULT_DATASTORE, DataAsset};
use atelier_core::limits::{self, normalize_artifact_path};
use atelier_core::names::WorkspaceName;
use atelier_core::{Error, Result};
use std::collections::BTreeMap;

/// The largest MLTable file read.
const MAX_MLTABLE_BYTES: usize = 1024 * 1024;
const MAX_DESCRIPTION_LENGTH: usize = 100_000;

/// A data asset to register, as the data YAML describes it.
#[derive(Debug, Clone, Default)]
pub struct NewDataAsset {
    pub name: String,
    /// `None` takes one past the highest numeric version.
    pub version: Option<String>,
    /// `uri_file`, `uri_folder` (the default) or `mltable`.
    pub data_type: Option<String>,
    pub path: String,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub properties: BTreeMap<String, String>,
}

/// Changes to a data asset version; tags and properties given are set, others kept.
#[derive(Debug, Clone, Default)]
pub struct DataAssetUpdate {
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub properties: BTreeMap<String, String>,
}

/// The blob key of a path on a workspace's default datastore.
fn datastore_key(workspace: &WorkspaceName, path: &str) -> String {
    if path.is_empty() {
        format!("workspaces/{workspace}/datastores/{DEFAULT_DATASTORE}")
    } else {
        format!("workspaces/{workspace}/datastores/{DEFAULT_DATASTORE}/{path}")
    }
}

fn datastore_uri(path: &str) -> String {
    format!("azureml://datastores/{DEFAULT_DATASTORE}/paths/{path}")
}

/// URIs of data the server records but does not read.
fn is_external(path: &str) -> bool {
    ["https://", "http://", "wasbs://", "wasb://", "abfss://", "adl://", "s3://", "gs://"]
        .iter()
        .any(|prefix| path.starts_with(prefix))
}

/// The `paths` of an MLTable file, as `(file|folder|pattern, value)`.
fn mltable_paths(text: &str) -> Result<Vec<(String, String)>> {
    #[derive(serde::Deserialize)]
    struct MlTable {
        #[serde(default)]
        paths: Vec<BTreeMap<String, String>>,
    }
    let table: MlTable = serde_saphyr::from_str(text)
        .map_err(|error| Error::invalid(format!("the MLTable file is not valid: {error}")))?;
    if table.paths.is_empty() {
        return Err(Error::invalid("the MLTable file lists no 'paths'"));
    }
    table
        .paths
        .into_iter()
        .enumerate()
        .map(|(index, entry)| {
            let mut kinds = entry.into_iter();
            match (kinds.next(), kinds.next()) {
                (Some((kind, value)), None) if matches!(kind.as_str(), "file" | "folder" | "pattern") => {
                    Ok((kind, value))
                }
                _ => Err(Error::invalid(format!(
                    "MLTable paths[{index}] must have exactly one of 'file', 'folder' or 'pattern'"
                ))),
            }
        })
        .collect()
}

/// Reads up to `limit` bytes from the start of a download.
async fn read_download(mut download: Download, limit: usize) -> Result<Vec<u8>> {
    use futures::StreamExt;
    let mut bytes = Vec::new();
    while let Some(chunk) = download.stream.next().await {
        let chunk = chunk.map_err(blob_error)?;
        let room = limit.saturating_sub(bytes.len());
        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if bytes.len() >= limit {
            break;
        }
    }
    Ok(bytes)
}

impl Service {
    /// Stores one local file on the workspace's default datastore at
    /// `LocalUpload/<upload>/<path>` (`upload`: 32 hexadecimal characters the client chose) and
    /// returns its `azureml://datastores/workspaceblobstore/paths/…` URI and size.
    pub async fn upload_data_file(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        upload: &str,
        path: &str,
        body: futures::stream::BoxStream<'_, std::result::Result<bytes::Bytes, String>>,
    ) -> Result<(String, u64)> {
        self.authorize(principal, workspace, Action::DataWrite).await?;
        if upload.len() != 32 || !upload.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::invalid(format!("upload id '{upload}' must be 32 hexadecimal characters")));
        }
        let relative = normalize_artifact_path(path)?;
        if relative.is_empty() {
            return Err(Error::invalid("a data file upload needs a file path"));
        }
        let stored = format!("LocalUpload/{upload}/{relative}");
        let size = self.store_upload(workspace, AREA_DATA, &stored, body).await?;
        Ok((datastore_uri(&stored), size))
    }

    /// The store and key of the data an asset's `path` names: the default datastore (the
    /// server's blob store) or a named one; an error for URIs the server does not read.
    pub(crate) async fn data_location(&self, workspace: &WorkspaceName, path: &str) -> Result<Location> {
        match data::parse_datastore_uri(path) {
            Some((DEFAULT_DATASTORE, inner)) => {
                let inner = normalize_artifact_path(inner)?;
                let key = datastore_key(workspace, &inner);
                // Local uploads and jobs' outputs are stored by content (see `uploads`).
                if inner.starts_with("LocalUpload/") || inner.starts_with("azureml/") {
                    return self.upload_location(workspace, AREA_DATA, &inner, key).await;
                }
                Ok(Location::Blob(self.blobs().clone(), key))
            }
            Some((name, inner)) => {
                let inner = normalize_artifact_path(inner)?;
                Ok(Location::Blob(self.open_datastore(workspace, name).await?, inner))
            }
            None => Err(Error::invalid(format!(
                "the data at '{path}' is not on a datastore of this server, so it cannot be read here"
            ))),
        }
    }

    /// Registers a data asset version from the text of its data YAML file (with the CLI's flags
    /// and `--set` already applied), read with the CLI's own `atelier_spec::assets::parse_data`
    /// and checked whole: a bad file is an invalid-argument error that names the field and its
    /// line, as the CLI reports it. A URI `path` is registered as written; a local one stands for
    /// the files the client uploaded with `PUT …/data-uploads/{upload}/{path}`, whose root URI is
    /// `upload_uri` (a folder's, for a `uri_folder` or an `mltable`).
    pub async fn create_data_from_yaml(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        yaml: &str,
        upload_uri: Option<&str>,
    ) -> Result<DataAsset> {
        // Who may not create one learns nothing about their file.
        self.authorize(principal, workspace, Action::DataWrite).await?;
        let spec = atelier_spec::assets::parse_data(yaml).map_err(crate::jobs::spec_error)?;
        spec.check().map_err(crate::jobs::spec_error)?;
        let put = "PUT …/data-uploads/{upload}/{path}";
        let mut path = crate::uploads::asset_file_path(&spec, upload_uri, &datastore_uri("LocalUpload/"), put)?;
        if upload_uri.is_some() && spec.asset_type.as_deref() != Some("uri_file") && !path.ends_with('/') {
            // An uploaded folder's root names the folder, as the CLI registers it.
            path.push('/');
        }
        let new_asset = NewDataAsset {
            name: spec.name.unwrap_or_default(),
            version: spec.version,
            data_type: spec.asset_type,
            path,
            description: spec.description,
            tags: spec.tags,
            properties: spec.properties,
        };
        self.create_data_asset(principal, workspace, new_asset).await
    }

    pub async fn create_data_asset(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        new_asset: NewDataAsset,
    ) -> Result<DataAsset> {
        self.authorize(principal, workspace, Action::DataWrite).await?;
        data::validate_asset_name("data", &new_asset.name)?;
        if let Some(version) = &new_asset.version {
            data::validate_asset_version(version)?;
        }
        let data_type = data::parse_data_type(new_asset.data_type.as_deref().unwrap_or("uri_folder"))?;
        let description = new_asset.description.unwrap_or_default();
        limits::validate_length("description", &description, MAX_DESCRIPTION_LENGTH)?;
        for (key, value) in new_asset.tags.iter().chain(&new_asset.properties) {
            limits::validate_key("tag", key)?;
            limits::validate_length("tag value", value, MAX_DESCRIPTION_LENGTH)?;
        }
        let mut mltable = Vec::new();
        let path = new_asset.path.trim().to_owned();
        if is_external(&path) {
            if data_type == "mltable" {
                return Err(Error::invalid(
                    "an mltable's folder must be on a datastore of this server, so that its MLTable file can be read",
                ));
            }
        } else {
            if data::parse_datastore_uri(&path).is_none() {
                return Err(Error::invalid(format!(
                    "invalid data path '{path}': expected azureml://datastores/<datastore>/paths/<path> or an https, wasbs, abfss, s3 or gs URI (local paths are uploaded by the CLI)"
                )));
            }
            let location = self.data_location(workspace, &path).await?;
            let files = self
                .list_at(workspace, &location)
                .await
                .map_err(|error| Error::invalid(format!("the data at '{path}' cannot be read: {}", error.message)))?;
            let base = location.base().to_owned();
            match data_type {
                "uri_file" => {
                    if !(files.len() == 1 && files[0].0 == base) {
                        return Err(Error::invalid(format!("no file at '{path}' (a uri_file names one file)")));
                    }
                }
                _ => {
                    if files.is_empty() || (files.len() == 1 && files[0].0 == base && !path.ends_with('/')) {
                        return Err(Error::invalid(format!("no files under '{path}' (a {data_type} names a folder)")));
                    }
                    if data_type == "mltable" {
                        let table = if base.is_empty() { "MLTable".to_owned() } else { format!("{base}/MLTable") };
                        let Some((_, size)) = files.iter().find(|(name, _)| *name == table) else {
                            return Err(Error::invalid(format!("the folder '{path}' has no MLTable file")));
                        };
                        if *size as usize > MAX_MLTABLE_BYTES {
                            return Err(Error::invalid("the MLTable file is larger than 1 MiB"));
                        }
                        let download = self.open_at(workspace, &location, &table, "the mltable").await?;
                        let bytes = read_download(download, MAX_MLTABLE_BYTES).await?;
                        let text = String::from_utf8(bytes)
                            .map_err(|_| Error::invalid("the MLTable file is not UTF-8 text"))?;
                        mltable = mltable_paths(&text)?;
                    }
                }
            }
        }
        let now = now_millis();
        let asset = DataAsset {
            workspace: workspace.clone(),
            name: new_asset.name,
            version: new_asset.version.unwrap_or_default(),
            data_type: data_type.to_owned(),
            path,
            description,
            tags: new_asset.tags,
            properties: new_asset.properties,
            mltable_paths: mltable,
            archived: false,
            created_by: principal.user.to_string(),
            creation_time: now,
            last_updated_time: now,
        };
        self.store.create_data_asset(&asset).await
    }

    /// A version by its name, or `latest`: the newest version that is not archived. (Kept for
    /// callers that hold the version as text; [`Service::resolve_label`] takes a parsed one.)
    pub async fn get_data_asset(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        version: &str,
    ) -> Result<DataAsset> {
        self.resolve_label(principal, workspace, &AssetRef::new(AssetKind::Data, name, version)?).await
    }

    /// The versions of one data asset (newest first), or the newest version of each.
    pub async fn list_data_assets(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: Option<&str>,
        include_archived: bool,
    ) -> Result<Vec<DataAsset>> {
        match name {
            Some(name) => self.list_asset_versions(principal, workspace, name, include_archived).await,
            None => self.list_latest_assets(principal, workspace, include_archived).await,
        }
    }

    pub async fn update_data_asset(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        version: &str,
        update: DataAssetUpdate,
    ) -> Result<DataAsset> {
        self.authorize(principal, workspace, Action::DataWrite).await?;
        let mut asset = self.get_data_asset(principal, workspace, name, version).await?;
        if let Some(description) = update.description {
            limits::validate_length("description", &description, MAX_DESCRIPTION_LENGTH)?;
            asset.description = description;
        }
        for (key, value) in update.tags.iter().chain(&update.properties) {
            limits::validate_key("tag", key)?;
            limits::validate_length("tag value", value, MAX_DESCRIPTION_LENGTH)?;
        }
        asset.tags.extend(update.tags);
        asset.properties.extend(update.properties);
        self.store.update_data_asset(&asset, now_millis()).await?;
        self.store.get_data_asset(workspace, &asset.name, &asset.version).await
    }

    pub async fn set_data_asset_archived(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        version: &str,
        archived: bool,
    ) -> Result<DataAsset> {
        let reference = AssetRef::new(AssetKind::Data, name, version)?;
        self.set_asset_archived(principal, workspace, &reference, archived).await
    }

    /// The files of a data asset, with paths that start with the name of its file or folder.
    pub async fn data_asset_files(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        asset: &DataAsset,
    ) -> Result<Vec<(String, u64)>> {
        self.authorize_on(principal, workspace, Action::DataRead, Target::Assets).await?;
        let location = self.data_location(workspace, &asset.path).await?;
        self.list_at(workspace, &location).await
    }

    /// Up to `limit` bytes from the start of one file of a data asset (for previews).
    pub async fn read_data_file_prefix(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        asset: &DataAsset,
        relative: &str,
        limit: usize,
    ) -> Result<Vec<u8>> {
        let download = self.download_data_file(principal, workspace, asset, relative).await?;
        read_download(download, limit).await
    }

    /// One file of a data asset, by a path from [`Service::data_asset_files`].
    pub async fn download_data_file(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        asset: &DataAsset,
        relative: &str,
    ) -> Result<Download> {
        self.authorize_on(principal, workspace, Action::DataRead, Target::Assets).await?;
        let location = self.data_location(workspace, &asset.path).await?;
        let what = format!("data asset {} version {}", asset.name, asset.version);
        self.open_at(workspace, &location, relative, &what).await
    }
}

#[cfg(test)]
mod tests {
    use super::mltable_paths;

    #[test]
    fn mltable_paths_are_read_and_checked() {
        let text =
            "type: mltable\npaths:\n  - pattern: ./raw/*.csv\n  - file: ./extra.csv\ntransformations:\n  - take: 10\n";
        assert_eq!(
            mltable_paths(text).unwrap(),
            vec![("pattern".to_owned(), "./raw/*.csv".to_owned()), ("file".to_owned(), "./extra.csv".to_owned())]
        );
        assert!(mltable_paths("type: mltable\n").unwrap_err().message.contains("no 'paths'"));
        assert!(mltable_paths("paths:\n  - file: a\n    folder: b\n").is_err());
        assert!(mltable_paths("paths:\n  - url: a\n").is_err());
    }
}

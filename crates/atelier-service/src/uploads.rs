//! Uploaded files, stored once per content.
//!
//! A file uploaded for a model (`models/<name>/<upload>/…` under the artifact root) or for a data
//! asset (`LocalUpload/<upload>/…` on the default datastore) streams into
//! `workspaces/<ws>/cas/incoming/<random>` while its BLAKE3 hash is computed, then becomes
//! `workspaces/<ws>/cas/<hh>/<hash>`, unless that content is already there, in which case the new
//! copy is dropped. The `upload_files` index maps each uploaded path to its content; every
//! reader of those paths (downloads, listings, the MLflow artifact proxy) resolves through it,
//! and garbage collection frees a content when no indexed path holds it any more. Paths with no
//! index rows are read as plain blobs (uploads made before content addressing).

use crate::paths::{blob_error, cas_prefix};
use crate::{Service, now_millis};
use atelier_blob::{BlobStore, Download};
use atelier_core::limits::normalize_artifact_path;
use atelier_core::names::WorkspaceName;
use atelier_core::{Error, Result};
use atelier_spec::SpecError;
use atelier_spec::assets::AssetSpec;
use atelier_store::UploadFile;
use futures::StreamExt;
use std::sync::{Arc, Mutex};

fn cas_key(workspace: &WorkspaceName, hash: &str) -> String {
    format!("{}/{}/{hash}", cas_prefix(workspace), &hash[..2.min(hash.len())])
}

/// The files at `key` in `store`, with paths that start with the key's last segment (the name of
/// the folder, or of the one file).
async fn list_located(store: &BlobStore, key: &str) -> Result<Vec<(String, u64)>> {
    let base = key.rsplit('/').next().unwrap_or_default().to_owned();
    let files = store.list_recursive(key).await.map_err(blob_error)?;
    if files.is_empty() && !key.is_empty() && store.exists(key).await.map_err(blob_error)? {
        let size = store.get(key).await.map_err(blob_error)?.size;
        return Ok(vec![(base, size)]);
    }
    Ok(files
        .into_iter()
        .map(|(path, size)| (if base.is_empty() { path } else { format!("{base}/{path}") }, size))
        .collect())
}

/// One file from [`list_located`]'s list: `relative` must be the key's own file or inside its
/// folder, never a sibling.
async fn open_located(store: &BlobStore, key: &str, relative: &str, what: &str) -> Result<Download> {
    let relative = normalize_artifact_path(relative)?;
    let (parent, base) = key.rsplit_once('/').unwrap_or(("", key));
    let inside = if base.is_empty() {
        !relative.is_empty()
    } else {
        relative == base || relative.starts_with(&format!("{base}/"))
    };
    if !inside {
        return Err(Error::not_found(format!("{what} has no file '{relative}'")));
    }
    let file = if parent.is_empty() { relative.clone() } else { format!("{parent}/{relative}") };
    store.get(&file).await.map_err(blob_error)
}

/// The path a model or data file's version is registered with: a URI `path` as written, or, for
/// a local file or folder (the CLI's rule, `AssetSpec::local_path`), `upload_uri`, where the
/// client uploaded it, which must be `<upload_root><upload>/<file or folder>` (`upload`: the 32
/// hexadecimal characters of one upload; `put` says how files get there). Mistakes name the
/// field and its line, as the CLI reports them.
pub(crate) fn asset_file_path(
    spec: &AssetSpec,
    upload_uri: Option<&str>,
    upload_root: &str,
    put: &str,
) -> Result<String> {
    let at = |field: &str, message: String| {
        crate::jobs::spec_error(SpecError { field: field.to_owned(), line: spec.line_of(field), message })
    };
    let path = spec.path.as_deref().unwrap_or_default();
    match (spec.local_path(), upload_uri) {
        (None, None) => Ok(path.to_owned()),
        (None, Some(_)) => {
            Err(at("path", format!("'{path}' is a URI, so there is no upload for 'upload_uri' to name; leave it out")))
        }
        (Some(local), None) => Err(at(
            "path",
            format!("'{local}' is a local path: upload its files with {put} and send where they went as 'upload_uri'"),
        )),
        (Some(local), Some(uri)) => {
            let upload = uri.strip_prefix(upload_root).and_then(|rest| rest.split_once('/'));
            match upload {
                Some((id, rest))
                    if id.len() == 32
                        && id.chars().all(|c| c.is_ascii_hexdigit())
                        && !rest.trim_matches('/').is_empty() =>
                {
                    Ok(uri.to_owned())
                }
                _ => Err(at(
                    "upload_uri",
                    format!(
                        "'{uri}' is not where this server stored an upload of '{local}': expected {upload_root}<upload>/<file or folder>"
                    ),
                )),
            }
        }
    }
}

/// Where files are read from: plain blobs under a key, or uploaded files under an indexed path.
pub(crate) enum Location {
    Blob(BlobStore, String),
    Uploads { area: &'static str, prefix: String },
}

impl Location {
    /// The name listings start with: the last segment of the key or path (empty at a root).
    pub(crate) fn base(&self) -> &str {
        let path = match self {
            Location::Blob(_, key) => key.as_str(),
            Location::Uploads { prefix, .. } => prefix.as_str(),
        };
        path.rsplit('/').next().unwrap_or_default()
    }
}

impl Service {
    /// Stores an uploaded file once per content and records `path` of `area` as holding it;
    /// returns its size.
    pub(crate) async fn store_upload(
        &self,
        workspace: &WorkspaceName,
        area: &str,
        path: &str,
        body: futures::stream::BoxStream<'_, std::result::Result<bytes::Bytes, String>>,
    ) -> Result<u64> {
        let hasher = Arc::new(Mutex::new(blake3::Hasher::new()));
        let feeding = hasher.clone();
        let hashed = body
            .map(move |chunk| {
                if let (Ok(bytes), Ok(mut hasher)) = (&chunk, feeding.lock()) {
                    hasher.update(bytes);
                }
                chunk
            })
            .boxed();
        let incoming = format!("{}/incoming/{}", cas_prefix(workspace), uuid::Uuid::new_v4().simple());
        let size = self.blobs().put_stream(&incoming, hashed).await.map_err(blob_error)?;
        let hash = hasher
            .lock()
            .map_err(|_| Error::internal("the upload hasher is poisoned"))?
            .finalize()
            .to_hex()
            .to_string();
        let content = cas_key(workspace, &hash);
        if self.blobs().exists(&content).await.map_err(blob_error)? {
            self.blobs().delete(&incoming).await.map_err(blob_error)?;
        } else {
            self.blobs().rename(&incoming, &content).await.map_err(blob_error)?;
        }
        self.store.record_upload_file(workspace, area, path, &hash, size as i64, now_millis()).await?;
        Ok(size)
    }

    /// Where the files at `path` of `area` are: the uploads indexed there, or else plain blobs
    /// under `blob_key`.
    pub(crate) async fn upload_location(
        &self,
        workspace: &WorkspaceName,
        area: &'static str,
        path: &str,
        blob_key: String,
    ) -> Result<Location> {
        if self.store.upload_files_under(workspace, area, path).await?.is_empty() {
            Ok(Location::Blob(self.blobs().clone(), blob_key))
        } else {
            Ok(Location::Uploads { area, prefix: path.to_owned() })
        }
    }

    /// The files at a location, with paths that start with its last segment (the name of the
    /// folder, or of the one file).
    pub(crate) async fn list_at(&self, workspace: &WorkspaceName, location: &Location) -> Result<Vec<(String, u64)>> {
        Ok(self.files_at(workspace, location).await?.into_iter().map(|(path, size, _)| (path, size)).collect())
    }

    /// [`Service::list_at`] with each file's content hash, where the files are uploads.
    async fn files_at(
        &self,
        workspace: &WorkspaceName,
        location: &Location,
    ) -> Result<Vec<(String, u64, Option<String>)>> {
        match location {
            Location::Blob(store, key) => {
                Ok(list_located(store, key).await?.into_iter().map(|(path, size)| (path, size, None)).collect())
            }
            Location::Uploads { area, prefix } => {
                let base = prefix.rsplit('/').next().unwrap_or_default();
                let parent_length = prefix.len() - base.len();
                Ok(self
                    .store
                    .upload_files_under(workspace, area, prefix)
                    .await?
                    .into_iter()
                    .map(|file| (file.path[parent_length..].to_owned(), file.size as u64, Some(file.hash)))
                    .collect())
            }
        }
    }

    /// One file of a location, by a path from [`Service::list_at`]: the location's own file or
    /// inside its folder, never a sibling.
    pub(crate) async fn open_at(
        &self,
        workspace: &WorkspaceName,
        location: &Location,
        relative: &str,
        what: &str,
    ) -> Result<Download> {
        match location {
            Location::Blob(store, key) => open_located(store, key, relative, what).await,
            Location::Uploads { area, prefix } => {
                let relative = atelier_core::limits::normalize_artifact_path(relative)?;
                let (parent, base) = prefix.rsplit_once('/').unwrap_or(("", prefix.as_str()));
                let inside = relative == base || relative.starts_with(&format!("{base}/"));
                let path = if parent.is_empty() { relative.clone() } else { format!("{parent}/{relative}") };
                let file = match inside {
                    true => self
                        .store
                        .upload_files_under(workspace, area, &path)
                        .await?
                        .into_iter()
                        .find(|file| file.path == path),
                    false => None,
                };
                match file {
                    Some(file) => self.open_upload(workspace, &file).await,
                    None => Err(Error::not_found(format!("{what} has no file '{relative}'"))),
                }
            }
        }
    }

    /// Each file at a location with what identifies its content: its content hash where the
    /// files are uploads, else its size; paths as [`Service::list_at`] gives them.
    pub(crate) async fn located_file_hashes(
        &self,
        workspace: &WorkspaceName,
        location: &Location,
    ) -> Result<Vec<(String, String)>> {
        Ok(self
            .files_at(workspace, location)
            .await?
            .into_iter()
            .map(|(path, size, hash)| (path, hash.unwrap_or_else(|| format!("size {size}"))))
            .collect())
    }

    /// The bytes of an uploaded file.
    pub(crate) async fn open_upload(&self, workspace: &WorkspaceName, file: &UploadFile) -> Result<Download> {
        self.blobs().get(&cas_key(workspace, &file.hash)).await.map_err(blob_error)
    }
}

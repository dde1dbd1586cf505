//! Atelier's blob store: artifacts and (later) code snapshots, over `object_store`, so the same
//! code serves a local folder, S3, Azure Blob and GCS.
//!
//! The decision that shaped this crate: bytes stream through, never whole files in memory.
//! Uploads go through a multipart writer that is aborted when the body fails part-way (a client
//! that disconnects), so a half-written object is never visible.

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("invalid blob path '{0}'")]
    InvalidPath(String),
    #[error("invalid blob store URL '{url}': {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("upload interrupted: {0}")]
    Interrupted(String),
    #[error("blob store error: {0}")]
    Store(#[from] object_store::Error),
}

pub type Result<T, E = BlobError> = std::result::Result<T, E>;

/// One entry of a folder listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entry's name inside the listed folder.
    pub name: String,
    pub is_dir: bool,
    pub size: Option<u64>,
}

/// A readable blob: its size and its bytes as a stream.
pub struct Download {
    pub size: u64,
    pub stream: BoxStream<'static, Result<Bytes>>,
}

/// The chunk size of local file reads.
const FILE_CHUNK: usize = 1 << 20;

#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    description: String,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore").field("location", &self.description).finish()
    }
}

fn object_path(path: &str) -> Result<ObjectPath> {
    ObjectPath::parse(path).map_err(|_| BlobError::InvalidPath(path.to_owned()))
}

impl BlobStore {
    /// Opens a blob store from a URL: a plain folder path or `file:///…` (created if missing),
    /// `memory://`, or `s3://bucket/prefix`, `az://container/prefix`, `gs://bucket/prefix` with
    /// credentials from the usual `AWS_*`, `AZURE_*` and `GOOGLE_*` environment variables.
    pub fn open(location: &str) -> Result<Self> {
        let invalid = |reason: String| BlobError::InvalidUrl { url: location.to_owned(), reason };
        if location == "memory://" {
            return Ok(BlobStore {
                store: Arc::new(object_store::memory::InMemory::new()),
                description: location.to_owned(),
            });
        }
        let folder = location.strip_prefix("file://").or_else(|| (!location.contains("://")).then_some(location));
        if let Some(folder) = folder {
            std::fs::create_dir_all(folder).map_err(|error| invalid(error.to_string()))?;
            let store = object_store::local::LocalFileSystem::new_with_prefix(folder)
                .map_err(|error| invalid(error.to_string()))?
                .with_automatic_cleanup(true);
            return Ok(BlobStore { store: Arc::new(store), description: folder.to_owned() });
        }
        let url = url::Url::parse(location).map_err(|error| invalid(error.to_string()))?;
        if !matches!(url.scheme(), "s3" | "s3a" | "az" | "azure" | "abfs" | "abfss" | "gs") {
            return Err(invalid("expected a folder, file://, s3://, az:// or gs://".to_owned()));
        }
        let options = std::env::vars().filter_map(|(key, value)| {
            let lower = key.to_ascii_lowercase();
            (lower.starts_with("aws_") || lower.starts_with("azure_") || lower.starts_with("google_"))
                .then_some((lower, value))
        });
        let (store, prefix) =
            object_store::parse_url_opts(&url, options).map_err(|error| invalid(error.to_string()))?;
        let store: Arc<dyn ObjectStore> = if prefix.as_ref().is_empty() {
            Arc::from(store)
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
        };
        // Only the scheme and bucket are kept for display; a URL can carry credentials.
        let description = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
        Ok(BlobStore { store, description })
    }

    /// Opens an `s3://`, `az://` or `gs://` store with exactly the given `object_store` options
    /// (for example `aws_access_key_id`, `aws_endpoint`, `azure_storage_account_key`), and none
    /// from the environment: a user's datastore never borrows the server's own credentials.
    pub fn open_with_options(location: &str, options: Vec<(String, String)>) -> Result<Self> {
        let invalid = |reason: String| BlobError::InvalidUrl { url: location.to_owned(), reason };
        let url = url::Url::parse(location).map_err(|error| invalid(error.to_string()))?;
        if !matches!(url.scheme(), "s3" | "az" | "gs") {
            return Err(invalid("expected s3://, az:// or gs://".to_owned()));
        }
        let (store, prefix) =
            object_store::parse_url_opts(&url, options).map_err(|error| invalid(error.to_string()))?;
        let store: Arc<dyn ObjectStore> = if prefix.as_ref().is_empty() {
            Arc::from(store)
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
        };
        let description = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
        Ok(BlobStore { store, description })
    }

    /// Opens an existing local folder without creating it.
    pub fn open_existing_folder(folder: &str) -> Result<Self> {
        let invalid = |reason: String| BlobError::InvalidUrl { url: folder.to_owned(), reason };
        if !std::path::Path::new(folder).is_dir() {
            return Err(invalid("not an existing folder".to_owned()));
        }
        let store = object_store::local::LocalFileSystem::new_with_prefix(folder)
            .map_err(|error| invalid(error.to_string()))?;
        Ok(BlobStore { store: Arc::new(store), description: folder.to_owned() })
    }

    /// Checks that the store answers with the credentials it was opened with: lists the first
    /// page of its root.
    pub async fn probe(&self) -> Result<()> {
        use futures::StreamExt;
        let mut listing = self.store.list(None);
        match listing.next().await {
            None | Some(Ok(_)) => Ok(()),
            Some(Err(error)) => Err(error.into()),
        }
    }

    /// Writes a blob from a stream of chunks. The blob appears only when the whole stream has
    /// been written; if the stream fails, the upload is aborted and nothing is left behind.
    pub async fn put_stream<E: std::fmt::Display>(
        &self,
        path: &str,
        mut body: BoxStream<'_, std::result::Result<Bytes, E>>,
    ) -> Result<u64> {
        let location = object_path(path)?;
        let upload = self.store.put_multipart(&location).await?;
        let mut writer = WriteMultipart::new(upload);
        let mut written: u64 = 0;
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(bytes) => {
                    written += bytes.len() as u64;
                    writer.wait_for_capacity(8).await?;
                    writer.put(bytes);
                }
                Err(error) => {
                    let message = error.to_string();
                    if let Err(abort_error) = writer.abort().await {
                        tracing::warn!(path, error = %abort_error, "aborting an interrupted upload failed");
                    }
                    return Err(BlobError::Interrupted(message));
                }
            }
        }
        writer.finish().await?;
        Ok(written)
    }

    /// Writes a small blob in one call.
    pub async fn put_bytes(&self, path: &str, bytes: Bytes) -> Result<()> {
        self.store.put(&object_path(path)?, bytes.into()).await?;
        Ok(())
    }

    /// Opens a blob for reading.
    pub async fn get(&self, path: &str) -> Result<Download> {
        let location = object_path(path)?;
        let result = match self.store.get(&location).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Err(BlobError::NotFound(path.to_owned())),
            Err(error) => return Err(error.into()),
        };
        let size = result.meta.size;
        let stream = match result.payload {
            // A local file is read in 1 MiB chunks; object_store's own stream reads 8 KiB at a
            // time, each on a blocking thread, which halves the throughput of a large download.
            object_store::GetResultPayload::File(file, _) => {
                let start = result.range.start;
                let end = result.range.end;
                let file = tokio::fs::File::from_std(file);
                futures::stream::try_unfold((file, start, end, false), |(mut file, at, end, positioned)| async move {
                    use tokio::io::{AsyncReadExt, AsyncSeekExt};
                    if !positioned {
                        file.seek(std::io::SeekFrom::Start(at))
                            .await
                            .map_err(|error| BlobError::Interrupted(error.to_string()))?;
                    }
                    if at >= end {
                        return Ok(None);
                    }
                    let want = (end - at).min(FILE_CHUNK as u64) as usize;
                    let mut buffer = vec![0u8; want];
                    let read =
                        file.read(&mut buffer).await.map_err(|error| BlobError::Interrupted(error.to_string()))?;
                    if read == 0 {
                        return Err(BlobError::Interrupted(format!("the file ended {} bytes early", end - at)));
                    }
                    buffer.truncate(read);
                    Ok(Some((Bytes::from(buffer), (file, at + read as u64, end, true))))
                })
                .boxed()
            }
            payload @ object_store::GetResultPayload::Stream(_) => {
                let result = object_store::GetResult { payload, ..result };
                result.into_stream().map_err(BlobError::from).boxed()
            }
        };
        Ok(Download { size, stream })
    }

    /// Whether a blob exists at exactly this path.
    pub async fn exists(&self, path: &str) -> Result<bool> {
        match self.store.head(&object_path(path)?).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Lists the direct children of a folder (files and sub-folders), sorted by name. A folder
    /// that does not exist is empty.
    pub async fn list(&self, folder: &str) -> Result<Vec<Entry>> {
        let prefix = if folder.is_empty() { None } else { Some(object_path(folder)?) };
        let listing = match self.store.list_with_delimiter(prefix.as_ref()).await {
            Ok(listing) => listing,
            Err(object_store::Error::NotFound { .. }) => return Ok(Vec::new()),
            Err(error) => return Err(error.into()),
        };
        let mut entries: Vec<Entry> = listing
            .common_prefixes
            .iter()
            .filter_map(|path| path.filename().map(|name| Entry { name: name.to_owned(), is_dir: true, size: None }))
            .chain(listing.objects.iter().filter_map(|meta| {
                meta.location.filename().map(|name| Entry {
                    name: name.to_owned(),
                    is_dir: false,
                    size: Some(meta.size),
                })
            }))
            .collect();
        entries.sort_by(|left, right| left.name.cmp(&right.name));
        Ok(entries)
    }

    /// Every blob under a folder, at any depth: paths relative to the folder, with sizes, sorted.
    pub async fn list_recursive(&self, folder: &str) -> Result<Vec<(String, u64)>> {
        let prefix = if folder.is_empty() { None } else { Some(object_path(folder)?) };
        let metas: Vec<object_store::ObjectMeta> = self.store.list(prefix.as_ref()).try_collect().await?;
        let strip = if folder.is_empty() { String::new() } else { format!("{folder}/") };
        let mut files: Vec<(String, u64)> = metas
            .into_iter()
            .filter_map(|meta| {
                let path = meta.location.to_string();
                path.strip_prefix(&strip).map(|relative| (relative.to_owned(), meta.size))
            })
            .collect();
        files.sort();
        Ok(files)
    }

    /// Moves a blob to another key, replacing what is there.
    pub async fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.store.rename(&object_path(from)?, &object_path(to)?).await?;
        Ok(())
    }

    /// Every blob under a folder with its size and when it was last written (milliseconds since
    /// the Unix epoch), paths relative to the folder.
    pub async fn list_recursive_meta(&self, folder: &str) -> Result<Vec<(String, u64, i64)>> {
        let prefix = if folder.is_empty() { None } else { Some(object_path(folder)?) };
        let metas: Vec<object_store::ObjectMeta> = self.store.list(prefix.as_ref()).try_collect().await?;
        let strip = if folder.is_empty() { String::new() } else { format!("{folder}/") };
        Ok(metas
            .into_iter()
            .filter_map(|meta| {
                let path = meta.location.to_string();
                path.strip_prefix(&strip)
                    .map(|relative| (relative.to_owned(), meta.size, meta.last_modified.timestamp_millis()))
            })
            .collect())
    }

    /// Deletes a blob, or everything under a folder. Returns how many blobs were deleted.
    pub async fn delete(&self, path: &str) -> Result<usize> {
        let location = object_path(path)?;
        let children: Vec<ObjectPath> =
            self.store.list(Some(&location)).map_ok(|meta| meta.location).try_collect().await?;
        // A path with blobs under it is a folder (a local folder cannot be deleted as a file).
        let targets = if children.is_empty() { vec![location] } else { children };
        let mut deleted = 0;
        for target in targets {
            match self.store.delete(&target).await {
                Ok(()) => deleted += 1,
                Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::stream;

    fn chunks(
        parts: Vec<std::result::Result<&'static [u8], &'static str>>,
    ) -> BoxStream<'static, std::result::Result<Bytes, String>> {
        stream::iter(parts.into_iter().map(|part| part.map(Bytes::from_static).map_err(str::to_owned))).boxed()
    }

    async fn read_all(store: &BlobStore, path: &str) -> Vec<u8> {
        let download = store.get(path).await.unwrap();
        let parts: Vec<Bytes> = download.stream.try_collect().await.unwrap();
        parts.concat()
    }

    #[tokio::test]
    async fn stream_round_trip_and_listing_on_a_folder() {
        let folder = tempfile::tempdir().unwrap();
        let store = BlobStore::open(folder.path().to_str().unwrap()).unwrap();
        let written = store.put_stream("a/b/file.txt", chunks(vec![Ok(b"hello "), Ok(b"world")])).await.unwrap();
        assert_eq!(written, 11);
        assert_eq!(read_all(&store, "a/b/file.txt").await, b"hello world");
        store.put_bytes("a/top.txt", Bytes::from_static(b"x")).await.unwrap();
        let entries = store.list("a").await.unwrap();
        assert_eq!(
            entries,
            vec![
                Entry { name: "b".into(), is_dir: true, size: None },
                Entry { name: "top.txt".into(), is_dir: false, size: Some(1) }
            ]
        );
        assert!(store.list("missing").await.unwrap().is_empty());
        assert_eq!(
            store.list_recursive("a").await.unwrap(),
            vec![("b/file.txt".to_owned(), 11), ("top.txt".to_owned(), 1)]
        );
        assert_eq!(store.delete("a").await.unwrap(), 2);
        assert!(store.list("a").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_interrupted_upload_leaves_nothing_behind() {
        let folder = tempfile::tempdir().unwrap();
        let store = BlobStore::open(folder.path().to_str().unwrap()).unwrap();
        let error =
            store.put_stream("x/partial.bin", chunks(vec![Ok(b"part"), Err("client went away")])).await.unwrap_err();
        assert!(matches!(error, BlobError::Interrupted(_)), "{error}");
        assert!(!store.exists("x/partial.bin").await.unwrap());
        assert!(store.list("x").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn missing_blob_is_not_found() {
        let store = BlobStore::open("memory://").unwrap();
        assert!(matches!(store.get("nope").await, Err(BlobError::NotFound(_))));
    }
}

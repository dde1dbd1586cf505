//! A run's artifacts for the studio's downloads: one file, and a folder as a tar stream that
//! is written while the files are read, so no folder is held whole in memory or on disk.

use crate::{Principal, Service};
use atelier_blob::Download;
use atelier_core::authz::Action;
use atelier_core::names::WorkspaceName;
use atelier_core::{Error, Result};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use std::sync::Arc;

const TAR_BLOCK: usize = 512;

/// A folder as a tar stream, and the name its download should have (without `.tar`).
pub struct Archive {
    pub name: String,
    pub stream: BoxStream<'static, std::io::Result<Bytes>>,
}

/// The zeros that pad `size` bytes to a whole tar block.
fn padding(size: u64) -> Bytes {
    let rest = (size % TAR_BLOCK as u64) as usize;
    Bytes::from(if rest == 0 { Vec::new() } else { vec![0u8; TAR_BLOCK - rest] })
}

/// The tar header block(s) of one file: a GNU long-name entry first when the name does not fit.
fn tar_headers(name: &str, size: u64, mtime: u64) -> Result<Vec<u8>> {
    let fail = |error: std::io::Error| Error::internal(format!("cannot write a tar header for '{name}': {error}"));
    let mut blocks = Vec::with_capacity(3 * TAR_BLOCK);
    let mut header = tar::Header::new_gnu();
    if header.set_path(name).is_err() {
        let mut long = tar::Header::new_gnu();
        long.set_entry_type(tar::EntryType::GNULongName);
        long.set_path("././@LongLink").map_err(fail)?;
        long.set_size(name.len() as u64 + 1);
        long.set_mode(0o644);
        long.set_cksum();
        blocks.extend_from_slice(long.as_bytes());
        blocks.extend_from_slice(name.as_bytes());
        blocks.push(0);
        blocks.extend_from_slice(&padding(name.len() as u64 + 1));
        let short: String = name.chars().rev().take(90).collect::<Vec<_>>().into_iter().rev().collect();
        header.set_path(short.trim_start_matches('/')).map_err(fail)?;
    }
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(mtime);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    blocks.extend_from_slice(header.as_bytes());
    Ok(blocks)
}

impl Service {
    /// One artifact file of a run, addressed by the run and its path inside the run's artifacts.
    pub async fn open_run_artifact(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        run_id: &str,
        path: &str,
    ) -> Result<Download> {
        let (_, file) = self.run_artifact_path(principal, workspace, run_id, path, Action::ExperimentsRead).await?;
        self.download_artifact(principal, workspace, &file).await
    }

    /// A folder of a run's artifacts (the whole run for an empty `folder`) as a tar stream.
    /// Access is checked before the first byte; each file is opened (and authorized) as the
    /// stream reaches it.
    pub async fn run_artifact_archive(
        self: &Arc<Self>,
        principal: &Principal,
        workspace: &WorkspaceName,
        run_id: &str,
        folder: &str,
    ) -> Result<Archive> {
        let folder = atelier_core::limits::normalize_artifact_path(folder)?;
        let (run, base) =
            self.run_artifact_path(principal, workspace, run_id, &folder, Action::ExperimentsRead).await?;
        let files = self.list_artifact_files(principal, workspace, &base).await?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let mut entries = Vec::with_capacity(files.len());
        for (relative, size) in files {
            entries.push((tar_headers(&relative, size, now)?, format!("{base}/{relative}"), size));
        }
        let name = if folder.is_empty() {
            format!("{}-artifacts", run.run_name)
        } else {
            folder.rsplit('/').next().unwrap_or("artifacts").to_owned()
        };
        let service = self.clone();
        let principal = principal.clone();
        let workspace = workspace.clone();
        let files = futures::stream::iter(entries).then(move |(headers, path, size)| {
            let service = service.clone();
            let principal = principal.clone();
            let workspace = workspace.clone();
            async move {
                let download = service
                    .download_artifact(&principal, &workspace, &path)
                    .await
                    .map_err(|error| std::io::Error::other(error.message))?;
                let body = download.stream.map_err(std::io::Error::other);
                let parts = futures::stream::once(async move { Ok(Bytes::from(headers)) })
                    .chain(body)
                    .chain(futures::stream::once(async move { Ok(padding(size)) }));
                Ok::<_, std::io::Error>(parts)
            }
        });
        let end = futures::stream::once(async { Ok::<_, std::io::Error>(Bytes::from(vec![0u8; 2 * TAR_BLOCK])) });
        Ok(Archive { name, stream: files.try_flatten().chain(end).boxed() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_headers_fill_whole_blocks_and_carry_long_names() {
        let short = tar_headers("metrics/loss.csv", 10, 0).unwrap();
        assert_eq!(short.len(), TAR_BLOCK);
        let long_name = format!("{}/model.bin", "deep/".repeat(40));
        let long = tar_headers(&long_name, 10, 0).unwrap();
        assert_eq!(long.len() % TAR_BLOCK, 0);
        assert!(long.len() >= 3 * TAR_BLOCK, "a GNU long-name entry comes first");
        assert_eq!(padding(512).len(), 0);
        assert_eq!(padding(10).len(), 502);
    }
}

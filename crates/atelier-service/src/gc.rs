//! Garbage collection: frees the bytes that no record references any more.
//!
//! - Runs marked deleted (MLflow's `delete_run`) are purged with their artifacts, unless a model
//!   version names them (by `run_id` or a `runs:/<run>/…` source): a registered model keeps its
//!   files.
//! - Uploads of local model files (`models/<name>/<upload>/…`) and local data files
//!   (`LocalUpload/<upload>/…` on the default datastore) that no model version or data asset
//!   points into are forgotten: those of deleted versions, and those of registrations that never
//!   happened (a YAML mistake after the upload). Then every stored content (see `uploads`) that
//!   no uploaded path holds any more is deleted: a content shared by two uploads lives on while
//!   either does.
//!
//! - Code snapshots and jobs' named outputs live as long as their job (`job_references`).
//!
//! Only folders untouched for a grace period are removed, so that an upload whose registration
//! is under way is never taken. `atelier gc` runs it on demand; the server also runs it
//! periodically.

use crate::jobs::AREA_CODE;
use crate::paths::{AREA_MODELS, cas_prefix};
use crate::paths::{blob_error, workspace_blob_prefix};
use crate::{Principal, Service};
use atelier_core::Result;
use atelier_core::authz::Action;
use atelier_core::data::DEFAULT_DATASTORE;
use atelier_core::names::WorkspaceName;
use std::collections::BTreeMap;
use std::time::Duration;

/// What a collection freed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    pub runs_purged: u64,
    pub uploads_removed: u64,
    pub files_removed: u64,
    pub bytes_freed: u64,
}

/// Groups the files under a folder by their first `depth` path segments: for each group, its
/// total size and the newest write.
fn groups(files: &[(String, u64, i64)], depth: usize) -> BTreeMap<String, (u64, u64, i64)> {
    let mut grouped: BTreeMap<String, (u64, u64, i64)> = BTreeMap::new();
    for (path, size, modified) in files {
        let segments: Vec<&str> = path.splitn(depth + 1, '/').collect();
        if segments.len() <= depth {
            continue;
        }
        let entry = grouped.entry(segments[..depth].join("/")).or_insert((0, 0, i64::MIN));
        entry.0 += 1;
        entry.1 += size;
        entry.2 = entry.2.max(*modified);
    }
    grouped
}

impl Service {
    /// Collects garbage in every workspace (server administrators).
    pub async fn collect_garbage(&self, principal: &Principal, grace: Duration) -> Result<GcReport> {
        self.authorize_server(principal, Action::ServerAdmin)?;
        self.collect_garbage_now(grace).await
    }

    /// Collects garbage in every workspace; for the server's own periodic sweep.
    pub async fn collect_garbage_now(&self, grace: Duration) -> Result<GcReport> {
        let mut report = GcReport::default();
        let cutoff = crate::now_millis() - grace.as_millis() as i64;
        for workspace in self.store.list_workspaces().await? {
            self.collect_in(&workspace.name, cutoff, &mut report).await?;
        }
        if report != GcReport::default() {
            tracing::info!(
                runs = report.runs_purged,
                uploads = report.uploads_removed,
                files = report.files_removed,
                bytes = report.bytes_freed,
                "garbage collected"
            );
        }
        Ok(report)
    }

    async fn remove_folder(&self, key: &str, files: u64, bytes: u64, report: &mut GcReport) -> Result<()> {
        self.blobs().delete(key).await.map_err(blob_error)?;
        report.files_removed += files;
        report.bytes_freed += bytes;
        Ok(())
    }

    async fn collect_in(&self, workspace: &WorkspaceName, cutoff: i64, report: &mut GcReport) -> Result<()> {
        // Deleted runs that nothing registered depends on.
        let artifacts = workspace_blob_prefix(workspace);
        for run in self.store.purgeable_runs(workspace).await? {
            if run.end_time.or(run.start_time).is_some_and(|time| time > cutoff) {
                continue;
            }
            let folder = Service::artifact_path_under(&run.artifact_uri, "")?;
            let key = format!("{artifacts}/{folder}");
            let files = self.blobs().list_recursive(&key).await.map_err(blob_error)?;
            let bytes = files.iter().map(|(_, size)| size).sum();
            self.remove_folder(&key, files.len() as u64, bytes, report).await?;
            self.store.purge_run(&run.run_id).await?;
            report.runs_purged += 1;
        }

        let referenced = self.store.referenced_locations(workspace).await?;
        let is_referenced = |prefix: &str| referenced.iter().any(|location| location.starts_with(prefix));
        let model_uri = |group: &str| format!("mlflow-artifacts:/{group}/");
        let data_uri = |group: &str| format!("azureml://datastores/{DEFAULT_DATASTORE}/paths/{group}/");

        // Uploaded files (content-addressed): forget the uploads nothing points into.
        let indexed = self.store.all_upload_files(workspace).await?;
        let mut upload_groups: BTreeMap<(String, String), i64> = BTreeMap::new();
        for file in &indexed {
            // models/<name>/<upload>/…, LocalUpload/<upload>/… and azureml/<job>/… (data), and
            // <snapshot>/… (code).
            let depth = match file.area.as_str() {
                AREA_MODELS => 3,
                AREA_CODE => 1,
                _ => 2,
            };
            let group: Vec<&str> = file.path.splitn(depth + 1, '/').take(depth).collect();
            let newest = upload_groups.entry((file.area.clone(), group.join("/"))).or_insert(i64::MIN);
            *newest = (*newest).max(file.created_at);
        }
        for ((area, group), newest) in upload_groups {
            let uri = match area.as_str() {
                AREA_MODELS => model_uri(&group),
                AREA_CODE => format!("code:{group}/"),
                _ => data_uri(&group),
            };
            if !is_referenced(&uri) && newest <= cutoff {
                self.store.delete_upload_files_under(workspace, &area, &group).await?;
                report.uploads_removed += 1;
            }
        }
        // Contents no uploaded path holds any more (and copies left by a broken-off upload).
        let held: std::collections::HashSet<String> =
            self.store.all_upload_files(workspace).await?.into_iter().map(|file| file.hash).collect();
        let contents = cas_prefix(workspace);
        for (path, size, modified) in self.blobs().list_recursive_meta(&contents).await.map_err(blob_error)? {
            let hash = path.rsplit('/').next().unwrap_or_default();
            if held.contains(hash) || modified > cutoff {
                continue;
            }
            self.remove_folder(&format!("{contents}/{path}"), 1, size, report).await?;
        }

        // Uploads from before content addressing, kept as plain blobs.
        let models = format!("{artifacts}/models");
        let files = self.blobs().list_recursive_meta(&models).await.map_err(blob_error)?;
        for (group, (count, bytes, newest)) in groups(&files, 2) {
            // MLflow 3 logged models live under <experiment>/models/<id>; only uploads here.
            if !is_referenced(&model_uri(&format!("models/{group}"))) && newest <= cutoff {
                self.remove_folder(&format!("{models}/{group}"), count, bytes, report).await?;
                report.uploads_removed += 1;
            }
        }
        let uploads = format!("workspaces/{workspace}/datastores/{DEFAULT_DATASTORE}/LocalUpload");
        let files = self.blobs().list_recursive_meta(&uploads).await.map_err(blob_error)?;
        for (group, (count, bytes, newest)) in groups(&files, 1) {
            if !is_referenced(&data_uri(&format!("LocalUpload/{group}"))) && newest <= cutoff {
                self.remove_folder(&format!("{uploads}/{group}"), count, bytes, report).await?;
                report.uploads_removed += 1;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::groups;

    #[test]
    fn files_group_by_their_leading_folders() {
        let files = vec![
            ("fraud/aaa/model/w.bin".to_owned(), 10, 5),
            ("fraud/aaa/model/c.json".to_owned(), 2, 9),
            ("fraud/bbb/x".to_owned(), 1, 1),
            ("stray".to_owned(), 7, 1),
        ];
        let grouped = groups(&files, 2);
        assert_eq!(grouped.get("fraud/aaa"), Some(&(2, 12, 9)));
        assert_eq!(grouped.get("fraud/bbb"), Some(&(1, 1, 1)));
        assert_eq!(grouped.len(), 2, "a file above the grouping depth is no upload");
    }
}

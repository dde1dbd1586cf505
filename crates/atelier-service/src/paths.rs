//! Where things live, as paths and keys: the workspace's artifact root and its blob keys, the
//! areas of the upload index, and the content-addressed store. A leaf module: every operation
//! that builds a path or a key uses these, and these use nothing of the service.

use atelier_blob::BlobError;
use atelier_core::Error;
use atelier_core::names::WorkspaceName;

/// The artifact root of every workspace, as MLflow's clients see it.
pub(crate) const ARTIFACT_ROOT: &str = "mlflow-artifacts:";

/// Where the artifact proxy serves the default datastore's files (jobs' named outputs only).
pub(crate) const JOB_OUTPUTS_ARTIFACT_PREFIX: &str = "datastores/workspaceblobstore/";

pub(crate) fn workspace_blob_prefix(workspace: &WorkspaceName) -> String {
    format!("workspaces/{workspace}/artifacts")
}

pub(crate) fn blob_key(workspace: &WorkspaceName, relative: &str) -> String {
    if relative.is_empty() {
        workspace_blob_prefix(workspace)
    } else {
        format!("{}/{relative}", workspace_blob_prefix(workspace))
    }
}

pub(crate) fn blob_error(error: BlobError) -> Error {
    match error {
        BlobError::NotFound(path) => Error::not_found(format!("artifact '{path}' does not exist")),
        BlobError::InvalidPath(path) => Error::invalid(format!("invalid artifact path '{path}'")),
        BlobError::Interrupted(message) => Error::invalid(format!("upload interrupted, nothing was stored: {message}")),
        other => Error::internal(other.to_string()),
    }
}

/// Model files, with paths relative to the workspace's artifact root.
pub(crate) const AREA_MODELS: &str = "models";
/// Data files, with paths relative to the workspace's default datastore.
pub(crate) const AREA_DATA: &str = "data";

pub(crate) fn cas_prefix(workspace: &WorkspaceName) -> String {
    format!("workspaces/{workspace}/cas")
}

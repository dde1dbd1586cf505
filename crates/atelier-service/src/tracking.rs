//! Experiment tracking: experiments, runs, metrics, params, tags, dataset inputs and artifacts.
//! The MLflow-compatible API and the native API both call these operations.

use crate::names::random_run_name;
use crate::paths::{ARTIFACT_ROOT, JOB_OUTPUTS_ARTIFACT_PREFIX, blob_error, blob_key};
use crate::series::series_points;
use crate::{Principal, Service, Target, now_millis};
use atelier_blob::Download;
use atelier_core::authz::Action;
use atelier_core::filter::{self, OrderBy};
use atelier_core::limits::{self, *};
use atelier_core::model::*;
use atelier_core::names::WorkspaceName;
use atelier_core::{Error, Result};
use atelier_store::{Batch, ExperimentQuery, RunQuery, RunUpdate};
use base64::Engine;
use bytes::Bytes;
use futures::stream::BoxStream;
use std::collections::HashMap;

/// Parameters of an experiment search, as the APIs receive them.
#[derive(Debug, Clone, Default)]
pub struct ExperimentSearch {
    pub view: ViewType,
    pub filter: Option<String>,
    pub order_by: Vec<String>,
    pub max_results: Option<i64>,
    pub page_token: Option<String>,
}

/// Parameters of a run search, as the APIs receive them.
#[derive(Debug, Clone, Default)]
pub struct RunSearch {
    pub experiment_ids: Vec<String>,
    pub filter: Option<String>,
    pub view: ViewType,
    pub order_by: Vec<String>,
    pub max_results: Option<i64>,
    pub page_token: Option<String>,
}

/// A new run, as `runs/create` describes it.
#[derive(Debug, Clone, Default)]
pub struct LoggedRun {
    pub experiment_id: Option<String>,
    pub user_id: Option<String>,
    pub start_time: Option<Millis>,
    pub run_name: Option<String>,
    pub tags: Vec<Tag>,
}

/// One entry of an artifact folder listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactEntry {
    /// The path relative to the listed folder's root (MLflow gives names relative to the folder).
    pub name: String,
    pub is_dir: bool,
    pub size: Option<u64>,
}

/// Page tokens are opaque to clients: a base64 offset, checked on the way back in.
pub(crate) fn encode_page_token(offset: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

pub(crate) fn decode_page_token(token: Option<&str>) -> Result<i64> {
    let Some(token) = token.filter(|token| !token.is_empty()) else { return Ok(0) };
    let invalid = || Error::invalid(format!("invalid page token '{token}'"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let offset: i64 = text.strip_prefix("offset:").and_then(|number| number.parse().ok()).ok_or_else(invalid)?;
    if offset < 0 {
        return Err(invalid());
    }
    Ok(offset)
}

pub(crate) fn next_token(returned: usize, limit: i64, offset: i64) -> Option<String> {
    (returned as i64 == limit).then(|| encode_page_token(offset + limit))
}

pub fn parse_experiment_id(text: &str) -> Result<ExperimentId> {
    text.trim()
        .parse::<i64>()
        .map_err(|_| Error::invalid(format!("invalid experiment id '{text}': expected an integer")))
}

fn check_experiment_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::invalid("invalid experiment name: '' (the name must not be empty)"));
    }
    limits::refuse_control_characters("experiment name", name)?;
    limits::validate_length("name", name, MAX_EXPERIMENT_NAME_LENGTH)
}

/// Validates and normalises a batch as MLflow does, before anything is written.
fn prepare_batch(metrics: Vec<Metric>, params: Vec<Param>, tags: Vec<Tag>) -> Result<Batch> {
    if metrics.len() > MAX_METRICS_PER_BATCH {
        return Err(Error::invalid(format!(
            "a batch logging request can contain at most {MAX_METRICS_PER_BATCH} metrics; got {} metrics; split them across several requests",
            metrics.len()
        )));
    }
    if params.len() > MAX_PARAMS_PER_BATCH {
        return Err(Error::invalid(format!(
            "a batch logging request can contain at most {MAX_PARAMS_PER_BATCH} params; got {} params; split them across several requests",
            params.len()
        )));
    }
    if tags.len() > MAX_TAGS_PER_BATCH {
        return Err(Error::invalid(format!(
            "a batch logging request can contain at most {MAX_TAGS_PER_BATCH} tags; got {} tags; split them across several requests",
            tags.len()
        )));
    }
    let total = metrics.len() + params.len() + tags.len();
    if total > MAX_ENTITIES_PER_BATCH {
        return Err(Error::invalid(format!(
            "a batch logging request can contain at most {MAX_ENTITIES_PER_BATCH} metrics, params and tags in total; got {total}"
        )));
    }
    let mut prepared = Batch::default();
    for mut metric in metrics {
        limits::validate_key("metric", &metric.key)?;
        metric.value = clamp_metric_value(metric.value);
        prepared.metrics.push(metric);
    }
    let mut seen_params: HashMap<String, String> = HashMap::new();
    for param in params {
        limits::validate_key("param", &param.key)?;
        let value = truncate_chars(&param.value, MAX_PARAM_VALUE_LENGTH);
        match seen_params.get(&param.key) {
            Some(previous) if *previous != value => {
                return Err(Error::invalid(format!(
                    "duplicate parameter keys have been submitted with different values: '{}'",
                    param.key
                )));
            }
            Some(_) => continue,
            None => {
                seen_params.insert(param.key.clone(), value.clone());
                prepared.params.push(Param { key: param.key, value });
            }
        }
    }
    for tag in tags {
        limits::validate_key("tag", &tag.key)?;
        let value = truncate_chars(&tag.value, MAX_RUN_TAG_VALUE_LENGTH);
        if tag.key == RUN_NAME_TAG {
            prepared.new_run_name = Some(value.clone());
        }
        prepared.tags.push(Tag { key: tag.key, value });
    }
    Ok(prepared)
}

impl Service {
    /// Authorizes `action` on `workspace` and loads a run of that workspace. A run of another
    /// workspace is reported as not found, so that workspaces never mix.
    pub(crate) async fn run_in_workspace(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        run_id: &str,
        action: Action,
    ) -> Result<RunInfo> {
        self.authorize_on(principal, workspace, action, Target::Run(run_id)).await?;
        let run_id = RunId::parse(run_id).map_err(|_| Error::not_found(format!("run with id={run_id} not found")))?;
        let info = self.store.get_run_info(&run_id).await?;
        if info.workspace != *workspace {
            return Err(Error::not_found(format!("run with id={run_id} not found")));
        }
        Ok(info)
    }

    // Experiments.

    pub async fn create_experiment(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        artifact_location: Option<&str>,
        tags: Vec<Tag>,
    ) -> Result<ExperimentId> {
        self.authorize(principal, workspace, Action::ExperimentsWrite).await?;
        check_experiment_name(name)?;
        if let Some(location) = artifact_location.filter(|location| !location.is_empty()) {
            return Err(Error::invalid(format!(
                "artifact_location '{location}' is not supported: artifacts of every experiment are kept by the server (mlflow-artifacts:)"
            )));
        }
        for tag in &tags {
            limits::validate_key("experiment tag", &tag.key)?;
            limits::validate_length("experiment tag value", &tag.value, MAX_EXPERIMENT_TAG_VALUE_LENGTH)?;
        }
        self.store.create_experiment(workspace, name, ARTIFACT_ROOT, &tags, now_millis()).await
    }

    pub async fn get_experiment(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        id: &str,
    ) -> Result<Experiment> {
        self.authorize(principal, workspace, Action::ExperimentsRead).await?;
        self.store.get_experiment(workspace, parse_experiment_id(id)?).await
    }

    pub async fn get_experiment_by_name(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
    ) -> Result<Experiment> {
        self.authorize(principal, workspace, Action::ExperimentsRead).await?;
        self.store.get_experiment_by_name(workspace, name).await
    }

    pub async fn search_experiments(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        search: &ExperimentSearch,
    ) -> Result<Page<Experiment>> {
        self.authorize(principal, workspace, Action::ExperimentsRead).await?;
        let limit =
            validate_max_results(search.max_results, SEARCH_EXPERIMENTS_DEFAULT_MAX_RESULTS, SEARCH_MAX_RESULTS_LIMIT)?;
        let filter = filter::parse_experiment_filter(search.filter.as_deref().unwrap_or_default())?;
        let order_by = parse_order_by(&search.order_by, filter::parse_experiment_order_by)?;
        let offset = decode_page_token(search.page_token.as_deref())?;
        let query =
            ExperimentQuery { workspace, filter: &filter, view: search.view, order_by: &order_by, limit, offset };
        let items = self.store.search_experiments(&query).await?;
        let next_page_token = next_token(items.len(), limit, offset);
        Ok(Page { items, next_page_token })
    }

    pub async fn rename_experiment(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        id: &str,
        new_name: &str,
    ) -> Result<()> {
        self.authorize(principal, workspace, Action::ExperimentsWrite).await?;
        check_experiment_name(new_name)?;
        self.store.rename_experiment(workspace, parse_experiment_id(id)?, new_name, now_millis()).await
    }

    pub async fn delete_experiment(&self, principal: &Principal, workspace: &WorkspaceName, id: &str) -> Result<()> {
        self.authorize(principal, workspace, Action::ExperimentsDelete).await?;
        let id = parse_experiment_id(id)?;
        if id == DEFAULT_EXPERIMENT_ID {
            return Err(Error::invalid("cannot delete the default experiment '0'; it is a reserved experiment"));
        }
        self.store.set_experiment_stage(workspace, id, LifecycleStage::Deleted, now_millis()).await
    }

    pub async fn restore_experiment(&self, principal: &Principal, workspace: &WorkspaceName, id: &str) -> Result<()> {
        self.authorize(principal, workspace, Action::ExperimentsDelete).await?;
        let id = parse_experiment_id(id)?;
        let experiment = self.store.get_experiment(workspace, id).await?;
        if experiment.lifecycle_stage != LifecycleStage::Deleted {
            return Err(Error::invalid(format!("cannot restore an active experiment (id={id})")));
        }
        self.store.set_experiment_stage(workspace, id, LifecycleStage::Active, now_millis()).await
    }

    pub async fn set_experiment_tag(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        id: &str,
        tag: Tag,
    ) -> Result<()> {
        self.authorize(principal, workspace, Action::ExperimentsWrite).await?;
        limits::validate_key("experiment tag", &tag.key)?;
        limits::validate_length("experiment tag value", &tag.value, MAX_EXPERIMENT_TAG_VALUE_LENGTH)?;
        self.store.set_experiment_tag(workspace, parse_experiment_id(id)?, &tag).await
    }

    pub async fn delete_experiment_tag(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        id: &str,
        key: &str,
    ) -> Result<()> {
        self.authorize(principal, workspace, Action::ExperimentsWrite).await?;
        self.store.delete_experiment_tag(workspace, parse_experiment_id(id)?, key).await
    }

    // Runs.

    pub async fn create_run(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        new_run: LoggedRun,
    ) -> Result<Run> {
        self.authorize(principal, workspace, Action::ExperimentsWrite).await?;
        let experiment_id = match new_run.experiment_id.as_deref() {
            None | Some("") => DEFAULT_EXPERIMENT_ID,
            Some(text) => parse_experiment_id(text)?,
        };
        let experiment = self.store.get_experiment(workspace, experiment_id).await?;
        let batch = prepare_batch(Vec::new(), Vec::new(), new_run.tags)?;
        let mut tags = batch.tags;
        let tagged_name = tags.iter().find(|tag| tag.key == RUN_NAME_TAG).map(|tag| tag.value.clone());
        let run_name = match (new_run.run_name.filter(|name| !name.is_empty()), tagged_name) {
            (Some(name), Some(tagged)) if name != tagged => {
                return Err(Error::invalid(format!(
                    "both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='{name}', mlflow.runName='{tagged}')"
                )));
            }
            (Some(name), _) => name,
            (None, Some(tagged)) => tagged,
            (None, None) => random_run_name(),
        };
        if !tags.iter().any(|tag| tag.key == RUN_NAME_TAG) {
            tags.push(Tag::new(RUN_NAME_TAG, run_name.clone()));
        }
        // Code a job or a compute instance runs is confined as a user of the machine's own,
        // whose name the client would record: its runs are its submitter's or owner's.
        let user_id = if principal.job.is_some() || principal.instance.is_some() {
            tags.retain(|tag| tag.key != USER_TAG);
            tags.push(Tag::new(USER_TAG, principal.user.to_string()));
            principal.user.to_string()
        } else {
            new_run
                .user_id
                .filter(|user| !user.is_empty())
                .or_else(|| tags.iter().find(|tag| tag.key == USER_TAG).map(|tag| tag.value.clone()))
                .unwrap_or_else(|| principal.user.to_string())
        };
        let run_id = RunId::from_random(rand::random());
        let info = RunInfo {
            artifact_uri: format!("{}/{run_id}/artifacts", experiment.artifact_location),
            run_id,
            workspace: workspace.clone(),
            experiment_id,
            run_name,
            user_id,
            status: RunStatus::Running,
            start_time: Some(new_run.start_time.unwrap_or_else(now_millis)),
            end_time: None,
            lifecycle_stage: LifecycleStage::Active,
        };
        self.store.create_run(&info, &tags).await?;
        self.store.get_run(&info.run_id).await
    }

    pub async fn get_run(&self, principal: &Principal, workspace: &WorkspaceName, run_id: &str) -> Result<Run> {
        let info = self.run_in_workspace(principal, workspace, run_id, Action::ExperimentsRead).await?;
        self.store.get_run(&info.run_id).await
    }

    pub async fn update_run(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        run_id: &str,
        status: Option<&str>,
        end_time: Option<Millis>,
        run_name: Option<&str>,
    ) -> Result<RunInfo> {
        let info = self.run_in_workspace(principal, workspace, run_id, Action::ExperimentsWrite).await?;
        let status = match status {
            None | Some("") => None,
            Some(text) => Some(RunStatus::parse(text).ok_or_else(|| {
                Error::invalid(format!(
                    "invalid run status '{text}': expected RUNNING, SCHEDULED, FINISHED, FAILED or KILLED"
                ))
            })?),
        };
        let run_name = run_name.filter(|name| !name.is_empty()).map(str::to_owned);
        if let Some(name) = &run_name {
            limits::validate_length("run_name", name, MAX_RUN_TAG_VALUE_LENGTH)?;
        }
        self.store.update_run(&info.run_id, &RunUpdate { status, end_time, run_name }).await
    }

    pub async fn delete_run(&self, principal: &Principal, workspace: &WorkspaceName, run_id: &str) -> Result<()> {
        let info = self.run_in_workspace(principal, workspace, run_id, Action::ExperimentsDelete).await?;
        self.store.set_run_stage(&info.run_id, LifecycleStage::Deleted, now_millis()).await
    }

    pub async fn restore_run(&self, principal: &Principal, workspace: &WorkspaceName, run_id: &str) -> Result<()> {
        let info = self.run_in_workspace(principal, workspace, run_id, Action::ExperimentsDelete).await?;
        self.store.set_run_stage(&info.run_id, LifecycleStage::Active, now_millis()).await
    }

    /// Logs metrics, params and tags to a run, all or nothing.
    pub async fn log_batch(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        run_id: &str,
        metrics: Vec<Metric>,
        params: Vec<Param>,
        tags: Vec<Tag>,
    ) -> Result<()> {
        let batch = prepare_batch(metrics, params, tags)?;
        self.authorize_on(principal, workspace, Action::ExperimentsWrite, Target::Run(run_id)).await?;
        // The store checks, inside the write transaction, that the run is in this workspace
        // and active; this path is the hottest one and saves a read.
        let run_id = RunId::parse(run_id).map_err(|_| Error::not_found(format!("run with id={run_id} not found")))?;
        let written = series_points(&batch.metrics);
        self.store.log_batch(workspace, &run_id, batch).await?;
        self.note_series_written(&run_id, written);
        Ok(())
    }

    pub async fn delete_run_tag(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        run_id: &str,
        key: &str,
    ) -> Result<()> {
        let info = self.run_in_workspace(principal, workspace, run_id, Action::ExperimentsWrite).await?;
        self.store.delete_run_tag(&info.run_id, key).await
    }

    pub async fn log_inputs(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        run_id: &str,
        inputs: Vec<DatasetInput>,
    ) -> Result<()> {
        for input in &inputs {
            let dataset = &input.dataset;
            if dataset.name.is_empty() {
                return Err(Error::invalid("missing value for required parameter 'dataset.name'"));
            }
            if dataset.digest.is_empty() {
                return Err(Error::invalid("missing value for required parameter 'dataset.digest'"));
            }
            limits::validate_length("dataset.name", &dataset.name, MAX_DATASET_NAME_LENGTH)?;
            limits::validate_length("dataset.digest", &dataset.digest, MAX_DATASET_DIGEST_LENGTH)?;
            limits::validate_length("dataset.source", &dataset.source, MAX_DATASET_SOURCE_LENGTH)?;
            if let Some(schema) = &dataset.schema {
                limits::validate_length("dataset.schema", schema, MAX_DATASET_SCHEMA_LENGTH)?;
            }
            if let Some(profile) = &dataset.profile {
                limits::validate_length("dataset.profile", profile, MAX_DATASET_PROFILE_LENGTH)?;
            }
            for tag in &input.tags {
                limits::validate_length("input tag key", &tag.key, MAX_INPUT_TAG_KEY_LENGTH)?;
                limits::validate_length("input tag value", &tag.value, MAX_INPUT_TAG_VALUE_LENGTH)?;
            }
        }
        let info = self.run_in_workspace(principal, workspace, run_id, Action::ExperimentsWrite).await?;
        self.store.log_inputs(&info.run_id, &inputs).await
    }

    pub async fn search_runs(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        search: &RunSearch,
    ) -> Result<Page<Run>> {
        self.authorize(principal, workspace, Action::ExperimentsRead).await?;
        let limit =
            validate_max_results(search.max_results, SEARCH_RUNS_DEFAULT_MAX_RESULTS, SEARCH_MAX_RESULTS_LIMIT)?;
        let experiment_ids =
            search.experiment_ids.iter().map(|id| parse_experiment_id(id)).collect::<Result<Vec<_>>>()?;
        let filter = filter::parse_run_filter(search.filter.as_deref().unwrap_or_default())?;
        let order_by = parse_order_by(&search.order_by, filter::parse_run_order_by)?;
        let offset = decode_page_token(search.page_token.as_deref())?;
        let query = RunQuery {
            workspace,
            experiment_ids: &experiment_ids,
            filter: &filter,
            view: search.view,
            order_by: &order_by,
            limit,
            offset,
        };
        let items = self.store.search_runs(&query).await?;
        let next_page_token = next_token(items.len(), limit, offset);
        Ok(Page { items, next_page_token })
    }

    // Artifacts. Paths are relative to the workspace's artifact root, which is what
    // `mlflow-artifacts:/<path>` URIs name.

    pub async fn upload_artifact(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        path: &str,
        body: BoxStream<'_, std::result::Result<Bytes, String>>,
    ) -> Result<u64> {
        let relative = normalize_artifact_path(path)?;
        self.authorize_on(principal, workspace, Action::ExperimentsWrite, Target::Artifact(&relative)).await?;
        if relative.is_empty() {
            return Err(Error::invalid("an artifact upload needs a file path"));
        }
        self.blobs().put_stream(&blob_key(workspace, &relative), body).await.map_err(blob_error)
    }

    pub async fn download_artifact(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        path: &str,
    ) -> Result<Download> {
        let relative = normalize_artifact_path(path)?;
        self.authorize_on(principal, workspace, Action::ExperimentsRead, Target::Artifact(&relative)).await?;
        if let Some(files) = self.uploaded_models_under(workspace, &relative).await?
            && let Some(file) = files.iter().find(|file| file.path == relative)
        {
            return self.open_upload(workspace, file).await;
        }
        self.blobs().get(&blob_key(workspace, &relative)).await.map_err(blob_error)
    }

    /// The uploaded files at or under an artifact path, if it holds any: model uploads
    /// (`models/…`), and jobs' named outputs on the default datastore
    /// (`datastores/workspaceblobstore/azureml/<job>/<output>/…`, which is how a model version
    /// registered from a job's output is downloaded by MLflow's client). Paths come back
    /// relative to the artifact root.
    async fn uploaded_models_under(
        &self,
        workspace: &WorkspaceName,
        relative: &str,
    ) -> Result<Option<Vec<atelier_store::UploadFile>>> {
        let outputs = format!("{JOB_OUTPUTS_ARTIFACT_PREFIX}azureml/");
        let (area, indexed, prefix) = if relative == "models" || relative.starts_with("models/") {
            (crate::paths::AREA_MODELS, relative, "")
        } else if let Some(rest) =
            relative.strip_prefix(JOB_OUTPUTS_ARTIFACT_PREFIX).filter(|_| relative.starts_with(&outputs))
        {
            (crate::paths::AREA_DATA, rest, JOB_OUTPUTS_ARTIFACT_PREFIX)
        } else {
            return Ok(None);
        };
        let mut files = self.store.upload_files_under(workspace, area, indexed).await?;
        for file in &mut files {
            file.path = format!("{prefix}{}", file.path);
        }
        Ok((!files.is_empty()).then_some(files))
    }

    /// Reads up to `limit` bytes from the start of an artifact (for previews); returns them and
    /// the file's whole size.
    pub async fn read_artifact_prefix(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        path: &str,
        limit: usize,
    ) -> Result<(Vec<u8>, u64)> {
        use futures::StreamExt;
        let mut download = self.download_artifact(principal, workspace, path).await?;
        let mut bytes = Vec::with_capacity(limit.min(download.size as usize));
        while bytes.len() < limit {
            match download.stream.next().await {
                Some(Ok(chunk)) => bytes.extend_from_slice(&chunk[..chunk.len().min(limit - bytes.len())]),
                Some(Err(error)) => return Err(blob_error(error)),
                None => break,
            }
        }
        Ok((bytes, download.size))
    }

    /// Every file under an artifact folder, at any depth, with sizes (for folder downloads).
    pub async fn list_artifact_files(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        path: &str,
    ) -> Result<Vec<(String, u64)>> {
        let relative = normalize_artifact_path(path)?;
        self.authorize_on(principal, workspace, Action::ExperimentsRead, Target::Artifact(&relative)).await?;
        if let Some(files) = self.uploaded_models_under(workspace, &relative).await? {
            let strip = format!("{relative}/");
            return Ok(files
                .into_iter()
                .filter_map(|file| file.path.strip_prefix(&strip).map(|rest| (rest.to_owned(), file.size as u64)))
                .collect());
        }
        self.blobs().list_recursive(&blob_key(workspace, &relative)).await.map_err(blob_error)
    }

    pub async fn list_artifacts(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        path: &str,
    ) -> Result<Vec<ArtifactEntry>> {
        let relative = normalize_artifact_path(path)?;
        self.authorize_on(principal, workspace, Action::ExperimentsRead, Target::Artifact(&relative)).await?;
        if let Some(files) = self.uploaded_models_under(workspace, &relative).await? {
            // The folder's direct children: files, and folders named by deeper paths.
            let strip = format!("{relative}/");
            let mut entries: Vec<ArtifactEntry> = Vec::new();
            for file in files {
                let Some(rest) = file.path.strip_prefix(&strip) else { continue };
                let (name, is_dir) = match rest.split_once('/') {
                    Some((folder, _)) => (folder.to_owned(), true),
                    None => (rest.to_owned(), false),
                };
                if entries.last().is_some_and(|last| last.name == name) {
                    continue;
                }
                entries.push(ArtifactEntry { name, is_dir, size: (!is_dir).then_some(file.size as u64) });
            }
            return Ok(entries);
        }
        let entries = self.blobs().list(&blob_key(workspace, &relative)).await.map_err(blob_error)?;
        Ok(entries
            .into_iter()
            .map(|entry| ArtifactEntry { name: entry.name, is_dir: entry.is_dir, size: entry.size })
            .collect())
    }

    pub async fn delete_artifact(&self, principal: &Principal, workspace: &WorkspaceName, path: &str) -> Result<()> {
        let relative = normalize_artifact_path(path)?;
        self.authorize_on(principal, workspace, Action::ExperimentsWrite, Target::Artifact(&relative)).await?;
        if relative.is_empty() {
            return Err(Error::invalid("refusing to delete the whole artifact root"));
        }
        self.blobs().delete(&blob_key(workspace, &relative)).await.map_err(blob_error)?;
        Ok(())
    }

    /// The artifact-root-relative path of a `mlflow-artifacts:/...` URI.
    fn artifact_root_path(uri: &str) -> Result<String> {
        uri.strip_prefix(ARTIFACT_ROOT)
            .map(|rest| rest.trim_start_matches('/').to_owned())
            .ok_or_else(|| Error::internal(format!("artifact uri '{uri}' is not served by this server")))
    }

    /// The artifact-root-relative path of `relative` inside the root `uri` names, checked to stay
    /// inside it; an empty `relative` is the root itself.
    pub fn artifact_path_under(uri: &str, relative: &str) -> Result<String> {
        let root = Self::artifact_root_path(uri)?;
        let relative = normalize_artifact_path(relative)?;
        Ok(if relative.is_empty() { root } else { format!("{root}/{relative}") })
    }

    /// Loads a run of `workspace` (authorizing `action`) and resolves `relative` inside its
    /// artifacts, for the APIs and pages that address artifacts by run.
    pub async fn run_artifact_path(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        run_id: &str,
        relative: &str,
        action: Action,
    ) -> Result<(RunInfo, String)> {
        let info = self.run_in_workspace(principal, workspace, run_id, action).await?;
        let path = Self::artifact_path_under(&info.artifact_uri, relative)?;
        Ok((info, path))
    }
}

fn parse_order_by(
    clauses: &[String],
    parse: fn(&str) -> std::result::Result<OrderBy, filter::FilterError>,
) -> Result<Vec<OrderBy>> {
    let mut parsed: Vec<OrderBy> = Vec::with_capacity(clauses.len());
    for clause in clauses {
        let order = parse(clause)?;
        if parsed.iter().any(|existing| existing.entity == order.entity && existing.key == order.key) {
            return Err(Error::invalid(format!("`order_by` contains duplicate fields: '{clause}'")));
        }
        parsed.push(order);
    }
    Ok(parsed)
}

impl Service {
    /// Records a model in the run's `mlflow.log-model.history` tag (MLflow's legacy
    /// `runs/log-model`, sent by MLflow 2 clients).
    pub async fn record_logged_model(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        run_id: &str,
        model_json: &str,
    ) -> Result<()> {
        let model: serde_json::Value = serde_json::from_str(model_json)
            .map_err(|error| Error::invalid(format!("'model_json' is not valid JSON: {error}")))?;
        let info = self.run_in_workspace(principal, workspace, run_id, Action::ExperimentsWrite).await?;
        let run = self.store.get_run(&info.run_id).await?;
        let mut history: Vec<serde_json::Value> = run
            .tags
            .iter()
            .find(|tag| tag.key == LOG_MODEL_HISTORY_TAG)
            .and_then(|tag| serde_json::from_str(&tag.value).ok())
            .unwrap_or_default();
        history.push(model);
        let value = serde_json::to_string(&history).map_err(|error| Error::internal(error.to_string()))?;
        let batch = atelier_store::Batch { tags: vec![Tag::new(LOG_MODEL_HISTORY_TAG, value)], ..Default::default() };
        self.store.log_batch(workspace, &info.run_id, batch).await
    }
}

/// The run tag where MLflow keeps the models a run logged.
pub const LOG_MODEL_HISTORY_TAG: &str = "mlflow.log-model.history";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_reject_garbage() {
        assert_eq!(decode_page_token(Some(&encode_page_token(1234))).unwrap(), 1234);
        assert_eq!(decode_page_token(None).unwrap(), 0);
        assert_eq!(decode_page_token(Some("")).unwrap(), 0);
        assert!(decode_page_token(Some("not-a-token")).is_err());
    }

    #[test]
    fn batches_are_checked_before_writing() {
        let metric = |key: &str| Metric { key: key.into(), value: 1.0, timestamp: 0, step: 0 };
        assert!(prepare_batch((0..1001).map(|_| metric("m")).collect(), vec![], vec![]).is_err());
        assert!(prepare_batch(vec![metric("bad\"key")], vec![], vec![]).is_err());
        let long = "x".repeat(7000);
        let batch = prepare_batch(vec![], vec![Param { key: "p".into(), value: long }], vec![]).unwrap();
        assert_eq!(batch.params[0].value.len(), 6000);
        let clash = prepare_batch(
            vec![],
            vec![Param { key: "p".into(), value: "1".into() }, Param { key: "p".into(), value: "2".into() }],
            vec![],
        );
        assert!(clash.is_err());
        let renamed = prepare_batch(vec![], vec![], vec![Tag::new(RUN_NAME_TAG, "new")]).unwrap();
        assert_eq!(renamed.new_run_name.as_deref(), Some("new"));
        let infinite = prepare_batch(
            vec![Metric { key: "m".into(), value: f64::INFINITY, timestamp: 0, step: 0 }],
            vec![],
            vec![],
        )
        .unwrap();
        assert_eq!(infinite.metrics[0].value, f64::MAX);
    }
}

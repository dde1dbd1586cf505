//! The model registry: registered models, versions, stages, aliases and tags, as MLflow's model
//! registry API and (later) `atelier model` use them.

use crate::tracking::{decode_page_token, next_token};
use crate::{Principal, Service, Target, now_millis};
use atelier_core::asset::{AssetKind, AssetRef, VersionSelector};
use atelier_core::authz::Action;
use atelier_core::filter::{self, OrderBy};
use atelier_core::limits::{self, validate_max_results};
use atelier_core::model::{Page, Tag};
use atelier_core::names::WorkspaceName;
use atelier_core::registry::{self, ModelVersion, RegisteredModel};
use atelier_core::{Error, Result};
use atelier_store::RegistryQuery;
use std::collections::BTreeMap;

const SEARCH_MODELS_DEFAULT_MAX_RESULTS: i64 = 100;
const SEARCH_MODELS_MAX_RESULTS: i64 = 1_000;
const SEARCH_VERSIONS_DEFAULT_MAX_RESULTS: i64 = 10_000;
pub(crate) const SEARCH_VERSIONS_MAX_RESULTS: i64 = 200_000;
const MAX_REGISTRY_TAG_VALUE_LENGTH: usize = 100_000;
const MAX_DESCRIPTION_LENGTH: usize = 100_000;

/// A new model version, as `model-versions/create` or a model asset file describes it.
#[derive(Debug, Clone, Default)]
pub struct NewModelVersion {
    pub name: String,
    pub source: String,
    pub run_id: Option<String>,
    pub run_link: Option<String>,
    pub description: Option<String>,
    pub model_id: Option<String>,
    pub tags: Vec<Tag>,
    /// A number the caller chose (Azure ML's `version`); `None` takes the next one.
    pub version: Option<i64>,
    /// One of `MODEL_TYPES`; `None` is `mlflow_model` (what MLflow's API registers).
    pub model_type: Option<String>,
    pub properties: BTreeMap<String, String>,
    /// A stage to put the new version in (`None` stays in `None`).
    pub stage: Option<String>,
}

/// Changes to a model version as an asset; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ModelVersionUpdate {
    pub description: Option<String>,
    /// Tags to set (others are kept).
    pub tags: Vec<Tag>,
    /// Properties to set (others are kept).
    pub properties: BTreeMap<String, String>,
    pub stage: Option<String>,
}

/// Parameters of a registry search.
#[derive(Debug, Clone, Default)]
pub struct RegistrySearch {
    pub filter: Option<String>,
    pub max_results: Option<i64>,
    pub order_by: Vec<String>,
    pub page_token: Option<String>,
}

fn validate_tag(tag: &Tag) -> Result<()> {
    limits::validate_key("tag", &tag.key)?;
    limits::validate_length("tag value", &tag.value, MAX_REGISTRY_TAG_VALUE_LENGTH)
}

/// Where a model version's files may be: a URI the client can download from. Local paths and
/// `..` segments are refused, so that a source never names files outside what the server and
/// its clients store.
fn validate_source(source: &str) -> Result<()> {
    if source.trim().is_empty() {
        return Err(Error::invalid("Missing value for required parameter 'source'."));
    }
    let invalid = |why: &str| Err(Error::invalid(format!("Invalid model version source: '{source}'. {why}")));
    let Some((scheme, rest)) = source.split_once(':') else {
        return invalid(
            "Expected a URI such as runs:/<run_id>/<path>, models:/<model_id> or mlflow-artifacts:/<path>.",
        );
    };
    if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) {
        return invalid(
            "Expected a URI such as runs:/<run_id>/<path>, models:/<model_id> or mlflow-artifacts:/<path>.",
        );
    }
    if scheme.eq_ignore_ascii_case("file") || scheme.len() == 1 {
        return invalid("Local paths are not accepted as model version sources.");
    }
    if scheme == "azureml" && !source.starts_with("azureml://datastores/") {
        return invalid(
            "Of the azureml: paths, azureml://datastores/<name>/paths/<path> and azureml://jobs/<job>/outputs/<output>/paths/<path> are available.",
        );
    }
    if rest.split(['/', '\\']).any(|segment| segment == "..") || rest.contains("%2e%2e") || rest.contains("%2E%2E") {
        return invalid("A source cannot contain '..' path segments.");
    }
    Ok(())
}

fn parse_orders(
    order_by: &[String],
    parse: fn(&str) -> std::result::Result<OrderBy, filter::FilterError>,
) -> Result<Vec<OrderBy>> {
    order_by
        .iter()
        .filter(|clause| !clause.trim().is_empty())
        .map(|clause| parse(clause).map_err(|error| Error::invalid(error.message)))
        .collect()
}

impl Service {
    async fn read_registry(&self, principal: &Principal, workspace: &WorkspaceName) -> Result<()> {
        self.authorize_on(principal, workspace, Action::ModelsRead, Target::Assets).await
    }

    async fn write_registry(&self, principal: &Principal, workspace: &WorkspaceName) -> Result<()> {
        self.authorize(principal, workspace, Action::ModelsWrite).await
    }

    async fn delete_from_registry(&self, principal: &Principal, workspace: &WorkspaceName) -> Result<()> {
        self.authorize(principal, workspace, Action::ModelsDelete).await
    }

    pub async fn create_registered_model(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        description: Option<&str>,
        tags: Vec<Tag>,
    ) -> Result<RegisteredModel> {
        self.write_registry(principal, workspace).await?;
        registry::validate_model_name(name)?;
        let description = description.unwrap_or_default();
        limits::validate_length("description", description, MAX_DESCRIPTION_LENGTH)?;
        for tag in &tags {
            validate_tag(tag)?;
        }
        let now = now_millis();
        let model = RegisteredModel {
            workspace: workspace.clone(),
            name: name.to_owned(),
            description: description.to_owned(),
            creation_time: now,
            last_updated_time: now,
            tags,
            aliases: Vec::new(),
            latest_versions: Vec::new(),
        };
        self.store.create_registered_model(&model).await?;
        self.store.get_registered_model(workspace, name).await
    }

    pub async fn get_registered_model(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
    ) -> Result<RegisteredModel> {
        self.read_registry(principal, workspace).await?;
        registry::validate_model_name(name)?;
        self.store.get_registered_model(workspace, name).await
    }

    pub async fn rename_registered_model(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        new_name: &str,
    ) -> Result<RegisteredModel> {
        self.write_registry(principal, workspace).await?;
        registry::validate_model_name(name)?;
        registry::validate_model_name(new_name)?;
        self.store.rename_registered_model(workspace, name, new_name, now_millis()).await?;
        self.store.get_registered_model(workspace, new_name).await
    }

    pub async fn update_registered_model(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        description: &str,
    ) -> Result<RegisteredModel> {
        self.write_registry(principal, workspace).await?;
        limits::validate_length("description", description, MAX_DESCRIPTION_LENGTH)?;
        self.store.update_registered_model(workspace, name, description, now_millis()).await?;
        self.store.get_registered_model(workspace, name).await
    }

    pub async fn delete_registered_model(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
    ) -> Result<()> {
        self.delete_from_registry(principal, workspace).await?;
        self.store.delete_registered_model(workspace, name).await
    }

    pub async fn search_registered_models(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        search: &RegistrySearch,
    ) -> Result<Page<RegisteredModel>> {
        self.read_registry(principal, workspace).await?;
        let limit =
            validate_max_results(search.max_results, SEARCH_MODELS_DEFAULT_MAX_RESULTS, SEARCH_MODELS_MAX_RESULTS)?;
        let filter = filter::parse_registered_model_filter(search.filter.as_deref().unwrap_or_default())
            .map_err(|error| Error::invalid(error.message))?;
        let order_by = parse_orders(&search.order_by, filter::parse_registered_model_order_by)?;
        let offset = decode_page_token(search.page_token.as_deref())?;
        let query = RegistryQuery { workspace, filter: &filter, order_by: &order_by, limit, offset };
        let items = self.store.search_registered_models(&query).await?;
        let next_page_token = next_token(items.len(), limit, offset);
        Ok(Page { items, next_page_token })
    }

    /// The newest version in each of `stages` (every stage when empty), in version order.
    pub async fn get_latest_versions(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        stages: &[String],
    ) -> Result<Vec<ModelVersion>> {
        self.read_registry(principal, workspace).await?;
        let stages = stages.iter().map(|stage| registry::parse_stage(stage)).collect::<Result<Vec<_>>>()?;
        let model = self.store.get_registered_model(workspace, name).await?;
        Ok(model
            .latest_versions
            .into_iter()
            .filter(|version| stages.is_empty() || stages.contains(&version.current_stage.as_str()))
            .collect())
    }

    pub async fn set_registered_model_tag(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        tag: Tag,
    ) -> Result<()> {
        self.write_registry(principal, workspace).await?;
        validate_tag(&tag)?;
        self.store.set_registered_model_tag(workspace, name, &tag).await
    }

    pub async fn delete_registered_model_tag(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        key: &str,
    ) -> Result<()> {
        self.write_registry(principal, workspace).await?;
        self.store.delete_registered_model_tag(workspace, name, key).await
    }

    pub async fn set_model_alias(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        alias: &str,
        version: &str,
    ) -> Result<()> {
        self.write_registry(principal, workspace).await?;
        registry::validate_alias(alias)?;
        let version = registry::parse_version(version)?;
        self.store.set_model_alias(workspace, name, alias, version).await
    }

    pub async fn delete_model_alias(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        alias: &str,
    ) -> Result<()> {
        self.write_registry(principal, workspace).await?;
        self.store.delete_model_alias(workspace, name, alias).await
    }

    /// The version an alias points at. A missing alias is an invalid parameter, as in MLflow.
    pub async fn get_model_version_by_alias(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        alias: &str,
    ) -> Result<ModelVersion> {
        let version = VersionSelector::Alias(alias.to_owned());
        self.resolve_label(principal, workspace, &AssetRef { kind: AssetKind::Model, name: name.to_owned(), version })
            .await
    }

    pub async fn create_model_version(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        new_version: NewModelVersion,
    ) -> Result<ModelVersion> {
        self.write_registry(principal, workspace).await?;
        registry::validate_model_name(&new_version.name)?;
        // A job's output (`azureml://jobs/<job>/outputs/<output>/paths/<path>`) is registered
        // by where it is stored, with the job's run as the version's run.
        let mut new_version = new_version;
        if let Some(rest) = new_version.source.strip_prefix("azureml://jobs/") {
            let job = rest.split('/').next().unwrap_or_default().to_owned();
            new_version.source = self.resolve_job_uri(principal, workspace, &new_version.source).await?;
            new_version.run_id = new_version.run_id.filter(|run| !run.is_empty()).or(Some(job));
        }
        validate_source(&new_version.source)?;
        let description = new_version.description.unwrap_or_default();
        limits::validate_length("description", &description, MAX_DESCRIPTION_LENGTH)?;
        for tag in &new_version.tags {
            validate_tag(tag)?;
        }
        for (key, value) in &new_version.properties {
            validate_tag(&Tag::new(key.clone(), value.clone()))?;
        }
        let model_type = registry::parse_model_type(new_version.model_type.as_deref().unwrap_or("mlflow_model"))?;
        let stage = new_version.stage.as_deref().map(registry::parse_stage).transpose()?;
        if let Some(number) = new_version.version
            && number <= 0
        {
            return Err(Error::invalid(format!("Model version must be a positive integer, got '{number}'")));
        }
        // MLflow 3 registers a logged model (`models:/m-…`): the version takes the logged model's
        // run when the request names none, so its lineage reaches the run.
        let model_id = new_version.model_id.filter(|id| !id.is_empty()).or_else(|| {
            new_version
                .source
                .strip_prefix("models:/")
                .filter(|rest| rest.starts_with("m-") && !rest.contains('/'))
                .map(str::to_owned)
        });
        // A `runs:/<run>/…` source names its run.
        let mut run_id = new_version.run_id.filter(|id| !id.is_empty()).or_else(|| {
            new_version
                .source
                .strip_prefix("runs:/")
                .and_then(|rest| rest.split('/').next())
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
        });
        if let Some(model_id) = &model_id {
            let logged = self.store.get_logged_model(model_id).await?;
            if logged.workspace != *workspace {
                return Err(Error::not_found(format!("logged model with id '{model_id}' not found")));
            }
            run_id = run_id.or(logged.source_run_id);
        }
        if new_version.source.starts_with("azureml://datastores/") {
            let location = self.data_location(workspace, &new_version.source).await?;
            if self.list_at(workspace, &location).await?.is_empty() {
                return Err(Error::invalid(format!("no files at '{}'", new_version.source)));
            }
        }
        let now = now_millis();
        let version = ModelVersion {
            workspace: workspace.clone(),
            name: new_version.name,
            version: new_version.version.unwrap_or(0),
            creation_time: now,
            last_updated_time: now,
            description,
            user_id: principal.user.to_string(),
            current_stage: "None".to_owned(),
            source: new_version.source,
            run_id,
            run_link: new_version.run_link.unwrap_or_default(),
            status: "READY".to_owned(),
            status_message: String::new(),
            model_id,
            tags: new_version.tags,
            aliases: Vec::new(),
            model_type: model_type.to_owned(),
            properties: new_version.properties,
            archived: false,
        };
        let created = self.store.create_model_version(&version).await?;
        if let Some(stage) = stage {
            self.store.set_model_version_stage(workspace, &created.name, created.version, stage, false, now).await?;
        }
        self.store.get_model_version(workspace, &created.name, created.version).await
    }

    pub async fn get_model_version(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        version: &str,
    ) -> Result<ModelVersion> {
        self.read_registry(principal, workspace).await?;
        let version = registry::parse_version(version)?;
        self.store.get_model_version(workspace, name, version).await
    }

    pub async fn update_model_version(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        version: &str,
        description: &str,
    ) -> Result<ModelVersion> {
        self.write_registry(principal, workspace).await?;
        let version = registry::parse_version(version)?;
        limits::validate_length("description", description, MAX_DESCRIPTION_LENGTH)?;
        self.store.update_model_version(workspace, name, version, description, now_millis()).await?;
        self.store.get_model_version(workspace, name, version).await
    }

    pub async fn transition_model_version_stage(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        version: &str,
        stage: &str,
        archive_existing_versions: bool,
    ) -> Result<ModelVersion> {
        self.write_registry(principal, workspace).await?;
        let version = registry::parse_version(version)?;
        let stage = registry::parse_stage(stage)?;
        // Only versions entering Staging or Production push others out, as in MLflow.
        let archive = archive_existing_versions && matches!(stage, "Staging" | "Production");
        self.store.set_model_version_stage(workspace, name, version, stage, archive, now_millis()).await?;
        self.store.get_model_version(workspace, name, version).await
    }

    pub async fn delete_model_version(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        version: &str,
    ) -> Result<()> {
        self.delete_from_registry(principal, workspace).await?;
        let version = registry::parse_version(version)?;
        self.store.delete_model_version(workspace, name, version).await
    }

    pub async fn search_model_versions(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        search: &RegistrySearch,
    ) -> Result<Page<ModelVersion>> {
        self.read_registry(principal, workspace).await?;
        let limit =
            validate_max_results(search.max_results, SEARCH_VERSIONS_DEFAULT_MAX_RESULTS, SEARCH_VERSIONS_MAX_RESULTS)?;
        let filter = filter::parse_model_version_filter(search.filter.as_deref().unwrap_or_default())
            .map_err(|error| Error::invalid(error.message))?;
        let order_by = parse_orders(&search.order_by, filter::parse_model_version_order_by)?;
        let offset = decode_page_token(search.page_token.as_deref())?;
        let query = RegistryQuery { workspace, filter: &filter, order_by: &order_by, limit, offset };
        let items = self.store.search_model_versions(&query).await?;
        let next_page_token = next_token(items.len(), limit, offset);
        Ok(Page { items, next_page_token })
    }

    pub async fn set_model_version_tag(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        version: &str,
        tag: Tag,
    ) -> Result<()> {
        self.write_registry(principal, workspace).await?;
        let version = registry::parse_version(version)?;
        validate_tag(&tag)?;
        self.store.set_model_version_tag(workspace, name, version, &tag).await
    }

    pub async fn delete_model_version_tag(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        version: &str,
        key: &str,
    ) -> Result<()> {
        self.write_registry(principal, workspace).await?;
        let version = registry::parse_version(version)?;
        self.store.delete_model_version_tag(workspace, name, version, key).await
    }
}

/// Model versions as Azure ML model assets (`atelier model ...` and the native API).
impl Service {
    /// Where MLflow's client downloads a version from: its source, except that a job's named
    /// output on the default datastore is served by the artifact proxy.
    pub fn model_download_uri(version: &ModelVersion) -> String {
        let outputs = format!("azureml://datastores/{}/paths/azureml/", atelier_core::data::DEFAULT_DATASTORE);
        match version.source.strip_prefix(&outputs) {
            Some(rest) => {
                format!("mlflow-artifacts:/{}azureml/{rest}", crate::paths::JOB_OUTPUTS_ARTIFACT_PREFIX)
            }
            None => version.source.clone(),
        }
    }

    /// Registers a model version from the text of its model YAML file (with the CLI's flags and
    /// `--set` already applied), read with the CLI's own `atelier_spec::assets::parse_model` and
    /// checked whole: a bad file is an invalid-argument error that names the field and its line,
    /// as the CLI reports it. A URI `path` is registered as written; a local one stands for the
    /// files the client uploaded with `PUT …/models/{name}/uploads/{upload}/{path}`, whose root
    /// URI is `upload_uri`. The type is `custom_model` unless the file says otherwise.
    pub async fn create_model_version_from_yaml(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        yaml: &str,
        upload_uri: Option<&str>,
    ) -> Result<ModelVersion> {
        // Who may not create one learns nothing about their file.
        self.write_registry(principal, workspace).await?;
        let spec = atelier_spec::assets::parse_model(yaml).map_err(crate::jobs::spec_error)?;
        spec.check().map_err(crate::jobs::spec_error)?;
        let name = spec.name.clone().unwrap_or_default();
        let upload_root = format!("{}/models/{name}/", crate::paths::ARTIFACT_ROOT);
        let put = "PUT …/models/{name}/uploads/{upload}/{path}";
        let source = crate::uploads::asset_file_path(&spec, upload_uri, &upload_root, put)?;
        let new_version = NewModelVersion {
            name,
            source,
            tags: spec.tags.iter().map(|(key, value)| Tag::new(key.clone(), value.clone())).collect(),
            version: spec.version_number(),
            model_type: Some(spec.asset_type.clone().unwrap_or_else(|| "custom_model".to_owned())),
            properties: spec.properties.clone(),
            stage: spec.stage.clone(),
            ..NewModelVersion::default()
        };
        self.create_model_asset(principal, workspace, spec.description.as_deref(), new_version).await
    }

    /// Registers a model asset: the model is created if it is new, then the version.
    pub async fn create_model_asset(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        description: Option<&str>,
        new_version: NewModelVersion,
    ) -> Result<ModelVersion> {
        self.write_registry(principal, workspace).await?;
        registry::validate_model_name(&new_version.name)?;
        match self.store.get_registered_model(workspace, &new_version.name).await {
            Ok(_) => {}
            Err(error) if error.code == atelier_core::ErrorCode::ResourceDoesNotExist => {
                let created =
                    self.create_registered_model(principal, workspace, &new_version.name, None, Vec::new()).await;
                match created {
                    Ok(_) => {}
                    // Another request created it in between: register the version under it.
                    Err(error) if error.code == atelier_core::ErrorCode::ResourceAlreadyExists => {}
                    Err(error) => return Err(error),
                }
            }
            Err(error) => return Err(error),
        }
        let new_version = NewModelVersion { description: description.map(str::to_owned), ..new_version };
        self.create_model_version(principal, workspace, new_version).await
    }

    /// A version by number, by `latest` (the highest version that is not archived) or by
    /// `@alias`. (Kept for callers that hold the version as text; [`Service::resolve_label`]
    /// takes a parsed one.)
    pub async fn resolve_model_version(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        reference: &str,
    ) -> Result<ModelVersion> {
        self.resolve_label(principal, workspace, &AssetRef::new(AssetKind::Model, name, reference)?).await
    }

    /// The versions of one model, newest first; archived ones only when asked.
    pub async fn list_model_versions(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        include_archived: bool,
    ) -> Result<Vec<ModelVersion>> {
        self.list_asset_versions(principal, workspace, name, include_archived).await
    }

    /// The newest version of every model of the workspace that has one (archived versions only
    /// when asked), by model name.
    pub async fn list_model_assets(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        include_archived: bool,
    ) -> Result<Vec<ModelVersion>> {
        self.list_latest_assets(principal, workspace, include_archived).await
    }

    pub async fn set_model_version_archived(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        version: &str,
        archived: bool,
    ) -> Result<ModelVersion> {
        let reference = AssetRef::new(AssetKind::Model, name, version)?;
        self.set_asset_archived(principal, workspace, &reference, archived).await
    }

    /// Changes a version's description, tags, properties or stage, all checked before any is
    /// written.
    pub async fn update_model_asset(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        version: &str,
        update: ModelVersionUpdate,
    ) -> Result<ModelVersion> {
        self.write_registry(principal, workspace).await?;
        let current = self.resolve_model_version(principal, workspace, name, version).await?;
        let number = current.version;
        if let Some(description) = &update.description {
            limits::validate_length("description", description, MAX_DESCRIPTION_LENGTH)?;
        }
        for tag in &update.tags {
            validate_tag(tag)?;
        }
        for (key, value) in &update.properties {
            validate_tag(&Tag::new(key.clone(), value.clone()))?;
        }
        let stage = update.stage.as_deref().map(registry::parse_stage).transpose()?;
        let now = now_millis();
        if let Some(description) = &update.description {
            self.store.update_model_version(workspace, name, number, description, now).await?;
        }
        for tag in &update.tags {
            self.store.set_model_version_tag(workspace, name, number, tag).await?;
        }
        if !update.properties.is_empty() {
            let mut properties = current.properties.clone();
            properties.extend(update.properties);
            self.store.set_model_version_properties(workspace, name, number, &properties, now).await?;
        }
        if let Some(stage) = stage {
            self.store.set_model_version_stage(workspace, name, number, stage, false, now).await?;
        }
        self.store.get_model_version(workspace, name, number).await
    }

    /// Stores one file of a model about to be registered from local files, at
    /// `models/<name>/<upload>/<path>` under the workspace's artifact root (what
    /// `mlflow-artifacts:/models/<name>/<upload>/…` names); returns that path and the size.
    /// `upload` is a fresh id the client chose (32 hexadecimal characters), so that a failed or
    /// repeated registration never mixes files with another.
    pub async fn upload_model_file(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        upload: &str,
        path: &str,
        body: futures::stream::BoxStream<'_, std::result::Result<bytes::Bytes, String>>,
    ) -> Result<(String, u64)> {
        self.write_registry(principal, workspace).await?;
        registry::validate_model_name(name)?;
        if upload.len() != 32 || !upload.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::invalid(format!("upload id '{upload}' must be 32 hexadecimal characters")));
        }
        let relative = limits::normalize_artifact_path(path)?;
        if relative.is_empty() {
            return Err(Error::invalid("a model file upload needs a file path"));
        }
        let stored = limits::normalize_artifact_path(&format!("models/{name}/{upload}/{relative}"))?;
        let size = self.store_upload(workspace, crate::paths::AREA_MODELS, &stored, body).await?;
        Ok((stored, size))
    }

    /// Where a version's files are: the store and the key of its folder (or file).
    /// `mlflow-artifacts:/…` sources directly, `runs:/<run>/<path>` inside the run's artifacts,
    /// `models:/m-…` in the logged model's folder, `azureml://datastores/…` on that datastore.
    pub(crate) async fn model_version_location(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        version: &ModelVersion,
    ) -> Result<crate::uploads::Location> {
        use crate::uploads::Location;
        self.read_registry(principal, workspace).await?;
        let source = version.source.as_str();
        let artifacts = |path: String| Location::Blob(self.blobs().clone(), crate::paths::blob_key(workspace, &path));
        if let Some(rest) = source.strip_prefix("runs:/") {
            let (run_id, relative) = rest.split_once('/').unwrap_or((rest, ""));
            let (_, path) =
                self.run_artifact_path(principal, workspace, run_id, relative, Action::ExperimentsRead).await?;
            return Ok(artifacts(path));
        }
        if let Some(model_id) = source.strip_prefix("models:/").filter(|rest| rest.starts_with("m-")) {
            let logged = self.get_logged_model(principal, workspace, model_id).await?;
            return Ok(artifacts(Service::artifact_path_under(&logged.artifact_location, "")?));
        }
        if source.starts_with("mlflow-artifacts:") {
            let path = limits::normalize_artifact_path(&Service::artifact_path_under(source, "")?)?;
            if path.starts_with("models/") {
                let key = crate::paths::blob_key(workspace, &path);
                return self.upload_location(workspace, crate::paths::AREA_MODELS, &path, key).await;
            }
            return Ok(artifacts(path));
        }
        if source.starts_with("azureml://datastores/") {
            return self.data_location(workspace, source).await;
        }
        Err(Error::invalid(format!(
            "the files of model {} version {} are at '{source}', which this server does not store; fetch them from there",
            version.name, version.version
        )))
    }

    /// The files of a version, with paths that start with the name of the folder (or file) it
    /// was registered from: a version registered from `model/` lists `model/MLmodel`, ….
    pub async fn model_version_files(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        version: &ModelVersion,
    ) -> Result<Vec<(String, u64)>> {
        let location = self.model_version_location(principal, workspace, version).await?;
        self.list_at(workspace, &location).await
    }

    /// One file of a version, by a path from [`Service::model_version_files`].
    pub async fn download_model_file(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        version: &ModelVersion,
        relative: &str,
    ) -> Result<atelier_blob::Download> {
        let location = self.model_version_location(principal, workspace, version).await?;
        let what = format!("model {} version {}", version.name, version.version);
        self.open_at(workspace, &location, relative, &what).await
    }
}

#[cfg(test)]
mod tests {
    use super::validate_source;

    #[test]
    fn sources_are_uris_without_local_paths_or_parent_segments() {
        for good in ["runs:/0123/model", "models:/m-abc", "mlflow-artifacts:/1/abc/artifacts/model", "s3://bucket/m"] {
            assert!(validate_source(good).is_ok(), "{good}");
        }
        for bad in
            ["", "/etc/passwd", "model", "file:///tmp/m", "C:\\models\\m", "runs:/0123/../../etc", "s3://b/%2e%2e/x"]
        {
            assert!(validate_source(bad).is_err(), "{bad}");
        }
    }
}

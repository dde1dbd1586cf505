//! MLflow 3's logged models: what `log_model` creates, where a model's files live, and the
//! links from runs to the models they produced.

use crate::names::random_run_name;
use crate::tracking::parse_experiment_id;
use crate::{Principal, Service, Target, now_millis};
use atelier_core::authz::Action;
use atelier_core::filter;
use atelier_core::limits::{self, validate_max_results};
use atelier_core::model::*;
use atelier_core::names::WorkspaceName;
use atelier_core::{Error, Result};
use atelier_store::LoggedModelQuery;

/// A new logged model, as `logged-models` (POST) describes it.
#[derive(Debug, Clone, Default)]
pub struct NewLoggedModel {
    pub experiment_id: String,
    pub name: Option<String>,
    pub model_type: Option<String>,
    pub source_run_id: Option<String>,
    pub params: Vec<Param>,
    pub tags: Vec<Tag>,
}

/// Parameters of a logged-model search.
#[derive(Debug, Clone, Default)]
pub struct LoggedModelSearch {
    pub experiment_ids: Vec<String>,
    pub filter: Option<String>,
    /// `(field, ascending)` pairs.
    pub order_by: Vec<(String, bool)>,
    pub max_results: Option<i64>,
    pub page_token: Option<String>,
}

const SEARCH_LOGGED_MODELS_DEFAULT_MAX_RESULTS: i64 = 100;

impl Service {
    async fn logged_model_in_workspace(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        model_id: &str,
        action: Action,
    ) -> Result<LoggedModel> {
        self.authorize_on(principal, workspace, action, Target::LoggedModel(model_id)).await?;
        let model = self.store.get_logged_model(model_id).await?;
        if model.workspace != *workspace || model.lifecycle_stage == LifecycleStage::Deleted {
            return Err(Error::not_found(format!("logged model with id '{model_id}' not found")));
        }
        Ok(model)
    }

    pub async fn create_logged_model(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        new_model: NewLoggedModel,
    ) -> Result<LoggedModel> {
        let source_run = new_model.source_run_id.as_deref().unwrap_or_default();
        let target = if principal.job.is_some() { Target::Run(source_run) } else { Target::Workspace };
        self.authorize_on(principal, workspace, Action::ExperimentsWrite, target).await?;
        let experiment = self.store.get_experiment(workspace, parse_experiment_id(&new_model.experiment_id)?).await?;
        if let Some(run_id) = new_model.source_run_id.as_deref().filter(|id| !id.is_empty()) {
            let run = self.store.get_run_info(&RunId::parse(run_id)?).await?;
            if run.workspace != *workspace {
                return Err(Error::not_found(format!("run with id={run_id} not found")));
            }
        }
        for tag in &new_model.tags {
            limits::validate_key("tag", &tag.key)?;
        }
        for param in &new_model.params {
            limits::validate_key("param", &param.key)?;
        }
        let random: [u8; 16] = rand::random();
        let model_id = format!("m-{}", hex::encode(random));
        let now = now_millis();
        let model = LoggedModel {
            artifact_location: format!("{}/models/{model_id}/artifacts", experiment.artifact_location),
            model_id,
            workspace: workspace.clone(),
            experiment_id: experiment.experiment_id,
            name: new_model.name.filter(|name| !name.is_empty()).unwrap_or_else(random_run_name),
            creation_time: now,
            last_updated_time: now,
            status: "LOGGED_MODEL_PENDING".to_owned(),
            status_message: String::new(),
            lifecycle_stage: LifecycleStage::Active,
            model_type: new_model.model_type.unwrap_or_default(),
            source_run_id: new_model.source_run_id.filter(|id| !id.is_empty()),
            creator: principal.user.to_string(),
            tags: new_model.tags,
            params: new_model.params,
        };
        self.store.create_logged_model(&model).await?;
        self.store.get_logged_model(&model.model_id).await
    }

    pub async fn get_logged_model(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        model_id: &str,
    ) -> Result<LoggedModel> {
        self.logged_model_in_workspace(principal, workspace, model_id, Action::ExperimentsRead).await
    }

    pub async fn finalize_logged_model(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        model_id: &str,
        status: &str,
    ) -> Result<LoggedModel> {
        self.logged_model_in_workspace(principal, workspace, model_id, Action::ExperimentsWrite).await?;
        if !LOGGED_MODEL_STATUSES.contains(&status) {
            return Err(Error::invalid(format!(
                "invalid logged model status '{status}': expected one of {}",
                LOGGED_MODEL_STATUSES.join(", ")
            )));
        }
        self.store.set_logged_model_status(model_id, status, now_millis()).await?;
        self.store.get_logged_model(model_id).await
    }

    pub async fn set_logged_model_tags(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        model_id: &str,
        tags: Vec<Tag>,
    ) -> Result<LoggedModel> {
        self.logged_model_in_workspace(principal, workspace, model_id, Action::ExperimentsWrite).await?;
        for tag in &tags {
            limits::validate_key("tag", &tag.key)?;
        }
        self.store.set_logged_model_tags(model_id, &tags, now_millis()).await?;
        self.store.get_logged_model(model_id).await
    }

    pub async fn delete_logged_model_tag(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        model_id: &str,
        key: &str,
    ) -> Result<()> {
        self.logged_model_in_workspace(principal, workspace, model_id, Action::ExperimentsWrite).await?;
        self.store.delete_logged_model_tag(model_id, key).await
    }

    pub async fn log_logged_model_params(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        model_id: &str,
        params: Vec<Param>,
    ) -> Result<()> {
        self.logged_model_in_workspace(principal, workspace, model_id, Action::ExperimentsWrite).await?;
        for param in &params {
            limits::validate_key("param", &param.key)?;
        }
        self.store.log_logged_model_params(model_id, &params).await
    }

    pub async fn delete_logged_model(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        model_id: &str,
    ) -> Result<()> {
        self.logged_model_in_workspace(principal, workspace, model_id, Action::ExperimentsDelete).await?;
        self.store.delete_logged_model(model_id, now_millis()).await
    }

    pub async fn search_logged_models(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        search: &LoggedModelSearch,
    ) -> Result<Page<LoggedModel>> {
        self.authorize(principal, workspace, Action::ExperimentsRead).await?;
        let limit = validate_max_results(
            search.max_results,
            SEARCH_LOGGED_MODELS_DEFAULT_MAX_RESULTS,
            limits::SEARCH_MAX_RESULTS_LIMIT,
        )?;
        let experiment_ids =
            search.experiment_ids.iter().map(|id| parse_experiment_id(id)).collect::<Result<Vec<_>>>()?;
        let filter = filter::parse_logged_model_filter(search.filter.as_deref().unwrap_or_default())?;
        let order_by = search
            .order_by
            .iter()
            .map(|(field, ascending)| filter::parse_logged_model_order_by(field, *ascending))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let offset = crate::tracking::decode_page_token(search.page_token.as_deref())?;
        let query = LoggedModelQuery {
            workspace,
            experiment_ids: &experiment_ids,
            filter: &filter,
            order_by: &order_by,
            limit,
            offset,
        };
        let items = self.store.search_logged_models(&query).await?;
        let next_page_token = crate::tracking::next_token(items.len(), limit, offset);
        Ok(Page { items, next_page_token })
    }

    /// Records logged models as outputs of a run.
    pub async fn log_outputs(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        run_id: &str,
        outputs: Vec<ModelOutput>,
    ) -> Result<()> {
        let info = self.run_in_workspace(principal, workspace, run_id, Action::ExperimentsWrite).await?;
        for output in &outputs {
            let model = self.store.get_logged_model(&output.model_id).await?;
            if model.workspace != *workspace {
                return Err(Error::not_found(format!("logged model with id '{}' not found", output.model_id)));
            }
        }
        self.store.log_outputs(&info.run_id, &outputs).await
    }
}

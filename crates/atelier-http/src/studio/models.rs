//! The studio's model registry pages: a workspace's registered models, and one model with its
//! versions (stage, aliases, where its files are, and the run that produced it).

use super::common::{crumb, dataset_context, error_page, when};
use super::session::{Browser, Layout, render, urlencode};
use crate::AppState;
use askama::Template;
use atelier_core::Error;
use atelier_service::RegistrySearch;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

/// Models per page of the list.
const MODELS_PER_PAGE: i64 = 50;

struct ModelRow {
    name: String,
    latest_version: String,
    aliases: Vec<(String, i64)>,
    tags: Vec<(String, String)>,
    updated: String,
}

#[derive(Template)]
#[template(path = "models.html")]
struct ModelsPage {
    layout: Layout,
    workspace: String,
    query: String,
    models: Vec<ModelRow>,
    next_page: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
pub(crate) struct ModelsQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<String>,
}

/// A name search as a filter: a substring of the name, any case.
fn name_filter(query: &str) -> Option<String> {
    let query = query.trim();
    (!query.is_empty()).then(|| format!("name ILIKE '%{}%'", query.replace('\'', "''")))
}

pub(crate) async fn models(
    State(state): State<AppState>,
    browser: Browser,
    Path(ws): Path<String>,
    Query(query): Query<ModelsQuery>,
) -> Response {
    let principal = &browser.session.principal;
    let workspace = match crate::wire::workspace_in_path(&ws) {
        Ok(workspace) => workspace,
        Err(error) => return error_page(&browser, error),
    };
    let search = RegistrySearch {
        filter: name_filter(&query.q),
        max_results: Some(MODELS_PER_PAGE),
        order_by: vec!["last_updated_timestamp DESC".to_owned()],
        page_token: query.page.clone(),
    };
    let (models, next_page, error) = match state.service.search_registered_models(principal, &workspace, &search).await
    {
        Ok(page) => (page.items, page.next_page_token, None),
        // A name the filter language cannot take is shown on the page, not as an error page.
        Err(error) if error.code == atelier_core::ErrorCode::InvalidParameterValue => {
            (Vec::new(), None, Some(error.message))
        }
        Err(error) => return error_page(&browser, error),
    };
    let page = ModelsPage {
        layout: Layout::for_browser(
            &browser,
            vec![
                crumb(workspace.to_string(), format!("/w/{workspace}")),
                crumb("models", format!("/w/{workspace}/models")),
            ],
        ),
        workspace: workspace.to_string(),
        models: models
            .into_iter()
            .map(|model| ModelRow {
                latest_version: model
                    .latest_versions
                    .iter()
                    .map(|version| version.version)
                    .max()
                    .map(|version| version.to_string())
                    .unwrap_or_default(),
                aliases: model.aliases.iter().map(|alias| (alias.alias.clone(), alias.version)).collect(),
                tags: model.tags.iter().map(|tag| (tag.key.clone(), tag.value.clone())).collect(),
                updated: when(Some(model.last_updated_time)),
                name: model.name,
            })
            .collect(),
        next_page: next_page.map(|token| format!("?q={}&page={}", urlencode(&query.q), urlencode(&token))),
        query: query.q,
        error,
    };
    render(page, StatusCode::OK)
}

/// What produced a run's model: the datasets its run logged as inputs (a run that is gone or in
/// another workspace shows none), and, for a job's run, the data the job was given; and whether
/// a job made it.
async fn lineage(
    state: &AppState,
    principal: &atelier_service::Principal,
    workspace: &atelier_core::names::WorkspaceName,
    run_id: &str,
) -> Result<(Vec<(String, String)>, bool), Error> {
    let mut datasets: Vec<(String, String)> = match state.service.get_run(principal, workspace, run_id).await {
        Ok(run) => run
            .inputs
            .into_iter()
            .map(|input| {
                let context = dataset_context(&input);
                (input.dataset.name, context)
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    let Ok(job) = state.service.get_job(principal, workspace, run_id).await else { return Ok((datasets, false)) };
    for (input, planned) in state.service.plan_of(&job)?.inputs {
        if let atelier_spec::PlannedInput::Data { uri: Some(uri), .. } = planned {
            datasets.push((uri, format!("job input {input}")));
        }
    }
    Ok((datasets, true))
}

struct VersionRow {
    /// The datasets the producing run logged as inputs (or its job was given): the data lineage.
    datasets: Vec<(String, String)>,
    /// The job that made it, when its run is a job's.
    job: Option<String>,
    version: i64,
    stage: String,
    aliases: Vec<String>,
    source: String,
    run_id: Option<String>,
    model_id: Option<String>,
    user: String,
    created: String,
    description: String,
    tags: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "model_version.html")]
struct ModelVersionPage {
    layout: Layout,
    workspace: String,
    name: String,
    version: VersionRow,
    updated: String,
    /// Its files: path and size.
    files: Vec<(String, String)>,
    /// Where this version is deployed: endpoint, deployment, state.
    deployments: Vec<(String, String, &'static str)>,
}

/// One model version: what it is, what produced it, its files, where it is deployed and how
/// to load it.
pub(crate) async fn model_version(
    State(state): State<AppState>,
    browser: Browser,
    Path((ws, name, version)): Path<(String, String, String)>,
) -> Response {
    let principal = &browser.session.principal;
    let loaded = async {
        let workspace = crate::wire::workspace_in_path(&ws)?;
        let reference = atelier_core::asset::AssetRef::new(atelier_core::asset::AssetKind::Model, &name, &version)?;
        let found: atelier_core::registry::ModelVersion =
            state.service.resolve_label(principal, &workspace, &reference).await?;
        let (datasets, made_by_job) = match &found.run_id {
            Some(run_id) => lineage(&state, principal, &workspace, run_id).await?,
            None => (Vec::new(), false),
        };
        let files = state
            .service
            .asset_version_files::<atelier_core::registry::ModelVersion>(principal, &workspace, &reference)
            .await
            .unwrap_or_default();
        let deployments = state
            .service
            .model_deployments(principal, &workspace, &name)
            .await?
            .into_iter()
            .filter(|deployment| deployment.model_version.as_deref() == Some(found.version.to_string().as_str()))
            .map(|deployment| (deployment.endpoint, deployment.name, deployment.state.as_str()))
            .collect();
        Ok::<_, Error>((workspace, found, datasets, made_by_job, files, deployments))
    }
    .await;
    let (workspace, found, datasets, made_by_job, files, deployments) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return error_page(&browser, error),
    };
    let page = ModelVersionPage {
        layout: Layout::for_browser(
            &browser,
            vec![
                crumb(workspace.to_string(), format!("/w/{workspace}")),
                crumb("models", format!("/w/{workspace}/models")),
                crumb(found.name.clone(), format!("/w/{workspace}/models/{}", urlencode(&found.name))),
                crumb(format!("version {}", found.version), ""),
            ],
        ),
        workspace: workspace.to_string(),
        name: found.name.clone(),
        updated: when(Some(found.last_updated_time)),
        files: files.into_iter().map(|(path, size)| (path, size.to_string())).collect(),
        deployments,
        version: VersionRow {
            datasets,
            job: found.run_id.clone().filter(|_| made_by_job),
            version: found.version,
            stage: found.current_stage,
            aliases: found.aliases,
            source: found.source,
            run_id: found.run_id,
            model_id: found.model_id,
            user: found.user_id,
            created: when(Some(found.creation_time)),
            description: found.description,
            tags: found.tags.into_iter().map(|tag| (tag.key, tag.value)).collect(),
        },
    };
    render(page, StatusCode::OK)
}

#[derive(Template)]
#[template(path = "model.html")]
struct ModelPage {
    layout: Layout,
    workspace: String,
    name: String,
    description: String,
    created: String,
    updated: String,
    tags: Vec<(String, String)>,
    aliases: Vec<(String, i64)>,
    versions: Vec<VersionRow>,
    /// Where versions are deployed: endpoint, deployment, version, state.
    deployments: Vec<(String, String, String, &'static str)>,
}

pub(crate) async fn model(
    State(state): State<AppState>,
    browser: Browser,
    Path((ws, name)): Path<(String, String)>,
) -> Response {
    let principal = &browser.session.principal;
    let loaded = async {
        let workspace = crate::wire::workspace_in_path(&ws)?;
        let model = state.service.get_registered_model(principal, &workspace, &name).await?;
        let search = RegistrySearch {
            filter: Some(format!("name = '{}'", name.replace('\'', "''"))),
            max_results: Some(1_000),
            order_by: vec!["version_number DESC".to_owned()],
            page_token: None,
        };
        let versions = state.service.search_model_versions(principal, &workspace, &search).await?.items;
        // The data that produced each version, and the job that made it where a job did.
        let mut inputs: std::collections::HashMap<String, Vec<(String, String)>> = std::collections::HashMap::new();
        let mut jobs: std::collections::HashSet<String> = std::collections::HashSet::new();
        for run_id in versions.iter().filter_map(|version| version.run_id.clone()) {
            if inputs.contains_key(&run_id) {
                continue;
            }
            let (datasets, made_by_job) = lineage(&state, principal, &workspace, &run_id).await?;
            if made_by_job {
                jobs.insert(run_id.clone());
            }
            inputs.insert(run_id, datasets);
        }
        let deployments = state
            .service
            .model_deployments(principal, &workspace, &name)
            .await?
            .into_iter()
            .map(|deployment| {
                let version = deployment.model_version.clone().unwrap_or_default();
                (deployment.endpoint, deployment.name, version, deployment.state.as_str())
            })
            .collect();
        Ok::<_, Error>((workspace, model, versions, inputs, jobs, deployments))
    }
    .await;
    let (workspace, model, versions, inputs, jobs, deployments) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return error_page(&browser, error),
    };
    let page = ModelPage {
        layout: Layout::for_browser(
            &browser,
            vec![
                crumb(workspace.to_string(), format!("/w/{workspace}")),
                crumb("models", format!("/w/{workspace}/models")),
                crumb(model.name.clone(), format!("/w/{workspace}/models/{}", urlencode(&model.name))),
            ],
        ),
        workspace: workspace.to_string(),
        description: model.description.clone(),
        created: when(Some(model.creation_time)),
        updated: when(Some(model.last_updated_time)),
        tags: model.tags.iter().map(|tag| (tag.key.clone(), tag.value.clone())).collect(),
        aliases: model.aliases.iter().map(|alias| (alias.alias.clone(), alias.version)).collect(),
        versions: versions
            .into_iter()
            .map(|version| VersionRow {
                datasets: version.run_id.as_ref().and_then(|run_id| inputs.get(run_id)).cloned().unwrap_or_default(),
                job: version.run_id.clone().filter(|run_id| jobs.contains(run_id)),
                version: version.version,
                stage: version.current_stage,
                aliases: version.aliases,
                source: version.source,
                run_id: version.run_id,
                model_id: version.model_id,
                user: version.user_id,
                created: when(Some(version.creation_time)),
                description: version.description,
                tags: version.tags.into_iter().map(|tag| (tag.key, tag.value)).collect(),
            })
            .collect(),
        deployments,
        name: model.name,
    };
    render(page, StatusCode::OK)
}

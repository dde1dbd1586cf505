//! The studio's data pages: a workspace's data assets, one data asset with its versions (its
//! files, an MLTable's paths, and the first rows of a CSV), and its datastores.

use super::artifacts::parse_csv;
use super::common::{crumb, error_page, when};
use super::session::{Browser, Layout, render, urlencode};
use crate::AppState;
use askama::Template;
use atelier_core::Error;
use atelier_core::data::DataAsset;
use atelier_core::names::WorkspaceName;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

/// The most bytes of a CSV a preview reads, and the rows it shows.
const PREVIEW_BYTES: usize = 64 * 1024;
const PREVIEW_ROWS: usize = 20;
/// The most files a data asset's page lists.
const LISTED_FILES: usize = 50;

struct AssetRow {
    name: String,
    version: String,
    data_type: String,
    path: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "data.html")]
struct DataListPage {
    layout: Layout,
    workspace: String,
    assets: Vec<AssetRow>,
    showing_archived: bool,
}

#[derive(Deserialize, Default)]
pub(crate) struct ArchivedQuery {
    #[serde(default)]
    archived: Option<String>,
}

fn workspace_of(ws: &str) -> Result<WorkspaceName, Error> {
    crate::wire::workspace_in_path(ws)
}

pub(crate) async fn data_assets(
    State(state): State<AppState>,
    browser: Browser,
    Path(ws): Path<String>,
    Query(query): Query<ArchivedQuery>,
) -> Response {
    let principal = &browser.session.principal;
    let showing_archived = query.archived.is_some();
    let loaded = async {
        let workspace = workspace_of(&ws)?;
        let assets = state.service.list_data_assets(principal, &workspace, None, showing_archived).await?;
        Ok::<_, Error>((workspace, assets))
    }
    .await;
    let (workspace, assets) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return error_page(&browser, error),
    };
    let page = DataListPage {
        layout: Layout::for_browser(
            &browser,
            vec![
                crumb(workspace.to_string(), format!("/w/{workspace}")),
                crumb("data", format!("/w/{workspace}/data")),
            ],
        ),
        workspace: workspace.to_string(),
        assets: assets
            .into_iter()
            .map(|asset| AssetRow {
                updated: when(Some(asset.last_updated_time)),
                name: asset.name,
                version: asset.version,
                data_type: asset.data_type,
                path: asset.path,
            })
            .collect(),
        showing_archived,
    };
    render(page, StatusCode::OK)
}

#[derive(Template)]
#[template(path = "data_asset.html")]
struct DataAssetPage {
    layout: Layout,
    workspace: String,
    name: String,
    versions: Vec<(String, String, bool)>,
    selected: DataAsset,
    created: String,
    files: Vec<(String, u64)>,
    more_files: usize,
    /// Why the files cannot be listed (data the server does not read).
    files_note: Option<String>,
    preview_path: String,
    preview_header: Vec<String>,
    preview_rows: Vec<Vec<String>>,
}

#[derive(Deserialize, Default)]
pub(crate) struct VersionQuery {
    #[serde(default)]
    version: Option<String>,
}

pub(crate) async fn data_asset(
    State(state): State<AppState>,
    browser: Browser,
    Path((ws, name)): Path<(String, String)>,
    Query(query): Query<VersionQuery>,
) -> Response {
    let principal = &browser.session.principal;
    let loaded = async {
        let workspace = workspace_of(&ws)?;
        let versions = state.service.list_data_assets(principal, &workspace, Some(&name), true).await?;
        if versions.is_empty() {
            return Err(Error::not_found(format!("data asset '{name}' not found")));
        }
        let selected = match &query.version {
            Some(version) => state.service.get_data_asset(principal, &workspace, &name, version).await?,
            // The one 'latest' rule; a page of an asset whose versions are all archived shows the newest.
            None => atelier_core::asset::latest(&versions).unwrap_or(&versions[0]).clone(),
        };
        let mut files_note = None;
        let mut files = Vec::new();
        match state.service.data_asset_files(principal, &workspace, &selected).await {
            Ok(listed) => files = listed,
            Err(error) if error.code != atelier_core::ErrorCode::PermissionDenied => files_note = Some(error.message),
            Err(error) => return Err(error),
        }
        // The first rows of the first CSV file.
        let mut preview = (String::new(), Vec::new());
        if let Some((path, _)) = files.iter().find(|(path, _)| path.to_ascii_lowercase().ends_with(".csv")) {
            let bytes =
                state.service.read_data_file_prefix(principal, &workspace, &selected, path, PREVIEW_BYTES).await?;
            let text = String::from_utf8_lossy(&bytes);
            preview = (path.clone(), parse_csv(&text, ',', PREVIEW_ROWS + 1));
        }
        Ok::<_, Error>((workspace, versions, selected, files, files_note, preview))
    }
    .await;
    let (workspace, versions, selected, files, files_note, (preview_path, mut rows)) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return error_page(&browser, error),
    };
    let preview_header = if rows.is_empty() { Vec::new() } else { rows.remove(0) };
    let more_files = files.len().saturating_sub(LISTED_FILES);
    let page = DataAssetPage {
        layout: Layout::for_browser(
            &browser,
            vec![
                crumb(workspace.to_string(), format!("/w/{workspace}")),
                crumb("data", format!("/w/{workspace}/data")),
                crumb(name.clone(), format!("/w/{workspace}/data/{}", urlencode(&name))),
            ],
        ),
        workspace: workspace.to_string(),
        versions: versions
            .iter()
            .map(|asset| (asset.version.clone(), asset.data_type.clone(), asset.archived))
            .collect(),
        created: when(Some(selected.creation_time)),
        name,
        selected,
        files: files.into_iter().take(LISTED_FILES).collect(),
        more_files,
        files_note,
        preview_path,
        preview_header,
        preview_rows: rows,
    };
    render(page, StatusCode::OK)
}

struct DatastoreRow {
    name: String,
    kind: String,
    settings: Vec<(String, String)>,
    credentials: String,
    description: String,
}

#[derive(Template)]
#[template(path = "datastores.html")]
struct DatastoresPage {
    layout: Layout,
    workspace: String,
    datastores: Vec<DatastoreRow>,
}

pub(crate) async fn datastores(State(state): State<AppState>, browser: Browser, Path(ws): Path<String>) -> Response {
    let principal = &browser.session.principal;
    let loaded = async {
        let workspace = workspace_of(&ws)?;
        let datastores = state.service.list_datastores(principal, &workspace).await?;
        Ok::<_, Error>((workspace, datastores))
    }
    .await;
    let (workspace, datastores) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return error_page(&browser, error),
    };
    let page = DatastoresPage {
        layout: Layout::for_browser(
            &browser,
            vec![
                crumb(workspace.to_string(), format!("/w/{workspace}")),
                crumb("datastores", format!("/w/{workspace}/datastores")),
            ],
        ),
        workspace: workspace.to_string(),
        datastores: datastores
            .into_iter()
            .map(|datastore| DatastoreRow {
                name: datastore.name,
                kind: datastore.kind,
                settings: datastore.settings.into_iter().collect(),
                credentials: datastore.credential_kind.unwrap_or_default(),
                description: datastore.description,
            })
            .collect(),
    };
    render(page, StatusCode::OK)
}

struct EnvironmentRow {
    name: String,
    version: String,
    python: String,
    image: String,
    requirements: usize,
}

#[derive(Template)]
#[template(path = "environments.html")]
struct EnvironmentsPage {
    layout: Layout,
    workspace: String,
    environments: Vec<EnvironmentRow>,
}

pub(crate) async fn environments(State(state): State<AppState>, browser: Browser, Path(ws): Path<String>) -> Response {
    let principal = &browser.session.principal;
    let loaded = async {
        let workspace = workspace_of(&ws)?;
        let environments = state.service.list_environments(principal, &workspace, None, false).await?;
        Ok::<_, Error>((workspace, environments))
    }
    .await;
    let (workspace, environments) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return error_page(&browser, error),
    };
    let page = EnvironmentsPage {
        layout: Layout::for_browser(
            &browser,
            vec![
                crumb(workspace.to_string(), format!("/w/{workspace}")),
                crumb("environments", format!("/w/{workspace}/environments")),
            ],
        ),
        workspace: workspace.to_string(),
        environments: environments
            .into_iter()
            .map(|environment| EnvironmentRow {
                python: environment.spec.python.clone().unwrap_or_else(|| "the machine's".to_owned()),
                image: environment.spec.image.clone().unwrap_or_default(),
                requirements: environment.spec.requirements.len(),
                name: environment.name,
                version: environment.version,
            })
            .collect(),
    };
    render(page, StatusCode::OK)
}

#[derive(Template)]
#[template(path = "environment.html")]
struct EnvironmentPage {
    layout: Layout,
    workspace: String,
    environment: atelier_core::environment::Environment,
    versions: Vec<(String, bool)>,
    created: String,
    build_state: &'static str,
    /// The state as a CSS class word.
    build_class: &'static str,
    build_log: String,
    warnings: Vec<String>,
}

pub(crate) async fn environment(
    State(state): State<AppState>,
    browser: Browser,
    Path((ws, name)): Path<(String, String)>,
    Query(query): Query<VersionQuery>,
) -> Response {
    let principal = &browser.session.principal;
    let loaded = async {
        let workspace = workspace_of(&ws)?;
        let versions = state.service.list_environments(principal, &workspace, Some(&name), true).await?;
        let Some(newest) = atelier_core::asset::latest(&versions).or(versions.first()).cloned() else {
            return Err(Error::not_found(format!("environment '{name}' not found")));
        };
        let environment = match &query.version {
            Some(version) => state.service.get_environment(principal, &workspace, &name, version).await?,
            None => newest,
        };
        let build = state.service.environment_build_status(principal, &workspace, &name, &environment.version).await?;
        Ok::<_, Error>((workspace, versions, environment, build))
    }
    .await;
    let (workspace, versions, environment, build) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return error_page(&browser, error),
    };
    let page = EnvironmentPage {
        layout: Layout::for_browser(
            &browser,
            vec![
                crumb(workspace.to_string(), format!("/w/{workspace}")),
                crumb("environments", format!("/w/{workspace}/environments")),
                crumb(
                    environment.name.clone(),
                    format!("/w/{workspace}/environments/{}", urlencode(&environment.name)),
                ),
            ],
        ),
        workspace: workspace.to_string(),
        versions: versions.iter().map(|version| (version.version.clone(), version.archived)).collect(),
        created: when(Some(environment.creation_time)),
        build_state: build.state,
        build_class: if build.state == "not built" { "not-built" } else { build.state },
        build_log: build.log.unwrap_or_default(),
        warnings: build.warnings,
        environment,
    };
    render(page, StatusCode::OK)
}

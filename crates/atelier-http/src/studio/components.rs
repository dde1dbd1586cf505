//! The studio's component pages: a workspace's components, and one version with its interface
//! (inputs and outputs with types and defaults), command, environment and code.

use super::common::{crumb, error_page, file_response, when};
use super::session::{Browser, Layout, render, urlencode};
use crate::AppState;
use askama::Template;
use atelier_core::Error;
use atelier_core::asset::{AssetKind, AssetRef};
use atelier_core::component::Component;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

struct ComponentRow {
    name: String,
    version: String,
    display_name: String,
    environment: String,
    created: String,
}

#[derive(Template)]
#[template(path = "components.html")]
struct ComponentsPage {
    layout: Layout,
    workspace: String,
    components: Vec<ComponentRow>,
}

pub(crate) async fn components(State(state): State<AppState>, browser: Browser, Path(ws): Path<String>) -> Response {
    let principal = &browser.session.principal;
    let loaded = async {
        let workspace = crate::wire::workspace_in_path(&ws)?;
        let components = state.service.list_latest_assets::<Component>(principal, &workspace, false).await?;
        let mut rows = Vec::with_capacity(components.len());
        for component in components {
            let definition = state.service.component_definition(&component)?;
            rows.push(ComponentRow {
                name: component.name,
                version: component.version,
                display_name: component.display_name,
                environment: definition.environment.name,
                created: when(Some(component.creation_time)),
            });
        }
        Ok::<_, Error>((workspace, rows))
    }
    .await;
    let (workspace, components) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return error_page(&browser, error),
    };
    let page = ComponentsPage {
        layout: Layout::for_browser(
            &browser,
            vec![
                crumb(workspace.to_string(), format!("/w/{workspace}")),
                crumb("components", format!("/w/{workspace}/components")),
            ],
        ),
        workspace: workspace.to_string(),
        components,
    };
    render(page, StatusCode::OK)
}

/// One input or output of the interface, as the page shows it.
struct Port {
    name: String,
    kind: String,
    default: String,
    /// `optional`, `required`; for outputs, the mode.
    presence: String,
    /// min, max and enum, in words.
    limits: String,
    description: String,
}

#[derive(Template)]
#[template(path = "component.html")]
struct ComponentPage {
    layout: Layout,
    workspace: String,
    component: Component,
    versions: Vec<(String, bool)>,
    created: String,
    inputs: Vec<Port>,
    outputs: Vec<Port>,
    command: String,
    environment: String,
    python: String,
    requirements: Vec<String>,
    files: Vec<(String, u64)>,
    /// The pipelines that ran this version.
    pipelines: Vec<String>,
}

#[derive(Deserialize)]
pub(crate) struct VersionQuery {
    #[serde(default)]
    version: Option<String>,
}

pub(crate) async fn component(
    State(state): State<AppState>,
    browser: Browser,
    Path((ws, name)): Path<(String, String)>,
    Query(query): Query<VersionQuery>,
) -> Response {
    let principal = &browser.session.principal;
    let loaded = async {
        let workspace = crate::wire::workspace_in_path(&ws)?;
        let versions = state.service.list_asset_versions::<Component>(principal, &workspace, &name, true).await?;
        let Some(newest) = atelier_core::asset::latest(&versions).or(versions.first()).cloned() else {
            return Err(Error::not_found(format!("component '{name}' not found")));
        };
        let component = match &query.version {
            Some(version) => {
                let reference = AssetRef::new(AssetKind::Component, &name, version)?;
                state.service.resolve_label::<Component>(principal, &workspace, &reference).await?
            }
            None => newest,
        };
        let definition = state.service.component_definition(&component)?;
        let files = state.service.component_files(principal, &workspace, &component).await?;
        let pipelines = state.service.component_pipelines(principal, &workspace, &component).await?;
        Ok::<_, Error>((workspace, versions, component, definition, files, pipelines))
    }
    .await;
    let (workspace, versions, component, definition, files, pipelines) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return error_page(&browser, error),
    };
    let body = definition.body;
    let inputs = body
        .inputs
        .into_iter()
        .map(|(name, input)| {
            let mut limits = Vec::new();
            if let Some(min) = input.min {
                limits.push(format!("≥ {min}"));
            }
            if let Some(max) = input.max {
                limits.push(format!("≤ {max}"));
            }
            if !input.allowed.is_empty() {
                limits.push(format!("one of {}", input.allowed.join(", ")));
            }
            Port {
                name,
                kind: input.kind,
                default: input.default.unwrap_or_default(),
                presence: if input.optional { "optional" } else { "required" }.to_owned(),
                limits: limits.join(", "),
                description: input.description.unwrap_or_default(),
            }
        })
        .collect();
    let outputs = body
        .outputs
        .into_iter()
        .map(|(name, output)| Port {
            name,
            kind: output.kind,
            default: String::new(),
            presence: output.mode,
            limits: String::new(),
            description: output.description.unwrap_or_default(),
        })
        .collect();
    let page = ComponentPage {
        layout: Layout::for_browser(
            &browser,
            vec![
                crumb(workspace.to_string(), format!("/w/{workspace}")),
                crumb("components", format!("/w/{workspace}/components")),
                crumb(component.name.clone(), format!("/w/{workspace}/components/{}", urlencode(&component.name))),
            ],
        ),
        workspace: workspace.to_string(),
        versions: versions.iter().map(|version| (version.version.clone(), version.archived)).collect(),
        created: when(Some(component.creation_time)),
        inputs,
        outputs,
        command: body.command,
        environment: definition.environment.name,
        python: match definition.environment.python {
            Some(version) => format!("Python {version}"),
            None => "the machine's Python".to_owned(),
        },
        requirements: definition.environment.requirements,
        files,
        pipelines,
        component,
    };
    render(page, StatusCode::OK)
}

/// One file of a component version's code, as a download.
pub(crate) async fn file(
    State(state): State<AppState>,
    browser: Browser,
    Path((ws, name, version, path)): Path<(String, String, String, String)>,
) -> Response {
    let principal = &browser.session.principal;
    let result = async {
        let workspace = crate::wire::workspace_in_path(&ws)?;
        let reference = AssetRef::new(AssetKind::Component, &name, &version)?;
        let component = state.service.resolve_label::<Component>(principal, &workspace, &reference).await?;
        state.service.open_component_file(principal, &workspace, &component, &path).await
    }
    .await;
    match result {
        Ok(download) => file_response(download, &path, None),
        Err(error) => error_page(&browser, error),
    }
}

//! An experiment's runs table: filter, sort, columns and pages, all in the URL.

use super::common::*;
use super::session::{Browser, Layout, render, urlencode};
use crate::AppState;
use askama::Template;
use atelier_core::ErrorCode;
use atelier_core::model::ViewType;
use atelier_core::time::format_duration;
use atelier_service::RunSearch;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use std::collections::BTreeSet;

/// Runs per page of the runs table.
pub(super) const RUNS_PER_PAGE: i64 = 100;
/// Metric and param columns shown at most (the first ones by name).
pub(super) const MAX_VALUE_COLUMNS: usize = 12;

// An experiment's runs.

pub(super) struct Column {
    label: String,
    sort_href: String,
    sorted: bool,
    arrow: &'static str,
}

pub(super) struct RunRow {
    id: String,
    name: String,
    status: &'static str,
    start: String,
    duration: String,
    user: String,
    metrics: Vec<String>,
    params: Vec<String>,
}

#[derive(Template)]
#[template(path = "runs.html")]
pub(super) struct RunsPage {
    layout: Layout,
    workspace: String,
    experiment_id: i64,
    experiment_name: String,
    run_count: i64,
    filter: String,
    order_by: String,
    error: Option<String>,
    columns: Vec<Column>,
    /// How many of the columns are metrics, then parameters (they follow the run's own).
    metric_count: usize,
    param_count: usize,
    rows: Vec<RunRow>,
    /// The charts of the first runs in view (as filtered and sorted): a chart per metric, a
    /// line per run; `None` with fewer than two runs.
    charts_href: Option<String>,
    first_page: bool,
    first_href: String,
    next_href: Option<String>,
    column_choices: Vec<ColumnChoice>,
    chosen_columns: Vec<String>,
}

#[derive(Deserialize, Default)]
pub(crate) struct RunsQuery {
    #[serde(default)]
    filter: String,
    #[serde(default)]
    order_by: String,
    #[serde(default)]
    page_token: String,
    /// Chosen value columns, as `metrics.<key>` or `params.<key>`; none means the defaults.
    #[serde(default, deserialize_with = "crate::wire::string_list")]
    col: Vec<String>,
}

pub(super) struct ColumnChoice {
    value: String,
    label: String,
    shown: bool,
}

/// Quotes a metric or param key for the filter language when it needs it.
pub(super) fn quoted_key(key: &str) -> String {
    if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') { key.to_owned() } else { format!("`{key}`") }
}

pub(super) fn runs_href(query: &RunsQuery, order_by: &str, page_token: &str) -> String {
    let mut href = format!("?filter={}&order_by={}", urlencode(&query.filter), urlencode(order_by));
    for column in &query.col {
        href.push_str(&format!("&col={}", urlencode(column)));
    }
    if !page_token.is_empty() {
        href.push_str(&format!("&page_token={}", urlencode(page_token)));
    }
    href
}

pub(super) fn sort_column(label: String, sort_key: String, query: &RunsQuery) -> Column {
    let current = query.order_by.trim();
    let ascending_now =
        current.eq_ignore_ascii_case(&sort_key) || current.eq_ignore_ascii_case(&format!("{sort_key} ASC"));
    let descending_now = current.eq_ignore_ascii_case(&format!("{sort_key} DESC"));
    let next_order = if ascending_now { format!("{sort_key} DESC") } else { format!("{sort_key} ASC") };
    Column {
        label,
        sort_href: runs_href(query, &next_order, ""),
        sorted: ascending_now || descending_now,
        arrow: if descending_now { "↓" } else { "↑" },
    }
}

pub(crate) async fn runs(
    State(state): State<AppState>,
    browser: Browser,
    Path((ws, id)): Path<(String, String)>,
    crate::wire::MultiQuery(query): crate::wire::MultiQuery<RunsQuery>,
) -> Response {
    let principal = &browser.session.principal;
    let workspace = match crate::wire::workspace_in_path(&ws) {
        Ok(workspace) => workspace,
        Err(error) => return error_page(&browser, error),
    };
    let experiment = match state.service.get_experiment(principal, &workspace, &id).await {
        Ok(experiment) => experiment,
        Err(error) => return error_page(&browser, error),
    };
    let run_count = match state.service.experiment_summaries(principal, &workspace).await {
        Ok(summaries) => summaries
            .iter()
            .find(|summary| summary.experiment.experiment_id == experiment.experiment_id)
            .map_or(0, |s| s.runs),
        Err(error) => return error_page(&browser, error),
    };
    let search = RunSearch {
        experiment_ids: vec![experiment.experiment_id.to_string()],
        filter: Some(query.filter.clone()).filter(|filter| !filter.trim().is_empty()),
        view: ViewType::ActiveOnly,
        order_by: Some(query.order_by.clone()).filter(|order| !order.trim().is_empty()).into_iter().collect(),
        max_results: Some(RUNS_PER_PAGE),
        page_token: Some(query.page_token.clone()).filter(|token| !token.is_empty()),
    };
    // A bad filter is shown next to the search box, not as a failed page.
    let (runs, next_token, error) = match state.service.search_runs(principal, &workspace, &search).await {
        Ok(page) => (page.items, page.next_page_token, None),
        Err(error) if error.code == ErrorCode::InvalidParameterValue => (Vec::new(), None, Some(error.message)),
        Err(error) => return error_page(&browser, error),
    };
    let all_metric_keys: BTreeSet<String> =
        runs.iter().flat_map(|run| run.metrics.iter().map(|metric| metric.key.clone())).collect();
    let all_param_keys: BTreeSet<String> =
        runs.iter().flat_map(|run| run.params.iter().map(|param| param.key.clone())).collect();
    // Chosen columns win; without a choice, the first keys of each kind by name.
    let (metric_keys, param_keys): (Vec<String>, Vec<String>) = if query.col.is_empty() {
        (
            all_metric_keys.iter().take(MAX_VALUE_COLUMNS).cloned().collect(),
            all_param_keys.iter().take(MAX_VALUE_COLUMNS).cloned().collect(),
        )
    } else {
        (
            query.col.iter().filter_map(|column| column.strip_prefix("metrics.")).map(str::to_owned).collect(),
            query.col.iter().filter_map(|column| column.strip_prefix("params.")).map(str::to_owned).collect(),
        )
    };
    let column_choices: Vec<ColumnChoice> = all_metric_keys
        .iter()
        .map(|key| ColumnChoice {
            value: format!("metrics.{key}"),
            label: format!("metric {key}"),
            shown: metric_keys.contains(key),
        })
        .chain(all_param_keys.iter().map(|key| ColumnChoice {
            value: format!("params.{key}"),
            label: format!("param {key}"),
            shown: param_keys.contains(key),
        }))
        .collect();
    let mut columns = vec![
        sort_column("Name".into(), "attributes.run_name".into(), &query),
        sort_column("Status".into(), "attributes.status".into(), &query),
        sort_column("Started".into(), "attributes.start_time".into(), &query),
        sort_column("Duration".into(), "attributes.end_time".into(), &query),
        sort_column("User".into(), "attributes.user_id".into(), &query),
    ];
    columns
        .extend(metric_keys.iter().map(|key| sort_column(key.clone(), format!("metrics.{}", quoted_key(key)), &query)));
    columns
        .extend(param_keys.iter().map(|key| sort_column(key.clone(), format!("params.{}", quoted_key(key)), &query)));
    let (metric_count, param_count) = (metric_keys.len(), param_keys.len());
    let rows: Vec<RunRow> = runs
        .iter()
        .map(|run| RunRow {
            id: run.info.run_id.to_string(),
            name: run.info.run_name.clone(),
            status: run.info.status.as_str(),
            start: when(run.info.start_time),
            duration: format_duration(run.info.start_time, run.info.end_time),
            user: run.info.user_id.clone(),
            metrics: metric_keys
                .iter()
                .map(|key| {
                    run.metrics
                        .iter()
                        .find(|metric| &metric.key == key)
                        .map(|metric| metric_text(metric.value))
                        .unwrap_or_default()
                })
                .collect(),
            params: param_keys
                .iter()
                .map(|key| {
                    run.params
                        .iter()
                        .find(|param| &param.key == key)
                        .map(|param| param.value.clone())
                        .unwrap_or_default()
                })
                .collect(),
        })
        .collect();
    let page = RunsPage {
        layout: Layout::for_browser(
            &browser,
            vec![
                crumb(workspace.to_string(), format!("/w/{workspace}")),
                crumb(experiment.name.clone(), format!("/w/{workspace}/experiments/{}", experiment.experiment_id)),
            ],
        ),
        workspace: workspace.to_string(),
        experiment_id: experiment.experiment_id,
        experiment_name: experiment.name,
        run_count,
        first_page: query.page_token.is_empty(),
        first_href: runs_href(&query, &query.order_by, ""),
        next_href: next_token.map(|token| runs_href(&query, &query.order_by, &token)),
        column_choices,
        chosen_columns: query.col.clone(),
        filter: query.filter,
        order_by: query.order_by,
        error,
        columns,
        metric_count,
        param_count,
        charts_href: (rows.len() >= 2).then(|| {
            let runs: Vec<String> = rows
                .iter()
                .take(super::compare::MAX_COMPARED_RUNS)
                .map(|row| format!("runs={}", urlencode(&row.id)))
                .collect();
            format!("/w/{workspace}/compare?{}", runs.join("&"))
        }),
        rows,
    };
    render(page, StatusCode::OK)
}

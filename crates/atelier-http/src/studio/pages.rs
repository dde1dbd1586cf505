//! The studio's pages: workspaces, a workspace's home, an experiment's runs table, and a run.
//! Each handler calls service operations and fills a template; nothing here decides access.

use super::session::{Browser, Crumb, Layout, forged_form, render, urlencode};
use crate::AppState;
use askama::Template;
use atelier_charts::{
    AxisValue, LineChart, ParallelAxis, ParallelCoordinates, Point, Scale, Series, downsample_envelope,
    render_line_chart, render_parallel_coordinates, smooth_ema,
};
use atelier_core::model::{PARENT_RUN_ID_TAG, Run, RunStatus, ViewType};
use atelier_core::names::WorkspaceName;
use atelier_core::series::{Axis, Range as SampleRange, Sample};
use atelier_core::time::{format_duration, format_utc};
use atelier_core::{Error, ErrorCode};
use atelier_service::{Principal, RunSearch, Service};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;
use std::collections::BTreeSet;

/// Runs per page of the runs table.
const RUNS_PER_PAGE: i64 = 100;
/// Metric and param columns shown at most (the first ones by name).
const MAX_VALUE_COLUMNS: usize = 12;
/// Buckets of the min/max envelope a chart is drawn from.
const CHART_BUCKETS: usize = 500;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    heading: String,
    message: String,
}

/// Shows an error as a page with the status its code maps to.
pub(super) fn error_page(browser: &Browser, error: Error) -> Response {
    let status = StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let heading = match error.code {
        ErrorCode::ResourceDoesNotExist => "Not found",
        ErrorCode::PermissionDenied => "Not allowed",
        _ => "Something went wrong",
    };
    render(
        ErrorPage {
            layout: Layout::for_browser(browser, Vec::new()),
            heading: heading.to_owned(),
            message: error.message,
        },
        status,
    )
}

pub(super) fn crumb(label: impl Into<String>, href: impl Into<String>) -> Crumb {
    Crumb { label: label.into(), href: href.into() }
}

pub(super) fn when(millis: Option<i64>) -> String {
    millis.map(format_utc).unwrap_or_default()
}

/// A compact, exact-enough rendering of a metric value for tables.
fn metric_text(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value != 0.0 && (value.abs() >= 1e6 || value.abs() < 1e-4) {
        format!("{value:.4e}")
    } else {
        let text = format!("{value:.6}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

// Workspaces.

struct WorkspaceRow {
    name: String,
    description: String,
    tracking_uri: String,
    created: String,
}

#[derive(Template)]
#[template(path = "workspaces.html")]
struct WorkspacesPage {
    layout: Layout,
    workspaces: Vec<WorkspaceRow>,
    can_create: bool,
    error: Option<String>,
}

fn server_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|value| value.to_str().ok()).unwrap_or("127.0.0.1:7420");
    format!("http://{host}")
}

async fn workspaces_page(state: &AppState, browser: &Browser, headers: &HeaderMap, error: Option<String>) -> Response {
    let workspaces = match state.service.list_workspaces(&browser.session.principal).await {
        Ok(workspaces) => workspaces,
        Err(error) => return error_page(browser, error),
    };
    let base = server_url(headers);
    let rows = workspaces
        .into_iter()
        .map(|workspace| WorkspaceRow {
            tracking_uri: if workspace.name == WorkspaceName::default_workspace() {
                base.clone()
            } else {
                format!("{base}/ws/{}", workspace.name)
            },
            name: workspace.name.to_string(),
            description: workspace.description,
            created: format_utc(workspace.created_at),
        })
        .collect();
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let page = WorkspacesPage {
        layout: Layout::for_browser(browser, Vec::new()),
        workspaces: rows,
        can_create: browser.session.principal.is_admin,
        error,
    };
    render(page, status)
}

pub(crate) async fn workspaces(State(state): State<AppState>, browser: Browser, headers: HeaderMap) -> Response {
    workspaces_page(&state, &browser, &headers, None).await
}

#[derive(Deserialize)]
pub(crate) struct NewWorkspaceForm {
    #[serde(default)]
    csrf: String,
    name: String,
    #[serde(default)]
    description: String,
}

pub(crate) async fn create_workspace(
    State(state): State<AppState>,
    browser: Browser,
    headers: HeaderMap,
    Form(form): Form<NewWorkspaceForm>,
) -> Response {
    if !browser.csrf_matches(&form.csrf) {
        return forged_form();
    }
    let name = form.name.trim();
    match state
        .service
        .create_workspace(&browser.session.principal, name, form.description.trim(), Default::default())
        .await
    {
        Ok(workspace) => Redirect::to(&format!("/w/{}", workspace.name)).into_response(),
        Err(error) => workspaces_page(&state, &browser, &headers, Some(error.message)).await,
    }
}

// A workspace's home.

struct ExperimentRow {
    id: i64,
    name: String,
    runs: i64,
    last_activity: String,
    created: String,
}

struct RecentRun {
    id: String,
    name: String,
    experiment: String,
    status: &'static str,
    start: String,
    user: String,
}

#[derive(Template)]
#[template(path = "workspace.html")]
struct WorkspacePage {
    layout: Layout,
    workspace: String,
    description: String,
    error: Option<String>,
    can_write: bool,
    can_manage: bool,
    showing_deleted: bool,
    experiment_count: usize,
    run_count: i64,
    experiments: Vec<ExperimentRow>,
    recent: Vec<RecentRun>,
}

#[derive(Deserialize, Default)]
pub(crate) struct WorkspaceQuery {
    #[serde(default)]
    view: String,
    #[serde(default)]
    error: Option<String>,
}

pub(crate) async fn workspace(
    State(state): State<AppState>,
    browser: Browser,
    Path(ws): Path<String>,
    Query(query): Query<WorkspaceQuery>,
) -> Response {
    let principal = &browser.session.principal;
    let showing_deleted = query.view == "deleted";
    let result = async {
        let details = state.service.get_workspace(principal, &ws).await?;
        let workspace = details.name.clone();
        let mut summaries = state.service.experiment_summaries(principal, &workspace).await?;
        let active_count = summaries.len();
        let active_runs: i64 = summaries.iter().map(|summary| summary.runs).sum();
        if showing_deleted {
            let search = atelier_service::ExperimentSearch { view: ViewType::DeletedOnly, ..Default::default() };
            summaries = state
                .service
                .search_experiments(principal, &workspace, &search)
                .await?
                .items
                .into_iter()
                .map(|experiment| atelier_service::ExperimentSummary { experiment, runs: 0, last_run_start: None })
                .collect();
        }
        let search = RunSearch {
            experiment_ids: summaries.iter().map(|summary| summary.experiment.experiment_id.to_string()).collect(),
            max_results: Some(10),
            ..RunSearch::default()
        };
        let recent = state.service.search_runs(principal, &workspace, &search).await?.items;
        let can_write = state.service.may(principal, &workspace, atelier_core::authz::Action::TrackingWrite).await;
        let can_manage = state.service.may(principal, &workspace, atelier_core::authz::Action::WorkspaceManage).await;
        Ok::<_, Error>((details, summaries, recent, active_count, active_runs, can_write, can_manage))
    }
    .await;
    let (details, summaries, recent, active_count, active_runs, can_write, can_manage) = match result {
        Ok(found) => found,
        Err(error) => return error_page(&browser, error),
    };
    let experiment_name = |id: i64| {
        summaries
            .iter()
            .find(|summary| summary.experiment.experiment_id == id)
            .map(|summary| summary.experiment.name.clone())
    };
    let recent = recent
        .iter()
        .map(|run| RecentRun {
            id: run.info.run_id.to_string(),
            name: run.info.run_name.clone(),
            experiment: experiment_name(run.info.experiment_id).unwrap_or_default(),
            status: run.info.status.as_str(),
            start: when(run.info.start_time),
            user: run.info.user_id.clone(),
        })
        .collect();
    let page = WorkspacePage {
        layout: Layout::for_browser(&browser, vec![crumb(details.name.to_string(), format!("/w/{}", details.name))]),
        workspace: details.name.to_string(),
        description: details.description,
        error: query.error,
        can_write,
        can_manage,
        showing_deleted,
        experiment_count: active_count,
        run_count: active_runs,
        experiments: summaries
            .iter()
            .map(|summary| ExperimentRow {
                id: summary.experiment.experiment_id,
                name: summary.experiment.name.clone(),
                runs: summary.runs,
                last_activity: when(summary.last_run_start.or(Some(summary.experiment.last_update_time))),
                created: format_utc(summary.experiment.creation_time),
            })
            .collect(),
        recent,
    };
    render(page, StatusCode::OK)
}

// An experiment's runs.

struct Column {
    label: String,
    sort_href: String,
    sorted: bool,
    arrow: &'static str,
}

struct RunRow {
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
struct RunsPage {
    layout: Layout,
    workspace: String,
    experiment_id: i64,
    experiment_name: String,
    run_count: i64,
    filter: String,
    order_by: String,
    error: Option<String>,
    columns: Vec<Column>,
    rows: Vec<RunRow>,
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

struct ColumnChoice {
    value: String,
    label: String,
    shown: bool,
}

/// Quotes a metric or param key for the filter language when it needs it.
fn quoted_key(key: &str) -> String {
    if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') { key.to_owned() } else { format!("`{key}`") }
}

fn runs_href(query: &RunsQuery, order_by: &str, page_token: &str) -> String {
    let mut href = format!("?filter={}&order_by={}", urlencode(&query.filter), urlencode(order_by));
    for column in &query.col {
        href.push_str(&format!("&col={}", urlencode(column)));
    }
    if !page_token.is_empty() {
        href.push_str(&format!("&page_token={}", urlencode(page_token)));
    }
    href
}

fn sort_column(label: String, sort_key: String, query: &RunsQuery) -> Column {
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
    let workspace = match WorkspaceName::parse(&ws) {
        Ok(workspace) => workspace,
        Err(error) => return error_page(&browser, Error::not_found(error.message)),
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
    let rows = runs
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
        rows,
    };
    render(page, StatusCode::OK)
}

// A run.

struct Chart {
    key: String,
    svg: String,
    /// How many points the series has in all.
    points: u64,
    /// Whether a zoom left none of them to draw.
    none_in_zoom: bool,
}

struct ArtifactRow {
    name: String,
    path: String,
    is_dir: bool,
    size: String,
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    layout: Layout,
    workspace: String,
    id: String,
    name: String,
    status: &'static str,
    experiment_id: i64,
    experiment_name: String,
    start: String,
    end: String,
    duration: String,
    user: String,
    artifact_uri: String,
    parent: Option<String>,
    children: Vec<(String, String)>,
    params: Vec<(String, String)>,
    tags: Vec<(String, String)>,
    inputs: Vec<(String, String, String, String)>,
    charts: Vec<Chart>,
    x_axis: String,
    smooth: String,
    log_scale: bool,
    /// The zoomed x range, as the query gave it.
    zoom: Option<(String, String)>,
    /// The page without its zoom.
    zoom_reset: String,
    /// Whether the run is running, so that the page refreshes itself.
    live: bool,
    artifacts: Vec<ArtifactRow>,
    artifact_path: String,
    artifact_parent: String,
    preview: Option<PreviewView>,
}

#[derive(Deserialize, Default)]
pub(crate) struct RunQuery {
    #[serde(default)]
    x: String,
    #[serde(default)]
    smooth: Option<f64>,
    #[serde(default)]
    log: Option<String>,
    #[serde(default)]
    xmin: Option<String>,
    #[serde(default)]
    xmax: Option<String>,
    #[serde(default)]
    path: String,
    #[serde(default)]
    preview: String,
}

/// The most bytes of an artifact a preview reads.
const PREVIEW_BYTES: usize = 256 * 1024;
/// The most rows of a CSV preview.
const PREVIEW_ROWS: usize = 50;

/// What the run page shows of one artifact file.
struct PreviewView {
    path: String,
    kind: &'static str,
    text: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    image_src: String,
    note: String,
}

fn extension(path: &str) -> String {
    path.rsplit('/')
        .next()
        .and_then(|name| name.rsplit_once('.'))
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Image types shown inline; anything else (SVG included, which can carry scripts) downloads.
fn inline_image_type(path: &str) -> Option<&'static str> {
    match extension(path).as_str() {
        "png" => Some("image/png"),
        "jpg" | "jpeg" => Some("image/jpeg"),
        "gif" => Some("image/gif"),
        "webp" => Some("image/webp"),
        _ => None,
    }
}

/// Splits CSV text into rows of fields, honouring double-quoted fields (with `""` for a quote).
pub(super) fn parse_csv(text: &str, separator: char, max_rows: usize) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => quoted = false,
                other => field.push(other),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                if rows.len() > max_rows {
                    return rows;
                }
            }
            c if c == separator => row.push(std::mem::take(&mut field)),
            other => field.push(other),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

fn preview_of(workspace: &str, run_id: &str, path: &str, bytes: Vec<u8>, size: u64) -> PreviewView {
    let mut view = PreviewView {
        path: path.to_owned(),
        kind: "none",
        text: String::new(),
        header: Vec::new(),
        rows: Vec::new(),
        image_src: String::new(),
        note: String::new(),
    };
    let truncated = (bytes.len() as u64) < size;
    if inline_image_type(path).is_some() {
        view.kind = "image";
        view.image_src = format!("/w/{workspace}/runs/{run_id}/artifacts/{path}?inline=1");
        return view;
    }
    let Ok(text) = String::from_utf8(bytes) else {
        view.note = "no preview: this file is not text".to_owned();
        return view;
    };
    if truncated {
        view.note = format!("showing the first {} KiB of {} bytes", PREVIEW_BYTES / 1024, size);
    }
    match extension(path).as_str() {
        "csv" | "tsv" => {
            let separator = if extension(path) == "tsv" { '\t' } else { ',' };
            let mut rows = parse_csv(&text, separator, PREVIEW_ROWS);
            if !rows.is_empty() {
                view.kind = "table";
                view.header = rows.remove(0);
                rows.truncate(PREVIEW_ROWS);
                view.rows = rows;
                return view;
            }
        }
        "json" if !truncated => {
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) {
                view.kind = "text";
                view.text = serde_json::to_string_pretty(&value).unwrap_or(text);
                return view;
            }
        }
        _ => {}
    }
    view.kind = "text";
    view.text = text;
    view
}

/// The zoomed x range of a page's charts, from its `xmin` and `xmax` (in steps, or in seconds
/// since the run started); anything but two finite numbers in order means no zoom.
fn zoom_of(low: &Option<String>, high: &Option<String>) -> Option<(f64, f64)> {
    let parse = |text: &Option<String>| text.as_deref().and_then(|text| text.trim().parse::<f64>().ok());
    match (parse(low), parse(high)) {
        (Some(low), Some(high)) if low.is_finite() && high.is_finite() && low < high => Some((low, high)),
        _ => None,
    }
}

/// How a page draws metric series: on steps or on seconds since `origin`, zoomed or whole,
/// smoothed or not.
struct ChartWindow {
    by_time: bool,
    /// Milliseconds since the Unix epoch that the time axis counts from (the run's start).
    origin: i64,
    zoom: Option<(f64, f64)>,
    smooth: f64,
}

impl ChartWindow {
    fn x_of(&self, sample: &Sample) -> f64 {
        if self.by_time { (sample.timestamp - self.origin) as f64 / 1000.0 } else { sample.step as f64 }
    }

    fn range(&self) -> Option<SampleRange> {
        self.zoom.map(|(low, high)| match self.by_time {
            true => SampleRange {
                axis: Axis::Time,
                low: self.origin as f64 + low * 1000.0,
                high: self.origin as f64 + high * 1000.0,
            },
            false => SampleRange { axis: Axis::Step, low, high },
        })
    }
}

/// One run's series of a metric, ready to draw: at most a few thousand points (an envelope that
/// keeps every bucket's extremes), smoothed if asked, each with the other axis in its hover
/// line. Returns it with the series' point count.
async fn chart_series(
    service: &Service,
    principal: &Principal,
    workspace: &WorkspaceName,
    run: &Run,
    key: &str,
    window: &ChartWindow,
) -> Result<(Series, u64), Error> {
    let view = service.metric_view(principal, workspace, run.info.run_id.as_str(), key, window.range()).await?;
    let mut samples = view.samples;
    if window.by_time {
        samples.sort_by_key(|sample| (sample.timestamp, sample.step));
    }
    let points: Vec<Point> = samples.iter().map(|sample| Point { x: window.x_of(sample), y: sample.value }).collect();
    let mut points = downsample_envelope(&points, CHART_BUCKETS);
    if window.smooth > 0.0 {
        points = smooth_ema(&points, window.smooth);
    }
    // The samples are in x order, so each drawn point's sample is found by binary search.
    let notes = points
        .iter()
        .map(|point| {
            let at = samples.partition_point(|sample| window.x_of(sample) < point.x);
            match samples.get(at) {
                Some(sample) if window.by_time => format!("step {}", sample.step),
                Some(sample) => format_utc(sample.timestamp),
                None => String::new(),
            }
        })
        .collect();
    Ok((Series { label: run.info.run_name.clone(), points, notes }, view.total))
}

async fn metric_chart(
    service: &Service,
    browser: &Browser,
    workspace: &WorkspaceName,
    run: &Run,
    key: &str,
    query: &RunQuery,
) -> Result<Chart, Error> {
    let window = ChartWindow {
        by_time: query.x == "time",
        origin: run.info.start_time.unwrap_or(0),
        zoom: zoom_of(&query.xmin, &query.xmax),
        smooth: query.smooth.unwrap_or(0.0).clamp(0.0, 0.99),
    };
    let (series, points) = chart_series(service, &browser.session.principal, workspace, run, key, &window).await?;
    let none_in_zoom = window.zoom.is_some() && series.points.is_empty();
    let chart = LineChart {
        title: key.to_owned(),
        x_label: if window.by_time { "seconds".to_owned() } else { "step".to_owned() },
        y_label: key.to_owned(),
        y_scale: if query.log.is_some() { Scale::Log } else { Scale::Linear },
        series: vec![series],
        width: 560,
        height: 300,
    };
    Ok(Chart { key: key.to_owned(), svg: render_line_chart(&chart), points, none_in_zoom })
}

pub(crate) async fn run(
    State(state): State<AppState>,
    browser: Browser,
    Path((ws, run_id)): Path<(String, String)>,
    Query(query): Query<RunQuery>,
) -> Response {
    let principal = &browser.session.principal;
    let workspace = match WorkspaceName::parse(&ws) {
        Ok(workspace) => workspace,
        Err(error) => return error_page(&browser, Error::not_found(error.message)),
    };
    let loaded = async {
        let run = state.service.get_run(principal, &workspace, &run_id).await?;
        let experiment =
            state.service.get_experiment(principal, &workspace, &run.info.experiment_id.to_string()).await?;
        let children = RunSearch {
            experiment_ids: vec![run.info.experiment_id.to_string()],
            filter: Some(format!("tags.`{PARENT_RUN_ID_TAG}` = '{}'", run.info.run_id)),
            max_results: Some(100),
            ..RunSearch::default()
        };
        let children = state.service.search_runs(principal, &workspace, &children).await?.items;
        let mut charts = Vec::new();
        let mut keys: Vec<&str> = run.metrics.iter().map(|metric| metric.key.as_str()).collect();
        keys.sort_unstable();
        for key in keys {
            charts.push(metric_chart(&state.service, &browser, &workspace, &run, key, &query).await?);
        }
        let folder = atelier_core::limits::normalize_artifact_path(&query.path)?;
        let listed = Service::artifact_path_under(&run.info.artifact_uri, &folder)?;
        let artifacts = state.service.list_artifacts(principal, &workspace, &listed).await?;
        let preview = if query.preview.is_empty() {
            None
        } else {
            let relative = atelier_core::limits::normalize_artifact_path(&query.preview)?;
            let file = Service::artifact_path_under(&run.info.artifact_uri, &relative)?;
            let (bytes, size) = state.service.read_artifact_prefix(principal, &workspace, &file, PREVIEW_BYTES).await?;
            Some(preview_of(workspace.as_str(), run.info.run_id.as_str(), &relative, bytes, size))
        };
        Ok::<_, Error>((run, experiment, children, charts, folder, artifacts, preview))
    }
    .await;
    let (run, experiment, children, charts, folder, artifacts, preview) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return error_page(&browser, error),
    };
    let info = &run.info;
    let tag = |key: &str| run.tags.iter().find(|tag| tag.key == key).map(|tag| tag.value.clone());
    let page = RunPage {
        layout: Layout::for_browser(
            &browser,
            vec![
                crumb(workspace.to_string(), format!("/w/{workspace}")),
                crumb(experiment.name.clone(), format!("/w/{workspace}/experiments/{}", experiment.experiment_id)),
                crumb(info.run_name.clone(), format!("/w/{workspace}/runs/{}", info.run_id)),
            ],
        ),
        workspace: workspace.to_string(),
        id: info.run_id.to_string(),
        name: info.run_name.clone(),
        status: info.status.as_str(),
        experiment_id: experiment.experiment_id,
        experiment_name: experiment.name.clone(),
        start: when(info.start_time),
        end: when(info.end_time),
        duration: format_duration(info.start_time, info.end_time),
        user: info.user_id.clone(),
        artifact_uri: info.artifact_uri.clone(),
        parent: tag(PARENT_RUN_ID_TAG),
        children: children.iter().map(|child| (child.info.run_id.to_string(), child.info.run_name.clone())).collect(),
        params: run.params.iter().map(|param| (param.key.clone(), param.value.clone())).collect(),
        tags: run.tags.iter().map(|tag| (tag.key.clone(), tag.value.clone())).collect(),
        inputs: run
            .inputs
            .iter()
            .map(|input| {
                let context = input
                    .tags
                    .iter()
                    .find(|tag| tag.key == "mlflow.data.context")
                    .map(|tag| tag.value.clone())
                    .unwrap_or_default();
                (input.dataset.name.clone(), input.dataset.digest.clone(), context, input.dataset.source_type.clone())
            })
            .collect(),
        charts,
        x_axis: if query.x == "time" { "time".to_owned() } else { "step".to_owned() },
        smooth: format!("{:.2}", query.smooth.unwrap_or(0.0).clamp(0.0, 0.99)),
        log_scale: query.log.is_some(),
        zoom: zoom_of(&query.xmin, &query.xmax).map(|(low, high)| (low.to_string(), high.to_string())),
        zoom_reset: format!(
            "?x={}&smooth={:.2}{}",
            if query.x == "time" { "time" } else { "step" },
            query.smooth.unwrap_or(0.0).clamp(0.0, 0.99),
            if query.log.is_some() { "&log=1" } else { "" }
        ),
        live: info.status == RunStatus::Running,
        artifact_parent: folder.rsplit_once('/').map(|(parent, _)| parent.to_owned()).unwrap_or_default(),
        artifacts: artifacts
            .into_iter()
            .map(|entry| ArtifactRow {
                path: if folder.is_empty() { entry.name.clone() } else { format!("{folder}/{}", entry.name) },
                name: entry.name,
                is_dir: entry.is_dir,
                size: entry.size.map(|size| size.to_string()).unwrap_or_default(),
            })
            .collect(),
        artifact_path: folder,
        preview,
    };
    render(page, StatusCode::OK)
}

/// Downloads one artifact file of a run, for the signed-in browser.
#[derive(Deserialize, Default)]
pub(crate) struct ArtifactQuery {
    #[serde(default)]
    inline: Option<String>,
}

pub(crate) async fn artifact(
    State(state): State<AppState>,
    browser: Browser,
    Path((ws, run_id, path)): Path<(String, String, String)>,
    Query(query): Query<ArtifactQuery>,
) -> Response {
    let principal = &browser.session.principal;
    let result = async {
        let workspace = WorkspaceName::parse(&ws).map_err(|error| Error::not_found(error.message))?;
        let (_, file) = state
            .service
            .run_artifact_path(principal, &workspace, &run_id, &path, atelier_core::authz::Action::WorkspaceRead)
            .await?;
        state.service.download_artifact(principal, &workspace, &file).await
    }
    .await;
    match result {
        // Only known image types are shown inline; everything else is a download.
        Ok(download) => file_response(download, &path, query.inline.as_ref().and(inline_image_type(&path))),
        Err(error) => error_page(&browser, error),
    }
}

/// A stored file as a response: shown inline only when `inline_type` names a known image type,
/// a download otherwise, so that nothing a user uploaded runs as a page of this site.
pub(super) fn file_response(
    download: atelier_blob::Download,
    path: &str,
    inline_type: Option<&'static str>,
) -> Response {
    let file_name = path.rsplit('/').next().unwrap_or("file").replace('"', "");
    let body = axum::body::Body::from_stream(download.stream.map_err(std::io::Error::other));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(download.size));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let (content_type, disposition) = match inline_type {
        Some(image_type) => (image_type, "inline"),
        None => ("application/octet-stream", "attachment"),
    };
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!("{disposition}; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

// Experiment actions (rename, delete, restore) and members.

#[derive(Deserialize)]
pub(crate) struct ExperimentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

/// After a form: back to the workspace page, with the error (if any) shown there.
fn back_to_workspace(ws: &str, outcome: Result<(), Error>, view: &str) -> Response {
    let mut target = format!("/w/{}", urlencode(ws));
    let mut separator = '?';
    if !view.is_empty() {
        target.push_str(&format!("{separator}view={view}"));
        separator = '&';
    }
    if let Err(error) = outcome {
        target.push_str(&format!("{separator}error={}", urlencode(&error.message)));
    }
    Redirect::to(&target).into_response()
}

pub(crate) async fn experiment_action(
    State(state): State<AppState>,
    browser: Browser,
    Path((ws, id, action)): Path<(String, String, String)>,
    Form(form): Form<ExperimentForm>,
) -> Response {
    if !browser.csrf_matches(&form.csrf) {
        return forged_form();
    }
    let principal = &browser.session.principal;
    let workspace = match WorkspaceName::parse(&ws) {
        Ok(workspace) => workspace,
        Err(error) => return error_page(&browser, Error::not_found(error.message)),
    };
    let outcome = match action.as_str() {
        "rename" => state.service.rename_experiment(principal, &workspace, &id, form.name.trim()).await,
        "delete" => state.service.delete_experiment(principal, &workspace, &id).await,
        "restore" => state.service.restore_experiment(principal, &workspace, &id).await,
        other => Err(Error::not_found(format!("no experiment action '{other}'"))),
    };
    back_to_workspace(&ws, outcome, if action == "restore" { "deleted" } else { "" })
}

#[derive(Template)]
#[template(path = "roles.html")]
struct RolesPage {
    layout: Layout,
    workspace: String,
    members: Vec<(String, &'static str)>,
    can_manage: bool,
    error: Option<String>,
}

pub(crate) async fn roles(
    State(state): State<AppState>,
    browser: Browser,
    Path(ws): Path<String>,
    Query(query): Query<WorkspaceQuery>,
) -> Response {
    let principal = &browser.session.principal;
    let loaded = async {
        let workspace = WorkspaceName::parse(&ws).map_err(|error| Error::not_found(error.message))?;
        let members = state.service.list_roles(principal, &ws).await?;
        let can_manage = state.service.may(principal, &workspace, atelier_core::authz::Action::WorkspaceManage).await;
        Ok::<_, Error>((workspace, members, can_manage))
    }
    .await;
    let (workspace, members, can_manage) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return error_page(&browser, error),
    };
    let page = RolesPage {
        layout: Layout::for_browser(
            &browser,
            vec![
                crumb(workspace.to_string(), format!("/w/{workspace}")),
                crumb("members", format!("/w/{workspace}/roles")),
            ],
        ),
        workspace: workspace.to_string(),
        members: members.into_iter().map(|(user, role)| (user.to_string(), role.as_str())).collect(),
        can_manage,
        error: query.error,
    };
    render(page, StatusCode::OK)
}

#[derive(Deserialize)]
pub(crate) struct RoleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    role: String,
}

fn back_to_roles(ws: &str, outcome: Result<(), Error>) -> Response {
    let mut target = format!("/w/{}/roles", urlencode(ws));
    if let Err(error) = outcome {
        target.push_str(&format!("?error={}", urlencode(&error.message)));
    }
    Redirect::to(&target).into_response()
}

pub(crate) async fn assign_role(
    State(state): State<AppState>,
    browser: Browser,
    Path(ws): Path<String>,
    Form(form): Form<RoleForm>,
) -> Response {
    if !browser.csrf_matches(&form.csrf) {
        return forged_form();
    }
    let outcome = state.service.assign_role(&browser.session.principal, &ws, form.user.trim(), &form.role).await;
    back_to_roles(&ws, outcome)
}

pub(crate) async fn remove_role(
    State(state): State<AppState>,
    browser: Browser,
    Path((ws, user)): Path<(String, String)>,
    Form(form): Form<RoleForm>,
) -> Response {
    if !browser.csrf_matches(&form.csrf) {
        return forged_form();
    }
    let outcome = state.service.remove_role(&browser.session.principal, &ws, &user).await;
    back_to_roles(&ws, outcome)
}

// Comparing runs.

/// The most runs one comparison shows.
const MAX_COMPARED_RUNS: usize = 10;

struct ParamRow {
    key: String,
    values: Vec<String>,
    differs: bool,
}

#[derive(Template)]
#[template(path = "compare.html")]
struct ComparePage {
    layout: Layout,
    workspace: String,
    runs: Vec<(String, String)>,
    error: Option<String>,
    charts: Vec<(String, String)>,
    params: Vec<ParamRow>,
    metric_keys: Vec<String>,
    metric: String,
    parallel: String,
    zoom: Option<(String, String)>,
    zoom_reset: String,
}

#[derive(Deserialize)]
pub(crate) struct CompareQuery {
    #[serde(default, deserialize_with = "crate::wire::string_list")]
    runs: Vec<String>,
    #[serde(default)]
    metric: Option<String>,
    #[serde(default)]
    xmin: Option<String>,
    #[serde(default)]
    xmax: Option<String>,
}

pub(crate) async fn compare(
    State(state): State<AppState>,
    browser: Browser,
    Path(ws): Path<String>,
    crate::wire::MultiQuery(query): crate::wire::MultiQuery<CompareQuery>,
) -> Response {
    let principal = &browser.session.principal;
    let mut run_ids = query.runs.clone();
    run_ids.dedup();
    let loaded = async {
        let workspace = WorkspaceName::parse(&ws).map_err(|error| Error::not_found(error.message))?;
        if run_ids.len() < 2 {
            return Err(Error::invalid("select two or more runs to compare"));
        }
        if run_ids.len() > MAX_COMPARED_RUNS {
            return Err(Error::invalid(format!(
                "compare at most {MAX_COMPARED_RUNS} runs at a time; {} were selected",
                run_ids.len()
            )));
        }
        let mut runs = Vec::with_capacity(run_ids.len());
        for run_id in &run_ids {
            runs.push(state.service.get_run(principal, &workspace, run_id).await?);
        }
        // Runs started at different times: the compare charts share the step axis.
        let window = ChartWindow { by_time: false, origin: 0, zoom: zoom_of(&query.xmin, &query.xmax), smooth: 0.0 };
        let keys: Vec<String> = runs
            .iter()
            .flat_map(|run| run.metrics.iter().map(|metric| metric.key.clone()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut charts = Vec::with_capacity(keys.len());
        for key in &keys {
            let mut series = Vec::with_capacity(runs.len());
            for run in &runs {
                let (drawn, _) = chart_series(&state.service, principal, &workspace, run, key, &window).await?;
                series.push(drawn);
            }
            let chart = LineChart {
                title: key.clone(),
                x_label: "step".to_owned(),
                y_label: key.clone(),
                y_scale: Scale::Linear,
                series,
                width: 560,
                height: 320,
            };
            charts.push((key.clone(), render_line_chart(&chart)));
        }
        Ok::<_, Error>((workspace, runs, keys, charts))
    }
    .await;
    let (workspace, runs, metric_keys, charts) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return error_page(&browser, error),
    };
    let param_keys: Vec<String> = runs
        .iter()
        .flat_map(|run| run.params.iter().map(|param| param.key.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let param_value =
        |run: &Run, key: &str| run.params.iter().find(|param| param.key == key).map(|param| param.value.clone());
    let params = param_keys
        .iter()
        .map(|key| {
            let values: Vec<Option<String>> = runs.iter().map(|run| param_value(run, key)).collect();
            let differs = values.windows(2).any(|pair| pair[0] != pair[1]);
            ParamRow { key: key.clone(), values: values.into_iter().map(Option::unwrap_or_default).collect(), differs }
        })
        .collect();
    let metric = query
        .metric
        .filter(|metric| metric_keys.contains(metric))
        .or_else(|| metric_keys.first().cloned())
        .unwrap_or_default();
    let mut axes: Vec<ParallelAxis> = param_keys
        .iter()
        .map(|key| ParallelAxis {
            label: key.clone(),
            values: runs
                .iter()
                .map(|run| match param_value(run, key) {
                    None => AxisValue::Missing,
                    Some(text) => text.parse::<f64>().map(AxisValue::Number).unwrap_or(AxisValue::Text(text)),
                })
                .collect(),
        })
        .collect();
    axes.push(ParallelAxis {
        label: metric.clone(),
        values: runs
            .iter()
            .map(|run| {
                run.metrics.iter().find(|m| m.key == metric).map_or(AxisValue::Missing, |m| AxisValue::Number(m.value))
            })
            .collect(),
    });
    let color_by = axes.len() - 1;
    let parallel = render_parallel_coordinates(&ParallelCoordinates {
        axes,
        run_labels: runs.iter().map(|run| run.info.run_name.clone()).collect(),
        color_by,
        width: 1100,
        height: 360,
    });
    let page = ComparePage {
        layout: Layout::for_browser(
            &browser,
            vec![crumb(workspace.to_string(), format!("/w/{workspace}")), crumb("compare", "")],
        ),
        workspace: workspace.to_string(),
        runs: runs.iter().map(|run| (run.info.run_id.to_string(), run.info.run_name.clone())).collect(),
        error: None,
        charts,
        params,
        zoom: zoom_of(&query.xmin, &query.xmax).map(|(low, high)| (low.to_string(), high.to_string())),
        zoom_reset: format!(
            "?{}&metric={}",
            runs.iter().map(|run| format!("runs={}", run.info.run_id)).collect::<Vec<_>>().join("&"),
            urlencode(&metric)
        ),
        metric_keys,
        metric,
        parallel,
    };
    render(page, StatusCode::OK)
}

// Folder downloads: a tar stream written as the files are read.

#[derive(Deserialize, Default)]
pub(crate) struct FolderQuery {
    #[serde(default)]
    path: String,
}

const TAR_BLOCK: usize = 512;

fn padding(size: u64) -> bytes::Bytes {
    let rest = (size % TAR_BLOCK as u64) as usize;
    bytes::Bytes::from(if rest == 0 { Vec::new() } else { vec![0u8; TAR_BLOCK - rest] })
}

/// The tar header block(s) of one file: a GNU long-name entry first when the name does not fit.
fn tar_headers(name: &str, size: u64, mtime: u64) -> Result<Vec<u8>, Error> {
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

/// Downloads a folder of a run's artifacts (the whole run with an empty path) as a tar file.
pub(crate) async fn folder_download(
    State(state): State<AppState>,
    browser: Browser,
    Path((ws, run_id)): Path<(String, String)>,
    Query(query): Query<FolderQuery>,
) -> Response {
    let principal = browser.session.principal.clone();
    let listed = async {
        let workspace = WorkspaceName::parse(&ws).map_err(|error| Error::not_found(error.message))?;
        let folder = atelier_core::limits::normalize_artifact_path(&query.path)?;
        let (run, base) = state
            .service
            .run_artifact_path(&principal, &workspace, &run_id, &folder, atelier_core::authz::Action::WorkspaceRead)
            .await?;
        let files = state.service.list_artifact_files(&principal, &workspace, &base).await?;
        let mut entries = Vec::with_capacity(files.len());
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        for (relative, size) in files {
            entries.push((tar_headers(&relative, size, now)?, format!("{base}/{relative}"), size));
        }
        let name = if folder.is_empty() {
            format!("{}-artifacts", run.run_name)
        } else {
            folder.rsplit('/').next().unwrap_or("artifacts").to_owned()
        };
        Ok::<_, Error>((workspace, entries, name))
    }
    .await;
    let (workspace, entries, name) = match listed {
        Ok(listed) => listed,
        Err(error) => return error_page(&browser, error),
    };
    let service = state.service.clone();
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
            let parts = futures::stream::once(async move { Ok(bytes::Bytes::from(headers)) })
                .chain(body)
                .chain(futures::stream::once(async move { Ok(padding(size)) }));
            Ok::<_, std::io::Error>(parts)
        }
    });
    let end = futures::stream::once(async { Ok::<_, std::io::Error>(bytes::Bytes::from(vec![0u8; 2 * TAR_BLOCK])) });
    let body = axum::body::Body::from_stream(files.try_flatten().chain(end));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-tar"));
    let file_name = name.replace(['"', '/', '\\'], "_");
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}.tar\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_keep_quoted_commas_and_quotes() {
        let rows = parse_csv("a,b\n\"x, y\",\"say \"\"hi\"\"\"\r\n3,4", ',', 10);
        assert_eq!(rows, vec![vec!["a", "b"], vec!["x, y", "say \"hi\""], vec!["3", "4"]]);
        assert_eq!(parse_csv("1\n2\n3\n4\n", ',', 2).len(), 3, "reading stops after the header and max rows");
    }

    #[test]
    fn previews_by_kind() {
        let json = preview_of("ws", "r", "dir/config.json", br#"{"a":1}"#.to_vec(), 7);
        assert_eq!((json.kind, json.text.contains("\"a\": 1")), ("text", true));
        let table = preview_of("ws", "r", "m.csv", b"step,loss\n0,1.5\n".to_vec(), 16);
        assert_eq!(
            (table.kind, table.header.clone(), table.rows.len()),
            ("table", vec!["step".to_owned(), "loss".to_owned()], 1)
        );
        let image = preview_of("ws", "r", "plots/roc.png", vec![0x89, b'P'], 2);
        assert_eq!((image.kind, image.image_src.as_str()), ("image", "/w/ws/runs/r/artifacts/plots/roc.png?inline=1"));
        let binary = preview_of("ws", "r", "model.bin", vec![0xff, 0xfe, 0x00], 3);
        assert_eq!(binary.kind, "none");
        let svg = preview_of("ws", "r", "chart.svg", b"<svg/>".to_vec(), 6);
        assert_eq!(svg.kind, "text", "SVG is shown as text, never rendered inline");
        let cut = preview_of("ws", "r", "log.txt", b"abc".to_vec(), 1_000_000);
        assert!(cut.note.contains("first"), "{}", cut.note);
    }
}

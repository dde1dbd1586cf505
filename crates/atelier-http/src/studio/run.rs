//! A run's page: its charts (zoomed, smoothed, on steps or time), params, tags and artifacts.

use super::artifacts::*;
use super::common::*;
use super::session::{Browser, Layout, render};
use crate::AppState;
use askama::Template;
use atelier_charts::{LineChart, Point, Scale, Series, downsample_envelope, render_line_chart, smooth_ema};
use atelier_core::Error;
use atelier_core::model::{PARENT_RUN_ID_TAG, Run, RunStatus};
use atelier_core::names::WorkspaceName;
use atelier_core::series::{Axis, Range as SampleRange, Sample};
use atelier_core::time::{format_duration, format_utc};
use atelier_service::{Principal, RunSearch, Service};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

/// Buckets of the min/max envelope a chart is drawn from.
pub(super) const CHART_BUCKETS: usize = 500;

// A run.

pub(super) struct Chart {
    key: String,
    svg: String,
    /// How many points the series has in all.
    points: u64,
    /// Whether a zoom left none of them to draw.
    none_in_zoom: bool,
}

pub(super) struct ArtifactRow {
    name: String,
    path: String,
    is_dir: bool,
    size: String,
}

#[derive(Template)]
#[template(path = "run.html")]
pub(super) struct RunPage {
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
    /// Metrics with a single value, and that value.
    values: Vec<(String, String)>,
    /// Metrics with a series of values, each a chart.
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

/// The zoomed x range of a page's charts, from its `xmin` and `xmax` (in steps, or in seconds
/// since the run started); anything but two finite numbers in order means no zoom.
pub(super) fn zoom_of(low: &Option<String>, high: &Option<String>) -> Option<(f64, f64)> {
    let parse = |text: &Option<String>| text.as_deref().and_then(|text| text.trim().parse::<f64>().ok());
    match (parse(low), parse(high)) {
        (Some(low), Some(high)) if low.is_finite() && high.is_finite() && low < high => Some((low, high)),
        _ => None,
    }
}

/// How a page draws metric series: on steps or on seconds since `origin`, zoomed or whole,
/// smoothed or not.
pub(super) struct ChartWindow {
    pub(super) by_time: bool,
    /// Milliseconds since the Unix epoch that the time axis counts from (the run's start).
    pub(super) origin: i64,
    pub(super) zoom: Option<(f64, f64)>,
    pub(super) smooth: f64,
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
pub(super) async fn chart_series(
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

pub(super) async fn metric_chart(
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
    let workspace = match crate::wire::workspace_in_path(&ws) {
        Ok(workspace) => workspace,
        Err(error) => return error_page(&browser, error),
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
        // A metric with one value (accuracy, f1) is a value, not a chart; a series is a chart.
        let mut charts = Vec::new();
        let mut values = Vec::new();
        let mut metrics: Vec<(&str, f64)> =
            run.metrics.iter().map(|metric| (metric.key.as_str(), metric.value)).collect();
        metrics.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (key, latest) in metrics {
            let chart = metric_chart(&state.service, &browser, &workspace, &run, key, &query).await?;
            if chart.points == 1 {
                values.push((key.to_owned(), metric_text(latest)));
            } else {
                charts.push(chart);
            }
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
        Ok::<_, Error>((run, experiment, children, (charts, values), folder, artifacts, preview))
    }
    .await;
    let (run, experiment, children, (charts, values), folder, artifacts, preview) = match loaded {
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
                (
                    input.dataset.name.clone(),
                    input.dataset.digest.clone(),
                    dataset_context(input),
                    input.dataset.source_type.clone(),
                )
            })
            .collect(),
        values,
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

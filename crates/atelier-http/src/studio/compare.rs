//! Comparing runs: their params side by side, charts overlaid and a parallel-coordinates plot.

use super::common::*;
use super::run::*;
use super::session::{Browser, Layout, render, urlencode};
use crate::AppState;
use askama::Template;
use atelier_charts::{
    AxisValue, LineChart, ParallelAxis, ParallelCoordinates, Scale, render_line_chart, render_parallel_coordinates,
};
use atelier_core::Error;
use atelier_core::model::Run;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use std::collections::BTreeSet;

// Comparing runs.

/// The most runs one comparison shows.
pub(super) const MAX_COMPARED_RUNS: usize = 10;

pub(super) struct ParamRow {
    key: String,
    values: Vec<String>,
    differs: bool,
}

/// One single-value metric across the compared runs.
pub(super) struct ValueBars {
    key: String,
    /// Each run's name, its value as text (empty where it has none), and its bar's length in
    /// percent of the largest magnitude.
    rows: Vec<(String, String, u32)>,
}

fn value_bars(key: &str, runs: &[Run]) -> ValueBars {
    let values: Vec<Option<f64>> =
        runs.iter().map(|run| run.metrics.iter().find(|metric| metric.key == key).map(|metric| metric.value)).collect();
    let largest =
        values.iter().flatten().filter(|value| value.is_finite()).fold(0.0_f64, |most, value| most.max(value.abs()));
    let rows = runs
        .iter()
        .zip(values)
        .map(|(run, value)| {
            let length = match value {
                Some(value) if largest > 0.0 && value.is_finite() => (value.abs() / largest * 100.0).round() as u32,
                _ => 0,
            };
            (run.info.run_name.clone(), value.map(metric_text).unwrap_or_default(), length)
        })
        .collect();
    ValueBars { key: key.to_owned(), rows }
}

#[derive(Template)]
#[template(path = "compare.html")]
pub(super) struct ComparePage {
    layout: Layout,
    workspace: String,
    runs: Vec<(String, String)>,
    error: Option<String>,
    charts: Vec<(String, String)>,
    /// Metrics each run logged once: a bar per run.
    bars: Vec<ValueBars>,
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
        let workspace = crate::wire::workspace_in_path(&ws)?;
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
        let mut bars = Vec::new();
        for key in &keys {
            let mut series = Vec::with_capacity(runs.len());
            let mut most_points = 0;
            for run in &runs {
                let (drawn, points) = chart_series(&state.service, principal, &workspace, run, key, &window).await?;
                most_points = most_points.max(points);
                series.push(drawn);
            }
            // A metric that each run logged once (accuracy, f1) is a bar per run, not a chart.
            if most_points <= 1 {
                bars.push(value_bars(key, &runs));
                continue;
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
        Ok::<_, Error>((workspace, runs, keys, charts, bars))
    }
    .await;
    let (workspace, runs, metric_keys, charts, bars) = match loaded {
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
        bars,
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

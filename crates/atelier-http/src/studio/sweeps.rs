//! The sweep part of a job's page: the trials table (sortable, filterable by status), the
//! objective over trials with the best so far, a parallel-coordinates plot of values →
//! objective, and the primary metric's curves of the best trials. Refreshed live while the
//! sweep runs.

use super::jobs::duration;
use atelier_charts::{
    AxisValue, LineChart, ParallelAxis, ParallelCoordinates, Point, Scale, Series, downsample_envelope, format_number,
    render_line_chart, render_parallel_coordinates,
};
use atelier_core::Error;
use atelier_core::job::{Job, JobStatus};
use atelier_core::names::WorkspaceName;
use atelier_core::sweep::Goal;
use atelier_service::{Principal, Service, TrialView};
use serde::Deserialize;

/// How many of the best trials' curves are drawn.
const TOP_CURVES: usize = 5;

/// The trials table's order and filter, from the page's query.
#[derive(Deserialize, Default)]
pub(crate) struct TrialsQuery {
    /// `index` (the default), `status`, `objective`, `duration` or a hyperparameter's name.
    #[serde(default)]
    sort: String,
    #[serde(default)]
    desc: bool,
    /// Only trials in this status.
    #[serde(default)]
    trial_status: String,
}

pub(crate) struct TrialRow {
    pub index: String,
    pub name: String,
    pub status: &'static str,
    pub values: Vec<String>,
    pub objective: String,
    pub duration: String,
    /// Why an early-terminated (or otherwise stopped) trial ended.
    pub note: String,
    pub best: bool,
}

/// A sortable column: its label and the link that sorts by it.
pub(crate) struct Column {
    pub label: String,
    pub link: String,
    /// `▲` or `▼` on the column the table is sorted by.
    pub arrow: &'static str,
}

pub(crate) struct SweepSection {
    pub primary_metric: String,
    pub goal: &'static str,
    pub sampling: String,
    pub policy: String,
    pub started: usize,
    pub max_total: u32,
    pub max_concurrent: u32,
    pub best: Option<(String, String)>,
    pub columns: Vec<Column>,
    pub rows: Vec<TrialRow>,
    pub statuses: Vec<&'static str>,
    pub trial_status: String,
    pub progress_chart: String,
    pub parallel_chart: String,
    pub curves_chart: String,
}

fn trial_duration(job: &Job) -> Option<i64> {
    let start = job.time_of(JobStatus::Running)?;
    let end = job
        .events
        .iter()
        .find(|event| event.status.is_terminal())
        .map_or_else(atelier_service::now_millis, |event| event.time);
    Some(end - start)
}

/// Why a trial that did not complete ended: its cancel request's or its end's message.
fn trial_note(job: &Job) -> String {
    if job.status == JobStatus::Completed {
        return String::new();
    }
    let message = |event: &atelier_core::job::JobEvent| event.message.clone().filter(|message| !message.is_empty());
    job.events
        .iter()
        .find(|event| event.status == JobStatus::CancelRequested)
        .and_then(message)
        .or_else(|| job.events.iter().rev().find_map(message))
        .unwrap_or_default()
}

pub(crate) async fn sweep_section(
    service: &Service,
    principal: &Principal,
    workspace: &WorkspaceName,
    sweep: &Job,
    query: &TrialsQuery,
) -> Result<SweepSection, Error> {
    let view = service.get_sweep(principal, workspace, &sweep.name).await?;
    let settings = &view.settings;
    let names: Vec<String> = settings.search_space.keys().cloned().collect();
    let best_name = view.best_trial().map(|best| best.job.name.clone());

    // Charts over every trial, in index order.
    let by_index: Vec<&TrialView> = view.trials.iter().collect();
    let mut objective_points = Vec::new();
    let mut best_points = Vec::new();
    let mut best_so_far: Option<f64> = None;
    for trial in &by_index {
        let x = trial.job.trial.unwrap_or(0) as f64;
        if let Some(value) = trial.objective {
            objective_points.push(Point::new(x, value));
            if best_so_far.is_none_or(|best| settings.goal.is_better(value, best)) {
                best_so_far = Some(value);
            }
        }
        if let Some(best) = best_so_far {
            best_points.push(Point::new(x, best));
        }
    }
    let progress_chart = render_line_chart(&LineChart {
        title: format!("{} by trial", settings.primary_metric),
        x_label: "trial".to_owned(),
        y_label: settings.primary_metric.clone(),
        y_scale: Scale::Linear,
        series: vec![
            Series { label: "trial".to_owned(), points: objective_points, notes: Vec::new() },
            Series { label: "best so far".to_owned(), points: best_points, notes: Vec::new() },
        ],
        width: 540,
        height: 300,
    });
    let mut axes: Vec<ParallelAxis> = names
        .iter()
        .map(|name| ParallelAxis {
            label: name.clone(),
            values: by_index
                .iter()
                .map(|trial| match trial.values.get(name) {
                    None => AxisValue::Missing,
                    Some(text) => match text.parse::<f64>() {
                        Ok(number) => AxisValue::Number(number),
                        Err(_) => AxisValue::Text(text.clone()),
                    },
                })
                .collect(),
        })
        .collect();
    axes.push(ParallelAxis {
        label: settings.primary_metric.clone(),
        values: by_index.iter().map(|trial| trial.objective.map_or(AxisValue::Missing, AxisValue::Number)).collect(),
    });
    let parallel_chart = render_parallel_coordinates(&ParallelCoordinates {
        color_by: axes.len() - 1,
        axes,
        run_labels: by_index.iter().map(|trial| trial.job.name.clone()).collect(),
        width: 540,
        height: 300,
    });

    // The best trials' curves.
    let mut ranked: Vec<&TrialView> = view.trials.iter().filter(|trial| trial.objective.is_some()).collect();
    ranked.sort_by(|a, b| order(settings.goal, a.objective, b.objective));
    let mut curves = Vec::new();
    for trial in ranked.iter().take(TOP_CURVES) {
        let metric = service.metric_view(principal, workspace, &trial.job.name, &settings.primary_metric, None).await?;
        let points: Vec<Point> =
            metric.samples.iter().map(|sample| Point::new(sample.step as f64, sample.value)).collect();
        curves.push(Series {
            label: trial.job.name.clone(),
            points: downsample_envelope(&points, 1000),
            notes: Vec::new(),
        });
    }
    let curves_chart = render_line_chart(&LineChart {
        title: format!("{} of the best {} trials", settings.primary_metric, curves.len()),
        x_label: "step".to_owned(),
        y_label: settings.primary_metric.clone(),
        y_scale: Scale::Linear,
        series: curves,
        width: 1100,
        height: 320,
    });

    // The table, filtered and sorted as asked.
    let mut shown: Vec<&TrialView> = view
        .trials
        .iter()
        .filter(|trial| query.trial_status.is_empty() || trial.job.status.as_str() == query.trial_status)
        .collect();
    shown.sort_by(|a, b| {
        let ordering = match query.sort.as_str() {
            "" | "index" => a.job.trial.cmp(&b.job.trial),
            "status" => a.job.status.cmp(&b.job.status),
            "objective" => order(Goal::Minimize, a.objective, b.objective),
            "duration" => trial_duration(&a.job).cmp(&trial_duration(&b.job)),
            name => {
                let key =
                    |trial: &TrialView| trial.values.get(name).map(|text| (text.parse::<f64>().ok(), text.clone()));
                key(a).partial_cmp(&key(b)).unwrap_or(std::cmp::Ordering::Equal)
            }
        };
        if query.desc { ordering.reverse() } else { ordering }
    });
    let sort_link = |key: &str| {
        let desc = query.sort == key && !query.desc;
        let mut link = format!("?sort={}&desc={desc}", super::session::urlencode(key));
        if !query.trial_status.is_empty() {
            link.push_str(&format!("&trial_status={}", super::session::urlencode(&query.trial_status)));
        }
        link
    };
    let arrow = |key: &str| match (query.sort == key || (key == "index" && query.sort.is_empty()), query.desc) {
        (true, false) => "▲",
        (true, true) => "▼",
        (false, _) => "",
    };
    let mut columns = vec![
        Column { label: "trial".to_owned(), link: sort_link("index"), arrow: arrow("index") },
        Column { label: "status".to_owned(), link: sort_link("status"), arrow: arrow("status") },
    ];
    for name in &names {
        columns.push(Column { label: name.clone(), link: sort_link(name), arrow: arrow(name) });
    }
    columns.push(Column {
        label: settings.primary_metric.clone(),
        link: sort_link("objective"),
        arrow: arrow("objective"),
    });
    columns.push(Column { label: "duration".to_owned(), link: sort_link("duration"), arrow: arrow("duration") });
    let rows = shown
        .into_iter()
        .map(|trial| TrialRow {
            index: trial.job.trial.map(|index| index.to_string()).unwrap_or_default(),
            name: trial.job.name.clone(),
            status: trial.job.status.as_str(),
            values: names.iter().map(|name| trial.values.get(name).cloned().unwrap_or_default()).collect(),
            objective: trial.objective.map(format_number).unwrap_or_default(),
            duration: trial_duration(&trial.job).map(duration).unwrap_or_default(),
            note: trial_note(&trial.job),
            best: best_name.as_deref() == Some(trial.job.name.as_str()),
        })
        .collect();
    let sampling = match settings.sampling {
        atelier_spec::sweep::Sampling::Random { sobol: true, .. } => "random (Sobol)".to_owned(),
        atelier_spec::sweep::Sampling::Random { .. } => "random".to_owned(),
        atelier_spec::sweep::Sampling::Grid => "grid".to_owned(),
        atelier_spec::sweep::Sampling::Bayesian => "bayesian (TPE)".to_owned(),
    };
    Ok(SweepSection {
        primary_metric: settings.primary_metric.clone(),
        goal: settings.goal.as_str(),
        sampling,
        policy: settings.early_termination.as_ref().map(|policy| policy.name().to_owned()).unwrap_or_default(),
        started: view.trials.len(),
        max_total: settings.max_total_trials,
        max_concurrent: settings.max_concurrent_trials,
        best: view.best_trial().map(|best| (best.job.name.clone(), format_number(best.objective.unwrap_or(f64::NAN)))),
        columns,
        rows,
        statuses: JobStatus::ALL.iter().map(|status| status.as_str()).collect(),
        trial_status: query.trial_status.clone(),
        progress_chart,
        parallel_chart,
        curves_chart,
    })
}

/// Best first by `goal`; trials without a value last.
fn order(goal: Goal, a: Option<f64>, b: Option<f64>) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Some(a), Some(b)) if goal.is_better(a, b) => Ordering::Less,
        (Some(a), Some(b)) if goal.is_better(b, a) => Ordering::Greater,
        (Some(_), Some(_)) | (None, None) => Ordering::Equal,
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
    }
}

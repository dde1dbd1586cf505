//! Parallel-coordinates plots.

use crate::common::{Document, subpaths};
use atelier_charts::{AxisValue, ParallelAxis, ParallelCoordinates, render_parallel_coordinates};
use proptest::prelude::*;

fn numbers(label: &str, values: &[f64]) -> ParallelAxis {
    ParallelAxis { label: label.to_owned(), values: values.iter().map(|value| AxisValue::Number(*value)).collect() }
}

fn texts(label: &str, values: &[&str]) -> ParallelAxis {
    let values = values
        .iter()
        .map(|value| if value.is_empty() { AxisValue::Missing } else { AxisValue::Text((*value).to_owned()) })
        .collect();
    ParallelAxis { label: label.to_owned(), values }
}

/// A sweep of four runs: learning rate, optimizer, and the loss that colours the lines.
fn sweep() -> ParallelCoordinates {
    ParallelCoordinates {
        axes: vec![
            numbers("learning_rate", &[0.001, 0.01, 0.1, 0.01]),
            texts("optimizer", &["sgd", "adam", "adam", ""]),
            numbers("loss", &[0.9, 0.1, 0.5, 0.3]),
        ],
        run_labels: vec!["run-a".into(), "run-b".into(), "run-c".into(), "run-d".into()],
        color_by: 2,
        width: 800,
        height: 400,
    }
}

fn render(chart: &ParallelCoordinates) -> (String, Document) {
    let svg = render_parallel_coordinates(chart);
    let document = Document::parse(&svg);
    (svg, document)
}

#[test]
fn a_line_per_run_and_an_axis_per_parameter() {
    let (svg, document) = render(&sweep());
    assert!(svg.starts_with("<svg"));
    assert!(document.elements[0].has_class("atelier-chart") && document.elements[0].has_class("parallel-coordinates"));
    let runs = document.with_class("path", "run");
    assert_eq!(runs.len(), 4);
    let titles: Vec<String> = runs.iter().map(|run| document.title_of(run)).collect();
    assert_eq!(titles, ["run-a", "run-b", "run-c", "run-d"]);
    let axes = document.with_class("g", "parallel-axis");
    assert_eq!(axes.len(), 3);
    let labels: Vec<&str> =
        axes.iter().flat_map(|axis| document.children(axis, "text")).map(|text| text.text.as_str()).collect();
    assert_eq!(labels, ["learning_rate", "optimizer", "loss"]);
    assert!(axes[2].has_class("color-axis") && !axes[0].has_class("color-axis"));
}

#[test]
fn the_colour_follows_the_color_by_axis() {
    let (_, document) = render(&sweep());
    let shades: Vec<Vec<&str>> = document
        .with_class("path", "run")
        .iter()
        .map(|run| run.classes().into_iter().filter(|class| class.contains("shade")).collect())
        .collect();
    // Loss 0.9, 0.1, 0.5, 0.3 over [0.1, 0.9]: fractions 1, 0, 0.5, 0.25.
    assert_eq!(shades, [["shade-4"], ["shade-0"], ["shade-2"], ["shade-1"]]);

    let out_of_range = ParallelCoordinates { color_by: 7, ..sweep() };
    let (_, document) = render(&out_of_range);
    assert!(document.with_class("path", "run").iter().all(|run| run.has_class("no-shade")));
}

#[test]
fn a_missing_value_is_skipped() {
    let (_, document) = render(&sweep());
    let runs = document.with_class("path", "run");
    let lengths: Vec<Vec<usize>> =
        runs.iter().map(|run| subpaths(run.attribute("d").unwrap_or("")).iter().map(Vec::len).collect()).collect();
    // run-d has no optimizer: its line goes straight from the first axis to the third.
    assert_eq!(lengths, [vec![3], vec![3], vec![3], vec![2]]);
    let run_d = subpaths(runs[3].attribute("d").unwrap_or(""));
    let run_b = subpaths(runs[1].attribute("d").unwrap_or(""));
    assert_eq!(run_d[0][1].0, run_b[0][2].0, "the line ends on the last axis");
}

#[test]
fn numeric_axes_run_from_min_to_max_and_categories_are_sorted() {
    let (_, document) = render(&sweep());
    let runs = document.with_class("path", "run");
    let points: Vec<Vec<(f64, f64)>> =
        runs.iter().map(|run| subpaths(run.attribute("d").unwrap_or("")).concat()).collect();
    // Learning rate: 0.001 is the bottom, 0.1 the top.
    let (bottom, top) = (points[0][0].1, points[2][0].1);
    assert!(bottom > top);
    // Optimizer: "adam" sorts before "sgd", so it sits at the bottom.
    assert_eq!(points[1][1].1, bottom);
    assert_eq!(points[0][1].1, top);
    let axes = document.with_class("g", "parallel-axis");
    let category_labels: Vec<&str> = document
        .elements
        .iter()
        .filter(|element| element.has_class("tick-label"))
        .filter(|label| {
            label
                .parent
                .and_then(|tick| document.elements[tick].parent)
                .map(|axis| &document.elements[axis])
                .is_some_and(|axis| std::ptr::eq(axis, axes[1]))
        })
        .map(|label| label.text.as_str())
        .collect();
    assert_eq!(category_labels, ["adam", "sgd"]);
}

#[test]
fn mixed_axes_become_categories() {
    let chart = ParallelCoordinates {
        axes: vec![ParallelAxis {
            label: "batch".into(),
            values: vec![AxisValue::Number(32.0), AxisValue::Text("auto".into()), AxisValue::Number(f64::NAN)],
        }],
        run_labels: vec!["a".into(), "b".into(), "c".into()],
        color_by: 0,
        width: 300,
        height: 200,
    };
    let (_, document) = render(&chart);
    let labels: Vec<&str> = document.with_class("text", "tick-label").iter().map(|label| label.text.as_str()).collect();
    assert_eq!(labels, ["32", "auto"]);
    let runs = document.with_class("path", "run");
    assert!(runs[2].has_class("no-shade"), "NaN is missing");
    assert_eq!(runs[2].attribute("d"), Some(""));
}

#[test]
fn user_text_is_escaped_and_long_labels_are_cut() {
    let nasty = "<b>\"&\"</b>";
    let long = "a very long parameter name that cannot fit between two axes";
    let chart = ParallelCoordinates {
        axes: vec![numbers(nasty, &[1.0, 2.0]), texts(long, &[nasty, "x"]), numbers("m", &[1.0, 2.0])],
        run_labels: vec![nasty.into(), "b".into()],
        ..sweep()
    };
    let (svg, document) = render(&chart);
    assert!(!svg.contains("<b>"));
    assert_eq!(document.title_of(document.with_class("path", "run")[0]), nasty);
    let axis_labels = document.with_class("text", "axis-label");
    assert_eq!(axis_labels[0].text, nasty);
    assert!(axis_labels[1].text.ends_with('…') && axis_labels[1].text.len() < long.len());
    assert_eq!(document.title_of(axis_labels[1]), long);
}

#[test]
fn nothing_to_draw_says_no_data() {
    for chart in
        [ParallelCoordinates { axes: vec![], ..sweep() }, ParallelCoordinates { run_labels: vec![], ..sweep() }]
    {
        let (_, document) = render(&chart);
        assert_eq!(document.with_class("text", "no-data").len(), 1);
        assert!(document.with_class("path", "run").is_empty());
    }
}

#[test]
fn many_categories_thin_their_labels() {
    let names: Vec<String> = (0..200).map(|index| format!("c{index:03}")).collect();
    let chart = ParallelCoordinates {
        axes: vec![ParallelAxis {
            label: "seed".into(),
            values: names.iter().map(|name| AxisValue::Text(name.clone())).collect(),
        }],
        run_labels: names.clone(),
        color_by: 0,
        width: 400,
        height: 300,
    };
    let (_, document) = render(&chart);
    let labels = document.with_class("text", "tick-label").len();
    assert!(labels < 30 && labels > 5, "{labels} category labels");
    assert_eq!(document.with_class("path", "run").len(), 200);
}

fn any_value() -> impl Strategy<Value = AxisValue> {
    prop_oneof![
        5 => any::<f64>().prop_map(AxisValue::Number),
        5 => (-1e3..1e3f64).prop_map(AxisValue::Number),
        2 => ".{0,10}".prop_map(AxisValue::Text),
        1 => Just(AxisValue::Missing),
    ]
}

proptest! {
    #[test]
    fn any_plot_is_well_formed(
        axes in prop::collection::vec((".{0,20}", prop::collection::vec(any_value(), 0..12)), 0..6),
        runs in prop::collection::vec(".{0,20}", 0..10),
        color_by in 0usize..8,
        width in 0u32..1500,
        height in 0u32..800,
    ) {
        let axes: Vec<ParallelAxis> = axes.into_iter().map(|(label, values)| ParallelAxis { label, values }).collect();
        let chart = ParallelCoordinates { axes: axes.clone(), run_labels: runs.clone(), color_by, width, height };
        let (_, document) = render(&chart);
        let expected_runs = if axes.is_empty() { 0 } else { runs.len() };
        prop_assert_eq!(document.with_class("path", "run").len(), expected_runs);
        let (view_width, view_height) = (f64::from(width.max(240)), f64::from(height.max(160)));
        for run in document.with_class("path", "run") {
            for (x, y) in subpaths(run.attribute("d").unwrap_or("")).into_iter().flatten() {
                prop_assert!((0.0..=view_width).contains(&x) && (0.0..=view_height).contains(&y));
            }
        }
    }
}

//! Line charts: structure, gaps, escaping, scales, hover points and size.

use crate::common::{Document, noisy_loss, steps, subpaths};
use atelier_charts::{
    LineChart, MAX_HOVER_POINTS, Point, STYLESHEET, Scale, Series, downsample_envelope, render_line_chart,
};
use proptest::prelude::*;

fn series(label: &str, points: Vec<Point>) -> Series {
    Series { label: label.to_owned(), points, notes: Vec::new() }
}

fn chart(series: Vec<Series>) -> LineChart {
    LineChart {
        title: "loss".to_owned(),
        x_label: "step".to_owned(),
        y_label: "value".to_owned(),
        y_scale: Scale::Linear,
        series,
        width: 640,
        height: 320,
    }
}

fn render(chart: &LineChart) -> (String, Document) {
    let svg = render_line_chart(chart);
    let document = Document::parse(&svg);
    (svg, document)
}

/// The subpaths of every series path, in series order.
fn series_subpaths(document: &Document) -> Vec<Vec<Vec<(f64, f64)>>> {
    document.with_class("path", "series").iter().map(|path| subpaths(path.attribute("d").unwrap_or(""))).collect()
}

#[test]
fn one_path_per_series_with_cycling_colour_classes() {
    for count in [1, 2, 3, 10, 12] {
        let all = (0..count).map(|index| series(&format!("run {index}"), steps(&[1.0, 2.0, index as f64]))).collect();
        let (svg, document) = render(&chart(all));
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches(r#"<path class="series"#).count(), count, "{count} series");
        let paths = document.with_class("path", "series");
        for (index, path) in paths.iter().enumerate() {
            assert!(path.has_class(&format!("series-{}", index % 10)), "{:?}", path.classes());
            assert_eq!(path.attribute("data-series"), Some(index.to_string().as_str()));
            assert_eq!(path.attribute("fill"), Some("none"));
            assert_eq!(path.attribute("stroke"), None, "colours come from the page's CSS");
            assert_eq!(document.title_of(path), format!("run {index}"));
        }
        let legend_items = document.with_class("g", "legend-item").len();
        assert_eq!(legend_items, if count > 1 { count } else { 0 }, "legend items for {count} series");
    }
}

#[test]
fn the_root_has_a_view_box_and_the_size() {
    let (_, document) = render(&chart(vec![series("a", steps(&[1.0, 2.0]))]));
    let root = &document.elements[0];
    assert_eq!(root.name, "svg");
    assert_eq!(root.attribute("viewBox"), Some("0 0 640 320"));
    assert_eq!(root.attribute("width"), Some("640"));
    assert!(root.has_class("atelier-chart") && root.has_class("line-chart"));
    // Too small a size is raised to the minimum.
    let tiny = LineChart { width: 10, height: 0, ..chart(vec![series("a", steps(&[1.0, 2.0]))]) };
    let (_, document) = render(&tiny);
    assert_eq!(document.elements[0].attribute("viewBox"), Some("0 0 240 160"));
}

#[test]
fn user_text_is_escaped() {
    let nasty = r#"<script>alert("x") & 'y'</script>"#;
    let chart = LineChart {
        title: nasty.to_owned(),
        x_label: nasty.to_owned(),
        y_label: nasty.to_owned(),
        ..chart(vec![series(nasty, steps(&[1.0, 2.0])), series("a\u{1}b", steps(&[3.0]))])
    };
    let (svg, document) = render(&chart);
    assert!(!svg.contains("<script"), "{svg}");
    assert!(svg.contains("&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"));
    let paths = document.with_class("path", "series");
    assert_eq!(document.title_of(paths[0]), nasty);
    assert_eq!(document.title_of(paths[1]), "a\u{FFFD}b");
    assert_eq!(document.elements[0].attribute("aria-label"), Some(nasty));
    let hover = document.with_class("g", "points");
    let circles = document.children(hover[0], "circle");
    // The x label in hover titles is cut to 24 characters.
    let cut_x_label: String = nasty.chars().take(23).collect();
    assert_eq!(document.title_of(circles[0]), format!("{nasty}\n{cut_x_label}… 0: 1"));
}

fn check_gaps(ys: &[f64], expected_subpath_lengths: &[usize]) {
    let (_, document) = render(&chart(vec![series("a", steps(ys))]));
    let lengths: Vec<usize> = series_subpaths(&document)[0].iter().map(Vec::len).collect();
    assert_eq!(lengths, expected_subpath_lengths, "subpaths of {ys:?}");
}

#[test]
fn nan_breaks_the_line() {
    let nan = f64::NAN;
    check_gaps(&[1.0, 2.0, 3.0], &[3]);
    check_gaps(&[1.0, 2.0, nan, 4.0, 5.0], &[2, 2]);
    check_gaps(&[nan, 1.0, nan, nan, 2.0, 3.0, nan], &[1, 2]);
    check_gaps(&[1.0, nan, 2.0, nan, 3.0], &[1, 1, 1]);
}

#[test]
fn infinities_are_drawn_at_the_edges_and_left_out_of_the_axis() {
    let (_, document) = render(&chart(vec![series("a", steps(&[1.0, f64::INFINITY, 2.0, f64::NEG_INFINITY, 3.0]))]));
    let points = &series_subpaths(&document)[0][0];
    assert_eq!(points.len(), 5);
    let top = points.iter().map(|point| point.1).fold(f64::INFINITY, f64::min);
    let bottom = points.iter().map(|point| point.1).fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(points[1].1, top);
    assert_eq!(points[3].1, bottom);
    // The y ticks span the finite values only.
    let labels = axis_tick_labels(&document, "axis-y");
    assert_eq!(labels.first(), Some(&"1"));
    assert_eq!(labels.last(), Some(&"3"));
    assert!(!labels.iter().any(|label| label.contains("inf")), "{labels:?}");
    let circles = document.elements.iter().filter(|element| element.name == "circle").collect::<Vec<_>>();
    assert_eq!(circles[1].attribute("data-y"), Some("Infinity"));
    assert_eq!(circles[3].attribute("data-y"), Some("-Infinity"));
}

#[test]
fn an_empty_chart_says_no_data() {
    let nan = f64::NAN;
    for (case, all) in [
        ("no series", vec![]),
        ("no points", vec![series("a", vec![]), series("b", vec![])]),
        ("only gaps", vec![series("a", steps(&[nan, nan]))]),
        ("only infinities", vec![series("a", steps(&[f64::INFINITY]))]),
    ] {
        let (svg, document) = render(&chart(all));
        assert!(svg.starts_with("<svg"), "{case}");
        let messages = document.with_class("text", "no-data");
        assert_eq!(messages.len(), 1, "{case}: {svg}");
        assert_eq!(messages[0].text, "no data");
        assert!(document.with_class("path", "series").is_empty(), "{case}");
    }
}

#[test]
fn a_single_point_gets_axes_around_it() {
    let (_, document) = render(&chart(vec![series("a", vec![Point::new(100.0, 0.5)])]));
    let points = &series_subpaths(&document)[0];
    assert_eq!(points.len(), 1);
    assert_eq!(document.elements.iter().filter(|element| element.name == "circle").count(), 1);
    // A lone point is drawn as a dot: a zero-length segment the round line caps make visible.
    let path = document.elements.iter().find(|element| element.name == "path").expect("a series path");
    assert!(path.attributes.iter().any(|(name, value)| name == "d" && value.ends_with("h0")), "{path:?}");
    assert!(document.with_class("text", "tick-label").len() >= 4);
}

#[test]
fn log_scale_uses_decades_and_notes_what_it_left_out() {
    let log_chart = LineChart {
        y_scale: Scale::Log,
        ..chart(vec![series("a", steps(&[-1.0, 0.0, 1.0, 10.0, 100.0])), series("b", steps(&[0.5, 50.0]))])
    };
    let (_, document) = render(&log_chart);
    let y_labels: Vec<&str> = axis_tick_labels(&document, "axis-y");
    assert_eq!(y_labels, ["0.1", "1", "10", "100"]);
    let notes = document.with_class("text", "note");
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].text, "2 non-positive values left out (log scale)");
    let subpaths_of_a = &series_subpaths(&document)[0];
    assert_eq!(subpaths_of_a.len(), 1, "the left-out values start the line later");
    assert_eq!(subpaths_of_a[0].len(), 3);
    // Decades are evenly spaced.
    let ys: Vec<f64> = subpaths_of_a[0].iter().map(|point| point.1).collect();
    assert!(((ys[0] - ys[1]) - (ys[1] - ys[2])).abs() <= 0.2, "{ys:?}");

    let only_negative = LineChart { y_scale: Scale::Log, ..chart(vec![series("a", steps(&[-1.0, -2.0]))]) };
    let (_, document) = render(&only_negative);
    assert_eq!(document.with_class("text", "no-data").len(), 1);
    assert_eq!(document.with_class("text", "note")[0].text, "2 non-positive values left out (log scale)");
}

/// The tick labels of one axis, in order.
fn axis_tick_labels<'a>(document: &'a Document, axis_class: &str) -> Vec<&'a str> {
    let axis = document.with_class("g", axis_class);
    assert_eq!(axis.len(), 1, "one {axis_class}");
    let axis_index = document.elements.iter().position(|element| std::ptr::eq(element, axis[0]));
    document
        .elements
        .iter()
        .filter(|element| element.has_class("tick-label"))
        .filter(|label| label.parent.and_then(|tick| document.elements[tick].parent) == axis_index)
        .map(|label| label.text.as_str())
        .collect()
}

#[test]
fn linear_ticks_are_round() {
    let (_, document) = render(&chart(vec![series("a", steps(&[0.13, 0.5, 0.87]))]));
    assert_eq!(axis_tick_labels(&document, "axis-y"), ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"]);
    let x_labels = axis_tick_labels(&document, "axis-x");
    assert_eq!(x_labels.first(), Some(&"0"));
    assert_eq!(x_labels.last(), Some(&"2"));
}

#[test]
fn x_labels_of_wall_clock_times_stay_distinct() {
    let start = 1_712_345_678_901.0;
    let points = (0..100).map(|index| Point::new(start + f64::from(index) * 10_000.0, 1.0)).collect();
    let (_, document) = render(&chart(vec![series("a", points)]));
    let labels = axis_tick_labels(&document, "axis-x");
    assert!(labels.len() >= 2, "{labels:?}");
    let mut distinct = labels.clone();
    distinct.dedup();
    assert_eq!(distinct, labels, "labels repeat");
}

#[test]
fn hover_points_are_bounded_and_carry_exact_values() {
    for (length, expected) in [(0, 0), (1, 1), (10, 10), (400, 400), (401, 400), (100_000, MAX_HOVER_POINTS)] {
        let points = noisy_loss(length, 7);
        let (_, document) = render(&chart(vec![series("train", points.clone()), series("b", steps(&[1.0]))]));
        let groups = document.with_class("g", "points");
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].attribute("data-series"), Some("0"));
        assert!(groups[0].has_class("series-0"));
        let circles = document.children(groups[0], "circle");
        assert_eq!(circles.len(), expected, "hover points for {length} points");
        if let (Some(first), Some(last)) = (circles.first(), circles.last()) {
            assert_eq!(first.number("data-x"), points[0].x);
            assert_eq!(first.number("data-y"), points[0].y, "data-y reads back exactly");
            assert_eq!(last.number("data-x"), points[length - 1].x);
            let title = document.title_of(last);
            let (label, rest) = title.split_once('\n').unwrap_or(("", ""));
            assert_eq!(label, "train");
            assert!(rest.starts_with(&format!("step {}: ", length - 1)), "{title:?}");
        }
        let xs: Vec<f64> = circles.iter().map(|circle| circle.number("data-x")).collect();
        assert!(xs.windows(2).all(|pair| pair[0] < pair[1]), "hover points are in order and distinct");
    }
}

fn check_hover_title(label: &str, x_label: &str, point: Point, expected: &str) {
    let chart = LineChart { x_label: x_label.to_owned(), ..chart(vec![series(label, vec![point])]) };
    let (_, document) = render(&chart);
    let circle = document.elements.iter().find(|element| element.name == "circle").expect("a hover circle");
    assert_eq!(document.title_of(circle), expected, "hover title of {point:?}");
}

#[test]
fn hover_titles_name_the_series_and_the_x_axis() {
    check_hover_title("train", "step", Point::new(120.0, 0.123456789), "train\nstep 120: 0.123457");
    check_hover_title("train", "", Point::new(120.0, 2.0), "train\nstep 120: 2");
    check_hover_title("train", "seconds", Point::new(12.5, 1e-7), "train\nseconds 12.5: 1e-7");
    check_hover_title("", "step", Point::new(3.0, -4.5), "step 3: -4.5");
}

#[test]
fn two_downsampled_series_of_a_million_points_stay_small() {
    let all = vec![
        series("train/loss", downsample_envelope(&noisy_loss(1_000_000, 1), 500)),
        series("validation/loss", downsample_envelope(&noisy_loss(1_000_000, 2), 500)),
    ];
    let (svg, document) = render(&chart(all));
    assert!(svg.len() < 150_000, "{} bytes", svg.len());
    assert_eq!(document.with_class("path", "series").len(), 2);
}

#[test]
fn many_series_fold_the_legend() {
    let all = (0..60).map(|index| series(&format!("a long run name number {index}"), steps(&[1.0, 2.0]))).collect();
    let (_, document) = render(&chart(all));
    let shown = document.with_class("g", "legend-item").len();
    let more = document.with_class("text", "legend-more");
    assert!(shown < 60 && shown > 0, "{shown} shown");
    assert_eq!(more.len(), 1);
    assert_eq!(more[0].text, format!("+{} more", 60 - shown));
    assert_eq!(document.with_class("path", "series").len(), 60, "every series is drawn");
}

#[test]
fn the_stylesheet_covers_every_colour_class() {
    for class in (0..10).map(|index| format!(".series-{index} ")).chain((0..5).map(|index| format!(".shade-{index} ")))
    {
        assert!(STYLESHEET.contains(&class), "{class}");
    }
}

fn any_label() -> impl Strategy<Value = String> {
    prop_oneof![".{0,40}", "[<>&\"' a-z\u{0}-\u{1f}]{0,12}"]
}

fn any_points() -> impl Strategy<Value = Vec<Point>> {
    let y = prop_oneof![
        10 => any::<f64>(),
        10 => -10.0..10.0f64,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
    ];
    let x = prop_oneof![10 => 0.0..1e6f64, 1 => any::<f64>()];
    prop::collection::vec((x, y), 0..60)
        .prop_map(|pairs| pairs.into_iter().map(|(x, y)| Point::new(x, y)).collect::<Vec<_>>())
}

proptest! {
    #[test]
    fn any_chart_is_well_formed(
        title in any_label(),
        labels in prop::collection::vec(any_label(), 0..5),
        data in prop::collection::vec(any_points(), 5),
        log in any::<bool>(),
        width in 0u32..2000,
        height in 0u32..1000,
    ) {
        let all: Vec<Series> =
            labels.iter().zip(data).map(|(label, points)| Series { label: label.clone(), points, notes: Vec::new() }).collect();
        let count = all.len();
        let chart = LineChart {
            title: title.clone(),
            x_label: title.clone(),
            y_label: title,
            y_scale: if log { Scale::Log } else { Scale::Linear },
            series: all,
            width,
            height,
        };
        let (svg, document) = render(&chart);
        let drawn = document.with_class("path", "series").len();
        prop_assert!(drawn == count || !document.with_class("text", "no-data").is_empty());
        // Every coordinate is inside the view box.
        let (view_width, view_height) = (f64::from(width.max(240)), f64::from(height.max(160)));
        for path in document.with_class("path", "series") {
            for (x, y) in subpaths(path.attribute("d").unwrap_or("")).into_iter().flatten() {
                prop_assert!((0.0..=view_width).contains(&x) && (0.0..=view_height).contains(&y), "({}, {}) in {}", x, y, svg);
            }
        }
    }
}

#[test]
fn hover_titles_carry_each_points_note() {
    let mut noted = series("run", steps(&[1.0, 2.0]));
    noted.notes = vec!["2026-01-01 00:00:00".to_owned(), "<later>".to_owned()];
    let (svg, _) = render(&chart(vec![noted]));
    assert!(svg.contains("step 0: 1\n2026-01-01 00:00:00</title>"), "{svg}");
    assert!(svg.contains("&lt;later&gt;</title>"), "notes are escaped");
}

#[test]
fn the_plot_area_maps_its_edges_to_the_x_range_for_zooming() {
    let points = (0..50).map(|step| Point::new(100.0 + step as f64 * 2.0, step as f64)).collect();
    let (_, document) = render(&chart(vec![series("a", points)]));
    let areas = document.with_class("rect", "plot-area");
    assert_eq!(areas.len(), 1);
    let area = areas[0];
    assert_eq!((area.number("data-x-low"), area.number("data-x-high")), (100.0, 198.0));
    // The first and last points of the line sit on the area's left and right edges.
    let line = &series_subpaths(&document)[0][0];
    let (left, width) = (area.number("x"), area.number("width"));
    assert!((line[0].0 - left).abs() < 0.01, "{line:?} starts at the left edge {left}");
    assert!((line[line.len() - 1].0 - (left + width)).abs() < 0.01);
}

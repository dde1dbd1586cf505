//! Parallel-coordinates plots: how a sweep's parameters relate to a metric.
//!
//! Every axis is first turned into one position per run (a fraction of the axis height, or
//! nothing when the run has no value there); drawing then only reads those positions. The
//! colour of a run is its position on the `color_by` axis cut into five bands, so a line's
//! colour always agrees with where it crosses that axis.

use crate::axis::{Domain, label_chars, tick_step_digits};
use crate::svg::{CHAR_WIDTH, SvgWriter, chars_that_fit};
use crate::ticks::{nice_ticks, write_exact};
use crate::{MIN_HEIGHT, MIN_WIDTH};

/// How many colour bands runs are sorted into: classes `shade-0` (lowest) to `shade-4`.
pub const SHADES: usize = 5;

/// Category and tick labels are cut to this many characters.
const VALUE_LABEL_CHARS: usize = 16;

/// The vertical room a category label needs before labels are thinned out.
const CATEGORY_LABEL_HEIGHT: f64 = 14.0;

/// One vertical axis: a parameter or a metric, with one value per run.
#[derive(Debug, Clone, PartialEq)]
pub struct ParallelAxis {
    pub label: String,
    /// One value per run, in the order of [`ParallelCoordinates::run_labels`]; a run past the end
    /// counts as missing.
    pub values: Vec<AxisValue>,
}

/// The value of one run on one axis.
#[derive(Debug, Clone, PartialEq)]
pub enum AxisValue {
    /// A number; NaN and ±inf count as missing.
    Number(f64),
    /// A category. An axis with any text value is a category axis, and its numbers become
    /// categories too (written in their shortest exact form).
    Text(String),
    Missing,
}

/// A parallel-coordinates plot of runs across axes.
#[derive(Debug, Clone, PartialEq)]
pub struct ParallelCoordinates {
    pub axes: Vec<ParallelAxis>,
    /// One label per run; the number of runs drawn.
    pub run_labels: Vec<String>,
    /// The index of the axis (usually the metric) whose value colours the lines. Out of range,
    /// no run is shaded.
    pub color_by: usize,
    /// The natural size in SVG user units, at least [`MIN_WIDTH`] by [`MIN_HEIGHT`].
    pub width: u32,
    pub height: u32,
}

/// Renders a parallel-coordinates plot as an SVG document (a string starting with `<svg`).
///
/// The structure, for the page's CSS and JavaScript (R is the run index, A the axis index, K the
/// colour band from 0 for the lowest `color_by` value to 4 for the highest):
///
/// ```text
/// <svg class="atelier-chart parallel-coordinates" viewBox="0 0 W H" …>
///   <g class="runs">
///     <path class="run shade-K" data-run="R" fill="none" d="M…L…"><title>label</title></path> …
///   </g>                                   (class "run no-shade" when the colour value is missing)
///   <g class="axis parallel-axis" data-axis="A">            ("axis parallel-axis color-axis")
///     <line class="axis-line"/>
///     <g class="tick"><line class="tick-mark"/><text class="tick-label"/></g> …
///     <text class="axis-label">label</text>
///   </g> …
/// </svg>
/// ```
///
/// Numeric axes run from their minimum (bottom) to their maximum (top) with round ticks inside;
/// category axes place their sorted categories evenly from bottom to top, thinning the labels
/// when they would overlap. A run's line skips an axis where its value is missing. With no axes
/// or no runs the chart shows "no data". All text is XML-escaped.
pub fn render_parallel_coordinates(chart: &ParallelCoordinates) -> String {
    let width = f64::from(chart.width.max(MIN_WIDTH));
    let height = f64::from(chart.height.max(MIN_HEIGHT));
    let runs = chart.run_labels.len();
    let mut svg = SvgWriter::with_capacity(2048 + runs * (32 + chart.axes.len() * 14) + chart.axes.len() * 1024);
    svg.open_root("atelier-chart parallel-coordinates", width, height, "");
    if chart.axes.is_empty() || runs == 0 {
        svg.no_data(width, height);
        svg.close_root();
        return svg.finish();
    }

    let top = 34.0;
    let plot_height = (height - top - 14.0).max(CATEGORY_LABEL_HEIGHT);
    let tick_count = ((plot_height / 40.0) as usize).clamp(2, 8);
    let scales: Vec<AxisScale> = chart.axes.iter().map(|axis| AxisScale::of(axis, runs, tick_count)).collect();

    let first_labels = scales.first().map_or(0, AxisScale::widest_label);
    let left = (8.0 + first_labels as f64 * CHAR_WIDTH + 8.0).clamp(24.0, width * 0.3);
    let right = 24.0;
    let span = (width - left - right).max(1.0);
    let spacing = if scales.len() > 1 { span / (scales.len() - 1) as f64 } else { span };
    let axis_x = |index: usize| if scales.len() > 1 { left + index as f64 * spacing } else { left + span / 2.0 };
    let y_of = |fraction: f64| top + plot_height - fraction.clamp(0.0, 1.0) * plot_height;

    svg.raw("<g class=\"runs\">\n");
    for (run, label) in chart.run_labels.iter().enumerate() {
        svg.raw(r#"<path class="run "#);
        match scales.get(chart.color_by).and_then(|scale| scale.positions[run]) {
            Some(fraction) => {
                svg.raw("shade-");
                svg.integer(shade_of(fraction));
            }
            None => svg.raw("no-shade"),
        }
        svg.raw(r#"" data-run=""#);
        svg.integer(run);
        svg.raw(r#"" fill="none" d=""#);
        let mut started = false;
        for (index, scale) in scales.iter().enumerate() {
            let Some(fraction) = scale.positions[run] else { continue };
            svg.raw(if started { "L" } else { "M" });
            svg.coordinate(axis_x(index));
            svg.raw(",");
            svg.coordinate(y_of(fraction));
            started = true;
        }
        svg.raw(r#""><title>"#);
        svg.text(label);
        svg.raw("</title></path>\n");
    }
    svg.raw("</g>\n");

    let axis_label_chars = chars_that_fit(spacing - 8.0).max(4);
    let value_label_chars = chars_that_fit(spacing * 0.45).clamp(3, VALUE_LABEL_CHARS);
    for (index, (axis, scale)) in chart.axes.iter().zip(&scales).enumerate() {
        let x = axis_x(index);
        svg.raw(if index == chart.color_by {
            r#"<g class="axis parallel-axis color-axis" data-axis=""#
        } else {
            r#"<g class="axis parallel-axis" data-axis=""#
        });
        svg.integer(index);
        svg.raw(r#"">"#);
        svg.line("axis-line", (x, top), (x, top + plot_height));
        for (fraction, label) in scale.tick_labels(plot_height) {
            let y = y_of(fraction);
            svg.raw(r#"<g class="tick">"#);
            svg.line("tick-mark", (x - 3.0, y), (x, y));
            svg.open_text("tick-label", (x - 5.0, y + 4.0), "end");
            match label {
                TickLabel::Number(value, digits) => svg.significant(value, digits),
                TickLabel::Text(text) => svg.text_truncated(text, value_label_chars),
            }
            svg.raw("</text></g>");
        }
        // A label wider than the margin beside the outer axes is moved inward to stay visible.
        let half_label = axis.label.chars().count().min(axis_label_chars + 1) as f64 * CHAR_WIDTH / 2.0;
        let label_x = x.clamp(half_label + 2.0, (width - half_label - 2.0).max(half_label + 2.0));
        svg.open_text("axis-label", (label_x, top - 12.0), "middle");
        if axis.label.chars().count() > axis_label_chars {
            // A cut label keeps its full text for hovering.
            svg.raw("<title>");
            svg.text(&axis.label);
            svg.raw("</title>");
        }
        svg.text_truncated(&axis.label, axis_label_chars);
        svg.raw("</text></g>\n");
    }
    svg.close_root();
    svg.finish()
}

/// The colour band of a position on the colour axis: five equal bands, the top one closed.
fn shade_of(fraction: f64) -> usize {
    ((fraction.clamp(0.0, 1.0) * SHADES as f64) as usize).min(SHADES - 1)
}

/// An axis turned into positions.
struct AxisScale {
    /// Per run, the fraction of the axis height (0 at the bottom), or `None` when missing.
    positions: Vec<Option<f64>>,
    kind: AxisKind,
}

enum AxisKind {
    Numeric { domain: Option<Domain>, ticks: Vec<f64>, digits: usize },
    Categorical { categories: Vec<String> },
}

/// A tick label: a number to write with some significant digits, or a category.
enum TickLabel<'a> {
    Number(f64, usize),
    Text(&'a str),
}

impl AxisScale {
    fn of(axis: &ParallelAxis, runs: usize, tick_count: usize) -> AxisScale {
        let values = || (0..runs).map(|run| axis.values.get(run).unwrap_or(&AxisValue::Missing));
        if values().any(|value| matches!(value, AxisValue::Text(_))) {
            Self::categorical(values().map(category_of).collect())
        } else {
            Self::numeric(values().map(number_of).collect(), tick_count)
        }
    }

    fn numeric(numbers: Vec<Option<f64>>, tick_count: usize) -> AxisScale {
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for number in numbers.iter().flatten() {
            min = min.min(*number);
            max = max.max(*number);
        }
        if min > max {
            let positions = vec![None; numbers.len()];
            return AxisScale { positions, kind: AxisKind::Numeric { domain: None, ticks: Vec::new(), digits: 4 } };
        }
        let domain = Domain { low: min, high: max };
        let positions = numbers.iter().map(|number| number.map(|value| domain.fraction(value))).collect();
        let ticks: Vec<f64> = if min == max {
            vec![min]
        } else {
            nice_ticks(min, max, tick_count).into_iter().filter(|tick| domain.contains(*tick)).collect()
        };
        let digits = tick_step_digits(&ticks);
        AxisScale { positions, kind: AxisKind::Numeric { domain: Some(domain), ticks, digits } }
    }

    fn categorical(values: Vec<Option<String>>) -> AxisScale {
        let mut categories: Vec<String> = values.iter().flatten().cloned().collect();
        categories.sort();
        categories.dedup();
        let last = categories.len().saturating_sub(1);
        let fraction_of = |index: usize| if last == 0 { 0.5 } else { index as f64 / last as f64 };
        let positions = values
            .iter()
            .map(|value| {
                let value = value.as_deref()?;
                categories.binary_search_by(|category| category.as_str().cmp(value)).ok().map(fraction_of)
            })
            .collect();
        AxisScale { positions, kind: AxisKind::Categorical { categories } }
    }

    /// The widest tick label, in characters.
    fn widest_label(&self) -> usize {
        match &self.kind {
            AxisKind::Numeric { ticks, digits, .. } => {
                ticks.iter().map(|tick| label_chars(*tick, *digits)).max().unwrap_or(0)
            }
            AxisKind::Categorical { categories } => {
                categories.iter().map(|category| category.chars().count().min(VALUE_LABEL_CHARS)).max().unwrap_or(0)
            }
        }
    }

    /// The labelled positions: every tick, or every category while they fit (else every k-th).
    fn tick_labels(&self, plot_height: f64) -> Vec<(f64, TickLabel<'_>)> {
        match &self.kind {
            AxisKind::Numeric { domain: None, .. } => Vec::new(),
            AxisKind::Numeric { domain: Some(domain), ticks, digits } => {
                ticks.iter().map(|tick| (domain.fraction(*tick), TickLabel::Number(*tick, *digits))).collect()
            }
            AxisKind::Categorical { categories } => {
                let fitting = ((plot_height / CATEGORY_LABEL_HEIGHT) as usize).max(2);
                let stride = categories.len().div_ceil(fitting).max(1);
                let last = categories.len().saturating_sub(1);
                categories
                    .iter()
                    .enumerate()
                    .step_by(stride)
                    .map(|(index, category)| {
                        let fraction = if last == 0 { 0.5 } else { index as f64 / last as f64 };
                        (fraction, TickLabel::Text(category.as_str()))
                    })
                    .collect()
            }
        }
    }
}

/// The number of a value on a numeric axis.
fn number_of(value: &AxisValue) -> Option<f64> {
    match value {
        AxisValue::Number(number) if number.is_finite() => Some(*number),
        _ => None,
    }
}

/// The category of a value on a category axis.
fn category_of(value: &AxisValue) -> Option<String> {
    match value {
        AxisValue::Text(text) => Some(text.clone()),
        AxisValue::Number(number) if number.is_finite() => {
            let mut text = String::new();
            write_exact(&mut text, *number);
            Some(text)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_shade(fraction: f64, expected: usize) {
        assert_eq!(shade_of(fraction), expected, "shade of {fraction}");
    }

    #[test]
    fn shades_are_five_equal_bands() {
        check_shade(0.0, 0);
        check_shade(0.19, 0);
        check_shade(0.2, 1);
        check_shade(0.5, 2);
        check_shade(0.79, 3);
        check_shade(0.8, 4);
        check_shade(1.0, 4);
        check_shade(-1.0, 0);
        check_shade(2.0, 4);
    }
}

//! Line charts of metric series.
//!
//! The layout is computed outside in: the title and the legend take their rows, the y ticks
//! decide how wide the left margin must be for their labels, and what remains is the plot. The
//! x axis spans exactly the data (a curve touches both sides, as in TensorBoard); the y axis
//! spans its outermost round ticks, so every gridline is labelled.

use crate::axis::{Domain, label_chars, tick_step_digits};
use crate::svg::{CHAR_WIDTH, SvgWriter, chars_that_fit};
use crate::ticks::{decade, log_decades, nice_ticks};
use crate::{MIN_HEIGHT, MIN_WIDTH, Point};

/// The most hover circles drawn per series; longer series get this many, evenly spaced.
pub const MAX_HOVER_POINTS: usize = 400;

/// Colour classes cycle through `series-0` to `series-9`.
const PALETTE_SIZE: usize = 10;

/// Legend labels are cut to this many characters.
const LEGEND_LABEL_CHARS: usize = 28;

/// The legend takes at most this many rows; further series are summed up as "+N more".
const LEGEND_MAX_ROWS: usize = 3;

/// The height of one row of text (tick labels, axis labels, legend rows).
const ROW_HEIGHT: f64 = 16.0;

/// The radius of a hover circle.
const HOVER_RADIUS: &str = "3";

/// The x axis label in hover titles is cut to this many characters.
const X_NAME_CHARS: usize = 24;

/// Significant digits of y in a hover title.
const HOVER_DIGITS: usize = 6;

/// One named series of points, sorted by x.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    pub points: Vec<Point>,
    /// An optional extra line for each point's hover title (for example its wall-clock time),
    /// aligned with `points`; empty for none.
    pub notes: Vec<String>,
}

/// How the y axis maps values to heights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scale {
    #[default]
    Linear,
    /// Log base 10; non-positive values are left out (the line breaks there) and a note in the
    /// chart says how many.
    Log,
}

/// A line chart: one line per series over a shared x axis.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub y_scale: Scale,
    /// The series, already downsampled or smoothed by the caller; they are drawn as given.
    pub series: Vec<Series>,
    /// The natural size in SVG user units, at least [`MIN_WIDTH`] by [`MIN_HEIGHT`].
    pub width: u32,
    pub height: u32,
}

/// Renders a line chart as an SVG document (a string starting with `<svg`).
///
/// The structure, for the page's CSS and JavaScript (I is the series index, N = I % 10):
///
/// ```text
/// <svg class="atelier-chart line-chart" viewBox="0 0 W H" …>
///   <text class="chart-title">                                   when the title is not empty
///   <g class="axis axis-y"> <g class="tick"><line class="grid"/><text class="tick-label"/></g> …
///     <line class="axis-line"/> </g>
///   <g class="axis axis-x"> <g class="tick"><line class="tick-mark"/><text class="tick-label"/></g> …
///     <line class="axis-line"/> </g>
///   <text class="axis-label axis-label-x">, <text class="axis-label axis-label-y">
///   <rect class="plot-area" fill="none" x y width height data-x-low="…" data-x-high="…"/>
///                                       (the x values at the plot's left and right edges)
///   <path class="series series-N" data-series="I" fill="none" d="M…L…"><title>label</title></path> …
///   <g class="points series-N" data-series="I">
///     <circle cx cy r="3" data-x="…" data-y="…"><title>label⏎step X: Y</title></circle> …
///                                       ("step" is the x label when there is one: "seconds X: Y")
///   </g> …
///   <g class="legend"> <g class="legend-item" data-series="I">
///     <line class="swatch series-N"/> <text class="legend-label"/> </g> … </g>    2+ series
///   <text class="note">                                          log scale, values left out
/// </svg>
/// ```
///
/// A NaN y (or a non-finite x) breaks the line; ±inf is drawn at the top or bottom edge and left
/// out of the axis range. Hover circles are sampled evenly, at most [`MAX_HOVER_POINTS`] per
/// series; `data-x` and `data-y` read back exactly with JavaScript's `Number` (`Infinity` for
/// ±inf). A chart with nothing to draw shows "no data". All text is XML-escaped.
pub fn render_line_chart(chart: &LineChart) -> String {
    let width = f64::from(chart.width.max(MIN_WIDTH));
    let height = f64::from(chart.height.max(MIN_HEIGHT));
    let extent = Extent::of(chart);
    let mut svg = SvgWriter::with_capacity(estimated_size(chart));
    svg.open_root("atelier-chart line-chart", width, height, &chart.title);
    svg.title(&chart.title, width);
    let Some(ranges) = extent.ranges else {
        svg.no_data(width, height);
        if extent.left_out > 0 {
            write_note(&mut svg, extent.left_out, (width / 2.0, height / 2.0 + ROW_HEIGHT), "middle");
        }
        svg.close_root();
        return svg.finish();
    };

    let legend = Legend::lay_out(&chart.series, width);
    let top = if chart.title.is_empty() { 12.0 } else { 30.0 };
    let x_label_height = if chart.x_label.is_empty() { 0.0 } else { ROW_HEIGHT };
    let legend_height = if legend.rows == 0 { 0.0 } else { legend.rows as f64 * ROW_HEIGHT + 4.0 };
    let bottom_margin = 20.0 + x_label_height + legend_height + 6.0;
    let plot_height = (height - top - bottom_margin).max(ROW_HEIGHT);

    let y_axis = YAxis::new(chart.y_scale, ranges.y_min, ranges.y_max, (plot_height / 36.0) as usize);
    let y_label_width = if chart.y_label.is_empty() { 0.0 } else { ROW_HEIGHT };
    let left = (8.0 + y_label_width + y_axis.widest_label as f64 * CHAR_WIDTH + 8.0).min(width * 0.4);
    let right = 16.0;
    let plot_width = (width - left - right).max(ROW_HEIGHT);
    let frame = Frame { left, top, width: plot_width, height: plot_height };
    let x_axis = XAxis::new(ranges.x_min, ranges.x_max, plot_width);

    let mapping = Mapping { frame: &frame, x_axis: &x_axis, y_axis: &y_axis, scale: chart.y_scale };

    write_y_axis(&mut svg, &mapping);
    write_x_axis(&mut svg, &mapping, width);
    write_axis_labels(&mut svg, chart, &frame);
    write_plot_area(&mut svg, &frame, &x_axis);
    for (index, series) in chart.series.iter().enumerate() {
        write_series_path(&mut svg, index, series, &mapping);
    }
    let x_name = if chart.x_label.is_empty() { "step" } else { chart.x_label.as_str() };
    for (index, series) in chart.series.iter().enumerate() {
        write_hover_points(&mut svg, index, series, x_name, &mapping);
    }
    let legend_top = frame.bottom() + 20.0 + x_label_height + 4.0;
    legend.write(&mut svg, &chart.series, legend_top, width);
    if extent.left_out > 0 {
        write_note(&mut svg, extent.left_out, (frame.right() - 4.0, frame.top + 12.0), "end");
    }
    svg.close_root();
    svg.finish()
}

/// Where a point goes on the y axis.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Placement {
    /// Not drawn; the line breaks here.
    Gap,
    /// Not drawn because the log scale cannot show it; the line breaks here.
    LeftOut,
    /// A finite value, drawn at its height.
    Value(f64),
    /// +inf: drawn at the top edge.
    Top,
    /// -inf: drawn at the bottom edge.
    Bottom,
}

impl Placement {
    fn of(point: Point, scale: Scale) -> Placement {
        let y = point.y;
        if !point.x.is_finite() || y.is_nan() {
            return Placement::Gap;
        }
        match scale {
            Scale::Log if y <= 0.0 => Placement::LeftOut,
            _ if y == f64::INFINITY => Placement::Top,
            _ if y == f64::NEG_INFINITY => Placement::Bottom,
            _ => Placement::Value(y),
        }
    }

    fn is_drawn(self) -> bool {
        !matches!(self, Placement::Gap | Placement::LeftOut)
    }
}

/// The data's bounds, and how many values the log scale left out.
struct Extent {
    ranges: Option<Ranges>,
    left_out: usize,
}

/// The bounds of the drawn points: x over every drawn point, y over the finite ones.
#[derive(Debug, Clone, Copy)]
struct Ranges {
    x_min: f64,
    x_max: f64,
    y_min: f64,
    y_max: f64,
}

impl Extent {
    fn of(chart: &LineChart) -> Extent {
        let mut left_out = 0;
        let (mut x_min, mut x_max) = (f64::INFINITY, f64::NEG_INFINITY);
        let (mut y_min, mut y_max) = (f64::INFINITY, f64::NEG_INFINITY);
        for point in chart.series.iter().flat_map(|series| &series.points) {
            let placement = Placement::of(*point, chart.y_scale);
            if placement == Placement::LeftOut {
                left_out += 1;
            }
            if !placement.is_drawn() {
                continue;
            }
            x_min = x_min.min(point.x);
            x_max = x_max.max(point.x);
            if let Placement::Value(y) = placement {
                y_min = y_min.min(y);
                y_max = y_max.max(y);
            }
        }
        // Only infinite values give no height to scale against; that draws as no data too.
        let ranges = (y_min <= y_max).then_some(Ranges { x_min, x_max, y_min, y_max });
        Extent { ranges, left_out }
    }
}

/// The plot area inside the margins.
struct Frame {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
}

impl Frame {
    fn right(&self) -> f64 {
        self.left + self.width
    }

    fn bottom(&self) -> f64 {
        self.top + self.height
    }
}

/// The x axis: the data's range and the round ticks inside it.
struct XAxis {
    domain: Domain,
    ticks: Vec<f64>,
    digits: usize,
}

impl XAxis {
    fn new(x_min: f64, x_max: f64, plot_width: f64) -> XAxis {
        let mut domain = Domain { low: x_min, high: x_max };
        if x_min == x_max {
            // A single step still needs an axis; nice_ticks widens it around the value.
            let around = nice_ticks(x_min, x_max, 3);
            if let (Some(first), Some(last)) = (around.first(), around.last()) {
                domain = Domain { low: *first, high: *last };
            }
        }
        // Fewer ticks until their labels fit side by side.
        let mut count = ((plot_width / 80.0) as usize).clamp(2, 10);
        loop {
            let all_ticks = nice_ticks(domain.low, domain.high, count);
            // The digits come from the full list, whose step is known even when one tick is left.
            let digits = tick_step_digits(&all_ticks);
            let ticks: Vec<f64> = all_ticks.into_iter().filter(|tick| domain.contains(*tick)).collect();
            let widest = ticks.iter().map(|tick| label_chars(*tick, digits)).max().unwrap_or(0);
            let needed = ticks.len() as f64 * (widest as f64 * CHAR_WIDTH + 12.0);
            if needed <= plot_width || count <= 2 {
                return XAxis { domain, ticks, digits };
            }
            count -= 1;
        }
    }
}

/// The y axis: linear over its round ticks, or log over whole decades.
struct YAxis {
    /// In axis units: values for a linear axis, exponents for a log axis.
    domain: Domain,
    ticks: Vec<Tick>,
    digits: usize,
    widest_label: usize,
}

/// A tick: the value its label shows and where it sits, in axis units.
#[derive(Debug, Clone, Copy)]
struct Tick {
    value: f64,
    at: f64,
}

impl YAxis {
    fn new(scale: Scale, y_min: f64, y_max: f64, count: usize) -> YAxis {
        let count = count.clamp(2, 8);
        let (domain, ticks, digits) = match scale {
            Scale::Linear => {
                let values = nice_ticks(y_min, y_max, count);
                let domain = match (values.first(), values.last()) {
                    (Some(first), Some(last)) => Domain { low: *first, high: *last },
                    _ => Domain { low: y_min, high: y_max },
                };
                let digits = tick_step_digits(&values);
                (domain, values.into_iter().map(|value| Tick { value, at: value }).collect(), digits)
            }
            Scale::Log => {
                let (low, high, stride) = log_decades(y_min, y_max, count);
                let stride = usize::try_from(stride).unwrap_or(1).max(1);
                let ticks: Vec<Tick> = (low..=high)
                    .step_by(stride)
                    .map(|exponent| Tick { value: decade(exponent), at: f64::from(exponent) })
                    .collect();
                (Domain { low: f64::from(low), high: f64::from(high) }, ticks, 4)
            }
        };
        let widest_label = ticks.iter().map(|tick| label_chars(tick.value, digits)).max().unwrap_or(0);
        YAxis { domain, ticks, digits, widest_label }
    }
}

/// Maps data to SVG coordinates.
struct Mapping<'a> {
    frame: &'a Frame,
    x_axis: &'a XAxis,
    y_axis: &'a YAxis,
    scale: Scale,
}

impl Mapping<'_> {
    fn x(&self, x: f64) -> f64 {
        let fraction = self.x_axis.domain.fraction(x).clamp(0.0, 1.0);
        self.frame.left + fraction * self.frame.width
    }

    /// The height of a position in axis units (a value, or an exponent on a log axis).
    fn y_at(&self, at: f64) -> f64 {
        let fraction = self.y_axis.domain.fraction(at).clamp(0.0, 1.0);
        self.frame.bottom() - fraction * self.frame.height
    }

    /// The height of a placement; `None` for what is not drawn.
    fn y(&self, placement: Placement) -> Option<f64> {
        match placement {
            Placement::Gap | Placement::LeftOut => None,
            Placement::Top => Some(self.frame.top),
            Placement::Bottom => Some(self.frame.bottom()),
            Placement::Value(y) => Some(self.y_at(match self.scale {
                Scale::Linear => y,
                Scale::Log => y.log10(),
            })),
        }
    }
}

fn write_y_axis(svg: &mut SvgWriter, mapping: &Mapping<'_>) {
    let frame = mapping.frame;
    svg.raw(r#"<g class="axis axis-y">"#);
    for tick in &mapping.y_axis.ticks {
        let y = mapping.y_at(tick.at);
        svg.raw(r#"<g class="tick">"#);
        svg.line("grid", (frame.left, y), (frame.right(), y));
        // Four units down centres the digits on the gridline.
        svg.open_text("tick-label", (frame.left - 6.0, y + 4.0), "end");
        svg.significant(tick.value, mapping.y_axis.digits);
        svg.raw("</text></g>");
    }
    svg.line("axis-line", (frame.left, frame.top), (frame.left, frame.bottom()));
    svg.raw("</g>\n");
}

/// The plot's rectangle with the x values at its left and right edges, so that a script can
/// turn a dragged span of pixels into a range of steps or seconds (the studio's zoom).
fn write_plot_area(svg: &mut SvgWriter, frame: &Frame, x_axis: &XAxis) {
    svg.raw(r#"<rect class="plot-area" fill="none" x=""#);
    svg.coordinate(frame.left);
    svg.raw(r#"" y=""#);
    svg.coordinate(frame.top);
    svg.raw(r#"" width=""#);
    svg.coordinate(frame.width);
    svg.raw(r#"" height=""#);
    svg.coordinate(frame.height);
    svg.raw(r#"" data-x-low=""#);
    svg.exact(x_axis.domain.low);
    svg.raw(r#"" data-x-high=""#);
    svg.exact(x_axis.domain.high);
    svg.raw(r#""/>"#);
}

fn write_x_axis(svg: &mut SvgWriter, mapping: &Mapping<'_>, width: f64) {
    let frame = mapping.frame;
    let x_axis = mapping.x_axis;
    svg.raw(r#"<g class="axis axis-x">"#);
    for tick in &x_axis.ticks {
        let x = mapping.x(*tick);
        svg.raw(r#"<g class="tick">"#);
        svg.line("tick-mark", (x, frame.bottom()), (x, frame.bottom() + 4.0));
        // A label at either end of the axis is moved inward so that it stays inside the chart.
        let half_label = label_chars(*tick, x_axis.digits) as f64 * CHAR_WIDTH / 2.0;
        let label_x = x.clamp(half_label + 2.0, (width - half_label - 2.0).max(half_label + 2.0));
        svg.open_text("tick-label", (label_x, frame.bottom() + 15.0), "middle");
        svg.significant(*tick, x_axis.digits);
        svg.raw("</text></g>");
    }
    svg.line("axis-line", (frame.left, frame.bottom()), (frame.right(), frame.bottom()));
    svg.raw("</g>\n");
}

fn write_axis_labels(svg: &mut SvgWriter, chart: &LineChart, frame: &Frame) {
    if !chart.x_label.is_empty() {
        let at = (frame.left + frame.width / 2.0, frame.bottom() + 15.0 + ROW_HEIGHT);
        svg.open_text("axis-label axis-label-x", at, "middle");
        svg.text_truncated(&chart.x_label, chars_that_fit(frame.width));
        svg.raw("</text>\n");
    }
    if !chart.y_label.is_empty() {
        // Rotated a quarter turn back, the text reads upwards and its glyphs sit left of `x`.
        let (x, y) = (19.0, frame.top + frame.height / 2.0);
        svg.raw(r#"<text class="axis-label axis-label-y" x=""#);
        svg.coordinate(x);
        svg.raw(r#"" y=""#);
        svg.coordinate(y);
        svg.raw(r#"" text-anchor="middle" transform="rotate(-90 "#);
        svg.coordinate(x);
        svg.raw(" ");
        svg.coordinate(y);
        svg.raw(r#")">"#);
        svg.text_truncated(&chart.y_label, chars_that_fit(frame.height));
        svg.raw("</text>\n");
    }
}

/// Writes the series as one path; each gap starts a new subpath. Consecutive points that round
/// to the same coordinates are written once, which keeps undownsampled series smaller.
fn write_series_path(svg: &mut SvgWriter, index: usize, series: &Series, mapping: &Mapping<'_>) {
    svg.raw(r#"<path class="series series-"#);
    svg.integer(index % PALETTE_SIZE);
    svg.raw(r#"" data-series=""#);
    svg.integer(index);
    svg.raw(r#"" fill="none" d=""#);
    let mut previous: Option<(i64, i64)> = None;
    // A subpath of one point draws nothing; a zero-length segment after it draws a dot with the
    // stylesheet's round line caps, so a metric logged once is still visible.
    let mut subpath_points = 0usize;
    for point in &series.points {
        let Some(y) = mapping.y(Placement::of(*point, mapping.scale)) else {
            previous = None;
            continue;
        };
        let x = mapping.x(point.x);
        let rounded = ((x * 10.0).round() as i64, (y * 10.0).round() as i64);
        if previous == Some(rounded) {
            continue;
        }
        if previous.is_none() {
            if subpath_points == 1 {
                svg.raw("h0");
            }
            subpath_points = 0;
        }
        svg.raw(if previous.is_some() { "L" } else { "M" });
        svg.coordinate(x);
        svg.raw(",");
        svg.coordinate(y);
        previous = Some(rounded);
        subpath_points += 1;
    }
    if subpath_points == 1 {
        svg.raw("h0");
    }
    svg.raw(r#""><title>"#);
    svg.text(&series.label);
    svg.raw("</title></path>\n");
}

/// Writes the hover circles of a series: every drawn point, or [`MAX_HOVER_POINTS`] of them
/// evenly spaced (always the first and the last). Each title reads "label⏎x_name X: Y".
fn write_hover_points(svg: &mut SvgWriter, index: usize, series: &Series, x_name: &str, mapping: &Mapping<'_>) {
    svg.raw(r#"<g class="points series-"#);
    svg.integer(index % PALETTE_SIZE);
    svg.raw(r#"" data-series=""#);
    svg.integer(index);
    svg.raw(r#"">"#);
    let drawn = series.points.iter().filter(|point| Placement::of(**point, mapping.scale).is_drawn()).count();
    let picks = drawn.min(MAX_HOVER_POINTS);
    // The k-th pick is the drawn point with ordinal k * (drawn - 1) / (picks - 1); these ordinals
    // are strictly increasing because drawn >= picks.
    let ordinal_of_pick = |pick: usize| if picks <= 1 { 0 } else { pick * (drawn - 1) / (picks - 1) };
    // The start of every title is the same; it is escaped once per series.
    let mut title_start = SvgWriter::with_capacity(series.label.len() + 32);
    if !series.label.is_empty() {
        title_start.text(&series.label);
        title_start.raw("\n");
    }
    title_start.text_truncated(x_name, X_NAME_CHARS);
    title_start.raw(" ");
    let title_start = title_start.finish();
    let mut next_pick = 0;
    let mut ordinal = 0;
    for (position, point) in series.points.iter().enumerate() {
        if next_pick >= picks {
            break;
        }
        let placement = Placement::of(*point, mapping.scale);
        let Some(y) = mapping.y(placement) else { continue };
        if ordinal == ordinal_of_pick(next_pick) {
            let note = series.notes.get(position).map(String::as_str).unwrap_or_default();
            write_hover_circle(svg, &title_start, *point, (mapping.x(point.x), y), note);
            next_pick += 1;
        }
        ordinal += 1;
    }
    svg.raw("</g>\n");
}

/// Writes one hover circle; `title_start` is already escaped.
fn write_hover_circle(svg: &mut SvgWriter, title_start: &str, point: Point, at: (f64, f64), note: &str) {
    svg.raw(r#"<circle cx=""#);
    svg.coordinate(at.0);
    svg.raw(r#"" cy=""#);
    svg.coordinate(at.1);
    svg.raw(r#"" r=""#);
    svg.raw(HOVER_RADIUS);
    svg.raw(r#"" data-x=""#);
    svg.exact(point.x);
    svg.raw(r#"" data-y=""#);
    svg.exact(point.y);
    svg.raw(r#""><title>"#);
    svg.raw(title_start);
    svg.exact(point.x);
    svg.raw(": ");
    svg.significant(point.y, HOVER_DIGITS);
    if !note.is_empty() {
        svg.raw("\n");
        svg.text(note);
    }
    svg.raw("</title></circle>");
}

fn write_note(svg: &mut SvgWriter, left_out: usize, at: (f64, f64), anchor: &str) {
    svg.open_text("note", at, anchor);
    svg.integer(left_out);
    svg.raw(if left_out == 1 { " non-positive value" } else { " non-positive values" });
    svg.raw(" left out (log scale)</text>\n");
}

/// Where each legend item goes: rows of items flowing left to right.
struct Legend {
    /// The series index, x and row of every item shown.
    items: Vec<(usize, f64, usize)>,
    /// How many series did not fit in [`LEGEND_MAX_ROWS`] rows.
    hidden: usize,
    rows: usize,
}

impl Legend {
    /// The width that "+N more" takes at the end of the last row.
    const MORE_WIDTH: f64 = 70.0;

    fn lay_out(series: &[Series], width: f64) -> Legend {
        if series.len() < 2 {
            return Legend { items: Vec::new(), hidden: 0, rows: 0 };
        }
        let (start, end) = (8.0, width - 8.0);
        let mut items = Vec::with_capacity(series.len());
        let (mut x, mut row) = (start, 0);
        let mut hidden = 0;
        for (index, one) in series.iter().enumerate() {
            let item_width = Self::item_width(&one.label);
            let is_last_row = row + 1 == LEGEND_MAX_ROWS;
            let row_end = if is_last_row && index + 1 < series.len() { end - Self::MORE_WIDTH } else { end };
            if x + item_width > row_end && x > start {
                if is_last_row {
                    hidden = series.len() - index;
                    break;
                }
                row += 1;
                x = start;
            }
            items.push((index, x, row));
            x += item_width;
        }
        Legend { items, hidden, rows: row + 1 }
    }

    /// A swatch, a gap, the label and the space before the next item.
    fn item_width(label: &str) -> f64 {
        18.0 + label.chars().count().min(LEGEND_LABEL_CHARS + 1) as f64 * CHAR_WIDTH + 14.0
    }

    fn write(&self, svg: &mut SvgWriter, series: &[Series], top: f64, width: f64) {
        if self.rows == 0 {
            return;
        }
        svg.raw(r#"<g class="legend">"#);
        for (index, x, row) in &self.items {
            let baseline = top + *row as f64 * ROW_HEIGHT + 11.0;
            svg.raw(r#"<g class="legend-item" data-series=""#);
            svg.integer(*index);
            svg.raw(r#"">"#);
            let swatch_class = SWATCH_CLASSES[index % PALETTE_SIZE];
            svg.line(swatch_class, (*x, baseline - 4.0), (x + 14.0, baseline - 4.0));
            svg.open_text("legend-label", (x + 18.0, baseline), "start");
            svg.text_truncated(&series[*index].label, LEGEND_LABEL_CHARS);
            svg.raw("</text></g>");
        }
        if self.hidden > 0 {
            let baseline = top + (self.rows - 1) as f64 * ROW_HEIGHT + 11.0;
            svg.open_text("legend-more", (width - 8.0, baseline), "end");
            svg.raw("+");
            svg.integer(self.hidden);
            svg.raw(" more</text>");
        }
        svg.raw("</g>\n");
    }
}

/// The class of a legend swatch for each colour.
const SWATCH_CLASSES: [&str; PALETTE_SIZE] = [
    "swatch series-0",
    "swatch series-1",
    "swatch series-2",
    "swatch series-3",
    "swatch series-4",
    "swatch series-5",
    "swatch series-6",
    "swatch series-7",
    "swatch series-8",
    "swatch series-9",
];

/// A capacity for the output that most charts fit without growing: about 14 bytes a path point
/// and 130 bytes (plus the label) a hover circle.
fn estimated_size(chart: &LineChart) -> usize {
    let per_series: usize = chart
        .series
        .iter()
        .map(|series| {
            let points = series.points.len();
            points * 14 + points.min(MAX_HOVER_POINTS) * (130 + series.label.len()) + 256
        })
        .sum();
    4096 + per_series
}

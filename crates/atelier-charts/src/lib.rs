//! Atelier's charts: the studio draws metric curves and sweep comparisons as SVG on the server,
//! and this crate turns numbers into that SVG.
//!
//! - [`downsample_envelope`] cuts a long series (a million points is normal) down to a min/max
//!   envelope per bucket, so that a chart stays small and no spike is hidden.
//! - [`smooth_ema`] smooths a series the way TensorBoard does.
//! - [`nice_ticks`] and [`format_number`] pick round axis ticks and write short labels.
//! - [`render_line_chart`] and [`render_parallel_coordinates`] write the SVG, and [`render_dag`]
//!   a pipeline's graph.
//!
//! The one decision that shaped this crate: the SVG carries structure, not style. Every element
//! that the page styles or scripts has a class (a root of class `atelier-chart`, then `series
//! series-N`, `points`, `run shade-K`, …) and the page's CSS gives the colours, so that one
//! stylesheet themes every chart and a dark mode needs no re-render; [`STYLESHEET`] is a default
//! for that CSS. Everything here is a pure function over plain data: no dependencies, no I/O, and
//! a line chart is written into one `String` with no allocation per point.

mod axis;
mod dag;
mod downsample;
mod line;
mod parallel;
mod smooth;
mod style;
mod svg;
mod ticks;

pub use dag::{DagEdge, DagNode, render_dag};
pub use downsample::{Downsampled, downsample_envelope, downsample_envelope_detailed};
pub use line::{LineChart, MAX_HOVER_POINTS, Scale, Series, render_line_chart};
pub use parallel::{AxisValue, ParallelAxis, ParallelCoordinates, SHADES, render_parallel_coordinates};
pub use smooth::smooth_ema;
pub use style::STYLESHEET;
pub use ticks::{format_number, nice_ticks};

/// One point of a series: `x` is a step or a time in milliseconds, `y` a metric value (may be
/// NaN, which charts draw as a gap).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

impl Point {
    pub const fn new(x: f64, y: f64) -> Self {
        Point { x, y }
    }
}

/// The smallest width, in SVG user units, that a chart is laid out for; smaller requests are
/// raised to it so that axes and labels always have room.
pub const MIN_WIDTH: u32 = 240;

/// The smallest height, in SVG user units, that a chart is laid out for.
pub const MIN_HEIGHT: u32 = 160;

//! The charts' integration tests, one binary so that linking stays fast.

mod common;
mod downsample;
mod line_chart;
mod parallel;
mod smooth;
mod ticks;

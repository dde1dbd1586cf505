//! What both kinds of chart share about axes: placing values along an interval, and measuring
//! tick labels.

use crate::ticks::{StackText, tick_digits, write_significant};

/// A linear interval that values are placed in, as a fraction from `low` to `high`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Domain {
    pub(crate) low: f64,
    pub(crate) high: f64,
}

impl Domain {
    /// The fraction of the way from `low` to `high`; halves keep huge spans finite.
    pub(crate) fn fraction(self, value: f64) -> f64 {
        let half_span = self.high / 2.0 - self.low / 2.0;
        // An empty interval puts everything in the middle.
        if half_span.is_nan() || half_span <= 0.0 {
            return 0.5;
        }
        (value / 2.0 - self.low / 2.0) / half_span
    }

    /// Whether `value` lies in the interval, give or take rounding.
    pub(crate) fn contains(self, value: f64) -> bool {
        let slack = (self.high - self.low).abs() * 1e-9;
        value >= self.low - slack && value <= self.high + slack
    }
}

/// The significant digits that tell evenly spaced ticks apart.
pub(crate) fn tick_step_digits(ticks: &[f64]) -> usize {
    let step = match ticks {
        [first, second, ..] => second - first,
        _ => 0.0,
    };
    let magnitude = ticks.iter().fold(0.0f64, |widest, tick| widest.max(tick.abs()));
    tick_digits(magnitude, step)
}

/// How many characters a tick label takes.
pub(crate) fn label_chars(value: f64, digits: usize) -> usize {
    let mut label = StackText::new();
    write_significant(&mut label, value, digits);
    label.as_str().chars().count()
}

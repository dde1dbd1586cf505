//! Axis ticks and number labels.
//!
//! Linear ticks step by 1, 2 or 5 times a power of ten and are computed as an integer times the
//! step divided by an exact power of ten, so that a tick reads `0.3`, not `0.30000000000000004`.

use std::fmt::{self, Write};

/// Round axis ticks for the values in `[min, max]`: about `count` ticks (at least 2) spaced by 1,
/// 2 or 5 times a power of ten, the first at or below `min` and the last at or above `max`, so
/// the ticks cover the range and make a good axis domain.
///
/// The bounds may come in either order. When they are equal (or nearly, relative to their size)
/// the range is widened by 10% of the value each way (by 1 around 0). A non-finite bound is
/// ignored, as if it were equal to the other; with no finite bound there are no ticks.
pub fn nice_ticks(min: f64, max: f64, count: usize) -> Vec<f64> {
    let (low, high) = match (min.is_finite(), max.is_finite()) {
        (true, true) => (min.min(max), min.max(max)),
        (true, false) => (min, min),
        (false, true) => (max, max),
        (false, false) => return Vec::new(),
    };
    let (low, high) = widen_if_degenerate(low, high);
    let intervals = count.max(2) - 1;
    // Dividing before subtracting keeps the step finite for bounds near ±f64::MAX.
    let raw_step = high / intervals as f64 - low / intervals as f64;
    let Some(step) = NiceStep::near(raw_step) else { return vec![low, high] };
    let first = (low / step.value()).floor();
    let last = (high / step.value()).ceil();
    // Past a thousand ticks the multiples have lost precision; the bounds are the best answer.
    if !(first.is_finite() && last.is_finite()) || last - first > 1000.0 {
        return vec![low, high];
    }
    let ticks: Vec<f64> = (first as i64..=last as i64).map(|multiple| step.multiple(multiple)).collect();
    if ticks.iter().all(|tick| tick.is_finite()) { ticks } else { vec![low, high] }
}

/// Widens an empty or vanishing range, which has no meaningful step of its own.
fn widen_if_degenerate(low: f64, high: f64) -> (f64, f64) {
    let magnitude = low.abs().max(high.abs());
    if high - low > magnitude * 1e-12 {
        return (low, high);
    }
    let center = low / 2.0 + high / 2.0;
    let padding = if center == 0.0 { 1.0 } else { center.abs() * 0.1 };
    (center - padding, center + padding)
}

/// A step of `mantissa` × 10^`exponent`, `mantissa` being 1, 2 or 5.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NiceStep {
    mantissa: i64,
    exponent: i32,
}

impl NiceStep {
    /// The nice step nearest to `raw` (Heckbert's rounding: 1 up to 1.5, 2 up to 3, 5 up to 7).
    fn near(raw: f64) -> Option<NiceStep> {
        if !(raw.is_finite() && raw > 0.0) {
            return None;
        }
        let mut exponent = raw.log10().floor() as i32;
        let mut fraction = raw / power_of_ten(exponent);
        // log10 may round across a power of ten; correct the exponent so 1 <= fraction < 10.
        if fraction >= 10.0 {
            exponent += 1;
            fraction /= 10.0;
        } else if fraction < 1.0 {
            exponent -= 1;
            fraction *= 10.0;
        }
        let (mantissa, exponent) = match fraction {
            fraction if fraction < 1.5 => (1, exponent),
            fraction if fraction < 3.0 => (2, exponent),
            fraction if fraction < 7.0 => (5, exponent),
            _ => (1, exponent + 1),
        };
        // Steps below the normal range cannot be divided exactly; callers fall back to the bounds.
        if !(-290..=300).contains(&exponent) {
            return None;
        }
        Some(NiceStep { mantissa, exponent })
    }

    fn value(self) -> f64 {
        self.multiple(1)
    }

    /// `multiple` steps, computed so that the result is the double nearest the decimal value.
    fn multiple(self, multiple: i64) -> f64 {
        let units = (multiple * self.mantissa) as f64;
        if self.exponent >= 0 { units * power_of_ten(self.exponent) } else { units / power_of_ten(-self.exponent) }
    }
}

/// 10^exponent; exact up to 10^22, which covers every step whose division must be exact.
fn power_of_ten(exponent: i32) -> f64 {
    10f64.powi(exponent)
}

/// Decade ticks for a log axis over the positive values `[min, max]`: the exponents of the first
/// and the last tick and the stride between ticks, in decades. At most about `count` ticks; the
/// range always spans at least two decades' worth of ticks (one decade each side of a single
/// decade's values).
pub(crate) fn log_decades(min: f64, max: f64, count: usize) -> (i32, i32, i32) {
    debug_assert!(min > 0.0 && max >= min);
    let mut low = (min.log10().floor() as i32).max(-307);
    let mut high = (max.log10().ceil() as i32).min(308);
    if high <= low {
        low -= 1;
        high = low + 2;
    }
    let intervals = (count.max(2) - 1) as i32;
    let decades = high - low;
    let stride = (decades + intervals - 1) / intervals;
    // The last tick is a whole number of strides above the first, at or above `high`.
    let high = low + (decades + stride - 1) / stride * stride;
    (low, high.min(308), stride)
}

/// 10^exponent as an axis value, exact for the decades a chart shows.
pub(crate) fn decade(exponent: i32) -> f64 {
    if exponent >= 0 { power_of_ten(exponent) } else { 1.0 / power_of_ten(-exponent) }
}

/// A compact label for a number: 4 significant digits, trailing zeros trimmed, and scientific
/// notation from 1e6 up and below 0.001 (`0.001`, `12.5`, `1500`, `1.2e6`, `2.5e-5`). NaN and
/// infinities read `NaN`, `inf` and `-inf`.
pub fn format_number(value: f64) -> String {
    let mut label = String::new();
    write_significant(&mut label, value, 4);
    label
}

/// The number of significant digits that tell ticks `step` apart on an axis whose largest tick
/// magnitude is `magnitude`: at least 4, so round values read naturally, at most 17.
pub(crate) fn tick_digits(magnitude: f64, step: f64) -> usize {
    if !(magnitude.is_finite() && magnitude > 0.0 && step.is_finite() && step > 0.0) {
        return 4;
    }
    let needed = magnitude.log10().floor() - step.log10().floor() + 1.0;
    (needed.max(4.0) as usize).min(17)
}

/// Writes `value` with `digits` significant digits (see [`format_number`]), without allocating.
pub(crate) fn write_significant(out: &mut impl Write, value: f64, digits: usize) {
    if !value.is_finite() {
        let text = if value.is_nan() {
            "NaN"
        } else if value > 0.0 {
            "inf"
        } else {
            "-inf"
        };
        let _ = out.write_str(text);
        return;
    }
    if value == 0.0 {
        let _ = out.write_str("0");
        return;
    }
    let digits = digits.clamp(1, 17);
    // Scientific formatting rounds the mantissa and reports the exponent of the rounded value.
    let mut scientific = StackText::new();
    if write!(scientific, "{:.*e}", digits - 1, value).is_err() {
        let _ = write!(out, "{value:e}");
        return;
    }
    let (mantissa, exponent) = scientific.as_str().split_once('e').unwrap_or((scientific.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if !(-3..6).contains(&exponent) {
        let _ = write!(out, "{}e{exponent}", trim_fraction(mantissa));
        return;
    }
    let decimals = (digits as i32 - 1 - exponent).max(0) as usize;
    let mut plain = StackText::new();
    if write!(plain, "{value:.decimals$}").is_err() {
        let _ = write!(out, "{value}");
        return;
    }
    let _ = out.write_str(trim_fraction(plain.as_str()));
}

/// Trims trailing zeros after a decimal point, and the point if nothing follows it.
fn trim_fraction(number: &str) -> &str {
    if !number.contains('.') {
        return number;
    }
    number.trim_end_matches('0').trim_end_matches('.')
}

/// Writes `value` so that it reads back as the same double in Rust and in JavaScript
/// (`Number(text)`): the shortest round-trip form, with JavaScript's `Infinity` spelling.
pub(crate) fn write_exact(out: &mut impl Write, value: f64) {
    let magnitude = value.abs();
    let _ = if value.is_nan() {
        out.write_str("NaN")
    } else if value.is_infinite() {
        out.write_str(if value > 0.0 { "Infinity" } else { "-Infinity" })
    } else if value == 0.0 {
        out.write_str("0")
    } else if (1e-6..1e21).contains(&magnitude) {
        write!(out, "{value}")
    } else {
        write!(out, "{value:e}")
    };
}

/// A small fixed buffer to format one number into without allocating.
pub(crate) struct StackText {
    bytes: [u8; 64],
    length: usize,
}

impl StackText {
    pub(crate) fn new() -> Self {
        StackText { bytes: [0; 64], length: 0 }
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only whole `&str`s are ever copied in, so the bytes are valid UTF-8.
        std::str::from_utf8(&self.bytes[..self.length]).unwrap_or("")
    }
}

impl Write for StackText {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let end = self.length + text.len();
        let Some(target) = self.bytes.get_mut(self.length..end) else { return Err(fmt::Error) };
        target.copy_from_slice(text.as_bytes());
        self.length = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_exact(value: f64, expected: &str) {
        let mut text = String::new();
        write_exact(&mut text, value);
        assert_eq!(text, expected, "exact form of {value:?}");
        if value.is_finite() {
            assert_eq!(text.parse::<f64>().ok(), Some(value), "{text} does not read back");
        }
    }

    #[test]
    fn exact_numbers_read_back() {
        check_exact(0.0, "0");
        check_exact(-0.0, "0");
        check_exact(1.0, "1");
        check_exact(0.1, "0.1");
        check_exact(0.30000000000000004, "0.30000000000000004");
        check_exact(1712345678901.0, "1712345678901");
        check_exact(1e21, "1e21");
        check_exact(1.5e-7, "1.5e-7");
        check_exact(-2.5, "-2.5");
        check_exact(f64::MAX, "1.7976931348623157e308");
        check_exact(f64::INFINITY, "Infinity");
        check_exact(f64::NEG_INFINITY, "-Infinity");
        check_exact(f64::NAN, "NaN");
    }

    fn check_significant(value: f64, digits: usize, expected: &str) {
        let mut text = String::new();
        write_significant(&mut text, value, digits);
        assert_eq!(text, expected, "{value:?} to {digits} significant digits");
    }

    #[test]
    fn significant_digits_round_and_trim() {
        check_significant(0.123456789, 6, "0.123457");
        check_significant(9999.96, 4, "10000");
        check_significant(99999.6, 6, "99999.6");
        check_significant(999999.6, 6, "1e6");
        check_significant(1712345678901.0, 13, "1.712345678901e12");
        check_significant(0.00099996, 4, "0.001");
        check_significant(5.0, 1, "5");
        check_significant(-1234.5678, 6, "-1234.57");
    }

    fn check_digits(magnitude: f64, step: f64, expected: usize) {
        assert_eq!(tick_digits(magnitude, step), expected, "digits for ticks {step} apart up to {magnitude}");
    }

    #[test]
    fn tick_digits_tell_neighbouring_ticks_apart() {
        check_digits(1.0, 0.2, 4);
        check_digits(1712345700000.0, 100000.0, 8);
        check_digits(1.0005, 0.0001, 5);
        check_digits(0.0, 1.0, 4);
        check_digits(1e300, 1e-300, 17);
    }

    fn check_decades(min: f64, max: f64, count: usize, expected: (i32, i32, i32)) {
        assert_eq!(log_decades(min, max, count), expected, "decades for [{min}, {max}] in about {count} ticks");
    }

    #[test]
    fn log_decades_cover_the_values() {
        check_decades(1.0, 10.0, 5, (0, 1, 1));
        check_decades(0.5, 0.6, 5, (-1, 0, 1));
        check_decades(100.0, 100.0, 5, (1, 3, 1));
        check_decades(0.003, 2000.0, 5, (-3, 5, 2));
        check_decades(1e-300, 1e300, 4, (-300, 300, 200));
        check_decades(f64::MIN_POSITIVE, f64::MAX, 5, (-307, 308, 154));
    }
}

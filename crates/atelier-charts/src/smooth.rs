//! Exponential moving average, as TensorBoard draws it.

use crate::Point;

/// The largest weight used: a weight of 1 or more would freeze the average at its start, so it
/// is lowered to TensorBoard's slider maximum.
const MAX_WEIGHT: f64 = 0.999;

/// Exponential moving average as TensorBoard draws it (debiased: the first smoothed values are
/// not pulled toward 0), `weight` in [0, 1): 0 returns the input.
///
/// x values are kept. Points whose y is not finite (NaN gaps, ±inf) are passed through unchanged
/// and do not enter the average, so gaps survive smoothing. A series whose finite values are all
/// equal is returned unchanged, so that rounding cannot make a constant curve wobble. A NaN or
/// negative weight counts as 0, and a weight of 1 or more as 0.999.
pub fn smooth_ema(points: &[Point], weight: f64) -> Vec<Point> {
    let weight = if weight.is_nan() || weight <= 0.0 { 0.0 } else { weight.min(MAX_WEIGHT) };
    if weight == 0.0 || is_constant(points) {
        return points.to_vec();
    }
    let mut average = 0.0;
    // `weight_power` is weight^n after n accumulated values; keeping it as a running product
    // avoids `powi` overflowing its exponent on long series and underflows gracefully to 0.
    let mut weight_power = 1.0;
    points
        .iter()
        .map(|point| {
            if !point.y.is_finite() {
                return *point;
            }
            average = average * weight + (1.0 - weight) * point.y;
            weight_power *= weight;
            // Starting from 0, the average after n values carries only 1 - weight^n of their mass;
            // dividing by it removes the pull toward 0.
            Point { x: point.x, y: average / (1.0 - weight_power) }
        })
        .collect()
}

/// Whether all finite y values are equal (vacuously true when there are none).
fn is_constant(points: &[Point]) -> bool {
    let mut finite = points.iter().map(|point| point.y).filter(|y| y.is_finite());
    match finite.next() {
        Some(first) => finite.all(|y| y == first),
        None => true,
    }
}

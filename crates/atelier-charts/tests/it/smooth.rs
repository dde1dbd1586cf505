//! TensorBoard's debiased exponential moving average.

use crate::common::steps;
use atelier_charts::{Point, smooth_ema};
use proptest::prelude::*;

fn check(ys: &[f64], weight: f64, expected: &[f64]) {
    let smoothed: Vec<f64> = smooth_ema(&steps(ys), weight).iter().map(|point| point.y).collect();
    assert_eq!(smoothed.len(), expected.len(), "{ys:?} smoothed by {weight}");
    for (found, wanted) in smoothed.iter().zip(expected) {
        let same = found == wanted
            || (found.is_nan() && wanted.is_nan())
            || (found - wanted).abs() <= 1e-12 * wanted.abs().max(1.0);
        assert!(same, "{ys:?} smoothed by {weight}: got {smoothed:?}, expected {expected:?}");
    }
}

#[test]
fn examples_match_tensorboard() {
    // By hand: averages 0.5, 1.25, 2.125 over masses 0.5, 0.75, 0.875.
    check(&[1.0, 2.0, 3.0], 0.5, &[1.0, 1.25 / 0.75, 2.125 / 0.875]);
    check(&[10.0, 0.0], 0.9, &[10.0, 0.9 / 0.19]);
    check(&[], 0.6, &[]);
    // Gaps and infinities pass through and do not enter the average.
    check(&[1.0, f64::NAN, 2.0], 0.5, &[1.0, f64::NAN, 1.25 / 0.75]);
    check(&[1.0, f64::INFINITY, 2.0], 0.5, &[1.0, f64::INFINITY, 1.25 / 0.75]);
    // Out-of-range weights: NaN and negatives mean no smoothing, 1 and more mean 0.999.
    check(&[1.0, 2.0], f64::NAN, &[1.0, 2.0]);
    check(&[1.0, 2.0], -0.5, &[1.0, 2.0]);
    check(&[1.0, 2.0], 1.0, &[1.0, (0.999 * 0.001 + 0.001 * 2.0) / (1.0 - 0.999 * 0.999)]);
}

fn series() -> impl Strategy<Value = Vec<Point>> {
    let y = prop_oneof![10 => -1e6..1e6f64, 1 => Just(f64::NAN)];
    prop::collection::vec(y, 0..300).prop_map(|ys| steps(&ys))
}

proptest! {
    #[test]
    fn weight_zero_is_the_identity(points in series()) {
        let smoothed = smooth_ema(&points, 0.0);
        prop_assert_eq!(format!("{smoothed:?}"), format!("{points:?}"));
    }

    #[test]
    fn a_constant_series_stays_constant(value in -1e6..1e6f64, length in 0usize..300, weight in 0.0..1.0f64, gap in 0usize..300) {
        let mut points = steps(&vec![value; length]);
        if gap < length {
            points[gap].y = f64::NAN;
        }
        let smoothed = smooth_ema(&points, weight);
        prop_assert!(smoothed.iter().zip(&points).all(|(found, given)| found.y.to_bits() == given.y.to_bits()));
    }

    #[test]
    fn debiasing_starts_at_the_first_value_and_stays_within_the_values(points in series(), weight in 0.0..0.9999f64) {
        let smoothed = smooth_ema(&points, weight);
        prop_assert_eq!(smoothed.len(), points.len());
        prop_assert!(smoothed.iter().zip(&points).all(|(found, given)| found.x == given.x));
        let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
        for (found, given) in smoothed.iter().zip(&points) {
            if given.y.is_nan() {
                prop_assert!(found.y.is_nan());
                continue;
            }
            if low == f64::INFINITY {
                // Not pulled toward 0: the first smoothed value is the first value.
                prop_assert!((found.y - given.y).abs() <= 1e-9 * given.y.abs().max(1.0), "first {} from {}", found.y, given.y);
            }
            low = low.min(given.y);
            high = high.max(given.y);
            // A debiased average of the values so far lies between their extremes.
            let slack = 1e-9 * low.abs().max(high.abs()).max(1.0);
            prop_assert!(found.y >= low - slack && found.y <= high + slack, "{} outside [{}, {}]", found.y, low, high);
        }
    }
}

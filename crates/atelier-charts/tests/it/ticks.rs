//! Nice ticks and number labels.

use atelier_charts::{format_number, nice_ticks};
use proptest::prelude::*;

fn check(min: f64, max: f64, count: usize, expected: &[f64]) {
    assert_eq!(nice_ticks(min, max, count), expected, "ticks for [{min}, {max}], about {count}");
}

#[test]
fn ticks_step_by_one_two_or_five() {
    check(0.0, 1.0, 5, &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
    check(0.0, 100.0, 5, &[0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
    check(0.13, 0.87, 5, &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
    check(-3.0, 7.0, 3, &[-5.0, 0.0, 5.0, 10.0]);
    check(0.1, 0.3, 3, &[0.1, 0.2, 0.3]);
    check(1.0, 0.0, 2, &[0.0, 1.0]);
    check(2.0e-7, 9.1e-7, 4, &[2e-7, 4e-7, 6e-7, 8e-7, 1e-6]);
    check(
        1_712_345_678_901.0,
        1_712_345_999_999.0,
        5,
        &[1_712_345_600_000.0, 1_712_345_700_000.0, 1_712_345_800_000.0, 1_712_345_900_000.0, 1_712_346_000_000.0],
    );
}

#[test]
fn equal_bounds_are_widened() {
    check(5.0, 5.0, 5, &[4.4, 4.6, 4.8, 5.0, 5.2, 5.4, 5.6]);
    check(0.0, 0.0, 5, &[-1.0, -0.5, 0.0, 0.5, 1.0]);
    check(-2.0, -2.0, 3, &[-2.2, -2.0, -1.8]);
}

#[test]
fn non_finite_bounds_are_ignored() {
    check(f64::NAN, 1.0, 5, &[0.9, 0.95, 1.0, 1.05, 1.1]);
    check(1.0, f64::INFINITY, 5, &[0.9, 0.95, 1.0, 1.05, 1.1]);
    check(f64::NAN, f64::NAN, 5, &[]);
    check(f64::INFINITY, f64::NEG_INFINITY, 5, &[]);
}

#[test]
fn tiny_counts_mean_two_ticks() {
    check(0.0, 10.0, 0, &[0.0, 10.0]);
    check(0.0, 10.0, 1, &[0.0, 10.0]);
}

/// Whether `value` is m × 10^k for m in {1, 2, 5}, up to rounding.
fn is_nice_step(step: f64) -> bool {
    let exponent = step.log10().floor();
    let mantissa = step / 10f64.powf(exponent);
    [1.0, 2.0, 5.0, 10.0].iter().any(|nice| (mantissa - nice).abs() < 1e-9)
}

proptest! {
    #[test]
    fn ticks_are_round_evenly_spaced_and_cover_the_range(
        a in -1e12..1e12f64,
        width in prop_oneof![Just(0.0), 1e-9..1e12f64],
        count in 2usize..12,
    ) {
        let (min, max) = (a, a + width);
        let ticks = nice_ticks(min, max, count);
        prop_assert!(ticks.len() >= 2, "{:?}", ticks);
        prop_assert!(ticks.len() <= 2 * count + 2, "{} ticks for about {}: {:?}", ticks.len(), count, ticks);
        prop_assert!(ticks[0] <= min && ticks[ticks.len() - 1] >= max, "{:?} does not cover [{}, {}]", ticks, min, max);
        let step = ticks[1] - ticks[0];
        prop_assert!(step > 0.0);
        prop_assert!(is_nice_step(step), "step {} is not 1, 2 or 5 times a power of ten", step);
        for pair in ticks.windows(2) {
            prop_assert!(((pair[1] - pair[0]) - step).abs() <= step * 1e-6, "uneven ticks {:?}", ticks);
        }
        for tick in &ticks {
            let multiple = tick / step;
            prop_assert!((multiple - multiple.round()).abs() < 1e-6, "{} is not a multiple of {}", tick, step);
        }
    }

    #[test]
    fn any_bounds_give_finite_sorted_ticks(min in any::<f64>(), max in any::<f64>(), count in 0usize..20) {
        let ticks = nice_ticks(min, max, count);
        prop_assert!(ticks.iter().all(|tick| tick.is_finite()));
        prop_assert!(ticks.windows(2).all(|pair| pair[0] < pair[1]), "{:?}", ticks);
        prop_assert_eq!(ticks.is_empty(), !min.is_finite() && !max.is_finite());
    }
}

fn check_format(value: f64, expected: &str) {
    assert_eq!(format_number(value), expected, "label of {value:?}");
}

#[test]
fn labels_are_compact() {
    check_format(0.0, "0");
    check_format(-0.0, "0");
    check_format(0.001, "0.001");
    check_format(12.5, "12.5");
    check_format(1.2e6, "1.2e6");
    check_format(1500.0, "1500");
    check_format(-0.5, "-0.5");
    check_format(0.1 + 0.2, "0.3");
    check_format(1e-4, "1e-4");
    check_format(2.5e-5, "2.5e-5");
    check_format(123_456.0, "123456");
    check_format(1_234_567.0, "1.235e6");
    check_format(0.123_456, "0.1235");
    check_format(999_999.0, "1e6");
    check_format(f64::NAN, "NaN");
    check_format(f64::INFINITY, "inf");
    check_format(f64::NEG_INFINITY, "-inf");
    check_format(f64::MAX, "1.798e308");
    check_format(5e-324, "4.941e-324");
}

//! The min/max envelope through the public API.

use crate::common::steps;
use atelier_charts::{Downsampled, Point, downsample_envelope, downsample_envelope_detailed};

fn check(ys: &[f64], buckets: usize, expected: &[(f64, f64)]) {
    let expected: Vec<Point> = expected.iter().map(|(x, y)| Point::new(*x, *y)).collect();
    assert_eq!(downsample_envelope(&steps(ys), buckets), expected, "{ys:?} in {buckets} buckets");
}

#[test]
fn small_series_are_kept_whole() {
    check(&[], 10, &[]);
    check(&[5.0], 10, &[(0.0, 5.0)]);
    check(&[1.0, 2.0, 3.0, 4.0], 1, &[(0.0, 1.0), (1.0, 2.0), (2.0, 3.0), (3.0, 4.0)]);
    check(&[1.0, f64::NAN, 3.0], 10, &[(0.0, 1.0), (2.0, 3.0)]);
}

#[test]
fn buckets_keep_their_extremes_in_x_order() {
    // Two buckets over x 0..=9: steps 0-4 and 5-9.
    check(
        &[5.0, 9.0, 1.0, 5.0, 5.0, 5.0, -3.0, 5.0, 8.0, 5.0],
        2,
        &[(0.0, 5.0), (1.0, 9.0), (2.0, 1.0), (6.0, -3.0), (8.0, 8.0), (9.0, 5.0)],
    );
    // The maximum comes before the minimum within a bucket; order is by x, not by role.
    check(&[0.0, 7.0, 0.0, 0.0, -7.0, 0.0, 0.0, 0.0], 1, &[(0.0, 0.0), (1.0, 7.0), (4.0, -7.0), (7.0, 0.0)]);
    // Infinities are values like any other.
    check(
        &[0.0, 1.0, f64::INFINITY, 1.0, f64::NEG_INFINITY, 1.0, 1.0, 0.0],
        1,
        &[(0.0, 0.0), (2.0, f64::INFINITY), (4.0, f64::NEG_INFINITY), (7.0, 0.0)],
    );
}

#[test]
fn zero_buckets_keep_the_ends() {
    check(&[3.0, 1.0, 4.0, 1.0, 5.0], 0, &[(0.0, 3.0), (4.0, 5.0)]);
}

#[test]
fn dropped_points_are_counted() {
    let mut points = steps(&[1.0, f64::NAN, 2.0, f64::NAN, 3.0]);
    points.push(Point::new(f64::INFINITY, 4.0));
    points.push(Point::new(f64::NAN, 4.0));
    let kept = vec![Point::new(0.0, 1.0), Point::new(2.0, 2.0), Point::new(4.0, 3.0)];
    let expected = Downsampled { points: kept, dropped: 4 };
    assert_eq!(downsample_envelope_detailed(&points, 10), expected);
    let all_nan = steps(&[f64::NAN; 5]);
    assert_eq!(downsample_envelope_detailed(&all_nan, 10), Downsampled { points: Vec::new(), dropped: 5 });
}

#[test]
fn a_single_spike_among_a_million_flat_points_survives() {
    let buckets = 500;
    for spike_at in [0, 1, 123_457, 500_000, 999_998, 999_999] {
        for spike in [1e9, -1e9, f64::INFINITY] {
            let mut points = steps(&vec![1.0; 1_000_000]);
            points[spike_at].y = spike;
            let kept = downsample_envelope(&points, buckets);
            assert!(kept.len() <= 2 * buckets + 2, "{} points kept", kept.len());
            assert!(
                kept.contains(&Point::new(spike_at as f64, spike)),
                "the spike {spike} at step {spike_at} was lost"
            );
            assert!(kept.windows(2).all(|pair| pair[0].x < pair[1].x), "not strictly increasing in x");
            assert_eq!(kept.first(), points.first());
            assert_eq!(kept.last(), points.last());
        }
    }
}

#[test]
fn times_in_milliseconds_bucket_like_steps() {
    // Wall-clock x values: large numbers, uneven gaps.
    let start = 1_712_345_678_901.0;
    let points: Vec<Point> =
        (0..100_000).map(|index| Point::new(start + f64::from(index) * 37.0 + f64::from(index % 7), 0.5)).collect();
    let kept = downsample_envelope(&points, 100);
    assert!(kept.len() <= 202);
    assert_eq!(kept.first(), points.first());
    assert_eq!(kept.last(), points.last());
}

//! Min/max-envelope downsampling.
//!
//! A chart is a few hundred pixels wide, so drawing a million points wastes bytes and time, but
//! sampling every k-th point (what MLflow does) hides exactly the spikes that a user looks for.
//! Keeping the minimum and the maximum of each of `buckets` equal slices of the x range keeps
//! the visual envelope of the curve: every spike is the extreme of its bucket.

use crate::Point;

/// The result of [`downsample_envelope_detailed`]: the kept points and how many input points
/// could not be placed.
#[derive(Debug, Clone, PartialEq)]
pub struct Downsampled {
    /// The kept points, in x order.
    pub points: Vec<Point>,
    /// How many points were dropped because their y was NaN or their x was not finite.
    pub dropped: usize,
}

/// Downsamples a series (sorted by x) to at most `2 * buckets + 2` points so that a chart of
/// 1,000,000 points draws quickly and no spike is hidden: the x range is cut into `buckets` equal
/// buckets and, for every non-empty bucket, the points with the minimum and the maximum y are
/// kept (in x order), plus the first and last point of the series. NaN points are dropped, ±inf
/// treated as values. Returns the kept points in x order.
///
/// A series that already has at most `2 * buckets + 2` valid points is returned whole. Points
/// with a NaN y or a non-finite x are dropped; [`downsample_envelope_detailed`] counts them.
/// Because they are dropped, a gap in the input is bridged in the output.
pub fn downsample_envelope(points: &[Point], buckets: usize) -> Vec<Point> {
    downsample_envelope_detailed(points, buckets).points
}

/// [`downsample_envelope`], also counting the points that were dropped.
///
/// An input that is not sorted by x is accepted: buckets are found from each point's x, so
/// every bucket still keeps its extremes, and the output is sorted by x (stably). "First" and
/// "last" then mean the points with the lowest and the highest x.
pub fn downsample_envelope_detailed(points: &[Point], buckets: usize) -> Downsampled {
    let Some(survey) = Survey::of(points) else {
        return Downsampled { points: Vec::new(), dropped: points.len() };
    };
    let dropped = points.len() - survey.valid;
    let limit = buckets.saturating_mul(2).saturating_add(2);
    if survey.valid <= limit {
        let mut kept: Vec<Point> = points.iter().copied().filter(|point| is_valid(*point)).collect();
        if !survey.sorted {
            kept.sort_by(|left, right| left.x.total_cmp(&right.x));
        }
        return Downsampled { points: kept, dropped };
    }

    let mut kept_indices = Vec::with_capacity(limit);
    kept_indices.push(survey.first);
    kept_indices.push(survey.last);
    if buckets > 0 {
        let bucketing = Bucketing::new(survey.x_min, survey.x_max, buckets);
        // Each bucket remembers the index of its minimum and of its maximum; `EMPTY` marks a
        // bucket that no point fell into. Strict comparisons keep the first of equal extremes.
        let mut extremes = vec![Extremes::EMPTY; buckets];
        for (index, point) in points.iter().enumerate() {
            if !is_valid(*point) {
                continue;
            }
            let bucket = &mut extremes[bucketing.index(point.x)];
            if bucket.min == usize::MAX {
                *bucket = Extremes { min: index, max: index };
                continue;
            }
            if point.y < points[bucket.min].y {
                bucket.min = index;
            }
            if point.y > points[bucket.max].y {
                bucket.max = index;
            }
        }
        for bucket in extremes.iter().filter(|bucket| bucket.min != usize::MAX) {
            kept_indices.push(bucket.min);
            kept_indices.push(bucket.max);
        }
    }
    kept_indices.sort_unstable();
    kept_indices.dedup();
    debug_assert!(kept_indices.len() <= limit);

    let mut kept: Vec<Point> = kept_indices.into_iter().map(|index| points[index]).collect();
    if !survey.sorted {
        kept.sort_by(|left, right| left.x.total_cmp(&right.x));
    }
    Downsampled { points: kept, dropped }
}

/// Whether a point can be placed on a chart: a finite x and a y that is not NaN.
fn is_valid(point: Point) -> bool {
    point.x.is_finite() && !point.y.is_nan()
}

/// What one pass over the input learns before bucketing.
struct Survey {
    valid: usize,
    x_min: f64,
    x_max: f64,
    /// The index of the first valid point with the lowest x.
    first: usize,
    /// The index of the last valid point with the highest x.
    last: usize,
    /// Whether the valid points are sorted by x.
    sorted: bool,
}

impl Survey {
    /// Surveys the valid points; `None` when there are none.
    fn of(points: &[Point]) -> Option<Survey> {
        let mut survey: Option<Survey> = None;
        let mut previous_x = f64::NEG_INFINITY;
        for (index, point) in points.iter().enumerate() {
            if !is_valid(*point) {
                continue;
            }
            let survey = survey.get_or_insert(Survey {
                valid: 0,
                x_min: point.x,
                x_max: point.x,
                first: index,
                last: index,
                sorted: true,
            });
            survey.valid += 1;
            if point.x < previous_x {
                survey.sorted = false;
            }
            previous_x = point.x;
            if point.x < survey.x_min {
                survey.x_min = point.x;
                survey.first = index;
            }
            if point.x >= survey.x_max {
                survey.x_max = point.x;
                survey.last = index;
            }
        }
        survey
    }
}

/// The indices of a bucket's minimum and maximum.
#[derive(Clone, Copy)]
struct Extremes {
    min: usize,
    max: usize,
}

impl Extremes {
    const EMPTY: Extremes = Extremes { min: usize::MAX, max: usize::MAX };
}

/// Maps an x to one of `buckets` equal slices of `[x_min, x_max]`.
pub(crate) struct Bucketing {
    x_min_half: f64,
    half_span: f64,
    buckets: usize,
}

impl Bucketing {
    /// The caller guarantees finite bounds and at least one bucket.
    pub(crate) fn new(x_min: f64, x_max: f64, buckets: usize) -> Self {
        debug_assert!(x_min.is_finite() && x_max.is_finite() && x_min <= x_max && buckets > 0);
        // Halves keep the span finite even for x values near f64::MAX.
        Bucketing { x_min_half: x_min / 2.0, half_span: x_max / 2.0 - x_min / 2.0, buckets }
    }

    /// The bucket of `x`; the last bucket is closed, so `x_max` falls into it. Because halving and
    /// subtracting are monotonic, sorted x values get non-decreasing buckets.
    pub(crate) fn index(&self, x: f64) -> usize {
        if self.half_span <= 0.0 {
            return 0;
        }
        let fraction = (x / 2.0 - self.x_min_half) / self.half_span;
        // The cast saturates, so a fraction just below zero or above one still lands in range.
        let index = (fraction * self.buckets as f64) as usize;
        index.min(self.buckets - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check_buckets(x_min: f64, x_max: f64, buckets: usize, xs: &[f64], expected: &[usize]) {
        let bucketing = Bucketing::new(x_min, x_max, buckets);
        let found: Vec<usize> = xs.iter().map(|x| bucketing.index(*x)).collect();
        assert_eq!(found, expected, "buckets of {xs:?} in [{x_min}, {x_max}] cut {buckets} ways");
    }

    #[test]
    fn buckets_are_equal_slices_of_the_range() {
        check_buckets(0.0, 10.0, 5, &[0.0, 1.9, 2.0, 5.0, 9.99, 10.0], &[0, 0, 1, 2, 4, 4]);
        check_buckets(0.0, 10.0, 1, &[0.0, 5.0, 10.0], &[0, 0, 0]);
        check_buckets(7.0, 7.0, 4, &[7.0], &[0]);
        check_buckets(-100.0, 100.0, 4, &[-100.0, -50.0, -0.1, 0.0, 50.0, 100.0], &[0, 1, 1, 2, 3, 3]);
        check_buckets(-f64::MAX, f64::MAX, 2, &[-f64::MAX, -1e307, 1e307, f64::MAX], &[0, 0, 1, 1]);
    }

    fn series() -> impl Strategy<Value = Vec<Point>> {
        let y = prop_oneof![
            20 => -1e6..1e6f64,
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
            1 => Just(f64::NEG_INFINITY),
            2 => Just(0.0),
        ];
        // Steps with repeats and jumps, as logged metrics have.
        (prop::collection::vec((0u32..50, y), 0..400), -1000.0..1000.0f64).prop_map(|(steps, start)| {
            let mut x = start;
            steps
                .into_iter()
                .map(|(increment, y)| {
                    x += f64::from(increment) * 0.5;
                    Point::new(x, y)
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn every_bucket_keeps_its_min_and_max(points in series(), buckets in 0usize..80) {
            let result = downsample_envelope_detailed(&points, buckets);
            let output = &result.points;
            let valid: Vec<Point> = points.iter().copied().filter(|point| is_valid(*point)).collect();

            prop_assert_eq!(result.dropped, points.len() - valid.len());
            prop_assert!(output.len() <= 2 * buckets + 2, "{} points for {} buckets", output.len(), buckets);
            prop_assert!(output.windows(2).all(|pair| pair[0].x <= pair[1].x), "not sorted by x: {:?}", output);
            prop_assert!(output.iter().all(|point| is_valid(*point)));
            // Every kept point is an input point, in input order.
            let mut remaining = valid.iter();
            for point in output {
                prop_assert!(remaining.any(|candidate| candidate == point), "{:?} is not an input point", point);
            }
            if let (Some(first), Some(last)) = (valid.first(), valid.last()) {
                prop_assert_eq!(output.first(), Some(first));
                prop_assert_eq!(output.last(), Some(last));
            }
            if buckets == 0 || valid.is_empty() {
                return Ok(());
            }
            let x_min = valid[0].x;
            let x_max = valid[valid.len() - 1].x;
            let bucketing = Bucketing::new(x_min, x_max, buckets);
            for bucket in 0..buckets {
                let in_bucket = |point: &&Point| bucketing.index(point.x) == bucket;
                let ys = valid.iter().filter(in_bucket).map(|point| point.y);
                let Some(min) = ys.clone().reduce(f64::min) else { continue };
                let Some(max) = ys.reduce(f64::max) else { continue };
                let kept: Vec<f64> = output.iter().filter(in_bucket).map(|point| point.y).collect();
                prop_assert!(kept.contains(&min), "bucket {} lost its min {}: kept {:?}", bucket, min, kept);
                prop_assert!(kept.contains(&max), "bucket {} lost its max {}: kept {:?}", bucket, max, kept);
            }
        }

        #[test]
        fn unsorted_input_gives_sorted_output_with_the_same_extremes(
            mut points in series(),
            buckets in 1usize..40,
            seed in any::<u64>(),
        ) {
            let sorted = downsample_envelope(&points, buckets);
            // A deterministic shuffle: rotate and reverse halves.
            let length = points.len().max(1);
            points.rotate_left((seed as usize) % length);
            points[..length / 2].reverse();
            let shuffled = downsample_envelope(&points, buckets);
            prop_assert!(shuffled.windows(2).all(|pair| pair[0].x <= pair[1].x));
            prop_assert!(shuffled.len() <= 2 * buckets + 2);
            let extreme = |series: &[Point], pick: fn(f64, f64) -> f64| series.iter().map(|point| point.y).reduce(pick);
            prop_assert_eq!(extreme(&sorted, f64::min), extreme(&shuffled, f64::min));
            prop_assert_eq!(extreme(&sorted, f64::max), extreme(&shuffled, f64::max));
        }
    }
}

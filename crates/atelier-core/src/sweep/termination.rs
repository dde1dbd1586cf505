//! Early termination: Azure ML's three policies, as pure decisions over the primary metric's
//! reports.
//!
//! Each value a trial logs for the sweep's primary metric is one *interval*: its N-th report is
//! interval N. After a trial's N-th report the policy is applied when `N` is a multiple of
//! `evaluation_interval` (a missing or 0 interval counts as 1) and `N >= delay_evaluation`. Peers
//! are compared at the same interval: a younger trial is measured against the values older trials
//! had reported by their own interval N, so no trial is punished for having run less.

use super::Goal;

/// When a policy is applied (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Schedule {
    pub evaluation_interval: u32,
    pub delay_evaluation: u32,
}

impl Schedule {
    /// Whether the policy is applied after a trial's `interval`-th report.
    pub fn applies_at(&self, interval: usize) -> bool {
        let every = self.evaluation_interval.max(1) as usize;
        interval > 0 && interval.is_multiple_of(every) && interval >= self.delay_evaluation as usize
    }
}

/// How far behind the best a trial may fall under the bandit policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Slack {
    /// A ratio: when maximizing, a trial survives while `y * (1 + factor) >= best`.
    Factor(f64),
    /// A distance: when maximizing, a trial survives while `y + amount >= best`.
    Amount(f64),
}

/// An early-termination policy (`early_termination` of a sweep job).
#[derive(Debug, Clone, PartialEq)]
pub enum Policy {
    /// Cancels a trial whose best value so far is not within the slack of the best trial's.
    Bandit { slack: Slack, schedule: Schedule },
    /// Cancels a trial whose best value so far is worse than the median of the peers' running
    /// averages over the same intervals.
    MedianStopping { schedule: Schedule },
    /// Cancels a trial that ranks in the worst `percentage` % of the trials at this interval.
    TruncationSelection { percentage: u32, exclude_finished: bool, schedule: Schedule },
}

impl Policy {
    pub fn schedule(&self) -> Schedule {
        match self {
            Policy::Bandit { schedule, .. }
            | Policy::MedianStopping { schedule }
            | Policy::TruncationSelection { schedule, .. } => *schedule,
        }
    }

    /// The policy's name in the sweep file (`bandit`, `median_stopping`, `truncation_selection`).
    pub fn name(&self) -> &'static str {
        match self {
            Policy::Bandit { .. } => "bandit",
            Policy::MedianStopping { .. } => "median_stopping",
            Policy::TruncationSelection { .. } => "truncation_selection",
        }
    }
}

/// Another trial of the sweep, as the policy sees it: its reports of the primary metric, in
/// order, and whether it has ended.
#[derive(Debug, Clone, Copy)]
pub struct Peer<'a> {
    pub reports: &'a [f64],
    pub finished: bool,
}

/// Why a trial is canceled: the policy's comparison, as the trial's status reason shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Termination {
    pub interval: usize,
    pub reason: String,
}

/// Applies `policy` after the trial's latest report (`reports` holds all of them, in order),
/// given its peers (the sweep's other trials). `None`: the trial goes on, because the policy is
/// not applied at this interval, no peer can be compared yet, or the trial is good enough.
/// Reports that are not numbers (NaN) are never the best and never counted as good.
pub fn evaluate(policy: &Policy, goal: Goal, reports: &[f64], peers: &[Peer<'_>]) -> Option<Termination> {
    let interval = reports.len();
    if !policy.schedule().applies_at(interval) {
        return None;
    }
    let own_best = goal.best(&reports[..interval])?;
    // Peers that have reached this interval, as they were at it.
    let reached = peers.iter().filter(|peer| peer.reports.len() >= interval).map(|peer| &peer.reports[..interval]);
    let terminate = |reason: String| Termination { interval, reason };
    match policy {
        Policy::Bandit { slack, .. } => {
            let best = reached
                .filter_map(|reports| goal.best(reports))
                .fold(own_best, |best, value| if goal.is_better(value, best) { value } else { best });
            let (threshold, spelled) = match (goal, slack) {
                (Goal::Maximize, Slack::Factor(factor)) => (best / (1.0 + factor), "<"),
                (Goal::Maximize, Slack::Amount(amount)) => (best - amount, "<"),
                (Goal::Minimize, Slack::Factor(factor)) => (best * (1.0 + factor), ">"),
                (Goal::Minimize, Slack::Amount(amount)) => (best + amount, ">"),
            };
            goal.is_better(threshold, own_best).then(|| {
                terminate(format!("bandit: {} {spelled} {} at interval {interval}", short(own_best), short(threshold)))
            })
        }
        Policy::MedianStopping { .. } => {
            let mut averages: Vec<f64> = reached
                .filter_map(|reports| {
                    let numbers: Vec<f64> = reports.iter().copied().filter(|value| !value.is_nan()).collect();
                    (!numbers.is_empty()).then(|| numbers.iter().sum::<f64>() / numbers.len() as f64)
                })
                .collect();
            if averages.is_empty() {
                return None;
            }
            averages.sort_by(f64::total_cmp);
            let middle = averages.len() / 2;
            let median = if averages.len() % 2 == 1 {
                averages[middle]
            } else {
                (averages[middle - 1] + averages[middle]) / 2.0
            };
            let spelled = if goal == Goal::Maximize { "<" } else { ">" };
            goal.is_better(median, own_best).then(|| {
                terminate(format!(
                    "median_stopping: {} {spelled} median {} at interval {interval}",
                    short(own_best),
                    short(median)
                ))
            })
        }
        Policy::TruncationSelection { percentage, exclude_finished, .. } => {
            let own = reports[interval - 1];
            let mut values: Vec<f64> = peers
                .iter()
                .filter(|peer| !(*exclude_finished && peer.finished) && peer.reports.len() >= interval)
                .map(|peer| peer.reports[interval - 1])
                .collect();
            values.push(own);
            let cut = values.len() * (*percentage as usize) / 100;
            // The trial's rank from the worst: how many trials did strictly worse at this interval.
            let worse = values.iter().filter(|value| goal.is_better(own, **value) || value.is_nan()).count();
            (own.is_nan() || worse < cut).then(|| {
                terminate(format!(
                    "truncation_selection: {} is in the worst {percentage}% of {} trials at interval {interval}",
                    short(own),
                    values.len()
                ))
            })
        }
    }
}

/// A value as a reason shows it: four significant digits.
fn short(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return value.to_string();
    }
    let digits = 3 - value.abs().log10().floor() as i32;
    if digits <= 0 {
        return format!("{value:.0}");
    }
    let text = format!("{value:.*}", digits as usize);
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every(evaluation_interval: u32, delay_evaluation: u32) -> Schedule {
        Schedule { evaluation_interval, delay_evaluation }
    }

    fn peers(reports: &[&'static [f64]]) -> Vec<Peer<'static>> {
        reports.iter().map(|reports| Peer { reports, finished: false }).collect()
    }

    #[test]
    fn a_policy_applies_at_multiples_of_its_interval_from_its_delay() {
        let cases: &[(Schedule, &[usize], &[usize])] = &[
            // (schedule, intervals where it applies, intervals where it does not)
            (every(1, 0), &[1, 2, 3, 10], &[0]),
            (every(0, 0), &[1, 2, 3], &[0]), // a missing or 0 interval counts as 1
            (every(2, 0), &[2, 4, 6], &[1, 3, 5]),
            (every(1, 5), &[5, 6, 7], &[1, 2, 3, 4]),
            (every(3, 5), &[6, 9, 12], &[3, 4, 5, 7, 8]),
        ];
        for (schedule, applies, skips) in cases {
            for interval in *applies {
                assert!(schedule.applies_at(*interval), "{schedule:?} at {interval}");
            }
            for interval in *skips {
                assert!(!schedule.applies_at(*interval), "{schedule:?} at {interval}");
            }
        }
    }

    #[test]
    fn bandit_follows_azures_formulas() {
        let factor = Policy::Bandit { slack: Slack::Factor(0.2), schedule: every(1, 0) };
        let amount = Policy::Bandit { slack: Slack::Amount(0.2), schedule: every(1, 0) };
        // Azure's example: best 0.8 with slack_factor 0.2 cancels below 0.8/1.2 = 0.667; with
        // slack_amount 0.2, below 0.6.
        let best: &'static [f64] = &[0.8];
        let cases: &[(&Policy, Goal, &[f64], bool)] = &[
            (&factor, Goal::Maximize, &[0.66], true),
            (&factor, Goal::Maximize, &[0.67], false),
            (&amount, Goal::Maximize, &[0.59], true),
            (&amount, Goal::Maximize, &[0.61], false),
            // Minimizing mirrors it: best 0.8 cancels above 0.8*1.2 = 0.96, or above 0.8+0.2.
            (&factor, Goal::Minimize, &[0.97], true),
            (&factor, Goal::Minimize, &[0.95], false),
            (&amount, Goal::Minimize, &[1.01], true),
            (&amount, Goal::Minimize, &[0.99], false),
        ];
        for (policy, goal, reports, cancels) in cases {
            let decision = evaluate(policy, *goal, reports, &peers(&[best]));
            assert_eq!(decision.is_some(), *cancels, "{policy:?} {goal:?} {reports:?}: {decision:?}");
        }
    }

    #[test]
    fn bandit_compares_the_trials_best_so_far_with_peers_at_the_same_interval() {
        let policy = Policy::Bandit { slack: Slack::Factor(0.1), schedule: every(1, 0) };
        // The peer reached 0.9 only at its third report: at interval 2 the best is 0.5.
        let peer: &'static [f64] = &[0.4, 0.5, 0.9];
        assert_eq!(evaluate(&policy, Goal::Maximize, &[0.3, 0.46], &peers(&[peer])), None);
        let decision = evaluate(&policy, Goal::Maximize, &[0.3, 0.46, 0.2], &peers(&[peer])).expect("canceled");
        // Its best so far (0.46) against 0.9 / 1.1 = 0.818.
        assert_eq!(decision.reason, "bandit: 0.46 < 0.8182 at interval 3");
        // The trial itself may hold the best: then it is never canceled.
        assert_eq!(evaluate(&policy, Goal::Maximize, &[0.3, 0.95, 0.1], &peers(&[peer])), None);
    }

    #[test]
    fn the_issues_example_reason() {
        let policy = Policy::Bandit { slack: Slack::Factor(0.25), schedule: every(1, 0) };
        let decision =
            evaluate(&policy, Goal::Maximize, &[0.5, 0.6, 0.71], &peers(&[&[0.9, 0.95, 1.0]])).expect("canceled");
        assert_eq!(decision, Termination { interval: 3, reason: "bandit: 0.71 < 0.8 at interval 3".into() });
    }

    #[test]
    fn median_stopping_uses_the_median_of_the_peers_running_averages() {
        let policy = Policy::MedianStopping { schedule: every(1, 2) };
        // Averages over intervals 1..2: 0.5, 0.7, 0.9: the median is 0.7.
        let others = peers(&[&[0.4, 0.6, 1.0], &[0.6, 0.8], &[0.8, 1.0, 1.0]]);
        let cases: &[(Goal, &[f64], bool)] = &[
            (Goal::Maximize, &[0.5], false), // before delay_evaluation
            (Goal::Maximize, &[0.5, 0.69], true),
            (Goal::Maximize, &[0.71, 0.1], false), // its best so far counts, not its latest
            (Goal::Maximize, &[0.5, 0.7], false),  // equal is not worse
            (Goal::Minimize, &[0.5, 0.71], false),
            (Goal::Minimize, &[0.8, 0.75], true),
        ];
        for (goal, reports, cancels) in cases {
            let decision = evaluate(&policy, *goal, reports, &others);
            assert_eq!(decision.is_some(), *cancels, "{goal:?} {reports:?}: {decision:?}");
        }
        // An even count takes the mean of the two middle averages: 0.5 and 0.7 give 0.6.
        let two = peers(&[&[0.4, 0.6], &[0.6, 0.8]]);
        let decision = evaluate(&policy, Goal::Maximize, &[0.5, 0.59], &two).expect("canceled");
        assert_eq!(decision.reason, "median_stopping: 0.59 < median 0.6 at interval 2");
        // No peer has reached the interval: nothing to compare with.
        assert_eq!(evaluate(&policy, Goal::Maximize, &[0.0, 0.0], &peers(&[&[1.0]])), None);
    }

    #[test]
    fn truncation_selection_cancels_the_worst_percentage_at_the_same_interval() {
        let policy = Policy::TruncationSelection { percentage: 25, exclude_finished: false, schedule: every(1, 0) };
        // Four trials at interval 2 (the trial's own value included): 25 % of 4 is the worst one.
        let others = peers(&[&[0.1, 0.5, 0.0], &[0.2, 0.6], &[0.3, 0.7, 0.9]]);
        let cases: &[(Goal, &[f64], bool)] = &[
            (Goal::Maximize, &[0.9, 0.4], true),
            (Goal::Maximize, &[0.0, 0.55], false),
            (Goal::Minimize, &[0.0, 0.8], true),
            (Goal::Minimize, &[0.0, 0.4], false),
        ];
        for (goal, reports, cancels) in cases {
            let decision = evaluate(&policy, *goal, reports, &others);
            assert_eq!(decision.is_some(), *cancels, "{goal:?} {reports:?}: {decision:?}");
        }
        // 25 % of three trials rounds down to none.
        assert_eq!(evaluate(&policy, Goal::Maximize, &[0.0, 0.0], &others[..2]), None);
        // Finished trials can be left out of the ranking.
        let excluding = Policy::TruncationSelection { percentage: 25, exclude_finished: true, schedule: every(1, 0) };
        let mut with_finished = others.clone();
        with_finished[0].finished = true;
        assert!(evaluate(&policy, Goal::Maximize, &[0.0, 0.4], &with_finished).is_some());
        assert_eq!(evaluate(&excluding, Goal::Maximize, &[0.0, 0.4], &with_finished), None);
    }

    #[test]
    fn values_in_reasons_are_short() {
        assert_eq!(short(0.818181), "0.8182");
        assert_eq!(short(0.8), "0.8");
        assert_eq!(short(12345.6), "12346");
        assert_eq!(short(-1.5), "-1.5");
        assert_eq!(short(0.0), "0");
    }
}

//! Sweep jobs' pure parts: the search space and its sampling (`space`), the Bayesian sampler
//! (`tpe`), and the early-termination policies (`termination`). The scheduler that runs trials lives in the service; everything here
//! is a function of its inputs (random draws take the generator they use).

pub mod space;
pub mod termination;
pub mod tpe;

/// Which way the sweep's primary metric is better (`objective.goal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    Maximize,
    Minimize,
}

impl Goal {
    /// Parses `maximize` or `minimize`, ignoring case (the SDK writes `Maximize`).
    pub fn parse(text: &str) -> Option<Goal> {
        if text.eq_ignore_ascii_case("maximize") {
            Some(Goal::Maximize)
        } else if text.eq_ignore_ascii_case("minimize") {
            Some(Goal::Minimize)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Goal::Maximize => "maximize",
            Goal::Minimize => "minimize",
        }
    }

    /// Whether `a` is strictly better than `b`. A NaN is never better, and anything is better
    /// than a NaN.
    pub fn is_better(self, a: f64, b: f64) -> bool {
        if a.is_nan() {
            return false;
        }
        if b.is_nan() {
            return true;
        }
        match self {
            Goal::Maximize => a > b,
            Goal::Minimize => a < b,
        }
    }

    /// The best of `values` (NaNs left out), or `None` when there is no number among them.
    pub fn best(self, values: &[f64]) -> Option<f64> {
        values
            .iter()
            .copied()
            .filter(|value| !value.is_nan())
            .reduce(|best, value| if self.is_better(value, best) { value } else { best })
    }
}

#[cfg(test)]
mod tests {
    use super::Goal;

    #[test]
    fn goals_compare_and_skip_nan() {
        assert_eq!(Goal::parse("Maximize"), Some(Goal::Maximize));
        assert_eq!(Goal::parse("minimize"), Some(Goal::Minimize));
        assert_eq!(Goal::parse("max"), None);
        assert!(Goal::Maximize.is_better(2.0, 1.0) && Goal::Minimize.is_better(1.0, 2.0));
        assert!(!Goal::Maximize.is_better(f64::NAN, 1.0) && Goal::Maximize.is_better(1.0, f64::NAN));
        assert_eq!(Goal::Minimize.best(&[3.0, f64::NAN, 1.0, 2.0]), Some(1.0));
        assert_eq!(Goal::Maximize.best(&[f64::NAN]), None);
    }
}

//! The search space of a sweep: Azure ML's parameter expressions, what each samples, and the
//! grid of a space made of choices.

use rand::{Rng, RngExt};
use std::collections::BTreeMap;
use std::fmt;

/// A sampled value, as the trial's command and its MLflow params receive it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(number) => write!(f, "{number}"),
            Value::Float(number) => write_python_float(f, *number),
            Value::Text(text) => f.write_str(text),
            // As Python writes them: trial scripts parse the command line with Python.
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
        }
    }
}

/// Writes a float as Python's `repr` does (`3.0`, `0.01`, `1e-05`, `1.5e+16`): the trial's
/// script reads it with Python and may log it again as a param, which must then be the same text.
fn write_python_float(f: &mut fmt::Formatter<'_>, number: f64) -> fmt::Result {
    if !number.is_finite() {
        return f.write_str(if number.is_nan() {
            "nan"
        } else if number > 0.0 {
            "inf"
        } else {
            "-inf"
        });
    }
    let magnitude = number.abs();
    if magnitude != 0.0 && !(1e-4..1e16).contains(&magnitude) {
        // Rust's shortest round-trip digits in scientific form, with Python's exponent.
        let scientific = format!("{number:e}");
        let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let sign = if exponent < 0 { '-' } else { '+' };
        return write!(f, "{mantissa}e{sign}{:02}", exponent.abs());
    }
    if number.fract() == 0.0 { write!(f, "{number:.1}") } else { write!(f, "{number}") }
}

/// One hyperparameter's expression (`search_space.<name>` of a sweep job). Bounds of the log
/// expressions are exponents, as in Azure: `loguniform(min, max)` samples `exp(U(min, max))`.
#[derive(Debug, Clone, PartialEq)]
pub enum Expression {
    Choice(Vec<Value>),
    /// An integer in `[0, upper)`.
    RandInt {
        upper: i64,
    },
    Uniform {
        min: f64,
        max: f64,
    },
    QUniform {
        min: f64,
        max: f64,
        q: f64,
    },
    LogUniform {
        min: f64,
        max: f64,
    },
    QLogUniform {
        min: f64,
        max: f64,
        q: f64,
    },
    Normal {
        mu: f64,
        sigma: f64,
    },
    QNormal {
        mu: f64,
        sigma: f64,
        q: f64,
    },
    LogNormal {
        mu: f64,
        sigma: f64,
    },
    QLogNormal {
        mu: f64,
        sigma: f64,
        q: f64,
    },
}

impl Expression {
    /// The expression's `type` in the sweep file.
    pub fn kind(&self) -> &'static str {
        match self {
            Expression::Choice(_) => "choice",
            Expression::RandInt { .. } => "randint",
            Expression::Uniform { .. } => "uniform",
            Expression::QUniform { .. } => "quniform",
            Expression::LogUniform { .. } => "loguniform",
            Expression::QLogUniform { .. } => "qloguniform",
            Expression::Normal { .. } => "normal",
            Expression::QNormal { .. } => "qnormal",
            Expression::LogNormal { .. } => "lognormal",
            Expression::QLogNormal { .. } => "qlognormal",
        }
    }

    /// Checks the expression's parameters; the error names the parameter and what was expected.
    pub fn check(&self) -> Result<(), String> {
        let finite = |name: &str, value: f64| {
            if value.is_finite() { Ok(()) } else { Err(format!("{name} must be a finite number, not {value}")) }
        };
        let range = |min: f64, max: f64| {
            finite("min_value", min)?;
            finite("max_value", max)?;
            if min < max { Ok(()) } else { Err(format!("min_value ({min}) must be less than max_value ({max})")) }
        };
        let spread = |mu: f64, sigma: f64| {
            finite("mu", mu)?;
            finite("sigma", sigma)?;
            if sigma > 0.0 { Ok(()) } else { Err(format!("sigma must be greater than 0, not {sigma}")) }
        };
        let step = |q: f64| {
            if q.is_finite() && q > 0.0 { Ok(()) } else { Err(format!("q must be a number greater than 0, not {q}")) }
        };
        match self {
            Expression::Choice(values) if values.is_empty() => Err("values must list at least one value".into()),
            Expression::Choice(values) => {
                match values.iter().find(|value| matches!(value, Value::Float(number) if !number.is_finite())) {
                    Some(value) => Err(format!("values must be finite numbers, not {value}")),
                    None => Ok(()),
                }
            }
            Expression::RandInt { upper } if *upper < 1 => {
                Err(format!("upper must be at least 1 (randint draws from 0 up to, not including, upper), not {upper}"))
            }
            Expression::RandInt { .. } => Ok(()),
            Expression::Uniform { min, max } | Expression::LogUniform { min, max } => range(*min, *max),
            Expression::QUniform { min, max, q } | Expression::QLogUniform { min, max, q } => {
                range(*min, *max)?;
                step(*q)
            }
            Expression::Normal { mu, sigma } | Expression::LogNormal { mu, sigma } => spread(*mu, *sigma),
            Expression::QNormal { mu, sigma, q } | Expression::QLogNormal { mu, sigma, q } => {
                spread(*mu, *sigma)?;
                step(*q)
            }
        }
    }

    /// Draws one value.
    pub fn sample(&self, rng: &mut impl Rng) -> Value {
        self.draw(&mut || rng.random::<f64>())
    }

    /// The value that uniform draws in `[0, 1)` give: one for most expressions, two for the
    /// normal ones. Random sampling takes them from a generator, Sobol sampling from its sequence.
    pub fn draw(&self, unit: &mut dyn FnMut() -> f64) -> Value {
        let mut uniform = |min: f64, max: f64| min + (max - min) * unit();
        match self {
            Expression::Choice(values) => {
                values[((uniform(0.0, 1.0) * values.len() as f64) as usize).min(values.len() - 1)].clone()
            }
            Expression::RandInt { upper } => Value::Int(((uniform(0.0, 1.0) * *upper as f64) as i64).min(upper - 1)),
            Expression::Uniform { min, max } => Value::Float(uniform(*min, *max)),
            Expression::QUniform { min, max, q } => Value::Float(quantize(uniform(*min, *max), *q)),
            Expression::LogUniform { min, max } => Value::Float(uniform(*min, *max).exp()),
            Expression::QLogUniform { min, max, q } => Value::Float(quantize(uniform(*min, *max).exp(), *q)),
            Expression::Normal { mu, sigma } => Value::Float(mu + sigma * standard_normal(unit)),
            Expression::QNormal { mu, sigma, q } => Value::Float(quantize(mu + sigma * standard_normal(unit), *q)),
            Expression::LogNormal { mu, sigma } => Value::Float((mu + sigma * standard_normal(unit)).exp()),
            Expression::QLogNormal { mu, sigma, q } => {
                Value::Float(quantize((mu + sigma * standard_normal(unit)).exp(), *q))
            }
        }
    }

    /// Reads back a value this expression gave, as a trial's param holds it (its [`Value`]'s
    /// text); `None` when the text is not one of its values.
    pub fn parse_value(&self, text: &str) -> Option<Value> {
        match self {
            Expression::Choice(values) => values.iter().find(|value| value.to_string() == text).cloned(),
            Expression::RandInt { .. } => text.parse().ok().map(Value::Int),
            _ => text.parse::<f64>().ok().filter(|number| number.is_finite()).map(Value::Float),
        }
    }
}

/// Azure's quantisation: `round(x / q) * q`.
pub fn quantize(value: f64, q: f64) -> f64 {
    (value / q).round() * q
}

/// A standard normal draw from two uniform ones (the Box–Muller transform).
pub(crate) fn standard_normal(unit: &mut dyn FnMut() -> f64) -> f64 {
    // 1 - u is in (0, 1]: its logarithm is finite.
    let radius = (-2.0 * (1.0 - unit()).ln()).sqrt();
    radius * (std::f64::consts::TAU * unit()).cos()
}

/// A sweep's search space: each hyperparameter's expression, by name (names sort the grid and
/// the params a trial logs).
pub type SearchSpace = BTreeMap<String, Expression>;

/// One trial's values, by hyperparameter.
pub type Assignment = BTreeMap<String, Value>;

/// Draws every hyperparameter of `space` independently (random sampling).
pub fn sample(space: &SearchSpace, rng: &mut impl Rng) -> Assignment {
    space.iter().map(|(name, expression)| (name.clone(), expression.sample(rng))).collect()
}

/// The most hyperparameters Sobol sampling takes: each uses two of the sequence's 256
/// dimensions (a normal expression draws twice).
pub const SOBOL_MAX_PARAMETERS: usize = 128;

/// The `index`-th point of the scrambled Sobol sequence over `space` (Owen-scrambled with
/// `seed`, so that different seeds give different, equally even sequences): hyperparameter `j`
/// (by name) takes the sequence's dimensions `2j` and `2j + 1`. `None` past the sequence's
/// 2^32 points or [`SOBOL_MAX_PARAMETERS`].
pub fn sobol_point(space: &SearchSpace, index: u64, seed: u32) -> Option<Assignment> {
    let index = u32::try_from(index).ok()?;
    if space.len() > SOBOL_MAX_PARAMETERS {
        return None;
    }
    let mut point = Assignment::new();
    for (position, (name, expression)) in space.iter().enumerate() {
        let mut dimension = 2 * position as u32;
        let mut unit = || {
            let value = f64::from(sobol_burley::sample(index, dimension.min(255), seed));
            dimension += 1;
            value
        };
        point.insert(name.clone(), expression.draw(&mut unit));
    }
    Some(point)
}

/// The seed of trial `index`'s generator in a sweep seeded with `seed`: each trial's draws
/// depend on nothing but these two, so a trial sampled again after a restart gets the same
/// values (SplitMix64's mixing of the pair).
pub fn trial_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed ^ index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seed from a name (FNV-1a), the same on every build and platform: a sweep without a seed
/// draws from its name, so a server restarted on a newer build suggests what the old one would.
pub fn name_seed(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

/// Why a space has no grid: the hyperparameter and its expression's type.
#[derive(Debug, Clone, PartialEq)]
pub struct NotAGrid {
    pub name: String,
    pub kind: &'static str,
}

impl NotAGrid {
    /// What is wrong, without the field's name.
    pub fn reason(&self) -> String {
        format!(
            "grid sampling takes only choice expressions, and this one is {} (use random or bayesian \
             sampling for it, or list its values with choice)",
            self.kind
        )
    }
}

impl fmt::Display for NotAGrid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "search_space.{}: {}", self.name, self.reason())
    }
}

/// The number of points of the grid over `space` (saturating), or which hyperparameter is not a
/// choice.
pub fn grid_size(space: &SearchSpace) -> Result<usize, NotAGrid> {
    space.iter().try_fold(1usize, |size, (name, expression)| match expression {
        Expression::Choice(values) => Ok(size.saturating_mul(values.len())),
        other => Err(NotAGrid { name: name.clone(), kind: other.kind() }),
    })
}

/// The `index`-th point of the grid over `space` (the first hyperparameter by name varies
/// slowest), or `None` past its end. Call [`grid_size`] first: a space with another expression
/// than choice has no grid, and gives `None`.
pub fn grid_point(space: &SearchSpace, index: usize) -> Option<Assignment> {
    let size = grid_size(space).ok()?;
    if index >= size {
        return None;
    }
    let mut rest = index;
    let mut point = Assignment::new();
    for (name, expression) in space.iter().rev() {
        let Expression::Choice(values) = expression else { return None };
        point.insert(name.clone(), values[rest % values.len()].clone());
        rest /= values.len();
    }
    Some(point)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn space(entries: &[(&str, Expression)]) -> SearchSpace {
        entries.iter().map(|(name, expression)| (name.to_string(), expression.clone())).collect()
    }

    fn choice(values: &[i64]) -> Expression {
        Expression::Choice(values.iter().map(|value| Value::Int(*value)).collect())
    }

    #[test]
    fn each_expression_checks_its_parameters() {
        let cases: &[(Expression, Option<&str>)] = &[
            (choice(&[1, 2]), None),
            (Expression::Choice(vec![]), Some("values must list at least one value")),
            (Expression::RandInt { upper: 1 }, None),
            (Expression::RandInt { upper: 0 }, Some("upper must be at least 1")),
            (Expression::Uniform { min: 0.0, max: 1.0 }, None),
            (Expression::Uniform { min: 1.0, max: 1.0 }, Some("min_value (1) must be less than max_value (1)")),
            (Expression::LogUniform { min: f64::NAN, max: 1.0 }, Some("min_value must be a finite number")),
            (Expression::QUniform { min: 0.0, max: 1.0, q: 0.0 }, Some("q must be a number greater than 0")),
            (Expression::QLogUniform { min: 0.0, max: 1.0, q: 0.5 }, None),
            (Expression::Normal { mu: 0.0, sigma: 0.0 }, Some("sigma must be greater than 0")),
            (Expression::QNormal { mu: 0.0, sigma: 1.0, q: -1.0 }, Some("q must be a number greater than 0")),
            (Expression::LogNormal { mu: 0.0, sigma: 1.0 }, None),
            (Expression::QLogNormal { mu: 0.0, sigma: 1.0, q: 1.0 }, None),
        ];
        for (expression, expected) in cases {
            match (expression.check(), expected) {
                (Ok(()), None) => {}
                (Err(error), Some(start)) => assert!(error.starts_with(start), "{expression:?}: {error}"),
                (outcome, _) => panic!("{expression:?}: {outcome:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn samples_stay_in_their_expressions_range_and_steps() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..2_000 {
            let Value::Int(number) = Expression::RandInt { upper: 3 }.sample(&mut rng) else { panic!() };
            assert!((0..3).contains(&number));
            let Value::Float(number) = Expression::Uniform { min: -1.0, max: 2.0 }.sample(&mut rng) else { panic!() };
            assert!((-1.0..=2.0).contains(&number));
            let Value::Float(number) = Expression::QUniform { min: 0.0, max: 10.0, q: 2.5 }.sample(&mut rng) else {
                panic!()
            };
            assert!([0.0, 2.5, 5.0, 7.5, 10.0].contains(&number), "{number}");
            // Log bounds are exponents.
            let Value::Float(number) = Expression::LogUniform { min: -3.0, max: 0.0 }.sample(&mut rng) else {
                panic!()
            };
            assert!(((-3.0f64).exp()..=1.0).contains(&number));
            let Value::Float(number) = Expression::QLogNormal { mu: 0.0, sigma: 1.0, q: 0.5 }.sample(&mut rng) else {
                panic!()
            };
            assert!(number >= 0.0 && (number / 0.5).fract() == 0.0, "{number}");
        }
    }

    #[test]
    fn normal_draws_have_their_mean_and_spread() {
        let mut rng = StdRng::seed_from_u64(11);
        let draws: Vec<f64> = (0..20_000)
            .map(|_| match (Expression::Normal { mu: 3.0, sigma: 2.0 }).sample(&mut rng) {
                Value::Float(number) => number,
                other => panic!("{other:?}"),
            })
            .collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let sd = (draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / draws.len() as f64).sqrt();
        assert!((mean - 3.0).abs() < 0.05, "{mean}");
        assert!((sd - 2.0).abs() < 0.05, "{sd}");
    }

    #[test]
    fn a_seed_gives_the_same_trials() {
        let space = space(&[("lr", Expression::LogUniform { min: -5.0, max: 0.0 }), ("depth", choice(&[2, 4, 8]))]);
        let draw = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..5).map(|_| sample(&space, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(draw(123), draw(123));
        assert_ne!(draw(123), draw(124));
    }

    #[test]
    fn the_grid_is_the_product_of_the_choices() {
        let space = space(&[
            ("b", choice(&[1, 2, 3])),
            ("a", Expression::Choice(vec![Value::Text("x".into()), Value::Bool(true)])),
        ]);
        assert_eq!(grid_size(&space), Ok(6));
        let points: Vec<String> = (0..6)
            .map(|index| {
                let point = grid_point(&space, index).expect("a point");
                format!("{}/{}", point["a"], point["b"])
            })
            .collect();
        assert_eq!(points, ["x/1", "x/2", "x/3", "True/1", "True/2", "True/3"]);
        assert_eq!(grid_point(&space, 6), None);
    }

    #[test]
    fn a_grid_over_a_continuous_expression_is_an_error() {
        let space = space(&[("depth", choice(&[2, 4])), ("lr", Expression::Uniform { min: 0.0, max: 1.0 })]);
        let error = grid_size(&space).unwrap_err();
        assert_eq!(error, NotAGrid { name: "lr".into(), kind: "uniform" });
        assert!(error.to_string().starts_with("search_space.lr: grid sampling takes only choice expressions"));
        assert_eq!(grid_point(&space, 0), None);
    }

    #[test]
    fn values_render_as_a_command_line_wants_them() {
        // As Python writes them.
        assert_eq!(Value::Float(3.0).to_string(), "3.0");
        assert_eq!(Value::Float(0.01).to_string(), "0.01");
        assert_eq!(Value::Float(0.0001).to_string(), "0.0001");
        assert_eq!(Value::Float(0.00001).to_string(), "1e-05");
        assert_eq!(Value::Float(-1.5e-7).to_string(), "-1.5e-07");
        assert_eq!(Value::Float(1e16).to_string(), "1e+16");
        assert_eq!(Value::Float(123456.0).to_string(), "123456.0");
        assert_eq!(Value::Int(-2).to_string(), "-2");
        assert_eq!(Value::Bool(true).to_string(), "True");
        assert_eq!(Value::Text("gbdt".into()).to_string(), "gbdt");
    }

    #[test]
    fn sobol_points_are_even_seeded_and_in_range() {
        let space = space(&[
            ("a", Expression::Uniform { min: 0.0, max: 1.0 }),
            ("b", Expression::QNormal { mu: 0.0, sigma: 1.0, q: 0.5 }),
        ]);
        let first: Vec<f64> = (0..64)
            .map(|index| match sobol_point(&space, index, 7).unwrap()["a"] {
                Value::Float(x) => x,
                ref other => panic!("{other:?}"),
            })
            .collect();
        // 64 points of a (0, 2)-sequence: one in each 1/64 of the first dimension.
        let mut cells: Vec<usize> = first.iter().map(|x| (x * 64.0) as usize).collect();
        cells.sort_unstable();
        assert_eq!(cells, (0..64).collect::<Vec<_>>());
        assert_ne!(sobol_point(&space, 3, 7), sobol_point(&space, 3, 8), "the seed scrambles");
        assert_eq!(sobol_point(&space, 3, 7), sobol_point(&space, 3, 7));
        let Value::Float(b) = sobol_point(&space, 5, 7).unwrap()["b"] else { panic!() };
        assert_eq!(quantize(b, 0.5), b);
    }

    #[test]
    fn values_read_back_from_their_text() {
        let choice = Expression::Choice(vec![Value::Int(1), Value::Text("x".into()), Value::Bool(true)]);
        assert_eq!(choice.parse_value("True"), Some(Value::Bool(true)));
        assert_eq!(choice.parse_value("x"), Some(Value::Text("x".into())));
        assert_eq!(choice.parse_value("2"), None);
        assert_eq!(Expression::RandInt { upper: 3 }.parse_value("2"), Some(Value::Int(2)));
        let uniform = Expression::Uniform { min: 0.0, max: 1.0 };
        assert_eq!(uniform.parse_value(&Value::Float(0.1).to_string()), Some(Value::Float(0.1)));
        assert_eq!(uniform.parse_value("NaN"), None);
        assert_ne!(trial_seed(1, 0), trial_seed(1, 1));
        assert_ne!(trial_seed(1, 0), trial_seed(2, 0));
        assert_eq!(name_seed("a"), 0xaf63_dc4c_8601_ec8c, "FNV-1a's published value");
    }
}

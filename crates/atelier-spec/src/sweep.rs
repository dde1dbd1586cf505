//! The sweep job (`type: sweep`) of Azure ML's CLI v2 YAML: its own sections — `search_space`,
//! `sampling_algorithm`, `objective`, `limits` and `early_termination` — read into the core's
//! sweep types ([`atelier_core::sweep`]), every mistake with its field and line. The sections a
//! sweep shares with a command job (`trial`, `inputs`, `outputs`, `compute`, names) are read by
//! the command job's parser.

use crate::{CommandJob, SpecError};
use atelier_core::sweep::Goal;
use atelier_core::sweep::space::{
    Assignment, Expression, SOBOL_MAX_PARAMETERS, SearchSpace, Value, grid_point, grid_size, sample, sobol_point,
    trial_seed,
};
use atelier_core::sweep::termination::{Policy, Schedule, Slack};
use atelier_core::sweep::tpe::{Observation, TpeSettings, suggest};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpression {
    #[serde(rename = "type")]
    kind: Spanned<String>,
    #[serde(default)]
    values: Option<Vec<Spanned<serde_json::Value>>>,
    #[serde(default)]
    upper: Option<Spanned<i64>>,
    #[serde(default)]
    min_value: Option<Spanned<f64>>,
    #[serde(default)]
    max_value: Option<Spanned<f64>>,
    #[serde(default)]
    q: Option<Spanned<f64>>,
    #[serde(default)]
    mu: Option<Spanned<f64>>,
    #[serde(default)]
    sigma: Option<Spanned<f64>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSamplingObject {
    #[serde(rename = "type")]
    kind: Spanned<String>,
    #[serde(default)]
    seed: Option<Spanned<i64>>,
    #[serde(default)]
    rule: Option<Spanned<String>>,
    /// Accepted as the SDK writes it; Azure documents no effect for it.
    #[serde(default, rename = "logbase")]
    _logbase: Option<IgnoredAny>,
}

#[derive(Deserialize, Debug)]
#[serde(untagged)]
pub(crate) enum RawSampling {
    Name(String),
    Object(Box<RawSamplingObject>),
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawObjective {
    primary_metric: Spanned<String>,
    goal: Spanned<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    #[serde(default)]
    pub(crate) max_total_trials: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) max_concurrent_trials: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) timeout: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) trial_timeout: Option<Spanned<i64>>,
}

/// A sweep's own sections as read: a sweep job's, or a pipeline's sweep step's.
pub(crate) struct SweepSections {
    pub(crate) search_space: Option<Spanned<BTreeMap<String, Spanned<RawExpression>>>>,
    pub(crate) sampling_algorithm: Option<Spanned<RawSampling>>,
    pub(crate) objective: Option<Spanned<RawObjective>>,
    pub(crate) limits: Option<RawLimits>,
    pub(crate) early_termination: Option<Spanned<RawTermination>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTermination {
    #[serde(rename = "type")]
    kind: Spanned<String>,
    #[serde(default)]
    evaluation_interval: Option<Spanned<i64>>,
    #[serde(default)]
    delay_evaluation: Option<Spanned<i64>>,
    #[serde(default)]
    slack_factor: Option<Spanned<f64>>,
    #[serde(default)]
    slack_amount: Option<Spanned<f64>>,
    #[serde(default)]
    truncation_percentage: Option<Spanned<i64>>,
    #[serde(default)]
    exclude_finished_jobs: Option<bool>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawSweep {
    #[serde(rename = "$schema", default)]
    _schema: Option<IgnoredAny>,
    #[serde(rename = "type")]
    kind: Spanned<String>,
    search_space: Option<Spanned<BTreeMap<String, Spanned<RawExpression>>>>,
    sampling_algorithm: Option<Spanned<RawSampling>>,
    objective: Option<Spanned<RawObjective>>,
    #[serde(default)]
    limits: Option<RawLimits>,
    #[serde(default)]
    early_termination: Option<Spanned<RawTermination>>,
    // Read by the command job's parser.
    #[serde(default, rename = "trial")]
    _trial: Option<IgnoredAny>,
    #[serde(default, rename = "name")]
    _name: Option<IgnoredAny>,
    #[serde(default, rename = "display_name")]
    _display_name: Option<IgnoredAny>,
    #[serde(default, rename = "experiment_name")]
    _experiment_name: Option<IgnoredAny>,
    #[serde(default, rename = "description")]
    _description: Option<IgnoredAny>,
    #[serde(default, rename = "tags")]
    _tags: Option<IgnoredAny>,
    #[serde(default, rename = "inputs")]
    _inputs: Option<IgnoredAny>,
    #[serde(default, rename = "outputs")]
    _outputs: Option<IgnoredAny>,
    #[serde(default, rename = "compute")]
    _compute: Option<IgnoredAny>,
    #[serde(default, rename = "identity")]
    _identity: Option<IgnoredAny>,
    #[serde(default, rename = "queue_settings")]
    _queue_settings: Option<IgnoredAny>,
}

/// How a sweep picks its trials' values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampling {
    /// Independent draws; `sobol` asks for a low-discrepancy sequence instead of a random one.
    Random { seed: Option<i64>, sobol: bool },
    /// Every point of the product of the choices, once.
    Grid,
    /// The Bayesian sampler (TPE).
    Bayesian,
}

/// A sweep's own settings, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSettings {
    pub search_space: SearchSpace,
    pub sampling: Sampling,
    pub primary_metric: String,
    pub goal: Goal,
    /// `limits.max_total_trials`, capped by the grid's size for a grid sweep.
    pub max_total_trials: u32,
    pub max_concurrent_trials: u32,
    /// Seconds.
    pub timeout: u64,
    /// Seconds, per trial.
    pub trial_timeout: Option<u64>,
    pub early_termination: Option<Policy>,
}

impl SweepSettings {
    /// The values of trial `index` (from 0), or `None` past the grid's end. They depend only on
    /// the sweep's seed (`sampling_algorithm.seed`, else `default_seed`) and the index for
    /// random, Sobol and grid sampling, and also on `history` (the trials that ended, with their
    /// objective) for Bayesian sampling: a server that restarts suggests the same values again.
    pub fn suggest(&self, default_seed: u64, index: u64, history: &[Observation<'_>]) -> Option<Assignment> {
        self.suggest_with(default_seed, index, history, &TpeSettings::default())
    }

    /// [`SweepSettings::suggest`] with the Bayesian sampler's settings given (for benchmarks).
    pub fn suggest_with(
        &self,
        default_seed: u64,
        index: u64,
        history: &[Observation<'_>],
        tpe: &TpeSettings,
    ) -> Option<Assignment> {
        let space = &self.search_space;
        match self.sampling {
            Sampling::Grid => grid_point(space, usize::try_from(index).ok()?),
            Sampling::Random { seed, sobol: true } => {
                let seed = seed.map_or(default_seed, |seed| seed as u64);
                sobol_point(space, index, (seed ^ (seed >> 32)) as u32)
            }
            Sampling::Random { seed, sobol: false } => {
                let seed = seed.map_or(default_seed, |seed| seed as u64);
                Some(sample(space, &mut StdRng::seed_from_u64(trial_seed(seed, index))))
            }
            Sampling::Bayesian => {
                let mut rng = StdRng::seed_from_u64(trial_seed(default_seed, index));
                Some(suggest(space, self.goal, history, tpe, &mut rng))
            }
        }
    }
}

/// A sweep job, checked: its own settings and the command job each trial runs.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepJob {
    pub settings: SweepSettings,
    /// The trials' command job: the `trial` section with the sweep's names, inputs, outputs
    /// and compute; its command may hold `${{search_space.<name>}}`, and its timeout is
    /// `limits.trial_timeout`.
    pub trial: CommandJob,
}

/// Reads and checks a sweep job file. `folder_name` is the experiment when the file names none.
pub fn parse_sweep_job(text: &str, folder_name: &str) -> Result<SweepJob, SpecError> {
    let settings = parse_sweep_settings(text)?;
    let trial = crate::job::parse_sweep_trial(text, folder_name, &settings.search_space, settings.trial_timeout)?;
    Ok(SweepJob { settings, trial })
}

/// Azure's defaults: 1,000 trials, 60 days.
const DEFAULT_MAX_TOTAL_TRIALS: i64 = 1_000;
const DEFAULT_TIMEOUT: i64 = 5_184_000;

/// Reads a sweep job file's own sections (see the module's documentation).
pub fn parse_sweep_settings(text: &str) -> Result<SweepSettings, SpecError> {
    let raw: RawSweep = serde_saphyr::from_str(text).map_err(|error| SpecError::from_yaml(error, "job"))?;
    if raw.kind.value != "sweep" {
        return Err(SpecError::new(
            "type",
            raw.kind.referenced.line(),
            format!("expected 'sweep' for a sweep job, got '{}'", raw.kind.value),
        ));
    }
    let sections = SweepSections {
        search_space: raw.search_space,
        sampling_algorithm: raw.sampling_algorithm,
        objective: raw.objective,
        limits: raw.limits,
        early_termination: raw.early_termination,
    };
    settings_of(sections, "a sweep job")
}

/// Checks a sweep's own sections (`what`: "a sweep job", "a sweep step"). Fields are named
/// from the sections (`search_space.lr`): a caller whose sections sit deeper prefixes them.
pub(crate) fn settings_of(raw: SweepSections, what: &str) -> Result<SweepSettings, SpecError> {
    let Some(space) = raw.search_space else {
        return Err(SpecError::new("search_space", 0, format!("{what} needs a 'search_space'")));
    };
    if space.value.is_empty() {
        return Err(SpecError::new("search_space", space.referenced.line(), "name at least one hyperparameter"));
    }
    let mut search_space = SearchSpace::new();
    for (name, expression) in &space.value {
        search_space.insert(name.clone(), expression_of(name, &expression.value)?);
    }
    let lines: BTreeMap<&str, u64> =
        space.value.iter().map(|(name, expression)| (name.as_str(), expression.value.kind.referenced.line())).collect();

    let Some(sampling) = raw.sampling_algorithm else {
        return Err(SpecError::new(
            "sampling_algorithm",
            0,
            format!("{what} needs a 'sampling_algorithm': random, grid or bayesian"),
        ));
    };
    let sampling_line = sampling.referenced.line();
    // Inside the untagged form, serde keeps no positions: those fall back to the field's line.
    let at = |line: u64| if line > 0 { line } else { sampling_line };
    let (kind, seed, rule) = match &sampling.value {
        RawSampling::Name(name) => (name.as_str(), None, None),
        RawSampling::Object(object) => (object.kind.value.as_str(), object.seed.as_ref(), object.rule.as_ref()),
    };
    let sampling = match kind.to_ascii_lowercase().as_str() {
        "random" => {
            let sobol = match rule.map(|rule| (rule.value.as_str(), at(rule.referenced.line()))) {
                None | Some(("random", _)) => false,
                Some(("sobol", _)) => true,
                Some((other, line)) => {
                    return Err(SpecError::new(
                        "sampling_algorithm.rule",
                        line,
                        format!("unknown rule '{other}': expected random or sobol"),
                    ));
                }
            };
            if sobol && search_space.len() > SOBOL_MAX_PARAMETERS {
                return Err(SpecError::new(
                    "sampling_algorithm.rule",
                    at(rule.map(|rule| rule.referenced.line()).unwrap_or(0)),
                    format!(
                        "sobol sampling takes at most {SOBOL_MAX_PARAMETERS} hyperparameters, and search_space has {}",
                        search_space.len()
                    ),
                ));
            }
            Sampling::Random { seed: seed.map(|seed| seed.value), sobol }
        }
        other @ ("grid" | "bayesian") => {
            if let Some(field) = seed
                .map(|seed| ("seed", at(seed.referenced.line())))
                .or(rule.map(|rule| ("rule", at(rule.referenced.line()))))
            {
                return Err(SpecError::new(
                    format!("sampling_algorithm.{}", field.0),
                    field.1,
                    format!("{other} sampling takes no {}: only random sampling does", field.0),
                ));
            }
            if other == "grid" { Sampling::Grid } else { Sampling::Bayesian }
        }
        other => {
            return Err(SpecError::new(
                "sampling_algorithm",
                sampling_line,
                format!("unknown sampling algorithm '{other}': expected random, grid or bayesian"),
            ));
        }
    };

    let Some(objective) = raw.objective else {
        return Err(SpecError::new(
            "objective",
            0,
            format!("{what} needs an 'objective' with primary_metric and goal"),
        ));
    };
    let objective = objective.value;
    if objective.primary_metric.value.trim().is_empty() {
        return Err(SpecError::new(
            "objective.primary_metric",
            objective.primary_metric.referenced.line(),
            "name the metric the trials log with mlflow.log_metric",
        ));
    }
    let goal = Goal::parse(&objective.goal.value).ok_or_else(|| {
        SpecError::new(
            "objective.goal",
            objective.goal.referenced.line(),
            format!("unknown goal '{}': expected maximize or minimize", objective.goal.value),
        )
    })?;

    let limits = raw.limits.unwrap_or_default();
    // A count from 1 to 1,000, or a number of seconds of at least 1.
    let bounded = |field: &str, value: Option<&Spanned<i64>>, default: i64, most: Option<i64>| match value {
        None => Ok(default),
        Some(spanned) if spanned.value >= 1 && most.is_none_or(|most| spanned.value <= most) => Ok(spanned.value),
        Some(spanned) => Err(SpecError::new(
            format!("limits.{field}"),
            spanned.referenced.line(),
            match most {
                Some(most) => format!("must be a whole number from 1 to {most}, got {}", spanned.value),
                None => format!("must be a whole number of seconds, at least 1, got {}", spanned.value),
            },
        )),
    };
    let mut max_total_trials =
        bounded("max_total_trials", limits.max_total_trials.as_ref(), DEFAULT_MAX_TOTAL_TRIALS, Some(1_000))?;
    if sampling == Sampling::Grid {
        let size = grid_size(&search_space).map_err(|error| {
            SpecError::new(
                format!("search_space.{}", error.name),
                lines.get(error.name.as_str()).copied().unwrap_or(0),
                error.reason(),
            )
        })?;
        max_total_trials = max_total_trials.min(i64::try_from(size).unwrap_or(i64::MAX));
    }
    let max_concurrent_trials =
        bounded("max_concurrent_trials", limits.max_concurrent_trials.as_ref(), max_total_trials, Some(1_000))?;
    let timeout = bounded("timeout", limits.timeout.as_ref(), DEFAULT_TIMEOUT, None)?;
    let trial_timeout =
        limits.trial_timeout.as_ref().map(|seconds| bounded("trial_timeout", Some(seconds), 0, None)).transpose()?;

    let early_termination = match raw.early_termination {
        None => None,
        Some(policy) if sampling == Sampling::Bayesian => {
            return Err(SpecError::new(
                "early_termination",
                policy.referenced.line(),
                "bayesian sampling takes no early-termination policy (as in Azure ML): remove it or sample at random",
            ));
        }
        Some(policy) => Some(policy_of(&policy.value)?),
    };

    Ok(SweepSettings {
        search_space,
        sampling,
        primary_metric: objective.primary_metric.value,
        goal,
        max_total_trials: max_total_trials as u32,
        max_concurrent_trials: max_concurrent_trials.min(max_total_trials) as u32,
        timeout: timeout as u64,
        trial_timeout: trial_timeout.map(|seconds| seconds as u64),
        early_termination,
    })
}

fn expression_of(name: &str, raw: &RawExpression) -> Result<Expression, SpecError> {
    let field = format!("search_space.{name}");
    let line = raw.kind.referenced.line();
    let kind = raw.kind.value.to_ascii_lowercase();
    // The parameters each type takes; any other one given is a mistake.
    let takes: &[&str] = match kind.as_str() {
        "choice" => &["values"],
        "randint" => &["upper"],
        "uniform" | "loguniform" => &["min_value", "max_value"],
        "quniform" | "qloguniform" => &["min_value", "max_value", "q"],
        "normal" | "lognormal" => &["mu", "sigma"],
        "qnormal" | "qlognormal" => &["mu", "sigma", "q"],
        other => {
            return Err(SpecError::new(
                format!("{field}.type"),
                line,
                format!(
                    "unknown expression '{other}': expected choice, randint, uniform, quniform, loguniform, \
                     qloguniform, normal, qnormal, lognormal or qlognormal"
                ),
            ));
        }
    };
    let given = [
        ("values", raw.values.is_some()),
        ("upper", raw.upper.is_some()),
        ("min_value", raw.min_value.is_some()),
        ("max_value", raw.max_value.is_some()),
        ("q", raw.q.is_some()),
        ("mu", raw.mu.is_some()),
        ("sigma", raw.sigma.is_some()),
    ];
    for (parameter, present) in given {
        if present && !takes.contains(&parameter) {
            return Err(SpecError::new(
                format!("{field}.{parameter}"),
                line,
                format!("{kind} takes {}, not {parameter}", takes.join(", ")),
            ));
        }
        if !present && takes.contains(&parameter) {
            return Err(SpecError::new(format!("{field}.{parameter}"), line, format!("{kind} needs {parameter}")));
        }
    }
    let number = |value: &Option<Spanned<f64>>| value.as_ref().map_or(0.0, |spanned| spanned.value);
    let (min, max, q, mu, sigma) =
        (number(&raw.min_value), number(&raw.max_value), number(&raw.q), number(&raw.mu), number(&raw.sigma));
    let expression = match kind.as_str() {
        "choice" => {
            let mut values = Vec::new();
            for value in raw.values.iter().flatten() {
                values.push(match &value.value {
                    serde_json::Value::String(text) => Value::Text(text.clone()),
                    serde_json::Value::Bool(flag) => Value::Bool(*flag),
                    serde_json::Value::Number(number) => match number.as_i64() {
                        Some(integer) => Value::Int(integer),
                        None => Value::Float(number.as_f64().unwrap_or(f64::NAN)),
                    },
                    _ => {
                        return Err(SpecError::new(
                            format!("{field}.values"),
                            value.referenced.line(),
                            "each value must be a number, a string or a boolean (choices of nested search \
                             spaces are not supported)",
                        ));
                    }
                });
            }
            Expression::Choice(values)
        }
        "randint" => Expression::RandInt { upper: raw.upper.as_ref().map_or(0, |upper| upper.value) },
        "uniform" => Expression::Uniform { min, max },
        "quniform" => Expression::QUniform { min, max, q },
        "loguniform" => Expression::LogUniform { min, max },
        "qloguniform" => Expression::QLogUniform { min, max, q },
        "normal" => Expression::Normal { mu, sigma },
        "qnormal" => Expression::QNormal { mu, sigma, q },
        "lognormal" => Expression::LogNormal { mu, sigma },
        _ => Expression::QLogNormal { mu, sigma, q },
    };
    expression.check().map_err(|message| SpecError::new(field, line, message))?;
    Ok(expression)
}

fn policy_of(raw: &RawTermination) -> Result<Policy, SpecError> {
    let line = raw.kind.referenced.line();
    let whole = |field: &str, value: &Option<Spanned<i64>>| -> Result<u32, SpecError> {
        match value {
            None => Ok(0),
            Some(spanned) => u32::try_from(spanned.value).map_err(|_| {
                SpecError::new(
                    format!("early_termination.{field}"),
                    spanned.referenced.line(),
                    format!("must be a whole number of at least 0, got {}", spanned.value),
                )
            }),
        }
    };
    let schedule = Schedule {
        evaluation_interval: whole("evaluation_interval", &raw.evaluation_interval)?,
        delay_evaluation: whole("delay_evaluation", &raw.delay_evaluation)?,
    };
    let refuse = |field: &str, present: bool, kind: &str| -> Result<(), SpecError> {
        if present {
            return Err(SpecError::new(format!("early_termination.{field}"), line, format!("{kind} takes no {field}")));
        }
        Ok(())
    };
    match raw.kind.value.as_str() {
        "bandit" => {
            refuse("truncation_percentage", raw.truncation_percentage.is_some(), "bandit")?;
            refuse("exclude_finished_jobs", raw.exclude_finished_jobs.is_some(), "bandit")?;
            let (slack, spanned) = match (&raw.slack_factor, &raw.slack_amount) {
                (Some(factor), None) => (Slack::Factor(factor.value), factor),
                (None, Some(amount)) => (Slack::Amount(amount.value), amount),
                _ => {
                    return Err(SpecError::new(
                        "early_termination",
                        line,
                        "bandit needs exactly one of slack_factor and slack_amount",
                    ));
                }
            };
            if !(spanned.value.is_finite() && spanned.value >= 0.0) {
                let field = if matches!(slack, Slack::Factor(_)) { "slack_factor" } else { "slack_amount" };
                return Err(SpecError::new(
                    format!("early_termination.{field}"),
                    spanned.referenced.line(),
                    format!("must be a number of at least 0, got {}", spanned.value),
                ));
            }
            Ok(Policy::Bandit { slack, schedule })
        }
        "median_stopping" => {
            refuse("slack_factor", raw.slack_factor.is_some(), "median_stopping")?;
            refuse("slack_amount", raw.slack_amount.is_some(), "median_stopping")?;
            refuse("truncation_percentage", raw.truncation_percentage.is_some(), "median_stopping")?;
            refuse("exclude_finished_jobs", raw.exclude_finished_jobs.is_some(), "median_stopping")?;
            Ok(Policy::MedianStopping { schedule })
        }
        "truncation_selection" => {
            refuse("slack_factor", raw.slack_factor.is_some(), "truncation_selection")?;
            refuse("slack_amount", raw.slack_amount.is_some(), "truncation_selection")?;
            let percentage = match &raw.truncation_percentage {
                Some(spanned) if (1..=99).contains(&spanned.value) => spanned.value as u32,
                Some(spanned) => {
                    return Err(SpecError::new(
                        "early_termination.truncation_percentage",
                        spanned.referenced.line(),
                        format!("must be a whole number from 1 to 99, got {}", spanned.value),
                    ));
                }
                None => {
                    return Err(SpecError::new(
                        "early_termination.truncation_percentage",
                        line,
                        "truncation_selection needs truncation_percentage (1 to 99)",
                    ));
                }
            };
            Ok(Policy::TruncationSelection {
                percentage,
                exclude_finished: raw.exclude_finished_jobs.unwrap_or(false),
                schedule,
            })
        }
        other => Err(SpecError::new(
            "early_termination.type",
            line,
            format!("unknown policy '{other}': expected bandit, median_stopping or truncation_selection"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assert_mistakes;

    /// Azure's own example (the reference's §2.6).
    const AZURE_EXAMPLE: &str = r#"$schema: https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json
type: sweep
trial:
  code: ./src
  command: >-
    python main.py --iris-csv ${{inputs.iris_csv}}
    --learning-rate ${{search_space.learning_rate}} --boosting ${{search_space.boosting}}
  environment: azureml:AzureML-lightgbm-3.3@latest
inputs:
  iris_csv: {type: uri_file, path: https://azuremlexamples.blob.core.windows.net/datasets/iris.csv}
compute: azureml:cpu-cluster
sampling_algorithm: {type: random, rule: sobol, seed: 123}
search_space:
  learning_rate: {type: uniform, min_value: 0.01, max_value: 0.9}
  boosting: {type: choice, values: ["gbdt", "dart"]}
objective: {goal: minimize, primary_metric: test-multi_logloss}
early_termination: {type: bandit, slack_factor: 0.1, evaluation_interval: 1, delay_evaluation: 5}
limits: {max_total_trials: 20, max_concurrent_trials: 10, timeout: 7200, trial_timeout: 1200}
"#;

    #[test]
    fn azures_example_reads_whole() {
        let settings = parse_sweep_settings(AZURE_EXAMPLE).expect("Azure's example");
        assert_eq!(settings.search_space["learning_rate"], Expression::Uniform { min: 0.01, max: 0.9 });
        assert_eq!(
            settings.search_space["boosting"],
            Expression::Choice(vec![Value::Text("gbdt".into()), Value::Text("dart".into())])
        );
        assert_eq!(settings.sampling, Sampling::Random { seed: Some(123), sobol: true });
        assert_eq!((settings.primary_metric.as_str(), settings.goal), ("test-multi_logloss", Goal::Minimize));
        assert_eq!(
            (settings.max_total_trials, settings.max_concurrent_trials, settings.timeout, settings.trial_timeout),
            (20, 10, 7200, Some(1200))
        );
        assert_eq!(
            settings.early_termination,
            Some(Policy::Bandit {
                slack: Slack::Factor(0.1),
                schedule: Schedule { evaluation_interval: 1, delay_evaluation: 5 }
            })
        );
    }

    #[test]
    fn the_trial_is_a_command_job_with_the_search_space_in_its_command() {
        let sweep = parse_sweep_job(AZURE_EXAMPLE, "iris").expect("Azure's example");
        let trial = &sweep.trial;
        assert!(trial.command.contains("${{search_space.boosting}}"), "{}", trial.command);
        assert_eq!((trial.code.as_deref(), trial.compute.as_str()), (Some("./src"), "cpu-cluster"));
        assert_eq!(trial.environment.as_deref(), Some("azureml:AzureML-lightgbm-3.3@latest"));
        assert_eq!((trial.experiment_name.as_str(), trial.timeout), ("iris", Some(1200)));
        assert!(matches!(crate::parse_job(AZURE_EXAMPLE, "iris"), Ok(crate::JobSpec::Sweep(_))));
        assert!(matches!(crate::parse_job("command: echo\n", "x"), Ok(crate::JobSpec::Command(_))));

        let with = |trial: &str, extra: &str| {
            format!(
                "type: sweep\ntrial:\n{trial}objective: {{goal: maximize, primary_metric: acc}}\n\
                 sampling_algorithm: random\nsearch_space:\n  lr: {{type: uniform, min_value: 0, max_value: 1}}\n{extra}"
            )
        };
        let cases = [
            (with("  command: python t.py --lr ${{search_space.rate}}\n", ""), "trial.command", 3, "names no hyperparameter of search_space (it has lr)"),
            (with("  command: python t.py ${{inputs.data}}\n", ""), "trial.command", 3, "names no input"),
            (with("  command: python t.py\n  comand: typo\n", ""), "job", 4, "comand"),
            (with("  code: ./src\n", ""), "trial.command", 3, "needs a 'command'"),
            (with("  command: echo\n  resources: {cpu: 0}\n", ""), "trial.resources.cpu", 4, "above 0"),
            ("type: sweep\nobjective: {goal: maximize, primary_metric: acc}\nsampling_algorithm: random\nsearch_space:\n  lr: {type: uniform, min_value: 0, max_value: 1}\n".to_owned(), "trial", 0, "needs a 'trial'"),
        ];
        let cases: Vec<(&str, &str, u64, &str)> =
            cases.iter().map(|(text, field, line, words)| (text.as_str(), *field, *line, *words)).collect();
        assert_mistakes(|text| parse_sweep_job(text, "f"), &cases);
        let command = crate::parse_command_job("command: echo ${{search_space.lr}}\n", "f").unwrap_err();
        assert!(command.message.contains("trial command of a sweep job"), "{command}");
    }

    fn sweep(extra: &str) -> String {
        format!(
            "type: sweep\ntrial: {{command: python t.py, environment: azureml:env@latest}}\n\
             objective: {{goal: Maximize, primary_metric: acc}}\n{extra}"
        )
    }

    #[test]
    fn defaults_shorthands_and_every_expression() {
        let settings = parse_sweep_settings(&sweep(
            "sampling_algorithm: bayesian\nsearch_space:\n  a: {type: randint, upper: 4}\n  \
             b: {type: quniform, min_value: 0, max_value: 1, q: 0.1}\n  c: {type: loguniform, min_value: -5, max_value: 0}\n  \
             d: {type: qloguniform, min_value: 0, max_value: 3, q: 1}\n  e: {type: normal, mu: 0, sigma: 1}\n  \
             f: {type: qnormal, mu: 0, sigma: 1, q: 2}\n  g: {type: lognormal, mu: 0, sigma: 1}\n  \
             h: {type: qlognormal, mu: 0, sigma: 1, q: 1}\n  i: {type: choice, values: [1, 2.5, true, x]}\n",
        ))
        .expect("a sweep");
        assert_eq!(settings.sampling, Sampling::Bayesian);
        assert_eq!(settings.goal, Goal::Maximize);
        assert_eq!(
            (settings.max_total_trials, settings.max_concurrent_trials, settings.timeout),
            (1000, 1000, 5_184_000)
        );
        assert_eq!(settings.search_space.len(), 9);
        assert_eq!(
            settings.search_space["i"],
            Expression::Choice(vec![Value::Int(1), Value::Float(2.5), Value::Bool(true), Value::Text("x".into())])
        );
    }

    #[test]
    fn a_grid_caps_the_trials_at_its_size() {
        let settings = parse_sweep_settings(&sweep(
            "sampling_algorithm: grid\nlimits: {max_total_trials: 50}\nsearch_space:\n  \
             a: {type: choice, values: [1, 2]}\n  b: {type: choice, values: [x, y, z]}\n",
        ))
        .expect("a grid sweep");
        assert_eq!(
            (settings.sampling, settings.max_total_trials, settings.max_concurrent_trials),
            (Sampling::Grid, 6, 6)
        );
    }

    #[test]
    fn mistakes_name_their_field_and_line() {
        let space = "search_space:\n  lr: {type: uniform, min_value: 0, max_value: 1}\n";
        let cases: Vec<(String, &str, u64, &str)> = vec![
            (sweep(&format!("sampling_algorithm: grid\n{space}")), "search_space.lr", 6, "grid sampling takes only choice"),
            (sweep(&format!("sampling_algorithm: sideways\n{space}")), "sampling_algorithm", 4, "unknown sampling algorithm 'sideways'"),
            (sweep(&format!("sampling_algorithm: {{type: random, rule: halton}}\n{space}")), "sampling_algorithm.rule", 4, "expected random or sobol"),
            (sweep(&format!("sampling_algorithm: {{type: grid, seed: 1}}\n{space}")), "sampling_algorithm.seed", 4, "only random sampling"),
            (sweep("sampling_algorithm: random\nsearch_space:\n  lr: {type: uniform, min_value: 1, max_value: 0}\n"), "search_space.lr", 6, "must be less than max_value"),
            (sweep("sampling_algorithm: random\nsearch_space:\n  lr: {type: uniformly, min_value: 0}\n"), "search_space.lr.type", 6, "unknown expression 'uniformly'"),
            (sweep("sampling_algorithm: random\nsearch_space:\n  lr: {type: uniform, min_value: 0}\n"), "search_space.lr.max_value", 6, "uniform needs max_value"),
            (sweep("sampling_algorithm: random\nsearch_space:\n  lr: {type: normal, mu: 0, sigma: 1, q: 1}\n"), "search_space.lr.q", 6, "normal takes mu, sigma, not q"),
            (sweep("sampling_algorithm: random\nsearch_space:\n  n: {type: choice, values: [1, {a: 2}]}\n"), "search_space.n.values", 6, "nested search"),
            (sweep("sampling_algorithm: random\nsearch_space: {}\n"), "search_space", 5, "at least one hyperparameter"),
            (sweep(&format!("sampling_algorithm: random\nlimits: {{max_total_trials: 0}}\n{space}")), "limits.max_total_trials", 5, "from 1 to 1000"),
            (sweep(&format!("sampling_algorithm: bayesian\nearly_termination: {{type: median_stopping}}\n{space}")), "early_termination", 5, "bayesian sampling takes no early-termination"),
            (sweep(&format!("sampling_algorithm: random\nearly_termination: {{type: bandit}}\n{space}")), "early_termination", 5, "exactly one of slack_factor and slack_amount"),
            (sweep(&format!("sampling_algorithm: random\nearly_termination: {{type: truncation_selection}}\n{space}")), "early_termination.truncation_percentage", 5, "needs truncation_percentage"),
            (sweep(&format!("sampling_algorithm: random\nearly_termination: {{type: truncation_selection, truncation_percentage: 100}}\n{space}")), "early_termination.truncation_percentage", 5, "from 1 to 99"),
            (sweep(&format!("sampling_algorithm: random\nearly_termination: {{type: median_stopping, slack_factor: 0.1}}\n{space}")), "early_termination.slack_factor", 5, "median_stopping takes no slack_factor"),
            (sweep(&format!("sampling_algorithm: random\nearly_termination: {{type: hyperband}}\n{space}")), "early_termination.type", 5, "unknown policy 'hyperband'"),
            ("type: sweep\nobjective: {goal: upward, primary_metric: acc}\nsampling_algorithm: random\nsearch_space:\n  lr: {type: uniform, min_value: 0, max_value: 1}\n".to_owned(), "objective.goal", 2, "expected maximize or minimize"),
            ("type: command\n".to_owned(), "type", 1, "expected 'sweep'"),
        ];
        let cases: Vec<(&str, &str, u64, &str)> =
            cases.iter().map(|(text, field, line, words)| (text.as_str(), *field, *line, *words)).collect();
        assert_mistakes(parse_sweep_settings, &cases);
    }

    #[test]
    fn policies_read_into_the_cores_types() {
        let space = "search_space:\n  lr: {type: uniform, min_value: 0, max_value: 1}\n";
        let read = |policy: &str| {
            parse_sweep_settings(&sweep(&format!("sampling_algorithm: random\nearly_termination: {policy}\n{space}")))
                .expect("a sweep")
                .early_termination
                .expect("a policy")
        };
        assert_eq!(
            read("{type: bandit, slack_amount: 0.2, evaluation_interval: 2}"),
            Policy::Bandit {
                slack: Slack::Amount(0.2),
                schedule: Schedule { evaluation_interval: 2, delay_evaluation: 0 }
            }
        );
        assert_eq!(
            read("{type: median_stopping, evaluation_interval: 1, delay_evaluation: 5}"),
            Policy::MedianStopping { schedule: Schedule { evaluation_interval: 1, delay_evaluation: 5 } }
        );
        assert_eq!(
            read("{type: truncation_selection, truncation_percentage: 20, exclude_finished_jobs: true}"),
            Policy::TruncationSelection { percentage: 20, exclude_finished: true, schedule: Schedule::default() }
        );
    }
}

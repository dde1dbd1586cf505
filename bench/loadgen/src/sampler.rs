//! The sweep sampler for bench/sweeps.py: Atelier's own suggestion code (`SweepSettings::suggest`,
//! as the server calls it), driven over stdin and stdout so that a Python benchmark can compare it
//! with Optuna on the same objective functions.
//!
//! `sampler ask` reads one JSON object per line, `{"yaml": <sweep file>, "seed": N, "index": I,
//! "history": [[{"<name>": "<value text>", ...}, <objective>], ...]}`, and answers each with the
//! values of trial I as the trial's params would hold them, `{"<name>": "<value text>", ...}`.
//!
//! `sampler time --trials 1000` times one TPE suggestion with that many ended trials over a
//! six-dimensional space of mixed expressions, and prints the median and p90 in milliseconds.

use anyhow::{Context, Result, bail};
use atelier_core::sweep::space::{Assignment, sample};
use atelier_core::sweep::tpe::{Observation, TpeSettings};
use atelier_spec::sweep::parse_sweep_settings;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Value as Json, json};
use std::io::{BufRead, Write};
use std::time::Instant;

const TIMING_SPACE: &str = "type: sweep\ntrial: {command: echo}\nsampling_algorithm: bayesian\n\
objective: {primary_metric: loss, goal: minimize}\nsearch_space:\n  \
lr: {type: loguniform, min_value: -9, max_value: -1}\n  \
width: {type: quniform, min_value: 16, max_value: 512, q: 16}\n  \
dropout: {type: uniform, min_value: 0, max_value: 0.6}\n  \
layers: {type: randint, upper: 8}\n  \
optimizer: {type: choice, values: [adam, sgd, rmsprop]}\n  \
momentum: {type: normal, mu: 0.9, sigma: 0.05}\n";

/// The TPE settings, Atelier's defaults unless `TPE_CANDIDATES`, `TPE_STARTUP`,
/// `TPE_PRIOR_WEIGHT`, `TPE_GAMMA` or `TPE_BANDWIDTH` say otherwise (to compare variants; the
/// server always uses the defaults).
fn tpe_settings() -> Result<TpeSettings> {
    let mut tpe = TpeSettings::default();
    if let Ok(text) = std::env::var("TPE_CANDIDATES") {
        tpe.candidates = text.parse().context("TPE_CANDIDATES")?;
    }
    if let Ok(text) = std::env::var("TPE_STARTUP") {
        tpe.startup_trials = text.parse().context("TPE_STARTUP")?;
    }
    if let Ok(text) = std::env::var("TPE_PRIOR_WEIGHT") {
        tpe.prior_weight = text.parse().context("TPE_PRIOR_WEIGHT")?;
    }
    if let Ok(text) = std::env::var("TPE_GAMMA") {
        tpe.gamma = text.parse().context("TPE_GAMMA")?;
    }
    if let Ok(text) = std::env::var("TPE_BANDWIDTH") {
        tpe.bandwidth = text.parse().context("TPE_BANDWIDTH")?;
    }
    Ok(tpe)
}

fn ask() -> Result<()> {
    let tpe = tpe_settings()?;
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let request: Json = serde_json::from_str(&line?).context("a request is not JSON")?;
        let yaml = request["yaml"].as_str().context("a request needs its sweep file in 'yaml'")?;
        let settings = parse_sweep_settings(yaml).map_err(|error| anyhow::anyhow!("the sweep file: {error}"))?;
        let seed = request["seed"].as_u64().unwrap_or(0);
        let index = request["index"].as_u64().unwrap_or(0);
        let mut ended: Vec<(Assignment, f64)> = Vec::new();
        for entry in request["history"].as_array().map(Vec::as_slice).unwrap_or_default() {
            let (Some(values), Some(objective)) = (entry[0].as_object(), entry[1].as_f64()) else {
                bail!("a history entry must be [{{name: value text}}, objective]");
            };
            let assignment = settings
                .search_space
                .iter()
                .map(|(name, expression)| {
                    let text = values.get(name).and_then(Json::as_str).unwrap_or_default();
                    Some((name.clone(), expression.parse_value(text)?))
                })
                .collect::<Option<Assignment>>()
                .with_context(|| format!("a history entry's values do not fit the space: {values:?}"))?;
            ended.push((assignment, objective));
        }
        let history: Vec<Observation<'_>> =
            ended.iter().map(|(assignment, objective)| Observation { assignment, objective: *objective }).collect();
        let suggestion =
            settings.suggest_with(seed, index, &history, &tpe).context("the grid has no trial at this index")?;
        let answer: serde_json::Map<String, Json> =
            suggestion.iter().map(|(name, value)| (name.clone(), json!(value.to_string()))).collect();
        writeln!(stdout, "{}", Json::Object(answer))?;
        stdout.flush()?;
    }
    Ok(())
}

fn time(trials: usize, repeat: usize) -> Result<()> {
    let settings = parse_sweep_settings(TIMING_SPACE).map_err(|error| anyhow::anyhow!("{error}"))?;
    let mut rng = StdRng::seed_from_u64(1);
    let ended: Vec<(Assignment, f64)> =
        (0..trials).map(|index| (sample(&settings.search_space, &mut rng), (index as f64 * 0.618).sin())).collect();
    let history: Vec<Observation<'_>> =
        ended.iter().map(|(assignment, objective)| Observation { assignment, objective: *objective }).collect();
    let mut samples = Vec::with_capacity(repeat);
    for index in 0..repeat {
        let start = Instant::now();
        let suggestion = settings.suggest(7, (trials + index) as u64, &history);
        samples.push(start.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(suggestion);
    }
    samples.sort_by(f64::total_cmp);
    let at = |fraction: f64| samples[((samples.len() - 1) as f64 * fraction).round() as usize];
    println!(
        "{}",
        json!({ "trials": trials, "dimensions": settings.search_space.len(), "repeat": repeat,
                "median_ms": at(0.5), "p90_ms": at(0.9) })
    );
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str, default: usize| -> Result<usize> {
        match args.iter().position(|arg| arg == name) {
            Some(at) => {
                args.get(at + 1).with_context(|| format!("{name} needs a number"))?.parse().context(name.to_owned())
            }
            None => Ok(default),
        }
    };
    match args.first().map(String::as_str) {
        Some("ask") => ask(),
        Some("time") => time(flag("--trials", 1000)?, flag("--repeat", 50)?),
        _ => bail!("usage: sampler ask | sampler time [--trials N] [--repeat N]"),
    }
}

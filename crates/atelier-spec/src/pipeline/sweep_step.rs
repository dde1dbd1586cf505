//! A pipeline's sweep step (`type: sweep`): a component (`trial`) run as the trials of a sweep,
//! with `search_space` over the component's inputs and the sweep's own sections (`objective`,
//! `sampling_algorithm`, `limits`, `early_termination`); its outputs are its best trial's.

use super::Step;
use crate::SpecError;
use crate::component::ComponentBody;
use crate::sweep::{SweepSections, SweepSettings, settings_of};
use atelier_core::sweep::space::Expression;

/// A sweep step's settings, with fields named from the step (`jobs.train.search_space.c`).
pub(super) fn sweep_settings(prefix: &str, sections: SweepSections) -> Result<SweepSettings, SpecError> {
    settings_of(sections, "a sweep step").map_err(|error| {
        let line = error.line;
        SpecError::new(format!("{prefix}.{}", error.field), line, error.message)
    })
}

/// Refuses a command step's sweep sections (and sweep limits), naming the first one.
pub(super) fn refuse_sweep_sections(prefix: &str, step_line: u64, raw: &SweepSections) -> Result<(), SpecError> {
    let limits = raw.limits.as_ref();
    let present = [
        ("search_space", raw.search_space.as_ref().map(|spanned| spanned.referenced.line())),
        ("sampling_algorithm", raw.sampling_algorithm.as_ref().map(|spanned| spanned.referenced.line())),
        ("objective", raw.objective.as_ref().map(|spanned| spanned.referenced.line())),
        ("early_termination", raw.early_termination.as_ref().map(|spanned| spanned.referenced.line())),
        ("limits.max_total_trials", limits.and_then(|l| l.max_total_trials.as_ref()).map(|v| v.referenced.line())),
        (
            "limits.max_concurrent_trials",
            limits.and_then(|l| l.max_concurrent_trials.as_ref()).map(|v| v.referenced.line()),
        ),
        ("limits.trial_timeout", limits.and_then(|l| l.trial_timeout.as_ref()).map(|v| v.referenced.line())),
    ];
    match present.into_iter().find_map(|(field, line)| line.map(|line| (field, line))) {
        Some((field, line)) => Err(SpecError::new(
            format!("{prefix}.{field}"),
            if line > 0 { line } else { step_line },
            format!("only a sweep step (type: sweep) takes {field}"),
        )),
        None => Ok(()),
    }
}

/// Checks a sweep step's search space against its component: each hyperparameter is a
/// parameter input (not data) that the step does not also bind, and each value a `choice`
/// lists is one the input takes.
pub(super) fn check_search_space(
    step: &Step,
    settings: &SweepSettings,
    body: &ComponentBody,
    error: impl Fn(&str, String) -> SpecError,
) -> Result<(), SpecError> {
    let prefix = format!("jobs.{}", step.name);
    for (name, expression) in &settings.search_space {
        let field = format!("{prefix}.search_space.{name}");
        let Some(input) = body.inputs.get(name) else {
            return Err(error(
                &field,
                format!("the trial's component has no input '{name}'{}", super::known(body.inputs.keys())),
            ));
        };
        if input.is_data() {
            return Err(error(
                &field,
                format!("the {} input '{name}' takes data, which cannot be searched", input.kind),
            ));
        }
        if step.inputs.contains_key(name) {
            return Err(error(&field, format!("'{name}' is both searched and given in inputs: keep one of them")));
        }
        if let Expression::Choice(values) = expression {
            for value in values {
                let text = value.to_string();
                input.check_value(&text).map_err(|message| error(&field, format!("the choice {text}: {message}")))?;
            }
        }
    }
    Ok(())
}

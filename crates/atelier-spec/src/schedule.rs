//! The schedule (`schedule.schema.json`) of Azure ML's CLI v2 YAML: a trigger (`cron` or
//! `recurrence`, in a time zone, between `start_time` and `end_time`) and the job it submits
//! at each fire time (`create_job`: an existing job to submit again, a job file, or a job
//! definition object with overrides). Every mistake names its field and line.

use crate::{Scalar, SpecError};
use atelier_core::schedule::{Frequency, Rule, Trigger, parse_cron, parse_time, parse_time_zone, parse_week_day};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum OneOrMany {
    One(u32),
    Many(Vec<u32>),
}

impl OneOrMany {
    fn values(&self) -> Vec<u32> {
        match self {
            OneOrMany::One(value) => vec![*value],
            OneOrMany::Many(values) => values.clone(),
        }
    }
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawRecurrenceSchedule {
    #[serde(default)]
    hours: Option<OneOrMany>,
    #[serde(default)]
    minutes: Option<OneOrMany>,
    #[serde(default)]
    week_days: Option<Vec<String>>,
    #[serde(default)]
    month_days: Option<OneOrMany>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTrigger {
    #[serde(rename = "type")]
    kind: Spanned<String>,
    #[serde(default)]
    expression: Option<Spanned<String>>,
    #[serde(default)]
    frequency: Option<Spanned<String>>,
    #[serde(default)]
    interval: Option<Spanned<i64>>,
    #[serde(default)]
    schedule: Option<Spanned<RawRecurrenceSchedule>>,
    #[serde(default)]
    time_zone: Option<Spanned<String>>,
    #[serde(default)]
    start_time: Option<Spanned<String>>,
    #[serde(default)]
    end_time: Option<Spanned<String>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawJobDefinition {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    job: Spanned<String>,
    #[serde(default)]
    experiment_name: Option<String>,
    #[serde(default)]
    inputs: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    outputs: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    settings: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    tags: BTreeMap<String, Scalar>,
}

#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum RawCreateJob {
    Reference(String),
    Definition(RawJobDefinition),
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    #[serde(default)]
    name: Option<Spanned<String>>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, Scalar>,
    #[serde(default)]
    trigger: Option<Spanned<RawTrigger>>,
    #[serde(default)]
    create_job: Option<Spanned<RawCreateJob>>,
}

/// The job a schedule submits.
#[derive(Debug, Clone, PartialEq)]
pub enum JobSource {
    /// `azureml:<job>`: an existing job's file, submitted again as it was.
    Existing(String),
    /// A job file, relative to the schedule's file (the client sends its text).
    File(String),
}

/// What a schedule submits at each fire time: a job, with fields set over its file.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateJob {
    pub source: JobSource,
    /// Fields set over the job's file (`experiment_name`, `inputs.<n>`, `outputs.<n>`,
    /// `settings.<n>`, `tags.<n>`), as `--set` would.
    pub overrides: BTreeMap<String, serde_json::Value>,
}

/// A schedule file, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleSpec {
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub trigger: Trigger,
    pub create_job: CreateJob,
}

fn field_error(field: &str, line: u64) -> impl Fn(atelier_core::Error) -> SpecError + '_ {
    move |error| SpecError::new(field, line, error.message)
}

/// Reads a schedule file; `now` is the start when the file gives none (Azure: the creation
/// time).
pub fn parse_schedule(text: &str, now: i64) -> Result<ScheduleSpec, SpecError> {
    let raw: RawSchedule = serde_saphyr::from_str(text).map_err(|error| SpecError::from_yaml(error, "schedule"))?;
    let Some(name) = raw.name else { return Err(SpecError::new("name", 0, "a schedule needs a 'name'")) };
    let valid = name.value.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name.value.len() <= 200;
    if !valid {
        return Err(SpecError::new(
            "name",
            name.referenced.line(),
            format!("invalid schedule name '{}': expected a letter, then letters, digits, '_' and '-'", name.value),
        ));
    }
    let Some(trigger) = raw.trigger else { return Err(SpecError::new("trigger", 0, "a schedule needs a 'trigger'")) };
    let trigger = read_trigger(trigger, now)?;
    let Some(create_job) = raw.create_job else {
        return Err(SpecError::new("create_job", 0, "a schedule needs a 'create_job'"));
    };
    let create_job = read_create_job(create_job)?;
    Ok(ScheduleSpec {
        name: name.value,
        display_name: raw.display_name,
        description: raw.description,
        tags: raw.tags.iter().map(|(key, value)| (key.clone(), value.text())).collect(),
        trigger,
        create_job,
    })
}

pub(crate) fn read_trigger(spanned: Spanned<RawTrigger>, now: i64) -> Result<Trigger, SpecError> {
    let line = spanned.referenced.line();
    let raw = spanned.value;
    let zone = match &raw.time_zone {
        Some(zone) => parse_time_zone(&zone.value).map_err(field_error("trigger.time_zone", zone.referenced.line()))?,
        None => chrono_tz::Tz::UTC,
    };
    let start = match &raw.start_time {
        Some(start) => {
            parse_time(&start.value, &zone).map_err(field_error("trigger.start_time", start.referenced.line()))?
        }
        None => now,
    };
    let end = match &raw.end_time {
        Some(end) => {
            let at = parse_time(&end.value, &zone).map_err(field_error("trigger.end_time", end.referenced.line()))?;
            if at <= start {
                return Err(SpecError::new(
                    "trigger.end_time",
                    end.referenced.line(),
                    "the end is not after the start",
                ));
            }
            Some(at)
        }
        None => None,
    };
    let rule = match raw.kind.value.as_str() {
        "cron" => {
            for (present, field) in [
                (raw.frequency.is_some(), "frequency"),
                (raw.interval.is_some(), "interval"),
                (raw.schedule.is_some(), "schedule"),
            ] {
                if present {
                    return Err(SpecError::new(
                        format!("trigger.{field}"),
                        line,
                        format!("a cron trigger takes an expression, not a {field} (that is a recurrence's)"),
                    ));
                }
            }
            let Some(expression) = raw.expression else {
                return Err(SpecError::new("trigger.expression", line, "a cron trigger needs an 'expression'"));
            };
            parse_cron(&expression.value).map_err(field_error("trigger.expression", expression.referenced.line()))?;
            Rule::Cron(expression.value)
        }
        "recurrence" => {
            if let Some(expression) = &raw.expression {
                return Err(SpecError::new(
                    "trigger.expression",
                    expression.referenced.line(),
                    "a recurrence takes a frequency and an interval, not an expression (that is a cron trigger's)",
                ));
            }
            let Some(frequency) = raw.frequency else {
                return Err(SpecError::new("trigger.frequency", line, "a recurrence needs a 'frequency'"));
            };
            let frequency_line = frequency.referenced.line();
            let frequency =
                Frequency::parse(&frequency.value).map_err(field_error("trigger.frequency", frequency_line))?;
            let interval = match &raw.interval {
                Some(interval) if interval.value >= 1 && interval.value <= 1_000 => interval.value as u32,
                Some(interval) => {
                    return Err(SpecError::new(
                        "trigger.interval",
                        interval.referenced.line(),
                        format!("must be a whole number from 1 to 1000, got {}", interval.value),
                    ));
                }
                None => return Err(SpecError::new("trigger.interval", line, "a recurrence needs an 'interval'")),
            };
            let (mut hours, mut minutes, mut week_days, mut month_days) = (vec![], vec![], vec![], vec![]);
            if let Some(schedule) = &raw.schedule {
                let at = schedule.referenced.line();
                let inside = &schedule.value;
                if matches!(frequency, Frequency::Minute | Frequency::Hour) {
                    return Err(SpecError::new(
                        "trigger.schedule",
                        at,
                        "a schedule of hours and days is for day, week and month frequencies",
                    ));
                }
                hours = inside.hours.as_ref().map(OneOrMany::values).unwrap_or_default();
                minutes = inside.minutes.as_ref().map(OneOrMany::values).unwrap_or_default();
                month_days = inside.month_days.as_ref().map(OneOrMany::values).unwrap_or_default();
                if let Some(bad) = hours.iter().find(|hour| **hour > 23) {
                    return Err(SpecError::new("trigger.schedule.hours", at, format!("{bad} is not an hour: 0 to 23")));
                }
                if let Some(bad) = minutes.iter().find(|minute| **minute > 59) {
                    return Err(SpecError::new(
                        "trigger.schedule.minutes",
                        at,
                        format!("{bad} is not a minute: 0 to 59"),
                    ));
                }
                if let Some(bad) = month_days.iter().find(|day| !(1..=31).contains(*day)) {
                    return Err(SpecError::new(
                        "trigger.schedule.month_days",
                        at,
                        format!("{bad} is not a day: 1 to 31"),
                    ));
                }
                for day in inside.week_days.iter().flatten() {
                    week_days.push(parse_week_day(day).map_err(field_error("trigger.schedule.week_days", at))?);
                }
                if !week_days.is_empty() && frequency != Frequency::Week {
                    return Err(SpecError::new("trigger.schedule.week_days", at, "week days are for a week frequency"));
                }
                if !month_days.is_empty() && frequency != Frequency::Month {
                    return Err(SpecError::new(
                        "trigger.schedule.month_days",
                        at,
                        "month days are for a month frequency",
                    ));
                }
            }
            Rule::Recurrence { frequency, interval, hours, minutes, week_days, month_days }
        }
        other => {
            return Err(SpecError::new(
                "trigger.type",
                raw.kind.referenced.line(),
                format!("invalid trigger type '{other}': expected cron or recurrence"),
            ));
        }
    };
    Ok(Trigger { rule, time_zone: zone, start, end })
}

fn read_create_job(spanned: Spanned<RawCreateJob>) -> Result<CreateJob, SpecError> {
    let line = spanned.referenced.line();
    let source_of = |text: &str, line: u64| -> Result<JobSource, SpecError> {
        let text = text.trim();
        if let Some(name) = text.strip_prefix("azureml:") {
            atelier_core::job::validate_job_name(name).map_err(field_error("create_job", line))?;
            return Ok(JobSource::Existing(name.to_owned()));
        }
        let path = text.strip_prefix("file:").unwrap_or(text);
        if path.is_empty() || path.contains("://") {
            return Err(SpecError::new(
                "create_job",
                line,
                format!("'{text}': expected azureml:<job name> or a job file such as ./pipeline.yml"),
            ));
        }
        Ok(JobSource::File(path.to_owned()))
    };
    match spanned.value {
        RawCreateJob::Reference(text) => Ok(CreateJob { source: source_of(&text, line)?, overrides: BTreeMap::new() }),
        RawCreateJob::Definition(definition) => {
            if let Some(kind) = &definition.kind
                && !matches!(kind.as_str(), "pipeline" | "command" | "sweep")
            {
                return Err(SpecError::new(
                    "create_job.type",
                    line,
                    format!("invalid job type '{kind}': expected pipeline, command or sweep"),
                ));
            }
            let source = source_of(&definition.job.value, definition.job.referenced.line())?;
            let mut overrides = BTreeMap::new();
            if let Some(experiment) = definition.experiment_name {
                overrides.insert("experiment_name".to_owned(), serde_json::Value::String(experiment));
            }
            for (section, values) in
                [("inputs", definition.inputs), ("outputs", definition.outputs), ("settings", definition.settings)]
            {
                for (key, value) in values {
                    overrides.insert(format!("{section}.{key}"), value);
                }
            }
            for (key, value) in definition.tags {
                overrides.insert(format!("tags.{key}"), serde_json::Value::String(value.text()));
            }
            Ok(CreateJob { source, overrides })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assert_mistakes;

    const NIGHTLY: &str = r#"$schema: https://azuremlschemas.azureedge.net/latest/schedule.schema.json
name: nightly_retrain
display_name: Retrain every night
trigger:
  type: recurrence
  frequency: day
  interval: 1
  schedule:
    hours: [4]
    minutes: [0]
  time_zone: "Pacific Standard Time"
  start_time: "2026-12-01T00:00:00"
create_job:
  type: pipeline
  job: ./pipeline.yml
  settings:
    continue_on_step_failure: true
  inputs:
    epochs: 5
"#;

    #[test]
    fn azures_example_schedule_reads() {
        let schedule = parse_schedule(NIGHTLY, 0).unwrap();
        assert_eq!(schedule.name, "nightly_retrain");
        assert_eq!(schedule.create_job.source, JobSource::File("./pipeline.yml".into()));
        assert_eq!(schedule.create_job.overrides["settings.continue_on_step_failure"], serde_json::json!(true));
        assert_eq!(schedule.create_job.overrides["inputs.epochs"], serde_json::json!(5));
        // 04:00 in Los Angeles is 12:00Z in December.
        let first = schedule.trigger.next_after(0).unwrap();
        assert_eq!(first, 1_796_126_400_000, "2026-12-01T12:00:00Z");

        let cron =
            "name: every_minute\ntrigger:\n  type: cron\n  expression: \"* * * * *\"\ncreate_job: azureml:train-job\n";
        let schedule = parse_schedule(cron, 1_000).unwrap();
        assert_eq!(schedule.create_job.source, JobSource::Existing("train-job".into()));
        assert_eq!(schedule.trigger.start, 1_000, "without a start, the schedule starts when it is created");
    }

    #[test]
    fn mistakes_name_the_field_and_the_line() {
        let parse = |text: &str| parse_schedule(text, 0);
        let job = "create_job: azureml:x\n";
        assert_mistakes(
            parse,
            &[
                (
                    "trigger: {type: cron, expression: '* * * * *'}\ncreate_job: azureml:x\n",
                    "name",
                    0,
                    "needs a 'name'",
                ),
                (&format!("name: s\n{job}"), "trigger", 0, "needs a 'trigger'"),
                (
                    "name: s\ntrigger:\n  type: cron\n  expression: '* * *'\ncreate_job: azureml:x\n",
                    "trigger.expression",
                    4,
                    "expected 5",
                ),
                (
                    "name: s\ntrigger:\n  type: hourly\ncreate_job: azureml:x\n",
                    "trigger.type",
                    3,
                    "expected cron or recurrence",
                ),
                (
                    "name: s\ntrigger:\n  type: recurrence\n  frequency: fortnight\n  interval: 1\ncreate_job: azureml:x\n",
                    "trigger.frequency",
                    4,
                    "expected minute",
                ),
                (
                    "name: s\ntrigger:\n  type: recurrence\n  frequency: day\n  interval: 0\ncreate_job: azureml:x\n",
                    "trigger.interval",
                    5,
                    "from 1 to 1000",
                ),
                (
                    "name: s\ntrigger:\n  type: recurrence\n  frequency: day\n  interval: 1\n  schedule:\n    hours: [25]\ncreate_job: azureml:x\n",
                    "trigger.schedule.hours",
                    7,
                    "not an hour",
                ),
                (
                    "name: s\ntrigger:\n  type: recurrence\n  frequency: day\n  interval: 1\n  schedule:\n    week_days: [monday]\ncreate_job: azureml:x\n",
                    "trigger.schedule.week_days",
                    7,
                    "for a week frequency",
                ),
                (
                    "name: s\ntrigger:\n  type: cron\n  expression: '* * * * *'\n  time_zone: Mars\ncreate_job: azureml:x\n",
                    "trigger.time_zone",
                    5,
                    "unknown time zone",
                ),
                (
                    "name: s\ntrigger:\n  type: cron\n  expression: '* * * * *'\n  start_time: soon\ncreate_job: azureml:x\n",
                    "trigger.start_time",
                    5,
                    "ISO 8601",
                ),
                (
                    "name: s\ntrigger:\n  type: cron\n  expression: '* * * * *'\ncreate_job: https://x/y.yml\n",
                    "create_job",
                    5,
                    "expected azureml:<job name>",
                ),
                (
                    "name: s\ntrigger:\n  type: cron\n  expression: '* * * * *'\n  every: 1\ncreate_job: azureml:x\n",
                    "schedule",
                    5,
                    "unknown field",
                ),
            ],
        );
    }
}

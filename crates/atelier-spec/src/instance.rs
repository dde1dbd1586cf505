//! Compute instances: Azure ML's compute instance YAML (`type: computeinstance`), a JupyterLab
//! for one person, with Atelier's `environment` (the Python environment its notebooks run in)
//! and `assigned_to` (whose it is):
//!
//! ```yaml
//! name: alice-ci
//! type: computeinstance
//! size: Standard_DS3_v2                      # CPUs and memory, as for a job
//! idle_time_before_shutdown_minutes: 60      # stopped after this long without kernel activity
//! environment: azureml:sklearn-env@latest    # default: the built-in environment
//! assigned_to: alice                         # default: its creator
//! compute: azureml:hpc                       # default: this server's machine; or a Slurm compute
//! schedules:
//!   compute_start_stop:
//!     - action: start
//!       trigger: {type: cron, expression: "0 8 * * 1-5", time_zone: W. Europe Standard Time}
//!     - action: stop
//!       trigger: {type: cron, expression: "0 19 * * *"}
//! setup_scripts:
//!   creation_script: {path: setup.sh, timeout_minutes: 15}   # once, when it is created
//!   startup_script: {command: "pip list"}                    # at every start
//! ```
//!
//! A script's `path` is read by the client, which sends its text; `command` is the script.

use crate::SpecError;
use crate::schedule::{RawTrigger, read_trigger};
use atelier_core::schedule::Trigger;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

/// The compute file types: `amlcompute` and `slurm` define computes jobs run on;
/// `computeinstance` defines a compute instance.
pub const INSTANCE_TYPE: &str = "computeinstance";

/// The most a setup script may take by default, in minutes.
pub const DEFAULT_SCRIPT_MINUTES: u32 = 15;

#[derive(Deserialize, Debug)]
struct RawKind {
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

/// The `type` of a compute file, in lower case (empty where it has none).
pub fn compute_file_type(text: &str) -> Result<String, SpecError> {
    let raw: RawKind = serde_saphyr::from_str(text).map_err(|error| SpecError::from_yaml(error, "compute"))?;
    Ok(raw.kind.unwrap_or_default().to_ascii_lowercase())
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawInstance {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    name: Spanned<String>,
    #[serde(rename = "type")]
    _kind: String,
    #[serde(default)]
    size: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    idle_time_before_shutdown_minutes: Option<Spanned<i64>>,
    #[serde(default)]
    schedules: Option<RawSchedules>,
    #[serde(default)]
    setup_scripts: Option<RawSetupScripts>,
    #[serde(default)]
    environment: Option<Spanned<String>>,
    #[serde(default)]
    assigned_to: Option<Spanned<String>>,
    #[serde(default)]
    compute: Option<Spanned<String>>,
    // Azure's fields that have no meaning on Atelier's machines are accepted.
    #[serde(rename = "location", default)]
    _location: Option<String>,
    #[serde(rename = "ssh_public_access_enabled", default)]
    _ssh_public_access_enabled: Option<bool>,
    #[serde(rename = "enable_node_public_ip", default)]
    _enable_node_public_ip: Option<bool>,
    #[serde(rename = "identity", default)]
    _identity: Option<serde_json::Value>,
    #[serde(rename = "create_on_behalf_of", default)]
    _create_on_behalf_of: Option<serde_json::Value>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawSchedules {
    #[serde(default)]
    compute_start_stop: Vec<Spanned<RawStartStop>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawStartStop {
    action: Spanned<String>,
    trigger: Spanned<RawTrigger>,
    #[serde(default)]
    state: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawSetupScripts {
    #[serde(default)]
    creation_script: Option<Spanned<RawScript>>,
    #[serde(default)]
    startup_script: Option<Spanned<RawScript>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawScript {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    timeout_minutes: Option<u32>,
}

/// What a start/stop schedule does at each fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstanceAction {
    Start,
    Stop,
}

/// A start or stop at each fire of a trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct StartStop {
    pub action: InstanceAction,
    pub trigger: Trigger,
    /// Whether the schedule fires (Azure's `state: enabled|disabled`).
    pub enabled: bool,
}

/// A setup script: the text the client read from `path`, or `command`; `None` until read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupScript {
    pub path: Option<String>,
    pub command: Option<String>,
    pub timeout_minutes: u32,
}

/// A compute instance file, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceSpec {
    pub name: String,
    pub size: Option<String>,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// `None`: never stopped for idleness.
    pub idle_minutes: Option<u32>,
    pub schedules: Vec<StartStop>,
    pub creation_script: Option<SetupScript>,
    pub startup_script: Option<SetupScript>,
    /// A reference to an environment (`azureml:name:version`, `azureml:name@latest`).
    pub environment: Option<String>,
    pub assigned_to: Option<String>,
    /// The Slurm compute whose nodes run it (`compute: azureml:hpc`); `None`: this server's
    /// machine.
    pub compute: Option<String>,
}

fn script(field: &str, raw: Option<Spanned<RawScript>>) -> Result<Option<SetupScript>, SpecError> {
    let Some(raw) = raw else { return Ok(None) };
    let line = raw.referenced.line();
    let raw = raw.value;
    if raw.path.is_some() == raw.command.is_some() {
        return Err(SpecError::new(field, line, "give a script's path or its command (one of them)"));
    }
    let timeout_minutes = raw.timeout_minutes.unwrap_or(DEFAULT_SCRIPT_MINUTES);
    if timeout_minutes == 0 {
        return Err(SpecError::new(field, line, "timeout_minutes: expected at least 1"));
    }
    Ok(Some(SetupScript { path: raw.path, command: raw.command, timeout_minutes }))
}

/// Reads and checks a compute instance file; `now` starts triggers that give no start time.
pub fn parse_instance(text: &str, now: i64) -> Result<InstanceSpec, SpecError> {
    let raw: RawInstance = serde_saphyr::from_str(text).map_err(|error| SpecError::from_yaml(error, "compute"))?;
    crate::compute::validate_compute_name(&raw.name.value)
        .map_err(|message| SpecError::new("name", raw.name.referenced.line(), message))?;
    let idle_minutes = match raw.idle_time_before_shutdown_minutes {
        Some(minutes) if !(1..=60 * 24 * 30).contains(&minutes.value) => {
            return Err(SpecError::new(
                "idle_time_before_shutdown_minutes",
                minutes.referenced.line(),
                "expected 1 to 43200 minutes (30 days)",
            ));
        }
        Some(minutes) => Some(minutes.value as u32),
        None => None,
    };
    let mut schedules = Vec::new();
    for entry in raw.schedules.map(|schedules| schedules.compute_start_stop).unwrap_or_default() {
        let line = entry.referenced.line();
        let entry = entry.value;
        let action = match entry.action.value.to_ascii_lowercase().as_str() {
            "start" => InstanceAction::Start,
            "stop" => InstanceAction::Stop,
            other => {
                return Err(SpecError::new(
                    "schedules.compute_start_stop.action",
                    entry.action.referenced.line(),
                    format!("'{other}': expected start or stop"),
                ));
            }
        };
        let enabled = match entry.state.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("enabled") => true,
            Some("disabled") => false,
            Some(other) => {
                return Err(SpecError::new(
                    "schedules.compute_start_stop.state",
                    line,
                    format!("'{other}': expected enabled or disabled"),
                ));
            }
        };
        schedules.push(StartStop { action, trigger: read_trigger(entry.trigger, now)?, enabled });
    }
    let (creation_script, startup_script) = match raw.setup_scripts {
        Some(scripts) => (
            script("setup_scripts.creation_script", scripts.creation_script)?,
            script("setup_scripts.startup_script", scripts.startup_script)?,
        ),
        None => (None, None),
    };
    if let Some(environment) = &raw.environment
        && !environment.value.starts_with("azureml:")
    {
        return Err(SpecError::new(
            "environment",
            environment.referenced.line(),
            format!(
                "'{}': expected a registered environment, azureml:<name>:<version> or azureml:<name>@latest",
                environment.value
            ),
        ));
    }
    let compute = match raw.compute {
        Some(compute) => {
            let name = compute.value.strip_prefix("azureml:").unwrap_or(&compute.value);
            crate::compute::validate_compute_name(name)
                .map_err(|message| SpecError::new("compute", compute.referenced.line(), message))?;
            Some(name.to_owned()).filter(|name| name != "local")
        }
        None => None,
    };
    Ok(InstanceSpec {
        name: raw.name.value,
        size: raw.size,
        description: raw.description,
        tags: raw.tags,
        idle_minutes,
        schedules,
        creation_script,
        startup_script,
        environment: raw.environment.map(|environment| environment.value),
        assigned_to: raw.assigned_to.map(|user| user.value),
        compute,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = concat!(
        "$schema: https://azuremlschemas.azureedge.net/latest/computeInstance.schema.json\n",
        "name: alice-ci\n",
        "type: ComputeInstance\n",
        "size: Standard_DS3_v2\n",
        "idle_time_before_shutdown_minutes: 30\n",
        "schedules:\n",
        "  compute_start_stop:\n",
        "    - action: start\n",
        "      trigger:\n",
        "        type: cron\n",
        "        expression: \"0 8 * * 1-5\"\n",
        "        time_zone: W. Europe Standard Time\n",
        "    - action: Stop\n",
        "      state: disabled\n",
        "      trigger: {type: cron, expression: \"0 19 * * *\"}\n",
        "setup_scripts:\n",
        "  creation_script: {path: setup.sh, timeout_minutes: 5}\n",
        "  startup_script: {command: pip list}\n",
        "environment: azureml:sk@latest\n",
        "assigned_to: alice\n",
        "compute: azureml:hpc\n",
        "location: westeurope\n",
    );

    #[test]
    fn an_azure_compute_instance_file_reads() {
        assert_eq!(compute_file_type(FILE).unwrap(), INSTANCE_TYPE);
        let spec = parse_instance(FILE, 0).unwrap();
        assert_eq!((spec.name.as_str(), spec.idle_minutes), ("alice-ci", Some(30)));
        assert_eq!(spec.schedules.len(), 2);
        assert_eq!((spec.schedules[0].action, spec.schedules[0].enabled), (InstanceAction::Start, true));
        assert_eq!((spec.schedules[1].action, spec.schedules[1].enabled), (InstanceAction::Stop, false));
        let creation = spec.creation_script.unwrap();
        assert_eq!((creation.path.as_deref(), creation.timeout_minutes), (Some("setup.sh"), 5));
        assert_eq!(spec.startup_script.unwrap().command.as_deref(), Some("pip list"));
        assert_eq!(spec.assigned_to.as_deref(), Some("alice"));
        assert_eq!(spec.compute.as_deref(), Some("hpc"));
        let local = parse_instance("name: ci\ntype: computeinstance\ncompute: local\n", 0).unwrap();
        assert_eq!(local.compute, None, "the local compute is this server's machine");
    }

    #[test]
    fn compute_instance_mistakes_name_the_field_and_line() {
        let cases = [
            ("name: ci\ntype: computeinstance\ngpus: 2\n", "compute", 3, "gpus"),
            ("name: c\ntype: computeinstance\n", "name", 1, "2 to 24"),
            (
                "name: ci\ntype: computeinstance\nidle_time_before_shutdown_minutes: 0\n",
                "idle_time_before_shutdown_minutes",
                3,
                "1 to 43200",
            ),
            ("name: ci\ntype: computeinstance\nenvironment: sk\n", "environment", 3, "azureml:"),
            ("name: ci\ntype: computeinstance\ncompute: azureml:a/b\n", "compute", 3, "a/b"),
            (
                "name: ci\ntype: computeinstance\nsetup_scripts:\n  creation_script: {timeout_minutes: 3}\n",
                "setup_scripts.creation_script",
                4,
                "path or its command",
            ),
            (
                "name: ci\ntype: computeinstance\nschedules:\n  compute_start_stop:\n    - action: pause\n      trigger: {type: cron, expression: \"0 1 * * *\"}\n",
                "schedules.compute_start_stop.action",
                5,
                "start or stop",
            ),
        ];
        crate::assert_mistakes(|text| parse_instance(text, 0), &cases);
    }
}

//! Compute files: Azure ML's compute YAML (`type: amlcompute`), for a compute on this server's
//! machine, where the fields Atelier has no use for on one machine (`location`, `tier`,
//! `identity`, …) are accepted; and Atelier's own `type: slurm`, in the same shape, for a Slurm
//! cluster reached through its command-line tools (`sbatch`, `squeue`, `scancel`, `sinfo`) on
//! the server's machine, or through `slurmrestd` where the server is not a submit host:
//!
//! ```yaml
//! name: hpc
//! type: slurm
//! partition: gpu            # required
//! account: vision           # optional: sbatch --account
//! qos: normal               # optional: sbatch --qos
//! max_instances: 8          # most of its jobs submitted at once (default 1)
//! max_nodes_per_job: 2      # the most nodes one job may ask for (default 1)
//! default_time_limit: 4:00:00   # sbatch --time for jobs without limits.timeout
//! job_folder: /shared/atelier/jobs  # a folder every node sees (default: the server's)
//! atelier_path: /shared/bin/atelier # this program, as the nodes see it (default: the server's)
//! slurmrestd:               # optional: Slurm's REST API instead of the tools
//!   url: http://slurm-head:6820
//!   user_name: atelier      # the user jobs run as (X-SLURM-USER-NAME)
//!   token_file: /etc/atelier/slurm.jwt  # its JWT (`scontrol token`), read at each call
//! ```

use crate::SpecError;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawCompute {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    name: Spanned<String>,
    #[serde(rename = "type")]
    kind: Spanned<String>,
    #[serde(default)]
    size: Option<String>,
    #[serde(default)]
    min_instances: Option<i64>,
    #[serde(default)]
    max_instances: Option<Spanned<i64>>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(rename = "location", default)]
    _location: Option<String>,
    #[serde(rename = "idle_time_before_scale_down", default)]
    _idle_time_before_scale_down: Option<i64>,
    #[serde(rename = "tier", default)]
    _tier: Option<String>,
    #[serde(rename = "identity", default)]
    _identity: Option<serde_json::Value>,
    #[serde(default)]
    partition: Option<Spanned<String>>,
    #[serde(default)]
    account: Option<Spanned<String>>,
    #[serde(default)]
    qos: Option<Spanned<String>>,
    #[serde(default)]
    max_nodes_per_job: Option<Spanned<i64>>,
    #[serde(default)]
    default_time_limit: Option<Spanned<serde_json::Value>>,
    #[serde(default)]
    job_folder: Option<Spanned<String>>,
    #[serde(default)]
    atelier_path: Option<Spanned<String>>,
    #[serde(default)]
    slurmrestd: Option<Spanned<RawSlurmRest>>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
struct RawSlurmRest {
    url: Spanned<String>,
    user_name: Spanned<String>,
    token_file: Spanned<String>,
}

/// How a Slurm compute reaches `slurmrestd`: its URL, the user jobs run as, and the file
/// holding that user's JWT (re-read at each call, so it can be renewed in place).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SlurmRest {
    pub url: String,
    pub user_name: String,
    pub token_file: String,
}

/// A Slurm compute's settings (kept with the compute as JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SlurmSettings {
    pub partition: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos: Option<String>,
    pub max_nodes_per_job: i64,
    /// Minutes, for jobs that set no `limits.timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_time_limit_minutes: Option<i64>,
    /// An absolute folder every node sees, where jobs' folders are made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_folder: Option<String>,
    /// This program's path on the nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atelier_path: Option<String>,
    /// Reach Slurm through `slurmrestd` rather than the command-line tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurmrestd: Option<SlurmRest>,
}

/// A compute file, checked; also what the service defines a compute from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComputeSpec {
    pub name: String,
    /// `amlcompute`, in lower case whatever the file's.
    pub kind: String,
    /// An Azure VM size; the server knows which.
    pub size: Option<String>,
    pub min_instances: Option<i64>,
    pub max_instances: Option<i64>,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// For `type: slurm`, the cluster's settings.
    pub slurm: Option<SlurmSettings>,
}

/// Checks a compute's name: 2 to 24 letters, digits and '-', starting with a letter.
pub fn validate_compute_name(name: &str) -> Result<(), String> {
    let valid = (2..=24).contains(&name.len())
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(format!("invalid compute name '{name}': 2 to 24 letters, digits and '-', starting with a letter"))
    }
}

/// Checks a compute's type: `amlcompute` (this server's machine) or `slurm` (a Slurm cluster).
pub fn validate_compute_type(kind: &str) -> Result<(), String> {
    if kind == "amlcompute" || kind == "slurm" {
        Ok(())
    } else {
        Err(format!(
            "compute type '{kind}' is not supported: expected amlcompute (this server's machine) or slurm (a Slurm cluster)"
        ))
    }
}

/// Reads a Slurm time limit as `sbatch --time` takes it — `MM`, `MM:SS`, `HH:MM:SS`, `D-HH`,
/// `D-HH:MM` or `D-HH:MM:SS` — into whole minutes, rounded up as Slurm does.
pub fn parse_slurm_time(text: &str) -> Result<i64, String> {
    let bad = || format!("time limit '{text}': expected minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS");
    let number = |part: &str| part.parse::<i64>().ok().filter(|value| *value >= 0).ok_or_else(bad);
    let (days, rest) = match text.split_once('-') {
        Some((days, rest)) => (Some(number(days)?), rest),
        None => (None, text),
    };
    let parts: Vec<i64> = rest.split(':').map(number).collect::<Result<_, _>>()?;
    let seconds = match (days, parts.as_slice()) {
        (None, [minutes]) => minutes * 60,
        (None, [minutes, seconds]) => minutes * 60 + seconds,
        (None, [hours, minutes, seconds]) => hours * 3600 + minutes * 60 + seconds,
        (Some(days), [hours]) => days * 86_400 + hours * 3600,
        (Some(days), [hours, minutes]) => days * 86_400 + hours * 3600 + minutes * 60,
        (Some(days), [hours, minutes, seconds]) => days * 86_400 + hours * 3600 + minutes * 60 + seconds,
        _ => return Err(bad()),
    };
    if seconds == 0 {
        return Err(format!("time limit '{text}': expected more than nothing"));
    }
    Ok((seconds + 59) / 60)
}

/// Checks a Slurm name (a partition, account or QOS): letters, digits, `_`, `-` and `.`, so it
/// is one argument of a command and nothing else.
fn slurm_name(field: &str, value: &str) -> Result<(), String> {
    let valid = !value.is_empty()
        && value.len() <= 64
        && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if valid { Ok(()) } else { Err(format!("{field} '{value}': expected letters, digits, '_', '-' and '.'")) }
}

/// Reads a Slurm compute's own fields.
fn slurm_settings(raw: &RawCompute) -> Result<SlurmSettings, SpecError> {
    let Some(partition) = &raw.partition else {
        return Err(SpecError::new("partition", raw.kind.referenced.line(), "a slurm compute needs a partition"));
    };
    let named = |field: &str, value: &Option<Spanned<String>>| -> Result<Option<String>, SpecError> {
        match value {
            Some(value) => slurm_name(field, &value.value)
                .map(|()| Some(value.value.clone()))
                .map_err(|message| SpecError::new(field, value.referenced.line(), message)),
            None => Ok(None),
        }
    };
    let partition = named("partition", &Some(partition.clone()))?.unwrap_or_default();
    let max_nodes_per_job = match &raw.max_nodes_per_job {
        Some(nodes) if nodes.value < 1 => {
            return Err(SpecError::new("max_nodes_per_job", nodes.referenced.line(), "expected at least 1"));
        }
        Some(nodes) => nodes.value,
        None => 1,
    };
    let default_time_limit_minutes = match &raw.default_time_limit {
        Some(limit) => {
            let text = match &limit.value {
                serde_json::Value::String(text) => text.clone(),
                serde_json::Value::Number(number) => number.to_string(),
                other => other.to_string(),
            };
            Some(
                parse_slurm_time(&text)
                    .map_err(|message| SpecError::new("default_time_limit", limit.referenced.line(), message))?,
            )
        }
        None => None,
    };
    let absolute = |field: &str, value: &Option<Spanned<String>>| -> Result<Option<String>, SpecError> {
        match value {
            Some(path) if !path.value.starts_with('/') || path.value.split('/').any(|part| part == "..") => Err(
                SpecError::new(field, path.referenced.line(), format!("'{}': expected an absolute path", path.value)),
            ),
            Some(path) => Ok(Some(path.value.trim_end_matches('/').to_owned()).filter(|path| !path.is_empty())),
            None => Ok(None),
        }
    };
    let slurmrestd = match &raw.slurmrestd {
        Some(rest) => {
            let rest = &rest.value;
            let url = rest.url.value.trim_end_matches('/');
            let scheme_ok = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
            if scheme_ok.is_none_or(|host| host.is_empty() || host.contains(char::is_whitespace)) {
                return Err(SpecError::new(
                    "slurmrestd.url",
                    rest.url.referenced.line(),
                    format!("'{}': expected http://host:port or https://host:port", rest.url.value),
                ));
            }
            slurm_name("slurmrestd.user_name", &rest.user_name.value)
                .map_err(|message| SpecError::new("slurmrestd.user_name", rest.user_name.referenced.line(), message))?;
            let token_file = absolute("slurmrestd.token_file", &Some(rest.token_file.clone()))?.unwrap_or_default();
            Some(SlurmRest { url: url.to_owned(), user_name: rest.user_name.value.clone(), token_file })
        }
        None => None,
    };
    Ok(SlurmSettings {
        partition,
        account: named("account", &raw.account)?,
        qos: named("qos", &raw.qos)?,
        max_nodes_per_job,
        default_time_limit_minutes,
        job_folder: absolute("job_folder", &raw.job_folder)?,
        atelier_path: absolute("atelier_path", &raw.atelier_path)?,
        slurmrestd,
    })
}

/// The instance counts, with Azure's defaults (0 and 1), checked.
pub fn instance_range(min_instances: Option<i64>, max_instances: Option<i64>) -> Result<(i64, i64), String> {
    let (min, max) = (min_instances.unwrap_or(0), max_instances.unwrap_or(1));
    if min < 0 || max < 1 || min > max {
        return Err(format!(
            "min_instances {min} and max_instances {max}: expected 0 <= min_instances <= max_instances and max_instances >= 1"
        ));
    }
    Ok((min, max))
}

/// Reads and checks a compute file.
pub fn parse_compute(text: &str) -> Result<ComputeSpec, SpecError> {
    let raw: RawCompute = serde_saphyr::from_str(text).map_err(|error| SpecError::from_yaml(error, "compute"))?;
    validate_compute_name(&raw.name.value)
        .map_err(|message| SpecError::new("name", raw.name.referenced.line(), message))?;
    let kind = raw.kind.value.to_ascii_lowercase();
    validate_compute_type(&kind).map_err(|message| SpecError::new("type", raw.kind.referenced.line(), message))?;
    let max_line = raw.max_instances.as_ref().map_or(0, |max| max.referenced.line());
    let max_instances = raw.max_instances.as_ref().map(|max| max.value);
    instance_range(raw.min_instances, max_instances)
        .map_err(|message| SpecError::new("max_instances", max_line, message))?;
    let slurm = if kind == "slurm" {
        Some(slurm_settings(&raw)?)
    } else {
        let cluster_fields = [
            ("partition", raw.partition.as_ref().map(|value| value.referenced.line())),
            ("account", raw.account.as_ref().map(|value| value.referenced.line())),
            ("qos", raw.qos.as_ref().map(|value| value.referenced.line())),
            ("max_nodes_per_job", raw.max_nodes_per_job.as_ref().map(|value| value.referenced.line())),
            ("default_time_limit", raw.default_time_limit.as_ref().map(|value| value.referenced.line())),
            ("job_folder", raw.job_folder.as_ref().map(|value| value.referenced.line())),
            ("atelier_path", raw.atelier_path.as_ref().map(|value| value.referenced.line())),
            ("slurmrestd", raw.slurmrestd.as_ref().map(|value| value.referenced.line())),
        ];
        if let Some((field, Some(line))) = cluster_fields.into_iter().find(|(_, line)| line.is_some()) {
            return Err(SpecError::new(field, line, format!("{field} is a field of type: slurm, not of {kind}")));
        }
        None
    };
    Ok(ComputeSpec {
        name: raw.name.value,
        kind,
        size: raw.size,
        min_instances: raw.min_instances,
        max_instances,
        description: raw.description,
        tags: raw.tags,
        slurm,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_azure_compute_file_reads() {
        let text = "$schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json\nname: cpu-cluster\n\
                    type: AmlCompute\nsize: Standard_DS3_v2\nmin_instances: 0\nmax_instances: 2\n\
                    idle_time_before_scale_down: 120\ntier: dedicated\nlocation: westeurope\n";
        let spec = parse_compute(text).unwrap();
        assert_eq!((spec.kind.as_str(), spec.max_instances), ("amlcompute", Some(2)));
    }

    #[test]
    fn compute_mistakes_name_the_field_and_line() {
        let cases = [
            ("name: gpu\ntype: amlcompute\nsizes: x\n", "compute", 3, "sizes"),
            ("name: gpu\ntype: kubernetes\n", "type", 2, "expected amlcompute"),
            ("name: gpu\ntype: slurm\n", "partition", 2, "needs a partition"),
            ("name: gpu\ntype: slurm\npartition: a b\n", "partition", 3, "expected letters"),
            ("name: gpu\ntype: slurm\npartition: a\nqos: 'x;rm'\n", "qos", 4, "expected letters"),
            ("name: gpu\ntype: slurm\npartition: a\nmax_nodes_per_job: 0\n", "max_nodes_per_job", 4, "at least 1"),
            (
                "name: gpu\ntype: slurm\npartition: a\ndefault_time_limit: 1:2:3:4\n",
                "default_time_limit",
                4,
                "HH:MM:SS",
            ),
            ("name: gpu\ntype: slurm\npartition: a\njob_folder: jobs\n", "job_folder", 4, "absolute"),
            ("name: gpu\ntype: amlcompute\npartition: a\n", "partition", 3, "type: slurm"),
            (
                "name: gpu\ntype: slurm\npartition: a\nslurmrestd:\n  url: slurm-head:6820\n  user_name: a\n  token_file: /t\n",
                "slurmrestd.url",
                5,
                "expected http://",
            ),
            (
                "name: gpu\ntype: slurm\npartition: a\nslurmrestd:\n  url: http://h:6820\n  user_name: a\n  token_file: t\n",
                "slurmrestd.token_file",
                7,
                "absolute",
            ),
            ("name: gpu\ntype: slurm\npartition: a\nslurmrestd:\n  url: http://h:6820\n", "compute", 5, "user_name"),
            ("name: 1gpu\ntype: amlcompute\n", "name", 1, "starting with a letter"),
            ("name: gpu\ntype: amlcompute\nmin_instances: 3\nmax_instances: 2\n", "max_instances", 4, "<="),
        ];
        crate::assert_mistakes(parse_compute, &cases);
        assert_eq!(instance_range(None, None), Ok((0, 1)));
    }

    #[test]
    fn a_slurm_compute_file_reads() {
        let text = "name: hpc\ntype: slurm\npartition: debug\naccount: vision\nqos: normal\nmax_instances: 4\n\
                    max_nodes_per_job: 2\ndefault_time_limit: 1-00:30\njob_folder: /shared/jobs/\n";
        let spec = parse_compute(text).unwrap();
        assert_eq!((spec.kind.as_str(), spec.max_instances), ("slurm", Some(4)));
        let slurm = spec.slurm.unwrap();
        assert_eq!(slurm.partition, "debug");
        assert_eq!((slurm.account.as_deref(), slurm.qos.as_deref()), (Some("vision"), Some("normal")));
        assert_eq!((slurm.max_nodes_per_job, slurm.default_time_limit_minutes), (2, Some(24 * 60 + 30)));
        assert_eq!(slurm.job_folder.as_deref(), Some("/shared/jobs"));
        assert_eq!(slurm.slurmrestd, None);
        let rest = parse_compute(
            "name: hpc\ntype: slurm\npartition: debug\nslurmrestd:\n  url: http://head:6820/\n  user_name: atelier\n  \
             token_file: /etc/atelier/slurm.jwt\n",
        )
        .unwrap();
        let rest = rest.slurm.unwrap().slurmrestd.unwrap();
        assert_eq!(
            (rest.url.as_str(), rest.user_name.as_str(), rest.token_file.as_str()),
            ("http://head:6820", "atelier", "/etc/atelier/slurm.jwt")
        );
    }

    #[test]
    fn slurm_time_limits_read_as_sbatch_reads_them() {
        let cases =
            [("30", 30), ("0:30", 1), ("1:30", 2), ("2:00:00", 120), ("1-2", 1560), ("1-0:1", 1441), ("0-0:0:1", 1)];
        for (text, minutes) in cases {
            assert_eq!(parse_slurm_time(text), Ok(minutes), "{text}");
        }
        for text in ["", "0", "x", "1:2:3:4", "-1", "1-2:3:4:5", "1h"] {
            assert!(parse_slurm_time(text).is_err(), "{text}");
        }
    }
}

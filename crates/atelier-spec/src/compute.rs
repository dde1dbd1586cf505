//! Azure ML's compute YAML (`type: amlcompute`), for a compute on this server's machine. The
//! fields Atelier has no use for on one machine (`location`, `tier`, `identity`, …) are accepted.

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

/// Checks a compute's type: only `amlcompute`, which runs on this server's machine.
pub fn validate_compute_type(kind: &str) -> Result<(), String> {
    if kind == "amlcompute" {
        Ok(())
    } else {
        Err(format!("compute type '{kind}' is not supported: expected amlcompute (it runs on this server's machine)"))
    }
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
    let max_instances = raw.max_instances.map(|max| max.value);
    instance_range(raw.min_instances, max_instances)
        .map_err(|message| SpecError::new("max_instances", max_line, message))?;
    Ok(ComputeSpec {
        name: raw.name.value,
        kind,
        size: raw.size,
        min_instances: raw.min_instances,
        max_instances,
        description: raw.description,
        tags: raw.tags,
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
            ("name: 1gpu\ntype: amlcompute\n", "name", 1, "starting with a letter"),
            ("name: gpu\ntype: amlcompute\nmin_instances: 3\nmax_instances: 2\n", "max_instances", 4, "<="),
        ];
        crate::assert_mistakes(parse_compute, &cases);
        assert_eq!(instance_range(None, None), Ok((0, 1)));
    }
}

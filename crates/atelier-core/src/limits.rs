//! MLflow's limits and validation rules, applied before anything is written so that a bad
//! request changes nothing. Values come from MLflow's `mlflow/utils/validation.py`.

use crate::error::{Error, Result};

pub const MAX_METRICS_PER_BATCH: usize = 1000;
pub const MAX_PARAMS_PER_BATCH: usize = 100;
pub const MAX_TAGS_PER_BATCH: usize = 100;
pub const MAX_ENTITIES_PER_BATCH: usize = 1000;
pub const MAX_KEY_LENGTH: usize = 250;
pub const MAX_PARAM_VALUE_LENGTH: usize = 6000;
pub const MAX_RUN_TAG_VALUE_LENGTH: usize = 8000;
pub const MAX_EXPERIMENT_NAME_LENGTH: usize = 500;
pub const MAX_EXPERIMENT_TAG_KEY_LENGTH: usize = 250;
pub const MAX_EXPERIMENT_TAG_VALUE_LENGTH: usize = 20000;
pub const MAX_DATASET_NAME_LENGTH: usize = 500;
pub const MAX_DATASET_DIGEST_LENGTH: usize = 36;
pub const MAX_DATASET_SCHEMA_LENGTH: usize = 1_048_575;
pub const MAX_DATASET_SOURCE_LENGTH: usize = 65_535;
pub const MAX_DATASET_PROFILE_LENGTH: usize = 16_777_215;
pub const MAX_INPUT_TAG_KEY_LENGTH: usize = 255;
pub const MAX_INPUT_TAG_VALUE_LENGTH: usize = 500;
pub const SEARCH_RUNS_DEFAULT_MAX_RESULTS: i64 = 1000;
pub const SEARCH_MAX_RESULTS_LIMIT: i64 = 50_000;
pub const SEARCH_EXPERIMENTS_DEFAULT_MAX_RESULTS: i64 = 1000;

/// Checks a metric, param or tag key as MLflow does: 1 to 250 characters of letters, digits,
/// `_`, `-`, `.`, ` `, `/` and `:`, and not a path that would step out of its folder.
pub fn validate_key(kind: &str, key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::invalid(format!("missing value for required parameter '{kind} key'")));
    }
    let length = key.chars().count();
    if length > MAX_KEY_LENGTH {
        return Err(Error::invalid(format!(
            "{kind} key '{}…' had length {length}, which exceeded length limit of {MAX_KEY_LENGTH}",
            key.chars().take(40).collect::<String>()
        )));
    }
    if let Some(bad) = key.chars().find(|c| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | '/' | ':'))) {
        return Err(Error::invalid(format!(
            "invalid {kind} name: '{key}' contains '{bad}'; names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/)"
        )));
    }
    if key.starts_with('/') || key.split('/').any(|part| part == "..") {
        return Err(Error::invalid(format!(
            "invalid {kind} name: '{key}'; names may be treated as files in certain cases, and must not resolve to other names when treated as such"
        )));
    }
    Ok(())
}

/// Truncates `value` to `limit` characters, as MLflow does for over-long param and tag values.
pub fn truncate_chars(value: &str, limit: usize) -> String {
    match value.char_indices().nth(limit) {
        Some((byte_index, _)) => value[..byte_index].to_owned(),
        None => value.to_owned(),
    }
}

/// Refuses a name holding control characters (a NUL, a line break, a terminal escape): names
/// are shown in tables, logs and pages, and none of them means anything in one.
pub fn refuse_control_characters(field: &str, value: &str) -> Result<()> {
    match value.chars().find(|c| c.is_control()) {
        Some(c) => Err(crate::Error::invalid(format!(
            "invalid {field} '{}': it holds the control character {:?}; names take printable characters only",
            value.escape_debug(),
            c
        ))),
        None => Ok(()),
    }
}

/// Checks a string against a length limit and names the field when it is too long.
pub fn validate_length(field: &str, value: &str, limit: usize) -> Result<()> {
    let length = value.chars().count();
    if length > limit {
        return Err(Error::invalid(format!(
            "'{field}' exceeds the maximum length of {limit} characters (got {length})"
        )));
    }
    Ok(())
}

/// Checks `max_results` of a search and applies the default.
pub fn validate_max_results(max_results: Option<i64>, default: i64, limit: i64) -> Result<i64> {
    match max_results {
        None => Ok(default),
        Some(value) if value <= 0 => Err(Error::invalid(format!(
            "invalid value {value} for parameter 'max_results' supplied: it must be a positive integer"
        ))),
        Some(value) if value > limit => Err(Error::invalid(format!(
            "invalid value {value} for parameter 'max_results' supplied: it must be at most {limit}"
        ))),
        Some(value) => Ok(value),
    }
}

/// Clamps ±infinity to ±`f64::MAX`, as MLflow's SQL store does; NaN is kept.
pub fn clamp_metric_value(value: f64) -> f64 {
    if value == f64::INFINITY {
        f64::MAX
    } else if value == f64::NEG_INFINITY {
        f64::MIN
    } else {
        value
    }
}

/// Validates a path inside an artifact root: relative, `/`-separated, with no empty, `.` or `..`
/// segments and no backslashes or NUL bytes. Returns the normalised path (no leading or
/// trailing slash); an empty path is the root.
pub fn normalize_artifact_path(path: &str) -> Result<String> {
    if path.starts_with('/') || path.contains('\\') || path.contains('\0') || path.contains(':') && path.contains("://")
    {
        return Err(Error::invalid(format!(
            "invalid artifact path '{path}': it must be relative and stay inside the artifact root"
        )));
    }
    let mut segments = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => continue,
            ".." => {
                return Err(Error::invalid(format!(
                    "invalid artifact path '{path}': '..' would leave the artifact root"
                )));
            }
            other => segments.push(other),
        }
    }
    Ok(segments.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(validate_key("metric", "loss").is_ok());
        assert!(validate_key("metric", "train/loss: a-b.c d").is_ok());
        assert!(validate_key("metric", "").is_err());
        assert!(validate_key("metric", &"k".repeat(250)).is_ok());
        let error = validate_key("param", &"k".repeat(251)).unwrap_err();
        assert!(error.message.contains("exceeded length limit of 250"), "{}", error.message);
        assert!(validate_key("tag", "a\"b").unwrap_err().message.contains("'\"'"));
        assert!(validate_key("tag", "../x").is_err());
        assert!(validate_key("tag", "/x").is_err());
    }

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate_chars("héllo", 2), "hé");
        assert_eq!(truncate_chars("hi", 6000), "hi");
    }

    #[test]
    fn max_results() {
        assert_eq!(validate_max_results(None, 1000, 50_000).unwrap(), 1000);
        assert_eq!(validate_max_results(Some(5), 1000, 50_000).unwrap(), 5);
        assert!(validate_max_results(Some(50_001), 1000, 50_000).is_err());
        assert!(validate_max_results(Some(0), 1000, 50_000).is_err());
    }

    #[test]
    fn clamping() {
        assert_eq!(clamp_metric_value(f64::INFINITY), f64::MAX);
        assert_eq!(clamp_metric_value(f64::NEG_INFINITY), -f64::MAX);
        assert!(clamp_metric_value(f64::NAN).is_nan());
    }

    #[test]
    fn artifact_paths() {
        assert_eq!(normalize_artifact_path("").unwrap(), "");
        assert_eq!(normalize_artifact_path("a/b.txt").unwrap(), "a/b.txt");
        assert_eq!(normalize_artifact_path("a//./b/").unwrap(), "a/b");
        assert!(normalize_artifact_path("../etc/passwd").is_err());
        assert!(normalize_artifact_path("a/../../b").is_err());
        assert!(normalize_artifact_path("/etc/passwd").is_err());
        assert!(normalize_artifact_path("a\\b").is_err());
    }
}

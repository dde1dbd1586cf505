//! The model registry: registered models, their numbered versions, stages and aliases, as MLflow's
//! model registry defines them.

use crate::model::{Millis, Tag};
use crate::names::WorkspaceName;
use crate::{Error, Result};
use std::collections::BTreeMap;

/// A named model in a workspace, with its versions numbered from 1.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredModel {
    pub workspace: WorkspaceName,
    pub name: String,
    pub description: String,
    pub creation_time: Millis,
    pub last_updated_time: Millis,
    pub tags: Vec<Tag>,
    pub aliases: Vec<ModelAlias>,
    /// The newest version in each stage that has one (filled by reads).
    pub latest_versions: Vec<ModelVersion>,
}

/// A name that points at one version of a registered model (`models:/name@alias`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelAlias {
    pub alias: String,
    pub version: i64,
}

/// One version of a registered model: where its files are (`source`) and what produced it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelVersion {
    pub workspace: WorkspaceName,
    pub name: String,
    pub version: i64,
    pub creation_time: Millis,
    pub last_updated_time: Millis,
    pub description: String,
    pub user_id: String,
    /// One of [`STAGES`].
    pub current_stage: String,
    /// The files, as the client gave them (`runs:/…`, `models:/m-…`, `mlflow-artifacts:/…`).
    pub source: String,
    pub run_id: Option<String>,
    pub run_link: String,
    /// `READY`: versions are registered from files that already exist.
    pub status: String,
    pub status_message: String,
    /// The MLflow 3 logged model the version was registered from.
    pub model_id: Option<String>,
    pub tags: Vec<Tag>,
    pub aliases: Vec<String>,
    /// The storage format, one of [`MODEL_TYPES`].
    pub model_type: String,
    /// Free-form properties (Azure ML's `properties`).
    pub properties: BTreeMap<String, String>,
    /// Archived versions are hidden from lists but still load.
    pub archived: bool,
}

/// The storage formats of a model asset, as Azure ML names them.
pub const MODEL_TYPES: [&str; 3] = ["custom_model", "mlflow_model", "triton_model"];

/// Checks a model type.
pub fn parse_model_type(text: &str) -> Result<&'static str> {
    MODEL_TYPES.into_iter().find(|kind| *kind == text).ok_or_else(|| {
        Error::invalid(format!("invalid model type '{text}': expected one of {}", MODEL_TYPES.join(", ")))
    })
}

/// The stages of a model version, in MLflow's spelling.
pub const STAGES: [&str; 4] = ["None", "Staging", "Production", "Archived"];

/// The stage a client named, in its canonical spelling (MLflow accepts any case).
pub fn parse_stage(text: &str) -> Result<&'static str> {
    STAGES.into_iter().find(|stage| stage.eq_ignore_ascii_case(text)).ok_or_else(|| {
        Error::invalid(format!("Invalid Model Version stage: {text}. Value must be one of {}.", STAGES.join(", ")))
    })
}

/// Checks a registered model's name: not empty, and usable in a `models:/` URI.
pub fn validate_model_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::invalid("Missing value for required parameter 'name'."));
    }
    if name.len() > 500 {
        return Err(Error::invalid(format!("Registered model name '{name:.40}…' is longer than 500 characters")));
    }
    if name.contains('/') || name.contains('@') {
        return Err(Error::invalid(format!(
            "Invalid model name '{name}': a registered model's name cannot contain '/' or '@', which separate a model URI's parts"
        )));
    }
    crate::limits::refuse_control_characters("model name", name)
}

/// Checks an alias as MLflow does: at most 255 characters, not `latest`, and not shaped like a
/// version (`v3`), so that `models:/name@alias` is never ambiguous.
pub fn validate_alias(alias: &str) -> Result<()> {
    if alias.is_empty() {
        return Err(Error::invalid("Missing value for required parameter 'alias'."));
    }
    if alias.chars().count() > 255 {
        return Err(Error::invalid(format!("Alias '{alias:.40}…' is longer than 255 characters")));
    }
    if alias.eq_ignore_ascii_case("latest") {
        return Err(Error::invalid("'latest' alias name (case insensitive) is reserved."));
    }
    let mut chars = alias.chars();
    if matches!(chars.next(), Some('v' | 'V')) && alias.len() > 1 && chars.all(|c| c.is_ascii_digit()) {
        return Err(Error::invalid(format!(
            "Version alias name '{alias}' is reserved: an alias cannot look like a version (v followed by digits)."
        )));
    }
    Ok(())
}

/// Parses a version number as the API sends it (a string or a number).
pub fn parse_version(text: &str) -> Result<i64> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|version| *version > 0)
        .ok_or_else(|| Error::invalid(format!("Model version must be a positive integer, got '{text}'")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_canonical_whatever_the_case() {
        assert_eq!(parse_stage("production").unwrap(), "Production");
        assert_eq!(parse_stage("NONE").unwrap(), "None");
        assert!(parse_stage("prod").unwrap_err().message.contains("Staging"));
    }

    #[test]
    fn aliases_cannot_be_latest_or_look_like_versions() {
        assert!(validate_alias("champion").is_ok());
        assert!(validate_alias("v2-candidate").is_ok());
        assert!(validate_alias("v").is_ok());
        assert!(validate_alias("Latest").is_err());
        assert!(validate_alias("v12").is_err());
        assert!(validate_alias("V1").is_err());
        assert!(validate_alias(&"a".repeat(256)).is_err());
    }

    #[test]
    fn names_and_versions() {
        assert!(validate_model_name("fraud-detector").is_ok());
        assert!(validate_model_name(" ").is_err());
        assert!(validate_model_name("a/b").is_err());
        assert_eq!(parse_version("3").unwrap(), 3);
        assert!(parse_version("0").is_err());
        assert!(parse_version("x").is_err());
    }
}

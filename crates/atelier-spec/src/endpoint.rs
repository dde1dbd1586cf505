//! Online endpoints and their deployments, from Azure ML's `managedOnlineEndpoint` and
//! `managedOnlineDeployment` YAML. Fields Atelier has no use for on one machine (identity,
//! network access, App Insights) are accepted and ignored, so Azure files read unchanged.

use crate::plan::PlannedEnvironment;
use crate::{Scalar, SpecError, check_environment_reference};
use atelier_core::asset::{AssetKind, AssetRef};
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    name: Option<Spanned<String>>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, Scalar>,
    #[serde(default)]
    auth_mode: Option<Spanned<String>>,
    #[serde(default)]
    compute: Option<Spanned<String>>,
    #[serde(default)]
    identity: Option<serde_json::Value>,
    #[serde(default)]
    traffic: Option<Spanned<BTreeMap<String, i64>>>,
    #[serde(default)]
    mirror_traffic: Option<Spanned<BTreeMap<String, i64>>>,
    #[serde(default)]
    public_network_access: Option<String>,
    #[serde(default)]
    kind: Option<String>,
}

/// An online endpoint, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointSpec {
    pub name: String,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// `key` (the default) or `aml_token`.
    pub auth_mode: String,
    /// Deployment → percent; empty or summing to 100.
    pub traffic: BTreeMap<String, i64>,
    /// At most one deployment, at most 50 percent.
    pub mirror_traffic: BTreeMap<String, i64>,
}

/// Checks an endpoint or deployment name as Azure ML does: 3 to 32 characters, a letter first,
/// letters, digits and single dashes, not ending with a dash.
pub fn validate_endpoint_name(what: &str, name: &str) -> Result<(), String> {
    let valid = (3..=32).contains(&name.len())
        && name.chars().next().is_some_and(|first| first.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.contains("--")
        && !name.ends_with('-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid {what} name '{name}': 3 to 32 letters, digits and single dashes, starting with a letter and not ending with a dash"
        ))
    }
}

/// Checks traffic weights: each 0 to 100, summing to 0 or 100.
pub fn validate_traffic(traffic: &BTreeMap<String, i64>) -> Result<(), String> {
    if let Some((deployment, weight)) = traffic.iter().find(|(_, weight)| !(0..=100).contains(*weight)) {
        return Err(format!("the weight of '{deployment}' is {weight}: weights are whole percents from 0 to 100"));
    }
    let total: i64 = traffic.values().sum();
    if total != 0 && total != 100 {
        return Err(format!("the weights sum to {total}: they must sum to 100 (or to 0, to send nothing)"));
    }
    Ok(())
}

/// Checks mirror traffic: at most one deployment, at most 50 percent.
pub fn validate_mirror_traffic(mirror: &BTreeMap<String, i64>) -> Result<(), String> {
    if mirror.len() > 1 {
        return Err(format!("mirror traffic names {} deployments: it goes to one at most", mirror.len()));
    }
    if let Some((deployment, percent)) = mirror.iter().next()
        && !(0..=50).contains(percent)
    {
        return Err(format!("mirror traffic to '{deployment}' is {percent}%: at most 50%"));
    }
    Ok(())
}

/// Reads and checks an endpoint file.
pub fn parse_endpoint(text: &str) -> Result<EndpointSpec, SpecError> {
    let raw: RawEndpoint = serde_saphyr::from_str(text).map_err(|error| SpecError::from_yaml(error, "endpoint"))?;
    let _ = (&raw.identity, &raw.public_network_access, &raw.kind);
    let Some(name) = raw.name else { return Err(SpecError::new("name", 0, "an endpoint needs a 'name'")) };
    validate_endpoint_name("endpoint", &name.value)
        .map_err(|message| SpecError::new("name", name.referenced.line(), message))?;
    if let Some(compute) = &raw.compute {
        return Err(SpecError::new(
            "compute",
            compute.referenced.line(),
            "endpoints serve from this server's machine: 'compute' (Kubernetes endpoints) is not supported",
        ));
    }
    let auth_mode = match &raw.auth_mode {
        None => "key".to_owned(),
        Some(mode) => match mode.value.as_str() {
            "key" | "aml_token" => mode.value.clone(),
            "aad_token" => {
                return Err(SpecError::new(
                    "auth_mode",
                    mode.referenced.line(),
                    "auth_mode aad_token needs Microsoft Entra ID: use key or aml_token",
                ));
            }
            other => {
                return Err(SpecError::new(
                    "auth_mode",
                    mode.referenced.line(),
                    format!("invalid auth_mode '{other}': expected key or aml_token"),
                ));
            }
        },
    };
    let traffic = match &raw.traffic {
        None => BTreeMap::new(),
        Some(spanned) => {
            validate_traffic(&spanned.value)
                .map_err(|message| SpecError::new("traffic", spanned.referenced.line(), message))?;
            spanned.value.clone()
        }
    };
    let mirror_traffic = match &raw.mirror_traffic {
        None => BTreeMap::new(),
        Some(spanned) => {
            validate_mirror_traffic(&spanned.value)
                .map_err(|message| SpecError::new("mirror_traffic", spanned.referenced.line(), message))?;
            spanned.value.clone()
        }
    };
    Ok(EndpointSpec {
        name: name.value,
        description: raw.description,
        tags: raw.tags.iter().map(|(key, value)| (key.clone(), value.text())).collect(),
        auth_mode,
        traffic,
        mirror_traffic,
    })
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawInlineModel {
    path: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version: Option<Scalar>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum RawModel {
    Reference(String),
    Inline(RawInlineModel),
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawCodeConfiguration {
    code: Option<String>,
    scoring_script: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawInlineEnvironment {
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    conda_file: Option<serde_json::Value>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    inference_config: Option<serde_json::Value>,
}

#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum RawEnvironment {
    Reference(String),
    Inline(RawInlineEnvironment),
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct RawRequestSettings {
    #[serde(default)]
    request_timeout_ms: Option<Spanned<i64>>,
    #[serde(default)]
    max_concurrent_requests_per_instance: Option<Spanned<i64>>,
    #[serde(default)]
    max_queue_wait_ms: Option<Spanned<i64>>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct RawProbe {
    #[serde(default)]
    initial_delay: Option<Spanned<i64>>,
    #[serde(default)]
    period: Option<Spanned<i64>>,
    #[serde(default)]
    timeout: Option<Spanned<i64>>,
    #[serde(default)]
    success_threshold: Option<Spanned<i64>>,
    #[serde(default)]
    failure_threshold: Option<Spanned<i64>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawDeployment {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    name: Option<Spanned<String>>,
    endpoint_name: Option<Spanned<String>>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, Scalar>,
    #[serde(default)]
    model: Option<Spanned<RawModel>>,
    #[serde(default)]
    model_mount_path: Option<Spanned<String>>,
    #[serde(default)]
    code_configuration: Option<Spanned<RawCodeConfiguration>>,
    #[serde(default)]
    environment: Option<Spanned<RawEnvironment>>,
    #[serde(default)]
    environment_variables: BTreeMap<String, Scalar>,
    #[serde(default)]
    instance_type: Option<String>,
    #[serde(default)]
    instance_count: Option<Spanned<i64>>,
    #[serde(default)]
    app_insights_enabled: Option<bool>,
    #[serde(default)]
    scale_settings: Option<serde_json::Value>,
    #[serde(default)]
    request_settings: Option<RawRequestSettings>,
    #[serde(default)]
    liveness_probe: Option<RawProbe>,
    #[serde(default)]
    readiness_probe: Option<RawProbe>,
    #[serde(default)]
    data_collector: Option<Spanned<serde_json::Value>>,
    #[serde(default)]
    egress_public_network_access: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

/// Where a deployment's model comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum DeploymentModel {
    /// `azureml:<name>:<version>` or `azureml:<name>@latest`: name and version (or `latest`).
    Registered { name: String, version: String },
    /// A local file or folder, registered when the deployment is created.
    Inline { path: String, name: Option<String>, version: Option<String>, model_type: Option<String> },
}

/// A health probe's settings, in seconds (Azure's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    pub initial_delay: i64,
    pub period: i64,
    pub timeout: i64,
    pub success_threshold: i64,
    pub failure_threshold: i64,
}

impl Default for Probe {
    fn default() -> Self {
        Probe { initial_delay: 10, period: 10, timeout: 2, success_threshold: 1, failure_threshold: 30 }
    }
}

/// How requests to a deployment are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestSettings {
    pub request_timeout_ms: i64,
    pub max_concurrent_requests_per_instance: i64,
    pub max_queue_wait_ms: i64,
}

impl Default for RequestSettings {
    fn default() -> Self {
        RequestSettings { request_timeout_ms: 5000, max_concurrent_requests_per_instance: 1, max_queue_wait_ms: 500 }
    }
}

/// A deployment, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentSpec {
    pub name: String,
    pub endpoint_name: String,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub model: Option<DeploymentModel>,
    /// `code_configuration`: the folder and the scoring script in it.
    pub code: Option<String>,
    pub scoring_script: Option<String>,
    /// `azureml:name:version`, `azureml:name@latest`, or `None`.
    pub environment: Option<String>,
    /// An inline environment: its image and conda file.
    pub inline_environment: Option<(Option<String>, Option<serde_json::Value>)>,
    pub environment_variables: BTreeMap<String, String>,
    pub instance_type: Option<String>,
    pub instance_count: i64,
    pub request_settings: RequestSettings,
    pub liveness_probe: Probe,
    pub readiness_probe: Probe,
    /// `data_collector`: which payloads the request log keeps.
    pub data_collection: DataCollection,
    /// The line each field starts on, for checks made after parsing.
    pub lines: BTreeMap<String, u64>,
}

impl DeploymentSpec {
    /// The line a field is on, 0 when unknown.
    pub fn line_of(&self, field: &str) -> u64 {
        self.lines.get(field).copied().unwrap_or(0)
    }
}

/// What a deployment's request log keeps besides status and latency (`data_collector`: the
/// reserved collections `request` and `response`, and `sampling_rate`).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct DataCollection {
    #[serde(default)]
    pub request: bool,
    #[serde(default)]
    pub response: bool,
    /// The share of requests whose payloads are kept, from 0 to 1.
    #[serde(default = "full_rate")]
    pub sampling_rate: f64,
}

fn full_rate() -> f64 {
    1.0
}

impl Default for DataCollection {
    /// Nothing collected (a full sampling rate, should a collection be switched on).
    fn default() -> Self {
        DataCollection { request: false, response: false, sampling_rate: full_rate() }
    }
}

fn data_collection(raw: Option<&Spanned<serde_json::Value>>) -> Result<DataCollection, SpecError> {
    let Some(spanned) = raw else { return Ok(DataCollection::default()) };
    let line = spanned.referenced.line();
    let error = |field: &str, message: String| SpecError::new(format!("data_collector.{field}"), line, message);
    let value = &spanned.value;
    let sampling_rate = match value.get("sampling_rate") {
        None => 1.0,
        Some(rate) => match rate.as_f64().or_else(|| rate.as_str().and_then(|text| text.parse().ok())) {
            Some(rate) if (0.0..=1.0).contains(&rate) => rate,
            _ => return Err(error("sampling_rate", format!("must be a number from 0 to 1, got {rate}"))),
        },
    };
    let enabled = |name: &str| -> Result<bool, SpecError> {
        match value.get("collections").and_then(|collections| collections.get(name)).and_then(|c| c.get("enabled")) {
            None => Ok(false),
            Some(serde_json::Value::Bool(flag)) => Ok(*flag),
            Some(serde_json::Value::String(text)) if text.eq_ignore_ascii_case("true") => Ok(true),
            Some(serde_json::Value::String(text)) if text.eq_ignore_ascii_case("false") => Ok(false),
            Some(other) => {
                Err(error(&format!("collections.{name}.enabled"), format!("must be true or false, got {other}")))
            }
        }
    };
    Ok(DataCollection { request: enabled("request")?, response: enabled("response")?, sampling_rate })
}

/// How a deployment's instances answer requests.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Serving {
    /// The user's scoring script (`init()`, `run(raw_data)`) in the scoring host.
    Script,
    /// An MLflow model without a script: the scoring host loads it with pyfunc.
    Mlflow,
    /// An ONNX model without a script, run in the server's process.
    Onnx,
}

/// The model a deployment serves, resolved to a registered version.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PlannedModel {
    pub name: String,
    pub version: String,
    /// `mlflow_model`, `custom_model`, `triton_model`, …
    pub model_type: String,
}

/// A deployment with every reference resolved: what the serving layer runs. Stored with the
/// deployment; a change of it is a rollout.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct DeploymentPlan {
    pub workspace: String,
    pub endpoint: String,
    pub deployment: String,
    pub serving: Serving,
    pub model: Option<PlannedModel>,
    /// The code snapshot holding the scoring script.
    pub snapshot: Option<String>,
    /// The scoring script, relative to the snapshot's root.
    pub scoring_script: Option<String>,
    pub environment: PlannedEnvironment,
    pub environment_variables: BTreeMap<String, String>,
    pub instance_count: i64,
    pub request_settings: RequestSettings,
    pub liveness_probe: Probe,
    pub readiness_probe: Probe,
    #[serde(default)]
    pub data_collection: DataCollection,
}

fn bounded(field: &str, value: &Option<Spanned<i64>>, low: i64, high: i64, default: i64) -> Result<i64, SpecError> {
    match value {
        None => Ok(default),
        Some(spanned) if (low..=high).contains(&spanned.value) => Ok(spanned.value),
        Some(spanned) => Err(SpecError::new(
            field,
            spanned.referenced.line(),
            format!("must be a whole number from {low} to {high}, got {}", spanned.value),
        )),
    }
}

fn probe(field: &str, raw: Option<RawProbe>) -> Result<Probe, SpecError> {
    let raw = raw.unwrap_or_default();
    let defaults = Probe::default();
    Ok(Probe {
        initial_delay: bounded(&format!("{field}.initial_delay"), &raw.initial_delay, 1, 3600, defaults.initial_delay)?,
        period: bounded(&format!("{field}.period"), &raw.period, 1, 3600, defaults.period)?,
        timeout: bounded(&format!("{field}.timeout"), &raw.timeout, 1, 3600, defaults.timeout)?,
        success_threshold: bounded(
            &format!("{field}.success_threshold"),
            &raw.success_threshold,
            1,
            100,
            defaults.success_threshold,
        )?,
        failure_threshold: bounded(
            &format!("{field}.failure_threshold"),
            &raw.failure_threshold,
            1,
            1000,
            defaults.failure_threshold,
        )?,
    })
}

/// Reads and checks a deployment file.
pub fn parse_deployment(text: &str) -> Result<DeploymentSpec, SpecError> {
    let raw: RawDeployment = serde_saphyr::from_str(text).map_err(|error| SpecError::from_yaml(error, "deployment"))?;
    // Accepted so Azure files read unchanged; nothing to do with them on one machine.
    let _ = (&raw.app_insights_enabled, &raw.scale_settings, &raw.egress_public_network_access, &raw.kind);
    let Some(name) = raw.name else { return Err(SpecError::new("name", 0, "a deployment needs a 'name'")) };
    validate_endpoint_name("deployment", &name.value)
        .map_err(|message| SpecError::new("name", name.referenced.line(), message))?;
    let Some(endpoint_name) = raw.endpoint_name else {
        return Err(SpecError::new("endpoint_name", 0, "a deployment needs an 'endpoint_name'"));
    };
    let mut lines = BTreeMap::from([
        ("name".to_owned(), name.referenced.line()),
        ("endpoint_name".to_owned(), endpoint_name.referenced.line()),
    ]);
    if let Some(path) = &raw.model_mount_path {
        return Err(SpecError::new(
            "model_mount_path",
            path.referenced.line(),
            "model_mount_path is for custom containers: the model is at $AZUREML_MODEL_DIR",
        ));
    }
    let model = match &raw.model {
        None => None,
        Some(spanned) => {
            lines.insert("model".to_owned(), spanned.referenced.line());
            Some(match &spanned.value {
                RawModel::Reference(reference) => match AssetRef::parse_azureml(AssetKind::Model, reference) {
                    Ok(parsed) => {
                        DeploymentModel::Registered { name: parsed.name, version: parsed.version.to_string() }
                    }
                    Err(_) => {
                        return Err(SpecError::new(
                            "model",
                            spanned.referenced.line(),
                            format!(
                                "model '{reference}': expected azureml:<name>:<version>, azureml:<name>@latest, or an inline model with a path"
                            ),
                        ));
                    }
                },
                RawModel::Inline(inline) => {
                    let _ = &inline.description;
                    DeploymentModel::Inline {
                        path: inline.path.clone(),
                        name: inline.name.clone(),
                        version: inline.version.as_ref().map(Scalar::text),
                        model_type: inline.kind.clone(),
                    }
                }
            })
        }
    };
    let (code, scoring_script) = match &raw.code_configuration {
        None => (None, None),
        Some(spanned) => {
            lines.insert("code_configuration".to_owned(), spanned.referenced.line());
            match (&spanned.value.code, &spanned.value.scoring_script) {
                (Some(code), Some(script)) => (Some(code.clone()), Some(script.clone())),
                _ => {
                    return Err(SpecError::new(
                        "code_configuration",
                        spanned.referenced.line(),
                        "code_configuration needs both 'code' (a folder) and 'scoring_script' (a file in it)",
                    ));
                }
            }
        }
    };
    if code.is_none() && model.is_none() {
        return Err(SpecError::new(
            "model",
            0,
            "a deployment needs a model, a scoring script (code_configuration), or both",
        ));
    }
    let (environment, inline_environment) = match &raw.environment {
        None => (None, None),
        Some(spanned) => {
            lines.insert("environment".to_owned(), spanned.referenced.line());
            match &spanned.value {
                RawEnvironment::Reference(reference) => {
                    check_environment_reference(reference, spanned.referenced.line())?;
                    (Some(reference.clone()), None)
                }
                RawEnvironment::Inline(inline) => {
                    let _ = (&inline.name, &inline.description);
                    if inline.inference_config.is_some() {
                        return Err(SpecError::new(
                            "environment.inference_config",
                            spanned.referenced.line(),
                            "custom serving containers (inference_config) are not supported: use a scoring script",
                        ));
                    }
                    (None, Some((inline.image.clone(), inline.conda_file.clone())))
                }
            }
        }
    };
    let instance_count = bounded("instance_count", &raw.instance_count, 1, 100, 1)?;
    let settings = raw.request_settings.unwrap_or_default();
    let defaults = RequestSettings::default();
    let request_settings = RequestSettings {
        request_timeout_ms: bounded(
            "request_settings.request_timeout_ms",
            &settings.request_timeout_ms,
            1,
            180_000,
            defaults.request_timeout_ms,
        )?,
        max_concurrent_requests_per_instance: bounded(
            "request_settings.max_concurrent_requests_per_instance",
            &settings.max_concurrent_requests_per_instance,
            1,
            1000,
            defaults.max_concurrent_requests_per_instance,
        )?,
        max_queue_wait_ms: bounded(
            "request_settings.max_queue_wait_ms",
            &settings.max_queue_wait_ms,
            0,
            180_000,
            defaults.max_queue_wait_ms,
        )?,
    };
    Ok(DeploymentSpec {
        name: name.value,
        endpoint_name: endpoint_name.value,
        description: raw.description,
        tags: raw.tags.iter().map(|(key, value)| (key.clone(), value.text())).collect(),
        model,
        code,
        scoring_script,
        environment,
        inline_environment,
        environment_variables: raw
            .environment_variables
            .iter()
            .map(|(key, value)| (key.clone(), value.text()))
            .collect(),
        instance_type: raw.instance_type,
        instance_count,
        request_settings,
        liveness_probe: probe("liveness_probe", raw.liveness_probe)?,
        readiness_probe: probe("readiness_probe", raw.readiness_probe)?,
        data_collection: data_collection(raw.data_collector.as_ref())?,
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_azure_endpoint_file_reads() {
        let text = "$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json\n\
                    name: credit-ep\nauth_mode: key\ntags: {owner: risk}\ntraffic:\n  blue: 90\n  green: 10\n\
                    mirror_traffic:\n  green: 20\nidentity:\n  type: system_assigned\n";
        let endpoint = parse_endpoint(text).unwrap();
        assert_eq!(endpoint.name, "credit-ep");
        assert_eq!(endpoint.traffic, BTreeMap::from([("blue".to_owned(), 90), ("green".to_owned(), 10)]));
        assert_eq!(endpoint.tags["owner"], "risk");
    }

    #[test]
    fn endpoint_mistakes_name_the_field_and_line() {
        let sum = parse_endpoint("name: credit-ep\ntraffic:\n  blue: 60\n  green: 10\n").unwrap_err();
        assert_eq!((sum.field.as_str(), sum.line), ("traffic", 3), "{sum}");
        assert!(sum.message.contains("sum to 70"));
        let mirror = parse_endpoint("name: credit-ep\nmirror_traffic:\n  green: 60\n").unwrap_err();
        assert!(mirror.message.contains("at most 50%"), "{mirror}");
        let name = parse_endpoint("name: 9lives\n").unwrap_err();
        assert_eq!((name.field.as_str(), name.line), ("name", 1));
        let auth = parse_endpoint("name: credit-ep\nauth_mode: aad_token\n").unwrap_err();
        assert_eq!(auth.field, "auth_mode");
        let unknown = parse_endpoint("name: credit-ep\ntrafic: {}\n").unwrap_err();
        assert_eq!(unknown.line, 2, "{unknown}");
    }

    #[test]
    fn an_azure_deployment_file_reads_with_defaults() {
        let text = "$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json\n\
                    name: blue\nendpoint_name: credit-ep\nmodel: azureml:credit-defaults:3\n\
                    code_configuration:\n  code: ./onlinescoring/\n  scoring_script: score.py\n\
                    environment:\n  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest\n  conda_file: ./environment/conda.yaml\n\
                    instance_type: Standard_DS3_v2\ninstance_count: 2\nenvironment_variables: {WORKER_COUNT: 2}\n\
                    request_settings: {request_timeout_ms: 10000, max_concurrent_requests_per_instance: 2}\n\
                    liveness_probe: {initial_delay: 30, period: 10, failure_threshold: 30}\napp_insights_enabled: true\n";
        let deployment = parse_deployment(text).unwrap();
        assert_eq!(
            deployment.model,
            Some(DeploymentModel::Registered { name: "credit-defaults".into(), version: "3".into() })
        );
        assert_eq!(deployment.scoring_script.as_deref(), Some("score.py"));
        assert_eq!(deployment.instance_count, 2);
        assert_eq!(deployment.request_settings.max_queue_wait_ms, 500, "Azure's default");
        assert_eq!(deployment.liveness_probe.initial_delay, 30);
        assert_eq!(deployment.readiness_probe, Probe::default());
        assert_eq!(deployment.environment_variables["WORKER_COUNT"], "2");
    }

    #[test]
    fn deployment_mistakes_name_the_field_and_line() {
        let timeout = parse_deployment(
            "name: blue\nendpoint_name: ep1\nmodel: azureml:m:1\nrequest_settings:\n  request_timeout_ms: 0\n",
        )
        .unwrap_err();
        assert_eq!((timeout.field.as_str(), timeout.line), ("request_settings.request_timeout_ms", 5));
        let code = parse_deployment("name: blue\nendpoint_name: ep1\ncode_configuration:\n  code: src\n").unwrap_err();
        assert_eq!((code.field.as_str(), code.line), ("code_configuration", 4), "{code}");
        let model = parse_deployment("name: blue\nendpoint_name: ep1\nmodel: credit:3\n").unwrap_err();
        assert_eq!((model.field.as_str(), model.line), ("model", 3));
        let nothing = parse_deployment("name: blue\nendpoint_name: ep1\n").unwrap_err();
        assert!(nothing.message.contains("needs a model"), "{nothing}");
        let latest = parse_deployment("name: blue\nendpoint_name: ep1\nmodel: azureml:credit@latest\n").unwrap();
        assert_eq!(latest.model, Some(DeploymentModel::Registered { name: "credit".into(), version: "latest".into() }));
        let inline = parse_deployment("name: blue\nendpoint_name: ep1\nmodel:\n  path: ./model/\n").unwrap();
        assert!(matches!(inline.model, Some(DeploymentModel::Inline { ref path, .. }) if path == "./model/"));
    }

    #[test]
    fn data_collection_reads_azures_reserved_collections() {
        let base = "name: blue\nendpoint_name: ep1\nmodel: azureml:credit:1\n";
        let off = parse_deployment(base).unwrap().data_collection;
        assert!(!off.request && !off.response && off.sampling_rate == 1.0);
        let on = parse_deployment(&format!(
            "{base}data_collector:\n  sampling_rate: 0.5\n  collections:\n    request:\n      enabled: 'True'\n    response:\n      enabled: false\n"
        ))
        .unwrap()
        .data_collection;
        assert!(on.request && !on.response && on.sampling_rate == 0.5);
        let bad = parse_deployment(&format!("{base}data_collector:\n  sampling_rate: 2\n")).unwrap_err();
        assert_eq!((bad.field.as_str(), bad.line), ("data_collector.sampling_rate", 5), "{bad}");
    }
}

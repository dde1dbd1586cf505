//! Online endpoints and deployments: creating, changing and deleting them, their keys and
//! tokens, and what the serving layer asks of the service (every deployment to run, the files
//! of a deployment, the outcome of a rollout).
//!
//! The service keeps the records; the serving layer (`atelier-serving`) runs them. Each change
//! wakes the serving layer through [`Service::endpoint_changes`], and it brings the running
//! workers and routes in line with the records.

use crate::jobs::AREA_CODE;
use crate::{Principal, Service, Target, now_millis};
use atelier_core::authz::Action;
use atelier_core::endpoint::{AuthMode, Deployment, Endpoint, ProvisioningState};
use atelier_core::environment::EnvironmentSpec;
use atelier_core::model::Millis;
use atelier_core::names::WorkspaceName;
use atelier_core::{Error, ErrorCode, Result};
use atelier_spec::endpoint::{
    DeploymentModel, DeploymentPlan, PlannedModel, Serving, parse_deployment, parse_endpoint, validate_mirror_traffic,
    validate_traffic,
};
use atelier_spec::plan::PlannedEnvironment;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// How long a token from `get-credentials` lets its holder score (`aml_token` endpoints).
pub const ENDPOINT_TOKEN_LIFETIME_MILLIS: Millis = 60 * 60 * 1000;

/// What `get-credentials` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    Keys { primary: String, secondary: String },
    Token { access_token: String, expiry: Millis, refresh_after: Millis },
}

/// Changes to an endpoint; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct EndpointUpdate {
    pub description: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
    pub traffic: Option<BTreeMap<String, u32>>,
    pub mirror_traffic: Option<BTreeMap<String, u32>>,
}

/// A deployment as the client sends it: its YAML and what the client uploaded for it.
#[derive(Debug, Clone, Default)]
pub struct DeploymentSubmission {
    pub yaml: String,
    /// The code snapshot the client uploaded for `code_configuration.code`.
    pub snapshot: Option<String>,
    /// An inline environment's spec, read by the client from its conda file.
    pub inline_environment: Option<EnvironmentSpec>,
}

/// What the router checks a caller against.
#[derive(Debug, Clone)]
pub struct ScoringAuth {
    pub mode: AuthMode,
    /// SHA-256 of the primary and the secondary key.
    pub key_digests: [[u8; 32]; 2],
}

/// An endpoint with what the serving layer needs to run it.
#[derive(Debug, Clone)]
pub struct ServedEndpoint {
    pub endpoint: Endpoint,
    pub auth: ScoringAuth,
    pub deployments: Vec<Deployment>,
}

fn new_key() -> String {
    let bytes: [u8; 24] = rand::random();
    hex::encode(bytes)
}

/// The digest the router compares a presented key with.
pub fn key_digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn keys_associated(endpoint: &str) -> String {
    format!("endpoint-keys/{endpoint}")
}

fn token_associated(endpoint: &str) -> String {
    format!("endpoint-token/{endpoint}")
}

fn spec_error(error: atelier_spec::SpecError) -> Error {
    Error::invalid(error.to_string())
}

fn deployment_field_error(spec: &atelier_spec::endpoint::DeploymentSpec, field: &str, message: &str) -> Error {
    let line = spec.line_of(field);
    if line > 0 {
        Error::invalid(format!("line {line}: {field}: {message}"))
    } else {
        Error::invalid(format!("{field}: {message}"))
    }
}

impl Service {
    /// Wakes the serving layer when an endpoint or a deployment changes.
    pub fn endpoint_changes(&self) -> &tokio::sync::Notify {
        &self.endpoint_wake
    }

    /// Applies a change of endpoints or deployments to the serving layer before the operation
    /// returns, so that the caller's next request follows it; without a serving layer attached,
    /// wakes whatever follows the records.
    async fn endpoints_changed(&self) {
        match self.serving_port() {
            Some(port) => {
                if let Err(error) = port.apply().await {
                    tracing::warn!(%error, "applying an endpoint change failed; the next pass retries");
                }
            }
            None => self.endpoint_wake.notify_one(),
        }
    }

    fn seal_keys(&self, endpoint: &str, primary: &str, secondary: &str) -> Result<String> {
        let plain = serde_json::to_vec(&[primary, secondary]).map_err(|error| Error::internal(error.to_string()))?;
        self.seal_secret(&keys_associated(endpoint), &plain)
    }

    fn open_keys(&self, endpoint: &str, sealed: &str) -> Result<(String, String)> {
        let broken = || {
            Error::internal(format!(
                "the keys of online endpoint '{endpoint}' cannot be opened with this server's master key"
            ))
        };
        let plain = self.open_secret(&keys_associated(endpoint), sealed).ok_or_else(broken)?;
        let [primary, secondary]: [String; 2] = serde_json::from_slice(&plain).map_err(|_| broken())?;
        Ok((primary, secondary))
    }

    /// An endpoint of `workspace`, authorizing `action` on the workspace.
    async fn endpoint_in(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        action: Action,
    ) -> Result<(Endpoint, String)> {
        self.authorize_on(principal, workspace, action, Target::Workspace).await?;
        let (endpoint, sealed) = self.store.get_endpoint(name).await?;
        if endpoint.workspace != *workspace {
            return Err(Error::not_found(format!("online endpoint '{name}' not found")));
        }
        Ok((endpoint, sealed))
    }

    /// Creates an endpoint from its YAML. Its traffic may only name deployments it has, so at
    /// creation it is empty or all zero.
    pub async fn create_endpoint(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        yaml: &str,
    ) -> Result<Endpoint> {
        self.authorize(principal, workspace, Action::EndpointsWrite).await?;
        let spec = parse_endpoint(yaml).map_err(spec_error)?;
        if let Some((name, _)) = spec.traffic.iter().chain(&spec.mirror_traffic).find(|(_, weight)| **weight > 0) {
            return Err(Error::invalid(format!(
                "traffic: the endpoint has no deployment '{name}' yet: create the endpoint, then its deployments, then set traffic"
            )));
        }
        let auth_mode = AuthMode::parse(&spec.auth_mode)?;
        let now = now_millis();
        let endpoint = Endpoint {
            workspace: workspace.clone(),
            name: spec.name.clone(),
            description: spec.description,
            tags: spec.tags,
            auth_mode,
            traffic: BTreeMap::new(),
            mirror_traffic: BTreeMap::new(),
            created_by: principal.user.to_string(),
            created_at: now,
            updated_at: now,
        };
        let sealed = self.seal_keys(&endpoint.name, &new_key(), &new_key())?;
        self.store.create_endpoint(&endpoint, &sealed).await?;
        self.endpoints_changed().await;
        Ok(endpoint)
    }

    pub async fn get_endpoint(&self, principal: &Principal, workspace: &WorkspaceName, name: &str) -> Result<Endpoint> {
        Ok(self.endpoint_in(principal, workspace, name, Action::EndpointsRead).await?.0)
    }

    pub async fn list_endpoints(&self, principal: &Principal, workspace: &WorkspaceName) -> Result<Vec<Endpoint>> {
        self.authorize(principal, workspace, Action::EndpointsRead).await?;
        Ok(self.store.list_endpoints(Some(workspace)).await?.into_iter().map(|(endpoint, _)| endpoint).collect())
    }

    /// Changes an endpoint's description, tags, traffic or mirror traffic. Traffic names only
    /// deployments the endpoint has, sums to 0 or 100, and a mirrored deployment takes no live
    /// traffic.
    pub async fn update_endpoint(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        update: EndpointUpdate,
    ) -> Result<Endpoint> {
        let (mut endpoint, _) = self.endpoint_in(principal, workspace, name, Action::EndpointsWrite).await?;
        if let Some(description) = update.description {
            endpoint.description = Some(description);
        }
        if let Some(tags) = update.tags {
            endpoint.tags = tags;
        }
        let deployments: Vec<String> =
            self.store.list_deployments(Some(name)).await?.into_iter().map(|deployment| deployment.name).collect();
        let known = |what: &str, weights: &BTreeMap<String, u32>| -> Result<()> {
            match weights.iter().find(|(deployment, weight)| **weight > 0 && !deployments.contains(deployment)) {
                Some((deployment, _)) => Err(Error::invalid(format!(
                    "{what}: online endpoint '{name}' has no deployment '{deployment}' (it has: {})",
                    if deployments.is_empty() { "none".to_owned() } else { deployments.join(", ") }
                ))),
                None => Ok(()),
            }
        };
        if let Some(traffic) = update.traffic {
            known("traffic", &traffic)?;
            let as_i64 = traffic.iter().map(|(name, weight)| (name.clone(), i64::from(*weight))).collect();
            validate_traffic(&as_i64).map_err(|message| Error::invalid(format!("traffic: {message}")))?;
            endpoint.traffic = traffic.into_iter().filter(|(_, weight)| *weight > 0).collect();
        }
        if let Some(mirror) = update.mirror_traffic {
            known("mirror_traffic", &mirror)?;
            let as_i64 = mirror.iter().map(|(name, weight)| (name.clone(), i64::from(*weight))).collect();
            validate_mirror_traffic(&as_i64).map_err(|message| Error::invalid(format!("mirror_traffic: {message}")))?;
            endpoint.mirror_traffic = mirror.into_iter().filter(|(_, weight)| *weight > 0).collect();
        }
        if let Some(mirrored) = endpoint.mirror_traffic.keys().find(|name| endpoint.traffic.contains_key(*name)) {
            return Err(Error::invalid(format!(
                "mirror_traffic: deployment '{mirrored}' takes live traffic; a deployment gets live or mirrored traffic, never both"
            )));
        }
        endpoint.updated_at = now_millis();
        self.store.update_endpoint(&endpoint, None).await?;
        self.endpoints_changed().await;
        Ok(endpoint)
    }

    /// Deletes an endpoint with its deployments; the serving layer stops their workers.
    pub async fn delete_endpoint(&self, principal: &Principal, workspace: &WorkspaceName, name: &str) -> Result<()> {
        self.endpoint_in(principal, workspace, name, Action::EndpointsDelete).await?;
        self.store.delete_endpoint(name).await?;
        self.endpoints_changed().await;
        Ok(())
    }

    /// An endpoint's keys, or a fresh token for `aml_token` endpoints.
    pub async fn endpoint_credentials(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
    ) -> Result<Credentials> {
        let (endpoint, sealed) = self.endpoint_in(principal, workspace, name, Action::EndpointsRead).await?;
        let action = match endpoint.auth_mode {
            AuthMode::Key => Action::EndpointsListKeys,
            AuthMode::AmlToken => Action::EndpointsToken,
        };
        self.authorize(principal, workspace, action).await?;
        match endpoint.auth_mode {
            AuthMode::Key => {
                let (primary, secondary) = self.open_keys(name, &sealed)?;
                Ok(Credentials::Keys { primary, secondary })
            }
            AuthMode::AmlToken => {
                let now = now_millis();
                let expiry = now + ENDPOINT_TOKEN_LIFETIME_MILLIS;
                let access_token = self.seal_secret(&token_associated(name), &expiry.to_be_bytes())?;
                Ok(Credentials::Token { access_token, expiry, refresh_after: now + ENDPOINT_TOKEN_LIFETIME_MILLIS / 2 })
            }
        }
    }

    /// Replaces the primary or the secondary key; the old one stops working at once.
    pub async fn regenerate_endpoint_key(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        key_type: &str,
    ) -> Result<()> {
        let (mut endpoint, sealed) =
            self.endpoint_in(principal, workspace, name, Action::EndpointsRegenerateKeys).await?;
        if endpoint.auth_mode != AuthMode::Key {
            return Err(Error::invalid(format!(
                "online endpoint '{name}' uses auth_mode aml_token, which has no keys: get a token with get-credentials"
            )));
        }
        let (primary, secondary) = self.open_keys(name, &sealed)?;
        let (primary, secondary) = match key_type {
            "primary" => (new_key(), secondary),
            "secondary" => (primary, new_key()),
            other => return Err(Error::invalid(format!("key type '{other}': expected primary or secondary"))),
        };
        endpoint.updated_at = now_millis();
        self.store.update_endpoint(&endpoint, Some(&self.seal_keys(name, &primary, &secondary)?)).await?;
        self.endpoints_changed().await;
        Ok(())
    }

    /// Whether `token` is an unexpired scoring token of endpoint `name` (no store access).
    pub fn verify_endpoint_token(&self, name: &str, token: &str) -> bool {
        let Some(plain) = self.open_secret(&token_associated(name), token) else { return false };
        let Ok(expiry) = <[u8; 8]>::try_from(plain.as_slice()) else { return false };
        i64::from_be_bytes(expiry) > now_millis()
    }

    /// Checks, resolves and stores a deployment: a new one (`update` false) or a new version of
    /// an existing one. The serving layer then rolls it out.
    pub async fn put_deployment(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        endpoint_name: &str,
        submission: DeploymentSubmission,
        update: bool,
    ) -> Result<Deployment> {
        self.endpoint_in(principal, workspace, endpoint_name, Action::EndpointsWrite).await?;
        self.require_confinement(principal, "deployments")?;
        let spec = parse_deployment(&submission.yaml).map_err(spec_error)?;
        if spec.endpoint_name != endpoint_name {
            return Err(deployment_field_error(
                &spec,
                "endpoint_name",
                &format!(
                    "the file names endpoint '{}', but the deployment is sent to '{endpoint_name}'",
                    spec.endpoint_name
                ),
            ));
        }
        let existing = match self.store.get_deployment(endpoint_name, &spec.name).await {
            Ok(existing) => Some(existing),
            Err(error) if error.code == ErrorCode::ResourceDoesNotExist => None,
            Err(error) => return Err(error),
        };
        match (&existing, update) {
            (Some(_), false) => {
                return Err(Error::already_exists(format!(
                    "deployment '{}' already exists in online endpoint '{endpoint_name}': use online-deployment update",
                    spec.name
                )));
            }
            (None, true) => {
                return Err(Error::not_found(format!(
                    "deployment '{}' not found in online endpoint '{endpoint_name}'",
                    spec.name
                )));
            }
            _ => {}
        }
        let mut onnx_files = 0;
        let model = match &spec.model {
            None => None,
            Some(DeploymentModel::Registered { name, version }) => {
                let found = self
                    .resolve_model_version(principal, workspace, name, version)
                    .await
                    .map_err(|error| deployment_field_error(&spec, "model", &error.message))?;
                if spec.scoring_script.is_none() && found.model_type != "mlflow_model" {
                    let files = self.model_version_files(principal, workspace, &found).await?;
                    onnx_files = files.iter().filter(|(path, _)| path.ends_with(".onnx")).count();
                }
                Some(PlannedModel {
                    name: found.name.clone(),
                    version: found.version.to_string(),
                    model_type: found.model_type.clone(),
                })
            }
            Some(DeploymentModel::Inline { .. }) => {
                return Err(deployment_field_error(
                    &spec,
                    "model",
                    "an inline model must be registered before it is deployed (atelier online-deployment create does it)",
                ));
            }
        };
        let serving = match (&spec.scoring_script, &model) {
            (Some(_), _) => Serving::Script,
            (None, Some(model)) if model.model_type == "mlflow_model" => Serving::Mlflow,
            (None, Some(_)) if onnx_files == 1 => Serving::Onnx,
            (None, Some(model)) => {
                return Err(deployment_field_error(
                    &spec,
                    "model",
                    &format!(
                        "model {}:{} is a {} with {onnx_files} .onnx files: without a scoring script (code_configuration) an mlflow_model or a model of one .onnx file deploys",
                        model.name, model.version, model.model_type
                    ),
                ));
            }
            (None, None) => {
                return Err(deployment_field_error(&spec, "model", "a deployment needs a model or a scoring script"));
            }
        };
        let snapshot = match (&spec.code, &submission.snapshot) {
            (None, _) => None,
            (Some(_), None) => {
                return Err(deployment_field_error(
                    &spec,
                    "code_configuration",
                    "the code folder must be uploaded with the deployment (atelier online-deployment create does it)",
                ));
            }
            (Some(_), Some(snapshot)) => {
                crate::jobs::check_snapshot_id(snapshot)?;
                let script = spec.scoring_script.clone().unwrap_or_default();
                let relative = atelier_core::limits::normalize_artifact_path(&script)
                    .map_err(|error| deployment_field_error(&spec, "code_configuration", &error.message))?;
                let full = format!("{snapshot}/{relative}");
                let present = self
                    .store
                    .upload_files_under(workspace, AREA_CODE, &full)
                    .await?
                    .iter()
                    .any(|file| file.path == full);
                if !present {
                    return Err(deployment_field_error(
                        &spec,
                        "code_configuration",
                        &format!("the scoring script '{relative}' is not in the uploaded code folder"),
                    ));
                }
                Some(snapshot.clone())
            }
        };
        let inline = crate::jobs::inline_environment(&spec.inline_environment, &submission.inline_environment)
            .map_err(|error| deployment_field_error(&spec, "environment", &error.message))?;
        let inline = inline.as_ref();
        if serving == Serving::Onnx && (spec.environment.is_some() || inline.is_some()) {
            return Err(deployment_field_error(
                &spec,
                "environment",
                "an ONNX model without a scoring script runs in the server's process: it takes no environment",
            ));
        }
        let (environment, _warnings) = if serving == Serving::Mlflow && spec.environment.is_none() && inline.is_none() {
            (self.mlflow_model_environment(principal, workspace, model.as_ref()).await?, Vec::new())
        } else {
            self.resolve_environment(
                principal,
                workspace,
                spec.environment.as_deref(),
                inline,
                "atelier online-deployment create",
            )
            .await
            .map_err(|error| deployment_field_error(&spec, "environment", &error.message))?
        };
        let plan = DeploymentPlan {
            workspace: workspace.to_string(),
            endpoint: endpoint_name.to_owned(),
            deployment: spec.name.clone(),
            serving,
            model: model.clone(),
            snapshot: snapshot.clone(),
            scoring_script: spec.scoring_script.clone(),
            environment,
            environment_variables: spec.environment_variables.clone(),
            instance_count: spec.instance_count,
            request_settings: spec.request_settings,
            liveness_probe: spec.liveness_probe,
            readiness_probe: spec.readiness_probe,
            data_collection: spec.data_collection,
        };
        let plan_text = serde_json::to_string(&plan)
            .map_err(|error| Error::internal(format!("encoding a plan failed: {error}")))?;
        let now = now_millis();
        let deployment = Deployment {
            workspace: workspace.clone(),
            endpoint: endpoint_name.to_owned(),
            name: spec.name.clone(),
            description: spec.description.clone(),
            tags: spec.tags.clone(),
            state: if existing.is_some() { ProvisioningState::Updating } else { ProvisioningState::Creating },
            error: None,
            spec_yaml: submission.yaml.clone(),
            plan: plan_text,
            model_name: model.as_ref().map(|model| model.name.clone()),
            model_version: model.as_ref().map(|model| model.version.clone()),
            instance_count: spec.instance_count,
            generation: existing.as_ref().map_or(1, |existing| existing.generation + 1),
            snapshot,
            created_by: existing
                .as_ref()
                .map_or_else(|| principal.user.to_string(), |existing| existing.created_by.clone()),
            created_at: existing.as_ref().map_or(now, |existing| existing.created_at),
            updated_at: now,
        };
        let stored = self.store.put_deployment(&deployment).await?;
        self.endpoints_changed().await;
        Ok(stored)
    }

    /// The environment of an MLflow model deployed without one: the model's own
    /// `requirements.txt` and the Python of its `python_env.yaml`, as Azure builds it from the
    /// model's files.
    async fn mlflow_model_environment(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        model: Option<&PlannedModel>,
    ) -> Result<PlannedEnvironment> {
        let Some(model) = model else { return Err(Error::invalid("an MLflow deployment needs a model")) };
        let version = self.get_model_version(principal, workspace, &model.name, &model.version).await?;
        let files = self.model_version_files(principal, workspace, &version).await?;
        let version = &version;
        let read = |suffix: &'static str| {
            let path = files.iter().map(|(path, _)| path.clone()).find(|path| {
                path.rsplit_once('/').map_or(path.as_str(), |(_, file)| file) == suffix
                    && path.matches('/').count() <= 1
            });
            async move {
                let Some(path) = path else { return Ok::<Option<String>, Error>(None) };
                let download = self.download_model_file(principal, workspace, version, &path).await?;
                let mut bytes = Vec::new();
                let mut stream = download.stream;
                while let Some(chunk) = stream.next().await {
                    bytes.extend_from_slice(&chunk.map_err(|error| Error::internal(error.to_string()))?);
                    if bytes.len() > 1 << 20 {
                        return Err(Error::invalid(format!("{path} is over 1 MiB")));
                    }
                }
                Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
            }
        };
        let requirements_text = read("requirements.txt").await?.ok_or_else(|| {
            Error::invalid(format!(
                "model {}:{} has no requirements.txt next to its MLmodel: give the deployment an environment",
                model.name, model.version
            ))
        })?;
        let mut requirements = Vec::new();
        for line in requirements_text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') || line.starts_with('-') {
                continue;
            }
            atelier_core::environment::validate_requirement(line).map_err(|error| {
                Error::invalid(format!("model {}:{}: requirements.txt: {}", model.name, model.version, error.message))
            })?;
            requirements.push(line.to_owned());
        }
        let python = read("python_env.yaml").await?.and_then(|text| {
            text.lines()
                .find_map(|line| line.trim().strip_prefix("python:"))
                .map(|version| version.trim().trim_matches('"').trim_matches('\'').to_owned())
                .map(|version| version.split('.').take(2).collect::<Vec<_>>().join("."))
                .filter(|version| !version.is_empty())
        });
        Ok(PlannedEnvironment {
            name: format!("mlflow-model:{}:{}", model.name, model.version),
            builtin: false,
            python,
            requirements,
            image: None,
        })
    }

    pub async fn get_deployment(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        endpoint: &str,
        name: &str,
    ) -> Result<Deployment> {
        self.endpoint_in(principal, workspace, endpoint, Action::EndpointsRead).await?;
        self.store.get_deployment(endpoint, name).await
    }

    pub async fn list_deployments(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        endpoint: &str,
    ) -> Result<Vec<Deployment>> {
        self.endpoint_in(principal, workspace, endpoint, Action::EndpointsRead).await?;
        self.store.list_deployments(Some(endpoint)).await
    }

    /// Deletes a deployment that takes no traffic; the serving layer stops its workers.
    pub async fn delete_deployment(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        endpoint_name: &str,
        name: &str,
    ) -> Result<()> {
        let (endpoint, _) = self.endpoint_in(principal, workspace, endpoint_name, Action::EndpointsDelete).await?;
        let live = endpoint.traffic.get(name).copied().unwrap_or(0);
        let mirrored = endpoint.mirror_traffic.get(name).copied().unwrap_or(0);
        if live > 0 || mirrored > 0 {
            return Err(Error::invalid(format!(
                "deployment '{name}' takes {} of online endpoint '{endpoint_name}': move its traffic to another deployment first",
                if live > 0 { format!("{live}% of the traffic") } else { format!("{mirrored}% mirrored traffic") }
            )));
        }
        self.store.delete_deployment(endpoint_name, name).await?;
        self.endpoints_changed().await;
        Ok(())
    }

    /// The deployments that serve versions of a registered model.
    pub async fn model_deployments(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        model: &str,
    ) -> Result<Vec<Deployment>> {
        self.authorize(principal, workspace, Action::EndpointsRead).await?;
        self.store.deployments_of_model(workspace, model).await
    }

    /// The resolved plan stored with a deployment.
    pub fn deployment_plan(deployment: &Deployment) -> Result<DeploymentPlan> {
        serde_json::from_str(&deployment.plan).map_err(|error| {
            Error::internal(format!(
                "the plan of deployment '{}/{}' is unreadable: {error}",
                deployment.endpoint, deployment.name
            ))
        })
    }

    /// For the serving layer: every endpoint with its credentials' digests and deployments.
    pub async fn served_endpoints(&self) -> Result<Vec<ServedEndpoint>> {
        let mut deployments: BTreeMap<String, Vec<Deployment>> = BTreeMap::new();
        for deployment in self.store.list_deployments(None).await? {
            deployments.entry(deployment.endpoint.clone()).or_default().push(deployment);
        }
        let mut served = Vec::new();
        for (endpoint, sealed) in self.store.list_endpoints(None).await? {
            let (primary, secondary) = self.open_keys(&endpoint.name, &sealed)?;
            let auth =
                ScoringAuth { mode: endpoint.auth_mode, key_digests: [key_digest(&primary), key_digest(&secondary)] };
            let deployments = deployments.remove(&endpoint.name).unwrap_or_default();
            served.push(ServedEndpoint { endpoint, auth, deployments });
        }
        Ok(served)
    }

    /// For the serving layer: the outcome of a rollout of `generation` (ignored if the
    /// deployment has moved on since).
    pub async fn record_rollout(
        &self,
        endpoint: &str,
        name: &str,
        generation: i64,
        state: ProvisioningState,
        error: Option<&str>,
    ) -> Result<()> {
        self.store.set_deployment_state(endpoint, name, generation, state, error, now_millis()).await
    }

    /// For the serving layer: writes a deployment's model under `model_dir` (the registered
    /// file or folder keeps its name, as under `AZUREML_MODEL_DIR`) and its code snapshot
    /// under `code_dir`. It acts for the user who created the deployment.
    pub async fn fetch_deployment_files(
        &self,
        deployment: &Deployment,
        plan: &DeploymentPlan,
        model_dir: &Path,
        code_dir: &Path,
    ) -> Result<()> {
        let user = atelier_core::names::UserName::parse(&deployment.created_by)?;
        let record = self.store.get_user(&user).await?;
        let principal = Principal::signed_in(record.user.name, record.user.is_admin);
        let workspace = &deployment.workspace;
        if let Some(model) = &plan.model {
            let version = self.get_model_version(&principal, workspace, &model.name, &model.version).await?;
            for (relative, _) in self.model_version_files(&principal, workspace, &version).await? {
                let download = self.download_model_file(&principal, workspace, &version, &relative).await?;
                write_download(model_dir, &relative, download).await?;
            }
        }
        if let Some(snapshot) = &plan.snapshot {
            let strip = snapshot.len() + 1;
            for file in self.store.upload_files_under(workspace, AREA_CODE, snapshot).await? {
                let relative = file.path[strip..].to_owned();
                let download = self.open_upload(workspace, &file).await?;
                write_download(code_dir, &relative, download).await?;
            }
        }
        Ok(())
    }
}

/// Writes a download to `root/relative`; `relative` is a stored, normalized path.
async fn write_download(root: &Path, relative: &str, download: atelier_blob::Download) -> Result<()> {
    use tokio::io::AsyncWriteExt;
    let relative = atelier_core::limits::normalize_artifact_path(relative)?;
    let target = root.join(&relative);
    let io = |error: std::io::Error| Error::internal(format!("writing {}: {error}", target.display()));
    if let Some(parent) = target.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(io)?;
    }
    let mut file = tokio::fs::File::create(&target).await.map_err(io)?;
    let mut stream = download.stream;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| Error::internal(format!("reading {relative}: {error}")))?;
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    Ok(())
}

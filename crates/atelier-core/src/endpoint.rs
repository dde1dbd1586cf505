//! Online endpoints and their deployments: the records, the provisioning states, and the one
//! rule that routes a request by traffic weights.

use crate::model::Millis;
use crate::names::WorkspaceName;
use std::collections::BTreeMap;

/// How callers of an endpoint prove who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// A primary and a secondary key that never expire.
    Key,
    /// Tokens from `get-credentials` that expire.
    AmlToken,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Key => "key",
            AuthMode::AmlToken => "aml_token",
        }
    }

    pub fn parse(text: &str) -> crate::Result<Self> {
        match text {
            "key" => Ok(AuthMode::Key),
            "aml_token" => Ok(AuthMode::AmlToken),
            other => Err(crate::Error::invalid(format!("auth_mode '{other}': expected key or aml_token"))),
        }
    }
}

/// Azure's provisioning states of endpoints and deployments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvisioningState {
    Creating,
    Updating,
    Succeeded,
    Failed,
    Deleting,
}

impl ProvisioningState {
    pub fn as_str(self) -> &'static str {
        match self {
            ProvisioningState::Creating => "Creating",
            ProvisioningState::Updating => "Updating",
            ProvisioningState::Succeeded => "Succeeded",
            ProvisioningState::Failed => "Failed",
            ProvisioningState::Deleting => "Deleting",
        }
    }

    pub fn parse(text: &str) -> crate::Result<Self> {
        [
            ProvisioningState::Creating,
            ProvisioningState::Updating,
            ProvisioningState::Succeeded,
            ProvisioningState::Failed,
            ProvisioningState::Deleting,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
        .ok_or_else(|| crate::Error::invalid(format!("unknown provisioning state '{text}'")))
    }

    /// Whether the deployment is still being brought up.
    pub fn in_progress(self) -> bool {
        matches!(self, ProvisioningState::Creating | ProvisioningState::Updating)
    }
}

/// An online endpoint: a scoring URL, its credentials and how its traffic is split.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub workspace: WorkspaceName,
    /// Unique on the server.
    pub name: String,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub auth_mode: AuthMode,
    /// Percent of live traffic per deployment; the values sum to 0 or 100.
    pub traffic: BTreeMap<String, u32>,
    /// At most one deployment, at most 50: the share of requests copied to it.
    pub mirror_traffic: BTreeMap<String, u32>,
    pub created_by: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A deployment of an endpoint: a model, its scoring code and environment, on instances.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    pub workspace: WorkspaceName,
    pub endpoint: String,
    pub name: String,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub state: ProvisioningState,
    /// Why the last rollout failed, while the state is `Failed`.
    pub error: Option<String>,
    /// The YAML as submitted (after `--set`).
    pub spec_yaml: String,
    /// The resolved plan the serving layer runs (JSON of `atelier_spec::DeploymentPlan`).
    pub plan: String,
    /// The registered model it serves, for "where is this model deployed".
    pub model_name: Option<String>,
    pub model_version: Option<String>,
    pub instance_count: i64,
    /// Counts the changes of the plan: each one is a rollout.
    pub generation: i64,
    /// The code snapshot the plan uses.
    pub snapshot: Option<String>,
    pub created_by: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// Picks a deployment for a request by weights, with `ticket` uniform in `0..100`:
/// deployments are taken in name order, each owning a slice as wide as its weight.
pub fn pick_by_weight(weights: &BTreeMap<String, u32>, ticket: u32) -> Option<&str> {
    let mut upper = 0u32;
    for (name, weight) in weights {
        upper += weight;
        if ticket < upper {
            return Some(name);
        }
    }
    None
}

/// Parses `"blue=90 green=10"` (spaces or commas between pairs), as `az ml online-endpoint
/// update --traffic` takes it.
pub fn parse_traffic_pairs(text: &str) -> crate::Result<BTreeMap<String, u32>> {
    let mut traffic = BTreeMap::new();
    for pair in text.split(|c: char| c.is_whitespace() || c == ',').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| crate::Error::invalid(format!("traffic '{pair}': expected <deployment>=<percent>")))?;
        let percent: u32 = value.trim().parse().map_err(|_| {
            crate::Error::invalid(format!("traffic '{pair}': the percent must be a whole number from 0 to 100"))
        })?;
        if percent > 100 {
            return Err(crate::Error::invalid(format!("traffic '{pair}': the percent must be at most 100")));
        }
        traffic.insert(name.trim().to_owned(), percent);
    }
    Ok(traffic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_own_slices_in_name_order() {
        let weights = BTreeMap::from([("blue".to_owned(), 90), ("green".to_owned(), 10)]);
        assert_eq!(pick_by_weight(&weights, 0), Some("blue"));
        assert_eq!(pick_by_weight(&weights, 89), Some("blue"));
        assert_eq!(pick_by_weight(&weights, 90), Some("green"));
        assert_eq!(pick_by_weight(&weights, 99), Some("green"));
        let zero = BTreeMap::from([("blue".to_owned(), 0)]);
        assert_eq!(pick_by_weight(&zero, 0), None);
        let counts = (0..100).filter(|ticket| pick_by_weight(&weights, *ticket) == Some("green")).count();
        assert_eq!(counts, 10);
    }

    #[test]
    fn traffic_pairs_parse_like_az_ml() {
        let parsed = parse_traffic_pairs("blue=90 green=10").unwrap();
        assert_eq!(parsed, BTreeMap::from([("blue".to_owned(), 90), ("green".to_owned(), 10)]));
        assert_eq!(parse_traffic_pairs("green=0").unwrap()["green"], 0);
        assert!(parse_traffic_pairs("blue").unwrap_err().message.contains("<deployment>=<percent>"));
        assert!(parse_traffic_pairs("blue=x").unwrap_err().message.contains("whole number"));
        assert!(parse_traffic_pairs("blue=101").unwrap_err().message.contains("at most 100"));
    }
}

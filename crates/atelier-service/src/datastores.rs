//! Named datastores: Azure Blob containers, S3 buckets (and S3-compatible servers by endpoint),
//! GCS buckets and server-local folders that a workspace's data assets point into.
//!
//! Credentials are sealed with the server's master key (ChaCha20-Poly1305, a random nonce per
//! seal, the workspace and datastore name as associated data, so a sealed value copied to
//! another record does not open) before they reach the store, and opened only to build a client
//! for that datastore. No API returns them; a datastore only says which kind it holds.
//! Creating a datastore lists its root with the given credentials first, so wrong credentials
//! are a clear error and nothing is registered.

use crate::{Principal, Service, Target, now_millis};
use atelier_blob::BlobStore;
use atelier_core::authz::Action;
use atelier_core::data::{self, DATASTORE_TYPES, DEFAULT_DATASTORE, Datastore};
use atelier_core::names::WorkspaceName;
use atelier_core::{Error, Result};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use std::collections::BTreeMap;
use std::time::Duration;

/// How long the access check of a new datastore may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// A datastore to register, as its YAML describes it (`atelier_spec::datastore`).
pub type NewDatastore = atelier_spec::datastore::DatastoreSpec;

/// What a kind of datastore takes: the settings it needs and may have, and its credential kinds,
/// each a set of fields that must all be given.
struct KindRules {
    required: &'static [&'static str],
    optional: &'static [&'static str],
    credentials: &'static [(&'static str, &'static [&'static str])],
}

fn kind_rules(kind: &str) -> KindRules {
    match kind {
        "azure_blob" => KindRules {
            required: &["account_name", "container_name"],
            optional: &["endpoint", "protocol"],
            credentials: &[("account_key", &["account_key"]), ("sas_token", &["sas_token"])],
        },
        "s3" => KindRules {
            required: &["bucket"],
            optional: &["endpoint_url", "region"],
            credentials: &[("access_key", &["access_key_id", "secret_access_key"])],
        },
        "gcs" => KindRules {
            required: &["bucket"],
            optional: &[],
            credentials: &[("service_account_key", &["service_account_key"])],
        },
        _ => KindRules { required: &["path"], optional: &[], credentials: &[] },
    }
}

/// A datastore's service URL (`endpoint_url`, a full `endpoint`), parsed: http or https, a
/// host, and no user name, password, query or fragment that could change where it leads.
fn service_url(datastore: &str, field: &str, text: &str) -> Result<url::Url> {
    let invalid = |why: &str| {
        Error::invalid(format!(
            "datastore '{datastore}' has an invalid {field} '{text}': {why}; expected a URL such as https://host:port"
        ))
    };
    let url = url::Url::parse(text).map_err(|error| invalid(&error.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("only http and https are served"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it names no host"));
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it holds a user name, password, query or fragment"));
    }
    Ok(url)
}

impl Service {
    fn cipher(&self) -> Result<ChaCha20Poly1305> {
        let key = self.master_key.as_ref().ok_or_else(|| {
            Error::invalid(
                "this server has no master key, so it cannot keep secrets (datastore credentials, endpoint keys)",
            )
        })?;
        Ok(ChaCha20Poly1305::new(&Key::from(*key)))
    }

    /// Seals a secret with the master key, bound to `associated` (what it belongs to), as
    /// base64 of the nonce and the ciphertext.
    pub(crate) fn seal_secret(&self, associated: &str, plain: &[u8]) -> Result<String> {
        let nonce_bytes: [u8; 12] = rand::random();
        let sealed = self
            .cipher()?
            .encrypt(&Nonce::from(nonce_bytes), Payload { msg: plain, aad: associated.as_bytes() })
            .map_err(|_| Error::internal("sealing a secret failed"))?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens what [`Service::seal_secret`] sealed for the same `associated`; `None` when it
    /// was not sealed by this server's key for it.
    pub(crate) fn open_secret(&self, associated: &str, sealed: &str) -> Option<Vec<u8>> {
        let engine = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
        // Credentials sealed before secrets used URL-safe base64 are in the standard alphabet.
        let bytes = engine.decode(sealed).or_else(|_| base64::engine::general_purpose::STANDARD.decode(sealed)).ok()?;
        if bytes.len() < 12 {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        self.cipher().ok()?.decrypt(&Nonce::from(nonce), Payload { msg: sealed, aad: associated.as_bytes() }).ok()
    }

    fn seal(&self, workspace: &WorkspaceName, name: &str, credentials: &BTreeMap<String, String>) -> Result<String> {
        let plain = serde_json::to_vec(credentials).map_err(|error| Error::internal(error.to_string()))?;
        self.seal_secret(&format!("{workspace}/{name}"), &plain)
    }

    fn open_sealed(&self, workspace: &WorkspaceName, name: &str, sealed: &str) -> Result<BTreeMap<String, String>> {
        let broken = || {
            Error::internal(format!(
                "the credentials of datastore '{name}' cannot be opened with this server's master key"
            ))
        };
        let plain = self.open_secret(&format!("{workspace}/{name}"), sealed).ok_or_else(broken)?;
        serde_json::from_slice(&plain).map_err(|_| broken())
    }

    /// A client for a datastore with its credentials.
    fn datastore_client(datastore: &Datastore, credentials: &BTreeMap<String, String>) -> Result<BlobStore> {
        let setting = |key: &str| datastore.settings.get(key).cloned().unwrap_or_default();
        let credential = |key: &str| credentials.get(key).cloned();
        let unreachable = |error: atelier_blob::BlobError| {
            Error::invalid(format!("datastore '{}' cannot be opened: {error}", datastore.name))
        };
        // Every setting that becomes part of an address is checked against its grammar here,
        // where every client is built, so that records stored before the check are caught too.
        for (field, value) in &datastore.settings {
            data::validate_datastore_setting(&datastore.kind, field, value)?;
        }
        let mut options: Vec<(String, String)> = Vec::new();
        let location = match datastore.kind.as_str() {
            "azure_blob" => {
                let account = setting("account_name");
                options.push(("azure_storage_account_name".into(), account.clone()));
                if let Some(key) = credential("account_key") {
                    options.push(("azure_storage_account_key".into(), key));
                }
                if let Some(token) = credential("sas_token") {
                    options.push(("azure_storage_sas_key".into(), token.trim_start_matches('?').to_owned()));
                }
                let endpoint = setting("endpoint");
                if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
                    // A full blob-service URL (an emulator such as Azurite, or a private endpoint).
                    let url = service_url(&datastore.name, "endpoint", &endpoint)?;
                    options.push(("azure_storage_endpoint".into(), url.as_str().trim_end_matches('/').to_owned()));
                    options.push(("azure_allow_http".into(), (url.scheme() == "http").to_string()));
                } else if !endpoint.is_empty() && endpoint != "core.windows.net" {
                    // Both parts were checked as DNS labels; the URL type puts them together.
                    let mut url =
                        url::Url::parse("https://blob.invalid/").map_err(|error| Error::internal(error.to_string()))?;
                    url.set_host(Some(&format!("{account}.blob.{endpoint}"))).map_err(|error| {
                        Error::invalid(format!(
                            "datastore '{}' has an invalid endpoint '{endpoint}': {error}",
                            datastore.name
                        ))
                    })?;
                    options.push(("azure_storage_endpoint".into(), url.as_str().trim_end_matches('/').to_owned()));
                }
                format!("az://{}", setting("container_name"))
            }
            "s3" => {
                if let (Some(id), Some(secret)) = (credential("access_key_id"), credential("secret_access_key")) {
                    options.push(("aws_access_key_id".into(), id));
                    options.push(("aws_secret_access_key".into(), secret));
                } else {
                    options.push(("aws_skip_signature".into(), "true".into()));
                }
                let region = setting("region");
                options.push(("aws_region".into(), if region.is_empty() { "us-east-1".into() } else { region }));
                let endpoint = setting("endpoint_url");
                if !endpoint.is_empty() {
                    let url = service_url(&datastore.name, "endpoint_url", &endpoint)?;
                    options.push(("aws_allow_http".into(), (url.scheme() == "http").to_string()));
                    options.push(("aws_endpoint".into(), url.as_str().trim_end_matches('/').to_owned()));
                    options.push(("aws_virtual_hosted_style_request".into(), "false".into()));
                }
                format!("s3://{}", setting("bucket"))
            }
            "gcs" => {
                if let Some(key) = credential("service_account_key") {
                    options.push(("google_service_account_key".into(), key));
                }
                format!("gs://{}", setting("bucket"))
            }
            _ => return BlobStore::open_existing_folder(&setting("path")).map_err(unreachable),
        };
        BlobStore::open_with_options(&location, options).map_err(unreachable)
    }

    /// Registers a datastore from its YAML file, read with the CLI's own
    /// `atelier_spec::datastore::parse_datastore`: a bad file is an invalid-argument error that
    /// names the field and its line, as the CLI reports it.
    pub async fn create_datastore_from_yaml(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        yaml: &str,
    ) -> Result<Datastore> {
        // Who may not create one learns nothing about their file.
        self.authorize(principal, workspace, Action::DatastoresWrite).await?;
        let spec = atelier_spec::datastore::parse_datastore(yaml).map_err(crate::jobs::spec_error)?;
        self.create_datastore(principal, workspace, spec).await
    }

    /// Registers a datastore after checking that it answers with the credentials given.
    pub async fn create_datastore(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        new_datastore: NewDatastore,
    ) -> Result<Datastore> {
        self.authorize(principal, workspace, Action::DatastoresWrite).await?;
        data::validate_asset_name("datastore", &new_datastore.name)?;
        if new_datastore.name == DEFAULT_DATASTORE {
            return Err(Error::already_exists(format!("datastore {DEFAULT_DATASTORE} is the workspace's own")));
        }
        let kind = DATASTORE_TYPES.into_iter().find(|kind| *kind == new_datastore.kind).ok_or_else(|| {
            Error::invalid(format!(
                "invalid datastore type '{}': expected one of {}",
                new_datastore.kind,
                DATASTORE_TYPES.join(", ")
            ))
        })?;
        if kind == "local" {
            // A local datastore reads the server's own disk: server administrators only.
            self.authorize_server(principal, Action::ServerAdmin)?;
            let path = new_datastore.settings.get("path").cloned().unwrap_or_default();
            if !std::path::Path::new(&path).is_absolute() {
                return Err(Error::invalid(format!("a local datastore's path must be absolute, got '{path}'")));
            }
        }
        let KindRules { required, optional, credentials: credential_kinds } = kind_rules(kind);
        // A custom endpoint makes the server connect wherever it says, so that it could reach
        // services on the server's own network: server administrators only.
        let custom_endpoint = new_datastore.settings.get("endpoint_url").is_some_and(|url| !url.trim().is_empty())
            || new_datastore
                .settings
                .get("endpoint")
                .is_some_and(|endpoint| !endpoint.trim().is_empty() && endpoint.trim() != "core.windows.net");
        if custom_endpoint && self.authorize_server(principal, Action::ServerAdmin).is_err() {
            return Err(Error::permission_denied(format!(
                "only server administrators can register a datastore with a custom endpoint ('{}')",
                new_datastore.name
            )));
        }
        for key in required {
            if new_datastore.settings.get(*key).is_none_or(|value| value.trim().is_empty()) {
                return Err(Error::invalid(format!("a {kind} datastore needs '{key}'")));
            }
        }
        if let Some(unknown) = new_datastore
            .settings
            .keys()
            .find(|key| !required.contains(&key.as_str()) && !optional.contains(&key.as_str()))
        {
            return Err(Error::invalid(format!(
                "unknown field '{unknown}' for a {kind} datastore: expected {}",
                required.iter().chain(optional.iter()).copied().collect::<Vec<_>>().join(", ")
            )));
        }
        let credential_kind = if new_datastore.credentials.is_empty() {
            None
        } else {
            let matched = credential_kinds.iter().find(|(_, fields)| {
                fields.len() == new_datastore.credentials.len()
                    && fields
                        .iter()
                        .all(|field| new_datastore.credentials.get(*field).is_some_and(|value| !value.is_empty()))
            });
            let Some((credential_kind, _)) = matched else {
                let expected: Vec<String> = credential_kinds.iter().map(|(_, fields)| fields.join(" + ")).collect();
                return Err(Error::invalid(format!(
                    "the credentials of a {kind} datastore must be {}",
                    if expected.is_empty() { "absent".to_owned() } else { expected.join(" or ") }
                )));
            };
            Some((*credential_kind).to_owned())
        };
        let datastore = Datastore {
            workspace: workspace.clone(),
            name: new_datastore.name,
            kind: kind.to_owned(),
            description: new_datastore.description.unwrap_or_default(),
            tags: new_datastore.tags,
            settings: new_datastore.settings,
            credential_kind,
            created_by: principal.user.to_string(),
            creation_time: now_millis(),
        };
        let client = Self::datastore_client(&datastore, &new_datastore.credentials)?;
        match tokio::time::timeout(PROBE_TIMEOUT, client.probe()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                return Err(Error::invalid(format!(
                    "datastore '{}' did not accept its settings and credentials, so it was not registered: {error}",
                    datastore.name
                )));
            }
            Err(_) => {
                return Err(Error::invalid(format!(
                    "datastore '{}' did not answer within {} s, so it was not registered",
                    datastore.name,
                    PROBE_TIMEOUT.as_secs()
                )));
            }
        }
        let sealed = if new_datastore.credentials.is_empty() {
            None
        } else {
            Some(self.seal(workspace, &datastore.name, &new_datastore.credentials)?)
        };
        self.store.create_datastore(&datastore, sealed.as_deref()).await?;
        Ok(datastore)
    }

    /// The workspace's own datastore, the server's blob store.
    fn default_datastore(workspace: &WorkspaceName) -> Datastore {
        Datastore {
            workspace: workspace.clone(),
            name: DEFAULT_DATASTORE.to_owned(),
            kind: "default".to_owned(),
            description: "the server's own blob store; local files of data assets are uploaded here".to_owned(),
            tags: BTreeMap::new(),
            settings: BTreeMap::new(),
            credential_kind: None,
            created_by: String::new(),
            creation_time: 0,
        }
    }

    pub async fn get_datastore(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
    ) -> Result<Datastore> {
        self.authorize_on(principal, workspace, Action::DatastoresRead, Target::Assets).await?;
        if name == DEFAULT_DATASTORE {
            return Ok(Self::default_datastore(workspace));
        }
        Ok(self.store.get_datastore(workspace, name).await?.0)
    }

    /// The workspace's datastores, its own first.
    pub async fn list_datastores(&self, principal: &Principal, workspace: &WorkspaceName) -> Result<Vec<Datastore>> {
        self.authorize_on(principal, workspace, Action::DatastoresRead, Target::Assets).await?;
        let mut datastores = vec![Self::default_datastore(workspace)];
        datastores.extend(self.store.list_datastores(workspace).await?);
        Ok(datastores)
    }

    pub async fn delete_datastore(&self, principal: &Principal, workspace: &WorkspaceName, name: &str) -> Result<()> {
        self.authorize(principal, workspace, Action::DatastoresDelete).await?;
        if name == DEFAULT_DATASTORE {
            return Err(Error::invalid(format!(
                "datastore {DEFAULT_DATASTORE} is the workspace's own and cannot be deleted"
            )));
        }
        self.store.delete_datastore(workspace, name).await
    }

    /// A client for a named datastore of the workspace (the caller has authorized the read).
    pub(crate) async fn open_datastore(&self, workspace: &WorkspaceName, name: &str) -> Result<BlobStore> {
        let (datastore, sealed) = self.store.get_datastore(workspace, name).await?;
        let credentials = match sealed {
            Some(sealed) => self.open_sealed(workspace, name, &sealed)?,
            None => BTreeMap::new(),
        };
        Self::datastore_client(&datastore, &credentials)
    }
}

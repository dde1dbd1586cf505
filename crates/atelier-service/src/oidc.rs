//! Single sign-on with OpenID Connect: the studio's authorization-code flow with PKCE, `state`
//! and `nonce`; ID tokens verified against the provider's keys (from its discovery document,
//! fetched again when a token names a key not seen yet, as after a rotation); users created on
//! first sign-in where the server allows it; and workspace roles kept in step with the
//! provider's groups through a mapping file.
//!
//! A round trip's `state` and the secret of the browser cookie that binds it to the browser
//! that began it are stored only as hashes, and a round trip is taken from the store once: a
//! replayed `state` finds nothing.

use crate::auth::{random_secret, token_hash};
use crate::sessions::NewSession;
use crate::{Principal, Service, now_millis};
use atelier_core::audit::SIGN_IN;
use atelier_core::model::{Millis, User};
use atelier_core::names::{UserName, WorkspaceName};
use atelier_core::{Error, ErrorCode, Result};
use atelier_store::SignInRequest;
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How long an API token made from an ID token (`atelier login`) lasts; the CLI makes another
/// from the provider's refresh token when it has expired.
pub const SIGNED_IN_TOKEN_MILLIS: Millis = 12 * 60 * 60 * 1000;
/// How long a browser has to come back from the provider.
const ROUND_TRIP_MILLIS: Millis = 10 * 60 * 1000;
/// How often the provider's keys may be fetched again for a key not seen yet.
const KEY_REFETCH_INTERVAL: Duration = Duration::from_secs(10);
/// How long fetched keys are used before they are fetched again anyway.
const KEY_MAX_AGE: Duration = Duration::from_secs(60 * 60);
/// Clock skew allowed between this server and the provider, in seconds.
const LEEWAY_SECONDS: u64 = 60;
/// The signature algorithms accepted: the provider's asymmetric ones, never `none` or HMAC.
const ALGORITHMS: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// The server's single sign-on settings.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The provider's issuer URL, exactly as its ID tokens say it.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// A public client (no secret) for the CLI's device flow, whose ID tokens the server also
    /// takes in exchange for an API token.
    pub cli_client_id: Option<String>,
    /// Where the provider sends browsers back: `<public URL>/login/oidc/callback`.
    pub redirect_url: String,
    /// Whether a user unknown here is created at their first sign-in.
    pub auto_create: bool,
    /// The claim that names the user (`preferred_username` by default).
    pub username_claim: String,
    /// The claim that lists the user's groups (`groups` by default).
    pub groups_claim: String,
    /// Which roles each group gives; empty when the server has no mapping file.
    pub groups: GroupRoles,
}

/// A mapping file: which workspace roles each of the provider's groups gives. The file owns
/// the pairs of workspace and role it names: at every sign-in a user is given those their
/// groups map to and loses those they no longer map to; other assignments are left alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupRoles {
    groups: BTreeMap<String, Vec<(WorkspaceName, String)>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupsFile {
    groups: BTreeMap<String, Vec<GroupRole>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupRole {
    workspace: String,
    role: String,
}

impl GroupRoles {
    /// Reads a mapping file's text:
    ///
    /// ```yaml
    /// groups:
    ///   ml-team:
    ///     - { workspace: default, role: Contributor }
    ///   platform:
    ///     - { workspace: default, role: Owner }
    /// ```
    pub fn parse(text: &str) -> Result<Self> {
        let file: GroupsFile =
            serde_saphyr::from_str(text).map_err(|error| Error::invalid(format!("invalid groups mapping: {error}")))?;
        let mut groups = BTreeMap::new();
        for (group, roles) in file.groups {
            let mut pairs = Vec::new();
            for role in roles {
                let workspace = WorkspaceName::parse(&role.workspace)
                    .map_err(|error| Error::invalid(format!("group '{group}': {}", error.message)))?;
                if role.role.trim().is_empty() {
                    return Err(Error::invalid(format!("group '{group}': a role needs a name")));
                }
                pairs.push((workspace, role.role.trim().to_owned()));
            }
            groups.insert(group, pairs);
        }
        Ok(GroupRoles { groups })
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Every pair of workspace and role the file names.
    fn managed(&self) -> BTreeSet<(WorkspaceName, String)> {
        self.groups.values().flatten().cloned().collect()
    }

    /// The pairs `groups` map to.
    fn wanted(&self, groups: &[String]) -> BTreeSet<(WorkspaceName, String)> {
        groups.iter().filter_map(|group| self.groups.get(group)).flatten().cloned().collect()
    }
}

/// What the provider's discovery document says, of what sign-in needs.
#[derive(Debug, Clone, Deserialize)]
struct ProviderMetadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    device_authorization_endpoint: Option<String>,
}

/// What the CLI needs to sign in with the device flow, as the server tells it.
#[derive(Debug, Clone)]
pub struct DeviceSignIn {
    pub issuer: String,
    pub client_id: String,
    pub device_authorization_endpoint: String,
    pub token_endpoint: String,
}

#[derive(Default)]
struct ProviderState {
    metadata: Option<ProviderMetadata>,
    keys: Option<(JwkSet, Instant)>,
}

/// The provider as this server knows it: settings, and the discovery document and keys once
/// fetched.
pub struct Oidc {
    settings: OidcSettings,
    http: reqwest::Client,
    state: Mutex<ProviderState>,
}

/// The start of a round trip: where to send the browser, and the secret of the cookie that
/// binds the round trip to it.
#[derive(Debug)]
pub struct SignInStart {
    pub authorize_url: String,
    pub browser_secret: String,
}

/// What an ID token says about its user.
#[derive(Debug, Clone)]
pub struct Identity {
    pub name: String,
    pub groups: Vec<String>,
}

fn unavailable(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::TemporarilyUnavailable, message)
}

fn refused(message: impl Into<String>) -> Error {
    Error::unauthenticated(message)
}

fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl Oidc {
    pub fn new(settings: OidcSettings) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| Error::internal(format!("cannot build the HTTP client for single sign-on: {error}")))?;
        Ok(Oidc { settings, http, state: Mutex::new(ProviderState::default()) })
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str, what: &str) -> Result<T> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|error| unavailable(format!("cannot reach the OpenID provider for its {what}: {error}")))?;
        if !response.status().is_success() {
            return Err(unavailable(format!(
                "the OpenID provider answered {} for its {what} ({url})",
                response.status().as_u16()
            )));
        }
        response
            .json()
            .await
            .map_err(|error| unavailable(format!("the OpenID provider's {what} is not valid JSON: {error}")))
    }

    /// The discovery document, fetched once; its `issuer` must be the configured one.
    async fn metadata(&self) -> Result<ProviderMetadata> {
        if let Some(metadata) = &self.state.lock().await.metadata {
            return Ok(metadata.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", self.settings.issuer.trim_end_matches('/'));
        let metadata: ProviderMetadata = self.get_json(&url, "discovery document").await?;
        if metadata.issuer != self.settings.issuer {
            return Err(unavailable(format!(
                "the OpenID provider's discovery document names issuer '{}', not the configured '{}'",
                metadata.issuer, self.settings.issuer
            )));
        }
        self.state.lock().await.metadata = Some(metadata.clone());
        Ok(metadata)
    }

    /// The key that signed a token: from the keys fetched before, or from the provider's
    /// current keys when the token names one not among them (a rotation) or they are old.
    async fn key(&self, kid: Option<&str>) -> Result<DecodingKey> {
        let metadata = self.metadata().await?;
        let mut state = self.state.lock().await;
        let find = |keys: &JwkSet| match kid {
            Some(kid) => keys.find(kid).cloned(),
            None if keys.keys.len() == 1 => keys.keys.first().cloned(),
            None => None,
        };
        let unpublished = || refused("the ID token is signed with a key the OpenID provider does not publish");
        let fetched_recently = state.keys.as_ref().is_some_and(|(_, at)| at.elapsed() < KEY_REFETCH_INTERVAL);
        let usable = state.keys.as_ref().filter(|(_, at)| at.elapsed() < KEY_MAX_AGE).and_then(|(keys, _)| find(keys));
        let jwk = match usable {
            Some(jwk) => jwk,
            // Keys fetched moments ago are not fetched again for every token with a stray key id.
            None if fetched_recently => return Err(unpublished()),
            None => {
                let keys: JwkSet = self.get_json(&metadata.jwks_uri, "keys").await?;
                let found = find(&keys);
                state.keys = Some((keys, Instant::now()));
                found.ok_or_else(unpublished)?
            }
        };
        DecodingKey::from_jwk(&jwk).map_err(|error| refused(format!("the OpenID provider's key is unusable: {error}")))
    }

    /// Verifies an ID token: its signature with the provider's key, its issuer, that it was
    /// issued to one of `audiences`, its expiry, and (for the studio's flow) its nonce.
    pub async fn verify(&self, id_token: &str, audiences: &[&str], nonce: Option<&str>) -> Result<Identity> {
        let header = jsonwebtoken::decode_header(id_token)
            .map_err(|error| refused(format!("the ID token is malformed: {error}")))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(refused(format!("the ID token's algorithm {:?} is not accepted", header.alg)));
        }
        let key = self.key(header.kid.as_deref()).await?;
        // Only the header's algorithm, checked above to be an accepted one, and only with a key
        // of its family.
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_issuer(&[self.settings.issuer.as_str()]);
        validation.set_audience(audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(id_token, &key, &validation)
            .map_err(|error| {
                use jsonwebtoken::errors::ErrorKind;
                refused(match error.kind() {
                    ErrorKind::ExpiredSignature => "the ID token has expired".to_owned(),
                    ErrorKind::InvalidAudience => "the ID token was issued to another client".to_owned(),
                    ErrorKind::InvalidIssuer => "the ID token was issued by another provider".to_owned(),
                    ErrorKind::InvalidSignature => "the ID token's signature is not valid".to_owned(),
                    ErrorKind::InvalidAlgorithm => "the ID token's algorithm does not match its key".to_owned(),
                    _ => format!("the ID token is not valid: {error}"),
                })
            })?
            .claims;
        if let Some(expected) = nonce {
            let given = claims.get("nonce").and_then(serde_json::Value::as_str).unwrap_or_default();
            if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
                return Err(refused("the ID token's nonce is not this sign-in's"));
            }
        }
        let claim = &self.settings.username_claim;
        let name = claims
            .get(claim)
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| refused(format!("the ID token has no '{claim}' claim to name the user")))?
            .to_owned();
        let groups = match claims.get(&self.settings.groups_claim) {
            Some(serde_json::Value::Array(groups)) => {
                groups.iter().filter_map(serde_json::Value::as_str).map(str::to_owned).collect()
            }
            Some(serde_json::Value::String(group)) => vec![group.clone()],
            _ => Vec::new(),
        };
        Ok(Identity { name, groups })
    }

    /// Exchanges an authorization code for tokens at the provider, and returns the ID token.
    async fn redeem(&self, code: &str, verifier: &str) -> Result<String> {
        let metadata = self.metadata().await?;
        let response = self
            .http
            .post(&metadata.token_endpoint)
            .basic_auth(&self.settings.client_id, Some(&self.settings.client_secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", self.settings.redirect_url.as_str()),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .map_err(|error| unavailable(format!("cannot reach the OpenID provider's token endpoint: {error}")))?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        if !status.is_success() {
            let reason = body.get("error_description").or_else(|| body.get("error")).and_then(|value| value.as_str());
            return Err(refused(format!(
                "the OpenID provider refused the sign-in's code ({}): {}",
                status.as_u16(),
                reason.unwrap_or("no reason given")
            )));
        }
        body.get("id_token")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| refused("the OpenID provider's answer holds no ID token"))
    }
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Only same-site paths are followed after sign-in.
pub fn safe_next(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next.to_owned()
    } else {
        "/".to_owned()
    }
}

impl Service {
    /// Turns single sign-on on, where the server has a provider.
    pub fn with_oidc(mut self, oidc: Option<Oidc>) -> Self {
        self.oidc = oidc.map(std::sync::Arc::new);
        self
    }

    fn oidc(&self) -> Result<&Oidc> {
        self.oidc.as_deref().ok_or_else(|| Error::not_found("single sign-on is not configured on this server"))
    }

    /// Whether the studio offers single sign-on.
    pub fn single_sign_on(&self) -> bool {
        self.oidc.is_some()
    }

    /// Begins a studio sign-in at the provider: remembers the round trip and answers where to
    /// send the browser, and the secret its cookie must bring back.
    pub async fn begin_oidc_sign_in(&self, next: &str) -> Result<SignInStart> {
        let oidc = self.oidc()?;
        let metadata = oidc.metadata().await?;
        let state = random_secret(32);
        let nonce = random_secret(32);
        let verifier = random_secret(48);
        let browser_secret = random_secret(32);
        let now = now_millis();
        self.store
            .create_sign_in_request(
                &SignInRequest {
                    state_hash: token_hash(&state),
                    browser_hash: token_hash(&browser_secret),
                    nonce: nonce.clone(),
                    verifier: verifier.clone(),
                    next_path: safe_next(next),
                    expires_at: now + ROUND_TRIP_MILLIS,
                },
                now,
            )
            .await?;
        let mut url = url::Url::parse(&metadata.authorization_endpoint).map_err(|error| {
            unavailable(format!("the OpenID provider's authorization endpoint is not a URL: {error}"))
        })?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &oidc.settings.client_id)
            .append_pair("redirect_uri", &oidc.settings.redirect_url)
            .append_pair("scope", "openid profile email groups")
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &pkce_challenge(&verifier))
            .append_pair("code_challenge_method", "S256");
        Ok(SignInStart { authorize_url: url.into(), browser_secret })
    }

    /// What the CLI needs for the device flow: the provider's endpoints and the public client.
    pub async fn device_sign_in(&self) -> Result<DeviceSignIn> {
        let oidc = self.oidc()?;
        let client_id = oidc.settings.cli_client_id.clone().ok_or_else(|| {
            Error::not_found("this server has no client for the CLI's sign-in (--oidc-cli-client-id)")
        })?;
        let metadata = oidc.metadata().await?;
        let device_authorization_endpoint = metadata
            .device_authorization_endpoint
            .ok_or_else(|| Error::not_found("the OpenID provider does not offer the device flow"))?;
        Ok(DeviceSignIn {
            issuer: metadata.issuer,
            client_id,
            device_authorization_endpoint,
            token_endpoint: metadata.token_endpoint,
        })
    }

    /// Takes an ID token the provider issued to this server's clients (the CLI's, after its
    /// device flow) and answers an API token for its user that lasts [`SIGNED_IN_TOKEN_MILLIS`].
    /// The user is found, created or refused, and their roles kept in step with their groups,
    /// as at a studio sign-in.
    pub async fn exchange_id_token(&self, id_token: &str) -> Result<crate::NewToken> {
        let oidc = self.oidc()?;
        let mut audiences = vec![oidc.settings.client_id.as_str()];
        audiences.extend(oidc.settings.cli_client_id.as_deref());
        let identity = oidc
            .verify(id_token, &audiences, None)
            .await
            .inspect_err(|error| crate::audit::note_refused("", error.code.as_str()))?;
        let principal = self.provision(oidc, &identity).await?;
        crate::audit::note_action(None, SIGN_IN, true);
        self.issue_token(
            &principal.user,
            "signed in with single sign-on (atelier login)",
            Some(now_millis() + SIGNED_IN_TOKEN_MILLIS),
            atelier_core::model::TokenScope::All,
        )
        .await
    }

    /// Completes a studio sign-in when the provider sends the browser back: the round trip must
    /// be one this server began, for this browser, not used before and not expired; the code
    /// is redeemed with PKCE's verifier and the ID token verified, nonce included. Opens a
    /// session and answers it with the path to go to. Every refusal is audited.
    pub async fn complete_oidc_sign_in(
        &self,
        state: &str,
        code: &str,
        browser_secret: Option<&str>,
    ) -> Result<(NewSession, String)> {
        // A GET that opens a session: recorded like the password sign-in's POST.
        crate::audit::note_changing_get();
        let outcome = self.complete_oidc(state, code, browser_secret).await;
        if let Err(error) = &outcome
            && error.code == ErrorCode::Unauthenticated
        {
            tracing::info!(reason = %error.message, "a single sign-on was refused");
        }
        outcome
    }

    async fn complete_oidc(
        &self,
        state: &str,
        code: &str,
        browser_secret: Option<&str>,
    ) -> Result<(NewSession, String)> {
        let oidc = self.oidc()?;
        let refuse = |error: Error| {
            crate::audit::note_refused("", error.code.as_str());
            error
        };
        let request = self
            .store
            .take_sign_in_request(&token_hash(state), now_millis())
            .await?
            .ok_or_else(|| refuse(refused("this sign-in is unknown, expired or already used: sign in again")))?;
        let bound = browser_secret
            .is_some_and(|secret| constant_time_eq(token_hash(secret).as_bytes(), request.browser_hash.as_bytes()));
        if !bound {
            return Err(refuse(refused("this sign-in was begun in another browser: sign in again")));
        }
        let id_token = oidc.redeem(code, &request.verifier).await.map_err(refuse)?;
        let identity =
            oidc.verify(&id_token, &[oidc.settings.client_id.as_str()], Some(&request.nonce)).await.map_err(refuse)?;
        let principal = self.provision(oidc, &identity).await?;
        crate::audit::note_action(None, SIGN_IN, true);
        let session = self.open_session(principal).await?;
        Ok((session, request.next_path))
    }

    /// The user an identity names: created at first sign-in where allowed (and where a mapping
    /// file exists, only when one of their groups is mapped), refused when disabled; their
    /// roles brought in step with their groups.
    async fn provision(&self, oidc: &Oidc, identity: &Identity) -> Result<Principal> {
        let refuse = |message: String| {
            crate::audit::note_refused(&identity.name, ErrorCode::Unauthenticated.as_str());
            refused(message)
        };
        let name = UserName::parse(&identity.name).map_err(|error| {
            refuse(format!("the provider's user name '{}' cannot be used here: {}", identity.name, error.message))
        })?;
        let groups = &oidc.settings.groups;
        let wanted = groups.wanted(&identity.groups);
        let user = match self.store.get_user(&name).await {
            Ok(record) => record.user,
            Err(error) if error.code == ErrorCode::ResourceDoesNotExist => {
                if !oidc.settings.auto_create {
                    return Err(refuse(format!(
                        "user '{name}' has no account on this server: ask an administrator to create it"
                    )));
                }
                if !groups.is_empty() && wanted.is_empty() {
                    return Err(refuse(format!(
                        "none of the groups of user '{name}' gives access to this server: ask an administrator"
                    )));
                }
                let user = User { name: name.clone(), is_admin: false, created_at: now_millis(), disabled_at: None };
                match self.store.create_user(&user, None).await {
                    Ok(()) => user,
                    // Two first sign-ins at once: the other made it.
                    Err(error) if error.code == ErrorCode::ResourceAlreadyExists => {
                        self.store.get_user(&name).await?.user
                    }
                    Err(error) => return Err(error),
                }
            }
            Err(error) => return Err(error),
        };
        if user.disabled_at.is_some() {
            return Err(refuse(format!("user '{name}' is disabled")));
        }
        self.sync_group_roles(oidc, &name, &wanted).await?;
        Ok(Principal::signed_in(user.name, user.is_admin).noted())
    }

    /// Gives `user` the mapped roles their groups want and takes those the file names but their
    /// groups no longer give.
    async fn sync_group_roles(
        &self,
        oidc: &Oidc,
        user: &UserName,
        wanted: &BTreeSet<(WorkspaceName, String)>,
    ) -> Result<()> {
        let mut changed = false;
        for (workspace, role) in oidc.settings.groups.managed() {
            let held = match self.store.roles_of(&workspace, user).await {
                Ok(held) => held,
                Err(error) if error.code == ErrorCode::ResourceDoesNotExist => continue,
                Err(error) => return Err(error),
            };
            let holds = held.iter().any(|name| name.eq_ignore_ascii_case(&role));
            let wants = wanted.contains(&(workspace.clone(), role.clone()));
            if wants && !holds {
                let definition = match self.existing_role(&role).await {
                    Ok(definition) => definition,
                    Err(error) => {
                        tracing::warn!(%workspace, %role, error = %error.message, "the groups mapping names an unknown role");
                        continue;
                    }
                };
                match self.store.assign_role(&workspace, user, &definition.name, definition.built_in).await {
                    Ok(()) => changed = true,
                    Err(error) if error.code == ErrorCode::ResourceDoesNotExist => {
                        tracing::warn!(%workspace, "the groups mapping names a workspace that does not exist");
                    }
                    Err(error) => return Err(error),
                }
            } else if holds && !wants {
                let held_name = held.iter().find(|name| name.eq_ignore_ascii_case(&role)).cloned().unwrap_or(role);
                self.store.remove_role(&workspace, user, Some(&held_name)).await?;
                changed = true;
            }
        }
        if changed {
            self.forget_access();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_rfc_7636s() {
        // RFC 7636, appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn groups_files_map_groups_to_workspace_roles() {
        let roles = GroupRoles::parse(
            "groups:\n  ml:\n    - { workspace: default, role: Contributor }\n    - { workspace: vision, role: Reader }\n  ops:\n    - { workspace: default, role: Owner }\n",
        )
        .unwrap();
        let pair = |workspace: &str, role: &str| (WorkspaceName::parse(workspace).unwrap(), role.to_owned());
        assert_eq!(
            roles.wanted(&["ml".into(), "unknown".into()]),
            [pair("default", "Contributor"), pair("vision", "Reader")].into()
        );
        assert!(roles.wanted(&["unknown".into()]).is_empty());
        assert_eq!(roles.managed().len(), 3);
        let unknown_field =
            GroupRoles::parse("groups:\n  ml:\n    - { workspace: default, rol: Reader }\n").unwrap_err();
        assert!(unknown_field.message.contains("rol"), "{}", unknown_field.message);
        let bad_workspace =
            GroupRoles::parse("groups:\n  ml:\n    - { workspace: 'no/pe', role: Reader }\n").unwrap_err();
        assert!(bad_workspace.message.contains("group 'ml'"), "{}", bad_workspace.message);
    }

    #[test]
    fn only_same_site_paths_are_followed() {
        assert_eq!(safe_next("/w/default?x=1"), "/w/default?x=1");
        for outside in ["https://evil.example/", "//evil.example/", "/\\evil.example", "evil"] {
            assert_eq!(safe_next(outside), "/", "{outside}");
        }
    }
}

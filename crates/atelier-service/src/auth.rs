//! Identity: first-start bootstrap, sign-in with tokens or passwords, users, API tokens, role
//! assignments and workspaces. Secrets are generated here, shown once and stored only as hashes.

use crate::paths::ARTIFACT_ROOT;
use crate::{Principal, Service, Target, now_millis};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use atelier_core::authz::{Action, OWNER};
use atelier_core::model::{Millis, TokenInfo, TokenScope, User, Workspace};
use atelier_core::names::{UserName, WorkspaceName};
use atelier_core::{Error, ErrorCode, Result};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The prefix of every API token, so that a leaked token is recognisable in a scan.
const TOKEN_PREFIX: &str = "atl_";
/// The prefix of a job's token: valid for that job alone, while it has not ended.
pub(crate) const JOB_TOKEN_PREFIX: &str = "atj_";
/// How precisely a token's last use is kept: it is written at most this often.
const TOKEN_USE_PRECISION_MS: Millis = 60_000;
/// How long a verified basic-auth password is trusted without running argon2 again.
const PASSWORD_CACHE_TTL: Duration = Duration::from_secs(300);

/// The admin's credentials, returned once by the first start.
#[derive(Debug, Clone)]
pub struct BootstrapSecrets {
    pub admin_password: String,
    pub admin_token: String,
}

/// A token as created: its public record and the secret, which is never shown again.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub info: TokenInfo,
    pub secret: String,
}

pub(crate) fn random_secret(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    for chunk in buffer.chunks_mut(32) {
        let random: [u8; 32] = rand::random();
        chunk.copy_from_slice(&random[..chunk.len()]);
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buffer)
}

pub(crate) fn token_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// An argon2 hash of a random password, made once: what a sign-in of a name that does not
/// exist (or has no password) is checked against, so that it takes as long as a wrong password.
fn stand_in_hash() -> Result<String> {
    static STAND_IN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(hash) = STAND_IN.get() {
        return Ok(hash.clone());
    }
    let hash = hash_password(&random_secret(24))?;
    Ok(STAND_IN.get_or_init(|| hash).clone())
}

fn hash_password(password: &str) -> Result<String> {
    let salt: [u8; 16] = rand::random();
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| Error::internal(format!("hashing the password failed: {error}")))
}

fn validate_password(password: &str) -> Result<()> {
    if password.chars().count() < 8 {
        return Err(Error::invalid("password is too short: use at least 8 characters"));
    }
    Ok(())
}

impl Service {
    /// Creates workspace `default`, user `admin` (a server administrator, Owner of `default`)
    /// and an API token for it, if the store has no users yet. Returns the new secrets the first
    /// time and `None` afterwards.
    pub async fn bootstrap(&self) -> Result<Option<BootstrapSecrets>> {
        let default = WorkspaceName::default_workspace();
        let now = now_millis();
        match self.store.get_workspace(&default).await {
            Ok(_) => {}
            Err(error) if error.code == ErrorCode::ResourceDoesNotExist => {
                let workspace = Workspace {
                    name: default.clone(),
                    description: "The default workspace".to_owned(),
                    tags: BTreeMap::new(),
                    created_at: now,
                    updated_at: now,
                };
                self.store.create_workspace(&workspace, ARTIFACT_ROOT).await?;
            }
            Err(error) => return Err(error),
        }
        if !self.store.list_users().await?.is_empty() {
            return Ok(None);
        }
        let admin_name = UserName::parse("admin")?;
        let admin_password = random_secret(18);
        let password_hash = hash_password(&admin_password)?;
        let admin = User { name: admin_name.clone(), is_admin: true, created_at: now, disabled_at: None };
        self.store.create_user(&admin, Some(&password_hash)).await?;
        self.store.assign_role(&default, &admin_name, OWNER, true).await?;
        let token = self.issue_token(&admin_name, "created at first start", None, TokenScope::All).await?;
        Ok(Some(BootstrapSecrets { admin_password, admin_token: token.secret }))
    }

    /// Resolves an API token to its user.
    #[tracing::instrument(skip_all)]
    pub async fn authenticate_token(&self, secret: &str) -> Result<Principal> {
        if secret.starts_with(JOB_TOKEN_PREFIX) {
            return self.authenticate_job_token(secret).await;
        }
        if secret.starts_with(crate::instances::INSTANCE_TOKEN_PREFIX) {
            return self.authenticate_instance_token(secret).await;
        }
        if !secret.starts_with(TOKEN_PREFIX) {
            return Err(Error::unauthenticated("invalid or expired token"));
        }
        let hash = token_hash(secret);
        let now = now_millis();
        if let Some((principal, expires_at)) = self.auth_cache.tokens.get(&hash)
            && expires_at.is_none_or(|expires_at| expires_at > now)
        {
            self.note_token_use(&principal, now);
            return Ok(principal.noted());
        }
        // A disabled user's tokens are not found.
        match self.store.find_token(&hash, now).await? {
            Some((token, user)) => {
                let principal = Principal::token(user.name, user.is_admin, token.scope, token.id);
                self.auth_cache.tokens.insert(hash, (principal.clone(), token.expires_at));
                self.note_token_use(&principal, now);
                Ok(principal.noted())
            }
            None => Err(Error::unauthenticated("invalid or expired token")),
        }
    }

    /// Notes when a token was used, for its listing: at most once a minute per token, written
    /// off the request's task (so that it is no part of the request's transaction or audit
    /// record, and the request does not wait for it).
    fn note_token_use(&self, principal: &Principal, now: Millis) {
        let Some(id) = principal.token_id() else { return };
        let Ok(mut noted) = self.token_uses.lock() else { return };
        if noted.get(id).is_some_and(|at| now - at < TOKEN_USE_PRECISION_MS) {
            return;
        }
        if noted.len() >= 10_000 {
            noted.clear();
        }
        noted.insert(id.to_owned(), now);
        let store = self.store.clone();
        let id = id.to_owned();
        tokio::spawn(async move {
            if let Err(error) = store.touch_token(&id, now).await {
                tracing::debug!(error = %error, "noting a token's use failed");
            }
        });
    }

    /// A compute instance's token: its owner, while its server runs.
    async fn authenticate_instance_token(&self, secret: &str) -> Result<Principal> {
        let hash = token_hash(secret);
        if let Some((principal, _)) = self.auth_cache.tokens.get(&hash) {
            return Ok(principal.noted());
        }
        let Some(instance) = self.instance_of_token(&hash).await? else {
            return Err(Error::unauthenticated("invalid or expired token"));
        };
        let user = UserName::parse(&instance.owner)?;
        let record = self.store.get_user(&user).await?;
        if record.user.disabled_at.is_some() {
            return Err(Error::unauthenticated(format!(
                "the token of compute instance '{}' is refused: its owner '{user}' is disabled",
                instance.name
            )));
        }
        let scope = crate::InstanceScope { workspace: instance.workspace.clone(), name: instance.name.clone() };
        let principal = Principal::instance_token(user, record.user.is_admin, scope);
        self.auth_cache.tokens.insert(hash, (principal.clone(), None));
        Ok(principal.noted())
    }

    /// A job's token: the job's submitter, bound to the job, while the job has not ended.
    async fn authenticate_job_token(&self, secret: &str) -> Result<Principal> {
        let hash = token_hash(secret);
        if let Some((principal, _)) = self.auth_cache.tokens.get(&hash) {
            return Ok(principal.noted());
        }
        match self.store.find_job_by_token(&hash).await? {
            Some(job) if !job.status.is_terminal() => {
                let user = UserName::parse(&job.created_by)?;
                if self.store.get_user(&user).await?.user.disabled_at.is_some() {
                    return Err(Error::unauthenticated(format!(
                        "the token of job '{}' is refused: its user '{user}' is disabled",
                        job.name
                    )));
                }
                let scope = crate::JobScope { workspace: job.workspace.clone(), job: job.name.clone() };
                let principal = Principal::job_token(user, scope);
                self.auth_cache.tokens.insert(hash, (principal.clone(), None));
                Ok(principal.noted())
            }
            Some(job) => Err(Error::unauthenticated(format!(
                "the token of job '{}' expired when the job ended ({})",
                job.name,
                job.status.as_str()
            ))),
            None => Err(Error::unauthenticated("invalid or expired token")),
        }
    }

    /// Checks a user name and password (HTTP basic auth, the studio's sign-in) from `address`.
    /// Failed attempts are counted by name and by address, and refused for a while once there
    /// are too many ([`crate::throttle`]); a name that does not exist takes as long to refuse
    /// as a wrong password, so that neither the answer nor its time tells which names exist.
    #[tracing::instrument(skip_all)]
    pub async fn authenticate_password(
        &self,
        user: &str,
        password: &str,
        address: Option<IpAddr>,
    ) -> Result<Principal> {
        if let Err(error) = self.sign_in_throttle.check(user, address) {
            crate::audit::note_refused(user, error.code.as_str());
            return Err(error);
        }
        match self.check_password(user, password).await {
            Ok(principal) => {
                self.sign_in_throttle.succeeded(user);
                Ok(principal.noted())
            }
            Err(error) if error.code == ErrorCode::Unauthenticated => {
                self.sign_in_throttle.failed(user, address);
                crate::audit::note_refused(user, error.code.as_str());
                tracing::info!(user = %user.escape_debug(), address = ?address, "a sign-in was refused");
                Err(error)
            }
            Err(error) => Err(error),
        }
    }

    async fn check_password(&self, user: &str, password: &str) -> Result<Principal> {
        let failure = || Error::unauthenticated("invalid user name or password");
        let record = match UserName::parse(user) {
            Ok(name) => match self.store.get_user(&name).await {
                Ok(record) => Some(record),
                Err(error) if error.code == ErrorCode::ResourceDoesNotExist => None,
                Err(error) => return Err(error),
            },
            Err(_) => None,
        };
        let fingerprint: [u8; 32] = Sha256::digest(format!("{user}\0{password}").as_bytes()).into();
        if let Some(record) = &record {
            let recently_verified = self.password_cache.lock().ok().is_some_and(|cache| {
                cache.get(user).is_some_and(|(cached, verified_at)| {
                    *cached == fingerprint && verified_at.elapsed() < PASSWORD_CACHE_TTL
                })
            });
            if recently_verified && record.user.disabled_at.is_none() {
                return Ok(Principal::signed_in(record.user.name.clone(), record.user.is_admin));
            }
        }
        // Without a user or a password of theirs, a stand-in hash is checked all the same.
        let stored_hash = record.as_ref().and_then(|record| record.password_hash.clone());
        let real = stored_hash.is_some();
        let hash = match stored_hash {
            Some(hash) => hash,
            None => stand_in_hash()?,
        };
        let password = password.to_owned();
        // argon2 is deliberately slow; it runs off the async threads.
        let verified = tokio::task::spawn_blocking(move || {
            Argon2::default().verify_password(password.as_bytes(), hash.as_str()).is_ok()
        })
        .await
        .map_err(|error| Error::internal(format!("password check failed: {error}")))?;
        let Some(record) = record.filter(|_| verified && real) else { return Err(failure()) };
        // Said only to whoever knows the password.
        if record.user.disabled_at.is_some() {
            return Err(Error::unauthenticated(format!("user '{}' is disabled", record.user.name)));
        }
        if let Ok(mut cache) = self.password_cache.lock() {
            cache.insert(user.to_owned(), (fingerprint, Instant::now()));
        }
        Ok(Principal::signed_in(record.user.name, record.user.is_admin))
    }

    pub(crate) async fn issue_token(
        &self,
        user: &UserName,
        description: &str,
        expires_at: Option<i64>,
        scope: TokenScope,
    ) -> Result<NewToken> {
        let secret = format!("{TOKEN_PREFIX}{}", random_secret(32));
        let id_bytes: [u8; 6] = rand::random();
        let info = TokenInfo {
            id: hex::encode(id_bytes),
            user: user.clone(),
            description: description.to_owned(),
            created_at: now_millis(),
            expires_at,
            scope,
            last_used_at: None,
        };
        self.store.create_token(&info, &token_hash(&secret)).await?;
        Ok(NewToken { info, secret })
    }

    // Users.

    pub async fn create_user(
        &self,
        principal: &Principal,
        name: &str,
        password: Option<&str>,
        is_admin: bool,
    ) -> Result<User> {
        self.authorize_account(principal, None)?;
        let name = UserName::parse(name)?;
        let password_hash = match password {
            Some(password) => {
                validate_password(password)?;
                Some(hash_password(password)?)
            }
            None => None,
        };
        let user = User { name, is_admin, created_at: now_millis(), disabled_at: None };
        self.store.create_user(&user, password_hash.as_deref()).await?;
        Ok(user)
    }

    pub async fn list_users(&self, principal: &Principal) -> Result<Vec<User>> {
        self.authorize_account(principal, None)?;
        self.store.list_users().await
    }

    /// Disables a user or enables them again (server administrators; never oneself, so that
    /// a server keeps an administrator who can undo it). A disabled user keeps their roles and
    /// records, but their passwords, tokens, studio sessions (ended at once) and jobs' tokens
    /// are refused, on this server now and on other replicas within the cache's few seconds.
    pub async fn set_user_disabled(&self, principal: &Principal, name: &str, disabled: bool) -> Result<User> {
        self.authorize_account(principal, None)?;
        let name = UserName::parse(name)?;
        if disabled && name == principal.user {
            return Err(Error::invalid("you cannot disable yourself: another administrator can"));
        }
        let current = self.store.get_user(&name).await?.user;
        let disabled_at = match (disabled, current.disabled_at) {
            (true, Some(since)) => Some(since),
            (true, None) => Some(now_millis()),
            (false, _) => None,
        };
        if disabled_at != current.disabled_at {
            self.store.set_user_disabled(&name, disabled_at).await?;
        }
        self.auth_cache.tokens.clear();
        if let Ok(mut cache) = self.password_cache.lock() {
            cache.remove(name.as_str());
        }
        Ok(User { disabled_at, ..current })
    }

    /// Sets another user's password (server administrators), as `set_password` does, but never
    /// one's own without the current password (see [`Service::change_own_password`]).
    pub async fn reset_password(&self, principal: &Principal, name: &str, password: &str) -> Result<()> {
        self.authorize_account(principal, None)?;
        self.set_password(principal, name, password).await
    }

    /// Changes the caller's own password, given the current one (checked, and counted as a
    /// sign-in, like any password: a stolen session cannot take the account over).
    pub async fn change_own_password(
        &self,
        principal: &Principal,
        current: &str,
        password: &str,
        address: Option<IpAddr>,
    ) -> Result<()> {
        self.authorize_account(principal, Some(&principal.user))?;
        validate_password(password)?;
        let name = principal.user.to_string();
        self.authenticate_password(&name, current, address).await.map_err(|error| match error.code {
            ErrorCode::Unauthenticated => Error::invalid("the current password is not right"),
            _ => error,
        })?;
        self.set_password(principal, &name, password).await
    }

    pub async fn set_password(&self, principal: &Principal, name: &str, password: &str) -> Result<()> {
        let name = UserName::parse(name)?;
        self.authorize_account(principal, Some(&name))?;
        validate_password(password)?;
        self.store.set_password(&name, &hash_password(password)?).await?;
        if let Ok(mut cache) = self.password_cache.lock() {
            cache.remove(name.as_str());
        }
        Ok(())
    }

    // Tokens.

    /// Creates a token for `user` (default: the caller). Only admins create tokens for others.
    /// A token scoped to metrics reads `/metrics` (what its user may see there) and nothing else.
    pub async fn create_token(
        &self,
        principal: &Principal,
        user: Option<&str>,
        description: &str,
        expires_in_days: Option<i64>,
        scope: TokenScope,
    ) -> Result<NewToken> {
        let user = match user {
            Some(name) => UserName::parse(name)?,
            None => principal.user.clone(),
        };
        self.authorize_account(principal, Some(&user))?;
        self.store.get_user(&user).await?;
        let expires_at = match expires_in_days {
            None => None,
            Some(days) if days > 0 && days <= 3650 => Some(now_millis() + days * 86_400_000),
            Some(days) => return Err(Error::invalid(format!("invalid expiry of {days} days: expected 1 to 3650"))),
        };
        self.issue_token(&user, description, expires_at, scope).await
    }

    /// Lists tokens: the caller's own, or (for admins) anyone's.
    pub async fn list_tokens(&self, principal: &Principal, user: Option<&str>) -> Result<Vec<TokenInfo>> {
        match user {
            Some(name) => {
                let name = UserName::parse(name)?;
                self.authorize_account(principal, Some(&name))?;
                self.store.list_tokens(Some(&name)).await
            }
            None => {
                self.authorize_account(principal, Some(&principal.user))?;
                if self.authorize_account(principal, None).is_ok() {
                    self.store.list_tokens(None).await
                } else {
                    self.store.list_tokens(Some(&principal.user)).await
                }
            }
        }
    }

    pub async fn revoke_token(&self, principal: &Principal, id: &str) -> Result<()> {
        // A job's token learns nothing, not even whether a token exists.
        self.authorize_account(principal, Some(&principal.user))?;
        let token = self.store.get_token(id).await?;
        self.authorize_account(principal, Some(&token.user))?;
        self.store.delete_token(id).await?;
        self.auth_cache.tokens.clear();
        Ok(())
    }

    // Workspaces.

    /// Creates a workspace; the creator becomes its Owner.
    pub async fn create_workspace(
        &self,
        principal: &Principal,
        name: &str,
        description: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<Workspace> {
        self.authorize_server_on(principal, Action::ServerAdmin, Target::Account)?;
        let name = WorkspaceName::parse(name)?;
        let now = now_millis();
        let workspace = Workspace {
            name: name.clone(),
            description: description.to_owned(),
            tags,
            created_at: now,
            updated_at: now,
        };
        self.store.create_workspace(&workspace, ARTIFACT_ROOT).await?;
        self.store.assign_role(&name, &principal.user, OWNER, true).await?;
        self.forget_access();
        Ok(workspace)
    }

    /// Lists the workspaces the caller can see: all for admins, else those they have a role on.
    pub async fn list_workspaces(&self, principal: &Principal) -> Result<Vec<Workspace>> {
        self.permitted_workspaces(principal, Action::WorkspaceRead, Target::Account).await
    }

    pub async fn get_workspace(&self, principal: &Principal, name: &str) -> Result<Workspace> {
        let name = WorkspaceName::parse(name)?;
        self.authorize_on(principal, &name, Action::WorkspaceRead, Target::Account).await?;
        self.store.get_workspace(&name).await
    }

    pub async fn update_workspace(
        &self,
        principal: &Principal,
        name: &str,
        description: Option<&str>,
        tags: Option<&BTreeMap<String, String>>,
    ) -> Result<Workspace> {
        let name = WorkspaceName::parse(name)?;
        self.authorize_on(principal, &name, Action::WorkspaceWrite, Target::Account).await?;
        self.store.update_workspace(&name, description, tags, now_millis()).await
    }

    /// Deletes a workspace with everything in it, artifacts included. `default` stays.
    pub async fn delete_workspace(&self, principal: &Principal, name: &str) -> Result<()> {
        let name = WorkspaceName::parse(name)?;
        self.authorize_on(principal, &name, Action::WorkspaceDelete, Target::Account).await?;
        if name == WorkspaceName::default_workspace() {
            return Err(Error::invalid("the default workspace cannot be deleted"));
        }
        self.store.delete_workspace(&name).await?;
        self.forget_access();
        let prefix = crate::paths::workspace_blob_prefix(&name);
        if let Err(error) = self.blobs().delete(&prefix).await {
            tracing::warn!(workspace = %name, error = %error, "deleting the workspace's artifacts failed");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(Argon2::default().verify_password(b"correct horse", hash.as_str()).is_ok());
        assert!(Argon2::default().verify_password(b"wrong", hash.as_str()).is_err());
    }

    #[test]
    fn secrets_are_random_and_url_safe() {
        let first = random_secret(32);
        assert_ne!(first, random_secret(32));
        assert_eq!(first.len(), 43);
        assert!(first.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }
}

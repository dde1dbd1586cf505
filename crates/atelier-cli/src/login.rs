//! `atelier login`: signs in with the server's OpenID provider by the device flow (RFC 8628)
//! and keeps what it got in `$ATELIER_HOME/credentials.json` (mode 0600): an Atelier API
//! token of 12 hours, and the provider's refresh token, with which the CLI gets a new ID token
//! and so a new API token when the old one has expired, without asking again.

use crate::ClientArgs;
use anyhow::{Context, bail};
use atelier_service::now_millis;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const CREDENTIALS_FILE: &str = "credentials.json";
/// An API token this close to its expiry is replaced before use.
const REFRESH_MARGIN_MILLIS: i64 = 60_000;

/// What `atelier login` keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credentials {
    /// The server these are for.
    pub url: String,
    pub user: String,
    /// The Atelier API token.
    pub token: String,
    pub expires_at: Option<i64>,
    /// The provider's refresh token, where it gave one.
    pub refresh_token: Option<String>,
    pub token_endpoint: String,
    pub client_id: String,
}

pub fn credentials_path(home: &Path) -> PathBuf {
    home.join(CREDENTIALS_FILE)
}

/// The saved credentials, if any.
pub fn load(home: &Path) -> anyhow::Result<Option<Credentials>> {
    let path = credentials_path(home);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not valid: run `atelier login` again", path.display()))?,
        )),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Saves credentials readable by their owner only, replacing the old file at once.
fn save(home: &Path, credentials: &Credentials) -> anyhow::Result<()> {
    std::fs::create_dir_all(home).with_context(|| format!("cannot create {}", home.display()))?;
    let path = credentials_path(home);
    let partial = home.join(format!("{CREDENTIALS_FILE}.partial"));
    let _ = std::fs::remove_file(&partial);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    file.write_all(serde_json::to_string_pretty(credentials)?.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&partial, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

impl Credentials {
    fn expired(&self) -> bool {
        self.expires_at.is_some_and(|at| at <= now_millis() + REFRESH_MARGIN_MILLIS)
    }

    /// The API token, replaced first through the provider's refresh token when it has expired.
    pub async fn current_token(mut self, http: &reqwest::Client, home: &Path) -> anyhow::Result<String> {
        if !self.expired() {
            return Ok(self.token);
        }
        let Some(refresh_token) = self.refresh_token.clone() else {
            bail!("your sign-in to {} has expired: run `atelier login` again", self.url)
        };
        let answer = token_request(
            http,
            &self.token_endpoint,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh_token), ("client_id", &self.client_id)],
        )
        .await?;
        let answer = match answer {
            Ok(answer) => answer,
            Err((code, description)) => {
                bail!(
                    "the OpenID provider refused to renew your sign-in ({code}: {description}): run `atelier login` again"
                )
            }
        };
        let id_token =
            answer.get("id_token").and_then(Value::as_str).context("the provider's answer holds no ID token")?;
        let exchanged = exchange(http, &self.url, id_token).await?;
        self.token = exchanged.0;
        self.expires_at = exchanged.1;
        if let Some(rotated) = answer.get("refresh_token").and_then(Value::as_str) {
            self.refresh_token = Some(rotated.to_owned());
        }
        save(home, &self)?;
        Ok(self.token)
    }
}

/// Posts a form to the provider's token endpoint: the JSON answer, or its error and description.
async fn token_request(
    http: &reqwest::Client,
    endpoint: &str,
    form: &[(&str, &str)],
) -> anyhow::Result<Result<Value, (String, String)>> {
    let response = http
        .post(endpoint)
        .form(form)
        .send()
        .await
        .with_context(|| format!("cannot reach the OpenID provider at {endpoint}"))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or_default();
    if status.is_success() {
        return Ok(Ok(body));
    }
    let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
    Ok(Err((text("error"), text("error_description"))))
}

/// Exchanges an ID token for an Atelier API token: the token and its expiry.
async fn exchange(http: &reqwest::Client, url: &str, id_token: &str) -> anyhow::Result<(String, Option<i64>, String)> {
    let response = http
        .post(format!("{}/api/v1/auth/oidc/token", url.trim_end_matches('/')))
        .json(&serde_json::json!({ "id_token": id_token }))
        .send()
        .await
        .with_context(|| format!("cannot reach the Atelier server at {url}"))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        let message = body.get("message").and_then(Value::as_str).unwrap_or("no reason given");
        bail!("the Atelier server refused the sign-in: {message} (HTTP {})", status.as_u16());
    }
    let token = body.get("token").and_then(Value::as_str).context("the server's answer holds no token")?.to_owned();
    let user = body.get("user").and_then(Value::as_str).unwrap_or_default().to_owned();
    Ok((token, body.get("expires_at").and_then(Value::as_i64), user))
}

/// `atelier login`.
pub async fn login(args: ClientArgs) -> anyhow::Result<()> {
    let home = crate::home::home_folder(args.home.clone())?;
    let url = crate::client::server_url(&args, &home);
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let settings = http
        .get(format!("{url}/api/v1/auth/oidc"))
        .send()
        .await
        .with_context(|| format!("cannot reach the Atelier server at {url}"))?;
    if !settings.status().is_success() {
        let body: Value = settings.json().await.unwrap_or_default();
        let message = body.get("message").and_then(Value::as_str).unwrap_or("no single sign-on here");
        bail!("{url} offers no sign-in for the CLI: {message}");
    }
    let settings: Value = settings.json().await.context("the server's answer is not JSON")?;
    let field = |key: &str| -> anyhow::Result<String> {
        settings
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .with_context(|| format!("the server's answer lacks {key}"))
    };
    let (client_id, device_endpoint, token_endpoint) =
        (field("client_id")?, field("device_authorization_endpoint")?, field("token_endpoint")?);

    let device = match token_request(
        &http,
        &device_endpoint,
        &[("client_id", &client_id), ("scope", "openid profile email groups offline_access")],
    )
    .await?
    {
        Ok(device) => device,
        Err((code, description)) => bail!("the OpenID provider refused to begin the sign-in ({code}: {description})"),
    };
    let text = |key: &str| device.get(key).and_then(Value::as_str).map(str::to_owned);
    let device_code = text("device_code").context("the provider's answer lacks device_code")?;
    let user_code = text("user_code").context("the provider's answer lacks user_code")?;
    let verification = text("verification_uri").context("the provider's answer lacks verification_uri")?;
    let mut interval = device.get("interval").and_then(Value::as_u64).unwrap_or(5).max(1);
    let expires_in = device.get("expires_in").and_then(Value::as_u64).unwrap_or(600);
    eprintln!("To sign in, open {verification} and enter the code {user_code}");
    if let Some(complete) = text("verification_uri_complete") {
        eprintln!("(or open {complete})");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(expires_in);
    let answer = loop {
        if std::time::Instant::now() > deadline {
            bail!("the sign-in code expired before it was used: run `atelier login` again");
        }
        tokio::time::sleep(Duration::from_secs(interval)).await;
        match token_request(
            &http,
            &token_endpoint,
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", &device_code),
                ("client_id", &client_id),
            ],
        )
        .await?
        {
            Ok(answer) => break answer,
            Err((code, _)) if code == "authorization_pending" => {}
            Err((code, _)) if code == "slow_down" => interval += 5,
            Err((code, description)) => bail!("the sign-in did not complete ({code}: {description})"),
        }
    };
    let id_token = answer.get("id_token").and_then(Value::as_str).context("the provider's answer holds no ID token")?;
    let (token, expires_at, user) = exchange(&http, &url, id_token).await?;
    let credentials = Credentials {
        url: url.clone(),
        user: user.clone(),
        token,
        expires_at,
        refresh_token: answer.get("refresh_token").and_then(Value::as_str).map(str::to_owned),
        token_endpoint,
        client_id,
    };
    save(&home, &credentials)?;
    println!("signed in to {url} as {user}; credentials saved in {}", credentials_path(&home).display());
    Ok(())
}

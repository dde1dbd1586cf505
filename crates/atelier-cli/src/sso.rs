//! Single sign-on: the server's OpenID Connect settings (`atelier server --oidc-…`).

use anyhow::Context;
use atelier_service::{GroupRoles, Oidc, OidcSettings};
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct OidcArgs {
    /// An OpenID provider's issuer URL: the studio then offers "Sign in with single sign-on".
    #[arg(long, env = "ATELIER_OIDC_ISSUER", requires_all = ["oidc_client_id", "oidc_client_secret_file"])]
    oidc_issuer: Option<String>,
    /// The client id this server has at the provider.
    #[arg(long, env = "ATELIER_OIDC_CLIENT_ID")]
    oidc_client_id: Option<String>,
    /// A file holding the client's secret (never the secret itself on the command line).
    #[arg(long, env = "ATELIER_OIDC_CLIENT_SECRET_FILE")]
    oidc_client_secret_file: Option<PathBuf>,
    /// A public client (no secret) at the provider for `atelier login`'s device flow.
    #[arg(long, env = "ATELIER_OIDC_CLI_CLIENT_ID")]
    oidc_cli_client_id: Option<String>,
    /// Create a user at their first sign-in (else only users an administrator created may sign
    /// in). With a groups file, only users one of whose groups it maps are created.
    #[arg(long, env = "ATELIER_OIDC_AUTO_CREATE")]
    oidc_auto_create: bool,
    /// A YAML file mapping the provider's groups to workspace roles.
    #[arg(long, env = "ATELIER_OIDC_GROUPS_FILE")]
    oidc_groups_file: Option<PathBuf>,
    /// The ID token's claim that names the user.
    #[arg(long, env = "ATELIER_OIDC_USERNAME_CLAIM", default_value = "preferred_username")]
    oidc_username_claim: String,
    /// The ID token's claim that lists the user's groups.
    #[arg(long, env = "ATELIER_OIDC_GROUPS_CLAIM", default_value = "groups")]
    oidc_groups_claim: String,
}

impl OidcArgs {
    /// The provider, if one is configured; `public_url` is where browsers reach this server.
    pub fn provider(&self, public_url: &str) -> anyhow::Result<Option<Oidc>> {
        let Some(issuer) = self.oidc_issuer.clone() else { return Ok(None) };
        let parsed = url::Url::parse(&issuer).with_context(|| format!("--oidc-issuer '{issuer}' is not a URL"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            anyhow::bail!("--oidc-issuer must be an http or https URL, not '{issuer}'");
        }
        let client_id = self.oidc_client_id.clone().context("--oidc-issuer needs --oidc-client-id")?;
        let secret_file =
            self.oidc_client_secret_file.as_ref().context("--oidc-issuer needs --oidc-client-secret-file")?;
        let client_secret = std::fs::read_to_string(secret_file)
            .with_context(|| format!("cannot read the client secret from {}", secret_file.display()))?
            .trim()
            .to_owned();
        if client_secret.is_empty() {
            anyhow::bail!("the client secret file {} is empty", secret_file.display());
        }
        let groups = match &self.oidc_groups_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the groups file {}", path.display()))?;
                GroupRoles::parse(&text).map_err(|error| anyhow::anyhow!("{}: {}", path.display(), error.message))?
            }
            None => GroupRoles::default(),
        };
        let settings = OidcSettings {
            issuer,
            client_id,
            client_secret,
            cli_client_id: self.oidc_cli_client_id.clone(),
            redirect_url: format!("{}/login/oidc/callback", public_url.trim_end_matches('/')),
            auto_create: self.oidc_auto_create,
            username_claim: self.oidc_username_claim.clone(),
            groups_claim: self.oidc_groups_claim.clone(),
            groups,
        };
        Ok(Some(Oidc::new(settings).map_err(|error| anyhow::anyhow!("{}", error.message))?))
    }
}

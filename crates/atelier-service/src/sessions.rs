//! Studio sign-in: a user name and password open a session; the browser holds the session's
//! secret in an HttpOnly cookie, and every form carries the session's CSRF token.

use crate::auth::{random_secret, token_hash};
use crate::{Principal, Service, now_millis};
use atelier_core::authz::Action;
use atelier_core::model::Experiment;
use atelier_core::names::WorkspaceName;
use atelier_core::{Error, Result};
use atelier_store::{ExperimentQuery, ExperimentStats, Session};

/// How long a studio session lasts.
pub const SESSION_LIFETIME_MILLIS: i64 = 12 * 60 * 60 * 1000;

/// A signed-in browser: who it is and the token its forms must carry.
#[derive(Debug, Clone)]
pub struct StudioSession {
    pub principal: Principal,
    pub csrf_token: String,
}

/// A new session: the cookie's secret (shown to the browser once) and the session.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub secret: String,
    pub session: StudioSession,
}

/// An experiment with its active-run count and latest run start, for listings.
#[derive(Debug, Clone)]
pub struct ExperimentSummary {
    pub experiment: Experiment,
    pub runs: i64,
    pub last_run_start: Option<i64>,
}

impl Service {
    /// Checks a user name and password (sent from `address`) and opens a session.
    pub async fn sign_in(&self, user: &str, password: &str, address: Option<std::net::IpAddr>) -> Result<NewSession> {
        let principal = self.authenticate_password(user, password, address).await?;
        // The session's row carries the sign-in's audit record.
        crate::audit::note_action(None, atelier_core::audit::SIGN_IN, true);
        self.open_session(principal).await
    }

    /// Opens a studio session for a user who has just signed in.
    pub(crate) async fn open_session(&self, principal: Principal) -> Result<NewSession> {
        let secret = random_secret(32);
        let csrf_token = random_secret(24);
        let now = now_millis();
        let session = Session {
            id_hash: token_hash(&secret),
            user: principal.user.clone(),
            csrf_token: csrf_token.clone(),
            created_at: now,
            expires_at: now + SESSION_LIFETIME_MILLIS,
        };
        self.store.create_session(&session).await?;
        Ok(NewSession { secret, session: StudioSession { principal, csrf_token } })
    }

    /// Resolves a session cookie's secret.
    #[tracing::instrument(skip_all)]
    pub async fn session(&self, secret: &str) -> Result<StudioSession> {
        match self.store.find_session(&token_hash(secret), now_millis()).await? {
            Some((session, user)) => Ok(StudioSession {
                principal: Principal::signed_in(user.name, user.is_admin).noted(),
                csrf_token: session.csrf_token,
            }),
            None => Err(Error::unauthenticated("the session has ended; sign in again")),
        }
    }

    /// Ends a session.
    pub async fn sign_out(&self, secret: &str) -> Result<()> {
        self.store.delete_session(&token_hash(secret)).await
    }

    /// A workspace's experiments (active, newest first) with their run counts.
    pub async fn experiment_summaries(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
    ) -> Result<Vec<ExperimentSummary>> {
        self.authorize(principal, workspace, Action::ExperimentsRead).await?;
        let query = ExperimentQuery {
            workspace,
            filter: &[],
            view: atelier_core::model::ViewType::ActiveOnly,
            order_by: &[],
            limit: atelier_core::limits::SEARCH_MAX_RESULTS_LIMIT,
            offset: 0,
        };
        let experiments = self.store.search_experiments(&query).await?;
        let stats: Vec<ExperimentStats> = self.store.experiment_stats(workspace).await?;
        Ok(experiments
            .into_iter()
            .map(|experiment| {
                let stat = stats.iter().find(|stat| stat.experiment_id == experiment.experiment_id);
                ExperimentSummary {
                    runs: stat.map(|stat| stat.runs).unwrap_or(0),
                    last_run_start: stat.and_then(|stat| stat.last_run_start),
                    experiment,
                }
            })
            .collect())
    }

    /// Whether `principal` may perform `action` on `workspace`, for deciding which buttons a page
    /// shows (the operations themselves still authorize).
    pub async fn may(&self, principal: &Principal, workspace: &WorkspaceName, action: Action) -> bool {
        self.authorize(principal, workspace, action).await.is_ok()
    }

    /// Whether `principal` may perform a server-wide `action` (create workspaces, manage users),
    /// for deciding which buttons a page shows (the operations themselves still authorize).
    pub fn may_on_server(&self, principal: &Principal, action: Action) -> bool {
        self.authorize_server(principal, action).is_ok()
    }
}

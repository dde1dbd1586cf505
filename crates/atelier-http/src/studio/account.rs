//! A user's own page (`/account`: their API tokens, made and revoked here, and their password)
//! and the administrators' page of users (`/users`: create users, reset passwords, every
//! token, revoke). A token's secret is shown once, on the page that answers its creation; the
//! lists show ids, scopes and dates, never secrets.

use super::common::*;
use super::session::{Browser, Layout, forged_form, render, urlencode};
use crate::AppState;
use crate::auth::ClientAddress;
use askama::Template;
use atelier_core::Error;
use atelier_core::model::{TokenInfo, TokenScope, User};
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

pub(super) struct TokenRow {
    id: String,
    user: String,
    description: String,
    scope: &'static str,
    created: String,
    expires: String,
    last_used: String,
}

impl From<TokenInfo> for TokenRow {
    fn from(token: TokenInfo) -> Self {
        TokenRow {
            id: token.id,
            user: token.user.to_string(),
            description: token.description,
            scope: token.scope.as_str(),
            created: when(Some(token.created_at)),
            expires: token.expires_at.map_or_else(|| "never".to_owned(), |at| when(Some(at))),
            last_used: token.last_used_at.map_or_else(|| "never".to_owned(), |at| when(Some(at))),
        }
    }
}

#[derive(Template)]
#[template(path = "account.html")]
pub(super) struct AccountPage {
    layout: Layout,
    user: String,
    tokens: Vec<TokenRow>,
    /// A token just made: its secret, shown this once.
    created: Option<(String, String)>,
    error: Option<String>,
    notice: Option<String>,
}

pub(super) struct UserRow {
    name: String,
    is_admin: bool,
    created: String,
    /// When the user was disabled; empty while they are enabled.
    disabled: String,
}

#[derive(Template)]
#[template(path = "users.html")]
pub(super) struct UsersPage {
    layout: Layout,
    users: Vec<UserRow>,
    tokens: Vec<TokenRow>,
    created: Option<(String, String)>,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Deserialize, Default)]
pub(crate) struct Notice {
    error: Option<String>,
    notice: Option<String>,
}

fn back(page: &str, outcome: Result<&str, Error>) -> Response {
    let query = match outcome {
        Ok(notice) => format!("notice={}", urlencode(notice)),
        Err(error) => {
            atelier_service::audit::note_failure(error.code.as_str());
            format!("error={}", urlencode(&error.message))
        }
    };
    Redirect::to(&format!("{page}?{query}")).into_response()
}

async fn account_page(
    state: &AppState,
    browser: &Browser,
    created: Option<(String, String)>,
    notice: Notice,
) -> Response {
    let principal = &browser.session.principal;
    let tokens = match state.service.list_tokens(principal, Some(principal.user().as_str())).await {
        Ok(tokens) => tokens,
        Err(error) => return error_page(browser, error),
    };
    let page = AccountPage {
        layout: Layout::for_browser(browser, vec![crumb("my account", "/account")]),
        user: principal.user().to_string(),
        tokens: tokens.into_iter().map(TokenRow::from).collect(),
        created,
        error: notice.error,
        notice: notice.notice,
    };
    render(page, StatusCode::OK)
}

/// `/account`: the signed-in user's tokens and password.
pub(crate) async fn account(State(state): State<AppState>, browser: Browser, Query(notice): Query<Notice>) -> Response {
    account_page(&state, &browser, None, notice).await
}

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    expires_in_days: String,
    #[serde(default)]
    scope: String,
    /// Whose token (administrators, on the users page); the caller's own when empty.
    #[serde(default)]
    user: String,
}

impl TokenForm {
    async fn create(&self, state: &AppState, browser: &Browser) -> Result<(String, String), Error> {
        let expires = match self.expires_in_days.trim() {
            "" => None,
            days => Some(days.parse::<i64>().map_err(|_| {
                Error::invalid(format!("invalid expiry '{}': a number of days, 1 to 3650", days.escape_debug()))
            })?),
        };
        let scope = match self.scope.trim() {
            "" => TokenScope::All,
            scope => TokenScope::parse(scope)?,
        };
        let user = Some(self.user.trim()).filter(|user| !user.is_empty());
        let token = state
            .service
            .create_token(&browser.session.principal, user, self.description.trim(), expires, scope)
            .await?;
        Ok((token.info.id, token.secret))
    }
}

/// Makes a token for the signed-in user and shows its secret once.
pub(crate) async fn create_own_token(
    State(state): State<AppState>,
    browser: Browser,
    Form(form): Form<TokenForm>,
) -> Response {
    if !browser.csrf_matches(&form.csrf) {
        return forged_form();
    }
    let own = TokenForm { user: String::new(), ..form };
    match own.create(&state, &browser).await {
        Ok(created) => account_page(&state, &browser, Some(created), Notice::default()).await,
        Err(error) => back("/account", Err(error)),
    }
}

#[derive(Deserialize)]
pub(crate) struct RevokeForm {
    #[serde(default)]
    csrf: String,
    /// Which page to go back to: `users` for the administrators' page, else the account page.
    #[serde(default)]
    from: String,
}

/// Revokes a token: one's own, or anyone's for administrators (the service decides).
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Form(form): Form<RevokeForm>,
) -> Response {
    if !browser.csrf_matches(&form.csrf) {
        return forged_form();
    }
    let page = if form.from == "users" { "/users" } else { "/account" };
    let outcome = state.service.revoke_token(&browser.session.principal, &id).await;
    back(page, outcome.map(|()| "token revoked"))
}

#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// Changes the signed-in user's password, given the current one.
pub(crate) async fn change_password(
    State(state): State<AppState>,
    browser: Browser,
    ClientAddress(address): ClientAddress,
    Form(form): Form<PasswordForm>,
) -> Response {
    if !browser.csrf_matches(&form.csrf) {
        return forged_form();
    }
    if form.password != form.confirm {
        return back("/account", Err(Error::invalid("the new password and its confirmation differ")));
    }
    let outcome =
        state.service.change_own_password(&browser.session.principal, &form.current, &form.password, address).await;
    back("/account", outcome.map(|()| "password changed"))
}

async fn users_page(
    state: &AppState,
    browser: &Browser,
    created: Option<(String, String)>,
    notice: Notice,
) -> Response {
    let principal = &browser.session.principal;
    let loaded = async {
        let users: Vec<User> = state.service.list_users(principal).await?;
        let tokens = state.service.list_tokens(principal, None).await?;
        Ok::<_, Error>((users, tokens))
    }
    .await;
    let (users, tokens) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return error_page(browser, error),
    };
    let page = UsersPage {
        layout: Layout::for_browser(browser, vec![crumb("users", "/users")]),
        users: users
            .into_iter()
            .map(|user| UserRow {
                name: user.name.to_string(),
                is_admin: user.is_admin,
                created: when(Some(user.created_at)),
                disabled: user.disabled_at.map(|at| when(Some(at))).unwrap_or_default(),
            })
            .collect(),
        tokens: tokens.into_iter().map(TokenRow::from).collect(),
        created,
        error: notice.error,
        notice: notice.notice,
    };
    render(page, StatusCode::OK)
}

/// `/users`: every user and every token (server administrators).
pub(crate) async fn users(State(state): State<AppState>, browser: Browser, Query(notice): Query<Notice>) -> Response {
    users_page(&state, &browser, None, notice).await
}

#[derive(Deserialize)]
pub(crate) struct NewUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    admin: Option<String>,
}

/// Creates a user (server administrators).
pub(crate) async fn create_user(
    State(state): State<AppState>,
    browser: Browser,
    Form(form): Form<NewUserForm>,
) -> Response {
    if !browser.csrf_matches(&form.csrf) {
        return forged_form();
    }
    let password = Some(form.password.as_str()).filter(|password| !password.is_empty());
    let outcome =
        state.service.create_user(&browser.session.principal, form.name.trim(), password, form.admin.is_some()).await;
    back("/users", outcome.map(|_| "user created"))
}

#[derive(Deserialize)]
pub(crate) struct ResetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

/// Sets a user's password (server administrators; users change their own on `/account`).
pub(crate) async fn reset_password(
    State(state): State<AppState>,
    browser: Browser,
    Path(name): Path<String>,
    Form(form): Form<ResetForm>,
) -> Response {
    if !browser.csrf_matches(&form.csrf) {
        return forged_form();
    }
    let outcome = state.service.reset_password(&browser.session.principal, &name, &form.password).await;
    back("/users", outcome.map(|()| "password set"))
}

/// Makes a token for a user (server administrators) and shows its secret once.
pub(crate) async fn create_user_token(
    State(state): State<AppState>,
    browser: Browser,
    Form(form): Form<TokenForm>,
) -> Response {
    if !browser.csrf_matches(&form.csrf) {
        return forged_form();
    }
    match form.create(&state, &browser).await {
        Ok(created) => users_page(&state, &browser, Some(created), Notice::default()).await,
        Err(error) => back("/users", Err(error)),
    }
}

#[derive(Deserialize)]
pub(crate) struct DisabledForm {
    #[serde(default)]
    csrf: String,
    /// `true` to disable the user, `false` to enable them again.
    #[serde(default)]
    disabled: String,
}

/// Disables a user or enables them again (server administrators).
pub(crate) async fn set_disabled(
    State(state): State<AppState>,
    browser: Browser,
    Path(name): Path<String>,
    Form(form): Form<DisabledForm>,
) -> Response {
    if !browser.csrf_matches(&form.csrf) {
        return forged_form();
    }
    let disabled = match form.disabled.as_str() {
        "true" => true,
        "false" => false,
        other => {
            let error =
                Error::invalid(format!("invalid value '{}' of disabled: expected true or false", other.escape_debug()));
            return back("/users", Err(error));
        }
    };
    let outcome = state.service.set_user_disabled(&browser.session.principal, &name, disabled).await;
    back("/users", outcome.map(|_| if disabled { "user disabled" } else { "user enabled" }))
}

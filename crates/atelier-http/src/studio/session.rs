//! Studio sign-in and sign-out, the signed-in browser as an extractor, and CSRF checks.

use crate::AppState;
use askama::Template;
use atelier_service::StudioSession;
use axum::extract::{Form, FromRequestParts, OriginalUri, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

pub(crate) const COOKIE_NAME: &str = "atelier_session";

/// What every page's layout shows: who is signed in, the CSRF token for forms, breadcrumbs.
pub(crate) struct Layout {
    pub user: Option<String>,
    pub csrf: String,
    pub crumbs: Vec<Crumb>,
}

pub(crate) struct Crumb {
    pub label: String,
    pub href: String,
}

impl Layout {
    pub(crate) fn for_browser(browser: &Browser, crumbs: Vec<Crumb>) -> Self {
        Layout {
            user: Some(browser.session.principal.user().to_string()),
            csrf: browser.session.csrf_token.clone(),
            crumbs,
        }
    }
}

/// Renders a template as a page, or a plain error when rendering fails.
pub(crate) fn render(template: impl Template, status: StatusCode) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "rendering a page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response()
        }
    }
}

/// The cookie that binds a single sign-on round trip to the browser that began it.
const SSO_COOKIE_NAME: &str = "atelier_sso";

fn cookie_value(headers: &HeaderMap, wanted: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|value| value.to_str().ok()).find_map(|cookies| {
        cookies.split(';').find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == wanted && !value.is_empty()).then(|| value.to_owned())
        })
    })
}

fn cookie_secret(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, COOKIE_NAME)
}

/// The studio session's secret a request's cookie holds, for what else a session opens (the
/// compute instances' proxy).
pub(crate) fn session_secret(headers: &HeaderMap) -> Option<String> {
    cookie_secret(headers)
}

/// A signed-in browser. Pages that take it send anonymous visitors to the sign-in page and
/// back afterwards.
pub(crate) struct Browser {
    pub session: StudioSession,
    secret: String,
}

impl Browser {
    /// Whether a form's CSRF token is the session's, compared in constant time.
    pub(crate) fn csrf_matches(&self, token: &str) -> bool {
        atelier_service::constant_time_eq(self.session.csrf_token.as_bytes(), token.as_bytes())
    }
}

/// The answer to a form whose CSRF token does not match its session.
pub(crate) fn forged_form() -> Response {
    (StatusCode::FORBIDDEN, "the form is out of date or did not come from this site: reload the page and try again")
        .into_response()
}

impl FromRequestParts<AppState> for Browser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let target =
            parts.extensions.get::<OriginalUri>().map(|uri| uri.0.to_string()).unwrap_or_else(|| parts.uri.to_string());
        let to_login = || Redirect::to(&format!("/login?next={}", urlencode(&target))).into_response();
        let Some(secret) = cookie_secret(&parts.headers) else { return Err(to_login()) };
        match state.service.session(&secret).await {
            Ok(session) => Ok(Browser { session, secret }),
            Err(_) => Err(to_login()),
        }
    }
}

pub(crate) fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

use atelier_service::safe_next;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    next: String,
    user: String,
    error: Option<String>,
    /// Whether the server offers single sign-on.
    sso: bool,
}

impl LoginPage {
    fn new(state: &AppState, next: &str, user: String, error: Option<String>) -> Self {
        LoginPage {
            layout: Layout { user: None, csrf: String::new(), crumbs: Vec::new() },
            next: safe_next(next),
            user,
            error,
            sso: state.service.single_sign_on(),
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

pub(crate) async fn login_page(
    State(state): State<AppState>,
    axum::extract::Query(query): axum::extract::Query<NextQuery>,
) -> Response {
    render(LoginPage::new(&state, query.next.as_deref().unwrap_or("/"), String::new(), None), StatusCode::OK)
}

fn session_cookie(secret: &str) -> String {
    format!(
        "{COOKIE_NAME}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
        atelier_service::SESSION_LIFETIME_MILLIS / 1000
    )
}

/// The sign-in page again, with what went wrong.
fn refused_page(state: &AppState, next: &str, user: String, error: atelier_core::Error) -> Response {
    let status = StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::UNAUTHORIZED);
    render(LoginPage::new(state, next, user, Some(error.message)), status)
}

/// `/login/oidc`: sends the browser to the OpenID provider, with a cookie that binds the round
/// trip to it.
pub(crate) async fn oidc_begin(
    State(state): State<AppState>,
    axum::extract::Query(query): axum::extract::Query<NextQuery>,
) -> Response {
    let next = query.next.as_deref().unwrap_or("/");
    match state.service.begin_oidc_sign_in(next).await {
        Ok(start) => {
            let mut response = Redirect::to(&start.authorize_url).into_response();
            let cookie = format!(
                "{SSO_COOKIE_NAME}={}; Path=/login/oidc; HttpOnly; SameSite=Lax; Max-Age=600",
                start.browser_secret
            );
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(error) => refused_page(&state, next, String::new(), error),
    }
}

#[derive(Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `/login/oidc/callback`: where the provider sends the browser back; opens a session.
pub(crate) async fn oidc_callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<CallbackQuery>,
) -> Response {
    let (code, round_trip) = match (&query.code, &query.state, &query.error) {
        (Some(code), Some(round_trip), None) => (code, round_trip),
        (_, _, Some(error)) => {
            atelier_service::audit::note_changing_get();
            atelier_service::audit::note_refused("", atelier_core::ErrorCode::Unauthenticated.as_str());
            let reason = query.error_description.as_deref().unwrap_or(error);
            let error =
                atelier_core::Error::unauthenticated(format!("the OpenID provider did not sign you in: {reason}"));
            return refused_page(&state, "/", String::new(), error);
        }
        _ => {
            let error = atelier_core::Error::invalid("the OpenID provider's answer lacks its code or state");
            return refused_page(&state, "/", String::new(), error);
        }
    };
    let browser = cookie_value(&headers, SSO_COOKIE_NAME);
    match state.service.complete_oidc_sign_in(round_trip, code, browser.as_deref()).await {
        Ok((new_session, next)) => {
            let mut response = Redirect::to(&safe_next(&next)).into_response();
            for cookie in [
                session_cookie(&new_session.secret),
                format!("{SSO_COOKIE_NAME}=; Path=/login/oidc; HttpOnly; SameSite=Lax; Max-Age=0"),
            ] {
                if let Ok(value) = HeaderValue::from_str(&cookie) {
                    response.headers_mut().append(header::SET_COOKIE, value);
                }
            }
            response
        }
        Err(error) => refused_page(&state, "/", String::new(), error),
    }
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    user: String,
    password: String,
    #[serde(default)]
    next: String,
}

pub(crate) async fn login(
    State(state): State<AppState>,
    crate::auth::ClientAddress(address): crate::auth::ClientAddress,
    Form(form): Form<LoginForm>,
) -> Response {
    match state.service.sign_in(&form.user, &form.password, address).await {
        Ok(new_session) => {
            let mut response = Redirect::to(&safe_next(&form.next)).into_response();
            if let Ok(value) = HeaderValue::from_str(&session_cookie(&new_session.secret)) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        // 401 for a wrong pair, 429 while failed attempts make this name or address wait.
        Err(error) => refused_page(&state, &form.next, form.user, error),
    }
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn logout(State(state): State<AppState>, browser: Browser, Form(form): Form<CsrfForm>) -> Response {
    if !browser.csrf_matches(&form.csrf) {
        return forged_form();
    }
    if let Err(error) = state.service.sign_out(&browser.secret).await {
        tracing::warn!(%error, "ending a session failed");
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("atelier_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    response
}

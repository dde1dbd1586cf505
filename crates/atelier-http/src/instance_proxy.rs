//! The compute instances' proxy: `/ci/<workspace>/<name>/…` goes to the instance's
//! JupyterLab (HTTP, and the WebSockets its kernels use), for its owner and those they share it
//! with only. The caller is a signed-in browser (the studio's session) or an API token; what
//! reaches JupyterLab carries JupyterLab's own token instead, and none of Atelier's cookies or
//! credentials, so a shared instance's code never sees a visitor's session.

use crate::AppState;
use crate::error::ApiError;
use atelier_core::Error;
use atelier_core::names::WorkspaceName;
use atelier_service::Principal;
use axum::body::Body;
use axum::extract::{OriginalUri, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use hyper_util::rt::TokioIo;

/// Headers of one hop that are not passed on (`Connection` and `Upgrade` are, for upgrades).
const HOP_BY_HOP: [header::HeaderName; 5] =
    [header::TE, header::TRAILER, header::TRANSFER_ENCODING, header::PROXY_AUTHORIZATION, header::PROXY_AUTHENTICATE];

/// `/ci/<workspace>/<name>` and `…/<name>/`: JupyterLab's page.
pub(crate) async fn instance_root(Path((ws, name)): Path<(String, String)>) -> Response {
    Redirect::to(&format!("/ci/{}/{}/lab", crate::studio::urlencode(&ws), crate::studio::urlencode(&name)))
        .into_response()
}

/// Who calls: the studio's session (`true`), else an API token; `None` when neither is given.
async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Option<(Principal, bool)>, Error> {
    if let Some(secret) = crate::studio::session_secret(headers) {
        return match state.service.session(&secret).await {
            Ok(session) => Ok(Some((session.principal, true))),
            Err(_) => Ok(None),
        };
    }
    let authorization = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
    match authorization.and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))) {
        Some(token) => Ok(Some((state.service.authenticate_token(token.trim()).await?, false))),
        None => Ok(None),
    }
}

/// A browser's request that changes state, or opens a WebSocket, must come from a page of this
/// server: the `Origin` browsers send on such requests names this host.
fn same_origin(method: &Method, headers: &HeaderMap) -> bool {
    let upgrades = headers.contains_key(header::UPGRADE);
    if !upgrades && matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|value| value.to_str().ok()) else { return true };
    let host = headers.get(header::HOST).and_then(|value| value.to_str().ok()).unwrap_or_default();
    let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or(origin);
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

/// The cookies a request passes on: JupyterLab's own (its XSRF cookie), none of Atelier's.
fn cookies_without_atelier(headers: &HeaderMap) -> Option<HeaderValue> {
    let kept: Vec<&str> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty() && !pair.starts_with("atelier_"))
        .collect();
    if kept.is_empty() { None } else { HeaderValue::from_str(&kept.join("; ")).ok() }
}

fn bad_gateway(message: String) -> Response {
    tracing::warn!("{message}");
    ApiError(Error::internal(message)).into_response()
}

/// Any request under `/ci/<workspace>/<name>/`.
pub(crate) async fn proxy(
    State(state): State<AppState>,
    Path((ws, name, _rest)): Path<(String, String, String)>,
    OriginalUri(original): OriginalUri,
    mut request: Request,
) -> Response {
    let (principal, by_session) = match caller(&state, request.headers()).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            let wants_page = request
                .headers()
                .get(header::ACCEPT)
                .and_then(|value| value.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"));
            if wants_page {
                let next = crate::studio::urlencode(&original.to_string());
                return Redirect::to(&format!("/login?next={next}")).into_response();
            }
            return ApiError(Error::unauthenticated("sign in to the studio, or send 'Authorization: Bearer <token>'"))
                .into_response();
        }
        Err(error) => return ApiError(error).into_response(),
    };
    if by_session && !same_origin(request.method(), request.headers()) {
        return (StatusCode::FORBIDDEN, "this request did not come from a page of this server").into_response();
    }
    let workspace = match WorkspaceName::parse(&ws) {
        Ok(workspace) => workspace,
        Err(error) => return ApiError(error).into_response(),
    };
    let connection = match state.service.instance_connection(&principal, &workspace, &name).await {
        Ok(connection) => connection,
        Err(error) => return ApiError(error).into_response(),
    };

    // What JupyterLab gets: the same request, with its own token for Atelier's credentials.
    let client_upgrade = hyper::upgrade::on(&mut request);
    let (mut parts, body) = request.into_parts();
    let cookies = cookies_without_atelier(&parts.headers);
    parts.uri = original.path_and_query().map_or("/", |path| path.as_str()).parse().unwrap_or_default();
    for hop in HOP_BY_HOP {
        parts.headers.remove(hop);
    }
    parts.headers.remove(header::COOKIE);
    // What a caller says of the hops before it is not passed on as if this server had said it.
    for forwarded in ["forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-real-ip"] {
        parts.headers.remove(forwarded);
    }
    if let Some(cookies) = cookies {
        parts.headers.insert(header::COOKIE, cookies);
    }
    match HeaderValue::from_str(&format!("token {}", connection.token)) {
        Ok(value) => parts.headers.insert(header::AUTHORIZATION, value),
        Err(_) => return bad_gateway("the instance's token is not a header value".to_owned()),
    };
    let forwarded = axum::http::Request::from_parts(parts, body);

    // A node that is gone does not hold the caller for the system's connect timeout.
    let connect = tokio::net::TcpStream::connect((connection.host.as_str(), connection.port));
    let stream = match tokio::time::timeout(std::time::Duration::from_secs(10), connect).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => return bad_gateway(format!("compute instance '{name}' does not answer: {error}")),
        Err(_) => return bad_gateway(format!("compute instance '{name}' did not answer within 10 s")),
    };
    let _ = stream.set_nodelay(true);
    let (mut sender, link) = match hyper::client::conn::http1::handshake::<_, Body>(TokioIo::new(stream)).await {
        Ok(pair) => pair,
        Err(error) => return bad_gateway(format!("compute instance '{name}' does not answer: {error}")),
    };
    tokio::spawn(async move {
        if let Err(error) = link.with_upgrades().await {
            tracing::debug!(%error, "a connection to a compute instance ended");
        }
    });
    let mut answer = match sender.send_request(forwarded).await {
        Ok(answer) => answer,
        Err(error) => return bad_gateway(format!("compute instance '{name}' did not answer: {error}")),
    };
    if answer.status() == StatusCode::SWITCHING_PROTOCOLS {
        let server_upgrade = hyper::upgrade::on(&mut answer);
        tokio::spawn(async move {
            match tokio::try_join!(client_upgrade, server_upgrade) {
                Ok((client, server)) => {
                    let (mut client, mut server) = (TokioIo::new(client), TokioIo::new(server));
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
                Err(error) => tracing::debug!(%error, "a WebSocket to a compute instance did not open"),
            }
        });
    }
    let (mut parts, incoming) = answer.into_parts();
    for hop in HOP_BY_HOP {
        parts.headers.remove(hop);
    }
    Response::from_parts(parts, Body::new(incoming))
}

//! The router: a scoring request authenticated, sent to a deployment by header or by traffic weight
//! (and copied to the mirror), and answered with Azure ML's status codes.

use crate::*;
use atelier_core::endpoint::{AuthMode, pick_by_weight};
use atelier_service::{ScoringAuth, key_digest};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Why a request got no answer from a model.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("the deployment's worker failed while handling the request: {0}")]
    WorkerFailed(String),
}

impl RouterError {
    /// The error's code in the one table of error codes (`atelier_core::ErrorCode`).
    pub fn code(&self) -> atelier_core::ErrorCode {
        use atelier_core::ErrorCode;
        match self {
            RouterError::Unauthorized(_) => ErrorCode::Unauthenticated,
            RouterError::NotFound(_) => ErrorCode::ResourceDoesNotExist,
            RouterError::TooManyRequests(_) => ErrorCode::RequestLimitExceeded,
            RouterError::Timeout(_) => ErrorCode::RequestTimeout,
            RouterError::Unavailable(_) => ErrorCode::TemporarilyUnavailable,
            RouterError::WorkerFailed(_) => ErrorCode::BadGateway,
        }
    }

    /// The HTTP status, as the table maps the code.
    pub fn status(&self) -> u16 {
        self.code().http_status()
    }
}

/// A scoring request as the HTTP layer hands it over.
pub struct ScoreRequest {
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// The `azureml-model-deployment` header.
    pub deployment: Option<String>,
    pub body: Bytes,
}

/// The answer to a scoring request.
pub struct ScoreResponse {
    pub status: u16,
    pub content_type: String,
    /// Extra headers (the deployment that answered, the model's own status on a 424).
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
    pub request_id: String,
}

impl ScoreResponse {
    pub(crate) fn error(request_id: String, deployment: Option<&str>, error: &RouterError) -> Self {
        let body = serde_json::json!({ "error": { "code": error.status(), "message": error.to_string() } });
        let mut headers = Vec::new();
        if let Some(deployment) = deployment {
            headers.push(("azureml-model-deployment", deployment.to_owned()));
        }
        ScoreResponse {
            status: error.status(),
            content_type: "application/json".to_owned(),
            headers,
            body: Bytes::from(body.to_string()),
            request_id,
        }
    }
}

/// What the router knows of one endpoint.
pub(crate) struct Route {
    pub(crate) name: String,
    pub(crate) traffic: BTreeMap<String, u32>,
    pub(crate) mirror: Option<(String, u32)>,
    pub(crate) auth: ScoringAuth,
    pub(crate) pools: HashMap<String, Arc<Pool>>,
    /// Requests that reached no deployment (401, 404, …).
    pub(crate) metrics: Arc<Metrics>,
}

pub(crate) fn percent_ticket() -> u32 {
    rand::random_range(0..100)
}

pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        404 => "Not Found",
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

impl Serving {
    /// Answers a scoring request to endpoint `name`.
    pub async fn score(&self, name: &str, request: ScoreRequest) -> ScoreResponse {
        let arrived = Instant::now();
        let request_id = uuid::Uuid::new_v4().to_string();
        let route = self.routes.read().ok().and_then(|routes| routes.get(name).cloned());
        let Some(route) = route else {
            let error = RouterError::NotFound(format!("online endpoint '{name}' not found"));
            return ScoreResponse::error(request_id, None, &error);
        };
        if let Err(error) = self.authenticate(&route, request.authorization.as_deref()) {
            route.metrics.record(error.status(), arrived.elapsed());
            return ScoreResponse::error(request_id, None, &error);
        }
        let (pool, live) = match self.choose(&route, request.deployment.as_deref()) {
            Ok(chosen) => chosen,
            Err(error) => {
                route.metrics.record(error.status(), arrived.elapsed());
                return ScoreResponse::error(request_id, None, &error);
            }
        };
        if live
            && let Some((mirror, percent)) = &route.mirror
            && percent_ticket() < *percent
            && let Some(mirror_pool) = route.pools.get(mirror)
        {
            let mirror_pool = mirror_pool.clone();
            let body = request.body.clone();
            let mirror_id = request_id.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                mirror_pool.metrics.mirrored.fetch_add(1, Ordering::Relaxed);
                let status = match mirror_pool.call(&body).await {
                    Ok(answer) => answer.status,
                    Err(error) => error.status(),
                };
                mirror_pool.metrics.record(status, started.elapsed());
                mirror_pool.log_request(&mirror_id, status, started.elapsed(), true, (&body, b""));
            });
        }
        let response = match pool.call(&request.body).await {
            Ok(answer) if answer.status == 200 => ScoreResponse {
                status: 200,
                content_type: answer.content_type,
                headers: vec![("azureml-model-deployment", pool.name.clone())],
                body: answer.body,
                request_id,
            },
            Ok(answer) => ScoreResponse {
                // The model answered with an error: Azure's front end says 424 and passes the
                // model's status and body on.
                status: 424,
                content_type: answer.content_type,
                headers: vec![
                    ("azureml-model-deployment", pool.name.clone()),
                    ("ms-azureml-model-error-statuscode", answer.status.to_string()),
                    ("ms-azureml-model-error-reason", reason_phrase(answer.status).to_owned()),
                ],
                body: answer.body,
                request_id,
            },
            Err(error) => ScoreResponse::error(request_id, Some(&pool.name), &error),
        };
        let latency = arrived.elapsed();
        pool.metrics.record(response.status, latency);
        pool.log_request(&response.request_id, response.status, latency, false, (&request.body, &response.body));
        response
    }

    pub(crate) fn authenticate(&self, route: &Route, authorization: Option<&str>) -> Result<(), RouterError> {
        let Some(header) = authorization else {
            return Err(RouterError::Unauthorized(format!(
                "online endpoint '{}' needs an Authorization header: Bearer <key or token>",
                route.name
            )));
        };
        let credential = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|credential| !credential.is_empty())
            .ok_or_else(|| {
                RouterError::Unauthorized("the Authorization header must be 'Bearer <key or token>'".to_owned())
            })?;
        let valid = match route.auth.mode {
            AuthMode::Key => route.auth.key_digests.contains(&key_digest(credential)),
            AuthMode::AmlToken => self.service.verify_endpoint_token(&route.name, credential),
        };
        if valid {
            Ok(())
        } else {
            Err(RouterError::Unauthorized(match route.auth.mode {
                AuthMode::Key => format!("the key is not a key of online endpoint '{}'", route.name),
                AuthMode::AmlToken => {
                    format!("the token is not a valid, unexpired token of online endpoint '{}'", route.name)
                }
            }))
        }
    }

    /// The pool a request goes to, and whether it is live traffic (which may be mirrored).
    pub(crate) fn choose<'a>(
        &self,
        route: &'a Route,
        header: Option<&str>,
    ) -> Result<(&'a Arc<Pool>, bool), RouterError> {
        if let Some(wanted) = header.map(str::trim).filter(|wanted| !wanted.is_empty()) {
            return route.pools.get(wanted).map(|pool| (pool, false)).ok_or_else(|| {
                let mut names: Vec<&str> = route.pools.keys().map(String::as_str).collect();
                names.sort_unstable();
                RouterError::NotFound(format!(
                    "online endpoint '{}' has no deployment '{wanted}' (named by the azureml-model-deployment header); it has: {}",
                    route.name,
                    if names.is_empty() { "none".to_owned() } else { names.join(", ") }
                ))
            });
        }
        let chosen = pick_by_weight(&route.traffic, percent_ticket()).ok_or_else(|| {
            RouterError::NotFound(format!(
                "online endpoint '{}' sends no traffic to any deployment: set traffic (online-endpoint update --traffic), or name a deployment in the azureml-model-deployment header",
                route.name
            ))
        })?;
        route.pools.get(chosen).map(|pool| (pool, true)).ok_or_else(|| {
            RouterError::NotFound(format!("online endpoint '{}' has no deployment '{chosen}'", route.name))
        })
    }
}

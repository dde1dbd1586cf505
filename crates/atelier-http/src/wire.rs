//! Request plumbing shared by the MLflow and native adapters: the workspace a request addresses,
//! JSON bodies with MLflow's leniencies, query strings with repeated keys, and serde helpers for
//! proto3-JSON numbers (int64 as number or string, doubles as number or `"NaN"`).

use crate::error::ApiError;
use atelier_core::Error;
use atelier_core::names::WorkspaceName;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Request};
use axum::http::Method;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer};
use serde_json::{Map, Value};

/// The workspace a path names. One rule for the MLflow, native and studio routes: a name that
/// is not a valid workspace name names nothing, so it is a 404 like a workspace that does not
/// exist (never a 400, which would tell the two apart).
pub(crate) fn workspace_in_path(name: &str) -> Result<WorkspaceName, Error> {
    WorkspaceName::parse(name).map_err(|_| Error::not_found(format!("workspace '{name}' does not exist")))
}

/// The workspace a request addresses: `/ws/<name>/...` names it, anything else is `default`.
pub(crate) struct Ws(pub WorkspaceName);

impl<S: Send + Sync> FromRequestParts<S> for Ws {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let path = parts
            .extensions
            .get::<OriginalUri>()
            .map(|uri| uri.0.path().to_owned())
            .unwrap_or_else(|| parts.uri.path().to_owned());
        match path.strip_prefix("/ws/") {
            Some(rest) => {
                let name = rest.split('/').next().unwrap_or_default();
                Ok(Ws(workspace_in_path(name)?))
            }
            None => Ok(Ws(WorkspaceName::default_workspace())),
        }
    }
}

fn bad_request(message: String) -> ApiError {
    ApiError(Error::invalid(message))
}

/// Decodes a JSON document into `T`, naming the field that was wrong.
pub(crate) fn from_json_value<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_path_to_error(value)
}

fn serde_path_to_error<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        if path == "." {
            bad_request(format!("invalid request: {}", error.inner()))
        } else {
            bad_request(format!("invalid request: '{path}': {}", error.inner()))
        }
    })
}

/// The most a JSON body may hold: axum's default limit, which every JSON extractor applies.
pub(crate) const BODY_LIMIT_MIB: usize = 2;

/// A JSON request body as MLflow accepts it: an empty body is `{}`, and a body that is itself a
/// JSON-encoded string (sent by old clients) is decoded a second time.
pub(crate) struct MlflowJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for MlflowJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        // As MLflow: a body-carrying request must say it is JSON. This also keeps browsers'
        // cross-site form posts (which cannot send application/json) out.
        if matches!(*request.method(), Method::POST | Method::PUT | Method::PATCH) {
            let content_type =
                request.headers().get(CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or_default();
            let essence = content_type.split(';').next().unwrap_or_default().trim();
            if !essence.eq_ignore_ascii_case("application/json") {
                return Err(bad_request(format!(
                    "bad request: Content-Type must be application/json (got '{content_type}')"
                )));
            }
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|error| {
            if error.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError(atelier_core::Error::new(
                    atelier_core::ErrorCode::PayloadTooLarge,
                    format!("the request body is larger than the {} MiB the API takes", BODY_LIMIT_MIB),
                ))
            } else {
                bad_request(format!("could not read the request body: {error}"))
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(MlflowJson(from_json_value(Value::Object(Map::new()))?));
        }
        // The common case decodes straight into `T`; only a failure looks closer, to accept a
        // body that is itself a JSON-encoded string and to name what is wrong.
        let is_object = bytes.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'{');
        if is_object && let Ok(decoded) = serde_json::from_slice::<T>(&bytes) {
            return Ok(MlflowJson(decoded));
        }
        let mut value: Value = serde_json::from_slice(&bytes)
            .map_err(|error| bad_request(format!("malformed JSON in the request body: {error}")))?;
        if let Value::String(inner) = &value {
            value = serde_json::from_str(inner)
                .map_err(|error| bad_request(format!("malformed JSON in the request body: {error}")))?;
        }
        if !value.is_object() {
            return Err(bad_request("the request body must be a JSON object".to_owned()));
        }
        Ok(MlflowJson(from_json_value(value)?))
    }
}

/// The arguments of an MLflow request wherever its method puts them: the query string of a GET,
/// the JSON body of a POST or PATCH, and for a DELETE the body, or the query string when the
/// body is empty (clients send both forms).
pub(crate) struct MlflowArgs<T>(pub T);

/// The largest request body of an MLflow registry call.
const MAX_ARGS_BODY: usize = 16 * 1024 * 1024;

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for MlflowArgs<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        if parts.method == Method::GET {
            return MultiQuery::from_request_parts(&mut parts, state).await.map(|MultiQuery(args)| MlflowArgs(args));
        }
        let bytes = axum::body::to_bytes(body, MAX_ARGS_BODY)
            .await
            .map_err(|error| bad_request(format!("could not read the request body: {error}")))?;
        if parts.method == Method::DELETE && bytes.iter().all(u8::is_ascii_whitespace) {
            return MultiQuery::from_request_parts(&mut parts, state).await.map(|MultiQuery(args)| MlflowArgs(args));
        }
        let request = Request::from_parts(parts, axum::body::Body::from(bytes));
        MlflowJson::from_request(request, state).await.map(|MlflowJson(args)| MlflowArgs(args))
    }
}

/// A query string decoded into `T`; a key given more than once becomes a list.
pub(crate) struct MultiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for MultiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut object = Map::new();
        for (key, value) in form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()) {
            let key = key.trim_end_matches("[]").to_owned();
            match object.get_mut(&key) {
                Some(Value::Array(items)) => items.push(Value::String(value.into_owned())),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, Value::String(value.into_owned())]);
                }
                None => {
                    object.insert(key, Value::String(value.into_owned()));
                }
            }
        }
        Ok(MultiQuery(from_json_value(Value::Object(object))?))
    }
}

/// An optional int64 given as a JSON number or a decimal string.
pub(crate) fn opt_i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => number
            .as_i64()
            .or_else(|| {
                // A whole float within int64 (as some clients write large integers); anything
                // else is refused rather than rounded or clamped into another value.
                number
                    .as_f64()
                    .filter(|float| float.fract() == 0.0 && *float >= i64::MIN as f64 && *float < i64::MAX as f64)
                    .map(|float| float as i64)
            })
            .map(Some)
            .ok_or_else(|| de::Error::custom(format!("expected an integer within int64, got {number}"))),
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => {
            text.trim().parse().map(Some).map_err(|_| de::Error::custom(format!("expected an integer, got '{text}'")))
        }
        Some(other) => Err(de::Error::custom(format!("expected an integer, got {other}"))),
    }
}

/// An optional double given as a JSON number or a string (`"NaN"`, `"Infinity"`, `"-Infinity"` or
/// a decimal).
pub(crate) fn opt_f64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => {
            number.as_f64().map(Some).ok_or_else(|| de::Error::custom(format!("expected a number, got {number}")))
        }
        Some(Value::String(text)) => match text.as_str() {
            "NaN" | "nan" => Ok(Some(f64::NAN)),
            "Infinity" | "inf" => Ok(Some(f64::INFINITY)),
            "-Infinity" | "-inf" => Ok(Some(f64::NEG_INFINITY)),
            other => other
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| de::Error::custom(format!("expected a number, got '{text}'"))),
        },
        Some(other) => Err(de::Error::custom(format!("expected a number, got {other}"))),
    }
}

/// A list of strings given as a JSON array, a single string, or (in query strings) repeated keys.
pub(crate) fn string_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![text]),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(text) => Ok(text),
                Value::Number(number) => Ok(number.to_string()),
                other => Err(de::Error::custom(format!("expected a string, got {other}"))),
            })
            .collect(),
        Some(Value::Number(number)) => Ok(vec![number.to_string()]),
        Some(other) => Err(de::Error::custom(format!("expected a list of strings, got {other}"))),
    }
}

/// A string that may also arrive as a number (ids in query strings and old clients).
pub(crate) fn opt_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        Some(other) => Err(de::Error::custom(format!("expected a string, got {other}"))),
    }
}

/// A JSON number for a double, with NaN as the string `"NaN"` (JSON has no NaN literal).
pub(crate) fn double_json(value: f64) -> Value {
    if value.is_nan() {
        Value::String("NaN".to_owned())
    } else if value.is_infinite() {
        Value::String(if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned())
    } else {
        serde_json::Number::from_f64(value).map(Value::Number).unwrap_or(Value::Null)
    }
}

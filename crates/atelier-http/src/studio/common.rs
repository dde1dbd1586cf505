//! What every studio page shares: the error page, breadcrumbs, times, numbers, and stored files as
//! responses.

use super::session::{Browser, Crumb, Layout, render};
use askama::Template;
use atelier_core::time::format_utc;
use atelier_core::{Error, ErrorCode};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;

#[derive(Template)]
#[template(path = "error.html")]
pub(super) struct ErrorPage {
    layout: Layout,
    heading: String,
    message: String,
}

/// Shows an error as a page with the status its code maps to.
pub(super) fn error_page(browser: &Browser, error: Error) -> Response {
    let status = StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let heading = match error.code {
        ErrorCode::ResourceDoesNotExist => "Not found",
        ErrorCode::PermissionDenied => "Not allowed",
        _ => "Something went wrong",
    };
    render(
        ErrorPage {
            layout: Layout::for_browser(browser, Vec::new()),
            heading: heading.to_owned(),
            message: error.message,
        },
        status,
    )
}

/// The context a run's dataset input was logged with (`training`, `evaluation`…), if any.
pub(super) fn dataset_context(input: &atelier_core::model::DatasetInput) -> String {
    input.tags.iter().find(|tag| tag.key == "mlflow.data.context").map(|tag| tag.value.clone()).unwrap_or_default()
}

pub(super) fn crumb(label: impl Into<String>, href: impl Into<String>) -> Crumb {
    Crumb { label: label.into(), href: href.into() }
}

pub(super) fn when(millis: Option<i64>) -> String {
    millis.map(format_utc).unwrap_or_default()
}

/// A compact, exact-enough rendering of a metric value for tables.
pub(super) fn metric_text(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value != 0.0 && (value.abs() >= 1e6 || value.abs() < 1e-4) {
        format!("{value:.4e}")
    } else {
        let text = format!("{value:.6}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// A stored file as a response: shown inline only when `inline_type` names a known image type,
/// a download otherwise, so that nothing a user uploaded runs as a page of this site.
pub(super) fn file_response(
    download: atelier_blob::Download,
    path: &str,
    inline_type: Option<&'static str>,
) -> Response {
    let file_name = path.rsplit('/').next().unwrap_or("file").replace('"', "");
    let body = axum::body::Body::from_stream(download.stream.map_err(std::io::Error::other));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(download.size));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let (content_type, disposition) = match inline_type {
        Some(image_type) => (image_type, "inline"),
        None => ("application/octet-stream", "attachment"),
    };
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!("{disposition}; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

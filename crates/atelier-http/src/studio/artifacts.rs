//! A run's artifacts: previews, one file, and a folder as a tar stream.

use super::common::*;
use super::session::Browser;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// The most bytes of an artifact a preview reads.
pub(super) const PREVIEW_BYTES: usize = 256 * 1024;
/// The most rows of a CSV preview.
pub(super) const PREVIEW_ROWS: usize = 50;

/// What the run page shows of one artifact file.
pub(super) struct PreviewView {
    pub(super) path: String,
    pub(super) kind: &'static str,
    pub(super) text: String,
    pub(super) header: Vec<String>,
    pub(super) rows: Vec<Vec<String>>,
    pub(super) image_src: String,
    pub(super) note: String,
}

pub(super) fn extension(path: &str) -> String {
    path.rsplit('/')
        .next()
        .and_then(|name| name.rsplit_once('.'))
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Image types shown inline; anything else (SVG included, which can carry scripts) downloads.
pub(super) fn inline_image_type(path: &str) -> Option<&'static str> {
    match extension(path).as_str() {
        "png" => Some("image/png"),
        "jpg" | "jpeg" => Some("image/jpeg"),
        "gif" => Some("image/gif"),
        "webp" => Some("image/webp"),
        _ => None,
    }
}

/// Splits CSV text into rows of fields, honouring double-quoted fields (with `""` for a quote).
pub(super) fn parse_csv(text: &str, separator: char, max_rows: usize) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => quoted = false,
                other => field.push(other),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                if rows.len() > max_rows {
                    return rows;
                }
            }
            c if c == separator => row.push(std::mem::take(&mut field)),
            other => field.push(other),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

pub(super) fn preview_of(workspace: &str, run_id: &str, path: &str, bytes: Vec<u8>, size: u64) -> PreviewView {
    let mut view = PreviewView {
        path: path.to_owned(),
        kind: "none",
        text: String::new(),
        header: Vec::new(),
        rows: Vec::new(),
        image_src: String::new(),
        note: String::new(),
    };
    let truncated = (bytes.len() as u64) < size;
    if inline_image_type(path).is_some() {
        view.kind = "image";
        view.image_src = format!("/w/{workspace}/runs/{run_id}/artifacts/{path}?inline=1");
        return view;
    }
    let Ok(text) = String::from_utf8(bytes) else {
        view.note = "no preview: this file is not text".to_owned();
        return view;
    };
    if truncated {
        view.note = format!("showing the first {} KiB of {} bytes", PREVIEW_BYTES / 1024, size);
    }
    match extension(path).as_str() {
        "csv" | "tsv" => {
            let separator = if extension(path) == "tsv" { '\t' } else { ',' };
            let mut rows = parse_csv(&text, separator, PREVIEW_ROWS);
            if !rows.is_empty() {
                view.kind = "table";
                view.header = rows.remove(0);
                rows.truncate(PREVIEW_ROWS);
                view.rows = rows;
                return view;
            }
        }
        "json" if !truncated => {
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) {
                view.kind = "text";
                view.text = serde_json::to_string_pretty(&value).unwrap_or(text);
                return view;
            }
        }
        _ => {}
    }
    view.kind = "text";
    view.text = text;
    view
}

/// Downloads one artifact file of a run, for the signed-in browser.
#[derive(Deserialize, Default)]
pub(crate) struct ArtifactQuery {
    #[serde(default)]
    inline: Option<String>,
}

pub(crate) async fn artifact(
    State(state): State<AppState>,
    browser: Browser,
    Path((ws, run_id, path)): Path<(String, String, String)>,
    Query(query): Query<ArtifactQuery>,
) -> Response {
    let principal = &browser.session.principal;
    let result = async {
        let workspace = crate::wire::workspace_in_path(&ws)?;
        state.service.open_run_artifact(principal, &workspace, &run_id, &path).await
    }
    .await;
    match result {
        // Only known image types are shown inline; everything else is a download.
        Ok(download) => file_response(download, &path, query.inline.as_ref().and(inline_image_type(&path))),
        Err(error) => error_page(&browser, error),
    }
}

// Folder downloads: a tar stream written as the files are read (by the service).

#[derive(Deserialize, Default)]
pub(crate) struct FolderQuery {
    #[serde(default)]
    path: String,
}

/// Downloads a folder of a run's artifacts (the whole run with an empty path) as a tar file.
pub(crate) async fn folder_download(
    State(state): State<AppState>,
    browser: Browser,
    Path((ws, run_id)): Path<(String, String)>,
    Query(query): Query<FolderQuery>,
) -> Response {
    let principal = &browser.session.principal;
    let archive = async {
        let workspace = crate::wire::workspace_in_path(&ws)?;
        state.service.run_artifact_archive(principal, &workspace, &run_id, &query.path).await
    }
    .await;
    let archive = match archive {
        Ok(archive) => archive,
        Err(error) => return error_page(&browser, error),
    };
    let mut response = axum::body::Body::from_stream(archive.stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-tar"));
    let file_name = archive.name.replace(['"', '/', '\\'], "_");
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}.tar\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_keep_quoted_commas_and_quotes() {
        let rows = parse_csv("a,b\n\"x, y\",\"say \"\"hi\"\"\"\r\n3,4", ',', 10);
        assert_eq!(rows, vec![vec!["a", "b"], vec!["x, y", "say \"hi\""], vec!["3", "4"]]);
        assert_eq!(parse_csv("1\n2\n3\n4\n", ',', 2).len(), 3, "reading stops after the header and max rows");
    }

    #[test]
    fn previews_by_kind() {
        let json = preview_of("ws", "r", "dir/config.json", br#"{"a":1}"#.to_vec(), 7);
        assert_eq!((json.kind, json.text.contains("\"a\": 1")), ("text", true));
        let table = preview_of("ws", "r", "m.csv", b"step,loss\n0,1.5\n".to_vec(), 16);
        assert_eq!(
            (table.kind, table.header.clone(), table.rows.len()),
            ("table", vec!["step".to_owned(), "loss".to_owned()], 1)
        );
        let image = preview_of("ws", "r", "plots/roc.png", vec![0x89, b'P'], 2);
        assert_eq!((image.kind, image.image_src.as_str()), ("image", "/w/ws/runs/r/artifacts/plots/roc.png?inline=1"));
        let binary = preview_of("ws", "r", "model.bin", vec![0xff, 0xfe, 0x00], 3);
        assert_eq!(binary.kind, "none");
        let svg = preview_of("ws", "r", "chart.svg", b"<svg/>".to_vec(), 6);
        assert_eq!(svg.kind, "text", "SVG is shown as text, never rendered inline");
        let cut = preview_of("ws", "r", "log.txt", b"abc".to_vec(), 1_000_000);
        assert!(cut.note.contains("first"), "{}", cut.note);
    }
}

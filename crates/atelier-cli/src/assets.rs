//! What the asset commands (`model`, `data`, `environment`, `datastore`) share: which version a
//! command means, YAML scalars, `--set` assignments, the files of a local folder, and printing.

use crate::OutputFormat;
use anyhow::{Context, bail};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Which version: `--version V`, `--label latest`, or (models) `--label @alias`.
#[derive(clap::Args, Clone, Debug)]
pub struct Which {
    #[arg(short = 'v', long, conflicts_with = "label")]
    version: Option<String>,
    /// `latest` (the newest version that is not archived), or for models `@<alias>`.
    #[arg(short = 'l', long)]
    label: Option<String>,
}

impl Which {
    /// The version reference for the API; `aliases` says whether `@alias` labels are allowed.
    pub fn reference(&self, aliases: bool) -> anyhow::Result<String> {
        match (&self.version, &self.label) {
            (Some(version), _) => Ok(version.clone()),
            (None, Some(label)) if label == "latest" || (aliases && label.starts_with('@')) => Ok(label.clone()),
            (None, Some(label)) if aliases => bail!("--label must be 'latest' or '@<alias>', not '{label}'"),
            (None, Some(label)) => bail!("--label must be 'latest', not '{label}'"),
            (None, None) => bail!("say which version: --version V or --label latest"),
        }
    }
}

/// A YAML scalar read as text: `version: 3` and `version: "3"` mean the same.
#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub enum Scalar {
    Text(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    pub fn text(&self) -> String {
        match self {
            Scalar::Text(text) => text.clone(),
            Scalar::Integer(number) => number.to_string(),
            Scalar::Float(number) => number.to_string(),
            Scalar::Bool(flag) => flag.to_string(),
        }
    }
}

/// Splits `FIELD=VALUE`.
pub fn assignment(text: &str) -> anyhow::Result<(&str, &str)> {
    text.split_once('=').filter(|(field, _)| !field.is_empty()).with_context(|| {
        format!("'--set {text}' must be FIELD=VALUE, e.g. description=\"better model\" or tags.team=risk")
    })
}

/// The files under a local folder (or the file itself), as (path relative to the folder's
/// parent, so that the folder keeps its name; local path).
pub fn local_files(root: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let base = root.file_name().map(|name| name.to_string_lossy().into_owned()).context("the path has no name")?;
    if root.is_file() {
        return Ok(vec![(base, root.to_path_buf())]);
    }
    let mut files = Vec::new();
    let mut pending = vec![(base, root.to_path_buf())];
    while let Some((relative, folder)) = pending.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&folder)
            .with_context(|| format!("cannot read {}", folder.display()))?
            .collect::<Result<_, _>>()
            .with_context(|| format!("cannot read {}", folder.display()))?;
        entries.sort_by_key(|entry| entry.file_name());
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            let kind = entry.file_type().with_context(|| format!("cannot read {}", entry.path().display()))?;
            if kind.is_dir() {
                pending.push((format!("{relative}/{name}"), entry.path()));
            } else if kind.is_file() {
                files.push((format!("{relative}/{name}"), entry.path()));
            }
        }
    }
    if files.is_empty() {
        bail!("{} has no files to register", root.display());
    }
    Ok(files)
}

/// A JSON value as table text.
pub fn text_of(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Prints `fields` of an object as a two-column table, or the whole object as JSON.
pub fn print_fields(value: &Value, fields: &[&str], output: OutputFormat) -> anyhow::Result<()> {
    if output == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(value)?);
        return Ok(());
    }
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    for field in fields {
        table.add_row(vec![(*field).to_owned(), text_of(value.get(*field))]);
    }
    println!("{table}");
    Ok(())
}

/// Prints a list of objects as a table of `columns`, or as JSON.
pub fn print_rows(rows: &[Value], columns: &[&str], output: OutputFormat) -> anyhow::Result<()> {
    if output == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(rows)?);
        return Ok(());
    }
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED).set_header(columns.to_vec());
    for row in rows {
        table.add_row(columns.iter().map(|column| text_of(row.get(*column))).collect::<Vec<_>>());
    }
    println!("{table}");
    Ok(())
}

//! Data assets and datastore URIs, as Azure ML defines them: a data asset is a named, versioned
//! pointer (`uri_file`, `uri_folder` or `mltable`) to data on a datastore.

use crate::model::Millis;
use crate::names::WorkspaceName;
use crate::{Error, Result};
use std::collections::BTreeMap;

/// The datastore every workspace has: the server's own blob store.
pub const DEFAULT_DATASTORE: &str = "workspaceblobstore";

/// The kinds of data asset.
pub const DATA_TYPES: [&str; 3] = ["uri_file", "uri_folder", "mltable"];

/// A versioned pointer to data.
#[derive(Debug, Clone, PartialEq)]
pub struct DataAsset {
    pub workspace: WorkspaceName,
    pub name: String,
    pub version: String,
    /// One of [`DATA_TYPES`].
    pub data_type: String,
    /// Where the data is: `azureml://datastores/<datastore>/paths/<path>`, or an `https`,
    /// `wasbs`, `abfss` or `s3` URI the server only records.
    pub path: String,
    pub description: String,
    pub tags: BTreeMap<String, String>,
    pub properties: BTreeMap<String, String>,
    /// For an `mltable`: the `paths` its MLTable file lists, each as `(file|folder|pattern, value)`.
    pub mltable_paths: Vec<(String, String)>,
    pub archived: bool,
    pub created_by: String,
    pub creation_time: Millis,
    pub last_updated_time: Millis,
}

/// A named datastore: where a workspace's data lives outside the server's own store. Its
/// credentials are not here: the store keeps them encrypted and no API returns them.
#[derive(Debug, Clone, PartialEq)]
pub struct Datastore {
    pub workspace: WorkspaceName,
    pub name: String,
    /// One of [`DATASTORE_TYPES`].
    pub kind: String,
    pub description: String,
    pub tags: BTreeMap<String, String>,
    /// The non-secret settings of its kind (account, container, bucket, endpoint, …).
    pub settings: BTreeMap<String, String>,
    /// Which kind of credentials it holds (`account_key`, `sas_token`, `access_key`,
    /// `service_account_key`), if any.
    pub credential_kind: Option<String>,
    pub created_by: String,
    pub creation_time: Millis,
}

/// The kinds of named datastore: Azure ML's `azure_blob`, and `s3` (also S3-compatible servers
/// by endpoint), `gcs` and `local` (a folder on the server).
pub const DATASTORE_TYPES: [&str; 4] = ["azure_blob", "s3", "gcs", "local"];

/// Checks a data type.
pub fn parse_data_type(text: &str) -> Result<&'static str> {
    DATA_TYPES
        .into_iter()
        .find(|kind| *kind == text)
        .ok_or_else(|| Error::invalid(format!("invalid data type '{text}': expected one of {}", DATA_TYPES.join(", "))))
}

fn is_asset_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// Checks an asset's name: 1 to 255 letters, digits, `-`, `_` or `.`, starting with a letter or
/// a digit.
pub fn validate_asset_name(kind: &str, name: &str) -> Result<()> {
    let starts_well = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !starts_well || name.len() > 255 || !name.chars().all(is_asset_char) {
        return Err(Error::invalid(format!(
            "invalid {kind} name '{name}': use 1 to 255 letters, digits, '-', '_' or '.', starting with a letter or digit"
        )));
    }
    Ok(())
}

/// Checks an asset's version: 1 to 64 letters, digits, `-`, `_` or `.`; `latest` is a label.
pub fn validate_asset_version(version: &str) -> Result<()> {
    if version.is_empty() || version.len() > 64 || !version.chars().all(is_asset_char) {
        return Err(Error::invalid(format!(
            "invalid version '{version}': use 1 to 64 letters, digits, '-', '_' or '.'"
        )));
    }
    if version.eq_ignore_ascii_case("latest") {
        return Err(Error::invalid("'latest' is a label, not a version: it always means the newest version"));
    }
    Ok(())
}

/// The datastore and the path inside it of `azureml://datastores/<datastore>/paths/<path>`;
/// `None` for any other URI. The path is returned as written (callers normalise it).
pub fn parse_datastore_uri(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("azureml://datastores/")?;
    let (datastore, rest) = rest.split_once('/')?;
    let path = rest.strip_prefix("paths/").or_else(|| (rest == "paths").then_some(""))?;
    (!datastore.is_empty()).then_some((datastore, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datastore_uris() {
        assert_eq!(
            parse_datastore_uri("azureml://datastores/workspaceblobstore/paths/example-data/titanic.csv"),
            Some(("workspaceblobstore", "example-data/titanic.csv"))
        );
        assert_eq!(parse_datastore_uri("azureml://datastores/raw/paths/"), Some(("raw", "")));
        assert_eq!(parse_datastore_uri("azureml://datastores/raw/elsewhere/x"), None);
        assert_eq!(parse_datastore_uri("azureml://jobs/x/outputs/y"), None);
        assert_eq!(parse_datastore_uri("https://example.com/x.csv"), None);
    }

    #[test]
    fn names_versions_and_types() {
        assert!(validate_asset_name("data", "titanic.v2_raw-1").is_ok());
        assert!(validate_asset_name("data", "-x").is_err());
        assert!(validate_asset_name("data", "a/b").is_err());
        assert!(validate_asset_version("2024.01.31").is_ok());
        assert!(validate_asset_version("latest").is_err());
        assert!(validate_asset_version("").is_err());
        assert_eq!(parse_data_type("mltable").unwrap(), "mltable");
        assert!(parse_data_type("table").unwrap_err().message.contains("uri_folder"));
    }
}

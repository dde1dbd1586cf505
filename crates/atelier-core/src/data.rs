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

/// Checks a datastore setting that becomes part of a URL or a host name against its real
/// grammar, so that a value such as `x@127.0.0.1:18499/#` cannot steer where the server
/// connects. `field` is the YAML field (`bucket`, `region`, `account_name`, `container_name`,
/// `endpoint`); `kind` the datastore type. Fields that are no part of an address pass.
pub fn validate_datastore_setting(kind: &str, field: &str, value: &str) -> Result<()> {
    let lower_digit = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ends_well =
        |text: &str| text.chars().next().is_some_and(lower_digit) && text.chars().last().is_some_and(lower_digit);
    let (valid, expected) = match (kind, field) {
        ("s3", "bucket") => (
            (3..=63).contains(&value.len())
                && ends_well(value)
                && value.chars().all(|c| lower_digit(c) || matches!(c, '-' | '.'))
                && !value.contains(".."),
            "3 to 63 lowercase letters, digits, '-' or '.', starting and ending with a letter or digit",
        ),
        ("gcs", "bucket") => (
            (3..=222).contains(&value.len())
                && ends_well(value)
                && value.chars().all(|c| lower_digit(c) || matches!(c, '-' | '_' | '.'))
                && value.split('.').all(|part| !part.is_empty() && part.len() <= 63),
            "3 to 63 lowercase letters, digits, '-', '_' or '.' (dotted names up to 222), starting and ending with a letter or digit",
        ),
        ("s3", "region") => (
            (1..=64).contains(&value.len())
                && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')),
            "a region name such as 'us-east-1': letters, digits, '-' or '_'",
        ),
        ("azure_blob", "account_name") => {
            ((3..=24).contains(&value.len()) && value.chars().all(lower_digit), "3 to 24 lowercase letters and digits")
        }
        ("azure_blob", "container_name") => (
            matches!(value, "$root" | "$web")
                || ((3..=63).contains(&value.len())
                    && ends_well(value)
                    && value.chars().all(|c| lower_digit(c) || c == '-')
                    && !value.contains("--")),
            "3 to 63 lowercase letters, digits or single '-', starting and ending with a letter or digit",
        ),
        ("azure_blob", "endpoint") if !value.starts_with("http://") && !value.starts_with("https://") => (
            value.len() <= 253
                && value.split('.').count() >= 2
                && value.split('.').all(|label| {
                    (1..=63).contains(&label.len())
                        && ends_well(label)
                        && label.chars().all(|c| lower_digit(c) || c == '-')
                }),
            "a storage endpoint suffix such as 'core.windows.net', or a full https:// URL",
        ),
        _ => (true, ""),
    };
    if valid {
        Ok(())
    } else {
        Err(Error::invalid(format!("invalid {field} '{value}' for a {kind} datastore: expected {expected}")))
    }
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

    /// The injections that once steered the server's connections, and the names that are real.
    #[test]
    fn datastore_url_injection_is_refused() {
        let refused = [
            ("s3", "region", "x@127.0.0.1:18499/#"),
            ("s3", "region", "us-east-1.evil.example"),
            ("s3", "bucket", "b@127.0.0.1:18499"),
            ("s3", "bucket", "bucket/../other"),
            ("azure_blob", "account_name", "a@127.0.0.1:18499#"),
            ("azure_blob", "account_name", "acct.evil.example"),
            ("azure_blob", "container_name", "c?comp=list"),
            ("azure_blob", "container_name", "c/../d"),
            ("azure_blob", "endpoint", "evil.example:18499/#"),
            ("azure_blob", "endpoint", "x@127.0.0.1"),
            ("gcs", "bucket", "b#frag"),
        ];
        for (kind, field, value) in refused {
            let error = validate_datastore_setting(kind, field, value).unwrap_err();
            assert!(
                error.message.contains(field) && error.message.contains("expected"),
                "{kind} {field} {value}: {error}"
            );
        }
        let accepted = [
            ("s3", "region", "us-east-1"),
            ("s3", "region", "garage"),
            ("s3", "bucket", "my.data-bucket1"),
            ("azure_blob", "account_name", "devstoreaccount1"),
            ("azure_blob", "container_name", "training-data"),
            ("azure_blob", "container_name", "$root"),
            ("azure_blob", "endpoint", "core.windows.net"),
            ("azure_blob", "endpoint", "http://127.0.0.1:10000/devstoreaccount1"),
            ("gcs", "bucket", "my_bucket"),
            ("s3", "endpoint_url", "http://127.0.0.1:9000"),
        ];
        for (kind, field, value) in accepted {
            assert!(validate_datastore_setting(kind, field, value).is_ok(), "{kind} {field} {value}");
        }
    }

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

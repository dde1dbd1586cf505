//! Datastore YAML: Azure ML's `azure_blob` and Atelier's own kinds (`s3`, `gcs`, `local`).
//!
//! The file holds the fields of every kind; which ones a kind takes, and whether its
//! credentials work, the server decides when it registers the datastore.

use crate::SpecError;
use atelier_core::data::{self, DATASTORE_TYPES};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawDatastore {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    name: Spanned<String>,
    #[serde(rename = "type")]
    kind: Spanned<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    // azure_blob
    #[serde(default)]
    account_name: Option<String>,
    #[serde(default)]
    container_name: Option<String>,
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    protocol: Option<String>,
    // s3, gcs
    #[serde(default)]
    bucket: Option<String>,
    #[serde(default)]
    endpoint_url: Option<String>,
    #[serde(default)]
    region: Option<String>,
    // local
    #[serde(default)]
    path: Option<Spanned<String>>,
    #[serde(default)]
    credentials: BTreeMap<String, String>,
}

/// A datastore file, checked; also what the service registers a datastore from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatastoreSpec {
    pub name: String,
    /// One of [`DATASTORE_TYPES`].
    pub kind: String,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// The non-secret fields the file gives (`account_name`, `bucket`, `path`, …).
    pub settings: BTreeMap<String, String>,
    /// The `credentials` block.
    pub credentials: BTreeMap<String, String>,
}

/// Reads and checks a datastore file: a valid name, a known type, and for a `local` datastore
/// an absolute folder.
pub fn parse_datastore(text: &str) -> Result<DatastoreSpec, SpecError> {
    let raw: RawDatastore = serde_saphyr::from_str(text).map_err(|error| SpecError::from_yaml(error, "datastore"))?;
    data::validate_asset_name("datastore", &raw.name.value)
        .map_err(|error| SpecError::new("name", raw.name.referenced.line(), error.message))?;
    let kind = raw.kind.value;
    if !DATASTORE_TYPES.contains(&kind.as_str()) {
        return Err(SpecError::new(
            "type",
            raw.kind.referenced.line(),
            format!("invalid datastore type '{kind}': expected one of {}", DATASTORE_TYPES.join(", ")),
        ));
    }
    if kind == "local"
        && let Some(path) = raw.path.as_ref().filter(|path| !std::path::Path::new(&path.value).is_absolute())
    {
        return Err(SpecError::new(
            "path",
            path.referenced.line(),
            format!("a local datastore's path must be an absolute folder on the server, got '{}'", path.value),
        ));
    }
    let settings = [
        ("account_name", raw.account_name),
        ("container_name", raw.container_name),
        ("endpoint", raw.endpoint),
        ("protocol", raw.protocol),
        ("bucket", raw.bucket),
        ("endpoint_url", raw.endpoint_url),
        ("region", raw.region),
        ("path", raw.path.map(|path| path.value)),
    ]
    .into_iter()
    .filter_map(|(key, value)| Some((key.to_owned(), value?)))
    .collect();
    Ok(DatastoreSpec {
        name: raw.name.value,
        kind,
        description: raw.description,
        tags: raw.tags,
        settings,
        credentials: raw.credentials,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datastore_file_reads() {
        let text = "$schema: https://azuremlschemas.azureedge.net/latest/azureBlob.schema.json\nname: blobs\n\
                    type: azure_blob\naccount_name: acct\ncontainer_name: data\ncredentials:\n  account_key: secret\n";
        let spec = parse_datastore(text).unwrap();
        assert_eq!(spec.kind, "azure_blob");
        assert_eq!(spec.settings.keys().collect::<Vec<_>>(), ["account_name", "container_name"]);
        assert_eq!(spec.credentials["account_key"], "secret");
    }

    #[test]
    fn datastore_mistakes_name_the_field_and_line() {
        let cases = [
            ("name: s\ntype: s3\nbuckets: x\n", "datastore", 3, "buckets"),
            ("name: s\ntype: ftp\n", "type", 2, "azure_blob, s3, gcs, local"),
            ("name: s\ntype: local\npath: data\n", "path", 3, "absolute"),
            ("name: -s\ntype: s3\n", "name", 1, "invalid datastore name"),
            ("name: s\n", "datastore", 1, "type"),
        ];
        crate::assert_mistakes(parse_datastore, &cases);
    }
}

//! Azure ML's versioned-asset YAML: models and data (one schema with the kind's differences),
//! environments, and the conda files environments name.
//!
//! A model or data file may leave out what the CLI's flags give (`--name`, `--path`, `--set`):
//! [`parse_model`] and [`parse_data`] check the fields the file has, [`AssetSpec::set`] applies a
//! flag, and [`AssetSpec::check`] checks the whole, so that a mistake is found before anything
//! is uploaded. The server reads the same text with the same functions.

use crate::{Scalar, SpecError};
use atelier_core::asset::AssetKind;
use atelier_core::environment::{CondaDependency, EnvironmentSpec, spec_from_conda};
use atelier_core::{data, registry};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

/// A model or data file as written. `stage` and `flavors` are models' only.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawAsset {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    #[serde(default)]
    name: Option<Spanned<String>>,
    #[serde(default)]
    version: Option<Spanned<Scalar>>,
    #[serde(rename = "type", default)]
    kind: Option<Spanned<String>>,
    #[serde(default)]
    path: Option<Spanned<String>>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, Scalar>,
    #[serde(default)]
    properties: BTreeMap<String, Scalar>,
    #[serde(default)]
    stage: Option<Spanned<String>>,
    /// MLflow flavors: accepted (Azure fills them from MLmodel) and not stored.
    #[serde(default)]
    flavors: Option<Spanned<serde_json::Value>>,
}

/// A model or data asset file (Azure ML's model and data schemas), or the flags that stand for
/// one.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetSpec {
    /// [`AssetKind::Model`] or [`AssetKind::Data`].
    pub kind: AssetKind,
    pub name: Option<String>,
    /// A model's is a whole number from 1; `None` takes the next one.
    pub version: Option<String>,
    /// `type`: `custom_model`, `mlflow_model`, `triton_model`; `uri_file`, `uri_folder`, `mltable`.
    pub asset_type: Option<String>,
    /// A local file or folder (uploaded by the CLI), or a URI.
    pub path: Option<String>,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub properties: BTreeMap<String, String>,
    /// Models only: the stage to put the new version in.
    pub stage: Option<String>,
    /// The line of each field the file gave.
    lines: BTreeMap<String, u64>,
}

/// The URI schemes a model's `path` may have; anything else is a local path.
const MODEL_URI_PREFIXES: [&str; 10] = [
    "runs:/",
    "models:/",
    "mlflow-artifacts:",
    "azureml:",
    "s3://",
    "gs://",
    "az://",
    "https://",
    "wasbs://",
    "abfss://",
];

fn scalars(map: BTreeMap<String, Scalar>) -> BTreeMap<String, String> {
    map.into_iter().map(|(key, value)| (key, value.text())).collect()
}

/// Reads and checks a model file; `name` and `path` may be left to flags ([`AssetSpec::check`]).
pub fn parse_model(text: &str) -> Result<AssetSpec, SpecError> {
    parse_asset(AssetKind::Model, text)
}

/// Reads and checks a data file; `name` and `path` may be left to flags ([`AssetSpec::check`]).
pub fn parse_data(text: &str) -> Result<AssetSpec, SpecError> {
    parse_asset(AssetKind::Data, text)
}

fn parse_asset(kind: AssetKind, text: &str) -> Result<AssetSpec, SpecError> {
    let what = if kind == AssetKind::Model { "model" } else { "data" };
    let raw: RawAsset = serde_saphyr::from_str(text).map_err(|error| SpecError::from_yaml(error, what))?;
    if kind != AssetKind::Model {
        let model_only = [
            ("stage", raw.stage.as_ref().map(|stage| stage.referenced.line())),
            ("flavors", raw.flavors.as_ref().map(|flavors| flavors.referenced.line())),
        ];
        if let Some((field, Some(line))) = model_only.into_iter().find(|(_, line)| line.is_some()) {
            return Err(SpecError::new(
                field,
                line,
                format!(
                    "unknown field '{field}': a data asset has $schema, name, version, type, path, description, tags and properties"
                ),
            ));
        }
    }
    let mut spec = AssetSpec::new(kind);
    let mut take = |field: &str, value: Option<(String, u64)>| {
        value.map(|(text, line)| {
            spec.lines.insert(field.to_owned(), line);
            text
        })
    };
    let spanned = |value: Option<Spanned<String>>| value.map(|value| (value.value, value.referenced.line()));
    let name = take("name", spanned(raw.name));
    let version = take("version", raw.version.map(|value| (value.value.text(), value.referenced.line())));
    let asset_type = take("type", spanned(raw.kind));
    let path = take("path", spanned(raw.path));
    let stage = take("stage", spanned(raw.stage));
    let spec = AssetSpec {
        name,
        version,
        asset_type,
        path,
        stage,
        description: raw.description,
        tags: scalars(raw.tags),
        properties: scalars(raw.properties),
        ..spec
    };
    spec.check_values()?;
    Ok(spec)
}

impl AssetSpec {
    /// An empty spec, for flags without a file.
    pub fn new(kind: AssetKind) -> Self {
        AssetSpec {
            kind,
            name: None,
            version: None,
            asset_type: None,
            path: None,
            description: None,
            tags: BTreeMap::new(),
            properties: BTreeMap::new(),
            stage: None,
            lines: BTreeMap::new(),
        }
    }

    /// The line a field is on in the file, 0 when a flag gave it or it is missing.
    pub fn line_of(&self, field: &str) -> u64 {
        self.lines.get(field).copied().unwrap_or(0)
    }

    /// The fields [`AssetSpec::set`] takes.
    pub fn fields(&self) -> &'static str {
        if self.kind == AssetKind::Model {
            "name, version, path, type, description, stage, tags.KEY or properties.KEY"
        } else {
            "name, version, path, type, description, tags.KEY or properties.KEY"
        }
    }

    /// Sets one field, as a flag or `--set FIELD=VALUE` gives it (they win over the file).
    pub fn set(&mut self, field: &str, value: &str) -> Result<(), SpecError> {
        let value = value.to_owned();
        self.lines.remove(field);
        match field {
            "name" => self.name = Some(value),
            "version" => self.version = Some(value),
            "path" => self.path = Some(value),
            "type" => self.asset_type = Some(value),
            "description" => self.description = Some(value),
            "stage" if self.kind == AssetKind::Model => self.stage = Some(value),
            other => match other.split_once('.') {
                Some(("tags", key)) if !key.is_empty() => {
                    self.tags.insert(key.to_owned(), value);
                }
                Some(("properties", key)) if !key.is_empty() => {
                    self.properties.insert(key.to_owned(), value);
                }
                _ => {
                    return Err(SpecError::new(
                        other,
                        0,
                        format!("unknown field '{other}': expected {}", self.fields()),
                    ));
                }
            },
        }
        Ok(())
    }

    /// Checks the whole: a name and a path, and every value.
    pub fn check(&self) -> Result<(), SpecError> {
        let noun = self.kind.noun();
        if self.name.is_none() {
            return Err(SpecError::new("name", 0, format!("a {noun} needs a 'name'")));
        }
        if self.path.is_none() {
            let expected = if self.kind == AssetKind::Model {
                "a local file or folder, runs:/…, models:/…, azureml://datastores/… or azureml://jobs/…"
            } else {
                "a local file or folder, or azureml://datastores/…"
            };
            return Err(SpecError::new("path", 0, format!("a {noun} needs a 'path': {expected}")));
        }
        self.check_values()
    }

    /// The version as a model's number; `None` when there is none or it is not a number.
    pub fn version_number(&self) -> Option<i64> {
        self.version.as_deref().and_then(|text| text.trim().parse().ok())
    }

    /// The spec as a file that [`parse_model`] or [`parse_data`] reads back to the same spec:
    /// JSON (which is YAML) with every value as text. The CLI sends it instead of the file when
    /// flags or `--set` changed what the file says.
    pub fn to_yaml(&self) -> String {
        use serde_json::Value;
        let mut document = serde_json::Map::new();
        let texts = [
            ("name", &self.name),
            ("version", &self.version),
            ("type", &self.asset_type),
            ("path", &self.path),
            ("description", &self.description),
            ("stage", &self.stage),
        ];
        for (field, value) in texts {
            if let Some(value) = value {
                document.insert(field.to_owned(), Value::String(value.clone()));
            }
        }
        for (field, map) in [("tags", &self.tags), ("properties", &self.properties)] {
            if !map.is_empty() {
                let map = map.iter().map(|(key, value)| (key.clone(), Value::String(value.clone())));
                document.insert(field.to_owned(), Value::Object(map.collect()));
            }
        }
        format!("{:#}\n", Value::Object(document))
    }

    /// The local file or folder `path` names, if it names one rather than a URI.
    pub fn local_path(&self) -> Option<&str> {
        let path = self.path.as_deref()?;
        let is_uri = match self.kind {
            AssetKind::Model => MODEL_URI_PREFIXES.iter().any(|prefix| path.starts_with(prefix)),
            _ => path.contains("://"),
        };
        (!is_uri).then_some(path)
    }

    /// Checks the values that are there.
    fn check_values(&self) -> Result<(), SpecError> {
        let at = |field: &str, message: String| SpecError::new(field, self.line_of(field), message);
        let model = self.kind == AssetKind::Model;
        if let Some(name) = &self.name {
            let checked =
                if model { registry::validate_model_name(name) } else { data::validate_asset_name("data", name) };
            checked.map_err(|error| at("name", error.message))?;
        }
        if let Some(version) = &self.version {
            if model {
                if self.version_number().is_none_or(|number| number < 1) {
                    return Err(at(
                        "version",
                        format!(
                            "version '{version}' must be a positive whole number (versions are numbered as in MLflow)"
                        ),
                    ));
                }
            } else {
                data::validate_asset_version(version).map_err(|error| at("version", error.message))?;
            }
        }
        if let Some(kind) = &self.asset_type {
            let checked = if model { registry::parse_model_type(kind) } else { data::parse_data_type(kind) };
            checked.map_err(|error| at("type", error.message))?;
        }
        if let Some(stage) = &self.stage {
            registry::parse_stage(stage).map_err(|error| at("stage", error.message))?;
        }
        if let Some(path) = self.path.as_deref().filter(|_| model)
            && path.starts_with("azureml:")
            && !path.starts_with("azureml://datastores/")
            && !path.starts_with("azureml://jobs/")
        {
            return Err(at(
                "path",
                format!(
                    "path '{path}': expected a local path, azureml://datastores/<name>/paths/<path>, \
                     azureml://jobs/<job>/outputs/<output>/paths/<path>, runs:/<run>/<path> or models:/<model_id>"
                ),
            ));
        }
        Ok(())
    }
}

/// Azure ML's environment YAML, with `requirements_file` as Atelier's addition.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawEnvironment {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    name: Spanned<String>,
    #[serde(default)]
    version: Option<Spanned<Scalar>>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, Scalar>,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    conda_file: Option<RawCondaSource>,
    #[serde(default)]
    requirements_file: Option<String>,
    #[serde(default)]
    os_type: Option<Spanned<String>>,
    #[serde(default)]
    build: Option<Spanned<serde_json::Value>>,
    #[serde(default)]
    inference_config: Option<Spanned<serde_json::Value>>,
}

#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum RawCondaSource {
    Path(String),
    Inline(RawConda),
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawConda {
    #[serde(rename = "name", default)]
    _name: Option<String>,
    #[serde(default)]
    channels: Vec<String>,
    #[serde(default)]
    dependencies: Vec<RawCondaEntry>,
    #[serde(rename = "prefix", default)]
    _prefix: Option<String>,
    #[serde(rename = "variables", default)]
    _variables: Option<serde_json::Value>,
}

#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum RawCondaEntry {
    Package(String),
    Pip { pip: Vec<String> },
}

/// A conda environment file: its channels and dependencies (`name`, `prefix` and `variables` are
/// accepted and not used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CondaSpec {
    pub channels: Vec<String>,
    pub dependencies: Vec<CondaDependency>,
}

impl From<RawConda> for CondaSpec {
    fn from(raw: RawConda) -> Self {
        let dependencies = raw
            .dependencies
            .into_iter()
            .map(|entry| match entry {
                RawCondaEntry::Package(text) => CondaDependency::Package(text),
                RawCondaEntry::Pip { pip } => CondaDependency::Pip(pip),
            })
            .collect();
        CondaSpec { channels: raw.channels, dependencies }
    }
}

/// An environment's `conda_file`: a path relative to the environment file, or inline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CondaSource {
    Path(String),
    Inline(CondaSpec),
}

impl From<RawCondaSource> for CondaSource {
    fn from(raw: RawCondaSource) -> Self {
        match raw {
            RawCondaSource::Path(path) => CondaSource::Path(path),
            RawCondaSource::Inline(conda) => CondaSource::Inline(conda.into()),
        }
    }
}

impl CondaSource {
    /// A job's or a deployment's inline `environment.conda_file`, as their specs keep it.
    pub fn from_value(value: &serde_json::Value) -> Result<Self, SpecError> {
        serde_json::from_value::<RawCondaSource>(value.clone())
            .map(CondaSource::from)
            .map_err(|_| SpecError::new("environment.conda_file", 0, "expected a path or a conda environment"))
    }
}

/// The build spec of an inline environment (a job's, a component's or a deployment's
/// `environment:` mapping) where the file holds all of it: an image, a conda environment written
/// inline, or both. `None` where its `conda_file` is a path, which only the client can read (and
/// then sends the spec it read).
pub fn inline_environment_spec(
    image: Option<&String>,
    conda_file: Option<&serde_json::Value>,
) -> Result<Option<EnvironmentSpec>, SpecError> {
    match conda_file.map(CondaSource::from_value).transpose()? {
        Some(CondaSource::Path(_)) => Ok(None),
        Some(CondaSource::Inline(conda)) => build_spec(Some(&conda), image.cloned()).map(Some),
        None => build_spec(None, image.cloned()).map(Some),
    }
}

/// Reads a conda environment file.
pub fn parse_conda(text: &str) -> Result<CondaSpec, SpecError> {
    let raw: RawConda = serde_saphyr::from_str(text).map_err(|error| SpecError::from_yaml(error, "conda_file"))?;
    Ok(raw.into())
}

/// What a build needs from a conda environment (none: the machine's Python) and an image: a
/// Python version and pip requirements.
pub fn build_spec(conda: Option<&CondaSpec>, image: Option<String>) -> Result<EnvironmentSpec, SpecError> {
    match conda {
        Some(conda) => spec_from_conda(&conda.dependencies, conda.channels.clone(), image)
            .map_err(|error| SpecError::new("conda_file", 0, error.message)),
        None => Ok(EnvironmentSpec { image, ..EnvironmentSpec::default() }),
    }
}

/// An environment file (Azure ML's environment schema), checked. What it names by path (the
/// conda file, the requirements file) is read by whoever has the files.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentAsset {
    pub name: String,
    pub version: Option<String>,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub image: Option<String>,
    pub conda_file: Option<CondaSource>,
    /// A pip requirements file (Atelier's addition), relative to the environment file.
    pub requirements_file: Option<String>,
}

/// Reads and checks an environment file: a name, a version if any, Linux, and no Dockerfile
/// build or inference container (which Atelier does not run).
pub fn parse_environment(text: &str) -> Result<EnvironmentAsset, SpecError> {
    let raw: RawEnvironment =
        serde_saphyr::from_str(text).map_err(|error| SpecError::from_yaml(error, "environment"))?;
    if let Some(build) = &raw.build {
        return Err(SpecError::new(
            "build",
            build.referenced.line(),
            "an image built from a Dockerfile is not supported; use 'image' and 'conda_file'",
        ));
    }
    if let Some(config) = &raw.inference_config {
        return Err(SpecError::new(
            "inference_config",
            config.referenced.line(),
            "custom serving containers are not supported",
        ));
    }
    if let Some(os) = raw.os_type.as_ref().filter(|os| os.value != "linux") {
        return Err(SpecError::new(
            "os_type",
            os.referenced.line(),
            format!("os_type '{}' is not supported: environments run on Linux", os.value),
        ));
    }
    data::validate_asset_name("environment", &raw.name.value)
        .map_err(|error| SpecError::new("name", raw.name.referenced.line(), error.message))?;
    let version = match raw.version {
        Some(version) => {
            let text = version.value.text();
            data::validate_asset_version(&text)
                .map_err(|error| SpecError::new("version", version.referenced.line(), error.message))?;
            Some(text)
        }
        None => None,
    };
    Ok(EnvironmentAsset {
        name: raw.name.value,
        version,
        description: raw.description,
        tags: scalars(raw.tags),
        image: raw.image,
        conda_file: raw.conda_file.map(CondaSource::from),
        requirements_file: raw.requirements_file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inline_environment_written_whole_is_read_by_whoever_reads_the_file() {
        let conda = serde_json::json!({
            "channels": ["conda-forge"],
            "dependencies": ["python=3.11", "pip", {"pip": ["requests==2.34.2"]}],
        });
        let image = Some("python:3.11-slim".to_owned());
        let spec = inline_environment_spec(image.as_ref(), Some(&conda)).unwrap().unwrap();
        assert_eq!(spec.python.as_deref(), Some("3.11"));
        assert_eq!(spec.requirements, ["requests==2.34.2"]);
        assert_eq!(spec.image, image);
        let image_only = inline_environment_spec(image.as_ref(), None).unwrap().unwrap();
        assert!(image_only.python.is_none() && image_only.requirements.is_empty());
        // A conda file named by path is the client's to read.
        let path = serde_json::json!("conda.yml");
        assert_eq!(inline_environment_spec(None, Some(&path)).unwrap(), None);
    }

    #[test]
    fn an_azure_model_file_reads() {
        let text = "$schema: https://azuremlschemas.azureedge.net/latest/model.schema.json\nname: credit\nversion: 3\n\
                    type: mlflow_model\npath: ./model\ntags:\n  team: risk\n  rank: 1\nstage: Staging\n\
                    flavors:\n  python_function: {}\n";
        let spec = parse_model(text).unwrap();
        assert_eq!(spec.name.as_deref(), Some("credit"));
        assert_eq!(spec.version_number(), Some(3));
        assert_eq!(spec.asset_type.as_deref(), Some("mlflow_model"));
        assert_eq!(spec.local_path(), Some("./model"));
        assert_eq!(spec.tags["rank"], "1");
        assert_eq!(spec.line_of("path"), 5);
        spec.check().unwrap();
    }

    #[test]
    fn model_mistakes_name_the_field_and_line() {
        let cases = [
            ("name: m\npath: m.txt\ncolour: red\n", "model", 3, "colour"),
            ("name: m\nversion: 0\npath: m.txt\n", "version", 2, "positive whole number"),
            ("name: m\ntype: onnx\npath: m.txt\n", "type", 2, "custom_model"),
            ("name: m\nstage: prod\n", "stage", 2, "Staging"),
            ("name: a/b\n", "name", 1, "'/'"),
            ("name: m\npath: azureml:m:1\n", "path", 2, "azureml://datastores/"),
        ];
        crate::assert_mistakes(parse_model, &cases);
    }

    #[test]
    fn flags_complete_a_spec_and_are_checked() {
        let mut spec = parse_data("name: titanic\n").unwrap();
        let error = spec.check().unwrap_err();
        assert_eq!((error.field.as_str(), error.line), ("path", 0));
        spec.set("path", "azureml://datastores/workspaceblobstore/paths/t.csv").unwrap();
        spec.set("tags.source", "crm").unwrap();
        spec.check().unwrap();
        assert_eq!(spec.local_path(), None);
        assert_eq!(spec.tags["source"], "crm");
        spec.set("type", "table").unwrap();
        assert!(spec.check().unwrap_err().message.contains("uri_folder"));
        let error = spec.set("stage", "Production").unwrap_err();
        assert_eq!(
            error.message,
            "unknown field 'stage': expected name, version, path, type, description, tags.KEY or properties.KEY"
        );
        assert!(spec.set("tags.", "x").is_err());
        let mut model = AssetSpec::new(AssetKind::Model);
        model.set("stage", "Production").unwrap();
        assert_eq!(model.check().unwrap_err().message, "a model needs a 'name'");
    }

    #[test]
    fn a_changed_spec_reads_back_as_itself() {
        let mut model =
            parse_model("name: credit\nversion: 3\npath: ./model\ntags: {rank: 1}\nstage: Staging\n").unwrap();
        model.set("description", "line one\nline \"two\": yes").unwrap();
        model.set("tags.odd key: #1", "3.10").unwrap();
        let again = parse_model(&model.to_yaml()).unwrap();
        assert_eq!((again.name.as_deref(), again.version_number()), (Some("credit"), Some(3)));
        assert_eq!(
            (again.path.as_deref(), again.stage.as_deref(), again.description.as_deref()),
            (Some("./model"), Some("Staging"), model.description.as_deref())
        );
        assert_eq!(again.tags, model.tags);
        assert_eq!(again.tags["odd key: #1"], "3.10", "text stays text");
        let mut data = AssetSpec::new(AssetKind::Data);
        data.set("name", "titanic").unwrap();
        data.set("version", "1.0").unwrap();
        data.set("properties.rows", "891").unwrap();
        let again = parse_data(&data.to_yaml()).unwrap();
        assert_eq!((again.version.as_deref(), again.properties["rows"].as_str()), (Some("1.0"), "891"));
        assert_eq!((again.path, again.stage), (None, None));
    }

    #[test]
    fn data_files_have_no_model_fields() {
        let error = parse_data("name: d\npath: a.csv\nformat: csv\n").unwrap_err();
        assert_eq!((error.field.as_str(), error.line), ("data", 3));
        assert!(error.message.contains("format"));
        let error = parse_data("name: d\nstage: None\n").unwrap_err();
        assert_eq!((error.field.as_str(), error.line), ("stage", 2));
        let error = parse_data("name: d\nversion: latest\n").unwrap_err();
        assert_eq!((error.field.as_str(), error.line), ("version", 2));
        // Data paths are URIs when they have a scheme; `runs:/` is not one of theirs.
        let spec = parse_data("name: d\npath: data/a.csv\n").unwrap();
        assert_eq!(spec.local_path(), Some("data/a.csv"));
    }

    #[test]
    fn an_environment_file_reads_with_its_conda_file() {
        let text = "name: sklearn\nversion: 2\nimage: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04\n\
                    conda_file:\n  channels: [conda-forge]\n  dependencies:\n    - python=3.11\n    - pip:\n      - scikit-learn==1.5.0\n";
        let environment = parse_environment(text).unwrap();
        assert_eq!(environment.version.as_deref(), Some("2"));
        let Some(CondaSource::Inline(conda)) = &environment.conda_file else { panic!("inline conda") };
        let spec = build_spec(Some(conda), environment.image.clone()).unwrap();
        assert_eq!(spec.python.as_deref(), Some("3.11"));
        assert_eq!(spec.requirements, ["scikit-learn==1.5.0"]);
        let by_path = parse_environment("name: e\nconda_file: conda.yml\n").unwrap();
        assert_eq!(by_path.conda_file, Some(CondaSource::Path("conda.yml".into())));
        assert_eq!(build_spec(None, None).unwrap(), EnvironmentSpec::default());
    }

    #[test]
    fn environment_mistakes_name_the_field_and_line() {
        let cases = [
            ("name: e\nimage: x\nconda_files: conda.yml\n", "environment", 3, "conda_files"),
            ("name: e\nbuild:\n  path: ./docker\n", "build", 3, "Dockerfile"),
            ("name: e\ninference_config: {}\n", "inference_config", 2, "not supported"),
            ("name: e\nos_type: windows\n", "os_type", 2, "Linux"),
            ("name: -e\n", "name", 1, "starting with a letter or digit"),
            ("name: e\nversion: latest\n", "version", 2, "label"),
        ];
        crate::assert_mistakes(parse_environment, &cases);
        let error = parse_conda("channels: []\ndependencies: []\nextra: 1\n").unwrap_err();
        assert_eq!((error.field.as_str(), error.line), ("conda_file", 3));
        let pip_option = parse_conda("dependencies:\n  - pip:\n    - --index-url http://elsewhere\n").unwrap();
        assert!(build_spec(Some(&pip_option), None).unwrap_err().message.contains("pip options"));
        let inline = serde_json::json!({ "dependencies": ["python=3.10"] });
        assert!(matches!(CondaSource::from_value(&inline).unwrap(), CondaSource::Inline(_)));
        assert!(CondaSource::from_value(&serde_json::json!(3)).is_err());
    }
}

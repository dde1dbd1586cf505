//! Versioned assets (models, data, environments, components): which version a reference
//! means, and which version is the newest.
//!
//! A reference is read once, where it enters (a URL path, a CLI flag, a YAML field), into an
//! [`AssetRef`]: a name and a [`VersionSelector`], so that no layer compares strings with
//! `"latest"` or looks for an `@` again.
//!
//! ```text
//! selector   := "latest" | "@" alias | version          (aliases: models only)
//! reference  := ["azureml:"] name (":" version | "@latest")
//! ```
//!
//! `latest` is the newest version that is not archived, where each kind keeps its own "newest"
//! ([`Newest`]): a model's highest version number (MLflow numbers versions), the data asset or
//! environment version created last (their versions are free text, so `10` is not "after" `9`).

use crate::component::Component;
use crate::data::DataAsset;
use crate::environment::Environment;
use crate::model::Millis;
use crate::registry::ModelVersion;
use crate::{Error, Result};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;

/// The kinds of versioned asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssetKind {
    Model,
    Data,
    Environment,
    Component,
}

/// What "newest" means for a kind of asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Newest {
    /// The highest version number (models, numbered from 1 as in MLflow).
    HighestNumber,
    /// The version created last, the higher version text on a tie (data assets, environments).
    LastCreated,
}

impl AssetKind {
    /// The action that reads assets of this kind.
    pub fn read_action(self) -> crate::authz::Action {
        use crate::authz::Action;
        match self {
            AssetKind::Model => Action::ModelsRead,
            AssetKind::Data => Action::DataRead,
            AssetKind::Environment => Action::EnvironmentsRead,
            AssetKind::Component => Action::ComponentsRead,
        }
    }

    /// The action that registers, changes, archives and restores assets of this kind.
    pub fn write_action(self) -> crate::authz::Action {
        use crate::authz::Action;
        match self {
            AssetKind::Model => Action::ModelsWrite,
            AssetKind::Data => Action::DataWrite,
            AssetKind::Environment => Action::EnvironmentsWrite,
            AssetKind::Component => Action::ComponentsWrite,
        }
    }

    /// The kind's name in messages: `model`, `data asset`, `environment`.
    pub fn noun(self) -> &'static str {
        match self {
            AssetKind::Model => "model",
            AssetKind::Data => "data asset",
            AssetKind::Environment => "environment",
            AssetKind::Component => "component",
        }
    }

    /// Whether versions can be named by an alias (`@champion`).
    pub fn takes_aliases(self) -> bool {
        matches!(self, AssetKind::Model)
    }

    /// How the kind orders its versions.
    pub fn newest(self) -> Newest {
        match self {
            AssetKind::Model => Newest::HighestNumber,
            AssetKind::Data | AssetKind::Environment | AssetKind::Component => Newest::LastCreated,
        }
    }

    /// What a selector of this kind may be, for messages.
    fn expected(self) -> &'static str {
        if self.takes_aliases() { "a version, 'latest' or '@<alias>'" } else { "a version or 'latest'" }
    }
}

/// Which version of an asset a reference means.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VersionSelector {
    /// One version, by its name (`3`, `2024-06`); a model's is a number.
    Version(String),
    /// The newest version that is not archived.
    Latest,
    /// The version an alias points at (models only), without the `@`.
    Alias(String),
}

impl VersionSelector {
    /// Reads a selector as a URL path or `--version` gives it: `latest`, `@<alias>` (models) or
    /// a version.
    pub fn parse(kind: AssetKind, text: &str) -> Result<Self> {
        if text == "latest" {
            return Ok(VersionSelector::Latest);
        }
        if let Some(alias) = text.strip_prefix('@') {
            return Self::alias(kind, text, alias);
        }
        if text.trim().is_empty() {
            return Err(Error::invalid(format!("a {} version is missing: expected {}", kind.noun(), kind.expected())));
        }
        Ok(VersionSelector::Version(text.to_owned()))
    }

    /// Reads a label as `--label` gives it: `latest` or `@<alias>` (models), never a version.
    pub fn parse_label(kind: AssetKind, text: &str) -> Result<Self> {
        if text == "latest" {
            return Ok(VersionSelector::Latest);
        }
        if let Some(alias) = text.strip_prefix('@') {
            return Self::alias(kind, text, alias);
        }
        let expected = if kind.takes_aliases() { "'latest' or '@<alias>'" } else { "'latest'" };
        Err(Error::invalid(format!("invalid label '{text}': expected {expected}")))
    }

    fn alias(kind: AssetKind, text: &str, alias: &str) -> Result<Self> {
        if !kind.takes_aliases() {
            return Err(Error::invalid(format!(
                "invalid version '{text}': a {} has no aliases; expected {}",
                kind.noun(),
                kind.expected()
            )));
        }
        if alias.is_empty() {
            return Err(Error::invalid("invalid alias '@': expected '@<alias>', e.g. '@champion'"));
        }
        Ok(VersionSelector::Alias(alias.to_owned()))
    }
}

/// The selector as it is written: `3`, `latest`, `@champion`.
impl fmt::Display for VersionSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionSelector::Version(version) => f.write_str(version),
            VersionSelector::Latest => f.write_str("latest"),
            VersionSelector::Alias(alias) => write!(f, "@{alias}"),
        }
    }
}

/// A named asset of one kind and which of its versions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AssetRef {
    pub kind: AssetKind,
    pub name: String,
    pub version: VersionSelector,
}

impl AssetRef {
    /// A reference from its parts, as a URL path (`{name}/versions/{version}`) gives them.
    pub fn new(kind: AssetKind, name: &str, version: &str) -> Result<Self> {
        if name.trim().is_empty() {
            return Err(Error::invalid(format!("a {} name is missing", kind.noun())));
        }
        Ok(AssetRef { kind, name: name.to_owned(), version: VersionSelector::parse(kind, version)? })
    }

    /// Reads Azure ML's reference `azureml:<name>:<version>` or `azureml:<name>@latest` (the
    /// one label Azure ML files use).
    pub fn parse_azureml(kind: AssetKind, text: &str) -> Result<Self> {
        let expected = || {
            Error::invalid(format!(
                "{} '{text}': expected azureml:<name>:<version> or azureml:<name>@latest",
                kind.noun()
            ))
        };
        let rest = text.strip_prefix("azureml:").filter(|rest| !rest.starts_with("//")).ok_or_else(expected)?;
        let (name, version) = match rest.split_once('@') {
            Some((name, "latest")) => (name, VersionSelector::Latest),
            Some(_) => return Err(expected()),
            None => match rest.split_once(':') {
                Some((name, version)) if !version.is_empty() => (name, VersionSelector::Version(version.to_owned())),
                _ => return Err(expected()),
            },
        };
        if name.is_empty() {
            return Err(expected());
        }
        Ok(AssetRef { kind, name: name.to_owned(), version })
    }
}

/// The reference as Azure ML writes it, without the `azureml:` prefix: `name:3`, `name@latest`,
/// `name@champion`.
impl fmt::Display for AssetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            VersionSelector::Version(version) => write!(f, "{}:{version}", self.name),
            selector => write!(f, "{}@{}", self.name, selector.to_string().trim_start_matches('@')),
        }
    }
}

/// One version of a versioned asset, as the rules here need to see it.
pub trait Versioned {
    const KIND: AssetKind;
    fn asset_name(&self) -> &str;
    fn version_text(&self) -> String;
    fn created_at(&self) -> Millis;
    fn is_archived(&self) -> bool;
}

/// `Versioned` for a stored kind: its kind, and how its version reads as text.
macro_rules! versioned {
    ($type:ty, $kind:expr, |$version:ident| $text:expr) => {
        impl Versioned for $type {
            const KIND: AssetKind = $kind;
            fn asset_name(&self) -> &str {
                &self.name
            }
            fn version_text(&self) -> String {
                let $version = &self.version;
                $text
            }
            fn created_at(&self) -> Millis {
                self.creation_time
            }
            fn is_archived(&self) -> bool {
                self.archived
            }
        }
    };
}

versioned!(ModelVersion, AssetKind::Model, |version| version.to_string());
versioned!(DataAsset, AssetKind::Data, |version| version.clone());
versioned!(Environment, AssetKind::Environment, |version| version.clone());
versioned!(Component, AssetKind::Component, |version| version.clone());

/// How two versions of one asset compare by their kind's [`Newest`]: `Greater` when `a` is the
/// newer.
pub fn compare_newest<T: Versioned>(a: &T, b: &T) -> Ordering {
    match T::KIND.newest() {
        Newest::HighestNumber => {
            let number = |version: &T| version.version_text().parse::<i64>().ok();
            number(a).cmp(&number(b)).then_with(|| a.created_at().cmp(&b.created_at()))
        }
        Newest::LastCreated => {
            a.created_at().cmp(&b.created_at()).then_with(|| a.version_text().cmp(&b.version_text()))
        }
    }
}

/// The version `latest` means among `versions` (of one asset): the newest that is not archived.
pub fn latest<'a, T: Versioned + 'a>(versions: impl IntoIterator<Item = &'a T>) -> Option<&'a T> {
    versions.into_iter().filter(|version| !version.is_archived()).max_by(|a, b| compare_newest(*a, *b))
}

/// The newest version of each asset among `versions`, in the order their names first appear;
/// archived versions count only when `include_archived`.
pub fn newest_of_each<T: Versioned>(versions: impl IntoIterator<Item = T>, include_archived: bool) -> Vec<T> {
    let mut newest: Vec<T> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for version in versions.into_iter().filter(|version| include_archived || !version.is_archived()) {
        match index.get(version.asset_name()) {
            Some(&at) => {
                if compare_newest(&version, &newest[at]) == Ordering::Greater {
                    newest[at] = version;
                }
            }
            None => {
                index.insert(version.asset_name().to_owned(), newest.len());
                newest.push(version);
            }
        }
    }
    newest
}

/// The versions of one asset, newest first.
pub fn sort_newest_first<T: Versioned>(versions: &mut [T]) {
    versions.sort_by(|a, b| compare_newest(b, a));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Fake<const MODEL: bool> {
        name: &'static str,
        version: &'static str,
        created: Millis,
        archived: bool,
    }

    impl<const MODEL: bool> Versioned for Fake<MODEL> {
        const KIND: AssetKind = if MODEL { AssetKind::Model } else { AssetKind::Data };
        fn asset_name(&self) -> &str {
            self.name
        }
        fn version_text(&self) -> String {
            self.version.to_owned()
        }
        fn created_at(&self) -> Millis {
            self.created
        }
        fn is_archived(&self) -> bool {
            self.archived
        }
    }

    fn fake<const MODEL: bool>(name: &'static str, version: &'static str, created: Millis) -> Fake<MODEL> {
        Fake { name, version, created, archived: false }
    }

    #[test]
    fn selectors_are_read_once() {
        assert_eq!(VersionSelector::parse(AssetKind::Model, "latest").unwrap(), VersionSelector::Latest);
        assert_eq!(VersionSelector::parse(AssetKind::Model, "3").unwrap(), VersionSelector::Version("3".into()));
        assert_eq!(
            VersionSelector::parse(AssetKind::Model, "@champion").unwrap(),
            VersionSelector::Alias("champion".into())
        );
        assert_eq!(
            VersionSelector::parse(AssetKind::Data, "2024-06").unwrap(),
            VersionSelector::Version("2024-06".into())
        );
        // `Latest` is a version text like any other: only the exact label is the label.
        assert_eq!(
            VersionSelector::parse(AssetKind::Data, "Latest").unwrap(),
            VersionSelector::Version("Latest".into())
        );
    }

    #[test]
    fn selector_mistakes_say_what_was_expected() {
        let error = VersionSelector::parse(AssetKind::Data, "@champion").unwrap_err();
        assert_eq!(error.code, crate::ErrorCode::InvalidParameterValue);
        assert_eq!(
            error.message,
            "invalid version '@champion': a data asset has no aliases; expected a version or 'latest'"
        );
        let error = VersionSelector::parse(AssetKind::Model, "").unwrap_err();
        assert_eq!(error.message, "a model version is missing: expected a version, 'latest' or '@<alias>'");
        assert!(VersionSelector::parse(AssetKind::Model, "@").unwrap_err().message.contains("'@<alias>'"));
        let error = VersionSelector::parse_label(AssetKind::Environment, "newest").unwrap_err();
        assert_eq!(error.message, "invalid label 'newest': expected 'latest'");
        let error = VersionSelector::parse_label(AssetKind::Model, "3").unwrap_err();
        assert_eq!(error.message, "invalid label '3': expected 'latest' or '@<alias>'");
        assert_eq!(
            VersionSelector::parse_label(AssetKind::Model, "@prod").unwrap(),
            VersionSelector::Alias("prod".into())
        );
    }

    #[test]
    fn selectors_and_references_print_as_written() {
        for text in ["3", "latest", "@champion"] {
            assert_eq!(VersionSelector::parse(AssetKind::Model, text).unwrap().to_string(), text);
        }
        assert_eq!(AssetRef::new(AssetKind::Model, "credit", "3").unwrap().to_string(), "credit:3");
        assert_eq!(AssetRef::new(AssetKind::Model, "credit", "@prod").unwrap().to_string(), "credit@prod");
        assert_eq!(AssetRef::new(AssetKind::Data, "titanic", "latest").unwrap().to_string(), "titanic@latest");
        assert!(AssetRef::new(AssetKind::Data, "", "1").unwrap_err().message.contains("name is missing"));
    }

    #[test]
    fn azure_references() {
        let reference = AssetRef::parse_azureml(AssetKind::Environment, "azureml:sklearn:2").unwrap();
        assert_eq!((reference.name.as_str(), reference.version), ("sklearn", VersionSelector::Version("2".into())));
        let reference = AssetRef::parse_azureml(AssetKind::Data, "azureml:titanic@latest").unwrap();
        assert_eq!((reference.name.as_str(), reference.version), ("titanic", VersionSelector::Latest));
        for bad in ["sklearn:2", "azureml:sklearn", "azureml:sklearn@newest", "azureml::2", "azureml:x:", "azureml://x"]
        {
            let error = AssetRef::parse_azureml(AssetKind::Environment, bad).unwrap_err();
            assert_eq!(
                error.message,
                format!("environment '{bad}': expected azureml:<name>:<version> or azureml:<name>@latest")
            );
        }
    }

    #[test]
    fn a_models_latest_is_its_highest_number() {
        // Version 10 was registered before 9 (a number the caller chose): still the newest.
        let versions = [fake::<true>("m", "9", 300), fake::<true>("m", "10", 200), fake::<true>("m", "2", 100)];
        assert_eq!(latest(&versions).unwrap().version, "10");
    }

    #[test]
    fn data_and_environments_take_the_last_created() {
        // Free-text versions: "10" sorts before "9" as text, and neither is a count.
        let versions = [fake::<false>("d", "9", 200), fake::<false>("d", "10", 100), fake::<false>("d", "a", 150)];
        assert_eq!(latest(&versions).unwrap().version, "9");
        // The same millisecond: the higher text, as the store orders them.
        let tied = [fake::<false>("d", "a", 100), fake::<false>("d", "b", 100)];
        assert_eq!(latest(&tied).unwrap().version, "b");
    }

    #[test]
    fn latest_skips_archived_versions() {
        let mut versions = vec![fake::<true>("m", "1", 100), fake::<true>("m", "2", 200)];
        versions[1].archived = true;
        assert_eq!(latest(&versions).unwrap().version, "1");
        versions[0].archived = true;
        assert!(latest(&versions).is_none(), "every version archived: no latest");
        assert!(latest::<Fake<true>>(&[]).is_none());
    }

    #[test]
    fn the_newest_of_each_by_name() {
        let mut versions = vec![
            fake::<true>("b", "1", 100),
            fake::<true>("a", "2", 200),
            fake::<true>("a", "1", 100),
            fake::<true>("b", "3", 300),
        ];
        versions[3].archived = true;
        let shown =
            |list: Vec<Fake<true>>| list.iter().map(|v| format!("{}:{}", v.name, v.version)).collect::<Vec<_>>();
        assert_eq!(shown(newest_of_each(versions.clone(), false)), ["b:1", "a:2"]);
        assert_eq!(shown(newest_of_each(versions.clone(), true)), ["b:3", "a:2"]);
        let mut one = vec![fake::<true>("a", "2", 100), fake::<true>("a", "10", 50), fake::<true>("a", "1", 200)];
        sort_newest_first(&mut one);
        assert_eq!(shown(one), ["a:10", "a:2", "a:1"]);
    }
}

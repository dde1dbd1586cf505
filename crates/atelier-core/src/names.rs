//! Validated names. A name is checked once, where it enters the system; after that its type
//! carries the proof.

use crate::error::{Error, Result};
use std::fmt;

/// A workspace name: letters, digits, `-` and `_`, 3 to 33 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkspaceName(String);

/// The workspace that the server root serves.
pub const DEFAULT_WORKSPACE: &str = "default";

impl WorkspaceName {
    pub fn parse(name: &str) -> Result<Self> {
        let length = name.chars().count();
        if !(3..=33).contains(&length) {
            return Err(Error::invalid(format!(
                "invalid workspace name '{name}': expected 3 to 33 characters, got {length}"
            )));
        }
        if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
            return Err(Error::invalid(format!(
                "invalid workspace name '{name}': character '{bad}' is not allowed (use letters, digits, '-' and '_')"
            )));
        }
        Ok(WorkspaceName(name.to_owned()))
    }

    pub fn default_workspace() -> Self {
        WorkspaceName(DEFAULT_WORKSPACE.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkspaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user name: letters, digits, `.`, `-`, `_` and `@`, 1 to 64 characters, starting with a
/// letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserName(String);

impl UserName {
    pub fn parse(name: &str) -> Result<Self> {
        let valid_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'));
        let starts_well = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        if name.is_empty() || name.len() > 64 || !valid_chars || !starts_well {
            return Err(Error::invalid(format!(
                "invalid user name '{name}': expected 1 to 64 letters, digits, '.', '-', '_' or '@', starting with a letter or digit"
            )));
        }
        Ok(UserName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The names among `known` closest to `wanted` (at most three, closest first), for "did you
/// mean" in a not-found message: those within a third of the longer name's length in edits, or
/// that contain it, or that it contains.
pub fn nearest<'a>(wanted: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let wanted_lower = wanted.to_lowercase();
    let mut scored: Vec<(usize, &str)> = known
        .into_iter()
        .filter(|name| *name != wanted)
        .filter_map(|name| {
            let lower = name.to_lowercase();
            let distance = strsim::levenshtein(&wanted_lower, &lower);
            let limit = (wanted.chars().count().max(name.chars().count()) / 3).max(1);
            let related = lower.contains(&wanted_lower) || wanted_lower.contains(&lower);
            (distance <= limit || (related && !lower.is_empty())).then_some((distance, name))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(3).map(|(_, name)| name).collect()
}

/// ` (did you mean 'a' or 'b'?)` for a not-found message, or nothing when no name is near.
pub fn did_you_mean(wanted: &str, known: &[String]) -> String {
    let near = nearest(wanted, known.iter().map(String::as_str));
    match near.as_slice() {
        [] => String::new(),
        [one] => format!("; did you mean '{one}'?"),
        [first @ .., last] => format!(
            "; did you mean {} or '{last}'?",
            first.iter().map(|name| format!("'{name}'")).collect::<Vec<_>>().join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_names_are_suggested_closest_first() {
        let known = ["iris-csv", "iris-raw", "titanic", "iris-csv-2"];
        assert_eq!(nearest("iris-csvx", known), vec!["iris-csv", "iris-csv-2"]);
        assert_eq!(nearest("IRIS-RAW", known), vec!["iris-raw"]);
        assert!(nearest("mnist", known).is_empty());
        let owned: Vec<String> = known.iter().map(|name| (*name).to_owned()).collect();
        assert_eq!(did_you_mean("titanik", &owned), "; did you mean 'titanic'?");
        assert_eq!(did_you_mean("iris-csvx", &owned), "; did you mean 'iris-csv' or 'iris-csv-2'?");
        assert_eq!(did_you_mean("mnist", &owned), "");
    }

    fn check_workspace(name: &str, ok: bool) {
        assert_eq!(WorkspaceName::parse(name).is_ok(), ok, "{name}");
    }

    #[test]
    fn workspace_names() {
        check_workspace("default", true);
        check_workspace("team-a_1", true);
        check_workspace("ab", false);
        check_workspace(&"a".repeat(33), true);
        check_workspace(&"a".repeat(34), false);
        check_workspace("has space", false);
        check_workspace("dot.ted", false);
        check_workspace("ümlaut", false);
    }

    #[test]
    fn workspace_error_names_the_problem() {
        let error = WorkspaceName::parse("a/b").unwrap_err();
        assert!(error.message.contains("'/'"), "{}", error.message);
    }

    #[test]
    fn user_names() {
        assert!(UserName::parse("alice").is_ok());
        assert!(UserName::parse("a.b@c").is_ok());
        assert!(UserName::parse("").is_err());
        assert!(UserName::parse("-x").is_err());
        assert!(UserName::parse("a b").is_err());
    }
}

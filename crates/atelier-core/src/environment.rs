//! Environments: what a job or a deployment runs in, as Azure ML's environment YAML describes it
//! (a `conda_file` and/or a container `image`), reduced to what Atelier builds on the host: a
//! Python version and a list of pip requirements, whose canonical text names the build.

use crate::model::Millis;
use crate::names::WorkspaceName;
use crate::{Error, Result};
use std::collections::BTreeMap;

/// A versioned environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    pub workspace: WorkspaceName,
    pub name: String,
    pub version: String,
    pub spec: EnvironmentSpec,
    pub description: String,
    pub tags: BTreeMap<String, String>,
    pub archived: bool,
    pub created_by: String,
    pub creation_time: Millis,
}

/// What an environment is made of.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnvironmentSpec {
    /// A container image (Azure's base images among them); used where a container runtime is
    /// configured, else the environment runs on the host and a warning says so.
    pub image: Option<String>,
    /// The Python version (`3.11`), from the conda file's `python=` dependency; `None` is the
    /// machine's Python.
    pub python: Option<String>,
    /// pip requirements, one per entry, in order.
    pub requirements: Vec<String>,
    /// Conda channels named by the conda file (recorded; packages come from PyPI).
    pub channels: Vec<String>,
}

impl EnvironmentSpec {
    /// The text that names a build: the Python version and the requirements, one per line.
    /// Two specs with the same text build the same environment.
    pub fn build_text(&self) -> String {
        let mut text = format!("python={}\n", self.python.as_deref().unwrap_or("system"));
        for requirement in &self.requirements {
            text.push_str(requirement);
            text.push('\n');
        }
        text
    }
}

/// A conda dependency as a pip requirement: `numpy=1.26` is `numpy==1.26.*`, `numpy==1.26.4`
/// and `numpy>=1.26` stay as they are. Returns `None` for the ones that are not packages to
/// install (`pip`, `python`).
fn conda_to_pip(dependency: &str) -> Option<String> {
    let dependency = dependency.trim();
    let name_end = dependency.find(['=', '<', '>', '!', ' ']).unwrap_or(dependency.len());
    let name = &dependency[..name_end];
    if name.is_empty() || name == "pip" || name == "python" {
        return None;
    }
    let rest = dependency[name_end..].trim();
    let version = match rest.strip_prefix('=') {
        Some(single) if !single.starts_with('=') => {
            let version = single.split('=').next().unwrap_or_default();
            if version.ends_with('*') { format!("=={version}") } else { format!("=={version}.*") }
        }
        _ => rest.to_owned(),
    };
    Some(format!("{name}{version}"))
}

/// Reads a conda environment file's `dependencies` (already parsed as a list of strings and
/// `{pip: [...]}` entries) into a spec's Python version and requirements.
pub fn spec_from_conda(
    dependencies: &[CondaDependency],
    channels: Vec<String>,
    image: Option<String>,
) -> Result<EnvironmentSpec> {
    let mut spec = EnvironmentSpec { image, channels, ..EnvironmentSpec::default() };
    for dependency in dependencies {
        match dependency {
            CondaDependency::Package(text) => {
                let trimmed = text.trim();
                if let Some(version) = trimmed.strip_prefix("python") {
                    let version = version.trim_start_matches(['=', '>', '<', ' ']).trim().trim_end_matches(".*");
                    if !version.is_empty() {
                        let parts: Vec<&str> = version.split('.').collect();
                        if parts.len() < 2 || parts.iter().any(|part| part.parse::<u32>().is_err()) {
                            return Err(Error::invalid(format!(
                                "python version '{version}' in the conda file: expected a version such as 3.11"
                            )));
                        }
                        spec.python = Some(parts[..2].join("."));
                    }
                    continue;
                }
                if let Some(requirement) = conda_to_pip(trimmed) {
                    spec.requirements.push(requirement);
                }
            }
            CondaDependency::Pip(requirements) => {
                spec.requirements.extend(requirements.iter().map(|requirement| requirement.trim().to_owned()));
            }
        }
    }
    for requirement in &spec.requirements {
        validate_requirement(requirement)?;
    }
    Ok(spec)
}

/// One entry of a conda file's `dependencies`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CondaDependency {
    Package(String),
    Pip(Vec<String>),
}

/// Refuses requirement lines that are pip options rather than packages (`-e`, `--index-url`,
/// `-r other.txt`): a build installs packages from the server's configured index only.
pub fn validate_requirement(requirement: &str) -> Result<()> {
    let requirement = requirement.trim();
    if requirement.is_empty() || requirement.starts_with('-') {
        return Err(Error::invalid(format!(
            "requirement '{requirement}' is not a package: pip options (-e, -r, --index-url, …) are not accepted"
        )));
    }
    // `name @ url` and bare paths or URLs would make the server fetch from anywhere, or install
    // a folder of its own disk.
    if requirement.contains("://") || requirement.contains('@') || requirement.starts_with(['.', '/', '~']) {
        return Err(Error::invalid(format!(
            "requirement '{requirement}' is not a package from the index: direct references (URLs, paths, name @ url) are not accepted"
        )));
    }
    Ok(())
}

/// Reads a requirements file: one requirement per line, comments and blank lines skipped.
pub fn requirements_from_text(text: &str) -> Result<Vec<String>> {
    let requirements: Vec<String> = text
        .lines()
        .map(|line| line.split(" #").next().unwrap_or_default().trim())
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect();
    for requirement in &requirements {
        validate_requirement(requirement)?;
    }
    Ok(requirements)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conda_files_become_a_python_version_and_pip_requirements() {
        let dependencies = vec![
            CondaDependency::Package("python=3.11".into()),
            CondaDependency::Package("numpy=1.26".into()),
            CondaDependency::Package("scipy>=1.10".into()),
            CondaDependency::Package("pip".into()),
            CondaDependency::Pip(vec!["mlflow==3.17.2".into(), "six".into()]),
        ];
        let spec = spec_from_conda(&dependencies, vec!["conda-forge".into()], None).unwrap();
        assert_eq!(spec.python.as_deref(), Some("3.11"));
        assert_eq!(spec.requirements, vec!["numpy==1.26.*", "scipy>=1.10", "mlflow==3.17.2", "six"]);
        assert_eq!(spec.build_text(), "python=3.11\nnumpy==1.26.*\nscipy>=1.10\nmlflow==3.17.2\nsix\n");
        let bad = spec_from_conda(&[CondaDependency::Package("python=three".into())], vec![], None);
        assert!(bad.unwrap_err().message.contains("expected a version"));
        let option = spec_from_conda(&[CondaDependency::Pip(vec!["--index-url http://evil".into()])], vec![], None);
        assert!(option.unwrap_err().message.contains("pip options"));
    }

    #[test]
    fn requirements_files_skip_comments() {
        assert_eq!(
            requirements_from_text("# tools\nsix==1.16.0  # small\n\nrequests\n").unwrap(),
            vec!["six==1.16.0", "requests"]
        );
        assert!(requirements_from_text("-r other.txt\n").is_err());
        for direct in ["pkg @ file:///etc", "pkg@https://example.com/p.whl", "./local", "/abs/path", "https://x/y.whl"]
        {
            assert!(validate_requirement(direct).is_err(), "{direct}");
        }
        assert!(validate_requirement("numpy>=1.26; python_version >= '3.10'").is_ok());
    }
}

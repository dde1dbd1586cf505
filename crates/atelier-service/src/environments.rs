//! Environments: versioned specs (Azure ML's environment YAML, reduced by the CLI to a Python
//! version and pip requirements, plus an optional image) and their materialisation.
//!
//! A build is a Python virtual environment made with `uv` (`UV_PYTHON_DOWNLOADS=never`: the
//! machine's interpreters only), under `<root>/<hash of the spec's build text>`, so that the
//! same spec is built once and every later use costs a directory check. A build happens in a
//! `.building` folder and is renamed into place only when it succeeded (relocatable, so the move
//! breaks nothing); concurrent builds of one spec wait for each other in this process. A failed
//! build keeps its log and the error names the line of uv's output that says what failed.

use crate::{Principal, Service, now_millis};
use atelier_core::asset::{AssetKind, AssetRef};
use atelier_core::authz::Action;
use atelier_core::data;
use atelier_core::environment::{Environment, EnvironmentSpec, validate_requirement};
use atelier_core::names::WorkspaceName;
use atelier_core::{Error, Result};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Whether a process that runs user code (a job's runtime, a deployment's worker) inherits
/// an environment variable of the server: only what running Python and uv needs, so that no
/// secret of the server reaches user code (which could read its parent's environment); and, in
/// a job on a Slurm compute, what Slurm says of the allocation (`SLURM_JOB_ID`, …).
pub fn inheritable_variable(key: &str) -> bool {
    matches!(key, "PATH" | "HOME" | "USER" | "LOGNAME" | "LANG" | "LC_ALL" | "TMPDIR" | "TZ")
        || matches!(key.to_ascii_uppercase().as_str(), "HTTP_PROXY" | "HTTPS_PROXY" | "NO_PROXY" | "ALL_PROXY")
        || matches!(key, "SSL_CERT_FILE" | "SSL_CERT_DIR" | "REQUESTS_CA_BUNDLE")
        || key.starts_with("UV_")
        || key.starts_with("PIP_")
        || key.starts_with("LC_")
        || key.starts_with("SLURM_")
}

/// An environment to register.
#[derive(Debug, Clone, Default)]
pub struct NewEnvironment {
    pub name: String,
    /// `None` takes one past the highest numeric version.
    pub version: Option<String>,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub spec: EnvironmentSpec,
}

/// Where an environment's build stands.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentBuild {
    /// `ready`, `failed` or `not built`.
    pub state: &'static str,
    /// The environment's Python, when ready.
    pub python: Option<PathBuf>,
    /// The end of the build log, when there is one.
    pub log: Option<String>,
    /// Whether this call found the build already made.
    pub cached: bool,
    /// What the build could not honour (an image, with no container runtime).
    pub warnings: Vec<String>,
}

/// Builds environments with uv under one folder.
/// The uv that Atelier installs from PyPI where none is installed.
pub const PINNED_UV: &str = "0.13.9";

pub struct EnvironmentBuilder {
    root: PathBuf,
    uv: PathBuf,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// The most of a build log that is returned.
const LOG_TAIL_BYTES: usize = 16 * 1024;

fn build_key(spec: &EnvironmentSpec) -> String {
    hex::encode(&Sha256::digest(spec.build_text().as_bytes())[..16])
}

/// The line of uv's output that says why a build failed.
fn failure_summary(log: &str) -> String {
    let lines: Vec<&str> = log.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
    let telling = ["Because", "was not found", "No solution found", "No interpreter found", "error:", "failed"];
    lines
        .iter()
        .rev()
        .find(|line| telling.iter().any(|word| line.contains(word)))
        .or(lines.last())
        .map(|line| line.trim_start_matches("╰─▶").trim().to_owned())
        .unwrap_or_else(|| "uv printed nothing".to_owned())
}

fn tail(text: &str) -> String {
    let start = text.len().saturating_sub(LOG_TAIL_BYTES);
    let start = (start..text.len()).find(|index| text.is_char_boundary(*index)).unwrap_or(text.len());
    text[start..].to_owned()
}

impl EnvironmentBuilder {
    /// A builder keeping its environments under `root`, running `uv` (a path, or a name found
    /// on `PATH`).
    pub fn new(root: PathBuf, uv: PathBuf) -> Self {
        EnvironmentBuilder { root, uv, locks: Mutex::new(HashMap::new()) }
    }

    /// The folder that holds the built environments.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    fn paths(&self, spec: &EnvironmentSpec) -> (PathBuf, PathBuf, PathBuf) {
        let key = build_key(spec);
        (self.root.join(&key), self.root.join(format!("{key}.building")), self.root.join(format!("{key}.log")))
    }

    /// Where the build of `spec` writes uv's output, as it runs.
    pub fn build_log_path(&self, spec: &EnvironmentSpec) -> PathBuf {
        self.paths(spec).2
    }

    fn python_of(dir: &Path) -> PathBuf {
        dir.join("bin").join("python")
    }

    /// The state of a spec's build without building it.
    pub fn status(&self, spec: &EnvironmentSpec) -> EnvironmentBuild {
        let (dir, _, log_path) = self.paths(spec);
        let log = std::fs::read_to_string(&log_path).ok().map(|text| tail(&text));
        if dir.join(".ready").exists() {
            return EnvironmentBuild {
                state: "ready",
                python: Some(Self::python_of(&dir)),
                log,
                cached: true,
                warnings: Vec::new(),
            };
        }
        let state = if log.is_some() { "failed" } else { "not built" };
        EnvironmentBuild { state, python: None, log, cached: false, warnings: Vec::new() }
    }

    /// Where a uv provisioned by Atelier lives: `tools/` beside the environments' folder.
    fn provisioned_uv_dir(&self) -> PathBuf {
        self.root.with_file_name("tools").join(format!("uv-{PINNED_UV}"))
    }

    /// The uv to run: the configured one (a path, or a name found on `PATH`), else the one
    /// Atelier provisioned, if it did.
    fn installed_uv(&self) -> Option<PathBuf> {
        if self.uv.components().count() > 1 {
            return Some(self.uv.clone());
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        if let Some(found) =
            std::env::split_paths(&path).map(|folder| folder.join(&self.uv)).find(|file| file.is_file())
        {
            return Some(found);
        }
        let provisioned = self.provisioned_uv_dir().join("bin").join("uv");
        provisioned.is_file().then_some(provisioned)
    }

    /// `Some(a line to log)` when building an environment will first install uv: it is neither
    /// configured nor on `PATH`, and Atelier has not provisioned it yet.
    pub fn uv_provisioning_notice(&self) -> Option<String> {
        match self.installed_uv() {
            Some(_) => None,
            None => Some(format!(
                "uv is not installed: installing uv {PINNED_UV} from PyPI into {} (once)",
                self.provisioned_uv_dir().display()
            )),
        }
    }

    /// The uv to run, installing the pinned uv from PyPI into `tools/` when there is none: a
    /// fresh machine builds environments with nothing but Python and a package index.
    async fn uv(&self) -> Result<PathBuf> {
        if let Some(uv) = self.installed_uv() {
            return Ok(uv);
        }
        let target = self.provisioned_uv_dir();
        let tools = target.parent().map(Path::to_path_buf).unwrap_or_else(|| self.root.clone());
        let missing = |why: String| {
            Error::invalid(format!(
                "cannot run uv ({}) on the server's machine: it is not on the server's PATH, and installing \
                 uv {PINNED_UV} failed: {why}; install it there with `pip install uv`, or point ATELIER_UV (or \
                 --uv) at it, and restart the server: it reads PATH and ATELIER_UV at start",
                self.uv.display()
            ))
        };
        std::fs::create_dir_all(&tools)
            .map_err(|error| missing(format!("cannot create {}: {error}", tools.display())))?;
        // One installation at a time, across the server and its job runtimes.
        let lock_path = tools.join("uv.lock");
        let file_lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|error| missing(format!("cannot open {}: {error}", lock_path.display())))?;
        let _file_guard = tokio::task::spawn_blocking(move || file_lock.lock().map(|()| file_lock))
            .await
            .map_err(|error| missing(error.to_string()))?
            .map_err(|error| missing(format!("cannot lock {}: {error}", lock_path.display())))?;
        let uv = target.join("bin").join("uv");
        if uv.is_file() {
            return Ok(uv);
        }
        if let Some(notice) = self.uv_provisioning_notice() {
            tracing::info!("{notice}");
        }
        let building = tools.join(format!("uv-{PINNED_UV}.building"));
        let _ = std::fs::remove_dir_all(&building);
        let run = |program: PathBuf, arguments: Vec<std::ffi::OsString>| async move {
            let output = tokio::process::Command::new(&program)
                .args(&arguments)
                .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
                .stdin(std::process::Stdio::null())
                .output()
                .await
                .map_err(|error| format!("cannot run {}: {error}", program.display()))?;
            if output.status.success() {
                return Ok(());
            }
            let stderr = String::from_utf8_lossy(&output.stderr);
            Err(stderr.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or("no message").trim().to_owned())
        };
        run("python3".into(), vec!["-m".into(), "venv".into(), building.clone().into()]).await.map_err(missing)?;
        run(
            building.join("bin").join("python"),
            vec!["-m".into(), "pip".into(), "install".into(), "--quiet".into(), format!("uv=={PINNED_UV}").into()],
        )
        .await
        .map_err(missing)?;
        std::fs::rename(&building, &target).map_err(|error| missing(format!("cannot move it into place: {error}")))?;
        tracing::info!(uv = %uv.display(), "uv {PINNED_UV} installed");
        Ok(uv)
    }

    async fn run(&self, log_path: &Path, arguments: &[&std::ffi::OsStr]) -> Result<()> {
        let uv = self.uv().await?;
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(log_path).map_err(|error| {
                Error::internal(format!("cannot write the build log {}: {error}", log_path.display()))
            })?;
        let log_err = log.try_clone().map_err(|error| Error::internal(error.to_string()))?;
        let status = tokio::process::Command::new(&uv)
            .args(arguments)
            .env("UV_PYTHON_DOWNLOADS", "never")
            .env("UV_NO_PROGRESS", "1")
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .status()
            .await
            .map_err(|error| {
                Error::invalid(format!(
                    "cannot run uv ({}) on the server's machine: {error}; install it there with `pip install uv`, \
                     or point ATELIER_UV (or --uv) at it, and restart the server: it reads PATH and ATELIER_UV at start",
                    uv.display()
                ))
            })?;
        if status.success() {
            return Ok(());
        }
        let text = std::fs::read_to_string(log_path).unwrap_or_default();
        Err(Error::invalid(format!(
            "the environment build failed: {} (full log: {})",
            failure_summary(&text),
            log_path.display()
        )))
    }

    /// Builds a spec's environment, or finds it built.
    pub async fn build(&self, spec: &EnvironmentSpec) -> Result<EnvironmentBuild> {
        for requirement in &spec.requirements {
            validate_requirement(requirement)?;
        }
        let (dir, building, log_path) = self.paths(spec);
        let lock = {
            let mut locks = self.locks.lock().map_err(|_| Error::internal("environment build locks are poisoned"))?;
            locks.entry(build_key(spec)).or_default().clone()
        };
        let _guard = lock.lock().await;
        // Job runtimes are processes of their own: a file lock makes builds of one spec take
        // turns across processes too.
        std::fs::create_dir_all(&self.root)
            .map_err(|error| Error::internal(format!("cannot create {}: {error}", self.root.display())))?;
        let lock_path = self.root.join(format!("{}.lock", build_key(spec)));
        let file_lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|error| Error::internal(format!("cannot open {}: {error}", lock_path.display())))?;
        let _file_guard = tokio::task::spawn_blocking(move || file_lock.lock().map(|()| file_lock))
            .await
            .map_err(|error| Error::internal(format!("waiting for the build lock failed: {error}")))?
            .map_err(|error| Error::internal(format!("cannot lock {}: {error}", lock_path.display())))?;
        if dir.join(".ready").exists() {
            return Ok(EnvironmentBuild {
                state: "ready",
                python: Some(Self::python_of(&dir)),
                log: None,
                cached: true,
                warnings: Vec::new(),
            });
        }
        std::fs::create_dir_all(&self.root)
            .map_err(|error| Error::internal(format!("cannot create {}: {error}", self.root.display())))?;
        let _ = std::fs::remove_dir_all(&building);
        let _ = std::fs::remove_file(&log_path);
        let python = spec.python.clone().unwrap_or_else(|| "python3".to_owned());
        self.run(
            &log_path,
            &[
                "venv".as_ref(),
                "--relocatable".as_ref(),
                "--quiet".as_ref(),
                "--python".as_ref(),
                python.as_ref(),
                building.as_os_str(),
            ],
        )
        .await?;
        if !spec.requirements.is_empty() {
            let requirements = building.join("requirements.txt");
            std::fs::write(&requirements, spec.requirements.join("\n") + "\n")
                .map_err(|error| Error::internal(format!("cannot write {}: {error}", requirements.display())))?;
            let interpreter = Self::python_of(&building);
            self.run(
                &log_path,
                &[
                    "pip".as_ref(),
                    "install".as_ref(),
                    "--python".as_ref(),
                    interpreter.as_os_str(),
                    "-r".as_ref(),
                    requirements.as_os_str(),
                ],
            )
            .await?;
        }
        std::fs::write(building.join(".ready"), spec.build_text())
            .map_err(|error| Error::internal(format!("cannot finish the build: {error}")))?;
        if let Err(error) = std::fs::rename(&building, &dir) {
            // Another process finished the same build first: theirs is as good.
            if !dir.join(".ready").exists() {
                return Err(Error::internal(format!("cannot move the build into place: {error}")));
            }
            let _ = std::fs::remove_dir_all(&building);
        }
        let log = std::fs::read_to_string(&log_path).ok().map(|text| tail(&text));
        Ok(EnvironmentBuild {
            state: "ready",
            python: Some(Self::python_of(&dir)),
            log,
            cached: false,
            warnings: Vec::new(),
        })
    }
}

impl Service {
    fn builder(&self) -> Result<&EnvironmentBuilder> {
        self.environments.as_ref().ok_or_else(|| Error::invalid("this server does not build environments"))
    }

    /// Registers an environment from the text of its YAML file, read with the CLI's own
    /// `atelier_spec::assets::parse_environment`: a bad file is an invalid-argument error that
    /// names the field and its line, as the CLI reports it. The name, version (unless `version`
    /// overrides it, as `-v` does), description, tags and image are the file's, and so is the
    /// build spec when the conda environment is inline; what the file names by path (a conda or
    /// requirements file, which only the client has) comes from `from_files`, as the client read it.
    pub async fn create_environment_from_yaml(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        yaml: &str,
        version: Option<String>,
        from_files: EnvironmentSpec,
    ) -> Result<Environment> {
        // Who may not create one learns nothing about their file.
        self.authorize(principal, workspace, Action::EnvironmentsWrite).await?;
        use atelier_spec::assets::{CondaSource, build_spec, parse_environment};
        let file = parse_environment(yaml).map_err(crate::jobs::spec_error)?;
        let spec = match (&file.conda_file, &file.requirements_file) {
            (Some(CondaSource::Path(_)), _) | (_, Some(_)) => {
                EnvironmentSpec { image: file.image.clone(), ..from_files }
            }
            (Some(CondaSource::Inline(conda)), None) => {
                build_spec(Some(conda), file.image.clone()).map_err(crate::jobs::spec_error)?
            }
            (None, None) => build_spec(None, file.image.clone()).map_err(crate::jobs::spec_error)?,
        };
        let new_environment = NewEnvironment {
            name: file.name,
            version: version.or(file.version),
            description: file.description,
            tags: file.tags,
            spec,
        };
        self.create_environment(principal, workspace, new_environment).await
    }

    pub async fn create_environment(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        new_environment: NewEnvironment,
    ) -> Result<Environment> {
        self.authorize(principal, workspace, Action::EnvironmentsWrite).await?;
        data::validate_asset_name("environment", &new_environment.name)?;
        if let Some(version) = &new_environment.version {
            data::validate_asset_version(version)?;
        }
        for requirement in &new_environment.spec.requirements {
            validate_requirement(requirement)?;
        }
        if new_environment.spec.image.is_none()
            && new_environment.spec.python.is_none()
            && new_environment.spec.requirements.is_empty()
        {
            return Err(Error::invalid("an environment needs an image, a conda_file or a requirements file"));
        }
        let environment = Environment {
            workspace: workspace.clone(),
            name: new_environment.name,
            version: new_environment.version.unwrap_or_default(),
            spec: new_environment.spec,
            description: new_environment.description.unwrap_or_default(),
            tags: new_environment.tags,
            archived: false,
            created_by: principal.user.to_string(),
            creation_time: now_millis(),
        };
        self.store.create_environment(&environment).await
    }

    /// A version, or `latest`: the newest that is not archived. (Kept for callers that hold the
    /// version as text; [`Service::resolve_label`] takes a parsed one.)
    pub async fn get_environment(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        version: &str,
    ) -> Result<Environment> {
        self.resolve_label(principal, workspace, &AssetRef::new(AssetKind::Environment, name, version)?).await
    }

    /// The versions of one environment (newest first), or the newest version of each.
    pub async fn list_environments(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: Option<&str>,
        include_archived: bool,
    ) -> Result<Vec<Environment>> {
        match name {
            Some(name) => self.list_asset_versions(principal, workspace, name, include_archived).await,
            None => self.list_latest_assets(principal, workspace, include_archived).await,
        }
    }

    pub async fn set_environment_archived(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        version: &str,
        archived: bool,
    ) -> Result<Environment> {
        let reference = AssetRef::new(AssetKind::Environment, name, version)?;
        self.set_asset_archived(principal, workspace, &reference, archived).await
    }

    fn image_warning(environment: &Environment) -> Vec<String> {
        environment
            .spec
            .image
            .iter()
            .map(|image| {
                format!(
                    "image '{image}' is not used: no container runtime is configured, so the environment runs on the host with {}",
                    if environment.spec.python.is_some() || !environment.spec.requirements.is_empty() {
                        "its conda_file's packages"
                    } else {
                        "the machine's Python"
                    }
                )
            })
            .collect()
    }

    /// Builds an environment (or finds it built).
    pub async fn build_environment(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        version: &str,
    ) -> Result<EnvironmentBuild> {
        self.authorize(principal, workspace, Action::EnvironmentsWrite).await?;
        let environment = self.get_environment(principal, workspace, name, version).await?;
        let warnings = Self::image_warning(&environment);
        if !warnings.is_empty() && self.refuse_images {
            return Err(Error::invalid(format!(
                "environment {name} version {} names an image and this server runs no containers and refuses to run it on the host instead",
                environment.version
            )));
        }
        let mut build = self.builder()?.build(&environment.spec).await?;
        build.warnings = warnings;
        Ok(build)
    }

    /// Where an environment's build stands, with the end of its log.
    pub async fn environment_build_status(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        name: &str,
        version: &str,
    ) -> Result<EnvironmentBuild> {
        let environment = self.get_environment(principal, workspace, name, version).await?;
        let mut status = self.builder()?.status(&environment.spec);
        status.warnings = Self::image_warning(&environment);
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_name_the_telling_line() {
        let log = "Using CPython 3.11.7\n  × No solution found when resolving dependencies:\n  ╰─▶ Because there is no version of nosuchpkg==9.9 and you require nosuchpkg==9.9, we can conclude that your requirements are unsatisfiable.\n";
        assert!(failure_summary(log).starts_with("Because there is no version of nosuchpkg==9.9"));
        assert_eq!(failure_summary(""), "uv printed nothing");
    }

    #[test]
    fn the_same_spec_has_the_same_build() {
        let spec =
            EnvironmentSpec { python: Some("3.11".into()), requirements: vec!["six".into()], ..Default::default() };
        let image = EnvironmentSpec { image: Some("mcr.microsoft.com/azureml/x".into()), ..spec.clone() };
        assert_eq!(build_key(&spec), build_key(&image), "the image does not change what is built on the host");
        let other = EnvironmentSpec { requirements: vec!["six==1.16.0".into()], ..spec.clone() };
        assert_ne!(build_key(&spec), build_key(&other));
    }
}

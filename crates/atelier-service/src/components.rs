//! Components: Azure ML's command components, registered as versioned assets. A version is read
//! from its YAML, its environment resolved and pinned (`azureml:x@latest` becomes the version
//! it named then) and its code snapshot hashed by content, so that a version never changes
//! meaning and registering the same content again is the same version.
//!
//! Listing, `latest`, archive and restore are the versioned-asset operations of `versions.rs`.

use crate::jobs::{AREA_CODE, check_snapshot_id, spec_error};
use crate::{Principal, Service, Target, now_millis};
use atelier_blob::Download;
use atelier_core::authz::Action;
use atelier_core::component::Component;
use atelier_core::environment::EnvironmentSpec;
use atelier_core::names::WorkspaceName;
use atelier_core::{Error, Result};
use atelier_spec::{ComponentDefinition, ComponentSpec, parse_component};

/// A component to register, as `atelier component create` sends it.
#[derive(Debug, Clone, Default)]
pub struct ComponentSubmission {
    /// The component file as written.
    pub yaml: String,
    /// Overrides the file's `version`.
    pub version: Option<String>,
    /// The uploaded code snapshot, when the component has `code`.
    pub snapshot: Option<String>,
    /// An inline environment's spec, read by the client from its conda file.
    pub inline_environment: Option<EnvironmentSpec>,
}

/// A mistake about a field of the component file, with its line.
fn field_error(spec: &ComponentSpec, field: &str, message: impl std::fmt::Display) -> Error {
    match spec.line_of(field) {
        0 => Error::invalid(format!("{field}: {message}")),
        line => Error::invalid(format!("line {line}: {field}: {message}")),
    }
}

impl Service {
    /// Registers a component version from its file. Without a version (in the file or
    /// `submission.version`) it is one past the highest numeric version, unless the newest
    /// version has the same content, which is returned; a version that is taken by other
    /// content is refused.
    pub async fn create_component(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        submission: ComponentSubmission,
    ) -> Result<Component> {
        self.authorize(principal, workspace, Action::ComponentsWrite).await?;
        let spec = parse_component(&submission.yaml).map_err(spec_error)?;
        let (component, _) = self.resolve_component(principal, workspace, &spec, &submission, true).await?;
        self.store.create_component(&component).await
    }

    /// A component file resolved into the version it registers (its version empty when the
    /// file gives none), with the definition it keeps. Before its code is uploaded
    /// (`code_uploaded` false), the code is taken as the client will upload it.
    pub(crate) async fn resolve_component(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        spec: &ComponentSpec,
        submission: &ComponentSubmission,
        code_uploaded: bool,
    ) -> Result<(Component, ComponentDefinition)> {
        let version = submission.version.clone().or_else(|| spec.version.clone()).unwrap_or_default();
        if version.contains(['/', ':', '@']) || version.chars().any(char::is_whitespace) {
            return Err(Error::invalid(format!(
                "invalid version '{version}': expected text without spaces, '/', ':' or '@'"
            )));
        }
        let (snapshot, code_hash) = match (&spec.code, &submission.snapshot) {
            (None, None) => (None, None),
            (Some(_), _) if !code_uploaded => (None, None),
            (None, Some(_)) => {
                return Err(Error::invalid("a code snapshot was sent for a component that has no 'code'"));
            }
            (Some(code), None) => {
                return Err(field_error(
                    spec,
                    "code",
                    format!(
                        "the folder '{code}' must be uploaded with the component (atelier component create does it)"
                    ),
                ));
            }
            (Some(_), Some(snapshot)) => {
                let hash = self
                    .snapshot_hash(workspace, snapshot)
                    .await
                    .map_err(|error| field_error(spec, "code", error.message))?;
                (Some(snapshot.clone()), Some(hash))
            }
        };
        let inline = crate::jobs::inline_environment(&spec.inline_environment, &submission.inline_environment)
            .map_err(|error| field_error(spec, "environment", error.message))?;
        let (environment, _warnings) = self
            .resolve_environment(
                principal,
                workspace,
                spec.environment.as_deref(),
                inline.as_ref(),
                "atelier component create",
            )
            .await
            .map_err(|error| field_error(spec, "environment", error.message))?;
        let definition = ComponentDefinition { body: spec.body.clone(), environment };
        let definition_text = definition.to_text();
        let mut hasher = blake3::Hasher::new();
        for part in [
            definition_text.as_str(),
            code_hash.as_deref().unwrap_or("no code"),
            if spec.is_deterministic { "deterministic" } else { "not deterministic" },
            spec.display_name.as_deref().unwrap_or_default(),
            spec.description.as_deref().unwrap_or_default(),
        ] {
            hasher.update(part.as_bytes());
            hasher.update(b"\0");
        }
        for (key, value) in &spec.tags {
            hasher.update(format!("{key}={value}\0").as_bytes());
        }
        let component = Component {
            workspace: workspace.clone(),
            name: spec.name.clone(),
            version,
            display_name: spec.display_name.clone().unwrap_or_else(|| spec.name.clone()),
            description: spec.description.clone().unwrap_or_default(),
            tags: spec.tags.clone(),
            is_deterministic: spec.is_deterministic,
            definition: definition_text,
            snapshot,
            code_hash,
            content_hash: hasher.finalize().to_hex().to_string(),
            archived: false,
            created_by: principal.user.to_string(),
            creation_time: now_millis(),
        };
        Ok((component, definition))
    }

    /// The hash of a code snapshot's content: each file's path and content hash, in path
    /// order. Checks the snapshot against the server's size limit.
    pub(crate) async fn snapshot_hash(&self, workspace: &WorkspaceName, snapshot: &str) -> Result<String> {
        check_snapshot_id(snapshot)?;
        let files = self.store.upload_files_under(workspace, AREA_CODE, snapshot).await?;
        if files.is_empty() {
            return Err(Error::invalid(format!("the code snapshot {snapshot} holds no file: upload its files first")));
        }
        let size: i64 = files.iter().map(|file| file.size).sum();
        if size as u64 > self.snapshot_limit {
            return Err(Error::invalid(format!(
                "the code snapshot holds {size} bytes, over this server's limit of {}: list large files in .amlignore or .gitignore",
                self.snapshot_limit
            )));
        }
        let strip = snapshot.len() + 1;
        let mut hasher = blake3::Hasher::new();
        for file in &files {
            hasher.update(&file.path.as_bytes()[strip..]);
            hasher.update(b"\0");
            hasher.update(file.hash.as_bytes());
            hasher.update(b"\n");
        }
        Ok(hasher.finalize().to_hex().to_string())
    }

    /// The definition a component version keeps.
    pub fn component_definition(&self, component: &Component) -> Result<ComponentDefinition> {
        ComponentDefinition::from_text(&component.definition).map_err(Error::internal)
    }

    /// The pipelines that ran a registered component version, newest first (at most 50); none
    /// for a caller who may not read jobs.
    pub async fn component_pipelines(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        component: &Component,
    ) -> Result<Vec<String>> {
        self.authorize_on(principal, workspace, Action::ComponentsRead, Target::Assets).await?;
        if !self.may(principal, workspace, Action::JobsRead).await {
            return Ok(Vec::new());
        }
        let location = format!("component:{}:{}", component.name, component.version);
        self.store.jobs_referencing(workspace, &location, 50).await
    }

    /// The files of a component version's code snapshot, with sizes.
    pub async fn component_files(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        component: &Component,
    ) -> Result<Vec<(String, u64)>> {
        self.authorize_on(principal, workspace, Action::ComponentsRead, Target::Assets).await?;
        match &component.snapshot {
            Some(snapshot) => self.snapshot_files(workspace, snapshot).await,
            None => Ok(Vec::new()),
        }
    }

    /// One file of a component version's code snapshot.
    pub async fn open_component_file(
        &self,
        principal: &Principal,
        workspace: &WorkspaceName,
        component: &Component,
        path: &str,
    ) -> Result<Download> {
        self.authorize_on(principal, workspace, Action::ComponentsRead, Target::Assets).await?;
        self.open_snapshot_path(workspace, component.snapshot.as_deref(), path, |relative| {
            Error::not_found(format!(
                "the code of component {} version {} has no file '{relative}'",
                component.name, component.version
            ))
        })
        .await
    }
}

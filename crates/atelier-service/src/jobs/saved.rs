//! What a client uploaded for a job, kept with the job (and with a schedule) so that the same
//! job can be submitted again without the client: a schedule's fires, `azureml:<job>`.

use super::{JobSubmission, StepUpload};
use atelier_core::environment::EnvironmentSpec;
use atelier_core::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Serialize, Deserialize, Default)]
struct SavedEnvironment {
    image: Option<String>,
    python: Option<String>,
    #[serde(default)]
    requirements: Vec<String>,
    #[serde(default)]
    channels: Vec<String>,
}

impl SavedEnvironment {
    fn of(spec: &EnvironmentSpec) -> Self {
        SavedEnvironment {
            image: spec.image.clone(),
            python: spec.python.clone(),
            requirements: spec.requirements.clone(),
            channels: spec.channels.clone(),
        }
    }

    fn spec(self) -> EnvironmentSpec {
        EnvironmentSpec {
            image: self.image,
            python: self.python,
            requirements: self.requirements,
            channels: self.channels,
        }
    }
}

#[derive(Serialize, Deserialize, Default)]
struct SavedStep {
    component_yaml: Option<String>,
    snapshot: Option<String>,
    inline_environment: Option<SavedEnvironment>,
}

/// A submission less its YAML (kept beside it) and its name (each submission picks its own).
#[derive(Serialize, Deserialize, Default)]
struct SavedSubmission {
    folder_name: String,
    snapshot: Option<String>,
    #[serde(default)]
    uploads: BTreeMap<String, String>,
    inline_environment: Option<SavedEnvironment>,
    #[serde(default)]
    steps: BTreeMap<String, SavedStep>,
}

impl JobSubmission {
    /// What the client uploaded, as JSON: [`JobSubmission::from_saved`] reads it back.
    pub(crate) fn saved(&self) -> Result<String> {
        let saved = SavedSubmission {
            folder_name: self.folder_name.clone(),
            snapshot: self.snapshot.clone(),
            uploads: self.uploads.clone(),
            inline_environment: self.inline_environment.as_ref().map(SavedEnvironment::of),
            steps: self
                .steps
                .iter()
                .map(|(name, step)| {
                    let saved = SavedStep {
                        component_yaml: step.component_yaml.clone(),
                        snapshot: step.snapshot.clone(),
                        inline_environment: step.inline_environment.as_ref().map(SavedEnvironment::of),
                    };
                    (name.clone(), saved)
                })
                .collect(),
        };
        serde_json::to_string(&saved).map_err(|error| Error::internal(format!("encoding a submission failed: {error}")))
    }

    /// A submission of `yaml` with what [`JobSubmission::saved`] kept; no name.
    pub(crate) fn from_saved(yaml: String, saved: &str) -> Result<JobSubmission> {
        let saved: SavedSubmission = serde_json::from_str(saved)
            .map_err(|error| Error::internal(format!("a stored submission is unreadable: {error}")))?;
        Ok(JobSubmission {
            yaml,
            folder_name: saved.folder_name,
            name: None,
            snapshot: saved.snapshot,
            uploads: saved.uploads,
            inline_environment: saved.inline_environment.map(SavedEnvironment::spec),
            steps: saved
                .steps
                .into_iter()
                .map(|(name, step)| {
                    let upload = StepUpload {
                        component_yaml: step.component_yaml,
                        snapshot: step.snapshot,
                        inline_environment: step.inline_environment.map(SavedEnvironment::spec),
                    };
                    (name, upload)
                })
                .collect(),
            schedule: None,
        })
    }

    /// The uploaded files a submission points into (code snapshots and local inputs), which
    /// garbage collection keeps while something may submit it again.
    pub(crate) fn held_locations(&self) -> Vec<String> {
        let snapshots = self.snapshot.iter().chain(self.steps.values().filter_map(|step| step.snapshot.as_ref()));
        let mut held: Vec<String> = snapshots.map(|snapshot| format!("code:{snapshot}/")).collect();
        held.extend(self.uploads.values().cloned());
        held.sort();
        held.dedup();
        held
    }
}

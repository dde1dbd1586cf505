//! Components: named, versioned, reusable steps (Azure ML's command components). A version
//! keeps its definition (the command, its typed interface and the environment it resolved to,
//! as JSON that `atelier-spec` reads and writes) and its code snapshot, and never changes.

use crate::model::Millis;
use crate::names::WorkspaceName;
use std::collections::BTreeMap;

/// A registered component version.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    pub workspace: WorkspaceName,
    pub name: String,
    pub version: String,
    pub display_name: String,
    pub description: String,
    pub tags: BTreeMap<String, String>,
    /// `false`: a pipeline never reuses an earlier run of it.
    pub is_deterministic: bool,
    /// The definition: the command, inputs, outputs, resources and resolved environment.
    pub definition: String,
    /// The code snapshot's id, when the component has code.
    pub snapshot: Option<String>,
    /// The hash of the code snapshot's content (each file's path and content hash), when the
    /// component has code.
    pub code_hash: Option<String>,
    /// The hash of the definition and the code: two registrations with the same hash are the
    /// same component.
    pub content_hash: String,
    pub archived: bool,
    pub created_by: String,
    pub creation_time: Millis,
}

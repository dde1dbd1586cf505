//! Azure ML CLI v2 YAML specs, read for Atelier: the command job, the plan a job runtime executes,
//! and online endpoints and deployments.
//!
//! The one decision that shaped this crate: every mistake in a spec is reported before anything
//! runs, with the field it is about and the line it is on. Unknown fields are errors (serde's
//! `deny_unknown_fields`, with serde-saphyr's positions), and the checks that serde cannot make
//! (a placeholder that names no input, a required input without a value, an unknown compute)
//! keep the position of the value they are about (`serde_saphyr::Spanned`).
//!
//! Placeholders in a command, as Azure ML writes them:
//!
//! ```text
//! command      := (text | placeholder | optional)*
//! placeholder  := "${{" ("inputs" | "outputs") "." NAME "}}"
//! optional     := "$[[" (text | placeholder)* "]]"     dropped when an input inside has no value
//! ```

pub mod endpoint;
pub mod job;
pub mod plan;

pub use job::{CommandJob, JobInput, JobOutput, parse_command_job};
pub use plan::{BUILTIN_ENVIRONMENT, JobPlan, PlannedEnvironment, PlannedInput, PlannedOutput, render_command};

/// A mistake in a spec: the field, the line (0 when the mistake is about the file as a whole)
/// and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{field}: {message}", if *.line > 0 { format!("line {}: ", .line) } else { String::new() })]
pub struct SpecError {
    pub field: String,
    pub line: u64,
    pub message: String,
}

impl SpecError {
    pub(crate) fn new(field: impl Into<String>, line: u64, message: impl Into<String>) -> Self {
        SpecError { field: field.into(), line, message: message.into() }
    }
}

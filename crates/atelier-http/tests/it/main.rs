//! The HTTP layer driven in-process with `oneshot`: authentication, the audit log, the generated
//! authorization matrix (`matrix.rs`), MLflow's
//! error codes for bad input, artifact paths, workspaces and the OpenAPI document.

mod access;
mod audit;
mod common;
mod files;
mod http;
mod matrix;
mod matrix_routes;
mod studio;

//! Atelier's domain core: the types every layer shares, the rules that validate them, the
//! MLflow search-filter language, and the closed table of API error codes.
//!
//! The one decision that shaped this crate: it does no I/O and knows no async runtime, SQL or
//! HTTP. Everything here is a pure function of its inputs, so the store, the service layer and
//! the HTTP adapters can agree on meaning without agreeing on transport.

pub mod asset;
pub mod audit;
pub mod authz;
pub mod component;
pub mod data;
pub mod endpoint;
pub mod environment;
pub mod error;
pub mod filter;
pub mod instance;
pub mod job;
pub mod limits;
pub mod model;
pub mod names;
pub mod registry;
pub mod schedule;
pub mod series;
pub mod sweep;
pub mod time;

pub use error::{Error, ErrorCode, Result};

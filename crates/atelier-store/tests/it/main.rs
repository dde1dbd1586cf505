//! The store conformance suite: every test runs against SQLite and against PostgreSQL.
//!
//! PostgreSQL tests need `ATELIER_TEST_PG_URL` (the README's test command starts a server and
//! sets it). Without it they are skipped locally, but fail under `CI`, so that a PostgreSQL test
//! skipped in CI cannot pass unnoticed.

mod common;
mod conformance;
mod conformance_access;
mod conformance_assets;
mod conformance_audit;
mod conformance_registry;
mod conformance_workflows;

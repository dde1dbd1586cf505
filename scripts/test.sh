#!/usr/bin/env bash
# test.sh - runs every test of Atelier on a fresh machine of the project's kind (Debian 12, root).
#
#   1. installs what the tests need: uv and two Python environments with the real mlflow
#      client (2.22.4 and 3.17.2), PostgreSQL 15 (started on 127.0.0.1:5432), a two-node Slurm
#      cluster on this machine (scripts/slurm-up.sh) for the Slurm tests, and Open MPI with
#      Debian's mpi4py for the mpi distribution's;
#   2. tidy: cargo fmt --check and cargo clippy -D warnings;
#   3. the Rust suites (unit, in-process HTTP, and the store conformance suite against SQLite
#      and PostgreSQL);
#   4. the end-to-end suite: the real mlflow clients against a running `atelier server`, for
#      each client x store (mlflow2/mlflow3 x sqlite/postgres);
#   5. the studio's browser tests: headless Debian Chromium driven by Playwright, and single
#      sign-on against a real OpenID provider (the npm package oidc-provider, run with node);
#   6. schemathesis against the native API's OpenAPI document, on a throwaway server.
#
# Exits non-zero if any step fails. CARGO_TARGET_DIR is honoured.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
log() { echo "== test: $*" >&2; }

log "python environments (uv, mlflow 2.22.4 and 3.17.2) and the browser (chromium, playwright)"
scripts/python-env.sh >/dev/null
scripts/browser-env.sh >/dev/null

log "postgresql"
ATELIER_TEST_PG_URL=$(PG_FAST=1 scripts/postgres-up.sh)
case "$ATELIER_TEST_PG_URL" in
  *$'\n'*) echo "== test: postgres-up.sh printed more than one line: '$ATELIER_TEST_PG_URL'" >&2; exit 1 ;;
  postgres://*) ;;
  *) echo "== test: postgres-up.sh printed '$ATELIER_TEST_PG_URL', not one postgres:// URL" >&2; exit 1 ;;
esac
export ATELIER_TEST_PG_URL
log "slurm (two nodes on this machine, and slurmrestd)"
SLURM_NODES=2 SLURM_REST=1 scripts/slurm-up.sh >&2
log "open mpi and mpi4py (the mpi distribution's tests)"
if ! command -v mpirun >/dev/null || ! /usr/bin/python3 -c 'import mpi4py' 2>/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openmpi-bin python3-mpi4py >/dev/null
fi

# The PostgreSQL half of the conformance suite refuses to skip itself when CI is set.
export CI=${CI:-true}

log "tidy: rustfmt"
cargo fmt --all -- --check
log "tidy: clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

log "rust tests (SQLite and PostgreSQL at $ATELIER_TEST_PG_URL)"
cargo test --workspace

log "end-to-end tests with the real mlflow clients"
cargo build --bin atelier --quiet
export ATELIER_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/atelier"
scripts/test-e2e.sh

log "studio tests in a real browser"
scripts/test-studio.sh

log "schemathesis against the native API"
scripts/test-fuzz.sh

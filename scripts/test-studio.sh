#!/usr/bin/env bash
# test-studio.sh - the studio's browser tests (tests/studio): headless Debian Chromium driven by
# Playwright against a real `atelier server`, with runs logged by the real mlflow 3 client.
# Screenshots of the main pages are saved to .test-artifacts/studio/.
#
# Environment: ATELIER_BIN (default target/debug/atelier; it must exist).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export ATELIER_BIN=${ATELIER_BIN:-$ROOT/target/debug/atelier}
[ -x "$ATELIER_BIN" ] || { echo "test-studio: $ATELIER_BIN not found; build it first" >&2; exit 2; }
PYTHON=$(scripts/browser-env.sh)
scripts/oidc-env.sh >/dev/null
scripts/python-env.sh mlflow3 >/dev/null
export ATELIER_MLFLOW_PYTHON="$ROOT/.venv-mlflow3/bin/python"
"$PYTHON" -m pytest tests/studio -q -p no:cacheprovider --color=no "$@"

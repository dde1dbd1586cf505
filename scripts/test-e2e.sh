#!/usr/bin/env bash
# test-e2e.sh - the end-to-end suite (tests/e2e) for each mlflow client x metadata store:
#   mlflow 2.22.4 | mlflow 3.17.2   x   sqlite | postgres
# Runs every combination even when one fails, prints pytest's closing line for each, and
# exits non-zero if any combination failed. Full output of each run goes to
# .test-artifacts/e2e/<combination>.out (server logs of failed runs are saved beside it).
#
# Usage: scripts/test-e2e.sh [extra pytest arguments, e.g. -k search -x]
#
# Environment (all optional):
#   ATELIER_BIN      server binary (default: target/debug/atelier; it must exist: this script
#                    does not build it unless ATELIER_E2E_BUILD=1, which runs `cargo build`)
#   E2E_MLFLOW       which clients, space-separated (default: "mlflow2 mlflow3")
#   E2E_STORES       which stores, space-separated (default: "sqlite postgres")
#   ATELIER_TEST_PG_URL  an already running PostgreSQL; when unset, scripts/postgres-up.sh
#                    starts the local one (root needed) and its URL is used
#   PG_FAST          passed to postgres-up.sh (default here: 1, test-only speedups)
#   ATELIER_TEST_S3_ENDPOINT, ATELIER_TEST_S3_DIR, ATELIER_TEST_AZURITE_ENDPOINT  object stores
#                    already running; when unset, scripts/storage-up.sh starts s3s-fs and Azurite
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
log() { echo "test-e2e: $*" >&2; }
die() { echo "test-e2e: ERROR: $*" >&2; exit 2; }

E2E_MLFLOW=${E2E_MLFLOW:-mlflow2 mlflow3}
E2E_STORES=${E2E_STORES:-sqlite postgres}

export ATELIER_BIN=${ATELIER_BIN:-target/debug/atelier}
case "$ATELIER_BIN" in /*) ;; *) ATELIER_BIN="$ROOT/$ATELIER_BIN" ;; esac
if [ "${ATELIER_E2E_BUILD:-0}" = 1 ]; then
  log "building the server (cargo build --bin atelier)"
  cargo build --bin atelier >&2 || die "cargo build failed"
fi
[ -x "$ATELIER_BIN" ] || die "$ATELIER_BIN not found or not executable; build it (cargo build) or set ATELIER_BIN"

# shellcheck disable=SC2086  # word splitting of the lists is intended
"$ROOT/scripts/python-env.sh" $E2E_MLFLOW >/dev/null || die "python environments failed"

# The Python SDK (python/atelier-sdk), built as a wheel and installed into each venv:
# tests/e2e/test_sdk.py imports what a user would install.
SDK_DIST="$ROOT/.test-artifacts/sdk"
rm -rf "$SDK_DIST"
uv build --quiet --wheel --out-dir "$SDK_DIST" "$ROOT/python/atelier-sdk" >&2 || die "building the SDK's wheel failed"
# Its type hints hold (it ships py.typed, so users' type checkers read them).
uv tool run --quiet --from mypy==2.4.1 --with types-requests==2.33.0.20261030 --with types-PyYAML==6.0.12.20261122 \
  mypy "$ROOT/python/atelier-sdk/src/atelier" >&2 || die "mypy found mistakes in the SDK's type hints"
for client in $E2E_MLFLOW; do
  uv pip install --quiet --python "$ROOT/.venv-$client/bin/python" --reinstall-package atelier-sdk \
    "$SDK_DIST"/atelier_sdk-*.whl >&2 || die "installing the SDK's wheel into .venv-$client failed"
done

if [[ " $E2E_STORES " == *" postgres "* ]] && [ -z "${ATELIER_TEST_PG_URL:-}" ]; then
  ATELIER_TEST_PG_URL=$(PG_FAST=${PG_FAST:-1} "$ROOT/scripts/postgres-up.sh") \
    || die "postgres-up.sh failed"
fi
export ATELIER_TEST_PG_URL=${ATELIER_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/atelier_test}

# Real object stores for the datastore tests: s3s-fs (S3) and Azurite (Azure Blob) on loopback.
if [ -z "${ATELIER_TEST_S3_ENDPOINT:-}" ]; then
  storage_env=$("$ROOT/scripts/storage-up.sh") || die "storage-up.sh failed"
  while IFS= read -r line; do
    case "$line" in ATELIER_TEST_*=*) export "${line?}" ;; esac
  done <<<"$storage_env"
fi

OUT_DIR="$ROOT/.test-artifacts/e2e"
mkdir -p "$OUT_DIR"
export ATELIER_E2E_ARTIFACTS="$OUT_DIR"

failed=()
summary=()
for client in $E2E_MLFLOW; do
  python="$ROOT/.venv-$client/bin/python"
  for store in $E2E_STORES; do
    combo="$client-$store"
    out="$OUT_DIR/$combo.out"
    log "running $combo"
    started=$(date +%s)
    ATELIER_E2E_STORE=$store "$python" -m pytest "$ROOT/tests/e2e" -q -rfEs \
      -p no:cacheprovider --color=no "$@" >"$out" 2>&1
    code=$?
    elapsed=$(( $(date +%s) - started ))
    # pytest's closing line: "120 passed, 2 skipped in 61.02s (0:01:01)" (with -q), or the
    # same between rows of "=" without -q.
    closing=$(grep -E '^(=+ )?(no tests ran|[0-9]+ (passed|failed|errors?|skipped|deselected|xfailed|xpassed|warnings?))\b.* in [0-9.]+s( \([0-9:]+\))?( =+)?$' "$out" | tail -1)
    [ -n "$closing" ] || closing="(no pytest summary; exit $code; see $out)"
    if [ "$code" -ne 0 ]; then
      failed+=("$combo")
      # Show what failed, so CI logs are useful without the artifacts.
      grep -E '^(FAILED|ERROR) ' "$out" | head -25 >&2 || true
    fi
    summary+=("$combo (${elapsed}s, exit $code):" "$closing")
  done
done

echo
echo "end-to-end results:"
# Pairs: a label line, then pytest's closing line as pytest printed it.
for ((i = 0; i < ${#summary[@]}; i += 2)); do
  echo "${summary[i]}"
  echo "${summary[i + 1]}"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "test-e2e: FAILED: ${failed[*]} (output in $OUT_DIR)"
  exit 1
fi
echo "test-e2e: all $(( ${#summary[@]} / 2 )) combinations passed"

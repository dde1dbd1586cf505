#!/usr/bin/env bash
# test-fuzz.sh - schemathesis (from PyPI) against the native API's OpenAPI document, on a
# throwaway server of its own: every operation with a bounded number of generated requests
# (valid and invalid), checking that no answer is a 5xx, that every status code, content type
# and body is one the document lists for that operation, and that the server is healthy after.
#
# Environment: ATELIER_BIN (default target/debug/atelier; it must exist), FUZZ_EXAMPLES
# (requests per operation and phase, default 10), FUZZ_SEED (default 1: CI runs the same cases
# every time; set another to explore). The report goes to .test-artifacts/fuzz/.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
log() { echo "test-fuzz: $*" >&2; }
die() { echo "test-fuzz: ERROR: $*" >&2; exit 1; }

ATELIER_BIN=${ATELIER_BIN:-$ROOT/target/debug/atelier}
[ -x "$ATELIER_BIN" ] || die "$ATELIER_BIN not found; build it first"
export UV_PYTHON_DOWNLOADS=never
SCHEMATHESIS=schemathesis==4.32.5

# The fuzzer's own environment, pinned, rebuilt only when the pin changes.
VENV=$ROOT/.venv-fuzz
if [ "$(cat "$VENV/.atelier-stamp" 2>/dev/null || true)" != "$SCHEMATHESIS" ] || [ ! -x "$VENV/bin/st" ]; then
  command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv >&2
  log "installing $SCHEMATHESIS into $VENV"
  rm -f "$VENV/.atelier-stamp"
  [ -x "$VENV/bin/python" ] || uv venv --quiet --python python3 "$VENV" >&2
  uv pip install --quiet --python "$VENV/bin/python" "$SCHEMATHESIS" >&2
  echo "$SCHEMATHESIS" >"$VENV/.atelier-stamp"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/atelier-fuzz.XXXXXX")
REPORT=$ROOT/.test-artifacts/fuzz
mkdir -p "$REPORT"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
"$ATELIER_BIN" server --addr "127.0.0.1:$PORT" --home "$WORK/home" >"$REPORT/server.log" 2>&1 &
SERVER=$!
cleanup() {
  kill -TERM "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 1 300); do
  curl -fsS -o /dev/null "$URL/healthz" 2>/dev/null && break
  kill -0 "$SERVER" 2>/dev/null || { tail -n 30 "$REPORT/server.log" >&2; die "the server exited during start"; }
  sleep 0.2
done
TOKEN=$(tr -d '[:space:]' <"$WORK/home/token")

log "schemathesis against $URL/api/v1/openapi.json (${FUZZ_EXAMPLES:-10} examples per operation, seed ${FUZZ_SEED:-1})"
status=0
# The token goes through the environment, not the command line, which `ps` shows.
ATELIER_FUZZ_AUTH="Authorization: Bearer $TOKEN" "$VENV/bin/python" - "$URL" "$REPORT" <<'PY' || status=$?
import os, subprocess, sys
url, report = sys.argv[1], sys.argv[2]
base = [
    os.path.join(os.path.dirname(sys.executable), "st"), "run", f"{url}/api/v1/openapi.json",
    "--header", os.environ["ATELIER_FUZZ_AUTH"],
    "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
    "--phases", "examples,coverage,fuzzing",
    "--max-examples", os.environ.get("FUZZ_EXAMPLES", "10"),
    "--seed", os.environ.get("FUZZ_SEED", "1"),
    "--workers", "2",
    "--request-timeout", "60",
    "--no-color",
]
# Schemathesis reuses ids it has seen, so revoking a token revokes its own: that operation
# runs last, on its own, after which the rest would only be answered 401.
revoke = r"^/api/v1/tokens/\{id\}$"
passes = [
    ["--exclude-path-regex", revoke, "--report", "junit", "--report-junit-path", f"{report}/junit.xml"],
    ["--include-path-regex", revoke, "--report", "junit", "--report-junit-path", f"{report}/junit-revoke.xml"],
]
sys.exit(max(subprocess.run(base + extra).returncode for extra in passes))
PY
kill -0 "$SERVER" 2>/dev/null || die "the server died under the fuzzer (its log: $REPORT/server.log)"
curl -fsS -o /dev/null "$URL/healthz" || die "the server does not answer /healthz after the fuzzer"
[ "$status" -eq 0 ] || die "schemathesis found problems (above; report in $REPORT)"
log "no 5xx, every answer as documented, the server healthy"

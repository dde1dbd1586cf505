#!/usr/bin/env bash
# python-env.sh - the Python environments for the end-to-end suite (tests/e2e).
#
# Idempotently creates, at the repository root:
#   .venv-mlflow3   mlflow 3.17.2 + the test tools
#   .venv-mlflow2   mlflow 2.22.4 + the test tools
# with uv and the machine's own python3 (3.11); uv never downloads an interpreter.
# A venv whose stamp file matches its pinned requirements is left alone, so a second run
# takes well under a second. Delete a venv (or its .atelier-stamp) to force a rebuild.
#
# Usage: scripts/python-env.sh [mlflow2|mlflow3 ...]   (default: both)
# Prints the path of each venv's python on stdout, one per line.
#
# Environment (optional):
#   PYTHON       interpreter for the venvs (default: python3 on PATH)
#   UV_CACHE_DIR uv's cache, as usual
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { echo "python-env: $*" >&2; }
die() { echo "python-env: ERROR: $*" >&2; exit 1; }

export UV_PYTHON_DOWNLOADS=never

# Pinned requirements. pandas is needed by mlflow.data.from_pandas and mlflow.search_runs;
# scikit-learn is not listed: the suite does not use it (the full mlflow package pulls it in).
# mlflow 2.22.4 requires pandas < 3, so the two venvs pin different pandas versions.
# azure-storage-blob puts test data into Azurite for the Azure Blob datastore tests.
# onnx builds the small ONNX graph the endpoint tests deploy.
# websocket-client talks to compute instances' kernels through the proxy, as JupyterLab does.
COMMON_REQS=(pytest==9.2.0 requests==2.34.2 azure-storage-blob==12.31.1 onnx==1.23.2 websocket-client==1.9.2)
reqs_for() {
  case "$1" in
    mlflow3) echo mlflow==3.17.2 pandas==3.1.1 "${COMMON_REQS[@]}" ;;
    mlflow2) echo mlflow==2.22.4 pandas==2.3.3 "${COMMON_REQS[@]}" ;;
    *) die "unknown environment '$1' (expected mlflow2 or mlflow3)" ;;
  esac
}

PYTHON=${PYTHON:-$(command -v python3 || true)}
[ -n "$PYTHON" ] || die "python3 not found"
PY_VERSION=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
case "$PY_VERSION" in
  3.9|3.10|3.11|3.12|3.13) ;;
  *) die "$PYTHON is Python $PY_VERSION; mlflow 2.22 and 3.17 need 3.9 to 3.13" ;;
esac

if ! command -v uv >/dev/null 2>&1; then
  log "installing uv with pip"
  "$PYTHON" -m pip install --quiet uv >&2 || die "pip install uv failed"
  hash -r
  command -v uv >/dev/null 2>&1 || die "uv installed but not on PATH"
fi

# mlflow==X.Y.Z in a requirement list -> the glob of its dist-info folder.
mlflow_dist_info() {
  local req
  for req in $1; do
    case "$req" in mlflow==*) echo "mlflow-${req#mlflow==}.dist-info"; return ;; esac
  done
}

ensure_venv() {
  local name=$1 venv="$ROOT/.venv-$1" reqs stamp_want stamp_have
  reqs=$(reqs_for "$name")
  # The stamp names the interpreter version and the exact requirement list.
  stamp_want="python=$PY_VERSION $reqs"
  stamp_have=$(cat "$venv/.atelier-stamp" 2>/dev/null || true)
  # Cheap checks only (importing mlflow takes seconds): the stamp, the interpreter, and
  # the installed mlflow distribution's metadata.
  if [ "$stamp_have" = "$stamp_want" ] && [ -x "$venv/bin/python" ] \
     && compgen -G "$venv/lib/python*/site-packages/$(mlflow_dist_info "$reqs")" >/dev/null; then
    log "$name: up to date ($venv)"
  else
    log "$name: installing $reqs"
    rm -f "$venv/.atelier-stamp"
    if [ ! -x "$venv/bin/python" ]; then
      uv venv --quiet --python "$PYTHON" "$venv" >&2
    fi
    # shellcheck disable=SC2086  # $reqs is a space-separated list on purpose
    uv pip install --quiet --python "$venv/bin/python" $reqs >&2
    "$venv/bin/python" - "$name" <<'PY' >&2
import sys, mlflow, pandas, pytest, requests
want = {"mlflow2": "2.22.4", "mlflow3": "3.17.2"}[sys.argv[1]]
assert mlflow.__version__ == want, f"mlflow {mlflow.__version__} installed, expected {want}"
print(f"python-env: {sys.argv[1]}: mlflow {mlflow.__version__}, pandas {pandas.__version__}, "
      f"pytest {pytest.__version__}, requests {requests.__version__}")
PY
    echo "$stamp_want" > "$venv/.atelier-stamp"
  fi
  echo "$venv/bin/python"
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(mlflow3 mlflow2)
for target in "${targets[@]}"; do
  ensure_venv "$target"
done

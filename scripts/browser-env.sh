#!/usr/bin/env bash
# browser-env.sh - what the studio's browser tests need, idempotently:
#   Debian's Chromium (/usr/bin/chromium; no browser is downloaded by a test tool) and a
#   virtual environment .venv-studio with Playwright for Python and pytest.
# Prints the venv's python on stdout.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { echo "browser-env: $*" >&2; }
export UV_PYTHON_DOWNLOADS=never
PLAYWRIGHT=playwright==1.65.2
PYTEST=pytest==9.2.0
REQUESTS=requests==2.34.2

if ! command -v chromium >/dev/null 2>&1; then
  log "installing chromium from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

VENV="$ROOT/.venv-studio"
STAMP="$VENV/.atelier-stamp"
WANT="$PLAYWRIGHT $PYTEST $REQUESTS"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv >&2
  log "creating $VENV ($WANT)"
  uv venv --quiet --allow-existing --python "$(command -v python3)" "$VENV" >&2
  # shellcheck disable=SC2086
  uv pip install --quiet --python "$VENV/bin/python" $WANT >&2
  echo "$WANT" > "$STAMP"
fi
echo "$VENV/bin/python"

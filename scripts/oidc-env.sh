#!/usr/bin/env bash
# oidc-env.sh - installs the OpenID provider the single sign-on tests run (tests/oidc: the npm
# package oidc-provider, pinned by its package-lock.json) with the machine's Node.js and npm.
# Idempotent: does nothing when the locked version is already installed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR="$ROOT/tests/oidc"
command -v node >/dev/null || { echo "oidc-env: node is not installed (apt-get install nodejs npm)" >&2; exit 2; }
want=$(node -e 'console.log(require(process.argv[1]).packages["node_modules/oidc-provider"].version)' "$DIR/package-lock.json")
have=$(node -e 'try { console.log(require(process.argv[1]).version) } catch { console.log("") }' \
  "$DIR/node_modules/oidc-provider/package.json")
if [ "$want" != "$have" ]; then
  echo "oidc-env: installing oidc-provider $want" >&2
  (cd "$DIR" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
echo "$DIR"

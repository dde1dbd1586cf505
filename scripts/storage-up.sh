#!/usr/bin/env bash
# storage-up.sh - real object stores on loopback for the datastore tests:
#   - s3s-fs 0.14.1 (an S3 server in Rust that checks SigV4 signatures), on 127.0.0.1:8014,
#     access key "test", secret "testsecret", serving a folder (each subfolder is a bucket);
#   - Azurite 3.35.0 (Microsoft's Azure Blob emulator; checks the account key), on 127.0.0.1:10000.
#
# Idempotent: builds or installs each once into the tools cache (see below), starts a server only
# if its port does not answer, and prints the environment the tests read, one VAR=value per line
# on stdout (everything else goes to stderr):
#   ATELIER_TEST_S3_ENDPOINT, ATELIER_TEST_S3_DIR, ATELIER_TEST_AZURITE_ENDPOINT
#
# Environment: ATELIER_TOOLS  where built tools are kept between runs (default:
# /var/cache/atelier-ci/tools when it can be created, else .cache/tools in the repository);
# ATELIER_STORAGE_DIR  where the servers keep their data (default: /tmp/atelier-test-storage).
set -euo pipefail
exec 3>&1 1>&2
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { echo "storage-up: $*" >&2; }
die() { echo "storage-up: ERROR: $*" >&2; exit 1; }
{
if [ -z "${ATELIER_TOOLS:-}" ]; then
  if mkdir -p /var/cache/atelier-ci/tools 2>/dev/null; then ATELIER_TOOLS=/var/cache/atelier-ci/tools
  else ATELIER_TOOLS=$ROOT/.cache/tools; fi
fi
mkdir -p "$ATELIER_TOOLS"
DATA=${ATELIER_STORAGE_DIR:-/tmp/atelier-test-storage}
mkdir -p "$DATA/s3" "$DATA/azurite"

S3S=$ATELIER_TOOLS/s3s-fs/bin/s3s-fs
if [ ! -x "$S3S" ]; then
  log "building s3s-fs 0.14.1 (once, about 3 minutes on 2 cores)"
  # 0.14.x: later versions need a newer rustc than this toolchain's.
  cargo install s3s-fs@0.14.1 --features binary --locked --root "$ATELIER_TOOLS/s3s-fs" --quiet \
    || die "cargo install s3s-fs failed"
fi
AZURITE=$ATELIER_TOOLS/azurite/node_modules/.bin/azurite-blob
if [ ! -x "$AZURITE" ]; then
  command -v npm >/dev/null || die "npm is needed for Azurite"
  log "installing Azurite 3.35.0 (once)"
  npm install --prefix "$ATELIER_TOOLS/azurite" --no-audit --no-fund --loglevel=error azurite@3.35.0 >/dev/null \
    || die "npm install azurite failed"
fi

# Whether something listens on a loopback port (bash's /dev/tcp; no curl needed).
answers() { (exec 9<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! answers 8014; then
  log "starting s3s-fs on 127.0.0.1:8014 (data in $DATA/s3)"
  # Started from their data folder: a server must not depend on the caller's working directory,
  # which may be gone (a deleted clone) while the server lives on.
  cd "$DATA"
  setsid "$S3S" --host 127.0.0.1 --port 8014 --access-key test --secret-key testsecret "$DATA/s3" \
    >"$DATA/s3s-fs.log" 2>&1 < /dev/null &
fi
if ! answers 10000; then
  log "starting Azurite on 127.0.0.1:10000 (data in $DATA/azurite)"
  cd "$DATA"
  setsid "$AZURITE" --blobHost 127.0.0.1 --blobPort 10000 --location "$DATA/azurite" --silent --skipApiVersionCheck \
    >"$DATA/azurite.log" 2>&1 < /dev/null &
fi
for i in $(seq 1 100); do
  answers 8014 && answers 10000 && break
  [ "$i" = 100 ] && die "the servers did not answer; see $DATA/*.log"
  sleep 0.1
done
} 3>&-
echo "ATELIER_TEST_S3_ENDPOINT=http://127.0.0.1:8014" >&3
echo "ATELIER_TEST_S3_DIR=${DATA}/s3" >&3
echo "ATELIER_TEST_AZURITE_ENDPOINT=http://127.0.0.1:10000/devstoreaccount1" >&3

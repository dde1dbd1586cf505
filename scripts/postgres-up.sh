#!/usr/bin/env bash
# postgres-up.sh - Debian's PostgreSQL (15 on Debian 12) for Atelier's tests, without systemd.
#
# The project's own copy of shared/scripts/postgres-up.sh (CI mounts shared/ read-only).
# Idempotent: installs PostgreSQL if missing, creates the cluster if missing, trusts TCP
# connections from 127.0.0.1 and ::1 (no password), starts the cluster, waits until it
# accepts connections, creates the database if missing, and prints its URL on stdout
# (everything else goes to stderr):
#     postgres://postgres@127.0.0.1:5432/atelier_test
#
# Environment (all optional):
#   PG_DB        database to create (default: atelier_test)
#   PG_VERSION   cluster version (default: the newest installed, else 15)
#   PG_CLUSTER   cluster name (default: main)
#   PG_FAST=1    test-only speedups: fsync, synchronous_commit and full_page_writes off
#                (data may be lost if PostgreSQL itself crashes; a killed client loses nothing)
set -euo pipefail
# Only the URL goes to stdout. Every command's own output (pg_ctlcluster prints "Removed stale
# pid file." on stdout, for one) goes to stderr, and the body runs with the saved stdout (fd 3)
# closed so that a daemon it starts cannot hold the caller's $(...) open.
exec 3>&1 1>&2
{
DB=${PG_DB:-atelier_test}
CLUSTER=${PG_CLUSTER:-main}
log() { echo "postgres-up: $*" >&2; }
die() { echo "postgres-up: ERROR: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (it installs packages and manages the cluster)"
case "$DB" in
  *[!A-Za-z0-9_]*|'') die "PG_DB must be letters, digits and underscores, got '$DB'" ;;
esac

if ! command -v pg_ctlcluster >/dev/null || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  log "installing postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql postgresql-client >/dev/null
fi
VER=${PG_VERSION:-$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -1)}
VER=${VER:-15}
CONFDIR=/etc/postgresql/$VER/$CLUSTER
if [ ! -d "$CONFDIR" ]; then
  log "creating cluster $VER/$CLUSTER"
  pg_createcluster "$VER" "$CLUSTER" >/dev/null
fi
PORT=$(sed -n 's/^port *= *\([0-9]*\).*/\1/p' "$CONFDIR/postgresql.conf" | head -1)
PORT=${PORT:-5432}

# Trust loopback TCP. pg_hba.conf is read top-down and the first match wins, so these
# lines go first.
HBA=$CONFDIR/pg_hba.conf
RELOAD=0
if ! grep -q '^# atelier-test: trust loopback' "$HBA"; then
  tmp=$(mktemp)
  { echo '# atelier-test: trust loopback (written by scripts/postgres-up.sh)'
    echo 'host    all             all             127.0.0.1/32            trust'
    echo 'host    all             all             ::1/128                 trust'
    cat "$HBA"; } > "$tmp"
  install -o postgres -g postgres -m 0640 "$tmp" "$HBA"; rm -f "$tmp"
  RELOAD=1
  log "pg_hba.conf: trust for 127.0.0.1/32 and ::1/128"
fi
FAST=$CONFDIR/conf.d/atelier-test-fast.conf
if [ "${PG_FAST:-0}" = 1 ]; then
  if [ ! -f "$FAST" ]; then
    mkdir -p "$CONFDIR/conf.d"
    printf 'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n' > "$FAST"
    RELOAD=1
    log "PG_FAST=1: fsync, synchronous_commit and full_page_writes off"
  fi
elif [ -f "$FAST" ]; then
  rm -f "$FAST"; RELOAD=1
  log "PG_FAST unset: durable settings restored"
fi

if pg_ctlcluster "$VER" "$CLUSTER" status >/dev/null 2>&1; then
  if [ "$RELOAD" = 1 ]; then pg_ctlcluster "$VER" "$CLUSTER" reload; log "reloaded"; fi
else
  # pg_ctlcluster creates /run/postgresql, runs as the postgres user and waits for
  # startup (pg_ctl -w).
  pg_ctlcluster "$VER" "$CLUSTER" start || die "start failed; see /var/log/postgresql/postgresql-$VER-$CLUSTER.log"
  log "started cluster $VER/$CLUSTER on port $PORT"
fi

for i in $(seq 1 100); do
  pg_isready -q -h 127.0.0.1 -p "$PORT" && break
  [ "$i" = 100 ] && die "not accepting connections on 127.0.0.1:$PORT"
  sleep 0.1
done

if [ "$(psql -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
  createdb -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
  log "created database $DB"
fi
} 3>&-
echo "postgres://postgres@127.0.0.1:$PORT/$DB" >&3
